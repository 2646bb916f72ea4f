//! What the first bytes of an upload look like: the magic numbers of the formats accepted and
//! of the usual disguises, text or binary. Shared by the name-and-content check ([`super::sniff`])
//! and the checks of single files.

/// What the first bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Looks {
    Empty,
    Pcap,
    Pcapng,
    Zip,
    EmptyZip,
    Gzip,
    Tar,
    /// UTF-8 text whose first significant character is `{` or `[`.
    Json,
    Text,
    Other(&'static str),
}

impl Looks {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Looks::Empty => "nothing (the file is empty)",
            Looks::Pcap => "a pcap capture",
            Looks::Pcapng => "a pcapng capture",
            Looks::Zip => "a ZIP archive",
            Looks::EmptyZip => "an empty ZIP archive",
            Looks::Gzip => "a gzip stream",
            Looks::Tar => "a tar archive",
            Looks::Json => "JSON text",
            Looks::Text => "plain text",
            Looks::Other(what) => what,
        }
    }
}

pub(super) fn is_pcap_magic(head: &[u8]) -> bool {
    let Some(m) = head.get(..4) else { return false };
    // Microsecond, nanosecond and Kuznetzov's modified pcap, in either byte order.
    [0xa1b2_c3d4u32, 0xa1b2_3c4d, 0xa1b2_cd34]
        .iter()
        .any(|x| m == x.to_le_bytes() || m == x.to_be_bytes())
}

/// `head` as UTF-8, tolerating a character cut by the end of a partial head.
pub(super) fn utf8_prefix(head: &[u8], whole: bool) -> Result<&str, usize> {
    match std::str::from_utf8(head) {
        Ok(s) => Ok(s),
        Err(e) if e.error_len().is_none() && !whole => {
            std::str::from_utf8(head.get(..e.valid_up_to()).unwrap_or_default())
                .map_err(|e| e.valid_up_to())
        }
        Err(e) => Err(e.valid_up_to()),
    }
}

/// Text without NUL or other control characters (except tab, newlines, form feed).
pub(super) fn is_text(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

pub(super) fn looks(head: &[u8], whole: bool) -> Looks {
    const MAGICS: [(&[u8], &str); 14] = [
        (b"PK\x07\x08", "a split ZIP archive"),
        (b"%PDF", "a PDF document"),
        (b"\x7fELF", "an ELF executable"),
        (b"MZ", "a Windows executable"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"\xfd7zXZ\x00", "an xz stream"),
        (b"BZh", "a bzip2 stream"),
        (b"\x28\xb5\x2f\xfd", "a zstd stream"),
        (b"Rar!", "a RAR archive"),
        (b"dex\n", "a DEX file"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"ANDROID!", "an Android boot image"),
        (b"\x3a\xff\x26\xed", "an Android sparse image"),
    ];
    if head.is_empty() {
        return Looks::Empty;
    }
    if is_pcap_magic(head) {
        return Looks::Pcap;
    }
    if head.starts_with(b"\x0a\x0d\x0d\x0a") {
        return Looks::Pcapng;
    }
    if head.starts_with(b"PK\x03\x04") {
        return Looks::Zip;
    }
    if head.starts_with(b"PK\x05\x06") {
        return Looks::EmptyZip;
    }
    if head.starts_with(b"\x1f\x8b") {
        return Looks::Gzip;
    }
    if head.get(257..262) == Some(b"ustar") {
        return Looks::Tar;
    }
    if let Some((_, what)) = MAGICS.iter().find(|(m, _)| head.starts_with(m)) {
        return Looks::Other(what);
    }
    match utf8_prefix(head, whole) {
        Ok(s) if is_text(s) => {
            let s = s.strip_prefix('\u{feff}').unwrap_or(s);
            match s.trim_start().chars().next() {
                Some('{' | '[') => Looks::Json,
                _ => Looks::Text,
            }
        }
        _ => Looks::Other("binary data"),
    }
}

/// Why content is not of a kind: it is something else, or it is malformed.
pub(super) enum Problem {
    Looks(String),
    Bad(String),
}

pub(super) fn looks_problem(l: Looks) -> Problem {
    Problem::Looks(l.describe().to_string())
}

/// For a text kind: text in another encoding (Latin-1, UTF-16 without NULs is not text) is told
/// apart from binary data, so the uploader learns what to fix.
pub(super) fn text_problem(l: Looks, head: &[u8], whole: bool) -> Problem {
    if l == Looks::Other("binary data")
        && let Err(at) = utf8_prefix(head, whole)
    {
        let printable = head
            .iter()
            .filter(|&&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r'))
            .count();
        if !head.contains(&0) && printable * 10 >= head.len() * 9 {
            return Problem::Bad(format!("not UTF-8 text (invalid byte at {at})"));
        }
    }
    looks_problem(l)
}
