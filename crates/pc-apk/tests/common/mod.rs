//! Builders for synthetic zips, binary XML and resource tables.
#![allow(dead_code)]

pub mod bombs;

use std::io::{Cursor, Read, Seek, Write};

use pc_apk::zip::{Archive, Limits, Tail, ZipError};

pub fn crc(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("deflate");
    e.finish().expect("deflate")
}

/// Parses `data` in memory and from a file (`Tail` + `parse_file`, only the end held), asserts
/// that both give the same entries, anomalies, data ranges or error, and returns the first.
pub fn parse_both(data: &[u8]) -> Result<Archive<'_>, ZipError> {
    let mut file = Cursor::new(data);
    let mem = Archive::parse(data);
    let tail = Tail::read(&mut file, u64::MAX);
    let tail = match (&mem, tail) {
        (_, Ok(t)) => t,
        (Err(m), Err(f)) => {
            assert_eq!(m, &f, "tail error differs");
            return mem;
        }
        (Ok(_), Err(f)) => panic!("in memory ok, tail read failed: {f}"),
    };
    assert_file_agrees(&mem, &tail, &mut file, data);
    mem
}

/// The comparison behind [`parse_both`], for any file (a real one in the oracle tests).
pub fn assert_file_agrees<R: Read + Seek>(
    mem: &Result<Archive<'_>, ZipError>,
    tail: &Tail,
    file: &mut R,
    data: &[u8],
) {
    assert!(tail.len() <= data.len());
    assert_eq!(tail.offset() as usize + tail.len(), data.len());
    let got = Archive::parse_file(tail, file, Limits::default());
    match (mem, &got) {
        (Ok(m), Ok(f)) => {
            assert_eq!(m.entries(), f.entries());
            assert_eq!(m.anomalies(), f.anomalies());
            assert_eq!(m.eocd_offset(), f.eocd_offset());
            assert_eq!(m.central_directory_offset(), f.central_directory_offset());
            assert_eq!(m.central_directory_size(), f.central_directory_size());
            for e in m.entries() {
                let range = f.data_range(e);
                assert_eq!(m.data_range(e), range);
                match (m.raw_data(e), range) {
                    (Ok(raw), Ok((at, len))) => {
                        assert_eq!(raw, &data[at as usize..(at + len) as usize]);
                    }
                    (Err(_), Ok((at, len))) => {
                        // Only a range past the end of the file fails in memory.
                        assert!(at + len > data.len() as u64, "{}", e.name);
                    }
                    (_, Err(_)) => {}
                }
                // The file-parsed archive never hands out bytes it does not hold.
                if tail.offset() > 0 {
                    assert!(f.raw_data(e).is_err());
                }
            }
        }
        (Err(m), Err(f)) => assert_eq!(m, f),
        (m, f) => panic!(
            "in memory: {:?}, from the file: {:?}",
            m.as_ref().map(|a| a.entries().len()),
            f.as_ref().map(|a| a.entries().len())
        ),
    }
}

/// One entry of a synthetic zip; every field can lie.
#[derive(Clone)]
pub struct ZEntry {
    pub name: Vec<u8>,
    pub local_name: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub method: u16,
    pub crc: u32,
    pub compressed: u32,
    pub uncompressed: u32,
    pub flags: u16,
    pub local_extra: Vec<u8>,
    /// Point the central entry at this earlier entry's local header instead of writing one.
    pub share_local_with: Option<usize>,
}

impl ZEntry {
    pub fn stored(name: &str, data: &[u8]) -> ZEntry {
        ZEntry {
            name: name.as_bytes().to_vec(),
            local_name: None,
            payload: data.to_vec(),
            method: 0,
            crc: crc(data),
            compressed: data.len() as u32,
            uncompressed: data.len() as u32,
            flags: 0,
            local_extra: Vec::new(),
            share_local_with: None,
        }
    }

    pub fn deflated(name: &str, data: &[u8]) -> ZEntry {
        let c = deflate(data);
        ZEntry {
            compressed: c.len() as u32,
            payload: c,
            method: 8,
            ..ZEntry::stored(name, data)
        }
    }
}

