//! Hostile zips built inside tests without ever holding what they inflate to: entries of
//! hundreds of MB that compress to a few hundred KB, and David Fifield's overlapping-entry zip
//! bomb. Self-contained (only `flate2`), so other crates' tests include it by path.
#![allow(dead_code)]

use std::io::Write;

/// One entry as it goes into the archive: already compressed (`method` 8) or stored (0).
#[derive(Clone)]
pub struct RawEntry {
    pub name: String,
    pub method: u16,
    pub raw: Vec<u8>,
    pub crc: u32,
    pub len: u64,
}

impl RawEntry {
    /// `data`, deflated.
    pub fn deflated(name: &str, data: &[u8]) -> RawEntry {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).expect("deflate");
        RawEntry {
            name: name.into(),
            method: 8,
            raw: e.finish().expect("deflate"),
            crc: crc_of(data),
            len: data.len() as u64,
        }
    }

    /// `data`, stored.
    pub fn stored(name: &str, data: &[u8]) -> RawEntry {
        RawEntry {
            name: name.into(),
            method: 0,
            raw: data.to_vec(),
            crc: crc_of(data),
            len: data.len() as u64,
        }
    }

    /// `head` followed by zero bytes up to `len` in all, deflated a MiB at a time.
    pub fn padded(name: &str, head: &[u8], len: u64) -> RawEntry {
        let (raw, crc) = deflate_padded(head, len);
        RawEntry {
            name: name.into(),
            method: 8,
            raw,
            crc: crc.sum(),
            len,
        }
    }
}

pub fn crc_of(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// The raw deflate stream and the CRC of `head` + zeros up to `len` bytes.
pub fn deflate_padded(head: &[u8], len: u64) -> (Vec<u8>, flate2::Crc) {
    assert!(head.len() as u64 <= len);
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let mut crc = flate2::Crc::new();
    e.write_all(head).expect("deflate");
    crc.update(head);
    let zeros = vec![0u8; 1 << 20];
    let mut left = len - head.len() as u64;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        e.write_all(&zeros[..k]).expect("deflate");
        crc.update(&zeros[..k]);
        left -= k as u64;
    }
    (e.finish().expect("deflate"), crc)
}

fn local_header(name: &str, method: u16, crc: u32, compressed: u64, len: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(30 + name.len());
    h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    h.extend_from_slice(&20u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&method.to_le_bytes());
    h.extend_from_slice(&[0; 4]);
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(&(compressed as u32).to_le_bytes());
    h.extend_from_slice(&(len as u32).to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    h
}

fn central_entry(out: &mut Vec<u8>, e: (&str, u16, u32, u64, u64), offset: u64) {
    let (name, method, crc, compressed, len) = e;
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&method.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(compressed as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 12]); // extra and comment lengths, disk, attributes
    out.extend_from_slice(&(offset as u32).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
}

fn end_record(out: &mut Vec<u8>, count: usize, cd: u64) {
    let cd_size = out.len() as u64 - cd;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(count as u16).to_le_bytes());
    out.extend_from_slice(&(count as u16).to_le_bytes());
    out.extend_from_slice(&(cd_size as u32).to_le_bytes());
    out.extend_from_slice(&(cd as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
}

/// An honest zip of these entries.
pub fn zip_of(entries: &[RawEntry]) -> Vec<u8> {
    overlap_bomb(entries, &[], 0)
}

/// `before` as honest entries, then Fifield's full-overlap bomb: entries `names` whose data
/// are `Q(LFH[i+1]) LFH[i+1] … Q(LFH[n]) LFH[n] KERNEL`, each `Q` a non-final stored deflate
/// block quoting the next local header, `KERNEL` one final deflate stream of `kernel_len` zero
/// bytes. Every entry is a valid deflate stream with a valid CRC; entry i inflates to the
/// later headers plus the kernel, so n entries inflate the one kernel n times.
pub fn overlap_bomb(before: &[RawEntry], names: &[&str], kernel_len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in before {
        central.push((
            (e.name.clone(), e.method, e.crc, e.raw.len() as u64, e.len),
            out.len() as u64,
        ));
        out.extend_from_slice(&local_header(
            &e.name,
            e.method,
            e.crc,
            e.raw.len() as u64,
            e.len,
        ));
        out.extend_from_slice(&e.raw);
    }
    if !names.is_empty() {
        let (kernel, kernel_crc) = deflate_padded(&[], kernel_len);
        let n = names.len();
        let header_len: Vec<u64> = names.iter().map(|s| 30 + s.len() as u64).collect();
        // Built from the last entry back: an entry's CRC covers the headers after it.
        let mut headers: Vec<Vec<u8>> = vec![Vec::new(); n];
        let mut sizes = vec![(0u32, 0u64, 0u64); n];
        for i in (0..n).rev() {
            let quoted: u64 = header_len[i + 1..].iter().sum();
            let len = quoted + kernel_len;
            let compressed = quoted + 5 * (n - 1 - i) as u64 + kernel.len() as u64;
            let mut crc = flate2::Crc::new();
            for h in &headers[i + 1..] {
                crc.update(h);
            }
            crc.combine(&kernel_crc);
            headers[i] = local_header(names[i], 8, crc.sum(), compressed, len);
            sizes[i] = (crc.sum(), compressed, len);
        }
        for i in 0..n {
            let (crc, compressed, len) = sizes[i];
            central.push((
                (names[i].to_string(), 8, crc, compressed, len),
                out.len() as u64,
            ));
            out.extend_from_slice(&headers[i]);
            if i + 1 < n {
                let q = header_len[i + 1] as u16;
                out.push(0); // BFINAL 0, BTYPE 00 (stored), padded to the byte
                out.extend_from_slice(&q.to_le_bytes());
                out.extend_from_slice(&(!q).to_le_bytes());
            }
        }
        out.extend_from_slice(&kernel);
    }
    let cd = out.len() as u64;
    let count = central.len();
    for ((name, method, crc, compressed, len), offset) in central {
        central_entry(&mut out, (&name, method, crc, compressed, len), offset);
    }
    end_record(&mut out, count, cd);
    out
}
