//! pcapng block reader: sections in either byte order, interfaces with their own link type,
//! timestamp resolution and offset, packet blocks (EPB, SPB, obsolete PB), Decryption Secrets
//! Blocks, comments and PCAPdroid custom blocks. Unknown blocks are skipped without buffering.

use std::sync::Arc;

use crate::{
    CaptureError, DecryptionSecret, ErrorKind, Fill, RawPacket, Shared, Source, pcapdroid,
};

/// Section Header Block type; a byte palindrome, so it reads the same in both byte orders.
pub(crate) const SHB_TYPE: u32 = 0x0a0d_0d0a;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const IDB_TYPE: u32 = 0x0000_0001;
const PB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;
const DSB_TYPE: u32 = 0x0000_000a;
const CB_TYPE: u32 = 0x0000_0bad;
const CB_NOCOPY_TYPE: u32 = 0x4000_0bad;

/// Smallest block: type, length, trailing length.
const MIN_BLOCK: u32 = 12;
/// Smallest SHB: type, length, magic, version, section length, trailing length.
const MIN_SHB: u32 = 28;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Packet-data offset inside the body of an EPB or PB.
const PACKET_DATA_AT: usize = 20;

/// Timestamp resolution of an interface.
#[derive(Debug, Clone, Copy)]
enum Resolution {
    /// 10^-n seconds.
    Dec(u8),
    /// 2^-n seconds.
    Bin(u8),
}

#[derive(Debug, Clone)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    resolution: Resolution,
    /// if_tsoffset: seconds added to every timestamp.
    offset_s: i64,
}

/// Decoder state: byte order of the current section and its interfaces.
pub(crate) struct PcapNgState {
    big_endian: bool,
    interfaces: Vec<Interface>,
}

/// Reads a u16/u32/u64 at `at` in the given byte order; zero when out of range (callers check
/// lengths first, this only keeps hostile input from panicking).
fn rd<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..at.saturating_add(N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

fn u16_at(b: &[u8], at: usize, be: bool) -> u16 {
    let x = rd::<2>(b, at);
    if be {
        u16::from_be_bytes(x)
    } else {
        u16::from_le_bytes(x)
    }
}

fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let x = rd::<4>(b, at);
    if be {
        u32::from_be_bytes(x)
    } else {
        u32::from_le_bytes(x)
    }
}

fn i64_at(b: &[u8], at: usize, be: bool) -> i64 {
    let x = rd::<8>(b, at);
    if be {
        i64::from_be_bytes(x)
    } else {
        i64::from_le_bytes(x)
    }
}

fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Iterates `(code, value)` over an options area, stopping at opt_endofopt or at the first
/// option that does not fit (options are advisory: a damaged one never fails the packet).
fn options(b: &[u8], be: bool) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at.saturating_add(4) > b.len() {
            return None;
        }
        let code = u16_at(b, at, be);
        let len = usize::from(u16_at(b, at.saturating_add(2), be));
        if code == OPT_END {
            return None;
        }
        let start = at.saturating_add(4);
        let value = b.get(start..start.saturating_add(len))?;
        at = start.saturating_add(pad4(len));
        Some((code, value))
    })
}

/// Decodes a UTF-8 option string, dropping NUL padding some writers leave in.
fn opt_string(v: &[u8]) -> String {
    let end = v
        .iter()
        .rposition(|&c| c != 0)
        .map_or(0, |i| i.saturating_add(1));
    String::from_utf8_lossy(v.get(..end).unwrap_or_default()).into_owned()
}

/// Converts a raw timestamp in `res` units to nanoseconds, saturating.
fn to_ns(units: u64, res: Resolution) -> i64 {
    let u = i128::from(units);
    let ns = match res {
        Resolution::Dec(n) if n <= 9 => u.saturating_mul(10i128.pow(9 - u32::from(n))),
        Resolution::Dec(n) => 10i128.checked_pow(u32::from(n) - 9).map_or(0, |d| u / d),
        // n <= 127, and units * 1e9 < 2^94, so the shift cannot overflow.
        Resolution::Bin(n) => u.saturating_mul(1_000_000_000) >> n.min(127),
    };
    i64::try_from(ns).unwrap_or(i64::MAX)
}

enum Block {
    Packet(RawPacket),
    Other,
    Eof,
}

