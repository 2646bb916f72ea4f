#![no_main]
//! EROFS: open an image held in memory and walk and read everything with a small limit; no
//! panic, no hang (each folder listed once), bounded allocations.
use std::collections::HashSet;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pc_image::erofs::Erofs;
use pc_image::{Kind, MemSource, Tree};

fuzz_target!(|data: &[u8]| {
    let Ok(fs) = Erofs::open(Arc::new(MemSource::new("fuzz", data.to_vec()))) else {
        return;
    };
    let mut seen = HashSet::new();
    let mut stack = vec![fs.root()];
    while let Some(dir) = stack.pop() {
        if !seen.insert(dir) || seen.len() > 10_000 {
            continue;
        }
        let Ok(entries) = fs.list(dir) else { continue };
        for e in entries {
            match e.kind {
                Kind::Dir => stack.push(e.id),
                _ => {
                    let _ = fs.read(e.id, 1 << 16);
                }
            }
        }
    }
});
