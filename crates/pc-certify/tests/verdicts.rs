//! Each baseline requirement reaching each verdict it can reach, from synthetic evidence.

mod common;
use common::*;
use pc_certify::{Decision, Review, Verdict::*};
use std::path::Path;

#[test]
fn clean_unit_passes_everything_but_the_review_item() {
    let r = run(Some(&clean_traffic()), Some(&clean_firmware()), &[], None);
    for res in &r.results {
        assert_eq!(
            res.automatic.verdict, Pass,
            "{}: {}",
            res.requirement, res.automatic.summary
        );
    }
    assert_eq!(r.summary.decision, Decision::Certifiable);
}

#[test]
fn consent_none_and_declined() {
    let c = clean_traffic();
    // FAIL: identifier in first boot, evidence names the finding.
    let mut t = c.clone();
    t.findings.push(finding(
        "imei",
        "first-boot",
        "reg.acme.example",
        "https",
        &[7],
    ));
    let r = run(Some(&t), None, &[], None);
    assert_eq!(verdict(&r, "PCB-CONSENT-01"), Fail);
    let ev = &r.result("PCB-CONSENT-01").unwrap().automatic.evidence;
    assert_eq!(ev[0].finding, Some(0));
    assert!(
        ev[0].description.contains("reg.acme.example"),
        "{}",
        ev[0].description
    );
    assert_eq!(verdict(&r, "PCB-CONSENT-02"), Pass);
    assert_eq!(r.summary.decision, Decision::NotCertifiable);
    // Declined phase.
    let mut t = c.clone();
    t.findings.push(finding(
        "imei",
        "declined",
        "reg.acme.example",
        "https",
        &[7],
    ));
    let r = run(Some(&t), None, &[], None);
    assert_eq!(verdict(&r, "PCB-CONSENT-01"), Pass);
    assert_eq!(verdict(&r, "PCB-CONSENT-02"), Fail);
    // NOT_TESTED: no traffic at all; no capture for the phase.
    let r = run(None, None, &[], None);
    assert_eq!(verdict(&r, "PCB-CONSENT-01"), NotTested);
    let mut t = c.clone();
    t.inputs.retain(|i| i.phase != "first-boot");
    let r = run(Some(&t), None, &[], None);
    assert_eq!(verdict(&r, "PCB-CONSENT-01"), NotTested);
    assert_eq!(verdict(&r, "PCB-CONSENT-02"), Pass);
    // A capture that failed to read is no coverage either.
    let mut t = c.clone();
    t.inputs[0].failed = true;
    assert_eq!(on(Some(&t), None, "PCB-CONSENT-01"), NotTested);
    // INCONCLUSIVE: most first-boot bytes in undecrypted TLS.
    let mut t = c.clone();
    t.destinations.push(dest(
        "opaque.example",
        "tls",
        &["first-boot"],
        90_000,
        &["TLSv1.3"],
    ));
    let r = run(Some(&t), None, &[], None);
    assert_eq!(verdict(&r, "PCB-CONSENT-01"), Inconclusive);
    assert!(
        r.result("PCB-CONSENT-01")
            .unwrap()
            .automatic
            .summary
            .contains("could not be inspected")
    );
    assert_eq!(verdict(&r, "PCB-CONSENT-02"), Pass);
    // … unless the profile accepts uninspected TLS.
    let text = pc_certify::catalogue::BASELINE_TOML.replacen(
        "accept_uninspected_tls = false",
        "accept_uninspected_tls = true",
        1,
    );
    let cat = pc_certify::Catalogue::parse(&text).unwrap();
    let r = run_with(&cat, Some(&t), None, &[], None);
    assert_eq!(verdict(&r, "PCB-CONSENT-01"), Pass);
}

