//! The report does not depend on how many threads made it: every capture of tests/data,
//! analysed alone (so that its flows are shared between workers) with 1, 2 and 8 threads,
//! gives byte-identical JSON. With one thread everything runs on the reading thread, so this
//! compares the multi-worker pipeline against the plain sequential analysis.

use pc_detect::{Identifier, IdentifierKind};
use pc_traffic::{Input, Options, analyze};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Identifiers found in these captures (the nDPI phone's MAC address, the synthetic unit's)
/// and the bench's, so that findings, destinations and evidence are all compared.
fn ids() -> Vec<Identifier> {
    vec![
        Identifier::text(IdentifierKind::WifiMac, "wifi_mac", "4c:6a:f6:9f:f6:27"),
        Identifier::text(IdentifierKind::Imei, "imei", "356938035643809"),
        Identifier::text(IdentifierKind::Msisdn, "msisdn", "+33612345678"),
        Identifier::text(IdentifierKind::AndroidId, "android_id", "9774d56d682e549c"),
        Identifier::text(IdentifierKind::Iccid, "iccid", "8933150319009875432"),
        Identifier::text(IdentifierKind::Email, "email", "lab.unit7@example.org"),
    ]
}

/// Every packet capture of the fixtures, with the key log that goes with it.
fn captures() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("pcap"), root().join("synthetic")];
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-a1/captures"));
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("fixture directory") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if !(name.contains(".pcap") || name.ends_with(".1")) {
                continue;
            }
            let stem = name.split(".pcap").next().unwrap().to_string();
            let keylogs = std::fs::read_dir(&d)
                .unwrap()
                .filter_map(|k| k.ok().map(|k| k.path()))
                .filter(|k| {
                    let n = k.file_name().unwrap().to_string_lossy().to_string();
                    let key = n.ends_with(".keys") || n.contains("keylog");
                    let base = stem.trim_end_matches("-capture");
                    key && (n.starts_with(&stem) || n.starts_with(base))
                })
                .collect();
            out.push((p, keylogs));
        }
    }
    out.sort();
    out
}

fn report(capture: &Path, keylogs: &[PathBuf], threads: usize) -> String {
    let input = Input {
        path: capture.to_path_buf(),
        phase: "p".into(),
        consent: pc_case::Consent::None,
        keylogs: keylogs.to_vec(),
    };
    let opts = Options {
        threads,
        ..Default::default()
    };
    let r = analyze(&[input], &ids(), &opts, &|_| {}).expect("analysis runs");
    serde_json::to_string_pretty(&r).unwrap()
}

#[test]
fn every_capture_gives_the_same_report_with_1_2_and_8_threads() {
    let all = captures();
    assert!(all.len() >= 40, "fixtures found: {}", all.len());
    let mut with_findings = 0;
    let mut decrypted = 0;
    for (cap, keys) in &all {
        let one = report(cap, keys, 1);
        with_findings += usize::from(!one.contains("\"findings\": []"));
        decrypted += usize::from(one.contains("\"decryption\": \"decrypted\""));
        for threads in [2, 8] {
            let many = report(cap, keys, threads);
            if many != one {
                let line = one
                    .lines()
                    .zip(many.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                panic!(
                    "{}: the report with {threads} threads differs from one thread's, from line {line}:\n{}\n---\n{}",
                    cap.display(),
                    one.lines()
                        .skip(line)
                        .take(8)
                        .collect::<Vec<_>>()
                        .join("\n"),
                    many.lines()
                        .skip(line)
                        .take(8)
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
            }
        }
    }
    // The comparison covers findings and decrypted connections, not only empty reports.
    assert!(
        with_findings >= 3,
        "captures with findings: {with_findings}"
    );
    assert!(
        decrypted >= 5,
        "captures with decrypted connections: {decrypted}"
    );
}
