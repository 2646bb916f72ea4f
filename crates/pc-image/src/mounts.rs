//! Several partitions side by side as one [`Tree`]: the root lists each partition by name (as
//! a folder), so `system/app/X/X.apk` in the set is `app/X/X.apk` of the system image. Node
//! ids carry the partition's index in their top byte.

use crate::error::{ImageError, Result};
use crate::tree::{Entry, Kind, NodeId, Tree};

const SHIFT: u32 = 56;

/// Named partitions as one tree.
#[derive(Default)]
pub struct Mounts {
    parts: Vec<(String, Box<dyn Tree>)>,
}

impl Mounts {
    /// An empty set.
    pub fn new() -> Mounts {
        Mounts::default()
    }

    /// Adds a partition under `name`; `false` (nothing added) when the name is taken or the
    /// set is full (255 partitions).
    pub fn add(&mut self, name: &str, tree: Box<dyn Tree>) -> bool {
        if self.parts.len() >= 255 || self.parts.iter().any(|(n, _)| n == name) {
            return false;
        }
        self.parts.push((name.to_string(), tree));
        self.parts.sort_by(|a, b| a.0.cmp(&b.0));
        true
    }

    /// Partition names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.parts.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Whether no partition was added.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    fn split(&self, id: NodeId) -> Result<(&str, &dyn Tree, NodeId)> {
        let i = (id.0 >> SHIFT) as usize;
        let inner = NodeId(id.0 & ((1 << SHIFT) - 1));
        i.checked_sub(1)
            .and_then(|i| self.parts.get(i))
            .map(|(n, t)| (n.as_str(), t.as_ref(), inner))
            .ok_or_else(|| ImageError::new("partitions", 0, format!("unknown node {:#x}", id.0)))
    }

    fn wrap(i: usize, id: NodeId) -> Result<NodeId> {
        if id.0 >> SHIFT != 0 {
            return Err(ImageError::new("partitions", 0, "node id too large"));
        }
        Ok(NodeId(((i as u64 + 1) << SHIFT) | id.0))
    }
}

impl Tree for Mounts {
    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn list(&self, dir: NodeId) -> Result<Vec<Entry>> {
        if dir.0 == 0 {
            return self
                .parts
                .iter()
                .enumerate()
                .map(|(i, (n, t))| {
                    Ok(Entry {
                        name: n.clone(),
                        id: Self::wrap(i, t.root())?,
                        kind: Kind::Dir,
                    })
                })
                .collect();
        }
        let i = (dir.0 >> SHIFT) as usize - 1;
        let (name, t, inner) = self.split(dir)?;
        let mut v = t.list(inner).map_err(|e| e.in_part(name))?;
        for e in &mut v {
            e.id = Self::wrap(i, e.id)?;
        }
        Ok(v)
    }

    fn read(&self, file: NodeId, max: u64) -> Result<Vec<u8>> {
        let (name, t, inner) = self.split(file)?;
        t.read(inner, max).map_err(|e| e.in_part(name))
    }
}
