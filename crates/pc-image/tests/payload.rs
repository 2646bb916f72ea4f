//! A/B OTA payloads: the fixture made by scripts/make-payload-fixtures.py, its partitions
//! rebuilt and compared with payload_dumper's extraction (tests/data/images/payload/oracle.json),
//! and malformed payloads derived from it by rewriting its manifest.

use std::path::PathBuf;
use std::sync::Arc;

use pc_image::payload::proto::{DeltaArchiveManifest, Extent};
use pc_image::payload::{OpKind, Payload};
use pc_image::{MemSource, ReadAt, Source};
use prost::Message;
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/images/payload")
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

fn mem(name: &str, data: Vec<u8>) -> Source {
    Arc::new(MemSource::new(name, data))
}

fn file(name: &str) -> Source {
    Arc::new(pc_image::FileSource::open(&dir().join(name), name).unwrap())
}

/// The oracle's sha256 for `part` in the JSON object `group` (hand-read: no JSON dependency).
fn oracle(group: &str, part: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir().join("oracle.json")).unwrap();
    let obj = &text[text.find(&format!("\"{group}\": {{"))?..];
    let obj = &obj[..obj.find('}')?];
    let at = obj.find(&format!("\"{part}\": \""))? + part.len() + 5;
    Some(obj[at..at + 64].to_string())
}

fn read_all(src: &dyn ReadAt) -> Vec<u8> {
    let mut v = vec![0; src.size() as usize];
    src.read_at(0, &mut v).unwrap();
    v
}

/// The fixture with its manifest changed by `f` (blobs and signature kept).
fn rewrite(f: impl FnOnce(&mut DeltaArchiveManifest)) -> Vec<u8> {
    let full = bytes("full.bin");
    let msize = u64::from_be_bytes(full[12..20].try_into().unwrap()) as usize;
    let mut m = DeltaArchiveManifest::decode(&full[24..24 + msize]).unwrap();
    f(&mut m);
    let enc = m.encode_to_vec();
    let mut out = full[..24].to_vec();
    out[12..20].copy_from_slice(&(enc.len() as u64).to_be_bytes());
    out.extend_from_slice(&enc);
    out.extend_from_slice(&full[24 + msize..]);
    out
}

fn open_err(data: Vec<u8>) -> String {
    Payload::open(mem("bad.bin", data)).unwrap_err().to_string()
}

#[test]
fn full_payload_manifest() {
    let p = Payload::open(file("full.bin")).unwrap();
    assert!(!p.is_incremental());
    assert_eq!(p.block_size(), 4096);
    assert_eq!(p.minor_version(), 0);
    assert_eq!(p.security_patch_level(), Some("2026-11-05"));
    assert_eq!(p.max_timestamp(), Some(1_700_000_000));
    let names: Vec<&str> = p.partitions().iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["vendor", "product", "odm"]);
    let odm = &p.partitions()[2];
    assert_eq!(odm.size, 48 * 4096);
    for k in [
        OpKind::Zstd,
        OpKind::Zero,
        OpKind::Discard,
        OpKind::Replace,
        OpKind::ReplaceXz,
    ] {
        assert_eq!(odm.op_counts.get(&k), Some(&1), "{k:?}");
    }
    let vendor = &p.partitions()[0];
    for k in [OpKind::Replace, OpKind::ReplaceBz, OpKind::ReplaceXz] {
        assert!(vendor.op_counts.get(&k).is_some_and(|&n| n > 0), "{k:?}");
    }
    assert!(vendor.old.is_none());
}

