#![no_main]
//! Android sparse images: index the chunks, read the first, a middle and the last block, and
//! check the CRC chunks; no panic, bounded allocations.
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pc_image::{MemSource, ReadAt};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = pc_image::sparse::Sparse::open(Arc::new(MemSource::new("fuzz", data.to_vec())))
    else {
        return;
    };
    if s.size() > 1 << 26 {
        return;
    }
    let mut b = [0u8; 4096];
    for at in [0, s.size() / 2, s.size().saturating_sub(4096)] {
        let n = (s.size() - at).min(4096) as usize;
        let _ = s.read_at(at, &mut b[..n]);
    }
    let _ = s.verify();
});
