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
