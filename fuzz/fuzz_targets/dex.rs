#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

// Parsed once per process: parsing the embedded rule file per input cost more than the DEX
// parsing itself (449 exec/s against 8k-51k for the other targets).
static RULES: LazyLock<pc_dex::rules::RuleSet> = LazyLock::new(pc_dex::rules::RuleSet::embedded);

fuzz_target!(|data: &[u8]| {
    for dex in pc_dex::Dex::parse_all(data).into_iter().flatten() {
        for class in dex.classes().flatten() {
            let _ = class.methods();
        }
        let _ = pc_dex::rules::find_calls(&dex, "classes.dex", &RULES);
    }
});
