//! Reports, schemas, certificates, atomic writes and diffs.

mod common;
use common::*;
use pc_certify::cert::{self, CertOptions, parse_public_key};
use pc_certify::{Decision, Review, Verdict, VerifyError, WriteOptions};
use std::path::Path;

fn schema(name: &str) -> serde_json::Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/");
    serde_json::from_str(&std::fs::read_to_string(format!("{p}{name}")).unwrap()).unwrap()
}

fn assert_valid(schema: &serde_json::Value, doc: &serde_json::Value, what: &str) {
    let v = jsonschema::validator_for(schema).expect("schema compiles");
    let errs: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errs.is_empty(), "{what}: {errs:#?}");
}

/// A spread of audits: clean, failing, reviewed, partial, policy, thin coverage.
fn scenarios() -> Vec<pc_certify::AuditReport> {
    let mut failing_t = clean_traffic();
    failing_t.findings.push(finding(
        "imei",
        "first-boot",
        "reg.acme.example",
        "http",
        &[1],
    ));
    failing_t.findings.push(finding(
        "advertising_id",
        "first-boot",
        "reg.acme.example",
        "http",
        &[1],
    ));
    failing_t.handshakes.push(handshake(Some("TLSv1.0")));
    failing_t
        .destinations
        .push(dest("reg.acme.example", "http", &["first-boot"], 300, &[]));
    failing_t.destinations.push(dest(
        "opaque.example",
        "tls",
        &["declined"],
        1 << 20,
        &["TLSv1.2"],
    ));
    // A destination that belongs to a tracker (as pc-traffic annotates it).
    let mut ga = dest(
        "ssl.google-analytics.com",
        "tls",
        &["first-boot"],
        900,
        &["TLSv1.3"],
    );
    ga.tracker_network = vec!["Google Analytics".into()];
    failing_t.destinations.push(ga);
    let mut failing_f = clean_firmware();
    failing_f.apps[0].debuggable = true;
    failing_f.apps[0].privileged = true;
    failing_f.apps[0].trackers = vec![tracker("Acme Analytics")];
    failing_f.apps[1].signing.as_mut().unwrap().test_key = Some("testkey".into());
    failing_f.apps[1].identifier_calls = vec![call(
        "Landroid/telephony/TelephonyManager;->getImei",
        &["imei"],
    )];
    failing_f.apps.push(pc_firmware::AppFacts {
        path: "system/app/Broken/Broken.apk".into(),
        error: Some("not an APK: bad magic".into()),
        ..Default::default()
    });
    let review = Review {
        requirement: "PCB-APP-03".into(),
        verdict: Verdict::Pass,
        reason: "debuggable flag <script>alert(1)</script> only in engineering build".into(),
        reviewer: "Q. Reviewer".into(),
        date: "2026-04-02".into(),
    };
    vec![
        run(Some(&clean_traffic()), Some(&clean_firmware()), &[], None),
        run(
            Some(&failing_t),
            Some(&failing_f),
            std::slice::from_ref(&review),
            None,
        ),
        run(
            Some(&failing_t),
            None,
            &[],
            Some(policy("[policy]\nallowed_countries = [\"FR\"]\n")),
        ),
        run(None, Some(&failing_f), &[], None),
        run(None, None, &[], None),
    ]
}

#[test]
fn report_json_is_valid_against_its_schema() {
    let s = schema("report.schema.json");
    for (i, r) in scenarios().iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_valid(&s, &v, &format!("scenario {i}"));
        // And it round-trips into the Rust type.
        let back: pc_certify::AuditReport = serde_json::from_value(v).unwrap();
        assert_eq!(back.results.len(), r.results.len());
    }
    // The schema is not vacuous.
    let mut bad: serde_json::Value = serde_json::from_str(&scenarios()[0].to_json()).unwrap();
    bad["results"][0]["verdict"] = "MAYBE".into();
    assert!(!jsonschema::validator_for(&s).unwrap().is_valid(&bad));
}

