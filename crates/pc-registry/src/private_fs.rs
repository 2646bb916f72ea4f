//! The data folder is the lab's alone: the database, uploads, reports and the signing key are
//! confidential (manufacturers' firmware, unreleased results). Folders are made 0700 and files
//! 0600 whatever the process's umask says (a umask only removes bits, and a umask of 022 left
//! the database and every artifact world-readable), and folders that exist already are brought
//! to 0700 at start, so a data folder made by an older version is closed too.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every folder the service makes.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the service makes.
pub const FILE_MODE: u32 = 0o600;

/// Creates a folder and its missing parents as 0700; the folder itself ends up exactly 0700
/// even if it existed.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)?;
    set_mode(path, DIR_MODE)
}

/// [`create_dir_all`] on a blocking thread.
pub async fn create_dir_all_async(path: &Path) -> io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || create_dir_all(&path))
        .await
        .map_err(io::Error::other)?
}

/// Sets a path's permission bits exactly.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Sets a path's mode if it exists (a missing file is nothing to close).
pub fn restrict_if_exists(path: &Path, mode: u32) -> io::Result<()> {
    match set_mode(path, mode) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Options that create a new file (never an existing one, never through a link) as 0600.
pub fn new_file_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true).mode(FILE_MODE);
    o
}

/// Creates a new file as exactly 0600 and opens it for writing.
pub fn create_new(path: &Path) -> io::Result<std::fs::File> {
    let f = new_file_options().open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(f)
}

/// [`create_new`] for async writers.
pub async fn create_new_async(path: &Path) -> io::Result<tokio::fs::File> {
    let mut o = tokio::fs::OpenOptions::new();
    o.write(true).create_new(true).mode(FILE_MODE);
    let f = o.open(path).await?;
    f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .await?;
    Ok(f)
}

/// Brings what an older version may have left open to 0700/0600: the data folder's own
/// folders and the lab key (the data folder itself is made 0700 by [`create_dir_all`]).
pub fn close_existing(data_dir: &Path) -> io::Result<()> {
    for d in ["artifacts", "artifacts/tmp", "work"] {
        restrict_if_exists(&data_dir.join(d), DIR_MODE)?;
    }
    restrict_if_exists(&data_dir.join("lab.key"), FILE_MODE)
}
