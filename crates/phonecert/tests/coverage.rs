//! A cut body or a broken capture is never a PASS: `phonecert audit` on captures built here,
//! each with the verdicts it must reach and the warnings the report must carry.

#[path = "../../pc-traffic/tests/util/pcap.rs"]
mod pcap;

use pcap::{Pcap, gzip, one_request, post};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

const IMEI: &str = "356938035643809";

/// Writes a one-phase case (consent "none") around `capture` and audits it.
fn audit(capture: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("boot.pcap"), capture).unwrap();
    std::fs::write(
        dir.path().join("case.toml"),
        format!(
            r#"[case]
id = "TEST-COVERAGE"
title = "coverage"
lab = "test"

[device]
manufacturer = "Acme"
model = "A1"

[identifiers]
imei = "{IMEI}"

[[phase]]
name = "first-boot"
consent = "none"
captures = ["boot.pcap"]
"#
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_phonecert"))
        .args(["audit", "case.toml", "--out"])
        .arg(&out_dir)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_report(&out_dir)
}

/// Every requirement of [`REQS`] is INCONCLUSIVE, with evidence that says why (`says`).
fn each_inconclusive(r: &Value, says: impl Fn(&str) -> bool) {
    for id in REQS {
        let ev = evidence(r, id);
        assert_eq!(verdict(r, id), "INCONCLUSIVE", "{id}: {ev}");
        assert!(says(&ev), "{id}: {ev}");
    }
}

fn read_report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// The result of requirement `id` in the report.
fn result<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["requirement"] == id)
        .unwrap_or_else(|| panic!("{id} in {r}"))
}

fn verdict<'a>(r: &'a Value, id: &str) -> &'a str {
    result(r, id)["verdict"].as_str().unwrap()
}

fn evidence(r: &Value, id: &str) -> String {
    result(r, id)["automatic"].to_string()
}

const REQS: [&str; 2] = ["PCB-CONSENT-01", "PCB-TRAFFIC-01"];

#[test]
fn a_clean_capture_passes() {
    let r = audit(&one_request(&post("reg.acme.example", "", b"{\"model\":\"A1\"}")).out);
    for id in REQS {
        assert_eq!(verdict(&r, id), "PASS", "{id}: {}", evidence(&r, id));
    }
    assert_eq!(r["warnings"], serde_json::json!([]));
}

#[test]
fn imei_after_a_mebibyte_of_gzip_padding_fails() {
    let mut plain = vec![0u8; 1 << 20];
    plain.extend(format!("imei={IMEI}").as_bytes());
    let req = post(
        "reg.acme.example",
        "Content-Encoding: gzip\r\n",
        &gzip(&plain),
    );
    let r = audit(&one_request(&req).out);
    for id in REQS {
        assert_eq!(verdict(&r, id), "FAIL", "{id}: {}", evidence(&r, id));
    }
}

#[test]
fn imei_at_the_end_of_a_17_mib_plain_body_fails() {
    let mut body = vec![b'a'; 17 << 20];
    body.extend(IMEI.as_bytes());
    let r = audit(&one_request(&post("reg.acme.example", "", &body)).out);
    for id in REQS {
        assert_eq!(verdict(&r, id), "FAIL", "{id}: {}", evidence(&r, id));
    }
}

#[test]
fn a_body_past_its_decoding_budget_is_inconclusive_with_where() {
    let mut inner = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..96 {
        inner.write_all(&zeros).unwrap();
    }
    inner.write_all(IMEI.as_bytes()).unwrap();
    let body = gzip(&inner.finish().unwrap());
    let req = post(
        "reg.acme.example",
        "Content-Encoding: gzip, gzip\r\n",
        &body,
    );
    let r = audit(&one_request(&req).out);
    each_inconclusive(&r, |ev| {
        ev.contains("not searched whole") && ev.contains("boot.pcap frame")
    });
    let w = r["warnings"].to_string();
    assert!(w.contains("not searched whole"), "{w}");
}

#[test]
fn a_capture_broken_after_its_first_packets_is_partly_usable_and_inconclusive() {
    let mut p = Pcap::new();
    let mut c = p.connect(40000, 80);
    p.send(
        &mut c,
        true,
        &post("reg.acme.example", "", b"{\"model\":\"A1\"}"),
    );
    let at = p.break_here();
    let r = audit(&p.out);
    each_inconclusive(&r, |ev| ev.contains("only partly"));
    let w = r["warnings"].to_string();
    assert!(
        w.contains("partly usable") && w.contains(&format!("stopped at byte {at}")),
        "{w}"
    );
    let phase = &r["traffic"]["phases"]["first-boot"];
    assert_eq!(phase["partly_usable_inputs"], 1, "{phase}");
}