/// Writes `prefix`, local headers + data, central directory and EOCD (with `comment`).
pub fn build_zip(prefix: &[u8], entries: &[ZEntry], comment: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let mut offsets = Vec::new();
    for e in entries {
        if let Some(i) = e.share_local_with {
            offsets.push(offsets[i]);
            continue;
        }
        offsets.push(out.len() as u32);
        let lname = e.local_name.clone().unwrap_or_else(|| e.name.clone());
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&e.flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&e.compressed.to_le_bytes());
        out.extend_from_slice(&e.uncompressed.to_le_bytes());
        out.extend_from_slice(&(lname.len() as u16).to_le_bytes());
        out.extend_from_slice(&(e.local_extra.len() as u16).to_le_bytes());
        out.extend_from_slice(&lname);
        out.extend_from_slice(&e.local_extra);
        out.extend_from_slice(&e.payload);
    }
    let cd = out.len() as u32;
    for (e, off) in entries.iter().zip(&offsets) {
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&e.flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&e.compressed.to_le_bytes());
        out.extend_from_slice(&e.uncompressed.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 4]); // extra, comment lengths
        out.extend_from_slice(&[0; 8]); // disk, internal, external attrs
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&e.name);
    }
    let cd_size = out.len() as u32 - cd;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd.to_le_bytes());
    out.extend_from_slice(&(comment.len() as u16).to_le_bytes());
    out.extend_from_slice(comment);
    out
}

/// The fields local and central headers of [`zip64_zip`]'s entry share, from the flags to the
/// extra length: stored, no flags, CRC of `content`, both sizes saturated, a 1-byte name.
fn zip64_header_middle(out: &mut Vec<u8>, content: &[u8], extra_len: u16) {
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&crc(content).to_le_bytes());
    out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
    out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&extra_len.to_le_bytes());
}

/// A one-entry Zip64 archive named "z" after `prefix`: saturated 32-bit fields everywhere, the
/// real values in the Zip64 extra fields and end record.
pub fn zip64_zip(prefix: &[u8], content: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let lho = prefix.len() as u64;
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&45u16.to_le_bytes());
    zip64_header_middle(&mut out, content, 20);
    out.push(b'z');
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(&(content.len() as u64).to_le_bytes());
    out.extend_from_slice(&(content.len() as u64).to_le_bytes());
    out.extend_from_slice(content);
    let cd = out.len() as u64;
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&45u16.to_le_bytes());
    out.extend_from_slice(&45u16.to_le_bytes());
    zip64_header_middle(&mut out, content, 28);
    out.extend_from_slice(&[0; 10]); // comment length, disk, attributes
    out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
    out.push(b'z');
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&(content.len() as u64).to_le_bytes());
    out.extend_from_slice(&(content.len() as u64).to_le_bytes());
    out.extend_from_slice(&lho.to_le_bytes());
    let cd_size = out.len() as u64 - cd;
    let z64 = out.len() as u64;
    out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
    out.extend_from_slice(&44u64.to_le_bytes());
    out.extend_from_slice(&45u16.to_le_bytes());
    out.extend_from_slice(&45u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&1u64.to_le_bytes());
    out.extend_from_slice(&1u64.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd.to_le_bytes());
    out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&z64.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&0xffffu16.to_le_bytes());
    out.extend_from_slice(&0xffffu16.to_le_bytes());
    out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
    out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A raw deflate stream (fixed Huffman) inflating to 1 + 258 * `matches` zero bytes: one literal
/// then `matches` copies of length 258 at distance 1 (13 bits each, ~1:159 ratio).
pub fn zero_bomb(matches: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, v: u32, len: u32) {
            self.acc |= u64::from(v) << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// Huffman codes are sent most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            let mut r = 0;
            for i in 0..len {
                r |= ((code >> i) & 1) << (len - 1 - i);
            }
            self.put(r, len);
        }
    }
    let mut b = Bits {
        out: Vec::with_capacity(matches * 13 / 8 + 16),
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // fixed Huffman
    b.code(0x30, 8); // literal 0
    for _ in 0..matches {
        b.code(0xc5, 8); // length code 285 (=258): 11000101
        b.code(0, 5); // distance code 0 (=1)
    }
    b.code(0, 7); // end of block (256)
    b.put(0, 7);
    b.out
}

/// A tiny binary XML writer.
pub struct Axml {
    pub strings: Vec<String>,
    pub res_ids: Vec<u32>,
    body: Vec<u8>,
    pub utf8: bool,
}

pub const ANDROID_NS: &str = "http://schemas.android.com/apk/res/android";

pub enum AV<'a> {
    Str(&'a str),
    Int(u32),
    Bool(bool),
    Ref(u32),
}

impl Axml {
    /// `attr_ids`: resource IDs of attribute names, interned first so the resource map covers
    /// them (as aapt does).
    pub fn new(attr_ids: &[(&str, u32)], utf8: bool) -> Axml {
        let mut a = Axml {
            strings: Vec::new(),
            res_ids: Vec::new(),
            body: Vec::new(),
            utf8,
        };
        for (n, id) in attr_ids {
            a.strings.push(n.to_string());
            a.res_ids.push(*id);
        }
        a
    }

