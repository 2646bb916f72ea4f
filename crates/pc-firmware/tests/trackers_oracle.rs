//! Tracker detection against exodus-core's output (tests/data/oracle/apk/**/<apk>.json).
mod common;

use pc_firmware::TrackerDb;

fn ids_for(apk: &[u8]) -> Vec<u32> {
    let classes: Vec<String> = common::apk_dex(apk)
        .iter()
        .flat_map(|(_, d)| common::dex_class_names(d))
        .collect();
    let mut ids: Vec<u32> = TrackerDb::embedded()
        .match_classes(classes.iter().map(String::as_str))
        .iter()
        .map(|h| h.id)
        .collect();
    ids.dedup();
    ids
}

#[test]
fn tracker_ids_match_exodus_oracle() {
    let apks = common::fixture_apks();
    assert!(apks.len() >= 30);
    let mut with_classes = 0;
    for (rel, bytes) in &apks {
        let oracle_path = format!("{}/oracle/apk/{rel}.json", common::DATA);
        let oracle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&oracle_path).unwrap()).unwrap();
        let ex = &oracle["exodus"];
        assert_eq!(ex["signature_count"], 432, "{rel}");
        let want: Vec<u32> = ex["tracker_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        if ex["embedded_class_count"].as_u64().unwrap_or(0) > 0
            && !common::apk_dex(bytes).is_empty()
        {
            with_classes += 1;
        }
        assert_eq!(ids_for(bytes), want, "{rel}");
    }
    // The lister really read classes from most fixtures (not a vacuous comparison).
    assert!(with_classes >= 25, "{with_classes}");
}

/// The one public APK with a tracker (AdMob). Its licence does not allow copying it into the
/// repository, so it is read from the shared corpus only when PHONECERT_CORPUS points there.
#[test]
fn blooddonation_has_admob_when_corpus_available() {
    let Ok(corpus) = std::env::var("PHONECERT_CORPUS") else {
        eprintln!("PHONECERT_CORPUS not set: skipped");
        return;
    };
    let apk = std::fs::read(format!("{corpus}/apk/exodus/blooddonation.apk")).unwrap();
    let oracle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{corpus}/oracle/apk/exodus/blooddonation.apk.json")).unwrap(),
    )
    .unwrap();
    let want: Vec<u32> = oracle["exodus"]["tracker_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(want, vec![312]);
    assert_eq!(ids_for(&apk), want);
}

/// Every APK under `dir/apk` (recursively one level: `<set>/<file>.apk` or `.xapk`), with
/// its exodus-core oracle under `dir/oracle/apk/<set>/<file>.json`.
fn apks_with_oracle(dir: &std::path::Path) -> Vec<(String, std::path::PathBuf, Vec<u32>)> {
    let mut out = Vec::new();
    let Ok(sets) = std::fs::read_dir(dir.join("apk")) else {
        return out;
    };
    for set in sets.flatten() {
        let Ok(files) = std::fs::read_dir(set.path()) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            if !p.extension().is_some_and(|e| e == "apk" || e == "xapk") {
                continue;
            }
            let rel = p.strip_prefix(dir.join("apk")).unwrap().to_path_buf();
            let oracle = dir.join(format!("oracle/apk/{}.json", rel.display()));
            let Ok(bytes) = std::fs::read(&oracle) else {
                continue;
            };
            let o: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let Some(ids) = o["exodus"]["tracker_ids"].as_array() else {
                continue;
            };
            let ids = ids.iter().map(|v| v.as_u64().unwrap() as u32).collect();
            out.push((rel.display().to_string(), p, ids));
        }
    }
    out.sort();
    out
}

