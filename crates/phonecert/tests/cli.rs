//! The command line as a user meets it: exit statuses, formats, errors naming file and offset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_phonecert"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    bin().current_dir(root()).args(args).output().expect("runs")
}

/// Exit status 0, else the failure shows what phonecert printed.
fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn example_case_as_json_has_every_section() {
    let out = run(&[
        "traffic",
        "--case",
        "examples/acme-a1/case.toml",
        "--format",
        "json",
    ]);
    assert_ok(&out);
    let v = stdout_json(&out);
    for key in [
        "findings",
        "destinations",
        "requests",
        "inputs",
        "dns",
        "handshakes",
    ] {
        assert!(v[key].is_array(), "{key} missing");
    }
    let f = &v["findings"][0];
    for key in [
        "identifier",
        "encoding",
        "where",
        "protocol",
        "encrypted_on_wire",
        "host",
        "ip",
        "port",
        "country",
        "asn",
        "org",
        "first_seen",
        "last_seen",
        "count",
        "capture",
        "phase",
        "consent",
        "app",
        "evidence",
    ] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
}

#[test]
fn fail_on_findings_exits_3_and_table_is_the_default_off_terminal_when_asked() {
    let out = run(&[
        "traffic",
        "--case",
        "examples/acme-a1/case.toml",
        "--fail-on-findings",
        "--format",
        "table",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("IDENTIFIERS SENT") && text.contains("reg.acme-push.cn"),
        "{text}"
    );
    assert!(text.contains("DESTINATIONS"));
}

#[test]
fn ad_hoc_ids_and_ndjson() {
    let out = run(&[
        "traffic",
        "examples/acme-a1/captures/first-boot.pcapng",
        "--id",
        "msisdn=+33612345678",
        "--id",
        "custom:vendor=8933150319009875432",
        "--format",
        "ndjson",
        "--reveal",
    ]);
    assert_ok(&out);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["type"] == "finding"
        && l["identifier"] == "custom"
        && l["identifier_name"] == "vendor"));
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "finding" && l["identifier"] == "msisdn")
    );
    assert!(lines.iter().any(|l| l["type"] == "input"));
    // --reveal shows the value in the snippet.
    assert!(lines.iter().any(|l| {
        l["type"] == "finding"
            && l["evidence"]["snippet"]
                .as_str()
                .unwrap()
                .contains("33612345678")
    }));
}

