//! Record decryption throughput on one core, through `Session::record` (as the engine calls
//! it). Run with `cargo run --release -p pc-tlsdec --example throughput`.

use std::sync::Arc;
use std::time::Instant;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use pc_tlsdec::crypto::{PrfHash, key_expansion};
use pc_tlsdec::keylog::KeyLog;
use pc_tlsdec::{Outcome, Session};

const RECORD: usize = 16_384;
const RECORDS: usize = 1024;

fn hello(ty: u8, random: [u8; 32], suite: Option<u16>) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&random);
    b.push(0);
    match suite {
        Some(s) => {
            b.extend_from_slice(&s.to_be_bytes());
            b.push(0);
        }
        None => b.extend_from_slice(&[0, 2, 0xc0, 0x2f, 1, 0]),
    }
    let mut m = vec![ty, 0, 0, b.len() as u8];
    m.extend(b);
    m
}

/// Client records of `RECORD` bytes each, sealed with the suite's client write key.
fn records(suite: u16, master: &[u8; 48], cr: &[u8; 32], sr: &[u8; 32]) -> Vec<Vec<u8>> {
    let (key_len, iv_len) = if suite == 0xc02f { (16, 4) } else { (32, 12) };
    let mut kb = vec![0u8; 2 * (key_len + iv_len)];
    key_expansion(true, PrfHash::Sha256, master, cr, sr, &mut kb);
    let key = &kb[..key_len];
    let iv = &kb[2 * key_len..2 * key_len + iv_len];
    let pt = vec![0x61u8; RECORD];
    (0..RECORDS as u64)
        .map(|seq| {
            let mut aad = seq.to_be_bytes().to_vec();
            aad.extend_from_slice(&[23, 3, 3]);
            aad.extend_from_slice(&(RECORD as u16).to_be_bytes());
            let mut buf = pt.clone();
            if suite == 0xc02f {
                let mut nonce = iv.to_vec();
                nonce.extend_from_slice(&seq.to_be_bytes());
                let tag = aes_gcm::Aes128Gcm::new_from_slice(key)
                    .expect("key")
                    .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&nonce), &aad, &mut buf)
                    .expect("seal");
                let mut rec = seq.to_be_bytes().to_vec();
                rec.extend(buf);
                rec.extend_from_slice(&tag);
                rec
            } else {
                let mut nonce = iv.to_vec();
                for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                    *n ^= s;
                }
                let tag = chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
                    .expect("key")
                    .encrypt_in_place_detached(
                        chacha20poly1305::Nonce::from_slice(&nonce),
                        &aad,
                        &mut buf,
                    )
                    .expect("seal");
                buf.extend_from_slice(&tag);
                buf
            }
        })
        .collect()
}

fn main() {
    let (cr, sr, master) = ([1u8; 32], [2u8; 32], [0x42u8; 48]);
    let log = format!("CLIENT_RANDOM {} {}\n", hex(&cr), hex(&master));
    let keys = Arc::new(KeyLog::parse(log.as_bytes()));
    for (name, suite) in [("AES-128-GCM", 0xc02f), ("ChaCha20-Poly1305", 0xcca8)] {
        let recs = records(suite, &master, &cr, &sr);
        let mut best = 0f64;
        for _ in 0..3 {
            let mut s = Session::new(keys.clone());
            let mut out = Vec::new();
            s.record(true, 22, 0x0303, &hello(1, cr, None), &mut out);
            s.record(false, 22, 0x0303, &hello(2, sr, Some(suite)), &mut out);
            s.record(true, 20, 0x0303, &[1], &mut out);
            let t = Instant::now();
            let mut bytes = 0usize;
            for r in &recs {
                s.record(true, 23, 0x0303, r, &mut out);
                bytes += out.iter().map(|p| p.data.len()).sum::<usize>();
                out.clear();
            }
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(s.outcome(), Outcome::Decrypted);
            assert_eq!(bytes, RECORD * RECORDS);
            best = best.max(bytes as f64 / secs / 1e6);
        }
        println!("{name:>18}: {best:8.0} MB/s ({RECORD}-byte records, one core)");
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
