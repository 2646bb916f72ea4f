//! Entry paths: each name checked and normalised ([`clean_path`]), and every path placed in a
//! tree ([`Tree`]) so duplicates, and files where folders are (or the reverse), are refused
//! before anything is written.

use std::collections::HashMap;

use super::error::{BundleError, is_bidi_control, shown};
use super::types::{At, BundleLimits};

/// Longest path component Linux file systems accept; refusing it up front keeps check and
/// extraction in agreement.
const MAX_COMPONENT: usize = 255;

/// Checks an entry name and returns its normalised form (no "./" prefix, no trailing slash),
/// `None` for the archive root itself ("." or "./", which `tar -C dir .` writes).
pub(super) fn clean_path(
    raw: &[u8],
    limits: &BundleLimits,
    at: At,
) -> Result<Option<String>, BundleError> {
    let bad = |why: &str| BundleError::BadPath {
        path: shown(raw),
        at,
        why: why.to_string(),
    };
    let s = std::str::from_utf8(raw).map_err(|_| bad("the name is not valid UTF-8"))?;
    if s.is_empty() {
        return Err(bad("the name is empty"));
    }
    if s.len() > limits.max_path_len {
        return Err(bad(&format!(
            "the path is longer than {} bytes",
            limits.max_path_len
        )));
    }
    if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(bad("the name contains control characters"));
    }
    if s.contains('\\') {
        return Err(bad(
            "the name contains a backslash (Windows paths are not accepted)",
        ));
    }
    if s.starts_with('/') {
        return Err(bad("absolute paths are not accepted"));
    }
    let b = s.as_bytes();
    if b.len() >= 2 && b.first().is_some_and(u8::is_ascii_alphabetic) && b.get(1) == Some(&b':') {
        return Err(bad("the path starts with a drive letter"));
    }
    let s = s.strip_prefix("./").unwrap_or(s);
    if s.is_empty() || s == "." {
        return Ok(None);
    }
    let s = s.strip_suffix('/').unwrap_or(s);
    let mut depth: i64 = 0;
    let mut dotdot = false;
    let mut components = 0usize;
    for c in s.split('/') {
        match c {
            "" => return Err(bad("the path has an empty component ('//')")),
            "." => return Err(bad("the path has a '.' component")),
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err(bad("path escapes the archive folder"));
                }
                dotdot = true;
            }
            c if c.len() > MAX_COMPONENT => {
                return Err(bad("a path component is longer than 255 bytes"));
            }
            _ => depth += 1,
        }
        components += 1;
    }
    // Even a '..' that stays inside is refused: paths must be normalised, one name per file.
    if dotdot {
        return Err(bad("the path has a '..' component"));
    }
    if components > limits.max_depth {
        return Err(bad(&format!(
            "the path is deeper than {} components",
            limits.max_depth
        )));
    }
    Ok(Some(s.to_string()))
}

/// Every path placed so far, as a tree of components, to refuse duplicates and collisions.
pub(super) struct Tree {
    nodes: Vec<Node>,
    max: u64,
}

struct Node {
    /// A file or a link: nothing can be below it.
    file: bool,
    /// A link (recorded, not extracted), placed as a file is.
    link: bool,
    /// Named by an entry (as opposed to implied by a longer path).
    explicit: bool,
    children: HashMap<Box<str>, usize>,
}

impl Tree {
    pub(super) fn new(max: u64) -> Tree {
        Tree {
            nodes: vec![Node {
                file: false,
                link: false,
                explicit: false,
                children: HashMap::new(),
            }],
            max,
        }
    }

    /// An entry for the archive root ("./").
    pub(super) fn add_root(&mut self, at: At) -> Result<(), BundleError> {
        match self.nodes.first_mut() {
            Some(root) if root.explicit => Err(BundleError::Duplicate {
                path: "./".into(),
                at,
            }),
            Some(root) => {
                root.explicit = true;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Places `path` (clean), a folder when `dir`, else a file or (`link`) a link; returns the
    /// byte lengths of its prefixes that are new folders, in the order they must be created (the
    /// path itself included when it is a new folder).
    pub(super) fn add(
        &mut self,
        path: &str,
        dir: bool,
        link: bool,
        at: At,
    ) -> Result<Vec<usize>, BundleError> {
        let mut created = Vec::new();
        let mut cur = 0usize;
        let mut end = 0usize;
        let count = path.split('/').count();
        for (i, c) in path.split('/').enumerate() {
            end += c.len() + usize::from(i > 0);
            let last = i + 1 == count;
            let prefix = path.get(..end).unwrap_or(path);
            let collision = |why: &'static str| BundleError::Collision {
                path: shown(path.as_bytes()),
                at,
                why,
                other: shown(prefix.as_bytes()),
            };
            let existing = self.nodes.get(cur).and_then(|n| n.children.get(c)).copied();
            match existing {
                Some(n) => {
                    let Some(node) = self.nodes.get_mut(n) else {
                        break;
                    };
                    if !last {
                        if node.file {
                            return Err(collision(if node.link {
                                "goes through the link"
                            } else {
                                "goes through the file"
                            }));
                        }
                        cur = n;
                        continue;
                    }
                    return match (node.file, node.explicit, dir) {
                        // A folder entry after files inside it (zip writers do this): fine once.
                        (false, false, true) => {
                            node.explicit = true;
                            Ok(created)
                        }
                        (true, _, false) | (false, true, true) => Err(BundleError::Duplicate {
                            path: shown(path.as_bytes()),
                            at,
                        }),
                        (false, _, false) => Err(collision(if link {
                            "is a link but an earlier entry made a folder of"
                        } else {
                            "is a file but an earlier entry made a folder of"
                        })),
                        (true, _, true) => Err(collision(if node.link {
                            "is a folder but an earlier entry is the link"
                        } else {
                            "is a folder but an earlier entry is the file"
                        })),
                    };
                }
                None => {
                    if self.nodes.len() as u64 > self.max {
                        return Err(BundleError::TooManyEntries {
                            limit: self.max,
                            at,
                        });
                    }
                    let file = last && !dir;
                    let n = self.nodes.len();
                    self.nodes.push(Node {
                        file,
                        link: file && link,
                        explicit: last,
                        children: HashMap::new(),
                    });
                    if let Some(parent) = self.nodes.get_mut(cur) {
                        parent.children.insert(c.into(), n);
                    }
                    if !file {
                        created.push(end);
                    }
                    cur = n;
                }
            }
        }
        Ok(created)
    }
}
