//! A folder on disk as a [`Tree`]: how an already extracted firmware is read.
//!
//! A symbolic link is followed only when its target lies inside the root (canonical paths),
//! so links out of the image (`system/vendor -> /vendor`) are left out; folders are named by
//! their canonical path, so a walker that remembers the folders it visited never loops.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::error::{ImageError, Result};
use crate::tree::{Entry, Kind, NodeId, Tree};

/// A folder read as a tree.
pub struct DirTree {
    root: PathBuf,
    canon_root: PathBuf,
    nodes: RwLock<(Vec<PathBuf>, HashMap<PathBuf, u64>)>,
}

impl DirTree {
    /// Opens `root`; an error when it is not a readable folder.
    pub fn open(root: &Path) -> Result<DirTree> {
        let shown = root.display().to_string();
        let canon_root =
            std::fs::canonicalize(root).map_err(|e| ImageError::new(&shown, 0, e.to_string()))?;
        if !canon_root.is_dir() {
            return Err(ImageError::new(&shown, 0, "not a directory"));
        }
        let t = DirTree {
            root: root.to_path_buf(),
            canon_root: canon_root.clone(),
            nodes: RwLock::new((Vec::new(), HashMap::new())),
        };
        t.intern(canon_root)?;
        Ok(t)
    }

    fn rel(&self, p: &Path) -> String {
        let r = p
            .strip_prefix(&self.canon_root)
            .or_else(|_| p.strip_prefix(&self.root))
            .unwrap_or(p);
        r.display().to_string()
    }

    fn err(&self, p: &Path, e: impl std::fmt::Display) -> ImageError {
        ImageError::new(self.rel(p), 0, e.to_string())
    }

    fn intern(&self, p: PathBuf) -> Result<NodeId> {
        let mut n = self.nodes.write().map_err(|_| {
            ImageError::new(self.root.display().to_string(), 0, "node table poisoned")
        })?;
        if let Some(id) = n.1.get(&p) {
            return Ok(NodeId(*id));
        }
        let id = n.0.len() as u64;
        n.0.push(p.clone());
        n.1.insert(p, id);
        Ok(NodeId(id))
    }

    fn path(&self, id: NodeId) -> Result<PathBuf> {
        let n = self.nodes.read().map_err(|_| {
            ImageError::new(self.root.display().to_string(), 0, "node table poisoned")
        })?;
        n.0.get(id.0 as usize)
            .cloned()
            .ok_or_else(|| ImageError::new(self.root.display().to_string(), 0, "unknown node"))
    }
}

impl Tree for DirTree {
    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn list(&self, dir: NodeId) -> Result<Vec<Entry>> {
        let dir = self.path(dir)?;
        let rd = std::fs::read_dir(&dir).map_err(|e| self.err(&dir, e))?;
        let mut names: Vec<(String, PathBuf)> = Vec::new();
        for e in rd {
            let e = e.map_err(|e| self.err(&dir, e))?;
            names.push((e.file_name().to_string_lossy().into_owned(), e.path()));
        }
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for (name, path) in names {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let (target, meta) = if meta.file_type().is_symlink() {
                let Ok(t) = std::fs::canonicalize(&path) else {
                    continue;
                };
                if !t.starts_with(&self.canon_root) {
                    continue;
                }
                match std::fs::metadata(&t) {
                    Ok(m) => (t, m),
                    Err(_) => continue,
                }
            } else if meta.is_dir() {
                (std::fs::canonicalize(&path).unwrap_or(path), meta)
            } else {
                (path, meta)
            };
            let kind = if meta.is_dir() {
                Kind::Dir
            } else if meta.is_file() {
                Kind::File { size: meta.len() }
            } else {
                Kind::Other
            };
            out.push(Entry {
                name,
                id: self.intern(target)?,
                kind,
            });
        }
        Ok(out)
    }

    fn read(&self, file: NodeId, max: u64) -> Result<Vec<u8>> {
        let p = self.path(file)?;
        let f = std::fs::File::open(&p).map_err(|e| self.err(&p, format!("open: {e}")))?;
        let len = f
            .metadata()
            .map_err(|e| self.err(&p, format!("stat: {e}")))?
            .len();
        if len > max {
            return Err(self.err(&p, format!("file too large: {len} bytes > limit {max}")));
        }
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 30));
        f.take(max)
            .read_to_end(&mut buf)
            .map_err(|e| self.err(&p, format!("read: {e}")))?;
        Ok(buf)
    }
}
