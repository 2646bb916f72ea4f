//! Seeing inside encrypted traffic: identifiers hidden in a TLS 1.3 + HTTP/2 request body and in
//! a gRPC protobuf message are found once the capture's NSS key log is given, and only then.
//!
//! Fixture: tests/data/synthetic/tls13-h2-grpc.{pcapng,keys}, made by
//! scripts/make-tls-h2-capture.py; tshark decrypts it with the same key log.

use pc_detect::{Identifier, IdentifierKind};
use pc_traffic::{Finding, Handshake, Input, Options, TrafficReport, analyze};
use std::path::{Path, PathBuf};

const HOST: &str = "api.acme-telemetry.example";
const IMEI: &str = "356938035643809";
const MSISDN: &str = "+33612345678";
const ANDROID_ID: &str = "9774d56d682e549c";
const ICCID: &str = "8933150319009875432";
const REGISTER: &str = "/v1/devices/register";
const GRPC: &str = "/telemetry.v1.Telemetry/Report";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/synthetic")
        .join(name)
}

fn ids() -> Vec<Identifier> {
    vec![
        Identifier::text(IdentifierKind::Imei, "imei", IMEI),
        Identifier::text(IdentifierKind::Msisdn, "msisdn", MSISDN),
        Identifier::text(IdentifierKind::AndroidId, "android_id", ANDROID_ID),
        Identifier::text(IdentifierKind::Iccid, "iccid", ICCID),
    ]
}

fn run(keylogs: Vec<PathBuf>) -> TrafficReport {
    let input = Input {
        path: data("tls13-h2-grpc.pcapng"),
        phase: "first-boot".into(),
        consent: pc_case::Consent::None,
        keylogs,
    };
    analyze(&[input], &ids(), &Options::default(), &|_| {}).expect("analysis runs")
}

fn find<'a>(r: &'a TrafficReport, name: &str, pred: impl Fn(&Finding) -> bool) -> Vec<&'a Finding> {
    r.findings
        .iter()
        .filter(|f| f.identifier_name == name && pred(f))
        .collect()
}

fn the_handshake(r: &TrafficReport) -> &Handshake {
    assert_eq!(r.handshakes.len(), 1, "{:#?}", r.handshakes);
    let h = &r.handshakes[0];
    assert_eq!(h.sni.as_deref(), Some(HOST));
    assert_eq!(h.server_port, 443);
    assert!(h.alpn.iter().any(|a| a == "h2"), "{h:#?}");
    h
}

/// Findings of the decrypted HTTP/2 connection carry where they were seen and that the wire
/// was encrypted.
fn assert_decrypted_h2(f: &Finding) {
    assert_eq!(f.protocol, pc_traffic::Protocol::Http2, "{f:#?}");
    assert!(f.encrypted_on_wire, "{f:#?}");
    assert_eq!(f.host.as_deref(), Some(HOST), "{f:#?}");
    assert_eq!(f.port, Some(443), "{f:#?}");
    assert_eq!(f.ip.as_deref(), Some("198.51.100.27"), "{f:#?}");
    assert_eq!(f.phase, "first-boot");
    assert_eq!(f.consent, pc_case::Consent::None);
    assert!(!f.evidence.frames.is_empty(), "{f:#?}");
    for v in [IMEI, "33612345678", ANDROID_ID, ICCID] {
        assert!(
            !f.evidence.snippet.contains(v),
            "unmasked: {}",
            f.evidence.snippet
        );
    }
}

/// Findings of `name` that `pred` selects: at least one, each decrypted HTTP/2.
fn found_decrypted(r: &TrafficReport, name: &str, what: &str, pred: impl Fn(&Finding) -> bool) {
    let hits = find(r, name, pred);
    assert!(
        !hits.is_empty(),
        "{name} not found in {what}: {:#?}",
        r.findings
    );
    for f in hits {
        assert_decrypted_h2(f);
    }
}

#[test]
fn identifiers_in_a_decrypted_http2_body_are_found() {
    let r = run(vec![data("tls13-h2-grpc.keys")]);
    for name in ["imei", "msisdn"] {
        found_decrypted(&r, name, "the JSON body", |f| f.location == "body");
    }
}

