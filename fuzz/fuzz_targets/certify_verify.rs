#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| { let _ = pc_certify::verify(&String::from_utf8_lossy(data), &pc_certify::keygen().1, 0); });
