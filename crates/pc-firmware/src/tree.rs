//! Walks an extracted firmware folder and finds every app and the permission files.
//!
//! * Directories are read in byte order of their names, to a bounded depth. A symbolic link
//!   is followed only when its target lies inside the root and has not been visited yet
//!   (canonical paths), so links out of the image (`system/vendor -> /vendor`) and loops are
//!   skipped.
//! * Every `.apk` is an app, except that the `.apk` files of one folder form a split set
//!   when the folder holds split files (`split_*.apk`, `*.split*.apk`, `config.*.apk`) next
//!   to one base (`base.apk`, `<folder>.apk`, or the only other APK). `.xapk` / `.apks`
//!   files are bundles (zip files of APKs) opened later by the analysis.
//! * The partition is the last partition-named folder (`system`, `system_ext`, `product`,
//!   `vendor`, `odm`, `oem`, `apex`, `my_*`, with `_a`/`_b` slot suffixes removed) above the
//!   file; the app is privileged when a `priv-app` folder is on its path.
//! * `oat/<arch>/*.odex|vdex|art` files in the app's folder are recorded.
//! * `etc/permissions/*.xml` are read for `<privapp-permissions>` and
//!   `etc/default-permissions/*.xml` for `<exception>` grants; `build.prop` files give the
//!   API level and manufacturer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pc_image::dir::DirTree;
use pc_image::{ImageError, Kind, NodeId, Tree};

use crate::xml::{self, Tag};

/// Bounds applied to the walk.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest folder visited below the root.
    pub max_depth: usize,
    /// Most directory entries examined in total.
    pub max_entries: usize,
    /// Most apps returned.
    pub max_apps: usize,
    /// Largest permission XML or build.prop read.
    pub max_xml_size: u64,
    /// Most permission XML files read.
    pub max_xml_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 24,
            max_entries: 2_000_000,
            max_apps: 50_000,
            max_xml_size: 8 << 20,
            max_xml_files: 10_000,
        }
    }
}

/// Errors met while walking (each is recorded; the walk goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
pub enum TreeError {
    /// The root cannot be read.
    #[error("cannot read firmware root {path} (at {at}): {what}")]
    Root {
        /// Root path.
        path: String,
        /// Always 0.
        at: u64,
        /// Reason.
        what: String,
    },
    /// A file or folder cannot be read.
    #[error("cannot read {path} (at {at}): {what}")]
    Io {
        /// Path relative to the root.
        path: String,
        /// Always 0.
        at: u64,
        /// Reason.
        what: String,
    },
    /// A permission file is malformed (what was read before the error is used).
    #[error("malformed permission file {path}: {error}")]
    Xml {
        /// Path relative to the root.
        path: String,
        /// Tokenizer error (with its offset).
        error: String,
    },
    /// A limit was reached.
    #[error("limit reached (at {at}): {what}")]
    Limit {
        /// Always 0.
        at: u64,
        /// Which limit.
        what: &'static str,
    },
}

/// How an app is packaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    /// A single APK.
    Apk,
    /// A base APK with split APKs in the same folder.
    SplitSet,
    /// An `.xapk` / `.apks` bundle.
    Bundle,
}

/// One app found in the tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppLocation {
    /// Path of the base APK (or bundle) relative to the root, `/`-separated.
    pub path: String,
    /// Packaging.
    pub kind: AppKind,
    /// Split APKs (relative paths), for split sets.
    pub splits: Vec<String>,
    /// Partition derived from the path (`system`, `vendor`, ..., `unknown`).
    pub partition: String,
    /// Under a `priv-app` folder.
    pub privileged: bool,
    /// `oat/<arch>/*.odex|vdex|art` beside the APK (relative paths).
    pub oat_files: Vec<String>,
    /// File size of the base APK or bundle.
    pub size: u64,
}

/// Privileged-permission allowlist entry for one package.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrivappEntry {
    /// `<permission name>`.
    pub granted: BTreeSet<String>,
    /// `<deny-permission name>`.
    pub denied: BTreeSet<String>,
    /// Files that mention the package.
    pub sources: BTreeSet<String>,
}

/// A default-granted runtime permission.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DefaultGrant {
    /// `fixed="true"`: the user cannot revoke it.
    pub fixed: bool,
    /// File that grants it.
    pub source: String,
}

/// All permission configuration of the firmware.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PermissionConfig {
    /// Package → privileged permission allowlist.
    pub privapp: BTreeMap<String, PrivappEntry>,
    /// Package → permission → default grant.
    pub default_grants: BTreeMap<String, BTreeMap<String, DefaultGrant>>,
}

