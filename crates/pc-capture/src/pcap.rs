//! Classic libpcap files: micro/nanosecond magic, both byte orders, and the modified (Kuznetzov)
//! variant with 24-byte record headers.

use crate::{CaptureError, ErrorKind, Fill, RawPacket, Shared, Source};

const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
/// Alexey Kuznetzov's patched libpcap: microseconds, 8 extra bytes per record header.
const MAGIC_KUZNETZOV: u32 = 0xa1b2_cd34;
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
const KUZNETZOV_EXTRA: u64 = 8;
/// The link-layer header type occupies the low bits; the high bits carry FCS information.
const LINKTYPE_MASK: u32 = 0x03ff_ffff;

/// True if `m` (first four bytes of a file) is a pcap magic in either byte order.
pub(crate) fn is_magic(m: [u8; 4]) -> bool {
    [MAGIC_USEC, MAGIC_NSEC, MAGIC_KUZNETZOV]
        .iter()
        .any(|&x| m == x.to_le_bytes() || m == x.to_be_bytes())
}

/// Decoder state after the file header.
pub(crate) struct PcapState {
    big_endian: bool,
    /// Nanoseconds per unit of the fractional timestamp field.
    frac_ns: i64,
    extra: u64,
    linktype: u32,
}

impl PcapState {
    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let x = b
            .get(at..at.saturating_add(4))
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .unwrap_or_default();
        if self.big_endian {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }

    /// Reads and validates the 24-byte file header.
    pub(crate) fn read_header(src: &mut Source, sh: &Shared) -> Result<Self, CaptureError> {
        let mut h = [0u8; FILE_HEADER_LEN];
        match src.fill(&mut h).map_err(|e| sh.err(0, e.into()))? {
            Fill::Full => {}
            Fill::Eof | Fill::Partial => return Err(sh.err(0, ErrorKind::Truncated)),
        }
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let be = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let (big_endian, magic) = if [MAGIC_USEC, MAGIC_NSEC, MAGIC_KUZNETZOV].contains(&le) {
            (false, le)
        } else if [MAGIC_USEC, MAGIC_NSEC, MAGIC_KUZNETZOV].contains(&be) {
            (true, be)
        } else {
            return Err(sh.err(0, ErrorKind::BadMagic));
        };
        let mut st = PcapState {
            big_endian,
            frac_ns: if magic == MAGIC_NSEC { 1 } else { 1_000 },
            extra: if magic == MAGIC_KUZNETZOV {
                KUZNETZOV_EXTRA
            } else {
                0
            },
            linktype: 0,
        };
        st.linktype = st.u32(&h, 20) & LINKTYPE_MASK;
        Ok(st)
    }

    /// Reads the next record into `sh.buf`.
    pub(crate) fn next(
        &mut self,
        src: &mut Source,
        sh: &mut Shared,
    ) -> Result<Option<RawPacket>, CaptureError> {
        let offset = src.pos();
        let mut h = [0u8; RECORD_HEADER_LEN];
        match src.fill(&mut h).map_err(|e| sh.err(offset, e.into()))? {
            Fill::Full => {}
            Fill::Eof => return Ok(None),
            Fill::Partial => return Err(sh.err(offset, ErrorKind::Truncated)),
        }
        let sec = self.u32(&h, 0);
        let frac = self.u32(&h, 4);
        let incl = self.u32(&h, 8);
        let orig = self.u32(&h, 12);
        if incl > sh.limits.max_record {
            return Err(sh.err(
                offset,
                ErrorKind::Oversized {
                    len: u64::from(incl),
                    max: u64::from(sh.limits.max_record),
                },
            ));
        }
        if self.extra > 0 && !src.skip(self.extra).map_err(|e| sh.err(offset, e.into()))? {
            return Err(sh.err(offset, ErrorKind::Truncated));
        }
        let len = incl as usize;
        if !src
            .fill_vec(&mut sh.buf, len)
            .map_err(|e| sh.err(offset, e.into()))?
        {
            return Err(sh.err(offset, ErrorKind::Truncated));
        }
        // ts_sec is unsigned in the current pcap specification.
        let ts = i64::from(sec)
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(frac).saturating_mul(self.frac_ns));
        Ok(Some(RawPacket {
            ts,
            linktype: self.linktype,
            start: 0,
            len,
            orig_len: orig,
            interface: 0,
            offset,
            comment: None,
        }))
    }
}
