#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    let rules = pc_dex::rules::RuleSet::embedded();
    for dex in pc_dex::Dex::parse_all(data).into_iter().flatten() {
        for class in dex.classes().flatten() {
            let _ = class.methods();
        }
        let _ = pc_dex::rules::find_calls(&dex, "classes.dex", &rules);
    }
});
