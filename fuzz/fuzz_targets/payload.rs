#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pc_image::MemSource;
use pc_image::payload::Payload;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Payload::inspect(Arc::new(MemSource::new("payload.bin", data.to_vec()))) else {
        return;
    };
    let _ = p.is_incremental();
    for part in p.partitions() {
        let Ok(src) = p.partition(&part.name) else {
            continue;
        };
        // A few reads, not the whole partition: a manifest may claim terabytes of zeros.
        let mut buf = vec![0u8; 1 << 16];
        for off in [0, src.size() / 2, src.size().saturating_sub(1 << 16)] {
            let n = (src.size() - off.min(src.size())).min(buf.len() as u64) as usize;
            let _ = src.read_at(off, &mut buf[..n]);
        }
        if src.size() <= 1 << 20 {
            let _ = p.verify(&part.name);
        }
    }
});
