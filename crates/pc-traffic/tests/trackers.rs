//! Destinations the phone contacted are annotated with the trackers whose Exodus network
//! signature their host (HTTP Host, SNI, DNS) matches. The oracle
//! (`tests/data/oracle/trackers/network.json`) is Python's `re.search`, exodus-core's matcher,
//! run over every host tshark saw in the same captures (SNI, HTTP Host, DNS answers).

use pc_traffic::{Input, Options, TrafficReport, analyze};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

fn report(rel: &str) -> TrafficReport {
    let input = Input {
        path: data(rel),
        phase: "p".into(),
        consent: pc_case::Consent::None,
        keylogs: vec![],
    };
    analyze(&[input], &[], &Options::default(), &|_| {}).expect("analysis runs")
}

/// Checks every destination whose names the oracle knows; returns how many were checked and
/// how many of them belong to a tracker.
fn check(rel: &str) -> (usize, usize) {
    let oracle: Value = serde_json::from_slice(
        &std::fs::read(data("oracle/trackers/network.json")).expect("oracle"),
    )
    .unwrap();
    let hosts = &oracle["hosts"][rel];
    assert!(hosts.is_object(), "no oracle for {rel}");
    let r = report(rel);
    let (mut checked, mut annotated) = (0, 0);
    for d in &r.destinations {
        let names: Vec<&String> = d.host.iter().chain(d.sni.iter()).collect();
        if names.is_empty() || !names.iter().all(|n| hosts.get(n.as_str()).is_some()) {
            continue;
        }
        let want: BTreeSet<&str> = names
            .iter()
            .flat_map(|n| hosts[n.as_str()].as_array().unwrap())
            .filter_map(Value::as_str)
            .collect();
        let ours: BTreeSet<&str> = d.tracker_network.iter().map(String::as_str).collect();
        assert_eq!(ours, want, "{rel}: {names:?}:{}", d.port);
        checked += 1;
        annotated += usize::from(!want.is_empty());
    }
    (checked, annotated)
}

#[test]
fn facebook_destination_belongs_to_facebook_trackers() {
    let (checked, annotated) = check("pcap/ndpi/facebook.pcap");
    // www.facebook.com matches `\.facebook\.com`; the bare facebook.com does not (no dot
    // before it), exactly as in Exodus.
    assert_eq!((checked, annotated), (2, 1));
    let r = report("pcap/ndpi/facebook.pcap");
    let www = r
        .destinations
        .iter()
        .find(|d| d.host.as_deref() == Some("www.facebook.com"))
        .expect("www.facebook.com contacted");
    assert!(
        www.tracker_network.iter().any(|t| t == "Facebook Login"),
        "{:?}",
        www.tracker_network
    );
}

#[test]
fn google_destinations_in_android_capture_are_annotated() {
    let (checked, annotated) = check("pcap/ndpi/android.pcap");
    assert!(checked >= 10, "{checked}");
    assert!(annotated >= 3, "{annotated}");
    // The google-analytics names in this capture are only in certificates' SANs: no
    // destination is Google Analytics traffic.
    let r = report("pcap/ndpi/android.pcap");
    assert!(
        r.destinations
            .iter()
            .all(|d| !d.tracker_network.iter().any(|t| t == "Google Analytics"))
    );
}
