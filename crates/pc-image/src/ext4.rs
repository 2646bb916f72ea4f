//! ext4 filesystems (vendor and older system images), read with the `ext4-view` crate:
//! read-only, pure Rust, checksums (metadata_csum) verified, no unsafe — the crate of the
//! field, so no reader of our own.
//!
//! `ext4-view` keeps its state behind `Rc`/`RefCell`, so one `Ext4` value cannot be shared
//! between threads. The analysis reads apps on every core, so each thread loads its own view
//! of the same image (loading reads only the superblock and group descriptors) and keeps it
//! in a thread-local table; all of them read the one shared [`Source`] positionally. Its API
//! is path-based: node ids here index a table of the paths handed out.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use ext4_view::{Ext4, Ext4Read, FileType};

use crate::error::{ImageError, Result};
use crate::source::Source;
use crate::tree::{Entry, Kind, NodeId, Tree};

/// ext4 superblock magic (at byte 1024 + 56).
pub fn is_ext4(head: &[u8]) -> bool {
    head.get(1080..1082) == Some(&[0x53, 0xEF])
}

struct Reader(Source);

impl Ext4Read for Reader {
    fn read(
        &mut self,
        start: u64,
        dst: &mut [u8],
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.0.read_at(start, dst).map_err(|e| Box::new(e) as _)
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Most views one thread keeps (one per ext4 image opened in the process).
const MAX_VIEWS: usize = 32;

thread_local! {
    static VIEWS: RefCell<HashMap<u64, Ext4>> = RefCell::new(HashMap::new());
}

/// An ext4 image as a [`Tree`].
pub struct Ext4Fs {
    src: Source,
    id: u64,
    paths: RwLock<Vec<Vec<u8>>>,
}

impl Ext4Fs {
    /// Opens the filesystem (its superblock is checked now, in this thread).
    pub fn open(src: Source) -> Result<Ext4Fs> {
        let fs = Ext4Fs {
            src,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            paths: RwLock::new(vec![b"/".to_vec()]),
        };
        fs.with(|_| Ok(()))?;
        Ok(fs)
    }

    fn err(&self, what: impl std::fmt::Display, path: &[u8]) -> ImageError {
        ImageError::new(
            self.src.name(),
            0,
            format!("ext4 {}: {what}", String::from_utf8_lossy(path)),
        )
    }

    fn with<T>(&self, f: impl FnOnce(&Ext4) -> Result<T>) -> Result<T> {
        VIEWS.with(|v| {
            let mut v = v.borrow_mut();
            if !v.contains_key(&self.id) {
                if v.len() >= MAX_VIEWS {
                    v.clear();
                }
                let fs = Ext4::load(Box::new(Reader(self.src.clone()))).map_err(|e| {
                    ImageError::new(
                        self.src.name(),
                        1024,
                        format!("not a readable ext4 filesystem: {e}"),
                    )
                })?;
                v.insert(self.id, fs);
            }
            let fs = v.get(&self.id).ok_or_else(|| self.err("view lost", b"/"))?;
            f(fs)
        })
    }

    fn path(&self, id: NodeId) -> Result<Vec<u8>> {
        let p = self
            .paths
            .read()
            .map_err(|_| self.err("path table poisoned", b""))?;
        p.get(id.0 as usize)
            .cloned()
            .ok_or_else(|| self.err(format!("unknown node {}", id.0), b""))
    }

    fn intern(&self, path: Vec<u8>) -> Result<NodeId> {
        let mut p = self
            .paths
            .write()
            .map_err(|_| self.err("path table poisoned", b""))?;
        p.push(path);
        Ok(NodeId(p.len() as u64 - 1))
    }
}

impl Tree for Ext4Fs {
    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn list(&self, dir: NodeId) -> Result<Vec<Entry>> {
        let path = self.path(dir)?;
        let raw: Vec<(Vec<u8>, Kind, Vec<u8>)> = self.with(|fs| {
            let rd = fs
                .read_dir(ext4_view::Path::new(&path))
                .map_err(|e| self.err(e, &path))?;
            let mut out = Vec::new();
            for e in rd {
                let e = e.map_err(|e| self.err(e, &path))?;
                let name = e.file_name().as_ref().to_vec();
                if name == b"." || name == b".." {
                    continue;
                }
                let full = e.path().as_ref().to_vec();
                let kind = match e.file_type().map_err(|x| self.err(x, &full))? {
                    FileType::Directory => Kind::Dir,
                    FileType::Regular => Kind::File {
                        size: e.metadata().map_err(|x| self.err(x, &full))?.len(),
                    },
                    FileType::Symlink => {
                        let t = fs
                            .read_link(ext4_view::Path::new(&full))
                            .map_err(|x| self.err(x, &full))?;
                        Kind::Symlink(String::from_utf8_lossy(t.as_ref()).into_owned())
                    }
                    _ => Kind::Other,
                };
                out.push((name, kind, full));
            }
            Ok(out)
        })?;
        let mut out = Vec::with_capacity(raw.len());
        for (name, kind, full) in raw {
            out.push(Entry {
                name: String::from_utf8_lossy(&name).into_owned(),
                id: self.intern(full)?,
                kind,
            });
        }
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(out)
    }

    fn read(&self, file: NodeId, max: u64) -> Result<Vec<u8>> {
        let path = self.path(file)?;
        self.with(|fs| {
            let mut f = fs
                .open(ext4_view::Path::new(&path))
                .map_err(|e| self.err(e, &path))?;
            let len = f.metadata().len();
            if len > max {
                return Err(self.err(
                    format!("file of {len} bytes is over the limit of {max}"),
                    &path,
                ));
            }
            let mut buf = vec![0u8; len as usize];
            let mut done = 0;
            while done < buf.len() {
                match f
                    .read_bytes(&mut buf[done..])
                    .map_err(|e| self.err(e, &path))?
                {
                    0 => break,
                    n => done += n,
                }
            }
            buf.truncate(done);
            Ok(buf)
        })
    }
}
