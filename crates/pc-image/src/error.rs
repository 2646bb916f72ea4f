//! The one error type of the image readers: every error names the image, the partition (when
//! there is one) and the byte offset where reading stopped, so an engineer can open the file at
//! that place.

/// An image could not be read (or not completely).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{image}{}: at offset {offset}: {what}", part.as_ref().map(|p| format!(" (partition {p})")).unwrap_or_default())]
pub struct ImageError {
    /// The image file (as the user named it, or `outer!inner` inside a package).
    pub image: String,
    /// Partition, when the error is inside one.
    pub part: Option<String>,
    /// Byte offset in the image (or in the partition when `part` is set).
    pub offset: u64,
    /// What is wrong.
    pub what: String,
}

impl ImageError {
    /// An error at `offset` of `image`.
    pub fn new(image: impl Into<String>, offset: u64, what: impl Into<String>) -> ImageError {
        ImageError {
            image: image.into(),
            part: None,
            offset,
            what: what.into(),
        }
    }

    /// The same error, placed in partition `part`.
    pub fn in_part(mut self, part: &str) -> ImageError {
        if self.part.is_none() {
            self.part = Some(part.to_string());
        }
        self
    }
}

/// Result of the image readers.
pub type Result<T> = std::result::Result<T, ImageError>;
