#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pc_image::transfer::{TransferImage, TransferList};
use pc_image::{MemSource, ReadAt};

fuzz_target!(|data: &[u8]| {
    let Ok(list) = TransferList::parse("system.transfer.list", data) else {
        return;
    };
    let blocks = list.new_blocks();
    if blocks > 256 {
        return;
    }
    // new.dat of the right size whose blocks are numbered, so a read lands somewhere known.
    let dat: Vec<u8> = (0..blocks).flat_map(|b| vec![b as u8; 4096]).collect();
    let Ok(img) = TransferImage::new(&list, Arc::new(MemSource::new("new.dat", dat)), "img") else {
        return;
    };
    let mut buf = vec![0u8; 3 * 4096 + 7];
    for off in [
        0,
        4095,
        img.size() / 2,
        img.size().saturating_sub(buf.len() as u64),
    ] {
        let n = (img.size() - off.min(img.size())).min(buf.len() as u64) as usize;
        let _ = img.read_at(off, &mut buf[..n]);
    }
});
