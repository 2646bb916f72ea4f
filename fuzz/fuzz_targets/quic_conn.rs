#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| pc_h3::exercise(data));
