#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    if let Ok(t) = pc_apk::arsc::ResourceTable::parse(data) {
        for id in [0x7f01_0000, 0x7f02_0000, 0x7f03_0001] {
            let _ = t.resolve(id);
        }
    }
});
