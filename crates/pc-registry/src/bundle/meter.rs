//! Counting: entries and real unpacked bytes against the limits (whatever the headers say),
//! the listing of what was accepted, and placing each entry through [`Tree`] and a [`Sink`].

use std::io::{self, Read};

use super::error::{BundleError, human, shown, unwrap_bundle};
use super::paths::{Tree, clean_path};
use super::sink::Sink;
use super::types::{At, BUF, BundleLimits, LinkKind, LinkRecord, Listing};

/// Counts entries and unpacked bytes against the limits while building the listing.
pub(super) struct Meter<'l> {
    limits: &'l BundleLimits,
    pub(super) listing: Listing,
    pub(super) tree: Tree,
}

impl<'l> Meter<'l> {
    pub(super) fn new(limits: &'l BundleLimits) -> Meter<'l> {
        Meter {
            limits,
            listing: Listing::default(),
            tree: Tree::new(limits.max_entries),
        }
    }

    pub(super) fn entry(&mut self, at: At) -> Result<(), BundleError> {
        self.listing.entries += 1;
        if self.listing.entries > self.limits.max_entries {
            return Err(BundleError::TooManyEntries {
                limit: self.limits.max_entries,
                at,
            });
        }
        Ok(())
    }

    /// Refuses up front an entry whose declared size is already over a limit.
    pub(super) fn declared(&self, size: u64, path: &str, at: At) -> Result<(), BundleError> {
        if size > self.limits.max_entry_size {
            return Err(BundleError::TooLarge {
                what: format!(
                    "entry '{}' (declared {})",
                    shown(path.as_bytes()),
                    human(size)
                ),
                limit: self.limits.max_entry_size,
                at,
            });
        }
        if self.listing.unpacked_total.saturating_add(size) > self.limits.max_unpacked_total {
            return Err(self.total_too_large(at));
        }
        Ok(())
    }

    fn total_too_large(&self, at: At) -> BundleError {
        BundleError::TooLarge {
            what: "the unpacked archive".into(),
            limit: self.limits.max_unpacked_total,
            at,
        }
    }

    pub(super) fn list(&mut self, path: &str) {
        if self.listing.files.len() < self.limits.max_listed {
            self.listing.files.push(path.to_string());
        } else {
            self.listing.files_truncated = true;
        }
    }

    /// Places an entry in the tree and creates the folders it implies.
    pub(super) fn place(
        &mut self,
        path: &str,
        dir: bool,
        at: At,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        self.place_as(path, dir, false, at, sink)
    }

    fn place_as(
        &mut self,
        path: &str,
        dir: bool,
        link: bool,
        at: At,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        for end in self.tree.add(path, dir, link, at)? {
            sink.mkdir(path.get(..end).unwrap_or(path))?;
        }
        Ok(())
    }

    /// A link entry (`raw`, its name): the name is checked, and the link takes its place in the
    /// tree exactly as a file would (the folders it implies are created), so a file or folder of
    /// the same path, or an entry under it, is still refused. GNU tar would replace the one by
    /// the other, or write through the link: an extraction that merely left the link out would
    /// be a tree tar never produces. Nothing is written for the link itself; it is recorded
    /// with its `target` (given the clean path), which is never resolved or used.
    pub(super) fn link(
        &mut self,
        raw: &[u8],
        target: impl FnOnce(&str) -> Result<Vec<u8>, BundleError>,
        kind: LinkKind,
        at: At,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        let bad = |why: String| BundleError::BadPath {
            path: shown(raw),
            at,
            why,
        };
        if raw.ends_with(b"/") {
            return Err(bad(format!("a {kind} entry's name ends with '/'")));
        }
        let clean = clean_path(raw, self.limits, at)?
            .ok_or_else(|| bad(format!("a {kind} entry is named like the archive root")))?;
        self.place_as(&clean, false, true, at, sink)?;
        let target = shown(&target(&clean)?);
        self.listing.links_skipped += 1;
        if self.listing.links.len() < self.limits.max_listed {
            self.listing.links.push(LinkRecord {
                path: clean,
                target,
                kind,
            });
        } else {
            self.listing.links_truncated = true;
        }
        Ok(())
    }

    /// Streams one entry's content from `src` into `sink`, counting the real bytes against the
    /// limits (whatever the headers said). `compressed` enables the ratio check.
    pub(super) fn pump(
        &mut self,
        src: &mut dyn Read,
        entry: (&str, At),
        compressed: Option<u64>,
        sink: &mut dyn Sink,
        crc: &mut flate2::Crc,
        read_err: &dyn Fn(io::Error) -> BundleError,
    ) -> Result<u64, BundleError> {
        let (path, at) = entry;
        let mut buf = vec![0u8; BUF];
        let mut n: u64 = 0;
        loop {
            let k = match src.read(&mut buf) {
                Ok(0) => return Ok(n),
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(unwrap_bundle(e).unwrap_or_else(read_err)),
            };
            let chunk = buf.get(..k).unwrap_or_default();
            n = n.saturating_add(k as u64);
            if n > self.limits.max_entry_size {
                return Err(BundleError::TooLarge {
                    what: format!("entry '{}'", shown(path.as_bytes())),
                    limit: self.limits.max_entry_size,
                    at,
                });
            }
            self.listing.unpacked_total = self.listing.unpacked_total.saturating_add(k as u64);
            if self.listing.unpacked_total > self.limits.max_unpacked_total {
                return Err(self.total_too_large(at));
            }
            if let Some(c) = compressed
                && n > self.limits.ratio_min_size
                && n > c.saturating_mul(self.limits.max_ratio)
            {
                return Err(BundleError::Bomb {
                    what: format!("entry '{}'", shown(path.as_bytes())),
                    ratio: self.limits.max_ratio,
                    at,
                });
            }
            crc.update(chunk);
            sink.write(chunk)?;
        }
    }
}
