//! Synthetic evidence builders shared by the integration tests.
#![allow(dead_code)]

use pc_case::{Case, Consent};
use pc_certify::{AuditOptions, AuditReport, Catalogue, Review, audit_with};
use pc_firmware::risk::{RiskReport, UraniborgScore};
use pc_firmware::{AppFacts, FirmwareReport, IdentifierCall, SigningSummary, TrackerHit};
use pc_traffic::{
    Destination, Evidence, Finding, Handshake, InputSummary, Protocol, SearchSummary, TrafficReport,
};

/// The protocol a test names by its report name.
pub fn protocol_named(name: &str) -> Protocol {
    *Protocol::ALL
        .iter()
        .find(|p| p.as_str() == name)
        .unwrap_or_else(|| panic!("no protocol {name:?}"))
}
use std::path::{Path, PathBuf};

pub const CASE: &str = r#"
[case]
id = "LAB-T-1"
title = "synthetic"
lab = "Test Lab"

[device]
manufacturer = "Acme"
model = "A1"
build_fingerprint = "acme/a1/a1:14/UP1A/1:user/release-keys"

[identifiers]
imei = "356938035643809"
advertising_id = "1209d0b9-b959-42e6-b921-aa5d9d08c1af"
location = { lat = 48.8566, lon = 2.3522, radius_m = 500.0 }

[[phase]]
name = "first-boot"
consent = "none"
captures = ["fb.pcapng"]

[[phase]]
name = "declined"
consent = "declined"
captures = ["dc.pcap"]

[[phase]]
name = "granted"
consent = "granted"
captures = ["gr.har"]
"#;

pub fn case() -> Case {
    Case::parse(CASE, Path::new("case.toml"), PathBuf::from("/nonexistent")).unwrap()
}

pub fn consent_of(phase: &str) -> Consent {
    match phase {
        "first-boot" => Consent::None,
        "declined" => Consent::Declined,
        _ => Consent::Granted,
    }
}

pub fn input(phase: &str, packets: u64) -> InputSummary {
    InputSummary {
        path: format!("{phase}.pcapng"),
        format: "pcapng".into(),
        phase: phase.into(),
        consent: consent_of(phase),
        bytes: 1000,
        packets,
        ..InputSummary::default()
    }
}

pub fn finding(kind: &str, phase: &str, host: &str, protocol: &str, frames: &[u64]) -> Finding {
    Finding {
        identifier: kind.into(),
        identifier_name: kind.into(),
        encoding: vec!["plain".into()],
        location: "url".into(),
        protocol: protocol_named(protocol),
        encrypted_on_wire: protocol == "https",
        host: Some(host.into()),
        ip: Some("198.51.100.7".into()),
        port: Some(if protocol == "http" { 80 } else { 443 }),
        country: Some("FR".into()),
        asn: None,
        org: None,
        first_seen: pc_base::time::parse_rfc3339_nanos("2026-04-01T10:00:00.000000000Z"),
        last_seen: pc_base::time::parse_rfc3339_nanos("2026-04-01T10:00:01.000000000Z"),
        count: 1,
        capture: format!("{phase}.pcapng"),
        phase: phase.into(),
        consent: consent_of(phase),
        app: Some("com.acme.sync".into()),
        evidence: Evidence {
            frames: frames.to_vec(),
            entries: vec![],
            more: 0,
            snippet: "GET /r?imei=35••••••••••809".into(),
        },
    }
}

pub fn dest(host: &str, protocol: &str, phases: &[&str], bytes: u64, tls: &[&str]) -> Destination {
    Destination {
        host: Some(host.into()),
        ips: vec!["198.51.100.7".into()],
        port: if protocol == "http" { 80 } else { 443 },
        protocol: protocol_named(protocol),
        sni: vec![],
        country: Some("FR".into()),
        countries: vec!["FR".into()],
        asn: None,
        org: None,
        flows: 1,
        bytes_sent: bytes,
        // As pc-traffic reports them: TLS/QUIC without keys is unread, the rest is read.
        bytes_sent_inspected: if matches!(protocol, "tls" | "quic") {
            0
        } else {
            bytes
        },
        bytes_received: 0,
        cleartext_data_sent: protocol == "http",
        cuts: 0,
        tls_versions: tls.iter().map(|s| s.to_string()).collect(),
        phases: phases.iter().map(|s| s.to_string()).collect(),
        apps: vec![],
        captures: vec![],
        tracker_network: vec![],
    }
}

pub fn handshake(version: Option<&str>) -> Handshake {
    Handshake {
        capture: "first-boot.pcapng".into(),
        frame: 4,
        protocol: Protocol::Tls,
        server_ip: "198.51.100.7".into(),
        server_port: 443,
        sni: Some("api.acme.example".into()),
        alpn: vec![],
        versions_offered: vec![],
        version_chosen: version.map(String::from),
        decryption: None,
        encrypted_bytes: 0,
        decrypted_bytes: 0,
    }
}

pub fn traffic(
    findings: Vec<Finding>,
    destinations: Vec<Destination>,
    handshakes: Vec<Handshake>,
    inputs: Vec<InputSummary>,
) -> TrafficReport {
    TrafficReport {
        tool: "phonecert test".into(),
        findings,
        destinations,
        requests: vec![],
        dns: vec![],
        handshakes,
        inputs,
        search: SearchSummary {
            identifiers: vec![],
            patterns: 0,
            skipped: vec![],
        },
    }
}

