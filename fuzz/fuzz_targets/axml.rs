#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = pc_apk::axml::parse(data) {
        let _ = pc_apk::axml::to_xml_string(&doc);
        let _ = pc_apk::manifest::from_axml(&doc, None);
        let _ = pc_apk::manifest::nsc::from_axml(&doc);
    }
});
