#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| { let mut s = pc_firmware::endpoints::EndpointSet::default(); pc_firmware::endpoints::EndpointExtractor::new().scan_binary(data, "native:f", &mut s); if let Ok(t) = std::str::from_utf8(data) { pc_firmware::endpoints::EndpointExtractor::new().scan_str(t, "dex", &mut s); } });
