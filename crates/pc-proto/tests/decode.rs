//! The push decoder: the same output whatever the input pieces, stacked codings, the budget,
//! the fallback to bytes as sent, streams that end early, and hostile headers.

use pc_proto::decode::{OUT_CHUNK, Outcome, Stop, StreamDecoder};
use std::io::Write;
mod util;
use util::{br, gzip, raw_deflate, zlib, zstd};

fn gzip_named(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new()
        .filename("payload.json")
        .comment("a comment")
        .extra(vec![1, 2, 3, 4])
        .write(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

/// Decode `data` fed in pieces of `piece` bytes; every output piece is checked for size.
fn decode(codings: &[&str], data: &[u8], piece: usize, budget: u64) -> (Vec<u8>, Outcome) {
    let mut d = StreamDecoder::new(codings.iter().copied(), budget);
    let mut out = Vec::new();
    for c in data.chunks(piece.max(1)) {
        d.push(c, &mut |b| {
            assert!(b.len() <= OUT_CHUNK.max(piece));
            out.extend_from_slice(b)
        });
    }
    (out, d.finish(true))
}

fn text() -> Vec<u8> {
    (0..40_000u32)
        .flat_map(|i| format!("{{\"imei\":\"35693803564{i:04}\"}},").into_bytes())
        .collect()
}

#[test]
fn every_coding_in_every_piece_size() {
    let t = text();
    for (enc, data) in [
        ("gzip", gzip(&t)),
        ("x-gzip", gzip_named(&t)),
        ("deflate", zlib(&t)),
        ("deflate", raw_deflate(&t)),
        ("br", br(&t)),
        ("zstd", zstd(&t)),
    ] {
        for piece in [1, 2, 3, 7, 100, 1460, 65_536, data.len()] {
            if piece < 64 && data.len() > 200_000 {
                continue;
            }
            let (out, o) = decode(&[enc], &data, piece, u64::MAX);
            assert_eq!(o.stop, None, "{enc} in pieces of {piece}");
            assert!(out == t, "{enc} in pieces of {piece}: {} bytes", out.len());
            assert_eq!(o.decoded, t.len() as u64);
            assert_eq!(o.encoded, data.len() as u64);
            assert!(!o.raw && !o.is_cut());
        }
    }
}

#[test]
fn a_gzip_header_split_at_every_byte() {
    let t = b"imei=356938035643809".repeat(10);
    let data = gzip_named(&t);
    for cut in 0..data.len() {
        let mut d = StreamDecoder::new(["gzip"], u64::MAX);
        let mut out = Vec::new();
        d.push(&data[..cut], &mut |b| out.extend_from_slice(b));
        d.push(&data[cut..], &mut |b| out.extend_from_slice(b));
        assert_eq!(d.finish(true).stop, None, "cut at {cut}");
        assert_eq!(out, t, "cut at {cut}");
    }
}

#[test]
fn stacked_codings_and_members() {
    let t = text();
    // Content-Encoding: gzip, br means gzip first, then br.
    let data = br(&gzip(&t));
    let (out, o) = decode(&["gzip", "br"], &data, 999, u64::MAX);
    assert_eq!(o.stop, None);
    assert!(out == t);
    // Two gzip members are one body; padding after the last member is ignored.
    let mut two = [gzip(&t[..1000]), gzip(&t[1000..2000])].concat();
    let (out, o) = decode(&["gzip"], &two, 10, u64::MAX);
    assert_eq!((o.stop, out.as_slice()), (None, &t[..2000]));
    two.extend_from_slice(&[0; 16]);
    let (out, o) = decode(&["gzip"], &two, 10, u64::MAX);
    assert_eq!((o.stop, out.as_slice()), (None, &t[..2000]));
    // identity and chunked are no codings.
    let (out, o) = decode(&["identity", "chunked"], &t, 5000, u64::MAX);
    assert!(out == t && o.stop.is_none() && !o.is_cut());
}

#[test]
fn the_budget_cuts_and_says_so() {
    // The shape of a bomb: megabytes of zeros from a few kilobytes.
    let mut t = vec![0u8; 4 << 20];
    t.extend_from_slice(b"imei=356938035643809");
    for (enc, data) in [("gzip", gzip(&t)), ("br", br(&t)), ("zstd", zstd(&t))] {
        let (out, o) = decode(&[enc], &data, 1460, 1 << 20);
        assert_eq!(out.len(), 1 << 20, "{enc}");
        assert_eq!(o.stop, Some(Stop::Budget), "{enc}");
        assert!(o.is_cut(), "{enc}");
        // A budget past the end decodes everything, the identifier included.
        let (out, o) = decode(&[enc], &data, 1460, 8 << 20);
        assert!(out == t && o.stop.is_none(), "{enc}");
    }
    // Plain bodies are bounded the same way.
    let (out, o) = decode(&[], &t, 4096, 1000);
    assert_eq!((out.len(), o.stop), (1000, Some(Stop::Budget)));
}

#[test]
fn a_body_that_is_not_its_coding_is_searched_as_sent() {
    let t = b"imei=356938035643809&msisdn=33612345678".to_vec();
    for enc in ["gzip", "deflate", "br", "zstd"] {
        let (out, o) = decode(&[enc], &t, 3, u64::MAX);
        assert_eq!(out, t, "{enc}");
        assert!(o.raw && !o.is_cut(), "{enc}: {o:?}");
    }
    // An unknown coding too.
    let (out, o) = decode(&["compress"], &t, 3, u64::MAX);
    assert!(out == t && o.raw && o.stop == Some(Stop::Unsupported) && !o.is_cut());
    // Strict decoders hand out nothing.
    let mut d = StreamDecoder::strict(["gzip"], u64::MAX);
    let mut n = 0;
    d.push(&t, &mut |b| n += b.len());
    let o = d.finish(true);
    assert_eq!(n, 0);
    assert!(matches!(o.stop, Some(Stop::Corrupt("gzip", _))));
}

#[test]
fn corruption_after_output_keeps_what_was_decoded() {
    let t = text();
    // A valid member, then a member whose deflate data starts with a reserved block type.
    let mut data = gzip(&t);
    data.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff]);
    let tail = gzip(b"imei=356938035643809");
    let mut d = StreamDecoder::new(["gzip"], u64::MAX);
    let mut out = Vec::new();
    d.push(&data, &mut |b| out.extend_from_slice(b));
    d.push(&tail, &mut |b| out.extend_from_slice(b));
    let o = d.finish(true);
    assert!(out == t);
    assert!(matches!(o.stop, Some(Stop::Corrupt("gzip", _))), "{o:?}");
    assert!(o.is_cut() && !o.raw, "{o:?}");
    // Bytes fed after the stop are counted as not read.
    assert_eq!(o.encoded_unread, tail.len() as u64);
}

