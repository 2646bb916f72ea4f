//! End to end over the bundled example case: what a regulator must learn from it.

use pc_case::Case;
use pc_traffic::{Finding, Input, Options, TrafficReport, analyze};
use std::path::Path;

fn example() -> TrafficReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-a1/case.toml");
    let case = Case::load(&path).unwrap();
    let inputs = Input::from_case(&case);
    analyze(&inputs, &case.identifiers(), &Options::default(), &|_| {}).unwrap()
}

fn find<'a>(r: &'a TrafficReport, name: &str, pred: impl Fn(&Finding) -> bool) -> Vec<&'a Finding> {
    r.findings
        .iter()
        .filter(|f| f.identifier_name == name && pred(f))
        .collect()
}

#[test]
fn first_boot_leaks_phone_number_imei_and_iccid_in_clear_before_consent() {
    let r = example();
    for name in ["msisdn", "imei", "iccid"] {
        let hits = find(&r, name, |f| {
            f.phase == "first-boot"
                && f.host.as_deref() == Some("reg.acme-push.cn")
                && f.location == "body"
        });
        assert!(
            !hits.is_empty(),
            "{name} not found in the registration body: {:#?}",
            r.findings
        );
        let f = hits[0];
        assert_eq!(f.consent, pc_case::Consent::None);
        assert_eq!(f.protocol, pc_traffic::Protocol::Http);
        assert!(!f.encrypted_on_wire);
        assert_eq!(f.port, Some(80));
        assert_eq!(f.ip.as_deref(), Some("123.125.114.144"));
        assert_eq!(
            f.country.as_deref(),
            Some("CN"),
            "country of 123.125.114.144"
        );
        assert!(f.asn.is_some() && f.org.is_some());
        assert!(!f.evidence.frames.is_empty());
        assert!(
            pc_base::time::rfc3339_nanos(f.first_seen.unwrap()).starts_with("2026-06-21T00:00:00.")
        );
        assert!(
            f.encoding.contains(&"plain".to_string())
                || f.encoding.iter().any(|e| e.starts_with("e164"))
        );
    }
    // The snippet masks the value.
    for f in &r.findings {
        assert!(
            !f.evidence.snippet.contains("356938035643809"),
            "unmasked: {}",
            f.evidence.snippet
        );
        assert!(
            !f.evidence.snippet.contains("33612345678"),
            "unmasked: {}",
            f.evidence.snippet
        );
    }
}

#[test]
fn hashed_and_nested_identifiers_are_found() {
    let r = example();
    let imei_hash = find(&r, "imei", |f| {
        f.host.as_deref() == Some("log.acme-analytics.com") && f.location == "url"
    });
    assert!(
        imei_hash
            .iter()
            .any(|f| f.encoding.last().map(String::as_str) == Some("sha256-hex")),
        "IMEI SHA-256 in the URL: {imei_hash:#?}"
    );
    let aid = find(&r, "android_id", |f| f.location == "url");
    assert!(
        aid.iter().any(|f| f.encoding.iter().any(|e| e == "base64")),
        "android_id inside base64 inside a URL-encoded parameter: {aid:#?}"
    );
}

#[test]
fn real_har_advertising_id_after_consent_is_attributed() {
    let r = example();
    let gaid = find(&r, "advertising_id", |f| f.phase == "granted-app-session");
    assert!(!gaid.is_empty(), "GAID in the real HAR");
    let hosts: std::collections::BTreeSet<_> =
        gaid.iter().filter_map(|f| f.host.as_deref()).collect();
    assert!(
        hosts.contains("graph.facebook.com") && hosts.contains("api2.branch.io"),
        "{hosts:?}"
    );
    assert!(gaid.iter().all(|f| f.consent == pc_case::Consent::Granted
        && f.protocol == pc_traffic::Protocol::Https
        && f.encrypted_on_wire));
    // In this recording the values are plain, also inside URL-encoded form bodies (a UUID has
    // nothing to percent-encode); nesting is covered by the first-boot capture.
    assert!(gaid.iter().any(|f| f.location == "body") && gaid.iter().any(|f| f.location == "url"));
    let anon = find(&r, "fb_anon_id", |f| {
        f.host.as_deref() == Some("graph.facebook.com")
    });
    assert!(!anon.is_empty());
    assert!(anon.iter().all(|f| !f.evidence.entries.is_empty()));
}

#[test]
fn destinations_requests_and_inputs_are_complete() {
    let r = example();
    assert_eq!(r.inputs.len(), 3);
    assert!(
        r.inputs.iter().all(|i| i.errors.is_empty() && !i.failed),
        "{:#?}",
        r.inputs
    );
    let d = r
        .destinations
        .iter()
        .find(|d| {
            d.host.as_deref() == Some("connectivitycheck.gstatic.com")
                && d.protocol == pc_traffic::Protocol::Tls
        })
        .expect("TLS destination named by SNI");
    assert!(!d.cleartext_data_sent);
    // The synthetic first boot negotiates TLS 1.3; the real idle capture adds TLS 1.2.
    assert!(
        d.tls_versions.contains(&"TLSv1.3".to_string()),
        "{:?}",
        d.tls_versions
    );
    let reg = r
        .destinations
        .iter()
        .find(|d| d.host.as_deref() == Some("reg.acme-push.cn"))
        .unwrap();
    assert!(reg.cleartext_data_sent);
    assert_eq!(reg.flows, 1);
    assert!(reg.bytes_sent > 300);
    // Two requests on one persistent connection, and the chunked one.
    let paths: Vec<_> = r
        .requests
        .iter()
        .filter(|q| q.phase == "first-boot")
        .map(|q| q.path.as_str())
        .collect();
    assert!(
        paths.contains(&"/v2/device/register") && paths.contains(&"/v2/ping"),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/collect?ev=first_boot"))
    );
    // Destinations of the idle phase are listed even without findings.
    assert!(
        r.destinations
            .iter()
            .any(|d| d.phases.contains(&"declined-idle".to_string()))
    );
    // No identifier in the real idle capture.
    assert!(
        r.findings.iter().all(|f| f.phase != "declined-idle"),
        "{:#?}",
        r.findings
    );
}

#[test]
fn output_is_deterministic() {
    let a = serde_json::to_string(&example()).unwrap();
    let b = serde_json::to_string(&example()).unwrap();
    assert_eq!(a, b);
}
