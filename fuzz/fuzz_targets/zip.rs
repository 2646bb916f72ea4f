#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    if let Ok(a) = pc_apk::zip::Archive::parse(data) {
        for e in a.entries() {
            let _ = a.read(e, 1 << 16);
        }
        let _ = pc_apk::manifest::from_archive(&a);
    }
});
