//! A minimal ustar writer (regular files only; folders are implied by the paths): the tests
//! upload real cases as archives they build themselves.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

/// Writes a tar stream into `W`.
pub struct Tar<W: Write> {
    w: W,
}

impl Tar<std::io::BufWriter<std::fs::File>> {
    /// A tar file at `path`.
    pub fn create(path: &Path) -> Self {
        let f = std::fs::File::create(path)
            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        Tar::new(std::io::BufWriter::with_capacity(1 << 20, f))
    }
}

impl<W: Write> Tar<W> {
    /// A tar stream into `w`.
    pub fn new(w: W) -> Self {
        Tar { w }
    }

    /// Adds a regular file.
    pub fn add(&mut self, name: &str, data: &[u8]) {
        assert!(name.len() < 100, "ustar name field: {name}");
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        self.w.write_all(&h).expect("write tar");
        self.w.write_all(data).expect("write tar");
        let pad = data.len().div_ceil(512) * 512 - data.len();
        self.w.write_all(&vec![0u8; pad]).expect("write tar");
    }

    /// Writes the end-of-archive marker; returns the writer.
    pub fn finish(mut self) -> W {
        self.w.write_all(&[0u8; 1024]).expect("write tar");
        self.w.flush().expect("write tar");
        self.w
    }
}

/// Every file below `dir`, as `/`-separated relative paths, sorted.
pub fn files_below(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// A tar of everything below `dir`.
pub fn tar_of(dir: &Path) -> Vec<u8> {
    let mut t = Tar::new(Vec::new());
    for rel in files_below(dir) {
        t.add(
            &rel,
            &std::fs::read(dir.join(&rel)).expect("read case file"),
        );
    }
    t.finish()
}
