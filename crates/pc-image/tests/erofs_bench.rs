//! Throughput of the EROFS reader on a big image (not part of the normal run):
//!   EROFS_BENCH=/path/system.img EROFS_BENCH_THREADS=2 \
//!     cargo test -p pc-image --test erofs_bench -- --ignored --nocapture
//! (EROFS_BENCH_PATH=<path in the image> picks the single file timed.)
//! Prints MB/s (decompressed bytes) for the largest file alone and for every file read by
//! N threads sharing one `Erofs`, to compare with `fsck.erofs --extract`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pc_image::erofs::Erofs;
use pc_image::{FileSource, Kind, NodeId, Tree};

#[test]
#[ignore = "needs EROFS_BENCH=<image>"]
fn erofs_throughput() {
    let Ok(path) = std::env::var("EROFS_BENCH") else {
        return;
    };
    let threads: usize = std::env::var("EROFS_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let src = FileSource::open(path.as_ref(), &path).expect("open");
    let fs = Erofs::open(Arc::new(src)).expect("erofs");
    // Every file, biggest first.
    let mut files: Vec<(u64, NodeId)> = Vec::new();
    let mut stack = vec![fs.root()];
    while let Some(d) = stack.pop() {
        for e in fs.list(d).expect("list") {
            match e.kind {
                Kind::Dir => stack.push(e.id),
                Kind::File { size } => files.push((size, e.id)),
                _ => {}
            }
        }
    }
    files.sort_by(|a, b| b.cmp(a));
    // EROFS_BENCH_PATH names the single file to time; else the largest.
    let (size, big) = match std::env::var("EROFS_BENCH_PATH") {
        Ok(p) => match fs.lookup(&p).expect("lookup").expect("no such file").kind {
            Kind::File { size } => (size, fs.lookup(&p).unwrap().unwrap().id),
            k => panic!("{p}: {k:?}"),
        },
        Err(_) => files[0],
    };
    let t = Instant::now();
    let data = fs.read(big, u64::MAX).expect("read");
    let s = t.elapsed().as_secs_f64();
    assert_eq!(data.len() as u64, size);
    println!(
        "one file: {size} bytes in {s:.3} s = {:.0} MB/s",
        size as f64 / s / 1e6
    );
    drop(data);
    let queue = Mutex::new(files.clone());
    let total = AtomicU64::new(0);
    let t = Instant::now();
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| {
                while let Some((_, id)) = queue.lock().unwrap().pop() {
                    let n = fs.read(id, u64::MAX).expect("read").len();
                    total.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    let s = t.elapsed().as_secs_f64();
    let n = total.load(Ordering::Relaxed);
    println!(
        "{} files, {n} bytes, {threads} threads: {s:.3} s = {:.0} MB/s",
        files.len(),
        n as f64 / s / 1e6
    );
}
