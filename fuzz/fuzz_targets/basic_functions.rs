#![no_main]
use libfuzzer_sys::fuzz_target;
// The basic-function patterns file (data/rules/basic-functions.toml).
fuzz_target!(|data: &[u8]| { let _ = pc_firmware::functions::FunctionRules::parse(&String::from_utf8_lossy(data)); });