#[test]
fn case_without_consent_phase_is_not_tested() {
    let text = CASE.replace("consent = \"none\"", "consent = \"granted\"");
    let case = pc_case::Case::parse(&text, std::path::Path::new("c.toml"), "/x".into()).unwrap();
    let r = pc_certify::audit(&case, Some(&clean_traffic()), None, &baseline(), &[]);
    let res = r.result("PCB-CONSENT-01").unwrap();
    assert_eq!(res.automatic.verdict, NotTested);
    assert!(res.automatic.summary.contains("no phase with consent"));
    // Default audit hashes the case's (missing) captures: recorded as unreadable.
    assert_eq!(r.inputs.len(), 3);
    assert!(
        r.inputs
            .iter()
            .all(|i| i.sha256.is_none() && i.error.is_some())
    );
}

#[test]
fn cleartext_identifier() {
    let mut t = clean_traffic();
    t.findings.push(finding(
        "imei",
        "granted",
        "reg.acme.example",
        "https",
        &[7],
    ));
    assert_eq!(on(Some(&t), None, "PCB-TRAFFIC-01"), Pass);
    t.findings.push(finding(
        "imei",
        "granted",
        "plain.acme.example",
        "http",
        &[9],
    ));
    let r = run(Some(&t), None, &[], None);
    assert_eq!(verdict(&r, "PCB-TRAFFIC-01"), Fail);
    assert_eq!(
        r.result("PCB-TRAFFIC-01").unwrap().automatic.evidence.len(),
        1
    );
    // SNI is readable on the wire too.
    let mut t = clean_traffic();
    let mut f = finding("imei", "granted", "x.example", "tls", &[3]);
    f.location = "sni".into();
    t.findings.push(f);
    assert_eq!(on(Some(&t), None, "PCB-TRAFFIC-01"), Fail);
    assert_eq!(on(None, None, "PCB-TRAFFIC-01"), NotTested);
    let mut t = clean_traffic();
    t.inputs.retain(|i| i.phase != "declined");
    assert_eq!(on(Some(&t), None, "PCB-TRAFFIC-01"), Inconclusive);
}

#[test]
fn cleartext_config_and_traffic() {
    let (t, f) = (clean_traffic(), clean_firmware());
    assert_eq!(on(Some(&t), Some(&f), "PCB-TRAFFIC-02"), Pass);
    let mut f2 = f.clone();
    f2.apps[0].uses_cleartext_traffic = true;
    let r = run(Some(&t), Some(&f2), &[], None);
    assert_eq!(verdict(&r, "PCB-TRAFFIC-02"), Fail);
    assert_eq!(
        r.result("PCB-TRAFFIC-02").unwrap().automatic.evidence[0]
            .app
            .as_deref(),
        Some("com.acme.launcher")
    );
    let mut f3 = f.clone();
    f3.apps[1].cleartext_domains = vec!["legacy.acme.example".into()];
    assert_eq!(on(Some(&t), Some(&f3), "PCB-TRAFFIC-02"), Fail);
    let mut t2 = t.clone();
    t2.destinations
        .push(dest("plain.acme.example", "http", &["granted"], 10, &[]));
    assert_eq!(on(Some(&t2), Some(&f), "PCB-TRAFFIC-02"), Fail);
    // Plain DNS is exempt.
    let mut t3 = t.clone();
    let mut d = dest("resolver", "dns", &["granted"], 10, &[]);
    d.cleartext_data_sent = true;
    d.port = 53;
    t3.destinations.push(d);
    assert_eq!(on(Some(&t3), Some(&f), "PCB-TRAFFIC-02"), Pass);
    assert_eq!(on(None, Some(&f), "PCB-TRAFFIC-02"), Inconclusive);
    assert_eq!(on(Some(&t), None, "PCB-TRAFFIC-02"), Inconclusive);
    assert_eq!(on(None, None, "PCB-TRAFFIC-02"), NotTested);
}

