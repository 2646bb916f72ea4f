//! Test-only ZIP reader implementing `ApkEntries` (central-directory walk + inflate), and the
//! one way the tests verify an APK file with it.
#![allow(dead_code)]

use pc_apksig::{ApkEntries, Report, VerifyOptions, verify};
use std::io::Read;
use std::path::Path;

/// Verifies the APK at `path` for the given SDK levels, with every other option at its default.
pub fn verify_file(path: &Path, min_sdk: u32, target_sdk: Option<u32>) -> Report {
    let data = std::fs::read(path).unwrap();
    let entries = ZipEntries::new(&data);
    verify(
        &data,
        &entries,
        &VerifyOptions {
            min_sdk,
            target_sdk,
            ..Default::default()
        },
    )
}

pub struct ZipEntries<'a> {
    data: &'a [u8],
    entries: Vec<(String, u16, u64, u64, u64)>, // name, method, comp size, uncomp size, lfh offset
}

fn u16le(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}
fn u32le(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> ZipEntries<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let mut entries = Vec::new();
        if let Ok(offs) = pc_apksig::find_zip_offsets(data) {
            let mut p = offs.central_directory_offset as usize;
            let end = offs.eocd_offset as usize;
            while p + 46 <= end && u32le(data, p) == Some(0x0201_4b50) {
                let method = u16le(data, p + 10).unwrap_or(0);
                let csize = u32le(data, p + 20).unwrap_or(0) as u64;
                let usize_ = u32le(data, p + 24).unwrap_or(0) as u64;
                let nlen = u16le(data, p + 28).unwrap_or(0) as usize;
                let xlen = u16le(data, p + 30).unwrap_or(0) as usize;
                let clen = u16le(data, p + 32).unwrap_or(0) as usize;
                let lfh = u32le(data, p + 42).unwrap_or(0) as u64;
                let Some(name) = data.get(p + 46..p + 46 + nlen) else {
                    break;
                };
                entries.push((
                    String::from_utf8_lossy(name).into_owned(),
                    method,
                    csize,
                    usize_,
                    lfh,
                ));
                p += 46 + nlen + xlen + clen;
            }
        }
        ZipEntries { data, entries }
    }
}

impl ApkEntries for ZipEntries<'_> {
    fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.0.clone()).collect()
    }
    fn read(&self, name: &str, limit: u64) -> Option<Vec<u8>> {
        let (_, method, csize, usize_, lfh) = self.entries.iter().find(|e| e.0 == name)?;
        if *usize_ > limit {
            return None;
        }
        let lfh = *lfh as usize;
        if u32le(self.data, lfh)? != 0x0403_4b50 {
            return None;
        }
        let nlen = u16le(self.data, lfh + 26)? as usize;
        let xlen = u16le(self.data, lfh + 28)? as usize;
        let start = lfh + 30 + nlen + xlen;
        let comp = self.data.get(start..start.checked_add(*csize as usize)?)?;
        match method {
            0 => Some(comp.to_vec()),
            8 => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(comp)
                    .take(limit + 1)
                    .read_to_end(&mut out)
                    .ok()?;
                (out.len() as u64 <= limit).then_some(out)
            }
            _ => None,
        }
    }
}
