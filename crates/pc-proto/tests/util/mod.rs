//! A tiny pcap walker for tests: classic pcap, Ethernet (VLAN) / BSD loopback / raw IP,
//! IPv4/IPv6 (no fragments), UDP payloads and naively reassembled TCP streams.
#![allow(dead_code)]

use std::collections::BTreeMap;

pub fn fixture(rel: &str) -> Vec<u8> {
    let p = format!("{}/../../tests/data/{}", env!("CARGO_MANIFEST_DIR"), rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// (src ip, src port, dst ip, dst port) as text, for keys.
pub type Endpoints = (String, u16, String, u16);

pub struct Packet {
    pub proto: u8,
    pub ep: Endpoints,
    pub seq: u32,
    pub syn: bool,
    pub payload: Vec<u8>,
}

fn u16be(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

/// Frames of a pcapng file (little-endian sections, Enhanced Packet Blocks) with linktype.
fn pcapng_frames(file: &[u8]) -> Vec<(u32, &[u8])> {
    let rd = |i: usize| u32::from_le_bytes([file[i], file[i + 1], file[i + 2], file[i + 3]]);
    let mut linktypes = Vec::new();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 12 <= file.len() {
        let (t, len) = (rd(pos), rd(pos + 4) as usize);
        match t {
            0x0a0d0d0a => linktypes.clear(),
            1 => linktypes.push(u16::from_le_bytes([file[pos + 8], file[pos + 9]]) as u32),
            6 => {
                let ifc = rd(pos + 8) as usize;
                let cap = rd(pos + 20) as usize;
                out.push((linktypes[ifc], &file[pos + 28..pos + 28 + cap]));
            }
            _ => {}
        }
        pos += len;
    }
    out
}

pub fn packets(file: &[u8]) -> Vec<Packet> {
    if file[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        return pcapng_frames(file)
            .into_iter()
            .filter_map(|(lt, f)| frame_packet(lt, f))
            .collect();
    }
    let le = match &file[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("not a pcap"),
    };
    let rd = |b: &[u8], i: usize| {
        let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = rd(file, 20);
    let mut pos = 24;
    let mut out = Vec::new();
    while pos + 16 <= file.len() {
        let incl = rd(file, pos + 8) as usize;
        let frame = &file[pos + 16..pos + 16 + incl];
        pos += 16 + incl;
        if let Some(p) = frame_packet(linktype, frame) {
            out.push(p);
        }
    }
    out
}

fn frame_packet(linktype: u32, frame: &[u8]) -> Option<Packet> {
    {
        let ip = match linktype {
            1 => {
                let mut et = u16be(frame, 12);
                let mut off = 14;
                while et == 0x8100 || et == 0x88a8 {
                    et = u16be(frame, off + 2);
                    off += 4;
                }
                if et != 0x0800 && et != 0x86dd {
                    return None;
                }
                &frame[off..]
            }
            0 => &frame[4..],
            101 | 12 | 14 | 228 | 229 => frame,
            t => panic!("linktype {t}"),
        };
        parse_ip(ip)
    }
}

fn parse_ip(ip: &[u8]) -> Option<Packet> {
    let (proto, src, dst, l4) = match ip.first()? >> 4 {
        4 => {
            let ihl = (ip[0] & 0xf) as usize * 4;
            let total = u16be(ip, 2) as usize;
            let src = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]).to_string();
            let dst = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]).to_string();
            (ip[9], src, dst, &ip[ihl..total.min(ip.len())])
        }
        6 => {
            let plen = u16be(ip, 4) as usize;
            let a: [u8; 16] = ip[8..24].try_into().ok()?;
            let b: [u8; 16] = ip[24..40].try_into().ok()?;
            (
                ip[6],
                std::net::Ipv6Addr::from(a).to_string(),
                std::net::Ipv6Addr::from(b).to_string(),
                &ip[40..(40 + plen).min(ip.len())],
            )
        }
        _ => return None,
    };
    match proto {
        17 => Some(Packet {
            proto,
            ep: (src, u16be(l4, 0), dst, u16be(l4, 2)),
            seq: 0,
            syn: false,
            payload: l4[8..].to_vec(),
        }),
        6 => {
            let off = (l4[12] >> 4) as usize * 4;
            Some(Packet {
                proto,
                ep: (src, u16be(l4, 0), dst, u16be(l4, 2)),
                seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                syn: l4[13] & 2 != 0,
                payload: l4[off..].to_vec(),
            })
        }
        _ => None,
    }
}

/// UDP payloads in capture order with their endpoints.
pub fn udp(file: &[u8]) -> Vec<(Endpoints, Vec<u8>)> {
    packets(file)
        .into_iter()
        .filter(|p| p.proto == 17)
        .map(|p| (p.ep, p.payload))
        .collect()
}

/// TCP streams per direction, reassembled by sequence number (retransmissions dropped).
/// Also returns the chunks as they were segmented.
pub fn tcp_streams(file: &[u8]) -> BTreeMap<Endpoints, (Vec<u8>, Vec<Vec<u8>>)> {
    type Segments = (Option<u32>, Vec<(u32, Vec<u8>)>);
    let mut segs: BTreeMap<Endpoints, Segments> = BTreeMap::new();
    for p in packets(file).into_iter().filter(|p| p.proto == 6) {
        let e = segs.entry(p.ep.clone()).or_default();
        if p.syn {
            e.0 = Some(p.seq.wrapping_add(1));
        }
        if !p.payload.is_empty() {
            e.1.push((p.seq, p.payload));
        }
    }
    let mut out = BTreeMap::new();
    for (ep, (isn, mut s)) in segs {
        if s.is_empty() {
            continue;
        }
        let base = isn.unwrap_or(s[0].0);
        s.sort_by_key(|(seq, _)| seq.wrapping_sub(base));
        let mut stream = Vec::new();
        let mut chunks = Vec::new();
        for (seq, data) in s {
            let rel = seq.wrapping_sub(base) as usize;
            if rel + data.len() <= stream.len() {
                continue;
            }
            let skip = stream.len().saturating_sub(rel);
            chunks.push(data[skip..].to_vec());
            stream.extend_from_slice(&data[skip..]);
        }
        out.insert(ep, (stream, chunks));
    }
    out
}

use std::io::Write;

// Encoders for bodies made in the tests, as a phone's HTTP stack would send them.
pub fn gzip(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}
pub fn zlib(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}
pub fn raw_deflate(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}
pub fn br(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(d).unwrap();
    }
    out
}
pub fn zstd(d: &[u8]) -> Vec<u8> {
    zstd::encode_all(d, 3).unwrap()
}