#[test]
fn sarif_is_valid_against_the_official_schema() {
    let s = schema("sarif-schema-2.1.0.json");
    let all = scenarios();
    for (i, r) in all.iter().enumerate() {
        let v = pc_certify::sarif::sarif(r);
        assert_valid(&s, &v, &format!("scenario {i}"));
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), r.results.len(), "one rule per requirement");
        let results = v["runs"][0]["results"].as_array().unwrap();
        let expected = r
            .results
            .iter()
            .filter(|x| {
                matches!(x.verdict, Verdict::Fail | Verdict::Inconclusive)
                    || (x.review.is_some()
                        && matches!(x.automatic.verdict, Verdict::Fail | Verdict::Inconclusive))
            })
            .count();
        assert_eq!(results.len(), expected, "scenario {i}");
    }
    let v = pc_certify::sarif::sarif(&all[1]);
    let results = v["runs"][0]["results"].as_array().unwrap();
    let dbg = results
        .iter()
        .find(|r| r["ruleId"] == "PCB-APP-03")
        .unwrap();
    assert_eq!(dbg["suppressions"][0]["status"], "accepted");
    let consent = results
        .iter()
        .find(|r| r["ruleId"] == "PCB-CONSENT-01")
        .unwrap();
    assert_eq!(consent["level"], "error");
    assert_eq!(consent["kind"], "fail");
    let inc = results
        .iter()
        .find(|r| r["ruleId"] == "PCB-APP-05")
        .unwrap();
    assert_eq!(
        (inc["kind"].as_str(), inc["level"].as_str()),
        (Some("review"), Some("none"))
    );
    // Not vacuous either.
    let mut bad = v.clone();
    bad["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!jsonschema::validator_for(&s).unwrap().is_valid(&bad));
}

#[test]
fn html_is_self_contained_masked_and_escaped() {
    let all = scenarios();
    let h = pc_certify::html::report_html(&all[1]);
    for banned in [
        "<script",
        "<link",
        " src=",
        "url(",
        "@import",
        "href=\"http",
    ] {
        assert!(!h.contains(banned), "{banned}");
    }
    assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        h.contains("<svg") && h.contains("stroke-dasharray"),
        "flow picture with cleartext"
    );
    assert!(
        h.contains("class=\"mx\""),
        "identifier × destination matrix"
    );
    assert!(h.contains("Timeline") && h.contains("<circle"));
    assert!(
        h.contains("Tracker destinations (1)") && h.contains("Google Analytics"),
        "destinations that belong to a tracker"
    );
    assert!(!pc_certify::html::report_html(&all[0]).contains("Tracker destinations"));
    assert!(h.contains("@media print"));
    assert!(h.contains("NOT CERTIFIABLE"));
    assert!(!h.contains("356938035643809"), "identifier masked");
    assert!(!h.contains("48.8566"), "location masked");
    let mut opts = pc_certify::AuditOptions {
        reveal: true,
        now: Some(NOW),
        inputs: Some(vec![]),
        ..Default::default()
    };
    opts.policy = None;
    let r = pc_certify::audit_with(&case(), None, None, &baseline(), &[], &opts);
    assert!(pc_certify::html::report_html(&r).contains("356938035643809"));
}

fn certified() -> pc_certify::AuditReport {
    let r = run(Some(&clean_traffic()), Some(&clean_firmware()), &[], None);
    assert_eq!(r.summary.decision, Decision::Certifiable);
    r
}

fn opts() -> CertOptions {
    CertOptions {
        now: Some(NOW),
        validity_days: 30,
        serial: Some("00112233445566778899aabbccddeeff".into()),
        ..CertOptions::default()
    }
}

