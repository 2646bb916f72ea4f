//! The cipher suites this workspace decrypts, by IANA code: bulk cipher, MAC, PRF/HKDF hash and
//! key exchange — one table for TLS (pc-tlsdec) and QUIC (pc-h3).

/// Hash function of a suite's PRF / HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrfHash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl PrfHash {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            PrfHash::Sha256 => 32,
            PrfHash::Sha384 => 48,
        }
    }
}

/// Record MAC of a CBC suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlg {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA384.
    Sha384,
}

impl MacAlg {
    /// MAC length in bytes.
    pub(crate) fn len(self) -> usize {
        match self {
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// Bulk cipher of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bulk {
    /// AES-GCM with a 16- or 32-byte key.
    AesGcm(usize),
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
    /// AES-CBC with a 16- or 32-byte key and an HMAC.
    AesCbc(usize, MacAlg),
}

/// What decrypting a cipher suite needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    /// IANA code.
    pub id: u16,
    /// Bulk cipher (and MAC).
    pub bulk: Bulk,
    /// PRF hash (TLS 1.2) or HKDF hash (TLS 1.3).
    pub hash: PrfHash,
    /// Key exchange is RSA (the pre-master secret can be logged as `RSA …`).
    pub rsa_kx: bool,
    /// A TLS 1.3 suite.
    pub tls13: bool,
}

impl Suite {
    /// Length of the bulk cipher's key.
    pub fn key_len(&self) -> usize {
        match self.bulk {
            Bulk::AesGcm(n) | Bulk::AesCbc(n, _) => n,
            Bulk::ChaCha20Poly1305 => 32,
        }
    }
}

/// The TLS 1.3 suites (codes) whose hash could have produced a traffic secret of `len` bytes,
/// in the order to try them: used while the ServerHello that names the suite is unknown (0-RTT
/// data, QUIC packets after a lost ServerHello). Secrets of other lengths fail key derivation.
pub fn tls13_suites_for_secret(len: usize) -> &'static [u16] {
    if len == 48 {
        &[0x1302]
    } else {
        &[0x1301, 0x1303]
    }
}

/// The cipher suites this crate decrypts.
pub fn suite(id: u16) -> Option<Suite> {
    use Bulk::*;
    use MacAlg as M;
    use PrfHash::*;
    let (bulk, hash, rsa_kx, tls13) = match id {
        // TLS 1.3.
        0x1301 => (AesGcm(16), Sha256, false, true),
        0x1302 => (AesGcm(32), Sha384, false, true),
        0x1303 => (ChaCha20Poly1305, Sha256, false, true),
        // AES-GCM.
        0x009c => (AesGcm(16), Sha256, true, false),
        0x009d => (AesGcm(32), Sha384, true, false),
        0x009e | 0x00a2 | 0x00a8 | 0x00aa | 0x00ac | 0xc02b | 0xc02d | 0xc02f | 0xc031 | 0xd001 => {
            (AesGcm(16), Sha256, false, false)
        }
        0x009f | 0x00a3 | 0x00a9 | 0x00ab | 0x00ad | 0xc02c | 0xc02e | 0xc030 | 0xc032 | 0xd002 => {
            (AesGcm(32), Sha384, false, false)
        }
        // ChaCha20-Poly1305 (RFC 7905).
        0xcca8..=0xccae => (ChaCha20Poly1305, Sha256, false, false),
        // AES-CBC with HMAC-SHA1.
        0x002f => (AesCbc(16, M::Sha1), Sha256, true, false),
        0x0035 => (AesCbc(32, M::Sha1), Sha256, true, false),
        0x0030 | 0x0031 | 0x0032 | 0x0033 | 0x0034 | 0x008c | 0x0090 | 0x0094 | 0xc004 | 0xc009
        | 0xc00e | 0xc013 | 0xc018 | 0xc01d | 0xc01e | 0xc01f | 0xc035 => {
            (AesCbc(16, M::Sha1), Sha256, false, false)
        }
        0x0036 | 0x0037 | 0x0038 | 0x0039 | 0x003a | 0x008d | 0x0091 | 0x0095 | 0xc005 | 0xc00a
        | 0xc00f | 0xc014 | 0xc019 | 0xc020 | 0xc021 | 0xc022 | 0xc036 => {
            (AesCbc(32, M::Sha1), Sha256, false, false)
        }
        // AES-CBC with HMAC-SHA256 / SHA384.
        0x003c => (AesCbc(16, M::Sha256), Sha256, true, false),
        0x003d => (AesCbc(32, M::Sha256), Sha256, true, false),
        0x003e | 0x003f | 0x0040 | 0x0067 | 0x006c | 0x00ae | 0x00b2 | 0x00b6 | 0xc023 | 0xc025
        | 0xc027 | 0xc029 | 0xc037 => (AesCbc(16, M::Sha256), Sha256, false, false),
        0x0068 | 0x0069 | 0x006a | 0x006b | 0x006d => (AesCbc(32, M::Sha256), Sha256, false, false),
        0x00af | 0x00b3 | 0x00b7 | 0xc024 | 0xc026 | 0xc028 | 0xc02a | 0xc038 => {
            (AesCbc(32, M::Sha384), Sha384, false, false)
        }
        _ => return None,
    };
    Some(Suite {
        id,
        bulk,
        hash,
        rsa_kx,
        tls13,
    })
}