#[test]
fn identifiers_in_a_grpc_protobuf_message_are_found() {
    let r = run(vec![data("tls13-h2-grpc.keys")]);
    // Strings inside the protobuf are searched in the gRPC message bytes (stream 3's body, or
    // the decoded message).
    for name in ["android_id", "iccid"] {
        found_decrypted(&r, name, "the gRPC message", |f| {
            f.location == "body" || f.location.starts_with("grpc")
        });
    }
    // The IMEI travels in the gRPC message only as a varint (field 2): found through its
    // decimal form, and named by its field path.
    found_decrypted(&r, "imei", "the varint field", |f| {
        f.location.starts_with("grpc:2")
    });
    // The android id and ICCID appear nowhere but in the gRPC message, and the IMEI's varint
    // bytes never spell its digits: nothing is found in the cleartext parts of the capture.
    assert!(
        r.findings
            .iter()
            .all(|f| f.protocol == pc_traffic::Protocol::Http2 && f.encrypted_on_wire),
        "{:#?}",
        r.findings
    );
}

#[test]
fn both_http2_requests_are_listed_and_the_connection_is_fully_decrypted() {
    let r = run(vec![data("tls13-h2-grpc.keys")]);
    let mut seen: Vec<(&str, &str)> = r
        .requests
        .iter()
        .map(|q| (q.method.as_str(), q.path.as_str()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [("POST", GRPC), ("POST", REGISTER)],
        "{:#?}",
        r.requests
    );
    for q in &r.requests {
        assert_eq!(q.protocol, pc_traffic::Protocol::Http2);
        assert_eq!(q.host.as_deref(), Some(HOST));
        assert_eq!(q.port, Some(443));
        assert!(q.frame.is_some());
    }

    let h = the_handshake(&r);
    assert_eq!(h.decryption.as_deref(), Some("decrypted"), "{h:#?}");
    assert_eq!(
        h.version_chosen.as_deref().map(|v| v.contains("1.3")),
        Some(true),
        "{h:#?}"
    );
    assert!(h.encrypted_bytes > 0);
    assert_eq!(h.decrypted_bytes, h.encrypted_bytes, "{h:#?}");
    let input = &r.inputs[0];
    assert!(!input.failed, "{input:#?}");
    assert_eq!(input.tls_bytes_decrypted, input.tls_bytes, "{input:#?}");
}

#[test]
fn without_the_key_log_nothing_inside_is_seen() {
    let r = run(vec![]);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(
        r.requests
            .iter()
            .all(|q| q.protocol != pc_traffic::Protocol::Http2),
        "{:#?}",
        r.requests
    );
    let h = the_handshake(&r);
    assert_eq!(h.decryption.as_deref(), Some("no key"), "{h:#?}");
    assert!(h.encrypted_bytes > 0);
    assert_eq!(h.decrypted_bytes, 0);
    // The destination is still known from the cleartext ClientHello.
    assert!(
        r.destinations
            .iter()
            .any(|d| d.sni.iter().any(|s| s == HOST)),
        "{:#?}",
        r.destinations
    );
}

#[test]
fn a_wrong_client_traffic_secret_decrypts_only_the_rest() {
    let good = std::fs::read_to_string(data("tls13-h2-grpc.keys")).expect("key log");
    let mut changed = 0;
    let bad: String = good
        .lines()
        .map(|line| {
            if !line.starts_with("CLIENT_TRAFFIC_SECRET_0 ") {
                return format!("{line}\n");
            }
            // Flip the last hex digit of the secret.
            let (head, last) = line.split_at(line.len() - 1);
            let flipped = if last == "0" { "1" } else { "0" };
            changed += 1;
            format!("{head}{flipped}\n")
        })
        .collect();
    assert_eq!(changed, 1);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tls13-h2-grpc-wrong-client.keys");
    std::fs::write(&path, bad).expect("write key log");

    let r = run(vec![path]);
    let h = the_handshake(&r);
    let status = h.decryption.as_deref().unwrap_or_default();
    assert_eq!(status, "partial: client data not decrypted", "{h:#?}");
    // The server's direction still decrypts (its responses), the phone's does not.
    assert!(h.decrypted_bytes > 0, "{h:#?}");
    assert!(h.decrypted_bytes < h.encrypted_bytes, "{h:#?}");
    // Everything the phone sent was under the wrong key: no request, no finding from inside.
    assert!(
        r.requests
            .iter()
            .all(|q| q.protocol != pc_traffic::Protocol::Http2),
        "{:#?}",
        r.requests
    );
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}
