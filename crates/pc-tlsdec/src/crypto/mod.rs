//! The cryptography of TLS decryption, shared with QUIC (pc-h3): cipher suites, key derivation
//! (TLS 1.0–1.2 PRFs, TLS 1.3 HKDF) and the AEAD ciphers. Record framing is in
//! [`crate::record`]; QUIC packet framing in pc-h3.

mod aead;
mod kdf;
mod suite;

pub use aead::{Aead, TrafficKey};
pub use kdf::{hkdf_expand_label, hkdf_extract, key_expansion, prf};
pub use suite::{Bulk, MacAlg, PrfHash, Suite, suite, tls13_suites_for_secret};
