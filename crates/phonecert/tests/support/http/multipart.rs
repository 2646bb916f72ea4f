//! `multipart/form-data` bodies for uploads made through the client.

use super::OrPanic;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A `multipart/form-data` body, built in memory (test uploads are small; large ones go through
/// `Request::file`, which streams).
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    pub fn new() -> Multipart {
        // Unique per body so that a boundary can't collide with test data by accident.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Multipart {
            boundary: format!("----phonecert-test-{nanos:08x}-{n}"),
            body: Vec::new(),
        }
    }

    fn part_head(&mut self, disposition: &str, content_type: Option<&str>) {
        self.body
            .extend_from_slice(format!("--{}\r\n", self.boundary).as_bytes());
        self.body.extend_from_slice(
            format!("Content-Disposition: form-data; {disposition}\r\n").as_bytes(),
        );
        if let Some(ct) = content_type {
            self.body
                .extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        self.body.extend_from_slice(b"\r\n");
    }

    /// A text field.
    pub fn text(mut self, name: &str, value: &str) -> Multipart {
        self.part_head(&format!("name=\"{}\"", quote(name)), None);
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A file field with the given file name, content type and bytes.
    pub fn file(
        mut self,
        name: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Multipart {
        self.part_head(
            &format!("name=\"{}\"; filename=\"{}\"", quote(name), quote(filename)),
            Some(content_type),
        );
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A file field read from disk, named after the file.
    #[track_caller]
    pub fn file_path(self, name: &str, path: &Path, content_type: &str) -> Multipart {
        let bytes = std::fs::read(path).or_panic(|| format!("read {}", path.display()));
        let filename = path.file_name().map(|f| f.to_string_lossy().into_owned());
        self.file(name, &filename.unwrap_or_default(), content_type, &bytes)
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    pub fn into_bytes(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        self.body
    }
}

/// Escapes a form-data name as browsers do (WHATWG: `"` and newlines percent-encoded).
fn quote(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}