#[test]
fn tls_versions() {
    let t = clean_traffic();
    assert_eq!(on(Some(&t), None, "PCB-TRAFFIC-03"), Pass);
    let mut t1 = t.clone();
    t1.handshakes.push(handshake(Some("TLSv1.0")));
    let r = run(Some(&t1), None, &[], None);
    assert_eq!(verdict(&r, "PCB-TRAFFIC-03"), Fail);
    assert!(
        r.result("PCB-TRAFFIC-03").unwrap().automatic.evidence[0]
            .description
            .contains("TLSv1.0")
    );
    let mut t2 = t.clone();
    t2.destinations[0].tls_versions.push("TLSv1.1".into());
    assert_eq!(on(Some(&t2), None, "PCB-TRAFFIC-03"), Fail);
    let mut t3 = t.clone();
    t3.handshakes.push(handshake(None));
    assert_eq!(on(Some(&t3), None, "PCB-TRAFFIC-03"), Inconclusive);
    // A QUIC handshake without a seen version is TLS 1.3 by definition.
    let mut t4 = t.clone();
    let mut q = handshake(None);
    q.protocol = pc_traffic::Protocol::Quic;
    t4.handshakes.push(q);
    assert_eq!(on(Some(&t4), None, "PCB-TRAFFIC-03"), Pass);
    // HTTPS through a proxy shows no version.
    let mut t5 = t.clone();
    t5.handshakes.clear();
    t5.destinations[0].tls_versions.clear();
    assert_eq!(on(Some(&t5), None, "PCB-TRAFFIC-03"), Inconclusive);
    let t6 = traffic(
        vec![],
        vec![dest("ntp.example", "udp", &["granted"], 100, &[])],
        vec![],
        vec![
            input("first-boot", 1),
            input("declined", 1),
            input("granted", 1),
        ],
    );
    assert_eq!(on(Some(&t6), None, "PCB-TRAFFIC-03"), NotApplicable);
    assert_eq!(on(None, None, "PCB-TRAFFIC-03"), NotTested);
}

const POLICY: &str = r#"
[policy]
allowed_countries = ["FR", "DE"]
[[policy.recipient]]
host = "*.acme.example"
identifiers = ["imei"]
"#;

#[test]
fn recipients_and_countries() {
    let mut t = clean_traffic();
    assert_eq!(on(Some(&t), None, "PCB-TRAFFIC-04"), Pass);
    t.findings.push(finding(
        "imei",
        "granted",
        "reg.acme.example",
        "https",
        &[1],
    ));
    // No declaration: INCONCLUSIVE listing destinations and countries.
    let r = run(Some(&t), None, &[], None);
    assert_eq!(verdict(&r, "PCB-TRAFFIC-04"), Inconclusive);
    let ev = &r.result("PCB-TRAFFIC-04").unwrap().automatic.evidence;
    assert!(
        ev.iter()
            .any(|e| e.description.contains("reg.acme.example (FR)")),
        "{ev:?}"
    );
    assert_eq!(
        verdict(
            &run(Some(&t), None, &[], Some(policy(POLICY))),
            "PCB-TRAFFIC-04"
        ),
        Pass
    );
    // Undeclared identifier for a declared host; undeclared host; disallowed country.
    let mut t2 = t.clone();
    t2.findings.push(finding(
        "advertising_id",
        "granted",
        "reg.acme.example",
        "https",
        &[2],
    ));
    let r = run(Some(&t2), None, &[], Some(policy(POLICY)));
    assert_eq!(verdict(&r, "PCB-TRAFFIC-04"), Fail);
    assert!(
        r.result("PCB-TRAFFIC-04").unwrap().automatic.evidence[0]
            .description
            .contains("not for this identifier")
    );
    let mut t3 = t.clone();
    t3.findings.push(finding(
        "imei",
        "granted",
        "ads.tracker.example",
        "https",
        &[2],
    ));
    assert_eq!(
        verdict(
            &run(Some(&t3), None, &[], Some(policy(POLICY))),
            "PCB-TRAFFIC-04"
        ),
        Fail
    );
    let mut t4 = t.clone();
    t4.findings[0].country = Some("US".into());
    assert_eq!(
        verdict(
            &run(Some(&t4), None, &[], Some(policy(POLICY))),
            "PCB-TRAFFIC-04"
        ),
        Fail
    );
    let mut t5 = t.clone();
    t5.findings[0].country = None;
    assert_eq!(
        verdict(
            &run(Some(&t5), None, &[], Some(policy(POLICY))),
            "PCB-TRAFFIC-04"
        ),
        Inconclusive
    );
    // Only recipients declared: countries undecided.
    let p = policy(&POLICY.replace("allowed_countries = [\"FR\", \"DE\"]", ""));
    assert_eq!(
        verdict(&run(Some(&t), None, &[], Some(p)), "PCB-TRAFFIC-04"),
        Inconclusive
    );
    assert_eq!(on(None, None, "PCB-TRAFFIC-04"), NotTested);
}

