//! Key derivation: the TLS 1.0/1.1 and 1.2 PRFs (RFC 2246 §5, RFC 5246 §5) and TLS 1.3's HKDF
//! (RFC 8446 §7.1), which QUIC uses too (RFC 9001 §5).

use super::PrfHash;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha256, Sha384};

/// P_hash (RFC 5246 §5), XORed into `out`.
fn p_hash_xor<M: Mac + KeyInit + Clone>(
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) {
    let Ok(base) = <M as KeyInit>::new_from_slice(secret) else {
        return;
    };
    // A(1) = HMAC(secret, label + seed)
    let mut m = base.clone();
    m.update(label);
    for s in seed {
        m.update(s);
    }
    let mut a = m.finalize().into_bytes();
    let mut pos = 0;
    while pos < out.len() {
        let mut m = base.clone();
        m.update(&a);
        m.update(label);
        for s in seed {
            m.update(s);
        }
        let block = m.finalize().into_bytes();
        for (o, b) in out[pos..].iter_mut().zip(block.iter()) {
            *o ^= b;
        }
        pos += block.len();
        let mut m = base.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// The PRF of a protocol version: TLS 1.2 uses P_SHA256 or P_SHA384; TLS 1.0/1.1 use
/// P_MD5 XOR P_SHA1 over the two halves of the secret.
pub fn prf(
    tls12: bool,
    hash: PrfHash,
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) {
    out.fill(0);
    if tls12 {
        match hash {
            PrfHash::Sha256 => p_hash_xor::<Hmac<Sha256>>(secret, label, seed, out),
            PrfHash::Sha384 => p_hash_xor::<Hmac<Sha384>>(secret, label, seed, out),
        }
    } else {
        let half = secret.len().div_ceil(2);
        let s1 = secret.get(..half).unwrap_or(secret);
        let s2 = secret.get(secret.len() - half..).unwrap_or(secret);
        p_hash_xor::<Hmac<Md5>>(s1, label, seed, out);
        p_hash_xor::<Hmac<Sha1>>(s2, label, seed, out);
    }
}

/// The TLS ≤ 1.2 key block (RFC 5246 §6.3): `out.len()` bytes of PRF("key expansion",
/// server random + client random), cut by the caller into MAC keys, keys and IVs.
pub fn key_expansion(
    tls12: bool,
    hash: PrfHash,
    master: &[u8; 48],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    out: &mut [u8],
) {
    prf(
        tls12,
        hash,
        master,
        b"key expansion",
        &[server_random, client_random],
        out,
    );
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context. `None` if `secret` is not a
/// usable PRK (shorter than the hash) or `out` is too long.
pub fn hkdf_expand_label(hash: PrfHash, secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    let len = u16::try_from(out.len()).ok()?;
    let full_len = u8::try_from(label.len() + 6).ok()?;
    let mut info = Vec::with_capacity(4 + full_len as usize);
    info.extend_from_slice(&len.to_be_bytes());
    info.push(full_len);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    match hash {
        PrfHash::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, out)
            .ok(),
        PrfHash::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, out)
            .ok(),
    }
}

/// HKDF-Extract (RFC 5869 §2.2): the pseudorandom key of `ikm` under `salt`.
pub fn hkdf_extract(hash: PrfHash, salt: &[u8], ikm: &[u8]) -> Vec<u8> {
    match hash {
        PrfHash::Sha256 => hkdf::Hkdf::<Sha256>::extract(Some(salt), ikm).0.to_vec(),
        PrfHash::Sha384 => hkdf::Hkdf::<Sha384>::extract(Some(salt), ikm).0.to_vec(),
    }
}