impl PcapNgState {
    /// Reads the first Section Header Block so that errors and section comments surface at open.
    pub(crate) fn start(src: &mut Source, sh: &mut Shared) -> Result<Self, CaptureError> {
        let mut st = PcapNgState {
            big_endian: false,
            interfaces: Vec::new(),
        };
        match st.block(src, sh, true)? {
            Block::Other => Ok(st),
            // `block` only accepts an SHB first, which is never a packet.
            Block::Packet(_) | Block::Eof => Err(sh.err(0, ErrorKind::Truncated)),
        }
    }

    /// Returns the next packet block, skipping everything else.
    pub(crate) fn next(
        &mut self,
        src: &mut Source,
        sh: &mut Shared,
    ) -> Result<Option<RawPacket>, CaptureError> {
        loop {
            match self.block(src, sh, false)? {
                Block::Packet(p) => return Ok(Some(p)),
                Block::Other => {}
                Block::Eof => return Ok(None),
            }
        }
    }

    fn block(
        &mut self,
        src: &mut Source,
        sh: &mut Shared,
        first: bool,
    ) -> Result<Block, CaptureError> {
        let offset = src.pos();
        let io = |e: std::io::Error| CaptureError::new(&sh.name, offset, e.into());
        let mut hdr = [0u8; 8];
        match src.fill(&mut hdr).map_err(io)? {
            Fill::Full => {}
            Fill::Eof if !first => return Ok(Block::Eof),
            Fill::Eof | Fill::Partial => return Err(sh.err(offset, ErrorKind::Truncated)),
        }
        let raw_type = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let is_shb = raw_type == SHB_TYPE;
        if first && !is_shb {
            return Err(sh.err(offset, ErrorKind::BadMagic));
        }
        let mut pre = 8usize;
        if is_shb {
            // The byte-order magic decides how to read the length we already have.
            let mut m = [0u8; 4];
            match src.fill(&mut m).map_err(io)? {
                Fill::Full => {}
                Fill::Eof | Fill::Partial => return Err(sh.err(offset, ErrorKind::Truncated)),
            }
            self.big_endian = if u32::from_le_bytes(m) == BYTE_ORDER_MAGIC {
                false
            } else if u32::from_be_bytes(m) == BYTE_ORDER_MAGIC {
                true
            } else {
                return Err(sh.err(offset, ErrorKind::Malformed("bad byte-order magic")));
            };
            pre = 12;
        }
        let be = self.big_endian;
        let btype = if is_shb {
            SHB_TYPE
        } else {
            u32_at(&hdr, 0, be)
        };
        let len = u32_at(&hdr, 4, be);
        let min = if is_shb { MIN_SHB } else { MIN_BLOCK };
        if len < min {
            return Err(sh.err(offset, ErrorKind::Malformed("block length too small")));
        }
        if !len.is_multiple_of(4) {
            return Err(sh.err(
                offset,
                ErrorKind::Malformed("block length not a multiple of 4"),
            ));
        }
        let buffered = matches!(
            btype,
            SHB_TYPE
                | IDB_TYPE
                | PB_TYPE
                | SPB_TYPE
                | EPB_TYPE
                | DSB_TYPE
                | CB_TYPE
                | CB_NOCOPY_TYPE
        );
        if !buffered {
            // Unknown or uninteresting block: skip it without buffering, then check its trailer.
            let body = u64::from(len).saturating_sub(12);
            if !src.skip(body).map_err(io)? {
                return Err(sh.err(offset, ErrorKind::Truncated));
            }
            let mut t = [0u8; 4];
            match src.fill(&mut t).map_err(io)? {
                Fill::Full => {}
                Fill::Eof | Fill::Partial => return Err(sh.err(offset, ErrorKind::Truncated)),
            }
            if u32_at(&t, 0, be) != len {
                return Err(sh.err(
                    offset,
                    ErrorKind::Malformed("block trailer length mismatch"),
                ));
            }
            return Ok(Block::Other);
        }
        if len > sh.limits.max_block {
            return Err(sh.err(
                offset,
                ErrorKind::Oversized {
                    len: u64::from(len),
                    max: u64::from(sh.limits.max_block),
                },
            ));
        }
        // Everything after what was already read, including the trailing length.
        let rest = (len as usize).saturating_sub(pre);
        if !src.fill_vec(&mut sh.buf, rest).map_err(io)? {
            return Err(sh.err(offset, ErrorKind::Truncated));
        }
        let body_len = rest.saturating_sub(4);
        if u32_at(&sh.buf, body_len, be) != len {
            return Err(sh.err(
                offset,
                ErrorKind::Malformed("block trailer length mismatch"),
            ));
        }
        sh.buf.truncate(body_len);
        match btype {
            SHB_TYPE => self.section(sh, offset).map(|()| Block::Other),
            IDB_TYPE => self.interface(sh, offset).map(|()| Block::Other),
            EPB_TYPE | PB_TYPE => self.packet(sh, offset, btype).map(Block::Packet),
            SPB_TYPE => self.simple_packet(sh, offset).map(Block::Packet),
            DSB_TYPE => secrets(sh, offset, be).map(|()| Block::Other),
            _ => {
                custom(sh, be);
                Ok(Block::Other)
            }
        }
    }