#[test]
fn persistent_with_advertising_id() {
    let mut t = clean_traffic();
    t.findings.push(finding(
        "advertising_id",
        "granted",
        "ads.example",
        "https",
        &[5],
    ));
    assert_eq!(on(Some(&t), None, "PCB-TRAFFIC-05"), Pass);
    // Same frame of the same capture (one request), different host label.
    let mut t1 = t.clone();
    t1.findings
        .push(finding("imei", "granted", "other.example", "https", &[5]));
    let r = run(Some(&t1), None, &[], None);
    assert_eq!(verdict(&r, "PCB-TRAFFIC-05"), Fail);
    assert!(
        r.result("PCB-TRAFFIC-05").unwrap().automatic.evidence[0]
            .description
            .contains("same request")
    );
    // Same destination and phase, other request.
    let mut t2 = t.clone();
    t2.findings
        .push(finding("serial", "granted", "ads.example", "https", &[99]));
    assert_eq!(on(Some(&t2), None, "PCB-TRAFFIC-05"), Fail);
    // Same destination, other phase, other request: not paired.
    let mut t3 = t.clone();
    t3.findings
        .push(finding("serial", "declined", "ads.example", "https", &[99]));
    assert_eq!(on(Some(&t3), None, "PCB-TRAFFIC-05"), Pass);
    let mut t4 = t.clone();
    t4.destinations
        .push(dest("opaque.example", "quic", &["granted"], 1 << 20, &[]));
    assert_eq!(on(Some(&t4), None, "PCB-TRAFFIC-05"), Inconclusive);
    assert_eq!(on(None, None, "PCB-TRAFFIC-05"), NotTested);
}

#[test]
fn identifier_permissions() {
    let mut f = clean_firmware();
    f.apps[1].identifier_calls = vec![call(
        "Landroid/telephony/TelephonyManager;->getImei",
        &["imei"],
    )];
    let r = run(None, Some(&f), &[], None);
    assert_eq!(verdict(&r, "PCB-APP-01"), Fail);
    assert!(
        r.result("PCB-APP-01").unwrap().automatic.evidence[0]
            .description
            .contains("MISSING")
    );
    f.apps[1]
        .permissions
        .push("android.permission.READ_PRIVILEGED_PHONE_STATE".into());
    f.apps[1].privileged_granted = vec!["android.permission.READ_PRIVILEGED_PHONE_STATE".into()];
    let r = run(None, Some(&f), &[], None);
    assert_eq!(verdict(&r, "PCB-APP-01"), Pass);
    let d = &r.result("PCB-APP-01").unwrap().automatic.evidence[0].description;
    assert!(
        d.contains("listed for review") && d.contains("pre-granted"),
        "{d}"
    );
    // ANDROID_ID needs no permission.
    let mut f2 = clean_firmware();
    f2.apps[0].identifier_calls = vec![call(
        "Landroid/provider/Settings$Secure;->getString",
        &["android_id"],
    )];
    assert_eq!(on(None, Some(&f2), "PCB-APP-01"), Pass);
    // Code not analysed anywhere → NOT_TESTED; somewhere → INCONCLUSIVE.
    let mut f3 = clean_firmware();
    for a in &mut f3.apps {
        a.dex_files.clear();
    }
    assert_eq!(on(None, Some(&f3), "PCB-APP-01"), NotTested);
    let mut f4 = clean_firmware();
    f4.apps[0].dex_files.clear();
    assert_eq!(on(None, Some(&f4), "PCB-APP-01"), Inconclusive);
    assert_eq!(on(None, None, "PCB-APP-01"), NotTested);
}