#[test]
fn partitions_match_payload_dumper_and_manifest_hashes() {
    let p = Payload::open(file("full.bin")).unwrap();
    for part in p.partitions() {
        let src = p.partition(&part.name).unwrap();
        assert_eq!(src.size(), part.size);
        let got = hex::encode(Sha256::digest(read_all(src.as_ref())));
        // vendor and product: what payload_dumper extracted; odm (ops it cannot apply): the
        // image the script encoded.
        let want = oracle("payload_dumper", &part.name)
            .or_else(|| oracle("made_by_script", &part.name))
            .unwrap();
        assert_eq!(got, want, "{}", part.name);
        assert_eq!(Some(hex::encode(part.sha256.unwrap())), Some(want));
        p.verify(&part.name).unwrap();
    }
    // A rebuilt ext4 partition starts a real superblock (magic 0xEF53 at 1024 + 56).
    let vendor = read_all(p.partition("vendor").unwrap().as_ref());
    assert_eq!(&vendor[1080..1082], &[0x53, 0xEF]);
}

#[test]
fn random_reads_agree_with_a_whole_read_across_threads() {
    let p = Payload::open(file("full.bin")).unwrap();
    for name in ["odm", "product"] {
        let src = p.partition(name).unwrap();
        let whole = read_all(src.as_ref());
        let size = src.size();
        // Reads that start and end inside blocks and span several operations.
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (src, whole) = (&src, &whole);
                s.spawn(move || {
                    let mut x = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(t + 1);
                    for _ in 0..200 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let off = x % size;
                        let len = ((x >> 20) % 70_000).min(size - off) as usize;
                        let mut buf = vec![0xAA; len];
                        src.read_at(off, &mut buf).unwrap();
                        assert_eq!(&buf[..], &whole[off as usize..off as usize + len]);
                    }
                });
            }
        });
        let mut one = [0u8; 1];
        assert!(src.read_at(size, &mut one).is_err());
    }
    // Blocks 8..16 of odm are a ZERO op, 24..32 a DISCARD op: zeros.
    let odm = read_all(p.partition("odm").unwrap().as_ref());
    assert!(odm[8 * 4096..16 * 4096].iter().all(|&b| b == 0));
    assert!(odm[24 * 4096..32 * 4096].iter().all(|&b| b == 0));
    assert!(odm[..4096].starts_with(b"ro.odm.build.line=000000"));
}

#[test]
fn incremental_payload_is_refused_naming_the_source() {
    let err = Payload::open(file("incremental.bin"))
        .unwrap_err()
        .to_string();
    let p = Payload::inspect(file("incremental.bin")).unwrap();
    assert!(p.is_incremental());
    assert_eq!(p.minor_version(), 8);
    let (size, hash) = p.partitions()[0].old.clone().unwrap();
    assert!(err.contains("incremental"), "{err}");
    assert!(err.contains("SOURCE_COPY"), "{err}");
    assert!(
        err.contains(&format!(
            "odm ({size} bytes, sha256 {})",
            hex::encode(&hash)
        )),
        "{err}"
    );
    assert_eq!(
        p.partitions()[0].op_counts.get(&OpKind::SourceCopy),
        Some(&1)
    );
    assert!(p.partition("odm").is_err());
    // A full payload whose one op reads the source is a delta payload too.
    let data = rewrite(|m| m.partitions[2].operations[1].kind = Some(4));
    assert!(open_err(data).contains("incremental"));
}

#[test]
fn malformed_headers() {
    let full = bytes("full.bin");
    let mut v1 = full.clone();
    v1[11] = 1;
    let e = open_err(v1);
    assert!(
        e.contains("major version 1") && e.contains("at offset 4"),
        "{e}"
    );
    let mut magic = full.clone();
    magic[0] = b'X';
    assert!(open_err(magic).contains("CrAU"));
    assert!(open_err(full[..10].to_vec()).contains("too short"));
    let mut huge = full.clone();
    huge[12..20].copy_from_slice(&(1u64 << 40).to_be_bytes());
    assert!(open_err(huge).contains("exceeds the limit"));
    // Cut inside the manifest.
    assert!(open_err(full[..200].to_vec()).contains("past the end"));
    // Cut inside the blobs: the first op whose blob is missing is named with its offset.
    let e = open_err(full[..full.len() / 2].to_vec());
    assert!(e.contains("runs past the payload's end"), "{e}");
    // Garbage in the manifest.
    let mut junk = full.clone();
    junk[24..40].fill(0xFF);
    assert!(open_err(junk).contains("manifest protobuf"));
}

