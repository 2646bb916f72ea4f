//! A/B OTA `payload.bin` (update_engine's "CrAU" format, major version 2): the header, the
//! manifest, and each partition rebuilt lazily from its operations ([`rebuild`]).
//!
//! Layout (AOSP `system/update_engine/update_metadata.proto`, header comment): `"CrAU"`,
//! `u64` major version, `u64` manifest size, `u32` metadata signature size (all big-endian),
//! the manifest, the metadata signature, then the operations' blobs, whose `data_offset`s count
//! from the end of the metadata signature.
//!
//! Only full payloads are rebuilt: a delta payload patches a source build we do not have, so
//! [`Payload::open`] refuses it and names the source partitions it needs.

pub mod manifest;
pub mod proto;
pub mod rebuild;

use prost::Message;

use crate::error::{ImageError, Result};
use crate::source::{Source, be};
pub use manifest::Partition;
use manifest::{Ctx, HEADER_LEN};
pub use proto::OpKind;

const MAGIC: &[u8; 4] = b"CrAU";
/// Manifests of real payloads are well under a megabyte; prost may allocate many times the
/// encoded size for nested empty messages, so the cap bounds memory too.
const MAX_MANIFEST: u64 = 4 << 20;
/// Operations and partitions kept per payload (real full payloads: tens of thousands of ops).
const MAX_OPS: usize = 1 << 20;

/// An opened payload.
pub struct Payload {
    src: Source,
    block_size: u32,
    minor_version: u32,
    max_timestamp: Option<i64>,
    security_patch_level: Option<String>,
    partial_update: bool,
    partitions: Vec<Partition>,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("name", &self.src.name())
            .field("block_size", &self.block_size)
            .field("minor_version", &self.minor_version)
            .field("partitions", &self.partitions.len())
            .finish()
    }
}

impl Payload {
    /// Opens a full payload; a delta (incremental) payload is an error naming what it needs.
    pub fn open(src: Source) -> Result<Payload> {
        let p = Payload::inspect(src)?;
        if p.is_incremental() {
            return Err(ImageError::new(p.src.name(), 0, p.incremental_reason()));
        }
        Ok(p)
    }

    /// Reads the header and manifest of any payload, full or delta, without refusing deltas
    /// (to report what they are); [`Payload::partition`] still refuses a delta's partitions.
    pub fn inspect(src: Source) -> Result<Payload> {
        let name = src.name().to_string();
        let err = |off: u64, what: String| ImageError::new(&name, off, what);
        if src.size() < HEADER_LEN {
            return Err(err(
                0,
                format!("{} bytes: too short for a payload header", src.size()),
            ));
        }
        let head = src.read_vec(0, HEADER_LEN as usize)?;
        if &head[..4] != MAGIC {
            return Err(err(0, "not an OTA payload: no \"CrAU\" magic".into()));
        }
        let major = be::u64(&head, 4).unwrap_or_default();
        match major {
            2 => {}
            1 => {
                return Err(err(
                    4,
                    "payload major version 1 (the Chrome OS and pre-Android-8 format with \
                     kernel and rootfs operations) is not supported: only version 2"
                        .into(),
                ));
            }
            v => return Err(err(4, format!("unknown payload major version {v}"))),
        }
        let manifest_size = be::u64(&head, 12).unwrap_or_default();
        let sig_size = u64::from(be::u32(&head, 20).unwrap_or_default());
        if manifest_size > MAX_MANIFEST {
            return Err(err(
                12,
                format!("manifest of {manifest_size} bytes exceeds the limit of {MAX_MANIFEST}"),
            ));
        }
        let data_start = HEADER_LEN + manifest_size + sig_size;
        if data_start > src.size() {
            return Err(err(
                12,
                format!(
                    "manifest ({manifest_size} bytes) and metadata signature ({sig_size} bytes) \
                     run past the end ({} bytes)",
                    src.size()
                ),
            ));
        }
        let bytes = src.read_vec(HEADER_LEN, manifest_size as usize)?;
        let m = proto::DeltaArchiveManifest::decode(bytes.as_slice())
            .map_err(|e| err(HEADER_LEN, format!("manifest protobuf: {e}")))?;
        let block_size = m.block_size.unwrap_or(4096);
        if !(512..=1 << 20).contains(&block_size) || !block_size.is_power_of_two() {
            return Err(err(
                HEADER_LEN,
                format!("block size {block_size} is not a power of two in 512..1 MiB"),
            ));
        }
        let total_ops: usize = m.partitions.iter().map(|p| p.operations.len()).sum();
        if total_ops > MAX_OPS {
            return Err(err(
                HEADER_LEN,
                format!("{total_ops} operations exceed the limit of {MAX_OPS}"),
            ));
        }
        let ctx = Ctx {
            name: &name,
            block_size: u64::from(block_size),
            data_start,
            payload_size: src.size(),
        };
        let mut partitions: Vec<Partition> = Vec::with_capacity(m.partitions.len());
        for (i, pu) in m.partitions.into_iter().enumerate() {
            let p = ctx.partition(i, pu)?;
            if partitions.iter().any(|q| q.name == p.name) {
                return Err(err(
                    HEADER_LEN,
                    format!("partition {} appears twice", p.name),
                ));
            }
            partitions.push(p);
        }
        Ok(Payload {
            src,
            block_size,
            minor_version: m.minor_version.unwrap_or(0),
            max_timestamp: m.max_timestamp,
            security_patch_level: m.security_patch_level,
            partial_update: m.partial_update.unwrap_or(false),
            partitions,
        })
    }

