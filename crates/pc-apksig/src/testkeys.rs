//! Public AOSP test-key certificate digests, from `data/keys/aosp-test-keys.toml`.

use serde::Deserialize;
use std::sync::OnceLock;

const DATA: &str = include_str!("../../../data/keys/aosp-test-keys.toml");

/// One public AOSP development certificate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TestKey {
    /// Key name in build/make/target/product/security ("testkey", "platform", ...).
    pub name: String,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: String,
    /// Where the digest comes from.
    pub source: String,
}

#[derive(Deserialize)]
struct File {
    key: Vec<TestKey>,
}

/// The known AOSP test keys (empty only if the bundled data file were malformed, which a test
/// rules out).
pub fn aosp_test_keys() -> &'static [TestKey] {
    static KEYS: OnceLock<Vec<TestKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        toml::from_str::<File>(DATA)
            .map(|f| f.key)
            .unwrap_or_default()
    })
}

pub(crate) fn lookup(sha256: &str) -> Option<&'static str> {
    aosp_test_keys()
        .iter()
        .find(|k| k.sha256.eq_ignore_ascii_case(sha256))
        .map(|k| k.name.as_str())
}