impl PermissionConfig {
    /// Parses one `privapp-permissions` style file (any file of `etc/permissions`).
    pub fn add_privapp_xml(&mut self, data: &[u8], source: &str) -> Option<xml::XmlError> {
        walk_packages(
            data,
            "privapp-permissions",
            |tag, name, declared, current| {
                if let Some(p) = declared {
                    self.privapp
                        .entry(p.to_string())
                        .or_default()
                        .sources
                        .insert(source.to_string());
                }
                if let (Some(p), Some(perm)) = (current, tag.attr("name")) {
                    let e = self.privapp.entry(p.to_string()).or_default();
                    match name {
                        "permission" => {
                            e.granted.insert(perm.to_string());
                        }
                        "deny-permission" => {
                            e.denied.insert(perm.to_string());
                        }
                        _ => {}
                    }
                }
            },
        )
    }

    /// Parses one `default-permissions` file.
    pub fn add_default_permissions_xml(
        &mut self,
        data: &[u8],
        source: &str,
    ) -> Option<xml::XmlError> {
        walk_packages(data, "exception", |tag, name, _declared, current| {
            if let (Some(p), "permission", Some(perm)) = (current, name, tag.attr("name")) {
                let fixed = tag.attr("fixed").is_some_and(|f| f.trim() == "true");
                self.default_grants
                    .entry(p.to_string())
                    .or_default()
                    .entry(perm.to_string())
                    .or_insert(DefaultGrant {
                        fixed,
                        source: source.to_string(),
                    });
            }
        })
    }
}

/// Walks the tags of a permissions file: `f(tag, name, declared, current)` for each start tag,
/// `declared` being the package a `package_tag` element names and `current` the package it
/// sits in (inherited from the enclosing elements). Returns the tokenizer's error, if any.
fn walk_packages(
    data: &[u8],
    package_tag: &str,
    mut f: impl FnMut(&Tag, &str, Option<&str>, Option<&str>),
) -> Option<xml::XmlError> {
    let t = xml::tokenize(data, &xml::Limits::default());
    let mut stack: Vec<Option<String>> = Vec::new();
    for tag in &t.tags {
        match tag {
            Tag::Start {
                name, self_closing, ..
            } => {
                let pkg = if name == package_tag {
                    tag.attr("package").map(String::from)
                } else {
                    None
                };
                // Each stack slot holds the effective package (inherited), so lookups are
                // O(1) however deep the nesting.
                let current = stack.last().cloned().flatten();
                f(tag, name, pkg.as_deref(), current.as_deref());
                if !self_closing {
                    stack.push(pkg.or(current));
                }
            }
            Tag::End { .. } => {
                stack.pop();
            }
        }
    }
    t.error
}

/// The result of walking a firmware tree.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FirmwareTree {
    /// Apps, sorted by path.
    pub apps: Vec<AppLocation>,
    /// Permission configuration.
    pub permissions: PermissionConfig,
    /// Properties from `build.prop` files (first value of each key in walk order).
    pub build_props: BTreeMap<String, String>,
    /// Permission files read (relative paths).
    pub permission_files: Vec<String>,
    /// Each `build.prop` read: its relative path and its properties in file order.
    pub prop_files: BTreeMap<String, Vec<(String, String)>>,
    /// Node of every app file (APKs, splits, bundles) in the tree walked, by relative path.
    #[serde(skip)]
    pub nodes: BTreeMap<String, NodeId>,
    /// Problems met.
    pub errors: Vec<TreeError>,
}

impl FirmwareTree {
    /// `ro.build.version.sdk` (or the partition-specific variants).
    pub fn api_level(&self) -> Option<u32> {
        [
            "ro.build.version.sdk",
            "ro.system.build.version.sdk",
            "ro.product.build.version.sdk",
            "ro.vendor.build.version.sdk",
        ]
        .iter()
        .find_map(|k| self.build_props.get(*k).and_then(|v| v.trim().parse().ok()))
    }

    /// `ro.product.manufacturer` (or variants).
    pub fn manufacturer(&self) -> Option<&str> {
        [
            "ro.product.manufacturer",
            "ro.product.system.manufacturer",
            "ro.product.vendor.manufacturer",
        ]
        .iter()
        .find_map(|k| self.build_props.get(*k).map(String::as_str))
    }
}

