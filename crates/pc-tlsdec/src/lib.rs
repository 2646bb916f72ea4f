//! TLS decryption with logged session keys.
//!
//! Given an NSS key log ([`keylog::KeyLog`], from an `SSLKEYLOGFILE` or a pcapng Decryption
//! Secrets Block), a [`Session`] follows one TLS connection's records in capture order (both
//! directions), learns what it needs from the handshake (randoms, session id, cipher suite,
//! version, extensions, tickets, HelloRetryRequest, 0-RTT) and returns the application data
//! that was sent inside TLS.
//!
//! Supported: TLS 1.0–1.2 with AES-GCM, ChaCha20-Poly1305, AES-CBC + HMAC-SHA1/256/384
//! (MAC-then-encrypt and encrypt-then-MAC); TLS 1.3 with TLS_AES_128_GCM_SHA256,
//! TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, including KeyUpdate and 0-RTT.
//!
//! One file per job: [`crypto`] (suites, PRFs and HKDF, AEAD: the TLS 1.3 key schedule that
//! pc-h3 uses for QUIC too), [`record`] (record protection of one direction), `session` (one
//! connection's state) with its `handshake`, `resumption` (secrets shared across a capture),
//! [`keylog`]. Hellos are read with pc-proto's parser.

#![forbid(unsafe_code)]

pub mod crypto;
pub mod keylog;
pub mod record;
mod resumption;
mod session;

pub use crypto::{Bulk, MacAlg, PrfHash, Suite, suite};
pub use record::RecordError;
pub use resumption::ResumptionCache;
pub use session::{Session, fuzz_records};

/// Bounds on the work and memory of one [`Session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest record payload accepted (2^14 + 2048 as in the TLS specs).
    pub max_record_len: usize,
    /// Largest handshake message reassembled; longer ones (certificate chains) are skipped.
    pub max_handshake_len: usize,
    /// Failed records in a direction, with none decrypted there, before giving up on it.
    pub max_failures_before_success: u32,
    /// Undecryptable TLS 1.3 client records tolerated while 0-RTT data may be in flight.
    pub max_early_records_skipped: u32,
    /// Sequence numbers tried ahead after a reported gap (lost records).
    pub max_seq_skip: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_len: 16_384 + 2_048,
            max_handshake_len: 64 * 1024,
            max_failures_before_success: 4,
            max_early_records_skipped: 4096,
            max_seq_skip: 16,
        }
    }
}

/// Why a connection was (not) decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// At least one record decrypted.
    Decrypted,
    /// The key log has no secret for this connection.
    NoKey,
    /// The negotiated cipher suite is not supported.
    UnsupportedSuite(u16),
    /// Something else went wrong ("AEAD tag", "bad record MAC", "no ClientHello seen", …).
    Failed(&'static str),
}

/// Decrypted application data of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    /// Sent by the client.
    pub to_server: bool,
    /// Plaintext application data.
    pub data: Vec<u8>,
    /// TLS 1.3 0-RTT early data.
    pub early: bool,
}

/// Counters of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records seen, per direction (0 = to server, 1 = to client).
    pub records: [u64; 2],
    /// Records decrypted (any content type).
    pub records_decrypted: [u64; 2],
    /// Encrypted records that did not decrypt.
    pub records_failed: [u64; 2],
    /// TLS 1.3 client records skipped as undecryptable 0-RTT data.
    pub early_records_skipped: u64,
    /// Finished messages decrypted.
    pub finished_decrypted: u32,
    /// TLS 1.3 KeyUpdates applied.
    pub key_updates: u32,
    /// Plaintext application-data bytes returned, per direction.
    pub plaintext_bytes: [u64; 2],
}