#[test]
fn certificates_sign_verify_and_reject_tampering() {
    let (sk, pk) = pc_certify::keygen();
    let (_, other) = pc_certify::keygen();
    let p = pc_certify::issue_certificate(&certified(), &opts()).unwrap();
    assert_eq!(p.lab, "Test Lab");
    assert_eq!(p.device.model, "A1");
    assert!(p.firmware_digest.starts_with("sha256:"));
    assert_eq!(p.not_after, pc_base::time::format_utc(NOW + 30 * 86_400));
    let text = pc_certify::sign(&p, &sk);
    assert_eq!(pc_certify::verify(&text, &pk, NOW + 10).unwrap(), p);
    let compact = cert::to_compact(&text).unwrap();
    assert_eq!(pc_certify::verify(&compact, &pk, NOW).unwrap(), p);

    // Wrong key (kid says so); with the kid removed, the signature itself fails.
    assert!(matches!(
        pc_certify::verify(&text, &other, NOW),
        Err(VerifyError::WrongKey { .. })
    ));
    // Expired / not yet valid.
    assert!(matches!(
        pc_certify::verify(&text, &pk, NOW + 31 * 86_400),
        Err(VerifyError::Expired { .. })
    ));
    assert!(matches!(
        pc_certify::verify(&text, &pk, NOW - 1),
        Err(VerifyError::NotYetValid { .. })
    ));

    // A changed field, re-encoded, keeps the old signature: rejected.
    let jws: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut changed = p.clone();
    changed.device.model = "A2".into();
    let mut forged = jws.clone();
    forged["payload"] = base64_url(&serde_json::to_vec(&changed).unwrap()).into();
    assert!(matches!(
        pc_certify::verify(&forged.to_string(), &pk, NOW),
        Err(VerifyError::BadSignature { .. })
    ));
    // A changed signature byte.
    let mut sig = base64_decode(jws["signature"].as_str().unwrap());
    sig[10] ^= 1;
    let mut bad = jws.clone();
    bad["signature"] = base64_url(&sig).into();
    assert!(matches!(
        pc_certify::verify(&bad.to_string(), &pk, NOW),
        Err(VerifyError::BadSignature { .. })
    ));
    // Every single-character change of the compact form is rejected.
    let bytes = compact.as_bytes();
    for i in 0..bytes.len() {
        let mut m = bytes.to_vec();
        m[i] = if m[i] == b'A' { b'B' } else { b'A' };
        let s = String::from_utf8(m).unwrap();
        assert!(
            pc_certify::verify(&s, &pk, NOW).is_err(),
            "change at {i} accepted"
        );
    }
    // Header tampering: another alg, a crit extension.
    for hdr in [r#"{"alg":"none"}"#, r#"{"alg":"EdDSA","crit":["x"]}"#] {
        let parts: Vec<&str> = compact.split('.').collect();
        let s = format!("{}.{}.{}", base64_url(hdr.as_bytes()), parts[1], parts[2]);
        assert!(matches!(
            pc_certify::verify(&s, &pk, NOW),
            Err(VerifyError::Unsupported { .. })
        ));
    }
    // Truncations and garbage never verify and never panic.
    // (The trailing newline is outside the JWS: cut only inside it.)
    for cut in 0..text.trim_end().len() {
        if text.is_char_boundary(cut) {
            assert!(pc_certify::verify(&text[..cut], &pk, NOW).is_err());
        }
    }
    for g in [
        "",
        "{}",
        "a.b.c",
        "....",
        "{\"payload\":1}",
        &"x".repeat(300_000),
    ] {
        assert!(pc_certify::verify(g, &pk, NOW).is_err());
    }
    // The printable rendering names the certificate and says how to verify it.
    let h = pc_certify::certificate_html(&p);
    assert!(h.contains(&p.serial) && h.contains(&p.firmware_digest) && h.contains("How to verify"));
    assert!(h.contains("@media print"));
}

#[test]
fn no_certificate_unless_certifiable() {
    let r = run(None, Some(&clean_firmware()), &[], None);
    assert!(pc_certify::issue_certificate(&r, &opts()).is_err());
    // Certifiable by review: allowed, and the reviewed requirement is named.
    let reviews: Vec<Review> = r
        .results
        .iter()
        .filter(|x| x.verdict != Verdict::Pass)
        .map(|x| Review {
            requirement: x.requirement.clone(),
            verdict: Verdict::Pass,
            reason: "tested manually".into(),
            reviewer: "R".into(),
            date: "2026-04-01".into(),
        })
        .collect();
    let r2 = run(None, Some(&clean_firmware()), &reviews, None);
    let p = pc_certify::issue_certificate(&r2, &opts()).unwrap();
    assert_eq!(p.reviewed.len(), reviews.len());
    // No firmware: nothing to name.
    let mut all_reviews = reviews.clone();
    for id in [
        "PCB-APP-01",
        "PCB-APP-02",
        "PCB-APP-03",
        "PCB-APP-04",
        "PCB-BUILD-01",
        "PCB-BUILD-02",
        "PCB-BUILD-03",
        "PCB-BUILD-04",
    ] {
        all_reviews.push(Review {
            requirement: id.into(),
            ..reviews[0].clone()
        });
    }
    let r3 = run(None, None, &all_reviews, None);
    assert_eq!(r3.summary.decision, Decision::Certifiable);
    assert!(pc_certify::issue_certificate(&r3, &opts()).is_err());
}