#[test]
fn traffic_table_names_the_tracker_a_destination_belongs_to() {
    let out = run(&[
        "traffic",
        "tests/data/pcap/ndpi/facebook.pcap",
        "--format",
        "table",
    ]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TRACKER"), "{text}");
    let www = text
        .lines()
        .find(|l| l.starts_with("www.facebook.com"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(www.contains("Facebook Login"), "{www}");
    // The bare name does not match Exodus's `\.facebook\.com`.
    let bare = text
        .lines()
        .find(|l| l.starts_with("facebook.com "))
        .unwrap_or_else(|| panic!("{text}"));
    // TRACKER is the last column.
    assert!(bare.trim_end().ends_with(" -"), "{bare}");
}

#[test]
fn garbage_input_is_an_error_naming_the_file_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("garbage.pcap");
    std::fs::write(&bad, b"this is not a capture at all, just text").unwrap();
    let out = run(&[
        "traffic",
        bad.to_str().unwrap(),
        "examples/acme-a1/captures/first-boot.pcapng",
        "--id",
        "imei=356938035643809",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("garbage.pcap"), "{err}");
    let v = stdout_json(&out);
    assert!(
        !v["findings"].as_array().unwrap().is_empty(),
        "the good capture was still analysed"
    );
}

#[test]
fn truncated_capture_reports_offset_and_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(root().join("examples/acme-a1/captures/first-boot.pcapng")).unwrap();
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &full[..full.len() - 100]).unwrap();
    let out = run(&[
        "traffic",
        cut.to_str().unwrap(),
        "--id",
        "msisdn=+33612345678",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a truncated capture is a warning"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.pcapng") && err.contains("at byte"),
        "{err}"
    );
    let v = stdout_json(&out);
    assert!(v["inputs"][0]["packets"].as_u64().unwrap() > 30);
    assert!(!v["inputs"][0]["errors"].as_array().unwrap().is_empty());
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let out = run(&["traffic"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no capture"));
    let out = run(&["traffic", "nonexistent.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonexistent.pcap"));
    let out = run(&[
        "traffic",
        "examples/acme-a1/captures/first-boot.pcapng",
        "--id",
        "colour=blue",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown kind"));
}

#[test]
fn output_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("r.json");
    let out = run(&[
        "traffic",
        "--case",
        "examples/acme-a1/case.toml",
        "-o",
        o.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&o).unwrap()).unwrap();
    assert!(v["findings"].is_array());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left behind"
    );
}

#[test]
fn apk_json_has_the_per_app_facts() {
    let out = run(&[
        "apk",
        "tests/data/apk/androguard/a2dp.Vol_137.apk",
        "tests/data/apk/apksig/v3-only-with-ecdsa-sha256-p256.apk",
        "--format",
        "json",
    ]);
    assert_ok(&out);
    let v = stdout_json(&out);
    let apps = v["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 2);
    let a = apps.iter().find(|a| a["package"] == "a2dp.Vol").unwrap();
    for key in [
        "package",
        "version_code",
        "version_name",
        "min_sdk",
        "target_sdk",
        "permissions",
        "signing",
        "identifier_calls",
        "trackers",
        "endpoints",
    ] {
        assert!(a.get(key).is_some(), "{key} missing");
    }
    // Trackers are exodus-core's (none here); the Google host it mentions is only annotated.
    let oracle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/data/oracle/apk/androguard/a2dp.Vol_137.apk.json"))
            .unwrap(),
    )
    .unwrap();
    let ids: Vec<&serde_json::Value> = a["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    let want: Vec<&serde_json::Value> = oracle["exodus"]["tracker_ids"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(ids, want);
    let maps = a["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "host" && e["value"] == "maps.google.com")
        .expect("maps.google.com endpoint");
    assert_eq!(maps["tracker_network"], serde_json::json!(["Google Ads"]));
    assert_eq!(a["version_code"], 137);
    assert_eq!(a["signing"]["verified"], true);
    assert_eq!(
        a["signing"]["certificates"][0],
        "1e3bf46f964d494c9094cbf1a7ebec99b63d4acf6ae7519287d94faf5ea6871b"
    );
    let calls = a["identifier_calls"].as_array().unwrap();
    assert!(calls.iter().any(|c| {
        c["api"] == "Landroid/location/LocationManager;->getLastKnownLocation"
            && c["caller"]
                .as_str()
                .unwrap()
                .starts_with("La2dp/Vol/StoreLoc;->grabGPS")
    }));
}

#[test]
fn apk_corrupt_file_is_reported_and_the_others_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.apk");
    let full = std::fs::read(root().join("tests/data/apk/fdroid/souch.smsbypass_9.apk")).unwrap();
    std::fs::write(&bad, &full[..full.len() / 3]).unwrap();
    let out = run(&[
        "apk",
        bad.to_str().unwrap(),
        "tests/data/apk/fdroid/v2.only.sig_2.apk",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.apk"));
    let v = stdout_json(&out);
    let apps = v["apps"].as_array().unwrap();
    assert!(
        apps.iter()
            .any(|a| a["package"] == "v2.only.sig" && a["error"].is_null())
    );
    assert!(
        apps.iter()
            .any(|a| a["path"].as_str().unwrap().ends_with("broken.apk") && a["error"].is_string())
    );
}

#[test]
fn firmware_of_the_example_case() {
    let out = run(&[
        "firmware",
        "--case",
        "examples/acme-a1/case.toml",
        "--format",
        "json",
    ]);
    assert_ok(&out);
    let v = stdout_json(&out);
    let apps = v["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 4);
    let msg = apps.iter().find(|a| a["package"] == "a2dp.Vol").unwrap();
    assert_eq!(msg["partition"], "system");
    assert_eq!(msg["privileged"], true);
    assert!(
        msg["privileged_granted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "android.permission.READ_PRIVILEGED_PHONE_STATE")
    );
    let helper = apps.iter().find(|a| a["partition"] == "product").unwrap();
    assert_eq!(helper["signing"]["test_key"], "testkey");
    assert!(v["risk"]["uraniborg"]["total"].as_f64().is_some());
    let readers = v["risk"]["identifiers"]["readers"].as_array().unwrap();
    assert!(readers.iter().any(|r| r["package"] == "io.appium.settings"));
    let table = run(&["firmware", "examples/acme-a1/firmware", "--format", "table"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("TESTKEY:testkey") && text.contains("DEVICE RISK"),
        "{text}"
    );
}

#[test]
fn audit_of_the_example_fails_and_explains_why() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = run(&[
        "audit",
        "examples/acme-a1/case.toml",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("NOT_CERTIFIABLE") && text.contains("PCB-CONSENT-01"),
        "{text}"
    );
    for f in ["report.json", "report.html", "report.sarif"] {
        assert!(out_dir.join(f).is_file(), "{f}");
    }
    assert!(!out_dir.join("certificate.json").exists());
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(
        html.contains("reg.acme-push.cn") && !html.contains("356938035643809"),
        "masked, with the destination"
    );
}

/// A reviewer overrides every blocking verdict: the certificate is issued, verifies with the
/// lab's key, and any change to it is rejected.
#[test]
fn keygen_audit_with_reviews_certificate_verify_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("lab");
    assert_eq!(
        run(&["keygen", "--out", prefix.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let key = dir.path().join("lab.key");
    let pubkey = dir.path().join("lab.pub");
    // First audit to learn which requirements block.
    let first = dir.path().join("first");
    run(&[
        "audit",
        "examples/acme-a1/case.toml",
        "--out",
        first.to_str().unwrap(),
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("report.json")).unwrap()).unwrap();
    let mut review = String::new();
    for id in report["summary"]["blocking"].as_array().unwrap() {
        review.push_str(&format!(
            "[[review]]\nrequirement = {id}\nverdict = \"PASS\"\nreason = \"test override\"\nreviewer = \"QA\"\ndate = \"2026-11-24\"\n\n"
        ));
    }
    let review_path = dir.path().join("review.toml");
    std::fs::write(&review_path, review).unwrap();
    let second = dir.path().join("second");
    let out = run(&[
        "audit",
        "examples/acme-a1/case.toml",
        "--out",
        second.to_str().unwrap(),
        "--review",
        review_path.to_str().unwrap(),
        "--signing-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = second.join("certificate.json");
    assert!(cert.is_file());
    let ok = run(&[
        "verify",
        cert.to_str().unwrap(),
        "--key",
        pubkey.to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.contains("Acme A1"));
    // Every override is spelled out: the automatic verdict, the final one, who and why.
    let blocking = report["summary"]["blocking"].as_array().unwrap();
    assert!(!blocking.is_empty());
    for id in blocking {
        let id = id.as_str().unwrap();
        let line = said
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{id}: automatic ")))
            .unwrap_or_else(|| panic!("verify names the review of {id}: {said}"));
        assert!(
            line.contains("final PASS (QA, 2026-11-24): test override"),
            "{line}"
        );
        assert!(!line.contains("automatic PASS"), "{line}");
    }
    let html = std::fs::read_to_string(second.join("certificate.html")).unwrap();
    assert!(html.contains("Verdicts set by reviewers"), "{html}");
    assert!(html.contains("test override"));
    assert!(
        html.contains("(reviewed; automatic verdict FAIL)"),
        "{html}"
    );
    // Tamper with one byte of the signed content.
    let text = std::fs::read_to_string(&cert).unwrap();
    let bad = text.replacen("\"payload\": \"ey", "\"payload\": \"ez", 1);
    assert_ne!(bad, text, "the certificate has a payload field: {text}");
    let bad_path = dir.path().join("bad.json");
    std::fs::write(&bad_path, bad).unwrap();
    assert_eq!(verify_code(&bad_path, &pubkey), Some(3));
    // Another lab's key.
    let other = dir.path().join("other");
    run(&["keygen", "--out", other.to_str().unwrap()]);
    let wrong = dir.path().join("other.pub");
    assert_eq!(verify_code(&cert, &wrong), Some(3));
    // The two audits differ only in reviews: no app or destination changed.
    let d = run(&[
        "diff",
        first.join("report.json").to_str().unwrap(),
        second.join("report.json").to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    assert!(
        v["apps_added"].as_array().unwrap().is_empty()
            && v["apps_changed"].as_array().unwrap().is_empty()
    );
}

/// The exit status of `phonecert verify CERT --key KEY`.
fn verify_code(cert: &Path, key: &Path) -> Option<i32> {
    let args = [
        "verify",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    run(&args).status.code()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A firmware update: one app removed, one replaced by another version, one added.
#[test]
fn diff_of_two_firmware_versions_names_the_changes_and_what_to_retest() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1");
    copy_dir(&root().join("examples/acme-a1"), &v1);
    let v2 = dir.path().join("v2");
    copy_dir(&v1, &v2);
    let fw = v2.join("firmware");
    std::fs::remove_dir_all(fw.join("vendor/app/AcmeClock")).unwrap();
    // The messaging app updated: a2dp.Vol 137 replaced by the partially re-signed build.
    std::fs::copy(
        root().join("tests/data/apk/androguard/partialsignature.apk"),
        fw.join("system/priv-app/AcmeMessaging/AcmeMessaging.apk"),
    )
    .unwrap();
    std::fs::create_dir_all(fw.join("product/app/Sms")).unwrap();
    std::fs::copy(
        root().join("tests/data/apk/fdroid/souch.smsbypass_9.apk"),
        fw.join("product/app/Sms/Sms.apk"),
    )
    .unwrap();
    for (v, out) in [(&v1, "r1"), (&v2, "r2")] {
        let o = run(&[
            "audit",
            v.join("case.toml").to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let out = run(&[
        "diff",
        dir.path().join("r1/report.json").to_str().unwrap(),
        dir.path().join("r2/report.json").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3), "a change exits 3");
    let d = stdout_json(&out);
    let s = d.to_string();
    assert!(s.contains("org.dyndns.fules.ck"), "removed app: {s}");
    assert!(s.contains("souch.smsbypass"), "added app: {s}");
    assert!(
        d["apps_changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["package"] == "a2dp.Vol"),
        "{s}"
    );
    assert!(!d["retest"].as_array().unwrap().is_empty());
    assert_ne!(d["firmware_digest"][0], d["firmware_digest"][1]);
    let text = run(&[
        "diff",
        dir.path().join("r1/report.json").to_str().unwrap(),
        dir.path().join("r2/report.json").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("RE-TEST"));
}

/// `phonecert serve` starts on an empty data folder, answers /healthz, and stops when killed.
#[test]
fn serve_answers_healthz() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
            dir.path().to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut answer = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            answer.clear();
            let _ = s.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        dir.path().join("registry.sqlite3").exists(),
        "embedded database created under --data"
    );
}