    /// SHB body (after the byte-order magic): version, section length, options.
    fn section(&mut self, sh: &mut Shared, offset: u64) -> Result<(), CaptureError> {
        let be = self.big_endian;
        if u16_at(&sh.buf, 0, be) != 1 {
            return Err(sh.err(
                offset,
                ErrorKind::Malformed("unsupported pcapng major version"),
            ));
        }
        // A new section starts a new interface list.
        self.interfaces.clear();
        let comments: Vec<String> = options(sh.buf.get(12..).unwrap_or_default(), be)
            .filter(|(c, _)| *c == OPT_COMMENT)
            .map(|(_, v)| opt_string(v))
            .collect();
        comments.into_iter().for_each(|c| sh.add_comment(c));
        Ok(())
    }

    fn interface(&mut self, sh: &mut Shared, offset: u64) -> Result<(), CaptureError> {
        let be = self.big_endian;
        if sh.buf.len() < 8 {
            return Err(sh.err(offset, ErrorKind::Malformed("interface block too short")));
        }
        if self.interfaces.len() >= sh.limits.max_interfaces {
            return Err(sh.err(
                offset,
                ErrorKind::Oversized {
                    len: self.interfaces.len() as u64 + 1,
                    max: sh.limits.max_interfaces as u64,
                },
            ));
        }
        let mut intf = Interface {
            linktype: u32::from(u16_at(&sh.buf, 0, be)),
            snaplen: u32_at(&sh.buf, 4, be),
            resolution: Resolution::Dec(6),
            offset_s: 0,
        };
        let mut comments = Vec::new();
        for (code, v) in options(sh.buf.get(8..).unwrap_or_default(), be) {
            match code {
                OPT_COMMENT => comments.push(opt_string(v)),
                IF_TSRESOL => {
                    if let Some(&r) = v.first() {
                        intf.resolution = if r & 0x80 != 0 {
                            Resolution::Bin(r & 0x7f)
                        } else {
                            Resolution::Dec(r)
                        };
                    }
                }
                IF_TSOFFSET if v.len() == 8 => intf.offset_s = i64_at(v, 0, be),
                _ => {}
            }
        }
        comments.into_iter().for_each(|c| sh.add_comment(c));
        self.interfaces.push(intf);
        Ok(())
    }

    fn lookup(&self, sh: &Shared, offset: u64, id: u32) -> Result<&Interface, CaptureError> {
        self.interfaces.get(id as usize).ok_or_else(|| {
            sh.err(
                offset,
                ErrorKind::Malformed("packet refers to an undefined interface"),
            )
        })
    }

    /// Enhanced Packet Block, or the obsolete Packet Block (16-bit interface id).
    fn packet(&self, sh: &Shared, offset: u64, btype: u32) -> Result<RawPacket, CaptureError> {
        let be = self.big_endian;
        let b = &sh.buf;
        if b.len() < PACKET_DATA_AT {
            return Err(sh.err(offset, ErrorKind::Malformed("packet block too short")));
        }
        let id = if btype == PB_TYPE {
            u32::from(u16_at(b, 0, be))
        } else {
            u32_at(b, 0, be)
        };
        let units = (u64::from(u32_at(b, 4, be)) << 32) | u64::from(u32_at(b, 8, be));
        let caplen = u32_at(b, 12, be);
        let orig_len = u32_at(b, 16, be);
        if caplen > sh.limits.max_record {
            return Err(sh.err(
                offset,
                ErrorKind::Oversized {
                    len: u64::from(caplen),
                    max: u64::from(sh.limits.max_record),
                },
            ));
        }
        let len = caplen as usize;
        if PACKET_DATA_AT.saturating_add(len) > b.len() {
            return Err(sh.err(
                offset,
                ErrorKind::Malformed("captured length exceeds block"),
            ));
        }
        let intf = self.lookup(sh, offset, id)?;
        let ts = to_ns(units, intf.resolution)
            .saturating_add(intf.offset_s.saturating_mul(1_000_000_000));
        let opts_at = PACKET_DATA_AT.saturating_add(pad4(len)).min(b.len());
        let mut comment: Option<String> = None;
        for (code, v) in options(b.get(opts_at..).unwrap_or_default(), be) {
            if code == OPT_COMMENT {
                let c = opt_string(v);
                match &mut comment {
                    Some(all) => {
                        all.push('\n');
                        all.push_str(&c);
                    }
                    None => comment = Some(c),
                }
            }
        }
        Ok(RawPacket {
            ts,
            linktype: intf.linktype,
            start: PACKET_DATA_AT,
            len,
            orig_len,
            interface: id,
            offset,
            comment,
        })
    }

