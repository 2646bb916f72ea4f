//! Signature primitives shared by v1 (PKCS#7), v2/v3 signers and lineage nodes.

use crate::asn1::{self, KeyAlg};
use md5::Md5;
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashVerifier;

/// RSA moduli above this are refused (apksig has no limit, but 16384 bits covers every real key).
const MAX_RSA_BITS: usize = 16384;

/// Message digest algorithms used by the signature schemes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Md5 => Md5::digest(data).to_vec(),
            Hash::Sha1 => Sha1::digest(data).to_vec(),
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
    /// DER DigestInfo prefix for PKCS#1 v1.5 signatures.
    fn pkcs1_prefix(self) -> &'static [u8] {
        match self {
            Hash::Md5 => &[
                0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05,
                0x05, 0x00, 0x04, 0x10,
            ],
            Hash::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
    /// From a digest algorithm OID (PKCS#7 digestAlgorithm).
    pub fn from_oid(oid: &str) -> Option<Hash> {
        Some(match oid {
            "1.2.840.113549.2.5" => Hash::Md5,
            "1.3.14.3.2.26" => Hash::Sha1,
            "2.16.840.1.101.3.4.2.1" => Hash::Sha256,
            "2.16.840.1.101.3.4.2.2" => Hash::Sha384,
            "2.16.840.1.101.3.4.2.3" => Hash::Sha512,
            _ => return None,
        })
    }
}

/// Padding / family of a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    RsaPkcs1,
    RsaPss,
    Ecdsa,
    Dsa,
}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CryptoError {
    /// Key type does not match the algorithm, or the key is malformed / unsupported.
    BadKey(&'static str),
    /// Signature is well formed but wrong, or malformed.
    Invalid,
}

fn rsa_key(key_bits: &[u8]) -> Result<RsaPublicKey, CryptoError> {
    let seq = asn1::parse_one(key_bits, 0x30, "").map_err(|_| CryptoError::BadKey("RSA key"))?;
    let mut r = asn1::Reader::new(seq.content);
    let n = r
        .expect(0x02, "")
        .map_err(|_| CryptoError::BadKey("RSA modulus"))?;
    let e = r
        .expect(0x02, "")
        .map_err(|_| CryptoError::BadKey("RSA exponent"))?;
    RsaPublicKey::new_with_max_size(
        BigUint::from_bytes_be(n.content),
        BigUint::from_bytes_be(e.content),
        MAX_RSA_BITS,
    )
    .map_err(|_| CryptoError::BadKey("RSA key rejected"))
}

/// Verifies `sig` over `data` with the key in `spki`.
pub(crate) fn verify(
    family: Family,
    hash: Hash,
    spki: &[u8],
    data: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    let (alg, params, key) = asn1::parse_spki(spki).map_err(|_| CryptoError::BadKey("SPKI"))?;
    let hashed = hash.digest(data);
    match (family, &alg) {
        (Family::RsaPkcs1, KeyAlg::Rsa) => {
            let k = rsa_key(key)?;
            let scheme = Pkcs1v15Sign {
                hash_len: Some(hashed.len()),
                prefix: hash.pkcs1_prefix().into(),
            };
            k.verify(scheme, &hashed, sig)
                .map_err(|_| CryptoError::Invalid)
        }
        (Family::RsaPss, KeyAlg::Rsa) => {
            let k = rsa_key(key)?;
            let scheme = match hash {
                Hash::Sha256 => Pss::new::<Sha256>(),
                Hash::Sha512 => Pss::new::<Sha512>(),
                _ => return Err(CryptoError::BadKey("unsupported PSS digest")),
            };
            k.verify(scheme, &hashed, sig)
                .map_err(|_| CryptoError::Invalid)
        }
        (Family::Ecdsa, KeyAlg::Ec(curve)) => match curve.as_str() {
            "1.2.840.10045.3.1.7" => {
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map_err(|_| CryptoError::BadKey("P-256 point"))?;
                let s =
                    p256::ecdsa::DerSignature::try_from(sig).map_err(|_| CryptoError::Invalid)?;
                vk.verify_prehash(&hashed, &s)
                    .map_err(|_| CryptoError::Invalid)
            }
            "1.3.132.0.34" => {
                let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map_err(|_| CryptoError::BadKey("P-384 point"))?;
                let s =
                    p384::ecdsa::DerSignature::try_from(sig).map_err(|_| CryptoError::Invalid)?;
                vk.verify_prehash(&hashed, &s)
                    .map_err(|_| CryptoError::Invalid)
            }
            _ => Err(CryptoError::BadKey("unsupported EC curve")),
        },
        (Family::Dsa, KeyAlg::Dsa) => {
            let p = params.ok_or(CryptoError::BadKey("DSA parameters missing"))?;
            let mut pr = asn1::Reader::new(p.content);
            let mut next = || -> Result<BigUint, CryptoError> {
                pr.expect(0x02, "")
                    .map(|t| BigUint::from_bytes_be(t.content))
                    .map_err(|_| CryptoError::BadKey("DSA parameters"))
            };
            let (pp, q, g) = (next()?, next()?, next()?);
            let y = asn1::parse_one(key, 0x02, "").map_err(|_| CryptoError::BadKey("DSA key"))?;
            let comps = dsa::Components::from_components(pp, q, g)
                .map_err(|_| CryptoError::BadKey("DSA parameters rejected"))?;
            let vk = dsa::VerifyingKey::from_components(comps, BigUint::from_bytes_be(y.content))
                .map_err(|_| CryptoError::BadKey("DSA key rejected"))?;
            let s = dsa_sig(sig)?;
            vk.verify_prehash(&hashed, &s)
                .map_err(|_| CryptoError::Invalid)
        }
        _ => Err(CryptoError::BadKey(
            "key type does not match signature algorithm",
        )),
    }
}

fn dsa_sig(sig: &[u8]) -> Result<dsa::Signature, CryptoError> {
    let seq = asn1::parse_one(sig, 0x30, "").map_err(|_| CryptoError::Invalid)?;
    let mut r = asn1::Reader::new(seq.content);
    let rr = r.expect(0x02, "").map_err(|_| CryptoError::Invalid)?;
    let ss = r.expect(0x02, "").map_err(|_| CryptoError::Invalid)?;
    dsa::Signature::from_components(
        BigUint::from_bytes_be(rr.content),
        BigUint::from_bytes_be(ss.content),
    )
    .map_err(|_| CryptoError::Invalid)
}
