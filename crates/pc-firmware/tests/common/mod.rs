//! Test helpers: a minimal DEX class/string lister, a stored-zip writer, a tiny binary
//! manifest writer, and stub analyzers for the pc-dex / pc-apksig seams.
#![allow(dead_code)]

use std::collections::BTreeMap;

use pc_apk::zip::Archive;
use pc_firmware::{CodeAnalyzer, CodeFacts, IdentifierCall, SignatureVerifier, SigningSummary};

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

fn u32_at(d: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn uleb(d: &[u8], mut o: usize) -> Option<usize> {
    for _ in 0..5 {
        let b = *d.get(o)?;
        o += 1;
        if b & 0x80 == 0 {
            return Some(o);
        }
    }
    None
}

/// String `idx` of a DEX file (MUTF-8 read as UTF-8, lossy).
fn dex_string(d: &[u8], idx: u32) -> Option<String> {
    let ids = u32_at(d, 0x3c)? as usize;
    let off = u32_at(d, ids.checked_add(idx as usize * 4)?)? as usize;
    let start = uleb(d, off)?;
    let len = d.get(start..)?.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&d[start..start + len]).into_owned())
}

fn dex_type(d: &[u8], idx: u32) -> Option<String> {
    if idx == u32::MAX || idx >= u32_at(d, 0x40)? {
        return None;
    }
    let types = u32_at(d, 0x44)? as usize;
    dex_string(d, u32_at(d, types.checked_add(idx as usize * 4)?)?)
}

/// Classes defined in a DEX file plus their superclasses and interfaces (descriptors).
pub fn dex_class_names(d: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if !d.starts_with(b"dex\n") {
        return out;
    }
    let (Some(n), Some(off)) = (u32_at(d, 0x60), u32_at(d, 0x64)) else {
        return out;
    };
    for i in 0..n.min(1 << 20) as usize {
        let base = off as usize + i * 32;
        let Some(ci) = u32_at(d, base) else { break };
        out.extend(dex_type(d, ci));
        if let Some(s) = u32_at(d, base + 8) {
            out.extend(dex_type(d, s));
        }
        if let Some(io) = u32_at(d, base + 12).filter(|&x| x != 0) {
            let cnt = u32_at(d, io as usize).unwrap_or(0).min(1024) as usize;
            for k in 0..cnt {
                let p = io as usize + 4 + 2 * k;
                if let Some(b) = d.get(p..p + 2) {
                    out.extend(dex_type(d, u32::from(u16::from_le_bytes([b[0], b[1]]))));
                }
            }
        }
    }
    out
}

/// Every string of a DEX file.
pub fn dex_strings(d: &[u8]) -> Vec<String> {
    let n = u32_at(d, 0x38).unwrap_or(0).min(1 << 22);
    (0..n).filter_map(|i| dex_string(d, i)).collect()
}

/// `classes*.dex` of an APK.
pub fn apk_dex(apk: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Ok(a) = Archive::parse(apk) else {
        return Vec::new();
    };
    a.entries()
        .iter()
        .filter(|e| e.name.starts_with("classes") && e.name.ends_with(".dex"))
        .filter_map(|e| a.read(e, 256 << 20).ok().map(|b| (e.name.clone(), b)))
        .collect()
}

/// Code analyzer stub: classes and strings from the minimal lister; identifier calls
/// injected for classes under given package prefixes (the real ones come from pc-dex).
#[derive(Default)]
pub struct StubCode {
    pub calls_for_prefix: BTreeMap<String, IdentifierCall>,
}

impl CodeAnalyzer for StubCode {
    fn add_dex(&self, _: &str, d: &[u8], f: &mut CodeFacts) {
        f.class_names.extend(dex_class_names(d));
        f.strings.extend(dex_strings(d));
    }

    fn finish(&self, f: &mut CodeFacts) {
        for (prefix, call) in &self.calls_for_prefix {
            if f.class_names.iter().any(|c| c.starts_with(prefix.as_str())) {
                f.identifier_calls.push(call.clone());
            }
        }
    }
}

/// Signature stub: certificate by package name (`cert:<package>` unless mapped).
#[derive(Default)]
pub struct StubSig {
    pub certs: BTreeMap<String, String>,
}