    pub fn s(&mut self, s: &str) -> u32 {
        if let Some(i) = self
            .strings
            .iter()
            .skip(self.res_ids.len())
            .position(|x| x == s)
        {
            return (i + self.res_ids.len()) as u32;
        }
        self.strings.push(s.to_string());
        (self.strings.len() - 1) as u32
    }

    fn node(&mut self, ty: u16, ext: &[u8]) {
        self.body.extend_from_slice(&ty.to_le_bytes());
        self.body.extend_from_slice(&16u16.to_le_bytes());
        self.body
            .extend_from_slice(&(16 + ext.len() as u32).to_le_bytes());
        self.body.extend_from_slice(&1u32.to_le_bytes());
        self.body.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
        self.body.extend_from_slice(ext);
    }

    pub fn ns(&mut self, prefix: &str, uri: &str) {
        let (p, u) = (self.s(prefix), self.s(uri));
        let mut ext = p.to_le_bytes().to_vec();
        ext.extend_from_slice(&u.to_le_bytes());
        self.node(0x0100, &ext);
    }

    /// attrs: (namespace uri or "", name string index, value)
    pub fn start(&mut self, name: &str, attrs: &[(&str, u32, AV<'_>)]) {
        let n = self.s(name);
        let mut ext = Vec::new();
        ext.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
        ext.extend_from_slice(&n.to_le_bytes());
        ext.extend_from_slice(&20u16.to_le_bytes());
        ext.extend_from_slice(&20u16.to_le_bytes());
        ext.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
        ext.extend_from_slice(&[0; 6]);
        for (ns, name_idx, v) in attrs {
            let ns = if ns.is_empty() {
                0xffff_ffff
            } else {
                self.s(ns)
            };
            let (raw, ty, data) = match v {
                AV::Str(s) => {
                    let i = self.s(s);
                    (i, 0x03u8, i)
                }
                AV::Int(i) => (0xffff_ffff, 0x10, *i),
                AV::Bool(b) => (0xffff_ffff, 0x12, if *b { 0xffff_ffff } else { 0 }),
                AV::Ref(r) => (0xffff_ffff, 0x01, *r),
            };
            ext.extend_from_slice(&ns.to_le_bytes());
            ext.extend_from_slice(&name_idx.to_le_bytes());
            ext.extend_from_slice(&raw.to_le_bytes());
            ext.extend_from_slice(&8u16.to_le_bytes());
            ext.push(0);
            ext.push(ty);
            ext.extend_from_slice(&data.to_le_bytes());
        }
        self.node(0x0102, &ext);
    }

    pub fn text(&mut self, t: &str) {
        let i = self.s(t);
        let mut ext = i.to_le_bytes().to_vec();
        ext.extend_from_slice(&8u16.to_le_bytes());
        ext.push(0);
        ext.push(0);
        ext.extend_from_slice(&0u32.to_le_bytes());
        self.node(0x0104, &ext);
    }

    pub fn end(&mut self, name: &str) {
        let n = self.s(name);
        let mut ext = 0xffff_ffffu32.to_le_bytes().to_vec();
        ext.extend_from_slice(&n.to_le_bytes());
        self.node(0x0103, &ext);
    }

    pub fn finish(&self) -> Vec<u8> {
        let pool = string_pool(&self.strings, self.utf8);
        let mut map = Vec::new();
        map.extend_from_slice(&0x0180u16.to_le_bytes());
        map.extend_from_slice(&8u16.to_le_bytes());
        map.extend_from_slice(&(8 + 4 * self.res_ids.len() as u32).to_le_bytes());
        for id in &self.res_ids {
            map.extend_from_slice(&id.to_le_bytes());
        }
        let total = 8 + pool.len() + map.len() + self.body.len();
        let mut out = Vec::new();
        out.extend_from_slice(&0x0003u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&pool);
        out.extend_from_slice(&map);
        out.extend_from_slice(&self.body);
        out
    }
}

/// A ResStringPool chunk.
pub fn string_pool(strings: &[String], utf8: bool) -> Vec<u8> {
    let mut data = Vec::new();
    let mut offsets = Vec::new();
    for s in strings {
        offsets.push(data.len() as u32);
        if utf8 {
            let chars = s.encode_utf16().count();
            assert!(chars < 0x80 && s.len() < 0x80, "test strings are short");
            data.push(chars as u8);
            data.push(s.len() as u8);
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        } else {
            let units: Vec<u16> = s.encode_utf16().collect();
            data.extend_from_slice(&(units.len() as u16).to_le_bytes());
            for u in units {
                data.extend_from_slice(&u.to_le_bytes());
            }
            data.extend_from_slice(&[0, 0]);
        }
    }
    while data.len() % 4 != 0 {
        data.push(0);
    }
    let strings_start = 28 + 4 * strings.len() as u32;
    let size = strings_start + data.len() as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001u16.to_le_bytes());
    out.extend_from_slice(&28u16.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(if utf8 { 1u32 << 8 } else { 0 }).to_le_bytes());
    out.extend_from_slice(&strings_start.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&data);
    out
}

/// A resources.arsc with package 0x7f and one type (id `type_id`) whose entries are string
/// values, each given for `(config language or "", entry index, string)`.
pub fn build_arsc(type_id: u8, values: &[(&str, u16, &str)], sparse: bool) -> Vec<u8> {
    let strings: Vec<String> = values.iter().map(|v| v.2.to_string()).collect();
    let pool = string_pool(&strings, true);
    let mut langs: Vec<&str> = values.iter().map(|v| v.0).collect();
    langs.dedup();
    let mut types = Vec::new();
    for lang in langs {
        let here: Vec<(usize, u16)> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.0 == lang)
            .map(|(i, v)| (i, v.1))
            .collect();
        let count = here.iter().map(|h| h.1 + 1).max().unwrap_or(0) as u32;
        let mut config = vec![0u8; 64];
        config[0..4].copy_from_slice(&64u32.to_le_bytes());
        if !lang.is_empty() {
            config[8..10].copy_from_slice(lang.as_bytes());
        }
        let header = 20 + 64;
        let mut table = Vec::new();
        let mut entries = Vec::new();
        if sparse {
            for (k, (_, idx)) in here.iter().enumerate() {
                table.extend_from_slice(&idx.to_le_bytes());
                table.extend_from_slice(&((k * 16 / 4) as u16).to_le_bytes());
            }
        } else {
            for e in 0..count {
                match here.iter().position(|h| u32::from(h.1) == e) {
                    Some(k) => table.extend_from_slice(&((k * 16) as u32).to_le_bytes()),
                    None => table.extend_from_slice(&0xffff_ffffu32.to_le_bytes()),
                }
            }
        }
        for (si, _) in &here {
            entries.extend_from_slice(&8u16.to_le_bytes());
            entries.extend_from_slice(&0u16.to_le_bytes());
            entries.extend_from_slice(&0u32.to_le_bytes()); // key index
            entries.extend_from_slice(&8u16.to_le_bytes());
            entries.push(0);
            entries.push(0x03);
            entries.extend_from_slice(&(*si as u32).to_le_bytes());
        }
        let entries_start = header + table.len();
        let mut t = Vec::new();
        t.extend_from_slice(&0x0201u16.to_le_bytes());
        t.extend_from_slice(&(header as u16).to_le_bytes());
        t.extend_from_slice(&((entries_start + entries.len()) as u32).to_le_bytes());
        t.push(type_id);
        t.push(if sparse { 1 } else { 0 });
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(&(if sparse { here.len() as u32 } else { count }).to_le_bytes());
        t.extend_from_slice(&(entries_start as u32).to_le_bytes());
        t.extend_from_slice(&config);
        t.extend_from_slice(&table);
        t.extend_from_slice(&entries);
        types.extend_from_slice(&t);
    }
    let mut pkg = Vec::new();
    let pkg_header = 288usize;
    pkg.extend_from_slice(&0x0200u16.to_le_bytes());
    pkg.extend_from_slice(&(pkg_header as u16).to_le_bytes());
    pkg.extend_from_slice(&((pkg_header + types.len()) as u32).to_le_bytes());
    pkg.extend_from_slice(&0x7fu32.to_le_bytes());
    let mut name = [0u8; 256];
    for (i, u) in "com.example".encode_utf16().enumerate() {
        name[i * 2..i * 2 + 2].copy_from_slice(&u.to_le_bytes());
    }
    pkg.extend_from_slice(&name);
    pkg.resize(pkg_header, 0);
    pkg.extend_from_slice(&types);
    let mut out = Vec::new();
    out.extend_from_slice(&0x0002u16.to_le_bytes());
    out.extend_from_slice(&12u16.to_le_bytes());
    out.extend_from_slice(&((12 + pool.len() + pkg.len()) as u32).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&pool);
    out.extend_from_slice(&pkg);
    out
}
