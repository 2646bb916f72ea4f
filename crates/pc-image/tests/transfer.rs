//! Block-based OTA: the fixture made by scripts/make-transfer-fixtures.py rebuilt into the ext4
//! image it came from (tests/data/images/transfer/oracle.json holds that image's sha256), and
//! malformed transfer lists.

use std::path::PathBuf;
use std::sync::Arc;

use pc_image::transfer::{Command, TransferImage, TransferList, spool_brotli};
use pc_image::{FileSource, MemSource, ReadAt, Source};
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/images/transfer")
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

fn file(name: &str) -> Source {
    Arc::new(FileSource::open(&dir().join(name), name).unwrap())
}

/// A string or number field of oracle.json (hand-read: no JSON dependency).
fn oracle(key: &str) -> String {
    let text = std::fs::read_to_string(dir().join("oracle.json")).unwrap();
    let at = text.find(&format!("\"{key}\": ")).unwrap() + key.len() + 4;
    text[at..]
        .split([',', '\n'])
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string()
}

fn image_sha256(img: &dyn ReadAt) -> String {
    let mut v = vec![0; img.size() as usize];
    img.read_at(0, &mut v).unwrap();
    hex::encode(Sha256::digest(&v))
}

fn parse_err(text: &str) -> String {
    TransferList::parse("t.list", text.as_bytes())
        .unwrap_err()
        .to_string()
}

#[test]
fn v4_list_rebuilds_the_image() {
    let list = TransferList::parse("system.transfer.list", &bytes("system.transfer.list")).unwrap();
    assert_eq!(list.version, 4);
    assert_eq!(
        list.total_blocks * 4096,
        oracle("image_size").parse::<u64>().unwrap()
    );
    assert_eq!(list.new_blocks().to_string(), oracle("new_blocks"));
    for c in [Command::New, Command::Zero, Command::Erase] {
        assert!(list.commands.iter().any(|x| x.0 == c), "{c:?}");
    }
    let img = TransferImage::new(&list, file("system.new.dat"), "system.img").unwrap();
    assert_eq!(img.size(), list.total_blocks * 4096);
    assert_eq!(image_sha256(&img), oracle("image_sha256"));
    // An ext4 superblock at 1024 (magic 0xEF53 at 1080).
    let mut magic = [0u8; 2];
    img.read_at(1080, &mut magic).unwrap();
    assert_eq!(magic, [0x53, 0xEF]);
    assert!(img.read_at(img.size() - 1, &mut magic).is_err());
}

#[test]
fn v1_list_and_brotli_new_data_rebuild_the_same_image() {
    let list = TransferList::parse("v1.transfer.list", &bytes("v1.transfer.list")).unwrap();
    assert_eq!(list.version, 1);
    let limit = list.new_blocks() * 4096;
    let dat = spool_brotli(file("system.new.dat.br"), limit).unwrap();
    assert_eq!(dat.size(), limit);
    assert_eq!(dat.name(), "system.new.dat");
    let img = TransferImage::new(&list, dat.clone(), "system.img").unwrap();
    assert_eq!(image_sha256(&img), oracle("image_sha256"));
    // Reads crossing runs agree with the whole image, from several threads at once.
    let mut whole = vec![0; img.size() as usize];
    img.read_at(0, &mut whole).unwrap();
    std::thread::scope(|s| {
        for t in 1..=3u64 {
            let (img, whole) = (&img, &whole);
            s.spawn(move || {
                for k in 0..300u64 {
                    let off = (k * 7919 * t + 13 * t) % img.size();
                    let len = ((k * 104_729) % 20_000).min(img.size() - off) as usize;
                    let mut buf = vec![0xAA; len];
                    img.read_at(off, &mut buf).unwrap();
                    assert_eq!(&buf[..], &whole[off as usize..off as usize + len]);
                }
            });
        }
    });
    // A limit below the data is refused, not silently cut.
    let e = spool_brotli(file("system.new.dat.br"), limit - 1)
        .err()
        .unwrap();
    assert!(e.what.contains("more than"), "{e}");
    let bad: Source = Arc::new(MemSource::new(
        "x.br",
        bytes("system.new.dat.br")[..100].to_vec(),
    ));
    assert!(spool_brotli(bad, limit).is_err());
}

#[test]
fn later_commands_hide_earlier_ones() {
    // Blocks 0..4 of new data; then 1..3 zeroed: block 3 still reads new block 3.
    let dat: Vec<u8> = (0..4u8).flat_map(|b| vec![b + 1; 4096]).collect();
    let list = TransferList::parse("t", b"4\n6\n0\n0\nnew 2,0,4\nzero 2,1,3\n").unwrap();
    let img = TransferImage::new(&list, Arc::new(MemSource::new("d", dat)), "img").unwrap();
    let mut v = vec![0; 6 * 4096];
    img.read_at(0, &mut v).unwrap();
    let firsts: Vec<u8> = v.chunks(4096).map(|c| c[0]).collect();
    assert_eq!(firsts, [1, 0, 0, 4, 0, 0]);
    assert!(v.chunks(4096).all(|c| c.iter().all(|&b| b == c[0])));
}

#[test]
fn incremental_and_malformed_lists_are_refused() {
    let e = TransferList::parse(
        "incremental.transfer.list",
        &bytes("incremental.transfer.list"),
    )
    .unwrap_err();
    assert!(
        e.what
            .contains("incremental block OTA, needs the source build"),
        "{e}"
    );
    assert!(e.what.contains("stash"), "{e}");
    assert_eq!(e.offset, 10, "offset of the stash line: {e}");

    assert!(parse_err("").contains("version"));
    assert!(parse_err("5\n10\n").contains("version 5"));
    assert!(parse_err("x\n").contains("not a number"));
    assert!(parse_err("4\n10\n0\n").contains("maximum stash"));
    assert!(parse_err("1\n999999999999\n").contains("exceed the limit"));
    let e = parse_err("1\n10\nnew 3,0,4,5\n");
    assert!(
        e.contains("not a positive even") && e.contains("at offset 5"),
        "{e}"
    );
    assert!(parse_err("1\n10\nnew 4,0,4\n").contains("announces 4 numbers, has 2"));
    assert!(parse_err("1\n10\nnew 2,0,11\n").contains("outside the 10 blocks"));
    assert!(parse_err("1\n10\nnew 2,4,4\n").contains("empty"));
    assert!(parse_err("1\n10\nnew 4,5,8,2,3\n").contains("not after"));
    assert!(parse_err("1\n10\nnew 4,0,3,2,5\n").contains("not after"));
    assert!(parse_err("1\n10\nnew 2,0,-1\n").contains("not a number"));
    assert!(parse_err("1\n10\nnew\n").contains("count"));
    assert!(parse_err("1\n10\nfrobnicate 2,0,1\n").contains("unknown command"));
    for w in ["move", "bsdiff", "imgdiff", "free"] {
        assert!(parse_err(&format!("3\n10\n0\n0\n{w} 2,0,1\n")).contains("incremental"));
    }
    // new.dat shorter than the list takes.
    let list = TransferList::parse("t", b"1\n10\nnew 2,0,3\n").unwrap();
    let short: Source = Arc::new(MemSource::new("d", vec![0; 2 * 4096]));
    let e = TransferImage::new(&list, short, "img").err().unwrap();
    assert!(e.what.contains("takes 12288 bytes"), "{e}");
}
