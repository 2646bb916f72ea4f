//! Apps given one by one (loose APK or bundle files, not found in a firmware tree) as
//! [`AppLocation`]s, so [`crate::analyze_app`] reads them exactly as it reads apps of a tree.

use std::path::{Path, PathBuf};

use crate::tree::{AppKind, AppLocation};

/// Partition recorded for an app that comes from no image.
pub const LOOSE_PARTITION: &str = "none";

/// The root to pass to [`crate::analyze_app`] and the location of the app file `path` under it:
/// the root is the file's folder (`.` for a bare file name), the location its file name. A
/// `.xapk` or `.apks` extension (any case) makes a bundle, anything else an APK; no splits, no
/// oat files, not privileged, partition [`LOOSE_PARTITION`]. The size is the file's (0 if it
/// cannot be read: the analysis reports the read error itself).
pub fn loose_app_location(path: &Path) -> (PathBuf, AppLocation) {
    let root = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let kind = if ext == "xapk" || ext == "apks" {
        AppKind::Bundle
    } else {
        AppKind::Apk
    };
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let loc = AppLocation {
        path: name,
        kind,
        splits: Vec::new(),
        partition: LOOSE_PARTITION.into(),
        privileged: false,
        oat_files: Vec::new(),
        size,
    };
    (root, loc)
}

/// [`loose_app_location`] for each file of a batch, in the order given.
pub fn loose_app_locations(paths: &[PathBuf]) -> Vec<(PathBuf, AppLocation)> {
    paths.iter().map(|p| loose_app_location(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_of_loose_files() {
        let dir = tempfile::tempdir().unwrap();
        let apk = dir.path().join("a.apk");
        std::fs::write(&apk, b"12345").unwrap();
        let bundle = dir.path().join("B.XAPK");
        std::fs::write(&bundle, b"1").unwrap();
        let got = loose_app_locations(&[
            apk.clone(),
            bundle.clone(),
            dir.path().join("set.apks"),
            PathBuf::from("bare.apk"),
        ]);
        let (root, loc) = &got[0];
        assert_eq!(root, dir.path());
        assert_eq!(
            loc,
            &AppLocation {
                path: "a.apk".into(),
                kind: AppKind::Apk,
                splits: Vec::new(),
                partition: "none".into(),
                privileged: false,
                oat_files: Vec::new(),
                size: 5,
            }
        );
        assert_eq!(
            (got[1].1.path.as_str(), got[1].1.kind),
            ("B.XAPK", AppKind::Bundle)
        );
        assert_eq!(got[1].1.size, 1);
        // A missing file still gets a location (size 0); the analysis reports it.
        assert_eq!((got[2].1.kind, got[2].1.size), (AppKind::Bundle, 0));
        assert_eq!(got[3].0, PathBuf::from("."));
        assert_eq!(got[3].1.path, "bare.apk");
    }
}
