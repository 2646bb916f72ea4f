//! The build's own security facts: what its `build.prop` files say (fingerprint, build type
//! and tags, SDK, security patch level, `ro.debuggable`, `ro.adb.secure`, `ro.secure`) and
//! what its verified-boot metadata says (algorithm, signing key and whether it is one of
//! AOSP's public test keys, flags, rollback index, whether each hash descriptor matches its
//! partition). The test keys are data (`data/avb/test-keys.toml`, with their source).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use pc_image::avb::{ChainDescriptor, Vbmeta};
use pc_image::{ReadAt, Source};

use crate::tree::partition_of;

/// One properties file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PropFile {
    /// Path relative to the firmware root.
    pub path: String,
    /// Partition it belongs to.
    pub partition: String,
    /// `ro[.<partition>].build.fingerprint`.
    pub fingerprint: Option<String>,
    /// `ro[.<partition>].build.type`: user, userdebug, eng.
    pub build_type: Option<String>,
    /// `ro[.<partition>].build.tags`: release-keys, test-keys, dev-keys.
    pub tags: Option<String>,
    /// `ro[.<partition>].build.version.sdk`.
    pub sdk: Option<u32>,
    /// `ro[.<partition>].build.version.security_patch` or `ro.vendor.build.security_patch`.
    pub security_patch: Option<String>,
}

/// One hash descriptor, checked against its partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashCheck {
    /// Partition the descriptor names.
    pub partition: String,
    /// Bytes covered.
    pub image_size: u64,
    /// Whether the partition's bytes give the descriptor's digest (none: partition not given).
    pub matches: Option<bool>,
}

/// One vbmeta structure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AvbFact {
    /// Partition it was read from (`vbmeta`, `vbmeta_system`, or the image with the footer).
    pub partition: String,
    /// `SHA256_RSA4096`, ..., `NONE`.
    pub algorithm: String,
    /// SHA-1 of the public key blob (as `avbtool info_image` prints it).
    pub public_key_sha1: Option<String>,
    /// SHA-256 of the public key blob.
    pub public_key_sha256: Option<String>,
    /// Name of the public test key it is signed with, if it is one.
    pub test_key: Option<String>,
    /// Flags (1 hashtree disabled, 2 verification disabled).
    pub flags: u32,
    /// Verification or dm-verity switched off by the flags.
    pub verification_disabled: bool,
    /// Rollback index.
    pub rollback_index: u64,
    /// avbtool release string.
    pub release: String,
    /// Hash descriptors and their check.
    pub hashes: Vec<HashCheck>,
    /// Partitions protected by a hashtree (dm-verity) descriptor (not recomputed here).
    pub hashtrees: Vec<String>,
    /// Chained partitions.
    pub chains: Vec<ChainDescriptor>,
    /// Error when the structure is malformed.
    pub error: Option<String>,
}

/// Build facts of the firmware.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildFacts {
    /// Every properties file read, by path.
    pub prop_files: Vec<PropFile>,
    /// The device's fingerprint (the system partition's, else the first found).
    pub fingerprint: Option<String>,
    /// Build type (system's first).
    pub build_type: Option<String>,
    /// Build tags.
    pub tags: Option<String>,
    /// SDK level.
    pub sdk: Option<u32>,
    /// Security patch level (`YYYY-MM-DD`).
    pub security_patch: Option<String>,
    /// `ro.debuggable`.
    pub debuggable: Option<String>,
    /// `ro.adb.secure`.
    pub adb_secure: Option<String>,
    /// `ro.secure`.
    pub secure: Option<String>,
    /// vbmeta structures (images only: an extracted folder carries none).
    pub avb: Vec<AvbFact>,
}

fn field(props: &[(String, String)], suffix: &str) -> Option<String> {
    // Android's init keeps the last value of a key; partition-qualified keys
    // (ro.vendor.build.type) say the same for their partition.
    props
        .iter()
        .rev()
        .find(|(k, _)| {
            k.strip_prefix("ro.").is_some_and(|r| {
                r == suffix
                    || r.split_once('.')
                        .is_some_and(|(p, rest)| !p.is_empty() && rest == suffix)
            })
        })
        .map(|(_, v)| v.clone())
}

fn system_first(files: &[PropFile]) -> Vec<&PropFile> {
    let mut v: Vec<&PropFile> = files.iter().collect();
    v.sort_by_key(|f| (f.partition != "system", f.path.clone()));
    v
}