    /// Simple Packet Block: interface 0, no timestamp; captured length is bounded by the
    /// original length, the block and the interface snaplen.
    fn simple_packet(&self, sh: &Shared, offset: u64) -> Result<RawPacket, CaptureError> {
        let be = self.big_endian;
        let b = &sh.buf;
        if b.len() < 4 {
            return Err(sh.err(
                offset,
                ErrorKind::Malformed("simple packet block too short"),
            ));
        }
        let intf = self.lookup(sh, offset, 0)?;
        let orig_len = u32_at(b, 0, be);
        let mut cap = u64::from(orig_len).min((b.len() - 4) as u64);
        if intf.snaplen != 0 {
            cap = cap.min(u64::from(intf.snaplen));
        }
        if cap > u64::from(sh.limits.max_record) {
            return Err(sh.err(
                offset,
                ErrorKind::Oversized {
                    len: cap,
                    max: u64::from(sh.limits.max_record),
                },
            ));
        }
        Ok(RawPacket {
            ts: 0,
            linktype: intf.linktype,
            start: 4,
            len: cap as usize,
            orig_len,
            interface: 0,
            offset,
            comment: None,
        })
    }
}

/// Decryption Secrets Block: type, length, secrets.
fn secrets(sh: &mut Shared, offset: u64, be: bool) -> Result<(), CaptureError> {
    if sh.buf.len() < 8 {
        return Err(sh.err(offset, ErrorKind::Malformed("secrets block too short")));
    }
    let secrets_type = u32_at(&sh.buf, 0, be);
    let len = u32_at(&sh.buf, 4, be) as usize;
    let Some(data) = sh.buf.get(8..8usize.saturating_add(len)) else {
        return Err(sh.err(offset, ErrorKind::Malformed("secrets length exceeds block")));
    };
    let total = sh.secrets_total.saturating_add(len);
    if total > sh.limits.max_secrets_total {
        return Err(sh.err(
            offset,
            ErrorKind::Oversized {
                len: total as u64,
                max: sh.limits.max_secrets_total as u64,
            },
        ));
    }
    let data = data.to_vec();
    sh.secrets_total = total;
    sh.secrets.push(DecryptionSecret { secrets_type, data });
    Ok(())
}

/// Custom Block: only PCAPdroid's UID mapping is understood; anything else is ignored.
fn custom(sh: &mut Shared, be: bool) {
    if u32_at(&sh.buf, 0, be) != pcapdroid::PEN {
        return;
    }
    let Some(map) = pcapdroid::parse_uid_map(sh.buf.get(4..).unwrap_or_default(), be) else {
        return;
    };
    if sh.apps.len() >= sh.limits.max_apps && !sh.apps.contains_key(&map.uid) {
        return;
    }
    let name = if map.package.is_empty() {
        map.app
    } else {
        map.package
    };
    if !name.is_empty() {
        sh.apps.insert(map.uid, Arc::from(name.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::{Resolution, to_ns};

    #[test]
    fn resolutions() {
        assert_eq!(to_ns(1_500_000, Resolution::Dec(6)), 1_500_000_000);
        assert_eq!(to_ns(7, Resolution::Dec(0)), 7_000_000_000);
        assert_eq!(to_ns(5_000, Resolution::Dec(12)), 5);
        assert_eq!(to_ns(u64::MAX, Resolution::Dec(127)), 0);
        assert_eq!(to_ns(1 << 20, Resolution::Bin(20)), 1_000_000_000);
        assert_eq!(to_ns(u64::MAX, Resolution::Bin(127)), 0);
        assert_eq!(to_ns(u64::MAX, Resolution::Bin(0)), i64::MAX);
        assert_eq!(to_ns(u64::MAX, Resolution::Dec(0)), i64::MAX);
    }
}