#[test]
fn streams_that_end_early() {
    let t = text();
    for (enc, data) in [
        ("gzip", gzip(&t)),
        ("deflate", zlib(&t)),
        ("br", br(&t)),
        ("zstd", zstd(&t)),
    ] {
        let half = &data[..data.len() / 2];
        let (out, o) = decode(&[enc], half, 1460, u64::MAX);
        assert!(t.starts_with(&out), "{enc}");
        assert_eq!(o.stop, Some(Stop::EndsEarly(enc)), "{enc}");
        assert!(o.is_cut());
        // A body known to be cut (a gap) is not judged by its decoder.
        let mut d = StreamDecoder::new([enc], u64::MAX);
        d.push(half, &mut |_| {});
        assert_eq!(d.finish(false).stop, None);
    }
    // Only the checksum missing: every byte was decoded.
    let g = gzip(&t);
    let (out, o) = decode(&["gzip"], &g[..g.len() - 4], 1460, u64::MAX);
    assert!(out == t && o.stop.is_none());
}

#[test]
fn hostile_headers_are_bounded() {
    // A gzip file name that never ends.
    let mut g = vec![0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3];
    g.extend(std::iter::repeat_n(b'a', 200_000));
    let (out, o) = decode(&["gzip"], &g, 4096, u64::MAX);
    assert!(matches!(o.stop, Some(Stop::Corrupt("gzip", _))), "{o:?}");
    // Nothing decoded, so the bytes kept are handed out as sent, at most 64 KiB of them.
    assert!(out.len() <= 200_010);
    // A zstd frame asking for a 1 GiB window is refused (RFC 9659 allows 8 MiB).
    let mut z = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    z.window_log(30).unwrap();
    z.set_pledged_src_size(None).unwrap();
    z.write_all(&vec![7u8; 1 << 16]).unwrap();
    let z = z.finish().unwrap();
    let mut d = StreamDecoder::strict(["zstd"], u64::MAX);
    d.push(&z, &mut |_| {});
    assert!(matches!(
        d.finish(true).stop,
        Some(Stop::Corrupt("zstd", _))
    ));
    // Garbage of every length never panics.
    for n in 0..300 {
        let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
        for enc in ["gzip", "deflate", "br", "zstd"] {
            let _ = decode(&[enc], &junk, 7, 1 << 20);
        }
    }
}

/// A corrupt deflate stream may decode to its end without an error: only the gzip trailer
/// shows that what came out is not what the sender compressed.
#[test]
fn a_gzip_trailer_that_does_not_match_is_a_cut() {
    let t = text();
    let mut g = gzip(&t);
    let good = decode(&["gzip"], &g, 1000, u64::MAX).1;
    assert_eq!(good.stop, None);
    let n = g.len();
    g[n - 8] ^= 0xff; // the CRC-32
    let (_, o) = decode(&["gzip"], &g, 1000, u64::MAX);
    assert!(matches!(o.stop, Some(Stop::Corrupt("gzip", _))), "{o:?}");
    assert!(o.is_cut());
    let mut g = gzip(&t);
    g[n - 1] ^= 0x01; // the length
    assert!(decode(&["gzip"], &g, 7, u64::MAX).1.is_cut());
}

#[test]
fn bytes_after_the_last_gzip_member() {
    let t = text();
    let mut g = gzip(&t);
    g.extend([0u8; 100]);
    let (out, o) = decode(&["gzip"], &g, 33, u64::MAX);
    assert_eq!((out, o.stop), (t.clone(), None), "zero padding is ignored");
    let mut g = gzip(&t);
    g.extend(b"imei=356938035643809");
    let (out, o) = decode(&["gzip"], &g, 33, u64::MAX);
    assert_eq!(out, t);
    assert!(
        o.is_cut(),
        "sent bytes nobody decodes are not searched: {o:?}"
    );
}