/// Every phase captured, all traffic inspected (HTTPS through a proxy with TLS 1.3 seen), no
/// identifier sent.
pub fn clean_traffic() -> TrafficReport {
    traffic(
        vec![],
        vec![dest(
            "api.acme.example",
            "https",
            &["first-boot", "declined", "granted"],
            5000,
            &["TLSv1.3"],
        )],
        vec![handshake(Some("TLSv1.3"))],
        vec![
            input("first-boot", 100),
            input("declined", 100),
            input("granted", 100),
        ],
    )
}

pub const SIGNER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

pub fn app(package: &str) -> AppFacts {
    AppFacts {
        path: format!("system/app/{package}/{package}.apk"),
        partition: "system".into(),
        package: package.into(),
        version_code: Some(1),
        version_name: Some("1.0".into()),
        has_code: true,
        dex_files: vec!["classes.dex".into()],
        permissions: vec!["android.permission.INTERNET".into()],
        signing: Some(SigningSummary {
            verified: true,
            schemes: vec![("v2".into(), true)],
            certificates: vec![SIGNER.into()],
            platform_signed: false,
            test_key: None,
            debug_cert: false,
        }),
        ..AppFacts::default()
    }
}

pub fn call(api: &str, ids: &[&str]) -> IdentifierCall {
    IdentifierCall {
        api: api.into(),
        caller: "Lcom/acme/X;->run".into(),
        identifiers: ids.iter().map(|s| s.to_string()).collect(),
        count: 2,
        indirect: false,
    }
}

pub fn tracker(name: &str) -> TrackerHit {
    TrackerHit {
        id: 1,
        name: name.into(),
        website: None,
        categories: vec![],
        evidence: "com.tracker".into(),
    }
}

pub fn firmware(apps: Vec<AppFacts>, total: f64) -> FirmwareReport {
    FirmwareReport {
        api_level: Some(34),
        apps,
        risk: RiskReport {
            uraniborg: UraniborgScore {
                total,
                max: 10.0,
                config_version: "test".into(),
                ..UraniborgScore::default()
            },
            ..RiskReport::default()
        },
        build: clean_build(),
        ..FirmwareReport::default()
    }
}

/// A user build signed with release keys, patched a month before [`NOW`], debugging off, and
/// verified boot on with a manufacturer key whose hashes match.
pub fn clean_build() -> pc_firmware::buildinfo::BuildFacts {
    use pc_firmware::buildinfo::{AvbFact, BuildFacts, HashCheck, PropFile};
    BuildFacts {
        prop_files: vec![PropFile {
            path: "system/build.prop".into(),
            partition: "system".into(),
            build_type: Some("user".into()),
            tags: Some("release-keys".into()),
            security_patch: Some("2026-03-01".into()),
            ..PropFile::default()
        }],
        fingerprint: Some("acme/a1/a1:14/AP1A/1:user/release-keys".into()),
        build_type: Some("user".into()),
        tags: Some("release-keys".into()),
        sdk: Some(34),
        security_patch: Some("2026-03-01".into()),
        debuggable: Some("0".into()),
        adb_secure: Some("1".into()),
        secure: Some("1".into()),
        avb: vec![AvbFact {
            partition: "vbmeta".into(),
            algorithm: "SHA256_RSA4096".into(),
            public_key_sha1: Some("0123456789abcdef0123456789abcdef01234567".into()),
            public_key_sha256: Some("ab".repeat(32)),
            test_key: None,
            flags: 0,
            verification_disabled: false,
            rollback_index: 3,
            release: "avbtool 1.3.0".into(),
            hashes: vec![HashCheck {
                partition: "boot".into(),
                image_size: 4096,
                matches: Some(true),
            }],
            hashtrees: vec!["system".into()],
            chains: vec![],
            error: None,
        }],
    }
}

pub fn clean_firmware() -> FirmwareReport {
    firmware(vec![app("com.acme.launcher"), app("com.acme.sync")], 2.0)
}

pub fn baseline() -> Catalogue {
    Catalogue::baseline().unwrap()
}

pub const NOW: i64 = 1_775_000_000; // 2026-03-31

pub fn run(
    t: Option<&TrafficReport>,
    f: Option<&FirmwareReport>,
    reviews: &[Review],
    policy: Option<pc_certify::Policy>,
) -> AuditReport {
    run_with(&baseline(), t, f, reviews, policy)
}

pub fn run_with(
    cat: &Catalogue,
    t: Option<&TrafficReport>,
    f: Option<&FirmwareReport>,
    reviews: &[Review],
    policy: Option<pc_certify::Policy>,
) -> AuditReport {
    let opts = AuditOptions {
        policy,
        now: Some(NOW),
        inputs: Some(vec![]),
        ..AuditOptions::default()
    };
    audit_with(&case(), t, f, cat, reviews, &opts)
}

pub fn verdict(r: &AuditReport, id: &str) -> pc_certify::Verdict {
    r.result(id)
        .unwrap_or_else(|| panic!("no {id}"))
        .automatic
        .verdict
}

/// The automatic-and-final verdict of requirement `id` for this evidence, no review, no policy.
pub fn on(t: Option<&TrafficReport>, f: Option<&FirmwareReport>, id: &str) -> pc_certify::Verdict {
    verdict(&run(t, f, &[], None), id)
}

pub fn policy(text: &str) -> pc_certify::Policy {
    pc_certify::Policy::from_case_text(text).unwrap().unwrap()
}
