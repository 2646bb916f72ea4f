#![no_main]
//! AVB vbmeta structures and footers: header, blocks, descriptors; no panic.
use libfuzzer_sys::fuzz_target;
use pc_image::MemSource;

fuzz_target!(|data: &[u8]| {
    let _ = pc_image::avb::Vbmeta::parse(data, "fuzz");
    let _ = pc_image::avb::footer_vbmeta(&MemSource::new("fuzz", data.to_vec()));
});