    /// Block size of every extent.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }
    /// `minor_version`: 0 for a full payload.
    pub fn minor_version(&self) -> u32 {
        self.minor_version
    }
    /// `max_timestamp`: the build time of the target, used against downgrades.
    pub fn max_timestamp(&self) -> Option<i64> {
        self.max_timestamp
    }
    /// `security_patch_level` of the target build, when the manifest has it.
    pub fn security_patch_level(&self) -> Option<&str> {
        self.security_patch_level.as_deref()
    }
    /// Whether the payload updates only some partitions.
    pub fn partial_update(&self) -> bool {
        self.partial_update
    }
    /// The partitions, in manifest order.
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// Whether this is a delta payload: a minor version other than 0, a source partition, or an
    /// operation that reads the source build.
    pub fn is_incremental(&self) -> bool {
        self.minor_version != 0
            || self
                .partitions
                .iter()
                .any(|p| p.old.is_some() || p.op_counts.keys().any(|k| k.needs_source()))
    }

    /// What a delta payload needs, for the error of [`Payload::open`].
    fn incremental_reason(&self) -> String {
        let mut needs: Vec<String> = self
            .partitions
            .iter()
            .filter_map(|p| {
                p.old.as_ref().map(|(size, hash)| {
                    format!("{} ({size} bytes, sha256 {})", p.name, hex::encode(hash))
                })
            })
            .collect();
        if needs.is_empty() {
            needs.push("source partitions not named by the manifest".into());
        }
        let ops: Vec<&str> = self
            .partitions
            .iter()
            .flat_map(|p| p.op_counts.keys())
            .filter(|k| k.needs_source())
            .map(|k| k.name())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        format!(
            "incremental (delta) payload, minor version {}{}: it patches a source build we do \
             not have; needs the source build's {}",
            self.minor_version,
            if ops.is_empty() {
                String::new()
            } else {
                format!(", operations {}", ops.join(", "))
            },
            needs.join(", ")
        )
    }

    fn find(&self, name: &str) -> Result<&Partition> {
        self.partitions
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.partitions.iter().map(|p| p.name.as_str()).collect();
                ImageError::new(
                    self.src.name(),
                    0,
                    format!(
                        "no partition {name} in the payload (it has {})",
                        names.join(", ")
                    ),
                )
            })
    }

    /// The partition rebuilt lazily from its operations: reads decompress only the operations
    /// they touch.
    pub fn partition(&self, name: &str) -> Result<Source> {
        let p = self.find(name)?;
        if self.is_incremental() {
            return Err(
                ImageError::new(self.src.name(), 0, self.incremental_reason()).in_part(name),
            );
        }
        Ok(std::sync::Arc::new(rebuild::PartitionSource::new(
            self.src.clone(),
            p,
            u64::from(self.block_size),
        )?))
    }

    /// Checks the rebuilt partition's SHA-256 against `new_partition_info.hash`.
    pub fn verify(&self, name: &str) -> Result<()> {
        let p = self.find(name)?;
        let want = p.sha256.ok_or_else(|| {
            ImageError::new(
                self.src.name(),
                0,
                "the manifest gives no hash to verify against",
            )
            .in_part(name)
        })?;
        let got = rebuild::sha256(self.partition(name)?.as_ref())?;
        if got != want {
            return Err(ImageError::new(
                self.src.name(),
                0,
                format!(
                    "rebuilt partition's sha256 {} differs from the manifest's {}",
                    hex::encode(got),
                    hex::encode(want)
                ),
            )
            .in_part(name));
        }
        Ok(())
    }
}