impl SignatureVerifier for StubSig {
    fn verify(&self, _: &[u8], archive: &Archive<'_>, _: Option<u32>) -> SigningSummary {
        let Ok(m) = pc_apk::manifest::from_archive(archive) else {
            return SigningSummary::default();
        };
        let p = m.manifest.package;
        let cert = self
            .certs
            .get(&p)
            .cloned()
            .unwrap_or_else(|| format!("cert:{p}"));
        SigningSummary {
            verified: true,
            schemes: vec![("v2".into(), true)],
            certificates: vec![cert],
            ..SigningSummary::default()
        }
    }
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A zip with stored entries.
pub fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for (name, data) in entries {
        let off = out.len() as u32;
        let crc = crc32(data);
        let mut common = Vec::new();
        common.extend_from_slice(&0u16.to_le_bytes()); // flags
        common.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        common.extend_from_slice(&[0; 4]); // time, date
        common.extend_from_slice(&crc.to_le_bytes());
        common.extend_from_slice(&(data.len() as u32).to_le_bytes());
        common.extend_from_slice(&(data.len() as u32).to_le_bytes());
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(&0u16.to_le_bytes()); // extra
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        cd.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        cd.extend_from_slice(&20u16.to_le_bytes());
        cd.extend_from_slice(&20u16.to_le_bytes());
        cd.extend_from_slice(&common);
        cd.extend_from_slice(&[0; 12]); // extra, comment, disk, attrs
        cd.extend_from_slice(&off.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A binary `AndroidManifest.xml`: `<manifest package=…><uses-permission android:name=…/>
/// <application android:hasCode=…/></manifest>`.
pub fn manifest_axml(package: &str, perms: &[&str], has_code: bool) -> Vec<u8> {
    const NS: &str = "http://schemas.android.com/apk/res/android";
    // Attribute names first so the resource map covers them.
    let mut strings: Vec<String> = vec!["name".into(), "hasCode".into()];
    let ids = [0x0101_0003u32, 0x0101_000c];
    let idx = |s: &str, strings: &mut Vec<String>| -> u32 {
        if let Some(i) = strings.iter().skip(ids.len()).position(|x| x == s) {
            return (i + ids.len()) as u32;
        }
        strings.push(s.to_string());
        (strings.len() - 1) as u32
    };
    let mut body = Vec::new();
    let node = |body: &mut Vec<u8>, ty: u16, ext: &[u8]| {
        body.extend_from_slice(&ty.to_le_bytes());
        body.extend_from_slice(&16u16.to_le_bytes());
        body.extend_from_slice(&(16 + ext.len() as u32).to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        body.extend_from_slice(ext);
    };
    let (p, u) = (idx("android", &mut strings), idx(NS, &mut strings));
    let nsx = [p.to_le_bytes(), u.to_le_bytes()].concat();
    node(&mut body, 0x0100, &nsx);
    // attrs: (namespaced, name idx, string value or bool)
    let start = |body: &mut Vec<u8>, name: u32, attrs: &[(bool, u32, Result<u32, bool>)]| {
        let mut ext = Vec::new();
        ext.extend_from_slice(&u32::MAX.to_le_bytes());
        ext.extend_from_slice(&name.to_le_bytes());
        ext.extend_from_slice(&20u16.to_le_bytes());
        ext.extend_from_slice(&20u16.to_le_bytes());
        ext.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
        ext.extend_from_slice(&[0; 6]);
        for (namespaced, n, v) in attrs {
            ext.extend_from_slice(&(if *namespaced { u } else { u32::MAX }).to_le_bytes());
            ext.extend_from_slice(&n.to_le_bytes());
            let (raw, ty, data) = match v {
                Ok(s) => (*s, 0x03u8, *s),
                Err(b) => (u32::MAX, 0x12, if *b { u32::MAX } else { 0 }),
            };
            ext.extend_from_slice(&raw.to_le_bytes());
            ext.extend_from_slice(&8u16.to_le_bytes());
            ext.extend_from_slice(&[0, ty]);
            ext.extend_from_slice(&data.to_le_bytes());
        }
        node(body, 0x0102, &ext);
    };
    let end = |body: &mut Vec<u8>, name: u32| {
        node(
            body,
            0x0103,
            &[u32::MAX.to_le_bytes(), name.to_le_bytes()].concat(),
        );
    };
    let (m, pk, pv) = (
        idx("manifest", &mut strings),
        idx("package", &mut strings),
        idx(package, &mut strings),
    );
    start(&mut body, m, &[(false, pk, Ok(pv))]);
    let up = idx("uses-permission", &mut strings);
    for perm in perms {
        let v = idx(perm, &mut strings);
        start(&mut body, up, &[(true, 0, Ok(v))]);
        end(&mut body, up);
    }
    let app = idx("application", &mut strings);
    start(&mut body, app, &[(true, 1, Err(has_code))]);
    end(&mut body, app);
    end(&mut body, m);
    node(&mut body, 0x0101, &nsx);
    // String pool (UTF-8).
    let mut data = Vec::new();
    let mut offs = Vec::new();
    for s in &strings {
        offs.push(data.len() as u32);
        data.push(s.chars().count() as u8);
        data.push(s.len() as u8);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    }
    while data.len() % 4 != 0 {
        data.push(0);
    }
    let ss = 28 + 4 * strings.len() as u32;
    let mut pool = Vec::new();
    pool.extend_from_slice(&1u16.to_le_bytes());
    pool.extend_from_slice(&28u16.to_le_bytes());
    pool.extend_from_slice(&(ss + data.len() as u32).to_le_bytes());
    pool.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    pool.extend_from_slice(&0u32.to_le_bytes());
    pool.extend_from_slice(&(1u32 << 8).to_le_bytes());
    pool.extend_from_slice(&ss.to_le_bytes());
    pool.extend_from_slice(&0u32.to_le_bytes());
    for o in offs {
        pool.extend_from_slice(&o.to_le_bytes());
    }
    pool.extend_from_slice(&data);
    let mut map = Vec::new();
    map.extend_from_slice(&0x0180u16.to_le_bytes());
    map.extend_from_slice(&8u16.to_le_bytes());
    map.extend_from_slice(&(8 + 4 * ids.len() as u32).to_le_bytes());
    for id in ids {
        map.extend_from_slice(&id.to_le_bytes());
    }
    let total = 8 + pool.len() + map.len() + body.len();
    let mut out = Vec::new();
    out.extend_from_slice(&3u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&pool);
    out.extend_from_slice(&map);
    out.extend_from_slice(&body);
    out
}

/// All fixture APKs (relative path under tests/data/apk, bytes), sorted.
pub fn fixture_apks() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let root = std::path::Path::new(DATA).join("apk");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for d in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let rel = f
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, std::fs::read(&f).unwrap()));
        }
    }
    out
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/apk/{rel}")).unwrap()
}
