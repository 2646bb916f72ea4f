//! Atomic file writes: a reader sees the old file or the new one, never half of either.
//!
//! The bytes go to a temporary file beside the target (same folder, so the rename never crosses
//! a file system), are synced, then renamed over the target; the folder is synced so the rename
//! survives a crash. A target that is not a regular file (`/dev/null`, `/dev/stdout`, a pipe) is
//! written in place: renaming over it would replace the device with a file.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A hidden name for a temporary file or folder beside `base`, unique within the machine
/// (process id, clock and a counter), so concurrent writers never share one.
pub fn temp_name(base: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(".{base}.tmp-{}-{t}-{n}", std::process::id())
}

/// Creates `path` (which must not exist), writes `bytes` and syncs them to disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Syncs a folder so the renames in it are durable (best effort: not every platform lets a
/// folder be opened).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Replaces `path` with `bytes` atomically (see the module doc); devices and pipes are written
/// in place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all(bytes);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(temp_name(&name));
    let r = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else {
        sync_dir(dir);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.json");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"new contents").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new contents");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a folder: the rename fails, the folder and its content stay.
        let p = dir.path().join("out");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("keep"), b"x").unwrap();
        assert!(write_atomic(&p, b"data").is_err());
        assert!(p.join("keep").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Output to a pipe (as to `/dev/null` or a shell's process substitution) goes through it
    /// and leaves it a pipe.
    #[cfg(unix)]
    #[test]
    fn writing_to_a_pipe_keeps_the_pipe() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"report").unwrap();
        assert_eq!(reader.join().unwrap(), b"report");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(!kind.is_file(), "the pipe was replaced by a file");
    }
}