const PARTITIONS: &[&str] = &[
    "system",
    "system_ext",
    "product",
    "vendor",
    "odm",
    "oem",
    "apex",
    "vendor_dlkm",
    "odm_dlkm",
    "system_dlkm",
    "preload",
    "data",
];

fn partition_name(component: &str) -> Option<String> {
    let c = component
        .strip_suffix("_a")
        .or_else(|| component.strip_suffix("_b"))
        .unwrap_or(component);
    (PARTITIONS.contains(&c) || (c.starts_with("my_") && c.len() > 3)).then(|| c.to_string())
}

/// Partition of a `/`-separated relative path: the last partition-named folder above the
/// file (folders below the first `app` / `priv-app` folder are not considered).
pub fn partition_of(rel: &str) -> String {
    let comps: Vec<&str> = rel.split('/').collect();
    let dirs = comps.get(..comps.len().saturating_sub(1)).unwrap_or(&[]);
    let stop = dirs
        .iter()
        .position(|c| *c == "app" || *c == "priv-app")
        .unwrap_or(dirs.len());
    dirs.get(..stop)
        .unwrap_or(&[])
        .iter()
        .rev()
        .find_map(|c| partition_name(c))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Whether a relative path is privileged (`priv-app` on its path).
pub fn is_privileged(rel: &str) -> bool {
    rel.split('/').any(|c| c == "priv-app")
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn is_split_name(file: &str) -> bool {
    let l = file.to_ascii_lowercase();
    l.starts_with("split_")
        || l.starts_with("split-")
        || l.starts_with("config.")
        || l.contains(".split")
}

struct Walker<'a> {
    tree: &'a dyn Tree,
    limits: &'a Limits,
    visited: BTreeSet<NodeId>,
    entries: usize,
    xml_files: usize,
    out: FirmwareTree,
}

fn ext_lower(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// An APK met in a folder: name, relative path, node, size.
type Found = (String, String, NodeId, u64);

impl Walker<'_> {
    fn io_err(&mut self, rel: &str, e: ImageError) {
        if self.out.errors.len() < 10_000 {
            self.out.errors.push(TreeError::Io {
                path: rel.to_string(),
                at: e.offset,
                what: e.what,
            });
        }
    }

    fn read_small(&mut self, id: NodeId, rel: &str) -> Option<Vec<u8>> {
        self.tree
            .read(id, self.limits.max_xml_size)
            .map_err(|e| self.io_err(rel, e))
            .ok()
    }

    fn walk(&mut self, dir: NodeId, rel_dir: &str, depth: usize) {
        if depth > self.limits.max_depth {
            self.out.errors.push(TreeError::Limit {
                at: 0,
                what: "folder depth",
            });
            return;
        }
        let mut names = match self.tree.list(dir) {
            Ok(r) => r,
            Err(e) => return self.io_err(rel_dir, e),
        };
        let room = self.limits.max_entries.saturating_sub(self.entries);
        self.entries += names.len();
        if names.len() > room {
            names.truncate(room);
            self.out.errors.push(TreeError::Limit {
                at: 0,
                what: "directory entries",
            });
        }
        names.sort_by(|a, b| a.name.cmp(&b.name));
        let mut apks: Vec<Found> = Vec::new();
        let mut subdirs = Vec::new();
        let mut oat = None;
        for e in names {
            let rel = join(rel_dir, &e.name);
            match e.kind {
                Kind::Dir => {
                    if e.name == "oat" {
                        oat = Some(e.id);
                    }
                    subdirs.push((e.id, rel));
                }
                Kind::File { size } => match ext_lower(&e.name).as_str() {
                    "apk" => apks.push((e.name, rel, e.id, size)),
                    "xapk" | "apks" => {
                        self.out.nodes.insert(rel.clone(), e.id);
                        self.push_app(AppLocation {
                            partition: partition_of(&rel),
                            privileged: is_privileged(&rel),
                            path: rel,
                            kind: AppKind::Bundle,
                            splits: Vec::new(),
                            oat_files: Vec::new(),
                            size,
                        })
                    }
                    "xml" => self.permission_file(e.id, &rel),
                    "prop" if e.name == "build.prop" => self.build_prop(e.id, &rel),
                    _ => {}
                },
                // Links are the tree's business: a folder on disk resolves those inside it,
                // an image's links (to `/vendor`, ...) point at other partitions' paths.
                Kind::Symlink(_) | Kind::Other => {}
            }
        }
        self.group_apks(rel_dir, oat, apks);
        for (id, rel) in subdirs {
            if !self.visited.insert(id) {
                continue;
            }
            self.walk(id, &rel, depth + 1);
        }
    }

    fn push_app(&mut self, app: AppLocation) {
        if self.out.apps.len() >= self.limits.max_apps {
            if !self
                .out
                .errors
                .iter()
                .any(|e| matches!(e, TreeError::Limit { what: "apps", .. }))
            {
                self.out.errors.push(TreeError::Limit {
                    at: 0,
                    what: "apps",
                });
            }
            return;
        }
        self.out.apps.push(app);
    }

    fn oat_files(
        &mut self,
        rel_dir: &str,
        oat: Option<NodeId>,
        stems: &BTreeSet<String>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let Some(oat) = oat else {
            return out;
        };
        let Ok(mut archs) = self.tree.list(oat) else {
            return out;
        };
        archs.truncate(64);
        archs.sort_by(|a, b| a.name.cmp(&b.name));
        for a in archs.iter().filter(|a| a.kind == Kind::Dir) {
            let Ok(mut files) = self.tree.list(a.id) else {
                continue;
            };
            files.truncate(1024);
            files.sort_by(|a, b| a.name.cmp(&b.name));
            for f in files {
                let (stem, ext) = f.name.rsplit_once('.').unwrap_or((&f.name, ""));
                if matches!(ext, "odex" | "vdex" | "art") && stems.contains(stem) {
                    out.push(format!("{}/oat/{}/{}", rel_dir, a.name, f.name));
                }
            }
        }
        out
    }

    fn group_apks(&mut self, rel_dir: &str, oat: Option<NodeId>, apks: Vec<Found>) {
        if apks.is_empty() {
            return;
        }
        for (_, rel, id, _) in &apks {
            self.out.nodes.insert(rel.clone(), *id);
        }
        let dir_name = rel_dir.rsplit('/').next().unwrap_or_default().to_string();
        let (splits, bases): (Vec<_>, Vec<_>) =
            apks.into_iter().partition(|(n, _, _, _)| is_split_name(n));
        let base_idx = if splits.is_empty() {
            None
        } else if bases.len() == 1 {
            Some(0)
        } else {
            bases
                .iter()
                .position(|(n, _, _, _)| n == "base.apk")
                .or_else(|| {
                    bases
                        .iter()
                        .position(|(n, _, _, _)| *n == format!("{dir_name}.apk"))
                })
        };
        let stems = |n: &str| n.strip_suffix(".apk").unwrap_or(n).to_string();
        match base_idx {
            Some(bi) => {
                for (i, (name, rel, _, size)) in bases.iter().enumerate() {
                    let mut stemset: BTreeSet<String> = [stems(name)].into();
                    let split_rels = if i == bi {
                        stemset.extend(splits.iter().map(|(n, _, _, _)| stems(n)));
                        splits.iter().map(|(_, r, _, _)| r.clone()).collect()
                    } else {
                        Vec::new()
                    };
                    let oat = self.oat_files(rel_dir, oat, &stemset);
                    self.push_app(AppLocation {
                        partition: partition_of(rel),
                        privileged: is_privileged(rel),
                        path: rel.clone(),
                        kind: if i == bi {
                            AppKind::SplitSet
                        } else {
                            AppKind::Apk
                        },
                        splits: split_rels,
                        oat_files: oat,
                        size: *size,
                    });
                }
            }
            None => {
                // No identifiable base: every APK is its own app.
                for (name, rel, _, size) in bases.iter().chain(splits.iter()) {
                    let oat = self.oat_files(rel_dir, oat, &[stems(name)].into());
                    self.push_app(AppLocation {
                        partition: partition_of(rel),
                        privileged: is_privileged(rel),
                        path: rel.clone(),
                        kind: AppKind::Apk,
                        splits: Vec::new(),
                        oat_files: oat,
                        size: *size,
                    });
                }
            }
        }
    }

    fn permission_file(&mut self, id: NodeId, rel: &str) {
        let comps: Vec<&str> = rel.split('/').collect();
        let n = comps.len();
        let (Some(parent), Some(grand)) = (
            n.checked_sub(2).and_then(|i| comps.get(i)),
            n.checked_sub(3).and_then(|i| comps.get(i)),
        ) else {
            return;
        };
        if *grand != "etc" || !matches!(*parent, "permissions" | "default-permissions") {
            return;
        }
        self.xml_files += 1;
        if self.xml_files > self.limits.max_xml_files {
            if self.xml_files == self.limits.max_xml_files + 1 {
                self.out.errors.push(TreeError::Limit {
                    at: 0,
                    what: "permission files",
                });
            }
            return;
        }
        let Some(data) = self.read_small(id, rel) else {
            return;
        };
        let err = if *parent == "permissions" {
            self.out.permissions.add_privapp_xml(&data, rel)
        } else {
            self.out.permissions.add_default_permissions_xml(&data, rel)
        };
        self.out.permission_files.push(rel.to_string());
        if let Some(e) = err {
            self.out.errors.push(TreeError::Xml {
                path: rel.to_string(),
                error: e.to_string(),
            });
        }
    }

    fn build_prop(&mut self, id: NodeId, rel: &str) {
        let Some(data) = self.read_small(id, rel) else {
            return;
        };
        let props = pc_image::props::parse(&data);
        for (k, v) in &props {
            if self.out.build_props.len() < 100_000 {
                self.out
                    .build_props
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
        }
        self.out.prop_files.insert(rel.to_string(), props);
    }
}

/// Walks `root` with default limits.
pub fn scan(root: &Path) -> Result<FirmwareTree, TreeError> {
    scan_with(root, &Limits::default())
}

/// Walks the folder `root`. Fails only when the root itself cannot be read; other problems
/// are recorded in [`FirmwareTree::errors`].
pub fn scan_with(root: &Path, limits: &Limits) -> Result<FirmwareTree, TreeError> {
    let tree = DirTree::open(root).map_err(|e| TreeError::Root {
        path: root.display().to_string(),
        at: 0,
        what: e.what,
    })?;
    Ok(scan_tree(&tree, limits))
}

/// Walks any tree (a folder, or the partitions of firmware images).
pub fn scan_tree(tree: &dyn Tree, limits: &Limits) -> FirmwareTree {
    let mut w = Walker {
        tree,
        limits,
        visited: [tree.root()].into(),
        entries: 0,
        xml_files: 0,
        out: FirmwareTree::default(),
    };
    w.walk(tree.root(), "", 0);
    let mut out = w.out;
    out.apps.sort_by(|a, b| a.path.cmp(&b.path));
    out.apps.dedup_by(|a, b| a.path == b.path);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        assert_eq!(partition_of("system/app/A/A.apk"), "system");
        assert_eq!(partition_of("system/system/priv-app/A/A.apk"), "system");
        assert_eq!(partition_of("system/system/product/app/A/A.apk"), "product");
        assert_eq!(partition_of("system_ext_a/priv-app/A/A.apk"), "system_ext");
        assert_eq!(partition_of("vendor/app/system/A.apk"), "vendor");
        assert_eq!(partition_of("my_heytap/app/A.apk"), "my_heytap");
        assert_eq!(partition_of("loose/A.apk"), "unknown");
        assert!(is_privileged("product/priv-app/A/A.apk"));
        assert!(!is_privileged("product/app/A/A.apk"));
    }

    #[test]
    fn permission_xml() {
        let mut c = PermissionConfig::default();
        let e = c.add_privapp_xml(
            br#"<permissions>
  <privapp-permissions package="com.a">
    <permission name="android.permission.READ_PRIVILEGED_PHONE_STATE"/>
    <deny-permission name="android.permission.INSTALL_PACKAGES"/>
  </privapp-permissions>
  <permission name="outside.any.package"/>
</permissions>"#,
            "system/etc/permissions/privapp-permissions-a.xml",
        );
        assert!(e.is_none());
        let a = &c.privapp["com.a"];
        assert_eq!(a.granted.len(), 1);
        assert!(a.denied.contains("android.permission.INSTALL_PACKAGES"));
        assert_eq!(c.privapp.len(), 1);
        let e = c.add_default_permissions_xml(
            br#"<exceptions><exception package="com.b"><permission name="android.permission.READ_PHONE_STATE" fixed="true"/><permission name="android.permission.CAMERA" fixed="false"/></exception></exceptions>"#,
            "vendor/etc/default-permissions/d.xml",
        );
        assert!(e.is_none());
        assert!(c.default_grants["com.b"]["android.permission.READ_PHONE_STATE"].fixed);
        assert!(!c.default_grants["com.b"]["android.permission.CAMERA"].fixed);
        // Truncated files keep what was read before the error.
        let mut d = PermissionConfig::default();
        let e = d.add_privapp_xml(
            b"<permissions><privapp-permissions package=\"x\"><permission name=\"p\"/><permission name=\"q",
            "f",
        );
        assert!(e.is_some());
        assert_eq!(d.privapp["x"].granted.len(), 1);
    }
}
