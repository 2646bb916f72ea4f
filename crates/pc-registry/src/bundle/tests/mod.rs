//! Tests of the upload checks: archives are built here (by hand, byte by byte, so hostile
//! constructions are possible) or are small fixtures made by real tools (GNU tar 1.34, Info-ZIP),
//! embedded as hex.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};

use super::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tar --format=pax -czf pax.tgz -C src .`: "./" root entry, a 126-byte path in a pax header.
const PAX_TGZ: &str = "1f8b0800000000000003eddad14edb301406e05ef729fa04ae8f8f1d938b5eec6e175cec15321209a4768952772a6f8f4155485246e4cdf1bae5ff6e4018c941e6ff0f5811db6fc5f96b5594557bdc8ad52ca49769fdf6d11b7f94d2ea15712695cda47efd3a49367ab539cff33843a7a32b5aff2829f6ba412c37857b3a543bb279467786f84ee49665ae8d546bbffa305ccd85b4d6afeadcaefff6b3c39f13dbf9f7788bb831bfcebfff7c987f52d2ae3666fe477bcf7f5bd7eeb3ef9b5a1fff70ff08d1efffe3f3d15587e87b84f73f19cde8ff14aefbbfdff0e8ffff9db8847ece3110deffca30a3ff53e8cebf37068aa689ba4778ff2b56e8ff24d0ffcbd6e5df877eae1910deffcc84fe4f6270febd19701fd154ff338dfa5f998c2cfa3f05d27ad314ee7137f8458879fa21b6ebf0794497558579f41b521c7b70ffb3548cfb9f24529dffa7fdaf68dcffca1af47f0aa4f35beaffb37067f7e11078af790c81886e21ff7ef5baff7dfe936472e1fdff58edf73542b3581fddff7d3f3ded4bd1b475a46bc0c9fc5fddff71e6ff24c0fc4f00f77fcbd6e53f76e87b26f3afc6f9d78625e67f0a6dfd7ae6e5e9c189435d56fbdd1742ae1764f0fec7cfea4759b7d1f7089fff6408efff2581fbd6651397d0dfdafb1f52e3fe3785eefc7b63a03a34ee39e21ee1fdaf32a3d0ff29e0aa75d9bafcc70e7dcf64feafdfff3086f1ff1f00000000000000000000000000408817eb5f6cbd00500000";
/// The same tree with `--format=gnu`: the long path in a `././@LongLink` header.
const GNU_TGZ: &str = "1f8b0800000000000003edd8dd4e83301806608ebd0aae00dad29f231377ce4d6c83e8225002c56c776f991c388c108d2d4cdee7a40b90b4e1e5fb56682fadc9cb387089584a88eb688dc7eb6f9a48c29424bc3f4e2951320885d3550dbad6ec9b300c1aadcdd47573e7ef54fb91ffbeaedd3d03bfc85f0ae4ef451447f153aaabe7f454bd3a9aa30f5872fe6dfe8c889b67a1cfdf0e61ea683d37369effa7fa4f17e2f6cf0726f9c8ffc7fd9f299230f47f1f56d1ff291bf77fd1efffd0ffdd5b43ff3f47e6fc1fefed3df0d5ffa7eadf9efddaffedfe8ff8b8011bafff97bc28f4c3d2ab80a50cf57fe84e4516d58dae1dcc315bff8c8fdeff13a212d4bf0f8dee53cfbaa3894a9de5c5e38ea21b6cc85b5e65ba59dff75faef0fee7c3907f5ed6e6e26a8ef9fddf387f46a944ff07000000000000f82bef955e64d200280000";
/// `zip -X -r good.zip docs/a.txt docs/`: the folder entry comes after the file inside it.
const GOOD_ZIP: &str = "504b03040a00000000006222825db390e41607000000070000000a000000646f63732f612e747874726561646d650a504b03040a00000000006222825d00000000000000000000000005000000646f63732f504b01021e030a00000000006222825db390e41607000000070000000a0000000000000001000000a48100000000646f63732f612e747874504b01021e030a00000000006222825d000000000000000000000000050000000000000000001000ed412f000000646f63732f504b050600000000020002006b000000520000000000";
/// `zip -X -y link.zip docs/a.txt docs/link` with docs/link -> /etc/passwd.
const LINK_ZIP: &str = "504b03040a00000000006222825db390e41607000000070000000a000000646f63732f612e747874726561646d650a504b03040a00000000006222825d0ab91f290b0000000b00000009000000646f63732f6c696e6b2f6574632f706173737764504b01021e030a00000000006222825db390e41607000000070000000a0000000000000001000000a48100000000646f63732f612e747874504b01021e030a00000000006222825d0ab91f290b0000000b000000090000000000000000000000ffa12f000000646f63732f6c696e6b504b050600000000020002006f000000610000000000";

/// `tar --format=gnu --owner=0 --group=0 --numeric-owner --sort=name -czf fw.tgz -C src system`
/// with system/bin/toybox, system/bin/ls -> toybox, system/bin/toybox2 a hard link to
/// system/bin/toybox and system/vendor -> /vendor.
const FIRMWARE_TGZ: &str = "1f8b0800000000000003edd5dd0a82401005e0bdee29f60ddaff799e242f8252702df2edd3d520140aa1d1c8f3ddac7833c31e678c4dacf3cb5e70522df23e9dadf1999eb523ebb53221bd271382909eb5abc135d6874aca254afda2d8e79f9d0abe6f6076fe5a298bfc17f192ff3932d548f913cdc85f0767853475d964e59da9ab01f27fe6cf76db5dc0c1b937f9d3387fab8c908aa197898de7df87be5bbb0d58c964fecdf76b7c9efff1fe77a44948bdc472daf8fc0f577ccb8b635931d598ffff37aadbff86b7addec6f307000000000000000000000080fff20057534a0c00280000";

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("fixture hex")
}

fn write_tmp(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, data).expect("write fixture");
    p
}

fn check_bytes(
    kind: UploadKind,
    data: &[u8],
    limits: &BundleLimits,
) -> Result<Listing, BundleError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_tmp(&dir, "upload", data);
    check_archive(&p, kind, limits)
}

/// Checks, then extracts into a fresh folder; both must agree. Returns the folder on success.
fn both(
    kind: UploadKind,
    data: &[u8],
    limits: &BundleLimits,
) -> Result<(Listing, tempfile::TempDir), BundleError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_tmp(&dir, "upload", data);
    let checked = check_archive(&p, kind, limits);
    let out = tempfile::tempdir().expect("tempdir");
    let extracted = extract_archive(&p, kind, out.path(), limits);
    match (checked, extracted) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "check and extract listings differ");
            Ok((b, out))
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "check and extract disagree");
            Err(b)
        }
        (a, b) => panic!("check {a:?} but extract {b:?}"),
    }
}

fn err_of(kind: UploadKind, data: &[u8]) -> BundleError {
    match both(kind, data, &BundleLimits::default()) {
        Ok((l, _)) => panic!("accepted: {l:?}"),
        Err(e) => e,
    }
}

// --- tar by hand --------------------------------------------------------------------------------

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0w$o}\0", v, w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// A POSIX ustar header; names up to 100 bytes go in `name`, longer ones are split on a '/'
/// into `prefix` as tar does.
fn header(name: &[u8], typeflag: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    if name.len() <= 100 {
        h[..name.len()].copy_from_slice(name);
    } else {
        let cut = name[..name.len() - 100].len()
            + name[name.len() - 100..]
                .iter()
                .position(|&b| b == b'/')
                .expect("splittable");
        h[345..345 + cut].copy_from_slice(&name[..cut]);
        h[..name.len() - cut - 1].copy_from_slice(&name[cut + 1..]);
    }
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    if size < 1 << 33 {
        octal(&mut h[124..136], size);
    } else {
        // GNU base-256 for sizes octal cannot hold.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut h[136..148], 0);
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    fix_checksum(&mut h);
    h
}

fn fix_checksum(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

fn pad(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(512) {
        v.push(0);
    }
}

fn entry(v: &mut Vec<u8>, name: &[u8], typeflag: u8, data: &[u8], link: &[u8]) {
    v.extend_from_slice(&header(name, typeflag, data.len() as u64, link));
    v.extend_from_slice(data);
    pad(v);
}

fn file(v: &mut Vec<u8>, name: &str, data: &[u8]) {
    entry(v, name.as_bytes(), b'0', data, b"");
}

fn end(v: &mut Vec<u8>) {
    v.extend_from_slice(&[0u8; 1024]);
}

fn pax(v: &mut Vec<u8>, typeflag: u8, records: &[(&str, &[u8])]) {
    let mut body = Vec::new();
    for (k, val) in records {
        let rest = k.len() + val.len() + 3;
        // The length counts its own digits.
        let mut len = rest + 1;
        while format!("{len}").len() + rest != len {
            len += 1;
        }
        body.extend_from_slice(format!("{len} {k}=").as_bytes());
        body.extend_from_slice(val);
        body.push(b'\n');
    }
    entry(v, b"./PaxHeaders/x", typeflag, &body, b"");
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    for (n, d) in files {
        file(&mut v, n, d);
    }
    end(&mut v);
    v
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("gz");
    e.finish().expect("gz")
}

// --- zip by hand --------------------------------------------------------------------------------

struct Z<'a> {
    name: &'a [u8],
    data: &'a [u8],
    deflate: bool,
    /// Unix st_mode, stored in the external attributes with a Unix "made by" host.
    mode: Option<u32>,
    /// Overrides the uncompressed size written in both headers.
    declared: Option<u32>,
}

fn z<'a>(name: &'a str, data: &'a [u8]) -> Z<'a> {
    Z {
        name: name.as_bytes(),
        data,
        deflate: false,
        mode: None,
        declared: None,
    }
}

fn zip_of(entries: &[Z<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for e in entries {
        let payload = if e.deflate {
            let mut d = DeflateEncoder::new(Vec::new(), Compression::best());
            d.write_all(e.data).expect("deflate");
            d.finish().expect("deflate")
        } else {
            e.data.to_vec()
        };
        let mut crc = flate2::Crc::new();
        crc.update(e.data);
        let method: u16 = if e.deflate { 8 } else { 0 };
        let usize_ = e.declared.unwrap_or(e.data.len() as u32);
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&method.to_le_bytes());
            v.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
            v.extend_from_slice(&crc.sum().to_le_bytes());
            v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            v.extend_from_slice(&usize_.to_le_bytes());
            v.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(e.name);
        out.extend_from_slice(&payload);
        cd.extend_from_slice(b"PK\x01\x02");
        let made_by: u16 = if e.mode.is_some() { 0x031e } else { 0x0014 };
        cd.extend_from_slice(&made_by.to_le_bytes());
        common(&mut cd);
        cd.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // comment len, disk, internal attrs
        cd.extend_from_slice(&(e.mode.unwrap_or(0) << 16).to_le_bytes());
        cd.extend_from_slice(&offset.to_le_bytes());
        cd.extend_from_slice(e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

mod archives;
mod hostile;
mod sniff;
