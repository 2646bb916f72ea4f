//! The whole per-app pipeline (zip, manifest, DEX rules, signature verification, trackers)
//! against the reference tools' view of every APK in tests/data/apk: androguard for the
//! manifest, apksigner for signatures, dexdump for identifier call sites, exodus-core for
//! trackers. Each crate also has its own oracle tests; this one checks they agree once joined.

use pc_firmware::facts::{AppFacts, Context};
use pc_firmware::tree::{AppKind, AppLocation};
use pc_firmware::{ApkSig, DexCode, TrackerDb, analyze_app};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

fn apks() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(data().join("apk")).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "apk") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn facts(path: &Path) -> AppFacts {
    let code = DexCode::new();
    let ctx = Context {
        code: &code,
        sig: &ApkSig,
        trackers: TrackerDb::embedded(),
        limits: Default::default(),
    };
    let loc = AppLocation {
        path: path.file_name().unwrap().to_string_lossy().into_owned(),
        kind: AppKind::Apk,
        splits: vec![],
        partition: "system".into(),
        privileged: false,
        oat_files: vec![],
        size: 0,
    };
    analyze_app(path.parent().unwrap(), &loc, &ctx)
}

fn oracle(path: &Path) -> Value {
    let rel = path.strip_prefix(data().join("apk")).unwrap();
    let p = data()
        .join("oracle/apk")
        .join(format!("{}.json", rel.display()));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// APKs where apksigner 31.0.2 could not give a verdict (no RSA-PSS in its runtime, no v3.1,
/// no manifest): pc-apksig's tests `disagreement_*` show why phonecert's verdict is right.
const SIGNING_DISAGREEMENTS: &[&str] = &[
    "v2-only-with-rsa-pss-sha256-2048.apk",
    "v31-ec-p256-2-tgt-33-1-tgt-28-targetSdk-30.apk",
    "CertChain.apk",
    "multidex.apk",
];

#[test]
fn joined_pipeline_agrees_with_reference_tools() {
    let mut problems = Vec::new();
    let rule_set = pc_dex::rules::RuleSet::embedded();
    let rules = rule_set.rules();
    let all = apks();
    assert!(all.len() >= 30);
    for path in all {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let f = facts(&path);
        let o = oracle(&path);
        let a = &o["androguard"];
        if let Some(pkg) = a["package"].as_str().filter(|p| !p.is_empty()) {
            if f.package != pkg {
                problems.push(format!("{name}: package {} vs {pkg}", f.package));
            }
            if let Some(min) = a["min_sdk"].as_str().and_then(|s| s.parse::<u32>().ok())
                && f.min_sdk != Some(min)
            {
                problems.push(format!("{name}: min_sdk {:?} vs {min}", f.min_sdk));
            }
            let ours: BTreeSet<&str> = f.permissions.iter().map(String::as_str).collect();
            let theirs: BTreeSet<&str> = a["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            // androguard leaves out <uses-permission-sdk-23> and namespace-less attributes
            // (pc-apk's tests show Android counts them): ours may only be a superset.
            if !theirs.is_subset(&ours) {
                problems.push(format!(
                    "{name}: permissions missing {:?}",
                    theirs.difference(&ours).collect::<Vec<_>>()
                ));
            }
        }
        if !SIGNING_DISAGREEMENTS.contains(&name.as_str()) {
            let s = &o["apksigner"];
            let sig = f.signing.clone().unwrap_or_default();
            if s["verified"].as_bool() != Some(sig.verified) {
                problems.push(format!(
                    "{name}: verified {} vs apksigner {}",
                    sig.verified, s["verified"]
                ));
            }
            if sig.verified {
                let theirs: Vec<&str> = s["signer_cert_sha256"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                if sig.certificates != theirs {
                    problems.push(format!(
                        "{name}: signers {:?} vs {theirs:?}",
                        sig.certificates
                    ));
                }
            }
        }
        // The whole tracker list is exodus-core's: no claim beyond its code signatures.
        let ours: BTreeSet<u64> = f.trackers.iter().map(|t| u64::from(t.id)).collect();
        let theirs: BTreeSet<u64> = o["exodus"]["tracker_ids"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        if ours != theirs {
            problems.push(format!("{name}: trackers {ours:?} vs exodus {theirs:?}"));
        }
        // Every dexdump call site of an API the rule file covers is found.
        let covered: BTreeSet<&str> = f.identifier_calls.iter().map(|c| c.api.as_str()).collect();
        let ours: BTreeSet<(String, String)> = f
            .identifier_calls
            .iter()
            .map(|c| (c.api.clone(), c.caller.clone()))
            .collect();
        for d in o["dexdump"]["identifier_api_call_details"]
            .as_array()
            .unwrap()
        {
            let api = d["callee"].as_str().unwrap();
            if api.ends_with("Settings$Secure;->getString")
                && d["android_id_const_string_in_method"] != true
            {
                continue; // only reads of "android_id" count (pc-dex test `settings_secure_android_id_only`).
            }
            let caller = format!(
                "{}->{}{}",
                d["caller_class"].as_str().unwrap(),
                d["caller_method"].as_str().unwrap(),
                d["caller_proto"].as_str().unwrap()
            );
            let in_rules = covered.contains(api)
                || rules
                    .iter()
                    .any(|r| format!("{}->{}", r.class, r.member) == api);
            if in_rules && !ours.contains(&(api.to_string(), caller.clone())) {
                problems.push(format!(
                    "{name}: dexdump call {api} from {caller} not found"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
}
