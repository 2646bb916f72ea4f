//! Every real APK in tests/data/apk against apksigner's verdicts (tests/data/oracle/apk).

mod common;

use pc_apksig::{Report, Scheme};
use serde_json::Value;
use std::path::{Path, PathBuf};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

fn apks() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(Path::new(DATA).join("apk")).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

fn oracle(apk: &Path) -> Value {
    let rel = apk.strip_prefix(Path::new(DATA).join("apk")).unwrap();
    let p = Path::new(DATA)
        .join("oracle/apk")
        .join(format!("{}.json", rel.display()));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn sdk(v: &Value) -> Option<u32> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// Known, explained disagreements with the oracle's apksigner (Debian 31.0.2, apksig 0.9):
/// see tests/disagreements.rs for the test that pins down who is right in each case.
const EXPLAINED: &[&str] = &[
    // Oracle JVM lacked RSA-PSS (NoSuchAlgorithmException); apksig's own test expects it to verify.
    "v2-only-with-rsa-pss-sha256-2048.apk",
    // Oracle apksigner predates v3.1 (warns "Unknown additional attribute 0x559f8b02").
    "v31-ec-p256-2-tgt-33-1-tgt-28-targetSdk-30.apk",
    // apksigner threw "Missing AndroidManifest.xml" before looking at signatures.
    "CertChain.apk",
    "multidex.apk",
];

fn compare(apk: &Path, o: &Value, key: &str, r: &Report) -> Vec<String> {
    let mut diffs = Vec::new();
    let want = &o[key];
    let name = apk.file_name().unwrap().to_string_lossy().to_string();
    if want["verified"].as_bool() != Some(r.verified) {
        diffs.push(format!(
            "{name} [{key}]: verified ours={} oracle={} errors={:?}",
            r.verified, want["verified"], r.errors
        ));
    }
    if r.verified {
        let ours: Vec<&str> = r.signers.iter().map(|c| c.sha256.as_str()).collect();
        let theirs: Vec<&str> = want["signer_cert_sha256"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        if ours != theirs {
            diffs.push(format!(
                "{name} [{key}]: signers ours={ours:?} oracle={theirs:?}"
            ));
        }
        for (s, k) in [(Scheme::V1, "v1"), (Scheme::V2, "v2"), (Scheme::V3, "v3")] {
            let theirs = want["scheme_results"][k].as_bool().unwrap_or(false);
            if r.scheme(s).verified != theirs {
                diffs.push(format!(
                    "{name} [{key}]: {k} ours={} oracle={theirs}",
                    r.scheme(s).verified
                ));
            }
        }
    }
    diffs
}

#[test]
fn agrees_with_apksigner() {
    let mut diffs = Vec::new();
    let mut checked = 0;
    for apk in apks() {
        let name = apk.file_name().unwrap().to_string_lossy().to_string();
        let o = oracle(&apk);
        let ag = &o["androguard"];
        let min = sdk(&ag["min_sdk"]).unwrap_or(1);
        let target = sdk(&ag["target_sdk"]);
        let default = common::verify_file(&apk, min, target);
        let at24 = common::verify_file(&apk, 24, target);
        if EXPLAINED.contains(&name.as_str()) {
            continue;
        }
        checked += 1;
        diffs.extend(compare(&apk, &o, "apksigner", &default));
        diffs.extend(compare(&apk, &o, "apksigner_min_sdk_24", &at24));
    }
    assert!(checked >= 30, "only {checked} APKs compared");
    assert!(
        diffs.is_empty(),
        "{} disagreements:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
