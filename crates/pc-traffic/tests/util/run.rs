//! Analysing a capture made inside a test: written to a temporary file (the engine reads paths),
//! one input in phase `p` without consent, default options.

#![allow(dead_code)]

use pc_detect::Identifier;
use pc_traffic::{Input, Options, TrafficReport, analyze};

/// The report on `capture` (pcap bytes) searched for `ids`.
pub fn analyze_bytes(capture: &[u8], ids: &[Identifier]) -> TrafficReport {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pcap");
    std::fs::write(&path, capture).unwrap();
    let input = Input {
        path,
        phase: "p".into(),
        consent: pc_case::Consent::None,
        keylogs: vec![],
    };
    analyze(&[input], ids, &Options::default(), &|_| {}).unwrap()
}