/// The app facts' tracker list is exodus-core's, whole: every tracker it claims and no
/// other (no claim from a host that merely matches a network signature). Runs over
/// tests/data, and over the shared corpus too when PHONECERT_CORPUS points there; prints one
/// line per APK that claims or mentions a tracker, and the totals.
#[test]
fn app_facts_claim_exactly_exodus_trackers() {
    use pc_firmware::facts::Context;
    use pc_firmware::{ApkSig, DexCode};
    let mut all = apks_with_oracle(std::path::Path::new(common::DATA));
    if let Ok(corpus) = std::env::var("PHONECERT_CORPUS") {
        let have: std::collections::BTreeSet<String> =
            all.iter().map(|(r, _, _)| r.clone()).collect();
        all.extend(
            apks_with_oracle(std::path::Path::new(&corpus))
                .into_iter()
                .filter(|(r, _, _)| !have.contains(r)),
        );
    }
    assert!(all.len() >= 30, "{}", all.len());
    let code = DexCode::new();
    let ctx = Context {
        code: &code,
        sig: &ApkSig,
        trackers: TrackerDb::embedded(),
        limits: Default::default(),
    };
    let (mut claims, mut exodus, mut extra, mut missing, mut annotated) = (0, 0, 0, 0, 0);
    let mut problems = Vec::new();
    for (rel, path, want) in &all {
        let (root, loc) = pc_firmware::loose_app_location(path);
        let f = pc_firmware::analyze_app(&root, &loc, &ctx);
        let ours: std::collections::BTreeSet<u32> = f.trackers.iter().map(|t| t.id).collect();
        let theirs: std::collections::BTreeSet<u32> = want.iter().copied().collect();
        claims += ours.len();
        exodus += theirs.len();
        extra += ours.difference(&theirs).count();
        missing += theirs.difference(&ours).count();
        // What the strings mention: hosts matching network signatures (claims before issue 13).
        let mentioned: std::collections::BTreeSet<&str> = f
            .endpoints
            .iter()
            .flat_map(|e| e.tracker_network.iter().map(String::as_str))
            .collect();
        annotated += mentioned.len();
        if !ours.is_empty() || !theirs.is_empty() || !mentioned.is_empty() {
            eprintln!(
                "{rel}: claims {ours:?}, exodus-core {theirs:?}, hosts mention {mentioned:?}"
            );
        }
        if ours != theirs {
            problems.push(format!("{rel}: claims {ours:?} vs exodus-core {theirs:?}"));
        }
    }
    eprintln!(
        "{} APKs: {claims} tracker claims, exodus-core {exodus}; {extra} extra, {missing} missing; \
         {annotated} tracker names on endpoints",
        all.len()
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Real APKs whose strings name tracker hosts (found with `strings`: weardrawers has
/// `https://pagead2.googlesyndication.com` and `https://plus.google.com`, the androidTest APK
/// `www.google-analytics.com`) while exodus-core finds no tracker code in them: the hosts are
/// endpoints annotated with the trackers their network signatures name, and the tracker list
/// stays exodus-core's.
#[test]
fn tracker_hosts_are_endpoint_annotations_not_claims() {
    use pc_firmware::endpoints::EndpointKind;
    use pc_firmware::facts::Context;
    use pc_firmware::{ApkSig, DexCode};
    let code = DexCode::new();
    let ctx = Context {
        code: &code,
        sig: &ApkSig,
        trackers: TrackerDb::embedded(),
        limits: Default::default(),
    };
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "androguard/com.example.android.wearable.wear.weardrawers.apk",
            &[
                ("pagead2.googlesyndication.com", "Google AdMob"),
                ("plus.google.com", "Google Ads"),
            ],
        ),
        (
            "androguard/app-debug-androidTest.apk",
            &[("www.google-analytics.com", "Google Analytics")],
        ),
    ];
    for (rel, hosts) in cases {
        let path = std::path::Path::new(common::DATA).join("apk").join(rel);
        let (root, loc) = pc_firmware::loose_app_location(&path);
        let f = pc_firmware::analyze_app(&root, &loc, &ctx);
        assert!(f.error.is_none(), "{rel}: {:?}", f.error);
        let oracle: serde_json::Value = serde_json::from_slice(
            &std::fs::read(format!("{}/oracle/apk/{rel}.json", common::DATA)).unwrap(),
        )
        .unwrap();
        let want: Vec<u64> = oracle["exodus"]["tracker_ids"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_u64())
            .collect();
        let ours: Vec<u64> = f.trackers.iter().map(|t| u64::from(t.id)).collect();
        assert_eq!(ours, want, "{rel}: tracker list is exodus-core's");
        for (host, tracker) in *hosts {
            let e = f
                .endpoints
                .iter()
                .find(|e| e.kind == EndpointKind::Host && e.value == *host)
                .unwrap_or_else(|| panic!("{rel}: no endpoint {host}"));
            assert!(
                e.tracker_network.iter().any(|t| t == tracker),
                "{rel}: {host} {:?}",
                e.tracker_network
            );
            assert!(
                !f.trackers.iter().any(|t| t.name == *tracker),
                "{rel}: {tracker} claimed"
            );
        }
        // Only host names are annotated (a URL's host is also listed as a host).
        assert!(
            f.endpoints
                .iter()
                .filter(|e| e.kind != EndpointKind::Host)
                .all(|e| e.tracker_network.is_empty()),
            "{rel}"
        );
    }
}