#[test]
fn test_keys_debuggable_risk_trackers() {
    let f = clean_firmware();
    let mut k = f.clone();
    k.apps[0].signing.as_mut().unwrap().test_key = Some("platform".into());
    assert_eq!(on(None, Some(&k), "PCB-APP-02"), Fail);
    let mut dbg = f.clone();
    dbg.apps[0].signing.as_mut().unwrap().debug_cert = true;
    assert_eq!(on(None, Some(&dbg), "PCB-APP-02"), Fail);
    let mut unk = f.clone();
    unk.apps[1].signing = None;
    assert_eq!(on(None, Some(&unk), "PCB-APP-02"), Inconclusive);
    assert_eq!(on(None, None, "PCB-APP-02"), NotTested);
    assert_eq!(
        verdict(
            &run(None, Some(&firmware(vec![], 0.0)), &[], None),
            "PCB-APP-02"
        ),
        NotTested
    );

    let mut d = f.clone();
    d.apps[1].debuggable = true;
    assert_eq!(on(None, Some(&d), "PCB-APP-03"), Fail);
    let mut e = f.clone();
    e.apps[1].error = Some("not an APK".into());
    assert_eq!(on(None, Some(&e), "PCB-APP-03"), Inconclusive);
    assert_eq!(on(None, None, "PCB-APP-03"), NotTested);

    assert_eq!(
        verdict(
            &run(None, Some(&firmware(f.apps.clone(), 7.5)), &[], None),
            "PCB-APP-04"
        ),
        Fail
    );
    assert_eq!(
        verdict(
            &run(None, Some(&firmware(f.apps.clone(), 5.0)), &[], None),
            "PCB-APP-04"
        ),
        Fail
    );
    assert_eq!(
        verdict(
            &run(None, Some(&firmware(f.apps.clone(), 4.99)), &[], None),
            "PCB-APP-04"
        ),
        Pass
    );
    let mut unscored = f.clone();
    unscored.risk = Default::default();
    assert_eq!(on(None, Some(&unscored), "PCB-APP-04"), NotTested);

    let mut tr = f.clone();
    tr.apps[0].trackers = vec![tracker("Acme Analytics")];
    assert_eq!(on(None, Some(&tr), "PCB-APP-05"), Pass);
    tr.apps[0].privileged = true;
    let r = run(None, Some(&tr), &[], None);
    assert_eq!(verdict(&r, "PCB-APP-05"), Inconclusive);
    assert!(
        r.result("PCB-APP-05").unwrap().automatic.evidence[0]
            .description
            .contains("Acme Analytics")
    );
    assert_eq!(on(None, None, "PCB-APP-05"), NotTested);
}

/// PCB-APP-05 reads the trackers an app embeds (code signatures, as exodus-core decides), not
/// the hosts its strings mention: a real APK naming `pagead2.googlesyndication.com` and
/// `plus.google.com` (exodus-core finds no tracker code in it) installed as a privileged app
/// passes; before issue 13 it was INCONCLUSIVE with "Google Ads, Google AdMob" listed.
#[test]
fn privileged_trackers_ignore_hosts_the_app_only_mentions() {
    use pc_firmware::endpoints::EndpointKind;
    let apk = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/apk/androguard/com.example.android.wearable.wear.weardrawers.apk");
    let bytes = std::fs::read(&apk).unwrap();
    let mut a = pc_firmware::analyze_apk(
        "priv-app/Wear/Wear.apk",
        &bytes,
        &pc_firmware::DexCode::new(),
        &pc_firmware::ApkSig,
        pc_firmware::TrackerDb::embedded(),
    );
    assert!(a.error.is_none(), "{:?}", a.error);
    assert!(
        a.endpoints
            .iter()
            .any(|e| e.kind == EndpointKind::Host && !e.tracker_network.is_empty()),
        "the fixture mentions tracker hosts"
    );
    assert!(a.trackers.is_empty(), "{:?}", a.trackers);
    a.privileged = true;
    let mut f = clean_firmware();
    f.apps = vec![a];
    assert_eq!(on(None, Some(&f), "PCB-APP-05"), Pass);
}