/// Build facts from the properties files of a walk (path → properties in file order).
pub fn from_props(files: &BTreeMap<String, Vec<(String, String)>>) -> BuildFacts {
    let mut b = BuildFacts::default();
    for (path, props) in files {
        b.prop_files.push(PropFile {
            path: path.clone(),
            partition: partition_of(path),
            fingerprint: field(props, "build.fingerprint"),
            build_type: field(props, "build.type"),
            tags: field(props, "build.tags"),
            sdk: field(props, "build.version.sdk").and_then(|s| s.parse().ok()),
            security_patch: field(props, "build.version.security_patch")
                .or_else(|| field(props, "build.security_patch")),
        });
    }
    let order = system_first(&b.prop_files);
    b.fingerprint = order.iter().find_map(|f| f.fingerprint.clone());
    b.build_type = order.iter().find_map(|f| f.build_type.clone());
    b.tags = order.iter().find_map(|f| f.tags.clone());
    b.sdk = order.iter().find_map(|f| f.sdk);
    b.security_patch = order.iter().find_map(|f| f.security_patch.clone());
    let exact = |key: &str| {
        order
            .iter()
            .find_map(|f| {
                files
                    .get(&f.path)
                    .and_then(|p| p.iter().rev().find(|(k, _)| k == key))
            })
            .map(|(_, v)| v.clone())
    };
    b.debuggable = exact("ro.debuggable");
    b.adb_secure = exact("ro.adb.secure");
    b.secure = exact("ro.secure");
    b
}

#[derive(serde::Deserialize)]
struct TestKeys {
    key: Vec<TestKey>,
}

#[derive(serde::Deserialize)]
struct TestKey {
    name: String,
    sha1: String,
    sha256: String,
}

fn test_keys() -> &'static [TestKey] {
    static K: OnceLock<Vec<TestKey>> = OnceLock::new();
    K.get_or_init(|| {
        toml::from_str::<TestKeys>(include_str!("../../../data/avb/test-keys.toml"))
            .map(|t| t.key)
            .unwrap_or_default()
    })
}

/// The AOSP test key a public key blob digest (SHA-256, or the SHA-1 avbtool prints)
/// belongs to.
pub fn test_key_name(digest: &str) -> Option<&'static str> {
    test_keys()
        .iter()
        .find(|k| k.sha256 == digest || k.sha1 == digest)
        .map(|k| k.name.as_str())
}

/// Facts of each vbmeta structure; hash descriptors are checked against the partitions given
/// (`partition` or `partition_a`).
pub fn avb_facts(vbmeta: &[(String, Vec<u8>)], sources: &[(String, Source)]) -> Vec<AvbFact> {
    let find = |name: &str| {
        sources
            .iter()
            .find(|(n, _)| n == name || n.strip_suffix("_a") == Some(name))
            .map(|(_, s)| s.clone())
    };
    let mut out = Vec::new();
    for (part, bytes) in vbmeta {
        match Vbmeta::parse(bytes, part) {
            Ok(v) => {
                let hashes = v
                    .hashes
                    .iter()
                    .map(|h| HashCheck {
                        partition: h.partition.clone(),
                        image_size: h.image_size,
                        matches: find(&h.partition)
                            .map(|s| h.check(s.as_ref() as &dyn ReadAt).unwrap_or(false)),
                    })
                    .collect();
                out.push(AvbFact {
                    partition: part.clone(),
                    test_key: v
                        .public_key_sha256
                        .as_deref()
                        .and_then(test_key_name)
                        .map(String::from),
                    verification_disabled: v.verification_disabled(),
                    algorithm: v.algorithm,
                    public_key_sha1: v.public_key_sha1,
                    public_key_sha256: v.public_key_sha256,
                    flags: v.flags,
                    rollback_index: v.rollback_index,
                    release: v.release,
                    hashes,
                    hashtrees: v.hashtrees,
                    chains: v.chains,
                    error: None,
                });
            }
            Err(e) => out.push(AvbFact {
                partition: part.clone(),
                algorithm: String::new(),
                public_key_sha1: None,
                public_key_sha256: None,
                test_key: None,
                flags: 0,
                verification_disabled: false,
                rollback_index: 0,
                release: String::new(),
                hashes: Vec::new(),
                hashtrees: Vec::new(),
                chains: Vec::new(),
                error: Some(e.to_string()),
            }),
        }
    }
    out.sort_by(|a, b| a.partition.cmp(&b.partition));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_qualified_keys_and_last_value() {
        let mut files = BTreeMap::new();
        files.insert(
            "vendor/build.prop".to_string(),
            vec![("ro.vendor.build.type".into(), "userdebug".into())],
        );
        files.insert(
            "system/build.prop".to_string(),
            vec![
                ("ro.build.type".into(), "eng".into()),
                ("ro.build.type".into(), "user".into()),
                (
                    "ro.build.version.security_patch".into(),
                    "2024-05-01".into(),
                ),
            ],
        );
        let b = from_props(&files);
        assert_eq!(b.build_type.as_deref(), Some("user"));
        assert_eq!(b.security_patch.as_deref(), Some("2024-05-01"));
        assert_eq!(b.prop_files[1].build_type.as_deref(), Some("userdebug"));
        assert_eq!(
            test_key_name("7728e30f50bfa5cea165f473175a08803f6a8346642b5aa10913e9d9e6defef6"),
            Some("AOSP testkey_rsa4096")
        );
    }
}