#[test]
fn key_files() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("lab");
    let (sk, pk) = pc_certify::keygen();
    let (kp, pp) = pc_certify::write_keypair(&prefix, &sk).unwrap();
    assert_eq!(kp, dir.path().join("lab.key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&kp).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(
        std::fs::read_to_string(&kp)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        std::fs::read_to_string(&pp)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    // Never overwrites a key.
    assert!(pc_certify::write_keypair(&prefix, &sk).is_err());
    let sk2 = pc_certify::read_secret_key(&kp).unwrap();
    let pk2 = pc_certify::read_public_key(&pp).unwrap();
    assert_eq!(pk2, pk);
    let p = pc_certify::issue_certificate(&certified(), &opts()).unwrap();
    assert!(pc_certify::verify(&pc_certify::sign(&p, &sk2), &pk2, NOW).is_ok());
    for bad in [
        "",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "garbage",
    ] {
        assert!(parse_public_key(bad).is_err());
        assert!(cert::parse_secret_key(bad).is_err());
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn atomic_report_writes() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // An older, longer file is replaced whole.
    std::fs::write(out.join("report.json"), "x".repeat(5 << 20)).unwrap();
    std::fs::write(out.join("keep.txt"), "unrelated").unwrap();
    let (sk, pk) = pc_certify::keygen();
    let wo = WriteOptions {
        signing: Some((sk.clone(), opts())),
    };
    let w = pc_certify::write_report(&out, &certified(), &wo).unwrap();
    assert!(w.certificate.is_some());
    assert_eq!(
        listing(&out),
        [
            "certificate.html",
            "certificate.json",
            "keep.txt",
            "report.html",
            "report.json",
            "report.sarif"
        ]
    );
    assert_eq!(listing(root.path()), ["out"], "no temporary folder left");
    let json = std::fs::read(out.join("report.json")).unwrap();
    let _: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let cert_text = std::fs::read_to_string(out.join("certificate.json")).unwrap();
    let p = pc_certify::verify(&cert_text, &pk, NOW).unwrap();
    assert_eq!(
        p.report_sha256.as_deref(),
        Some(sha256_hex(&json).as_str()),
        "certificate binds report.json"
    );
    // A later failing audit removes the stale certificate.
    let failing = run(None, None, &[], None);
    let w = pc_certify::write_report(&out, &failing, &wo).unwrap();
    assert!(w.certificate.is_none());
    assert_eq!(
        listing(&out),
        ["keep.txt", "report.html", "report.json", "report.sarif"]
    );
    assert_eq!(listing(root.path()), ["out"]);
    // The output folder is created when missing; bad names are refused before anything is written.
    let fresh = root.path().join("a").join("fresh");
    pc_certify::write_outputs(&fresh, &[("x.txt".into(), b"1".to_vec())], &[]).unwrap();
    assert_eq!(listing(&fresh), ["x.txt"]);
    assert!(pc_certify::write_outputs(&fresh, &[("../evil".into(), vec![])], &[]).is_err());
    assert_eq!(listing(&fresh), ["x.txt"]);
    assert_eq!(listing(&root.path().join("a")), ["fresh"]);
    // A failure while staging leaves the folder as it was and no temporary folder.
    let blocker = root.path().join("blocked");
    std::fs::write(&blocker, "a file, not a folder").unwrap();
    assert!(
        pc_certify::write_outputs(&blocker, &[("r.json".into(), b"{}".to_vec())], &[]).is_err()
    );
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "a file, not a folder"
    );
    assert_eq!(listing(root.path()), ["a", "blocked", "out"]);
}

#[test]
fn diff_of_two_firmware_reports() {
    let old_f = clean_firmware();
    let mut new_f = clean_firmware();
    new_f.apps[1].version_code = Some(2);
    new_f.apps[1]
        .permissions
        .push("android.permission.READ_PHONE_STATE".into());
    new_f.apps[1].identifier_calls = vec![call(
        "Landroid/telephony/TelephonyManager;->getImei",
        &["imei"],
    )];
    new_f.apps[0].signing.as_mut().unwrap().certificates = vec!["ff".repeat(32)];
    new_f.apps.push(app("com.acme.newthing"));
    let mut gone = app("com.acme.legacy");
    gone.path = "system/app/Legacy/Legacy.apk".into();
    let mut old_with = old_f.clone();
    old_with.apps.push(gone);
    let mut new_t = clean_traffic();
    new_t.destinations.push(dest(
        "collect.acme.example",
        "tls",
        &["granted"],
        10,
        &["TLSv1.3"],
    ));
    let old = run(Some(&clean_traffic()), Some(&old_with), &[], None);
    let new = run(Some(&new_t), Some(&new_f), &[], None);
    let d = pc_certify::diff_reports(&old, &new);
    assert_eq!(d.apps_added, ["com.acme.newthing"]);
    assert_eq!(d.apps_removed, ["com.acme.legacy"]);
    assert_eq!(d.new_destinations, ["collect.acme.example:443/tls"]);
    let sync = d
        .apps_changed
        .iter()
        .find(|c| c.package == "com.acme.sync")
        .unwrap();
    let kinds: Vec<&str> = sync.changes.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["version", "permissions", "identifier_calls"]);
    let launcher = d
        .apps_changed
        .iter()
        .find(|c| c.package == "com.acme.launcher")
        .unwrap();
    assert_eq!(launcher.changes[0].kind, "signer");
    assert_ne!(d.firmware_digest.0, d.firmware_digest.1);
    // App added/removed → everything must be re-tested.
    let ids: Vec<&str> = d.retest.iter().map(|r| r.requirement.as_str()).collect();
    assert_eq!(ids.len(), baseline().requirements.len());
    // Same through report.json values; only a permission change → a narrower re-test.
    let v = |r: &pc_certify::AuditReport| {
        serde_json::from_str::<serde_json::Value>(&r.to_json()).unwrap()
    };
    let d2 = pc_certify::diff(&v(&old), &v(&new)).unwrap();
    assert_eq!(d2, d);
    let mut perm_only = clean_firmware();
    perm_only.apps[0]
        .permissions
        .push("android.permission.CAMERA".into());
    let d3 = pc_certify::diff_reports(
        &run(None, Some(&clean_firmware()), &[], None),
        &run(None, Some(&perm_only), &[], None),
    );
    let ids: Vec<&str> = d3.retest.iter().map(|r| r.requirement.as_str()).collect();
    assert_eq!(ids, ["PCB-APP-01", "PCB-APP-04"]);
    assert!(d3.retest[0].because[0].contains("com.acme.launcher: permissions changed"));
    let same = pc_certify::diff_reports(&old, &old);
    assert!(same.is_empty() && same.retest.is_empty());
    // Garbage is an error, not a panic.
    for g in [
        serde_json::json!(null),
        serde_json::json!([1, 2]),
        serde_json::json!({"firmware": {"apps": 3}}),
    ] {
        assert!(pc_certify::diff(&g, &v(&old)).is_err());
    }
}

