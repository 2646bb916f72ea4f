//! The scheme catalogues (EN 18031-2, TAICS TS-0029/0030, the Chinese preload rules) on the
//! example case's real captures and firmware tree, and their new checks on evidence built to
//! reach each verdict.

mod common;
use common::*;
use pc_certify::{Catalogue, CatalogueChoice, EMBEDDED, PipelineOptions, Review, Verdict};
use pc_firmware::functions::AppFunction;
use std::path::Path;

fn example(catalogue: &str) -> pc_certify::AuditReport {
    let case = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/acme-a1/case.toml"
    ));
    let opts = PipelineOptions {
        catalogue: Some(CatalogueChoice::Named(catalogue.into())),
        ..Default::default()
    };
    pc_certify::audit_case(case, &opts, &|_| {}).unwrap().report
}

fn evidence(r: &pc_certify::AuditReport, id: &str) -> Vec<String> {
    r.result(id)
        .unwrap_or_else(|| panic!("no {id}"))
        .automatic
        .evidence
        .iter()
        .map(|e| e.description.clone())
        .collect()
}

#[test]
fn every_scheme_runs_on_the_example_and_leaves_only_not_automated_requirements_untested() {
    for (name, _) in EMBEDDED {
        let cat = Catalogue::embedded(name).unwrap();
        let r = example(name);
        assert_eq!(r.catalogue.id, name);
        assert_eq!(r.results.len(), cat.requirements.len());
        for (res, req) in r.results.iter().zip(&cat.requirements) {
            // The example gives traffic, firmware and logs: only what they cannot show is
            // NOT_TESTED, and then it says what would decide it.
            let manual = req.check == "not_automated";
            assert_eq!(
                res.automatic.verdict == Verdict::NotTested,
                manual,
                "{name} {}: {}",
                res.requirement,
                res.automatic.summary
            );
            if manual {
                assert!(
                    res.automatic.summary.contains("needs "),
                    "{}",
                    res.automatic.summary
                );
            }
        }
    }
}

#[test]
fn the_example_fails_the_preload_rules_for_what_its_firmware_does() {
    let r = example("cn-preload");
    // The messaging and settings-helper apps are on /system, shown by the launcher, and are
    // none of the basic functions.
    assert_eq!(verdict(&r, "CN-PRE-REMOVABLE"), Verdict::Fail);
    let ev = evidence(&r, "CN-PRE-REMOVABLE");
    for pkg in ["a2dp.Vol", "io.appium.settings"] {
        assert!(
            ev.iter()
                .any(|e| e.starts_with(pkg) && e.contains("no basic function")),
            "{ev:#?}"
        );
    }
    // default-permissions-acme.xml grants location and phone state without asking.
    assert_eq!(verdict(&r, "CN-PRE-GRANTS"), Verdict::Fail);
    let ev = evidence(&r, "CN-PRE-GRANTS");
    assert!(
        ev.iter()
            .any(|e| e.starts_with("a2dp.Vol")
                && e.contains("android.permission.ACCESS_FINE_LOCATION")),
        "{ev:#?}"
    );
    assert_eq!(verdict(&r, "CN-PRE-CONSENT"), Verdict::Fail);
}

#[test]
fn identifiers_in_the_saved_logcat_fail_with_file_line_and_masked_value() {
    let r = example("en-18031-2");
    assert_eq!(verdict(&r, "EN18031-2-SSM-LOGS"), Verdict::Fail);
    let ev = evidence(&r, "EN18031-2-SSM-LOGS");
    assert!(
        ev.iter()
            .any(|e| e.contains("logs/first-boot.logcat line 6") && e.contains("imsi")),
        "{ev:#?}"
    );
    assert!(
        ev.iter().all(|e| !e.contains("208150123456789")),
        "masked: {ev:#?}"
    );
    let logs = r.logs.as_ref().unwrap();
    assert_eq!(logs.files.len(), 1);
    assert_eq!(logs.files[0].lines, 9);
    // The log is an input of the audit, hashed like the captures.
    assert!(
        r.inputs
            .iter()
            .any(|i| i.kind == "log" && i.sha256.is_some()),
        "{:?}",
        r.inputs
    );
}

fn cn(t: Option<&pc_traffic::TrafficReport>, f: &pc_firmware::FirmwareReport, id: &str) -> Verdict {
    let cat = Catalogue::embedded("cn-preload").unwrap();
    verdict(&run_with(&cat, t, Some(f), &[], None), id)
}

