#![no_main]
//! super.img metadata (liblp): geometry, header, tables; each partition read through its
//! extents; no panic, bounded allocations.
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pc_image::lp::{PartitionSource, Super};
use pc_image::{MemSource, ReadAt, Source};

fuzz_target!(|data: &[u8]| {
    let src: Source = Arc::new(MemSource::new("fuzz", data.to_vec()));
    let Ok(s) = Super::open(src.as_ref()) else {
        return;
    };
    for p in s.named("_a") {
        if let Ok(ps) = PartitionSource::new(src.clone(), &p) {
            let mut b = [0u8; 512];
            let n = ps.size().min(512) as usize;
            let _ = ps.read_at(0, &mut b[..n]);
        }
    }
});
