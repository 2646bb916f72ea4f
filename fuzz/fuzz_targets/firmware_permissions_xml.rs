#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| { let mut c = pc_firmware::tree::PermissionConfig::default(); let _ = c.add_privapp_xml(data, "f"); let _ = c.add_default_permissions_xml(data, "f"); });