#[test]
fn example_case_end_to_end() {
    // The example case's real captures through the real traffic engine.
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/acme-a1/case.toml"
    ));
    let case = pc_case::Case::load(path).unwrap();
    let inputs = pc_traffic::Input::from_case(&case);
    let t =
        pc_traffic::analyze(&inputs, &case.identifiers(), &Default::default(), &|_| {}).unwrap();
    let r = pc_certify::audit(&case, Some(&t), None, &baseline(), &[]);
    // The synthetic first-boot capture registers the SIM before any consent.
    assert_eq!(
        r.result("PCB-CONSENT-01").unwrap().automatic.verdict,
        Verdict::Fail
    );
    assert_eq!(r.summary.decision, Decision::NotCertifiable);
    assert!(
        r.inputs.iter().all(|i| i.sha256.is_some()),
        "captures hashed: {:?}",
        r.inputs
    );
    // The example's DHCP, DHCPv6, SSDP and LAN broadcasts are cleartext that never leaves the
    // local network: listed apart, not counted against PCB-TRAFFIC-02; its HTTP to the
    // internet still is.
    let clear = &r.result("PCB-TRAFFIC-02").unwrap().automatic;
    let of_kind = |k: &str| -> Vec<&str> {
        clear
            .evidence
            .iter()
            .filter(|e| e.kind == k)
            .map(|e| e.description.as_str())
            .collect()
    };
    let local = of_kind("local_network");
    for what in [
        "255.255.255.255:67 (udp): cleartext DHCP",
        "ff02::1:2:547 (udp): cleartext DHCPv6",
        "239.255.255.250:1900 (udp): cleartext SSDP",
        "192.168.2.255:17500 (udp): cleartext to a subnet broadcast",
    ] {
        assert!(local.iter().any(|d| d.contains(what)), "{what}: {local:#?}");
    }
    let judged = of_kind("destination");
    assert!(
        judged
            .iter()
            .all(|d| !d.contains("255:") && !d.contains("ff02::")),
        "{judged:#?}"
    );
    assert!(
        judged
            .iter()
            .any(|d| d.contains("reg.acme-push.cn:80 (http)")),
        "{judged:#?}"
    );
    let html = pc_certify::html::report_html(&r);
    assert!(
        html.contains("stroke-dasharray=\"1,3\""),
        "local cleartext drawn apart"
    );
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_valid(&schema("report.schema.json"), &v, "example");
    assert_valid(
        &schema("sarif-schema-2.1.0.json"),
        &pc_certify::sarif::sarif(&r),
        "example sarif",
    );
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}
