#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| { let s = String::from_utf8_lossy(data); let _ = (pc_certify::Catalogue::parse(&s), pc_certify::parse_reviews(&s), pc_certify::Policy::from_case_text(&s)); });
