//! A read-only file tree: what a filesystem image (EROFS, ext4), a set of partitions, or a
//! folder on disk offers to the firmware analysis. Nodes are named by opaque ids so a walk
//! never looks a path up twice; symbolic links are the tree's business (resolved inside the
//! tree, or left out), so a walker only sees folders and files.

use crate::error::Result;

/// Opaque id of a node, meaningful only to the tree that returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u64);

/// What a directory entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A folder.
    Dir,
    /// A regular file of `size` bytes.
    File {
        /// Size in bytes.
        size: u64,
    },
    /// A symbolic link and its target text (not followed).
    Symlink(String),
    /// Device, fifo, socket: not read.
    Other,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File name (no `/`).
    pub name: String,
    /// Node id.
    pub id: NodeId,
    /// Kind.
    pub kind: Kind,
}

/// A read-only file tree. Implementations bound every read and never panic on a hostile image.
pub trait Tree: Send + Sync {
    /// The root folder.
    fn root(&self) -> NodeId;
    /// Entries of a folder (without `.` and `..`), sorted by name bytes.
    fn list(&self, dir: NodeId) -> Result<Vec<Entry>>;
    /// The whole content of a file; an error when it is larger than `max`.
    fn read(&self, file: NodeId, max: u64) -> Result<Vec<u8>>;

    /// Looks a `/`-separated path up from the root (no links followed).
    fn lookup(&self, path: &str) -> Result<Option<Entry>> {
        let mut cur = Entry {
            name: String::new(),
            id: self.root(),
            kind: Kind::Dir,
        };
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if cur.kind != Kind::Dir {
                return Ok(None);
            }
            match self.list(cur.id)?.into_iter().find(|e| e.name == comp) {
                Some(e) => cur = e,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }
}

/// Joins a link target to the folder holding the link, inside a tree: an absolute target is
/// taken from the tree's root (how Android's `/system/...` links read inside a system image).
/// `None` when the target climbs above the root.
pub fn resolve_link(dir: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|c| !c.is_empty()).collect()
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::resolve_link;

    #[test]
    fn links_resolve_inside_the_tree() {
        assert_eq!(
            resolve_link("system/app", "../lib").as_deref(),
            Some("system/lib")
        );
        assert_eq!(
            resolve_link("system/app", "/vendor/app").as_deref(),
            Some("vendor/app")
        );
        assert_eq!(resolve_link("a", "../../x"), None);
    }
}
