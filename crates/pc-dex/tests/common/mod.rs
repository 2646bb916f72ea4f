//! Test helpers: a tiny zip reader (to get dex files out of the fixture APKs without depending
//! on another crate of the workspace) and a synthetic DEX writer.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

/// Root of the shared fixtures.
pub fn data_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data")).to_path_buf()
}

fn le16(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}
fn le32(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize
}

/// The root-level `classes*.dex` entries of an APK, as (name, bytes), in central-directory
/// order. Test-only: panics on a broken zip.
pub fn dex_entries(apk: &[u8]) -> Vec<(String, Vec<u8>)> {
    // End of central directory: last occurrence of its signature.
    let eocd = (0..=apk.len().saturating_sub(22))
        .rev()
        .find(|&i| apk[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .expect("EOCD");
    let count = le16(apk, eocd + 10);
    let mut p = le32(apk, eocd + 16);
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(&apk[p..p + 4], &[0x50, 0x4b, 0x01, 0x02], "central header");
        let method = le16(apk, p + 10);
        let csize = le32(apk, p + 20);
        let usize_ = le32(apk, p + 24);
        let nlen = le16(apk, p + 28);
        let elen = le16(apk, p + 30);
        let clen = le16(apk, p + 32);
        let local = le32(apk, p + 42);
        let name = String::from_utf8_lossy(&apk[p + 46..p + 46 + nlen]).into_owned();
        p += 46 + nlen + elen + clen;
        let is_dex = name.starts_with("classes")
            && name.ends_with(".dex")
            && !name.contains('/')
            && name["classes".len()..name.len() - 4]
                .bytes()
                .all(|b| b.is_ascii_digit());
        if !is_dex {
            continue;
        }
        assert_eq!(
            &apk[local..local + 4],
            &[0x50, 0x4b, 0x03, 0x04],
            "local header"
        );
        let start = local + 30 + le16(apk, local + 26) + le16(apk, local + 28);
        let raw = &apk[start..start + csize];
        let bytes = match method {
            0 => raw.to_vec(),
            8 => {
                let mut v = Vec::with_capacity(usize_);
                flate2::read::DeflateDecoder::new(raw)
                    .read_to_end(&mut v)
                    .expect("inflate");
                v
            }
            m => panic!("unsupported zip method {m} for {name}"),
        };
        assert_eq!(bytes.len(), usize_, "{name} size");
        out.push((name, bytes));
    }
    out
}

/// Reads an APK fixture's dex files.
pub fn apk_dex(rel: &str) -> Vec<(String, Vec<u8>)> {
    let data = std::fs::read(data_dir().join(rel)).expect("fixture");
    dex_entries(&data)
}

// ---------------------------------------------------------------------------------------------
// Synthetic DEX writer
// ---------------------------------------------------------------------------------------------

/// A method to emit: its method_ids index, access flags and code (None: abstract).
pub struct MethodSpec {
    pub method: usize,
    pub access: u32,
    pub direct: bool,
    pub code: Option<Vec<u16>>,
}

/// A class to emit.
pub struct ClassSpec {
    pub ty: usize,
    pub superclass: Option<usize>,
    pub access: u32,
    pub methods: Vec<MethodSpec>,
}

/// Builds DEX files from tables given by the test. Strings are not sorted (the reader does not
/// require it).
#[derive(Default)]
pub struct DexBuilder {
    pub strings: Vec<String>,
    pub types: Vec<usize>,
    /// (shorty string, return type, parameter types)
    pub protos: Vec<(usize, usize, Vec<usize>)>,
    /// (class type, field type, name string)
    pub fields: Vec<(usize, usize, usize)>,
    /// (class type, proto, name string)
    pub methods: Vec<(usize, usize, usize)>,
    pub classes: Vec<ClassSpec>,
}

/// Encodes a string as MUTF-8 (NUL as C0 80, supplementary chars as surrogate pairs).
pub fn mutf8(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for u in s.encode_utf16() {
        match u {
            0x01..=0x7f => out.push(u as u8),
            0 | 0x80..=0x7ff => {
                out.push(0xc0 | (u >> 6) as u8);
                out.push(0x80 | (u & 0x3f) as u8);
            }
            _ => {
                out.push(0xe0 | (u >> 12) as u8);
                out.push(0x80 | ((u >> 6) & 0x3f) as u8);
                out.push(0x80 | (u & 0x3f) as u8);
            }
        }
    }
    out
}

fn uleb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put32(buf: &mut [u8], at: usize, v: usize) {
    buf[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
}

fn align4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

impl DexBuilder {
    /// Adds a public class with one public virtual method (`code` None: abstract), the shape
    /// most tests need.
    pub fn push_public_class(
        &mut self,
        ty: usize,
        superclass: usize,
        method: usize,
        code: Option<Vec<u16>>,
    ) {
        self.classes.push(ClassSpec {
            ty,
            superclass: Some(superclass),
            access: 1,
            methods: vec![MethodSpec {
                method,
                access: 1,
                direct: false,
                code,
            }],
        });
    }

    /// Interns a string, returning its index.
    pub fn s(&mut self, s: &str) -> usize {
        if let Some(i) = self.strings.iter().position(|x| x == s) {
            return i;
        }
        self.strings.push(s.to_string());
        self.strings.len() - 1
    }
    /// Interns a type descriptor.
    pub fn t(&mut self, d: &str) -> usize {
        let si = self.s(d);
        if let Some(i) = self.types.iter().position(|&x| x == si) {
            return i;
        }
        self.types.push(si);
        self.types.len() - 1
    }
    /// Interns a prototype from a return type and parameter types.
    pub fn p(&mut self, ret: &str, params: &[&str]) -> usize {
        let short = |d: &str| {
            if d.starts_with('L') || d.starts_with('[') {
                'L'
            } else {
                d.chars().next().unwrap()
            }
        };
        let shorty: String = std::iter::once(short(ret))
            .chain(params.iter().map(|p| short(p)))
            .collect();
        let sh = self.s(&shorty);
        let r = self.t(ret);
        let ps: Vec<usize> = params.iter().map(|p| self.t(p)).collect();
        let key = (sh, r, ps);
        if let Some(i) = self.protos.iter().position(|x| *x == key) {
            return i;
        }
        self.protos.push(key);
        self.protos.len() - 1
    }
    /// Interns a method reference.
    pub fn m(&mut self, class: &str, name: &str, ret: &str, params: &[&str]) -> usize {
        let c = self.t(class);
        let p = self.p(ret, params);
        let n = self.s(name);
        let key = (c, p, n);
        if let Some(i) = self.methods.iter().position(|x| *x == key) {
            return i;
        }
        self.methods.push(key);
        self.methods.len() - 1
    }
    /// Interns a field reference.
    pub fn f(&mut self, class: &str, name: &str, ty: &str) -> usize {
        let c = self.t(class);
        let t = self.t(ty);
        let n = self.s(name);
        let key = (c, t, n);
        if let Some(i) = self.fields.iter().position(|x| *x == key) {
            return i;
        }
        self.fields.push(key);
        self.fields.len() - 1
    }

    /// Writes the dex. `base` is where it will sit in its container (v41: offsets are relative to
    /// the container start); use 0 for standalone files. For v41, container_size is set to the
    /// end of this section; [`container`] fixes it up.
    pub fn build(&self, version: u16, base: usize) -> Vec<u8> {
        let hsize = if version >= 41 { 0x78 } else { 0x70 };
        let n_str = self.strings.len();
        let off_str = hsize;
        let off_ty = off_str + 4 * n_str;
        let off_pr = off_ty + 4 * self.types.len();
        let off_fi = off_pr + 12 * self.protos.len();
        let off_me = off_fi + 8 * self.fields.len();
        let off_cl = off_me + 8 * self.methods.len();
        let data_start = off_cl + 32 * self.classes.len();
        let mut out = vec![0u8; data_start];
        let mut map: Vec<(u16, usize, usize)> = vec![(0, 1, 0)];
        let mut push_map = |ty: u16, n: usize, off: usize| {
            if n > 0 {
                map.push((ty, n, off));
            }
        };
        push_map(1, n_str, off_str);
        push_map(2, self.types.len(), off_ty);
        push_map(3, self.protos.len(), off_pr);
        push_map(4, self.fields.len(), off_fi);
        push_map(5, self.methods.len(), off_me);
        push_map(6, self.classes.len(), off_cl);
        // string data
        for (i, s) in self.strings.iter().enumerate() {
            let at = base + out.len();
            put32(&mut out, off_str + 4 * i, at);
            uleb(&mut out, s.encode_utf16().count() as u32);
            out.extend(mutf8(s));
            out.push(0);
        }
        for (i, &si) in self.types.iter().enumerate() {
            put32(&mut out, off_ty + 4 * i, si);
        }
        for (i, (sh, r, ps)) in self.protos.iter().enumerate() {
            let mut poff = 0;
            if !ps.is_empty() {
                align4(&mut out);
                poff = base + out.len();
                out.extend((ps.len() as u32).to_le_bytes());
                for &p in ps {
                    out.extend((p as u16).to_le_bytes());
                }
            }
            put32(&mut out, off_pr + 12 * i, *sh);
            put32(&mut out, off_pr + 12 * i + 4, *r);
            put32(&mut out, off_pr + 12 * i + 8, poff);
        }
        for (i, &(c, t, n)) in self.fields.iter().enumerate() {
            out[off_fi + 8 * i..off_fi + 8 * i + 2].copy_from_slice(&(c as u16).to_le_bytes());
            out[off_fi + 8 * i + 2..off_fi + 8 * i + 4].copy_from_slice(&(t as u16).to_le_bytes());
            put32(&mut out, off_fi + 8 * i + 4, n);
        }
        for (i, &(c, p, n)) in self.methods.iter().enumerate() {
            out[off_me + 8 * i..off_me + 8 * i + 2].copy_from_slice(&(c as u16).to_le_bytes());
            out[off_me + 8 * i + 2..off_me + 8 * i + 4].copy_from_slice(&(p as u16).to_le_bytes());
            put32(&mut out, off_me + 8 * i + 4, n);
        }
        for (ci, c) in self.classes.iter().enumerate() {
            // code items
            let mut code_offs = Vec::new();
            for m in &c.methods {
                match &m.code {
                    Some(units) => {
                        align4(&mut out);
                        code_offs.push(base + out.len());
                        out.extend(4u16.to_le_bytes()); // registers
                        out.extend(1u16.to_le_bytes()); // ins
                        out.extend(2u16.to_le_bytes()); // outs
                        out.extend(0u16.to_le_bytes()); // tries
                        out.extend(0u32.to_le_bytes()); // debug info
                        out.extend((units.len() as u32).to_le_bytes());
                        for u in units {
                            out.extend(u.to_le_bytes());
                        }
                    }
                    None => code_offs.push(0),
                }
            }
            // class data: direct methods first, then virtual, each sorted by method index
            let mut direct: Vec<(usize, &MethodSpec)> = Vec::new();
            let mut virt: Vec<(usize, &MethodSpec)> = Vec::new();
            for (k, m) in c.methods.iter().enumerate() {
                if m.direct {
                    direct.push((code_offs[k], m));
                } else {
                    virt.push((code_offs[k], m));
                }
            }
            direct.sort_by_key(|x| x.1.method);
            virt.sort_by_key(|x| x.1.method);
            let cd_off = base + out.len();
            uleb(&mut out, 0);
            uleb(&mut out, 0);
            uleb(&mut out, direct.len() as u32);
            uleb(&mut out, virt.len() as u32);
            for list in [&direct, &virt] {
                let mut last = 0;
                for (code, m) in list.iter() {
                    uleb(&mut out, (m.method - last) as u32);
                    last = m.method;
                    uleb(&mut out, m.access);
                    uleb(&mut out, *code as u32);
                }
            }
            let e = off_cl + 32 * ci;
            put32(&mut out, e, c.ty);
            put32(&mut out, e + 4, c.access as usize);
            put32(&mut out, e + 8, c.superclass.unwrap_or(0xffff_ffff));
            put32(&mut out, e + 12, 0);
            put32(&mut out, e + 16, 0xffff_ffff);
            put32(&mut out, e + 20, 0);
            put32(&mut out, e + 24, cd_off);
            put32(&mut out, e + 28, 0);
        }
        align4(&mut out);
        let map_off = out.len();
        map.push((0x1000, 1, map_off));
        out.extend((map.len() as u32).to_le_bytes());
        for (ty, n, off) in &map {
            out.extend(ty.to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend((*n as u32).to_le_bytes());
            out.extend(((if *ty == 0 { 0 } else { *off }) + base).to_le_bytes()[..4].to_vec());
        }
        let total = out.len();
        out[0..8].copy_from_slice(format!("dex\n{version:03}\0").as_bytes());
        put32(&mut out, 0x20, total);
        put32(&mut out, 0x24, hsize);
        put32(&mut out, 0x28, 0x1234_5678);
        put32(&mut out, 0x34, base + map_off);
        let tables = [
            (n_str, off_str),
            (self.types.len(), off_ty),
            (self.protos.len(), off_pr),
            (self.fields.len(), off_fi),
            (self.methods.len(), off_me),
            (self.classes.len(), off_cl),
        ];
        for (k, (n, off)) in tables.iter().enumerate() {
            put32(&mut out, 0x38 + 8 * k, *n);
            put32(&mut out, 0x3c + 8 * k, if *n == 0 { 0 } else { base + off });
        }
        if version >= 41 {
            put32(&mut out, 0x70, base + total);
            put32(&mut out, 0x74, base);
        } else {
            put32(&mut out, 0x68, total - data_start);
            put32(&mut out, 0x6c, data_start);
        }
        out
    }
}

/// Concatenates v41 sections into one container, fixing every header's container_size.
pub fn container(sections: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = sections.concat();
    let total = out.len();
    let mut off = 0;
    for s in sections {
        put32(&mut out, off + 0x70, total);
        off += s.len();
    }
    out
}

// Instruction encoders (units).

/// invoke-kind {v0..} method@idx (35c), `argc` arguments.
pub fn invoke(op: u8, idx: usize, argc: u16) -> [u16; 3] {
    [(argc << 12) | op as u16, idx as u16, 0x3210]
}
/// invoke-kind/range {v0 .. v(n-1)} method@idx (3rc).
pub fn invoke_range(op: u8, idx: usize, n: u16) -> [u16; 3] {
    [(n << 8) | op as u16, idx as u16, 0]
}
/// sget-object / iget-object etc. (21c / 22c).
pub fn field_op(op: u8, idx: usize) -> [u16; 2] {
    [op as u16, idx as u16]
}
/// const-string v0, string@idx.
pub fn const_string(idx: usize) -> [u16; 2] {
    [0x1a, idx as u16]
}
/// const-string/jumbo v0, string@idx.
pub fn const_string_jumbo(idx: usize) -> [u16; 3] {
    [0x1b, idx as u16, (idx >> 16) as u16]
}
pub const RETURN_VOID: u16 = 0x000e;
pub const NOP: u16 = 0x0000;