#[test]
fn malformed_operations() {
    // Two operations writing the same block.
    let e = open_err(rewrite(|m| {
        m.partitions[2].operations[1].dst_extents[0].start_block = Some(4)
    }));
    assert!(e.contains("both write block"), "{e}");
    // An extent past the partition's end.
    let e = open_err(rewrite(|m| {
        m.partitions[2].operations[3].dst_extents[0] = Extent {
            start_block: Some(100),
            num_blocks: Some(8),
        }
    }));
    assert!(e.contains("past the partition"), "{e}");
    let e = open_err(rewrite(|m| m.partitions[0].operations[0].kind = Some(99)));
    assert!(
        e.contains("unknown type 99") && e.contains("partition vendor"),
        "{e}"
    );
    let e = open_err(rewrite(|m| {
        m.partitions[0].operations[0].data_offset = Some(u64::MAX - 2)
    }));
    assert!(e.contains("runs past"), "{e}");
    let e = open_err(rewrite(|m| {
        m.partitions[0].operations[0].dst_extents.clear()
    }));
    assert!(e.contains("no destination extent"), "{e}");
    let e = open_err(rewrite(|m| {
        let d = m.partitions[1].clone();
        m.partitions.push(d);
    }));
    assert!(e.contains("appears twice"), "{e}");

    // An xz op whose extents hold more than it decompresses to: refused on the first read.
    let data = rewrite(|m| {
        let op = &mut m.partitions[2].operations[4];
        assert_eq!(op.kind, Some(8));
        op.dst_extents[1].num_blocks = Some(7);
    });
    let p = Payload::open(mem("short.bin", data)).unwrap();
    let odm = p.partition("odm").unwrap();
    let mut buf = vec![0; 4096];
    let e = odm.read_at(40 * 4096, &mut buf).unwrap_err();
    assert_eq!(e.part.as_deref(), Some("odm"));
    assert!(
        e.what.contains("operation 4 (REPLACE_XZ)") && e.what.contains("more than"),
        "{e}"
    );
    odm.read_at(0, &mut buf).unwrap();
    assert!(p.verify("odm").is_err());

    // A REPLACE op whose blob is a block short of its extents.
    let data = rewrite(|m| {
        let op = &mut m.partitions[2].operations[2];
        assert_eq!(op.kind, Some(0));
        op.data_length = Some(op.data_length.unwrap() - 4096);
    });
    let p = Payload::open(mem("short.bin", data)).unwrap();
    let e = p.partition("odm").err().unwrap();
    assert!(
        e.what.contains("operation 2 (REPLACE)") && e.what.contains("bytes of data for"),
        "{e}"
    );

    // A corrupt zstd blob: an error naming the blob's offset in the payload, not a panic.
    let full = bytes("full.bin");
    let p = Payload::open(mem("full.bin", full.clone())).unwrap();
    let blob_at = {
        let msize = u64::from_be_bytes(full[12..20].try_into().unwrap()) as usize;
        let ssize = u32::from_be_bytes(full[20..24].try_into().unwrap()) as usize;
        let m = DeltaArchiveManifest::decode(&full[24..24 + msize]).unwrap();
        24 + msize + ssize + m.partitions[2].operations[0].data_offset.unwrap() as usize
    };
    drop(p);
    let mut bad = full;
    bad[blob_at + 20..blob_at + 60].fill(0x5A);
    let p = Payload::open(mem("bad.bin", bad)).unwrap();
    let e = p
        .partition("odm")
        .unwrap()
        .read_at(0, &mut buf)
        .unwrap_err();
    assert_eq!(e.offset, blob_at as u64, "{e}");
    assert!(e.what.contains("ZSTD"), "{e}");
    // The other partitions still read.
    p.verify("vendor").unwrap();
    assert!(
        p.partition("boot")
            .err()
            .unwrap()
            .to_string()
            .contains("no partition boot")
    );
}
