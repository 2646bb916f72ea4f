//! Identifier calls by name through reflection reach the app facts marked `indirect`, apart
//! from direct calls of the same API (fixture: tests/data/synthetic/identifier-apis.dex, made
//! with smali by scripts/make-identifier-api-dex.sh).

use pc_firmware::DexCode;
use pc_firmware::facts::{CodeAnalyzer, CodeFacts};

#[test]
fn indirect_calls_reach_app_facts() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/synthetic/identifier-apis.dex"
    );
    let bytes = std::fs::read(path).expect("fixture");
    let code = DexCode::new();
    let mut facts = CodeFacts::default();
    // The same dex twice (as two dex files of one app): counts add up, kinds stay apart.
    code.add_dex("classes.dex", &bytes, &mut facts);
    code.add_dex("classes2.dex", &bytes, &mut facts);
    code.finish(&mut facts);
    let indirect: Vec<_> = facts
        .identifier_calls
        .iter()
        .filter(|c| c.indirect)
        .collect();
    let device_id = indirect
        .iter()
        .find(|c| c.api == "Landroid/telephony/TelephonyManager;->getDeviceId")
        .expect("reflective getDeviceId");
    assert_eq!(device_id.identifiers, ["imei", "meid"]);
    assert_eq!(device_id.count, 2);
    assert!(
        device_id
            .caller
            .starts_with("Lcom/phonecert/fixture/Reflect;->byClassName(")
    );
    let bssid: Vec<_> = facts
        .identifier_calls
        .iter()
        .filter(|c| c.api == "Landroid/net/wifi/WifiInfo;->getBSSID")
        .map(|c| c.indirect)
        .collect();
    assert_eq!(bssid, [false, true], "direct and indirect kept apart");
    assert!(
        facts
            .identifier_calls
            .iter()
            .filter(|c| !c.indirect)
            .all(|c| !c.caller.starts_with("Lcom/phonecert/fixture/Reflect;"))
    );
}
