//! Empty evidence is never a clean result: a capture with no packet and a firmware folder with
//! no app are warnings on the command line and NOT_TESTED in the audit.

mod support;
use std::path::{Path, PathBuf};
use support::cli::{root, run};

/// A real capture cut to its 24-byte pcap file header: well-formed, zero packets.
fn empty_pcap(dir: &Path) -> PathBuf {
    let real =
        std::fs::read(root().join("tests/data/pcap/wireshark/dhcp-nanosecond.pcap")).unwrap();
    let p = dir.join("empty.pcap");
    std::fs::write(&p, &real[..24]).unwrap();
    p
}

#[test]
fn an_empty_capture_is_a_warning_and_with_fail_on_findings_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = empty_pcap(dir.path());
    let p = pcap.to_str().unwrap();
    let out = run(&["traffic", p, "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("empty.pcap: no packet and no HAR entry: nothing was analysed"),
        "{err}"
    );
    // A CI gate must not pass on nothing.
    let gated = run(&["traffic", p, "--format", "json", "--fail-on-findings"]);
    assert_eq!(
        gated.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&gated.stderr)
    );
}

#[test]
fn an_empty_firmware_folder_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["firmware", dir.path().to_str().unwrap(), "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("no APK found: nothing was analysed"), "{err}");
}

#[test]
fn an_audit_of_empty_inputs_is_not_tested_never_pass() {
    let dir = tempfile::tempdir().unwrap();
    empty_pcap(dir.path());
    std::fs::create_dir(dir.path().join("firmware")).unwrap();
    let case = dir.path().join("case.toml");
    std::fs::write(
        &case,
        r#"[case]
id = "EMPTY-1"
[device]
manufacturer = "Acme"
model = "A0"
[identifiers]
imsi = "208150123456789"
[[phase]]
name = "first-boot"
consent = "none"
captures = ["empty.pcap"]
[[phase]]
name = "declined"
consent = "declined"
captures = ["empty.pcap"]
[firmware]
path = "firmware"
"#,
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = run(&[
        "audit",
        case.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "not certifiable: {err}");
    assert!(err.contains("no packet and no HAR entry"), "{err}");
    assert!(err.contains("the analysis found no app"), "{err}");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    let results = r["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for x in results {
        assert_ne!(
            x["automatic"]["verdict"], "PASS",
            "{} passed on empty evidence: {}",
            x["requirement"], x["automatic"]["summary"]
        );
    }
    for id in [
        "PCB-APP-01",
        "PCB-APP-02",
        "PCB-APP-03",
        "PCB-APP-04",
        "PCB-CONSENT-01",
    ] {
        let x = results.iter().find(|x| x["requirement"] == id).unwrap();
        assert_eq!(x["automatic"]["verdict"], "NOT_TESTED", "{id}: {x}");
    }
}
