//! Temporary upload files (`artifacts/tmp/*.part`): who owns them, and sweeping those of
//! processes that died.
//!
//! An upload streams into a temporary file until it is checked and renamed to its hash; a crash
//! leaves the file behind. Several processes may share the artifact folder (`serve` and `worker`
//! on one machine, or on several over a shared file system), so a process starting cannot
//! simply empty the folder: another's uploads may be under way. Each process therefore holds an
//! exclusive lock on `tmp/<owner>.lock` for as long as it lives, and names its files
//! `<owner>-<random>.part`. A file whose owner's lock can be taken (the owner died: the kernel
//! released its lock) or is gone is stale and removed at once — at start, before the service
//! answers, and every ten minutes after. Files named the older way (no owner) are removed once
//! nobody has written them for an hour, as before.
//!
//! The lock file is locked under a temporary name and renamed into place, so a visible lock
//! file is always either held or abandoned, never about to be taken. `flock` locks work between
//! the processes of one machine and, on Linux, over NFS (emulated with byte-range locks).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::{RegistryError, Store, new_id};

fn is_owner_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// True when the lock file's owner is gone (its lock can be taken, or the file is missing).
fn owner_gone(lock_file: &Path) -> bool {
    match std::fs::File::open(lock_file) {
        Ok(f) => f.try_lock().is_ok(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

impl Store {
    /// The temporary upload folder.
    pub(crate) fn upload_tmp_dir(&self) -> PathBuf {
        self.artifact_dir().join("tmp")
    }

    /// A fresh temporary file name owned by this process (the folder made, the lock held).
    pub(crate) async fn new_upload_tmp(&self) -> Result<PathBuf, RegistryError> {
        let dir = self.upload_tmp_dir();
        let owner = Arc::clone(&self.uploads);
        let d = dir.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut lock = owner.lock.lock().unwrap_or_else(|p| p.into_inner());
            if lock.is_some() {
                return Ok(());
            }
            crate::private_fs::create_dir_all(&d)?;
            let pending = d.join(format!("{}.lock-new", owner.id));
            let f = crate::private_fs::create_new(&pending)?;
            f.lock()?;
            std::fs::rename(&pending, d.join(format!("{}.lock", owner.id)))?;
            *lock = Some(f);
            Ok(())
        })
        .await
        .map_err(|_| RegistryError::Join)?
        .map_err(RegistryError::io("locking the artifact temp folder"))?;
        Ok(dir.join(format!("{}-{}.part", self.uploads.id, new_id()?)))
    }

    /// Removes temporary files of processes that died (at once) and old-style temporary files
    /// nobody has written to for `idle`; returns how many files went.
    pub async fn sweep_stale_uploads(&self, idle: Duration) -> Result<u64, RegistryError> {
        let dir = self.upload_tmp_dir();
        let me = self.uploads.id.clone();
        tokio::task::spawn_blocking(move || sweep(&dir, &me, idle))
            .await
            .map_err(|_| RegistryError::Join)?
            .map_err(RegistryError::io("sweeping the artifact temp folder"))
    }
}

/// True when nobody wrote the file for `idle`.
fn old(path: &Path, idle: Duration) -> bool {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age >= idle)
}

fn sweep(dir: &Path, me: &str, idle: Duration) -> std::io::Result<u64> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut names: Vec<String> = rd
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Parts before lock files: a dead owner's parts are judged while its lock file exists.
    names.sort_by_key(|n| (n.ends_with(".lock"), n.clone()));
    let mut gone: std::collections::BTreeMap<String, bool> = Default::default();
    let mut removed = 0;
    for name in names {
        let path = dir.join(&name);
        let stale = if let Some(stem) = name.strip_suffix(".part") {
            match stem.split_once('-') {
                Some((owner, _)) if is_owner_id(owner) => {
                    owner != me
                        && *gone
                            .entry(owner.to_owned())
                            .or_insert_with(|| owner_gone(&dir.join(format!("{owner}.lock"))))
                }
                // Named by an older version: judged by age.
                _ => old(&path, idle),
            }
        } else if let Some(owner) = name.strip_suffix(".lock") {
            is_owner_id(owner) && owner != me && owner_gone(&path)
        } else if name.ends_with(".lock-new") {
            // Only ever seen between a create and its rename (a crash's, once old).
            old(&path, idle)
        } else {
            false
        };
        if stale && std::fs::remove_file(&path).is_ok() && name.ends_with(".part") {
            removed += 1;
        }
    }
    Ok(removed)
}
