//! The protobuf messages of an A/B OTA payload's manifest, written by hand with
//! `prost::Message` so no protoc runs at build time. Only the fields this crate reads are
//! declared; prost skips the others.
//!
//! Source of every field and enum number: AOSP `system/update_engine/update_metadata.proto`
//! (read in LineageOS/android_system_update_engine and AOSPA/android_system_update_engine;
//! `ZSTD = 14` and `security_patch_level = 18` are the newer AOSP main additions). Copies in the
//! wild disagree (one has `src_extents = 6`, `security_patch_level = 16`, which is AOSP's
//! `partial_update`): these numbers are AOSP's.

/// `message Extent`: `num_blocks` blocks from `start_block`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Extent {
    /// `optional uint64 start_block = 1`.
    #[prost(uint64, optional, tag = "1")]
    pub start_block: Option<u64>,
    /// `optional uint64 num_blocks = 2`.
    #[prost(uint64, optional, tag = "2")]
    pub num_blocks: Option<u64>,
}

/// `message PartitionInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PartitionInfo {
    /// `optional uint64 size = 1`.
    #[prost(uint64, optional, tag = "1")]
    pub size: Option<u64>,
    /// `optional bytes hash = 2` (SHA-256 of the whole partition).
    #[prost(bytes = "vec", optional, tag = "2")]
    pub hash: Option<Vec<u8>>,
}

/// `message InstallOperation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstallOperation {
    /// `required Type type = 1` (read as a plain number: unknown kinds must reach our error,
    /// not prost's).
    #[prost(int32, optional, tag = "1")]
    pub kind: Option<i32>,
    /// `optional uint64 data_offset = 2`, from the end of the metadata signature.
    #[prost(uint64, optional, tag = "2")]
    pub data_offset: Option<u64>,
    /// `optional uint64 data_length = 3`.
    #[prost(uint64, optional, tag = "3")]
    pub data_length: Option<u64>,
    /// `repeated Extent src_extents = 4` (delta payloads only).
    #[prost(message, repeated, tag = "4")]
    pub src_extents: Vec<Extent>,
    /// `repeated Extent dst_extents = 6`.
    #[prost(message, repeated, tag = "6")]
    pub dst_extents: Vec<Extent>,
}

/// `message PartitionUpdate`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PartitionUpdate {
    /// `required string partition_name = 1`.
    #[prost(string, optional, tag = "1")]
    pub partition_name: Option<String>,
    /// `optional PartitionInfo old_partition_info = 6` (delta payloads: the source partition).
    #[prost(message, optional, tag = "6")]
    pub old_partition_info: Option<PartitionInfo>,
    /// `optional PartitionInfo new_partition_info = 7`.
    #[prost(message, optional, tag = "7")]
    pub new_partition_info: Option<PartitionInfo>,
    /// `repeated InstallOperation operations = 8`.
    #[prost(message, repeated, tag = "8")]
    pub operations: Vec<InstallOperation>,
    /// `optional string version = 17` (per-partition build timestamp).
    #[prost(string, optional, tag = "17")]
    pub version: Option<String>,
}

/// `message DeltaArchiveManifest` (major version 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeltaArchiveManifest {
    /// `optional uint32 block_size = 3 [default = 4096]`.
    #[prost(uint32, optional, tag = "3")]
    pub block_size: Option<u32>,
    /// `optional uint32 minor_version = 12 [default = 0]`: 0 is a full payload.
    #[prost(uint32, optional, tag = "12")]
    pub minor_version: Option<u32>,
    /// `repeated PartitionUpdate partitions = 13`.
    #[prost(message, repeated, tag = "13")]
    pub partitions: Vec<PartitionUpdate>,
    /// `optional int64 max_timestamp = 14`.
    #[prost(int64, optional, tag = "14")]
    pub max_timestamp: Option<i64>,
    /// `optional bool partial_update = 16`.
    #[prost(bool, optional, tag = "16")]
    pub partial_update: Option<bool>,
    /// `optional string security_patch_level = 18`.
    #[prost(string, optional, tag = "18")]
    pub security_patch_level: Option<String>,
}

/// `InstallOperation.Type`, AOSP's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// 0: the blob is the data.
    Replace,
    /// 1: bzip2 blob.
    ReplaceBz,
    /// 2: deprecated in-place move.
    Move,
    /// 3: deprecated in-place bsdiff.
    Bsdiff,
    /// 4: copy from the source partition.
    SourceCopy,
    /// 5: bsdiff against the source partition.
    SourceBsdiff,
    /// 6: zeros.
    Zero,
    /// 7: blocks discarded (read as zeros here).
    Discard,
    /// 8: xz blob.
    ReplaceXz,
    /// 9: puffdiff against the source.
    Puffdiff,
    /// 10: brotli-compressed bsdiff against the source.
    BrotliBsdiff,
    /// 11: zucchini patch against the source.
    Zucchini,
    /// 12: lz4diff + bsdiff against the source.
    Lz4diffBsdiff,
    /// 13: lz4diff + puffdiff against the source.
    Lz4diffPuffdiff,
    /// 14: zstd blob.
    Zstd,
}

impl OpKind {
    /// The kind numbered `n`, if AOSP defines it.
    pub fn from_number(n: i32) -> Option<OpKind> {
        use OpKind::*;
        Some(match n {
            0 => Replace,
            1 => ReplaceBz,
            2 => Move,
            3 => Bsdiff,
            4 => SourceCopy,
            5 => SourceBsdiff,
            6 => Zero,
            7 => Discard,
            8 => ReplaceXz,
            9 => Puffdiff,
            10 => BrotliBsdiff,
            11 => Zucchini,
            12 => Lz4diffBsdiff,
            13 => Lz4diffPuffdiff,
            14 => Zstd,
            _ => return None,
        })
    }

    /// AOSP's name of the kind.
    pub fn name(self) -> &'static str {
        use OpKind::*;
        match self {
            Replace => "REPLACE",
            ReplaceBz => "REPLACE_BZ",
            Move => "MOVE",
            Bsdiff => "BSDIFF",
            SourceCopy => "SOURCE_COPY",
            SourceBsdiff => "SOURCE_BSDIFF",
            Zero => "ZERO",
            Discard => "DISCARD",
            ReplaceXz => "REPLACE_XZ",
            Puffdiff => "PUFFDIFF",
            BrotliBsdiff => "BROTLI_BSDIFF",
            Zucchini => "ZUCCHINI",
            Lz4diffBsdiff => "LZ4DIFF_BSDIFF",
            Lz4diffPuffdiff => "LZ4DIFF_PUFFDIFF",
            Zstd => "ZSTD",
        }
    }

    /// Whether the operation reads the source partition (a delta payload's operations).
    pub fn needs_source(self) -> bool {
        use OpKind::*;
        matches!(
            self,
            Move | Bsdiff
                | SourceCopy
                | SourceBsdiff
                | Puffdiff
                | BrotliBsdiff
                | Zucchini
                | Lz4diffBsdiff
                | Lz4diffPuffdiff
        )
    }
}
