//! The fuzzing entry point of the crate.

use super::{Connection, Level};
use crate::{QuicSecrets, SecretSource, qpack};

/// Feed arbitrary bytes through every parser of this crate (the fuzzing entry point).
/// The first byte selects the path: QPACK, decrypted QUIC frames, or whole datagrams.
pub fn exercise(data: &[u8]) {
    struct Fixed;
    impl SecretSource for Fixed {
        fn secrets(&self, _: &[u8; 32]) -> Option<QuicSecrets> {
            let s = Some(vec![7u8; 32]);
            Some(QuicSecrets {
                client_handshake: s.clone(),
                server_handshake: s.clone(),
                client_app: s.clone(),
                server_app: s.clone(),
                client_early: s,
            })
        }
    }
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    // Records: one byte (direction in bit 0), two bytes of length, then the bytes.
    let mut records = Vec::new();
    let mut p = rest;
    while let [flags, a, b, tail @ ..] = p {
        let n = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (rec, next) = tail.split_at(n);
        records.push((flags & 1, rec));
        p = next;
    }
    match mode % 3 {
        0 => {
            let mut d = qpack::Decoder::new(usize::from(mode) * 64);
            for (i, (kind, rec)) in records.iter().enumerate() {
                if *kind == 0 {
                    let _ = d.encoder_stream(rec);
                } else {
                    let _ = d.decode_field_section(i as u64, rec);
                }
                let _ = d.take_unblocked();
            }
        }
        1 => {
            let mut c = Connection::new();
            c.alpn = Some(if mode & 8 != 0 { "h3" } else { "raw" }.into());
            for (dir, rec) in records {
                c.frames(usize::from(dir), Level::OneRtt, rec, &mut out);
            }
            c.finish(&mut out);
        }
        _ => {
            let mut c = Connection::new();
            for (dir, rec) in records {
                c.datagram(dir == 0, rec, &Fixed, &mut out);
            }
            c.finish(&mut out);
            let _ = (c.outcome(), c.stats(), c.bytes());
        }
    }
}