fn review(req: &str, v: pc_certify::Verdict, date: &str) -> Review {
    Review {
        requirement: req.into(),
        verdict: v,
        reason: "checked by hand".into(),
        reviewer: "R. Viewer".into(),
        date: date.into(),
    }
}

#[test]
fn reviewer_overrides() {
    let mut f = clean_firmware();
    f.apps[0].privileged = true;
    f.apps[0].trackers = vec![tracker("Acme Analytics")];
    let mut t = clean_traffic();
    t.findings.push(finding(
        "imei",
        "first-boot",
        "reg.acme.example",
        "https",
        &[7],
    ));
    let reviews = vec![
        review("PCB-CONSENT-01", Fail, "2026-04-01"),
        review("PCB-CONSENT-01", Pass, "2026-04-03"),
        review("PCB-CONSENT-01", Inconclusive, "2026-04-02"),
        review("PCB-NOPE-9", Pass, "2026-04-02"),
    ];
    // Without a policy the identifier's recipient cannot be judged: INCOMPLETE.
    let r = run(Some(&t), Some(&f), &reviews, None);
    assert_eq!(r.result("PCB-TRAFFIC-04").unwrap().verdict, Inconclusive);
    assert_eq!(r.summary.decision, Decision::Incomplete);
    let r = run(Some(&t), Some(&f), &reviews, Some(policy(POLICY)));
    let res = r.result("PCB-CONSENT-01").unwrap();
    assert_eq!(res.automatic.verdict, Fail);
    assert_eq!(res.verdict, Pass, "the latest review wins");
    assert_eq!(res.review.as_ref().unwrap().date, "2026-04-03");
    assert_eq!(r.result("PCB-APP-05").unwrap().verdict, Inconclusive);
    assert!(r.warnings.iter().any(|w| w.contains("PCB-NOPE-9")));
    assert_eq!(r.reviews.len(), 4);
    // Recommended APP-05 does not block; the reviewed CONSENT-01 no longer does.
    assert_eq!(r.summary.decision, Decision::Certifiable);
    // A reviewer can also fail a passing requirement.
    let r = run(
        Some(&clean_traffic()),
        Some(&clean_firmware()),
        &[review("PCB-APP-03", Fail, "2026-04-01")],
        None,
    );
    assert_eq!(r.result("PCB-APP-03").unwrap().automatic.verdict, Pass);
    assert_eq!(r.summary.decision, Decision::NotCertifiable);
    assert_eq!(r.summary.blocking, vec!["PCB-APP-03".to_string()]);
    // Incomplete when a mandatory one is merely not tested.
    let r = run(None, Some(&clean_firmware()), &[], None);
    assert_eq!(r.summary.decision, Decision::Incomplete);
}

#[test]
fn evidence_lists_are_capped() {
    let mut t = clean_traffic();
    for i in 0..150 {
        t.findings.push(finding(
            "imei",
            "first-boot",
            &format!("h{i}.example"),
            "https",
            &[i],
        ));
    }
    let r = run(Some(&t), None, &[], None);
    let ev = &r.result("PCB-CONSENT-01").unwrap().automatic.evidence;
    assert_eq!(ev.len(), pc_certify::outcome::MAX_EVIDENCE + 1);
    assert!(ev.last().unwrap().description.contains("50 more"));
}

