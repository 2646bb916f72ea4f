//! Android firmware images read in place, as a lab receives them.
//!
//! Layers, each its own module and each a [`source::ReadAt`] or a [`tree::Tree`]:
//! * containers of blocks: [`sparse`] (Android sparse images), [`lp`] (super.img's dynamic
//!   partitions), [`payload`] (A/B OTA `payload.bin`), [`transfer`] (block-based non-A/B OTA);
//! * filesystems: [`erofs`], [`ext4`];
//! * facts: [`avb`] (vbmeta), [`props`] (`build.prop`).
//!
//! Every reader is bounded against hostile images and returns [`error::ImageError`] naming the
//! image, the partition and the offset; nothing here panics on input.

pub mod avb;
pub mod dir;
pub mod erofs;
pub mod error;
pub mod ext4;
pub mod lp;
pub mod mounts;
pub mod open;
pub mod payload;
pub mod props;
pub mod source;
pub mod sparse;
pub mod tar;
pub mod transfer;
pub mod tree;

pub use error::{ImageError, Result};
pub use source::{FileSource, MemSource, ReadAt, Slice, Source};
pub use tree::{Entry, Kind, NodeId, Tree};
