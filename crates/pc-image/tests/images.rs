//! Sparse, super, ext4, vbmeta and package opening, checked against what independent readers
//! (libsparse's simg2img, PyPI liblp's lpunpack, debugfs, fsck.erofs) report on the same
//! fixtures (tests/data/images, made by scripts/make-firmware-images.sh).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pc_image::ext4::Ext4Fs;
use pc_image::lp::{PartitionSource, Super};
use pc_image::open::{OpenOptions, open};
use pc_image::sparse::Sparse;
use pc_image::{FileSource, Kind, MemSource, NodeId, ReadAt, Source, Tree};
use sha2::{Digest, Sha256};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/images")
        .join(rel)
}

fn file(rel: &str) -> Source {
    Arc::new(FileSource::open(&data(rel), rel).unwrap())
}

fn all(src: &dyn ReadAt) -> Vec<u8> {
    src.read_vec(0, src.size() as usize).unwrap()
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[test]
fn sparse_expands_as_libsparse_writes() {
    // hello.img is 16386 bytes: the sparse image holds whole blocks, the tail being zeros.
    let s = all(&Sparse::open(file("sparse/hello.simg")).unwrap());
    let raw = std::fs::read(data("sparse/hello.img")).unwrap();
    assert_eq!(s.len(), raw.len().div_ceil(4096) * 4096);
    assert_eq!(sha(&s[..raw.len()]), sha(&raw));
    assert!(s[raw.len()..].iter().all(|&b| b == 0));
    let crc = Sparse::open(file("sparse/crc.simg")).unwrap();
    assert_eq!(crc.verify().unwrap(), 1);
    let bad = Sparse::open(file("sparse/invalid_crc.simg")).unwrap();
    let e = bad.verify().unwrap_err();
    assert!(e.what.contains("CRC32") && e.offset > 0, "{e}");
    // simg2img's expansion of the firmware fixture.
    let s = Sparse::open(file("firmware/super.simg")).unwrap();
    let want = std::fs::read_to_string(data("firmware/simg2img.sha256")).unwrap();
    assert_eq!(sha(&all(&s)), want.trim());
}

fn super_img() -> (Source, Super) {
    let s: Source = Arc::new(Sparse::open(file("firmware/super.simg")).unwrap());
    let sup = Super::open(s.as_ref()).unwrap();
    (s, sup)
}

#[test]
fn super_partitions_are_what_lpunpack_extracts() {
    let (s, sup) = super_img();
    let oracle: BTreeMap<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(data("firmware/super.lpunpack.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sup.version, (10, 2));
    assert_eq!(sup.slot_count, 2);
    let mut got = BTreeMap::new();
    for p in &sup.partitions {
        let ps = PartitionSource::new(s.clone(), p).unwrap();
        got.insert(format!("{}.img", p.name), (ps.size(), sha(&all(&ps))));
    }
    let want: BTreeMap<String, (u64, String)> = oracle
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (
                    v["size"].as_u64().unwrap(),
                    v["sha256"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// `path TAB sha256|dir|link TARGET` of every node, sorted: the listing format of the oracle.
fn listing(t: &dyn Tree) -> String {
    let mut lines = Vec::new();
    let mut stack: Vec<(NodeId, String)> = vec![(t.root(), String::new())];
    while let Some((id, dir)) = stack.pop() {
        for e in t.list(id).unwrap() {
            let path = if dir.is_empty() {
                e.name.clone()
            } else {
                format!("{dir}/{}", e.name)
            };
            if path == "lost+found" {
                continue;
            }
            match &e.kind {
                Kind::Dir => {
                    lines.push(format!("{path}\tdir"));
                    stack.push((e.id, path));
                }
                Kind::File { .. } => {
                    lines.push(format!("{path}\t{}", sha(&t.read(e.id, 1 << 30).unwrap())))
                }
                Kind::Symlink(to) => lines.push(format!("{path}\tlink {to}")),
                Kind::Other => {}
            }
        }
    }
    lines.sort_by(|a, b| {
        let k = |l: &str| l.split('\t').next().unwrap_or_default().to_string();
        k(a).cmp(&k(b))
    });
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn ext4_reads_as_debugfs_dumps() {
    let (s, sup) = super_img();
    let p = sup
        .partitions
        .iter()
        .find(|p| p.name == "vendor_a")
        .unwrap();
    let fs = Ext4Fs::open(Arc::new(PartitionSource::new(s, p).unwrap())).unwrap();
    assert_eq!(
        listing(&fs),
        std::fs::read_to_string(data("firmware/vendor.listing")).unwrap()
    );
}

#[test]
fn vbmeta_facts_and_hash_checks() {
    let v = pc_image::avb::Vbmeta::parse(
        &std::fs::read(data("firmware/vbmeta.img")).unwrap(),
        "vbmeta",
    )
    .unwrap();
    assert_eq!(v.algorithm, "SHA256_RSA4096");
    assert_eq!(
        v.public_key_sha1.as_deref(),
        Some("2597c218aae470a130f61162feaae70afd97f011")
    );
    assert_eq!((v.flags, v.rollback_index), (2, 7));
    assert!(v.verification_disabled());
    assert_eq!(v.hashtrees, ["system"]);
    assert_eq!(v.properties[0].0, "com.android.build.system.fingerprint");
    let (s, sup) = super_img();
    let part = |n: &str| {
        let p = sup.partitions.iter().find(|p| p.name == n).unwrap();
        PartitionSource::new(s.clone(), p).unwrap()
    };
    let h = |n: &str| v.hashes.iter().find(|h| h.partition == n).unwrap();
    assert!(h("vendor").check(&part("vendor_a")).unwrap());
    // Hashed before one byte changed: must not match.
    assert!(!h("product").check(&part("product_a")).unwrap());
}

/// A ustar archive of `(name, bytes)`.
fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, body) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{:011o}", body.len()).as_bytes());
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A zip of stored entries.
fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let (mut out, mut cd) = (Vec::new(), Vec::new());
    for (name, body) in files {
        let crc = crc32fast::hash(body);
        let at = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(body.len() as u32).to_le_bytes());
            v.extend_from_slice(&(body.len() as u32).to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&[0, 0]);
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(body);
        cd.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        cd.extend_from_slice(&[20, 3]);
        common(&mut cd);
        cd.extend_from_slice(&[0; 6]);
        cd.extend_from_slice(&0o100644u32.wrapping_shl(16).to_le_bytes());
        cd.extend_from_slice(&at.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
    }
    let cd_at = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_at.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

fn mounted(paths: &[PathBuf]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let fw = open(paths, &OpenOptions::default());
    let names = fw.mounts.names().iter().map(|s| s.to_string()).collect();
    let vb = fw.vbmeta.iter().map(|(n, _)| n.clone()).collect();
    (names, vb, fw.errors.iter().map(|e| e.to_string()).collect())
}

#[test]
fn packages_open_to_the_same_partitions() {
    let simg = std::fs::read(data("firmware/super.simg")).unwrap();
    let vbmeta = std::fs::read(data("firmware/vbmeta.img")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, b: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let loose = vec![data("firmware/super.simg"), data("firmware/vbmeta.img")];
    let want = mounted(&loose);
    assert_eq!(want.0, ["product", "system", "vendor"], "{:?}", want.2);
    assert_eq!(want.1, ["vbmeta"]);
    assert!(want.2.is_empty(), "{:?}", want.2);
    let files: &[(&str, &[u8])] = &[
        ("a1-factory/images/super.img", &simg),
        ("a1-factory/images/vbmeta.img", &vbmeta),
        (
            "a1-factory/flash-all.sh",
            b"fastboot flash super super.img\n",
        ),
    ];
    let t = tar(files);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&t).unwrap();
    let mut lz = lz4_flex::frame::FrameEncoder::new(Vec::new());
    lz.write_all(&simg).unwrap();
    let samsung = tar(&[
        ("super.img.lz4", &lz.finish().unwrap()),
        ("vbmeta.img", &vbmeta),
    ]);
    let mut md5 = samsung.clone();
    md5.extend_from_slice(b"0123456789abcdef0123456789abcdef  AP_A1.tar\n");
    let cases = [
        ("factory.tar", t.clone()),
        ("factory.tgz", gz.finish().unwrap()),
        ("factory.zip", zip(files)),
        ("AP_A1.tar.md5", md5),
    ];
    for (name, bytes) in cases {
        let got = mounted(&[put(name, &bytes)]);
        assert_eq!(got, want, "{name}");
    }
    // An unzipped package: a folder of images.
    let unzipped = dir.path().join("unzipped");
    std::fs::create_dir(&unzipped).unwrap();
    std::fs::write(unzipped.join("super.img"), &simg).unwrap();
    std::fs::write(unzipped.join("vbmeta.img"), &vbmeta).unwrap();
    assert_eq!(mounted(&[unzipped]), want);
}

#[test]
fn refusals_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let f2fs = zstd::decode_all(&std::fs::read(data("f2fs/f2fs.img.zst")).unwrap()[..]).unwrap();
    let p = dir.path().join("userdata.img");
    std::fs::write(&p, f2fs).unwrap();
    let (_, _, e) = mounted(&[p]);
    assert!(
        e.len() == 1 && e[0].contains("F2FS") && e[0].contains("userdata"),
        "{e:?}"
    );
    let p = dir.path().join("CPH2451.ozip");
    std::fs::write(&p, b"OPPOENCRYPT!\x00\x01garbage").unwrap();
    let (_, _, e) = mounted(&[p]);
    assert!(e[0].contains(".ozip is encrypted"), "{e:?}");
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, b"hello").unwrap();
    let (_, _, e) = mounted(&[p]);
    assert!(e[0].contains("not a firmware image"), "{e:?}");
}

#[test]
fn hostile_containers_give_errors_not_panics() {
    let simg = std::fs::read(data("firmware/super.simg")).unwrap();
    let sup = all(&Sparse::open(file("firmware/super.simg")).unwrap());
    let meta = sup[..1 << 20].to_vec();
    // Cut anywhere in the headers and tables, and flip bytes of them.
    for cut in (0..8192)
        .step_by(97)
        .chain([28, 40, 4096 + 52, 12288 + 128])
    {
        let _ = Sparse::open(Arc::new(MemSource::new(
            "cut.simg",
            simg[..cut.min(simg.len())].to_vec(),
        )));
        let m = MemSource::new("cut-super", meta[..cut.min(meta.len())].to_vec());
        if let Err(e) = Super::open(&m) {
            assert!(!e.what.is_empty());
        }
    }
    for at in (0..300).chain(4096..4200).chain(12288..12288 + 700) {
        for bit in [0x01u8, 0x80] {
            let mut m = meta.clone();
            m[at] ^= bit;
            let src: Source = Arc::new(MemSource::new("flip-super", m));
            if let Ok(s) = Super::open(src.as_ref()) {
                for p in &s.partitions {
                    if let Ok(ps) = PartitionSource::new(src.clone(), p) {
                        let mut b = [0u8; 64];
                        let _ = ps.read_at(0, &mut b);
                    }
                }
            }
            let mut sp = simg.clone();
            sp[at % 200] ^= bit;
            if let Ok(s) = Sparse::open(Arc::new(MemSource::new("flip.simg", sp))) {
                let mut b = vec![0u8; 8192];
                let _ = s.read_at(s.size().saturating_sub(8192), &mut b);
            }
        }
    }
}