#[test]
fn reviews_applied_to_a_stored_report_decide_as_at_audit_time() {
    let mut t = clean_traffic();
    t.findings.push(finding(
        "imei",
        "first-boot",
        "reg.acme.example",
        "https",
        &[7],
    ));
    let f = clean_firmware();
    let reviews = vec![
        review("PCB-CONSENT-01", Fail, "2026-04-01"),
        review("PCB-CONSENT-01", Pass, "2026-04-03"),
        review("PCB-NOPE-9", Pass, "2026-04-02"),
    ];
    let at_audit = run(Some(&t), Some(&f), &reviews, Some(policy(POLICY)));
    // The registry's path: audit without reviews, store, read back, apply the reviews.
    let stored = run(Some(&t), Some(&f), &[], Some(policy(POLICY)));
    assert_eq!(stored.summary.decision, Decision::NotCertifiable);
    let mut later: pc_certify::AuditReport = serde_json::from_str(&stored.to_json()).unwrap();
    pc_certify::apply_reviews(&mut later, &reviews);
    later.generated = at_audit.generated.clone();
    assert_eq!(later, at_audit);
    assert_eq!(later.summary.decision, Decision::Certifiable);
}

#[test]
fn build_facts_decide_the_build_requirements() {
    let base = clean_firmware();
    let r = run(None, Some(&base), &[], None);
    for id in [
        "PCB-BUILD-01",
        "PCB-BUILD-02",
        "PCB-BUILD-03",
        "PCB-BUILD-04",
    ] {
        assert_eq!(verdict(&r, id), Pass, "{id}");
    }
    // userdebug with test-keys.
    let mut f = base.clone();
    f.build.build_type = Some("userdebug".into());
    f.build.tags = Some("test-keys".into());
    let r = run(None, Some(&f), &[], None);
    assert_eq!(verdict(&r, "PCB-BUILD-01"), Fail);
    let ev = &r.result("PCB-BUILD-01").unwrap().automatic.evidence;
    assert!(
        ev.iter().any(|e| e.description.contains("test-keys")),
        "{ev:?}"
    );
    // Signed with the AOSP test key, verification off, a hash that does not match.
    let mut f = base.clone();
    f.build.avb[0].test_key = Some("AOSP testkey_rsa4096".into());
    let r = run(None, Some(&f), &[], None);
    assert_eq!(verdict(&r, "PCB-BUILD-02"), Fail);
    let mut f = base.clone();
    f.build.avb[0].verification_disabled = true;
    f.build.avb[0].flags = 2;
    assert_eq!(
        verdict(&run(None, Some(&f), &[], None), "PCB-BUILD-02"),
        Fail
    );
    let mut f = base.clone();
    f.build.avb[0].hashes[0].matches = Some(false);
    assert_eq!(
        verdict(&run(None, Some(&f), &[], None), "PCB-BUILD-02"),
        Fail
    );
    // No vbmeta given: not a PASS.
    let mut f = base.clone();
    f.build.avb.clear();
    assert_eq!(
        verdict(&run(None, Some(&f), &[], None), "PCB-BUILD-02"),
        Inconclusive
    );
    // Patch level: 13 months before NOW (2026-03-31) fails at 12, passes when the policy allows 24.
    let mut f = base.clone();
    f.build.security_patch = Some("2025-02-05".into());
    assert_eq!(
        verdict(&run(None, Some(&f), &[], None), "PCB-BUILD-03"),
        Fail
    );
    let policy = pc_certify::Policy {
        security_patch_max_age_months: Some(24),
        ..Default::default()
    };
    assert_eq!(
        verdict(&run(None, Some(&f), &[], Some(policy)), "PCB-BUILD-03"),
        Pass
    );
    f.build.security_patch = None;
    assert_eq!(
        verdict(&run(None, Some(&f), &[], None), "PCB-BUILD-03"),
        Inconclusive
    );
    // Debugging left on; or the properties not found.
    let mut f = base.clone();
    f.build.adb_secure = Some("0".into());
    assert_eq!(
        verdict(&run(None, Some(&f), &[], None), "PCB-BUILD-04"),
        Fail
    );
    f.build.adb_secure = None;
    assert_eq!(
        verdict(&run(None, Some(&f), &[], None), "PCB-BUILD-04"),
        Inconclusive
    );
    // No build.prop read at all.
    let mut f = base;
    f.build.prop_files.clear();
    let r = run(None, Some(&f), &[], None);
    for id in ["PCB-BUILD-01", "PCB-BUILD-03", "PCB-BUILD-04"] {
        assert_eq!(verdict(&r, id), Inconclusive, "{id}");
    }
}
