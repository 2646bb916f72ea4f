#![no_main]
//! Tar members indexed in place (ustar, GNU long names, pax): no panic, bounded.
use libfuzzer_sys::fuzz_target;
use pc_image::MemSource;

fuzz_target!(|data: &[u8]| {
    let _ = pc_image::tar::members(&MemSource::new("fuzz", data.to_vec()));
});