fn function(name: &str) -> AppFunction {
    AppFunction {
        name: name.into(),
        because: format!("X answers the {name} intent"),
    }
}

#[test]
fn basic_functions_may_be_fixed_and_hold_grants_other_apps_may_not() {
    let mut camera = app("com.acme.camera");
    camera.launcher = true;
    camera.functions = vec![function("camera")];
    camera.default_granted = vec![("android.permission.CAMERA".into(), true)];
    let mut game = app("com.acme.game");
    game.launcher = true;
    game.partition = "preload".into();
    game.path = "preload/com.acme.game.apk".into();
    // A service without a launcher icon (providers, overlays) is not judged as an app.
    let hidden = app("com.acme.provider");
    let fw = firmware(vec![camera.clone(), game.clone(), hidden], 2.0);
    assert_eq!(cn(None, &fw, "CN-PRE-REMOVABLE"), Verdict::Pass);
    assert_eq!(cn(None, &fw, "CN-PRE-GRANTS"), Verdict::Pass);
    // The same game on /system cannot be removed: FAIL.
    let mut fixed = game.clone();
    fixed.partition = "system".into();
    let fw = firmware(vec![camera.clone(), fixed.clone()], 2.0);
    assert_eq!(cn(None, &fw, "CN-PRE-REMOVABLE"), Verdict::Fail);
    // A dangerous grant to it fails; a normal permission in default-permissions does not.
    fixed.default_granted = vec![("android.permission.ACCESS_FINE_LOCATION".into(), false)];
    assert_eq!(
        cn(None, &firmware(vec![fixed.clone()], 2.0), "CN-PRE-GRANTS"),
        Verdict::Fail
    );
    fixed.default_granted = vec![("android.permission.INTERNET".into(), false)];
    assert_eq!(
        cn(None, &firmware(vec![fixed], 2.0), "CN-PRE-GRANTS"),
        Verdict::Pass
    );
    // An app whose manifest could not be read leaves the answer open.
    let mut broken = app("com.acme.broken");
    broken.error = Some("manifest truncated at byte 12".into());
    assert_eq!(
        cn(
            None,
            &firmware(vec![camera, broken], 2.0),
            "CN-PRE-REMOVABLE"
        ),
        Verdict::Inconclusive
    );
}

#[test]
fn a_not_applicable_review_is_read_against_the_catalogues_condition() {
    let cat = Catalogue::embedded("en-18031-2").unwrap();
    let review = |req: &str| Review {
        requirement: req.into(),
        verdict: Verdict::NotApplicable,
        reason: "the unit exposes no privacy asset on any interface".into(),
        reviewer: "R. Viewer".into(),
        date: "2026-12-08".into(),
    };
    // EN18031-2-ACM states when it does not apply: no warning, the report carries the condition.
    let r = run_with(
        &cat,
        Some(&clean_traffic()),
        Some(&clean_firmware()),
        &[review("EN18031-2-ACM")],
        None,
    );
    let res = r.result("EN18031-2-ACM").unwrap();
    assert_eq!(res.verdict, Verdict::NotApplicable);
    assert!(res.not_applicable_if.is_some());
    assert!(
        r.warnings.iter().all(|w| !w.contains("EN18031-2-ACM")),
        "{:?}",
        r.warnings
    );
    // EN18031-2-SSM gives no such condition: the report says the justification is the reviewer's alone.
    let r = run_with(
        &cat,
        Some(&clean_traffic()),
        Some(&clean_firmware()),
        &[review("EN18031-2-SSM")],
        None,
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("EN18031-2-SSM set NOT_APPLICABLE")
                && w.contains("reviewer's alone")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn identifier_reads_by_reflection_are_named_in_the_evidence() {
    let mut a = app("com.acme.obfuscated");
    let mut c = call("android.telephony.TelephonyManager.getDeviceId", &["imei"]);
    c.indirect = true;
    a.identifier_calls = vec![c];
    let r = run(None, Some(&firmware(vec![a], 2.0)), &[], None);
    assert_eq!(verdict(&r, "PCB-APP-01"), Verdict::Fail);
    let ev = evidence(&r, "PCB-APP-01");
    assert!(
        ev.iter()
            .any(|e| e.contains("2 of them by name through reflection")),
        "{ev:#?}"
    );
    assert!(r.apps()[0].identifier_calls[0].indirect);
}
