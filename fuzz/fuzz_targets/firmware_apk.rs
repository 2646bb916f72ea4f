#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| { let _ = pc_firmware::analyze_apk("f.apk", data, &pc_firmware::NoCode, &pc_firmware::NoSignatures, pc_firmware::TrackerDb::embedded()); });
