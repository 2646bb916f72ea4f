//! Where checked entries go: nowhere (checking), into memory (a zip link's target) or into the
//! extraction folder, which only this code creates: folders with `create_dir`, files with
//! `create_new`, private modes whatever the archive says.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::{BundleError, io_err};
use super::types::BUF;

/// Where checked entries go: nowhere ([`Measure`]), into memory ([`Collect`]) or into the
/// extraction folder. Each does nothing unless it says otherwise.
pub(super) trait Sink {
    fn mkdir(&mut self, _rel: &str) -> Result<(), BundleError> {
        Ok(())
    }
    fn create(&mut self, _rel: &str) -> Result<(), BundleError> {
        Ok(())
    }
    fn write(&mut self, _buf: &[u8]) -> Result<(), BundleError> {
        Ok(())
    }
    fn close(&mut self) -> Result<(), BundleError> {
        Ok(())
    }
}

pub(super) struct Measure;

impl Sink for Measure {}

/// Keeps what is written in memory: a zip symbolic link's target, whose size `zip_data` holds
/// to the entry's declared size (at most `MAX_LINK_TARGET`, checked before).
pub(super) struct Collect(pub(super) Vec<u8>);

impl Sink for Collect {
    fn write(&mut self, buf: &[u8]) -> Result<(), BundleError> {
        self.0.extend_from_slice(buf);
        Ok(())
    }
}

pub(super) struct Extract {
    dest: PathBuf,
    open: Option<(BufWriter<File>, String)>,
}

impl Extract {
    /// Writes under `dest` (checked by the caller: an empty folder).
    pub(super) fn new(dest: &Path) -> Extract {
        Extract {
            dest: dest.to_path_buf(),
            open: None,
        }
    }
}

impl Sink for Extract {
    fn mkdir(&mut self, rel: &str) -> Result<(), BundleError> {
        // create_dir, not create_dir_all: the tree says the folder is new, so an existing one
        // means someone else is writing here.
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(self.dest.join(rel))
            .map_err(io_err(format!("creating folder '{rel}'")))
    }

    fn create(&mut self, rel: &str) -> Result<(), BundleError> {
        let mut o = OpenOptions::new();
        // create_new is O_CREAT|O_EXCL: it fails on anything existing, symlinks included.
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // The lab's alone, like the artifact it came from (`private_fs`).
            o.mode(0o600);
        }
        let f = o
            .open(self.dest.join(rel))
            .map_err(io_err(format!("creating file '{rel}'")))?;
        self.open = Some((BufWriter::with_capacity(BUF, f), rel.to_string()));
        Ok(())
    }

    fn write(&mut self, buf: &[u8]) -> Result<(), BundleError> {
        if let Some((f, rel)) = &mut self.open {
            f.write_all(buf)
                .map_err(io_err(format!("writing file '{rel}'")))?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BundleError> {
        if let Some((mut f, rel)) = self.open.take() {
            f.flush().map_err(io_err(format!("writing file '{rel}'")))?;
        }
        Ok(())
    }
}
