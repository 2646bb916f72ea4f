//! Derivation of the forms an identifier may travel in: separator and case variants, URL and
//! base64 encodings (including base64 substrings at all three alignments), hex, and digests.

use crate::ident::{GeoPoint, Identifier, IdentifierKind, IdentifierValue};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use md5::Md5;
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// Values shorter than this (in bytes, after normalisation) would match nearly everywhere.
pub const MIN_VALUE_LEN: usize = 6;
/// Longer values are refused so the automaton stays bounded.
pub const MAX_VALUE_LEN: usize = 4096;

/// Why an identifier produced no patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Index into `Matcher::identifiers()`.
    pub ident: usize,
    /// Static reason, e.g. "value shorter than 6 bytes".
    pub reason: &'static str,
}

/// Which half of a location a pattern stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Part {
    Whole,
    Lat,
    Lon,
}

/// Context a match must satisfy in the searched bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Boundary {
    None,
    /// No ASCII digit right before or after.
    Digits,
    /// A decimal degree: no digit, '.' (or '-' for positive values) right before.
    Decimal,
    /// A base64 substring: the characters right before/after it must carry the value's
    /// remaining bits: `(mask, bits)` over the 6-bit value of the neighbouring character.
    Base64 {
        before: Option<(u8, u8)>,
        after: Option<(u8, u8)>,
    },
}

/// One derived pattern before deduplication.
#[derive(Debug, Clone)]
pub(crate) struct FormPattern {
    pub bytes: Vec<u8>,
    /// Base64 and raw-byte forms are case-sensitive; text and hex forms are not.
    pub case_sensitive: bool,
    pub boundary: Boundary,
    pub ident: usize,
    /// Outermost first, e.g. `["sha1-hex", "mac-bare"]`.
    pub chain: Vec<&'static str>,
    pub part: Part,
}

/// A normalised variant of a value, and which encodings to derive from it.
struct Variant {
    /// Outermost first; empty for the canonical form ("plain").
    chain: Vec<&'static str>,
    bytes: Vec<u8>,
    /// Insert the variant itself (case-insensitively unless `binary`).
    plain: bool,
    /// Raw bytes (a UUID's 16 bytes, a MAC's 6): matched case-sensitively, only plain+base64.
    binary: bool,
    /// Derive url/base64/hex/digest forms.
    encode: bool,
    /// Derive raw base64 forms. Off for digit strings that are a prefix of a longer valid
    /// number (IMEI without check digit): in base64 the digit boundary cannot be checked, so
    /// only the base64 decoding layer (which checks it) reports those.
    base64: bool,
}

impl Variant {
    fn text(chain: Vec<&'static str>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            chain,
            bytes: bytes.into(),
            plain: true,
            binary: false,
            encode: true,
            base64: true,
        }
    }
    /// A case variant: only its encodings differ from the (case-insensitive) plain form.
    fn case(chain: Vec<&'static str>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            plain: false,
            ..Self::text(chain, bytes)
        }
    }
    /// A truncated digit string (see `base64`).
    fn prefix(chain: Vec<&'static str>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            base64: false,
            ..Self::text(chain, bytes)
        }
    }
    fn binary(chain: Vec<&'static str>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            chain,
            bytes: bytes.into(),
            plain: true,
            binary: true,
            encode: false,
            base64: true,
        }
    }
}

/// Derive all patterns for `ids`; identifiers that cannot be searched are listed in the second
/// vector.
pub(crate) fn derive(ids: &[Identifier]) -> (Vec<FormPattern>, Vec<Skipped>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (idx, id) in ids.iter().enumerate() {
        let res = match &id.value {
            IdentifierValue::Location(p) => location_patterns(idx, p, &mut out),
            IdentifierValue::Text(t) if id.kind == IdentifierKind::Location => {
                match parse_lat_lon(t) {
                    Some(p) => location_patterns(idx, &p, &mut out),
                    None => Err("location text is not \"lat,lon\" in decimal degrees"),
                }
            }
            IdentifierValue::Text(t) => text_variants(id, t).map(|vs| {
                for v in &vs {
                    emit_variant(idx, v, &mut out);
                }
            }),
        };
        if let Err(reason) = res {
            skipped.push(Skipped { ident: idx, reason });
        }
    }
    (out, skipped)
}

fn text_variants(id: &Identifier, raw: &str) -> Result<Vec<Variant>, &'static str> {
    let t = raw.trim();
    if t.len() > MAX_VALUE_LEN {
        return Err("value longer than 4096 bytes");
    }
    let vs = match id.kind {
        IdentifierKind::WifiMac | IdentifierKind::BtMac => parse_mac(t)
            .map(|m| mac_variants(&m))
            .unwrap_or_else(|| generic(t)),
        IdentifierKind::AdvertisingId | IdentifierKind::Custom => parse_uuid(t)
            .map(|u| uuid_variants(&u))
            .unwrap_or_else(|| generic(t)),
        IdentifierKind::AndroidId | IdentifierKind::Meid => hex_variants(t),
        IdentifierKind::Imei => imei_variants(t).unwrap_or_else(|| generic(t)),
        IdentifierKind::Iccid => iccid_variants(t).unwrap_or_else(|| generic(t)),
        IdentifierKind::Msisdn => {
            msisdn_variants(t, id.calling_code.as_deref()).unwrap_or_else(|| generic(t))
        }
        IdentifierKind::Email => generic(&t.to_ascii_lowercase()),
        IdentifierKind::Imsi | IdentifierKind::Serial | IdentifierKind::Location => generic(t),
    };
    match vs.first() {
        Some(v) if v.bytes.len() >= MIN_VALUE_LEN => Ok(vs),
        _ => Err("value shorter than 6 bytes (would match everywhere)"),
    }
}

fn generic(t: &str) -> Vec<Variant> {
    vec![Variant::text(vec![], t)]
}

/// Hex-ish values (android_id, MEID): canonical lower case plus an upper-case variant whose
/// base64 and digests differ.
fn hex_variants(t: &str) -> Vec<Variant> {
    let lower = t.to_ascii_lowercase();
    let upper = t.to_ascii_uppercase();
    let mut vs = vec![Variant::text(vec![], lower.clone())];
    if upper != lower {
        vs.push(Variant::case(vec!["upper"], upper));
    }
    vs
}

pub(crate) fn parse_mac(t: &str) -> Option<[u8; 6]> {
    let hexdigits: Vec<u8> = t
        .bytes()
        .filter(|b| !matches!(b, b':' | b'-' | b'.'))
        .collect();
    if hexdigits.len() != 12 || t.len() > 17 {
        return None;
    }
    let mut out = [0u8; 6];
    hex::decode_to_slice(&hexdigits, &mut out).ok()?;
    Some(out)
}

fn mac_variants(m: &[u8; 6]) -> Vec<Variant> {
    let h: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
    let colon = h.join(":");
    let dash = h.join("-");
    let bare = h.concat();
    let dot = format!("{}.{}.{}", &bare[0..4], &bare[4..8], &bare[8..12]);
    let mut vs = vec![
        Variant::text(vec![], colon.clone()),
        Variant::text(vec!["mac-dash"], dash.clone()),
        Variant::text(vec!["mac-bare"], bare.clone()),
        Variant {
            encode: false,
            ..Variant::text(vec!["mac-dot"], dot)
        },
    ];
    if bare.bytes().any(|b| b.is_ascii_alphabetic()) {
        vs.push(Variant::case(vec!["upper"], colon.to_ascii_uppercase()));
        vs.push(Variant::case(
            vec!["upper", "mac-dash"],
            dash.to_ascii_uppercase(),
        ));
        vs.push(Variant::case(
            vec!["upper", "mac-bare"],
            bare.to_ascii_uppercase(),
        ));
    }
    vs.push(Variant::binary(vec!["mac-bytes"], m.to_vec()));
    vs
}

fn parse_uuid(t: &str) -> Option<[u8; 16]> {
    let b = t.as_bytes();
    let bare: Vec<u8> = if b.len() == 36 {
        if [8, 13, 18, 23].iter().any(|&i| b.get(i) != Some(&b'-')) {
            return None;
        }
        b.iter().copied().filter(|&c| c != b'-').collect()
    } else if b.len() == 32 {
        b.to_vec()
    } else {
        return None;
    };
    let mut out = [0u8; 16];
    hex::decode_to_slice(&bare, &mut out).ok()?;
    Some(out)
}

fn uuid_variants(u: &[u8; 16]) -> Vec<Variant> {
    let bare = hex::encode(u);
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &bare[0..8],
        &bare[8..12],
        &bare[12..16],
        &bare[16..20],
        &bare[20..32]
    );
    let mut vs = vec![
        Variant::text(vec![], dashed.clone()),
        Variant::text(vec!["uuid-bare"], bare.clone()),
    ];
    if bare.bytes().any(|b| b.is_ascii_alphabetic()) {
        vs.push(Variant::case(vec!["upper"], dashed.to_ascii_uppercase()));
        vs.push(Variant::case(
            vec!["upper", "uuid-bare"],
            bare.to_ascii_uppercase(),
        ));
    }
    vs.push(Variant::binary(vec!["uuid-bytes"], u.to_vec()));
    vs
}

/// Luhn check digit as used by IMEI and ICCID.
pub(crate) fn luhn_digit(body: &[u8]) -> u8 {
    let mut sum = 0u32;
    // Double every second digit counting from the right of the body (the check digit will be
    // appended on the right).
    for (i, &c) in body.iter().rev().enumerate() {
        let mut d = u32::from(c.wrapping_sub(b'0') % 10);
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    b'0' + ((10 - sum % 10) % 10) as u8
}

fn digits_only(t: &str, seps: &[u8]) -> Option<Vec<u8>> {
    let d: Vec<u8> = t.bytes().filter(|b| !seps.contains(b)).collect();
    (!d.is_empty() && d.iter().all(u8::is_ascii_digit)).then_some(d)
}

fn imei_variants(t: &str) -> Option<Vec<Variant>> {
    let d = digits_only(t, b" -/.")?;
    let body = d.get(..14)?;
    let mut imei15 = body.to_vec();
    imei15.push(luhn_digit(body));
    Some(match d.len() {
        15 => vec![
            Variant::text(vec![], d.clone()),
            Variant::prefix(vec!["imei14"], body.to_vec()),
        ],
        14 => vec![
            Variant::text(vec![], d.clone()),
            Variant::text(vec!["imei15"], imei15),
        ],
        // IMEISV: TAC + SNR + 2-digit software version; the IMEI is the first 14 + Luhn.
        16 => vec![
            Variant::text(vec![], d.clone()),
            Variant::text(vec!["imei15"], imei15),
            Variant::prefix(vec!["imei14"], body.to_vec()),
        ],
        _ => return None,
    })
}

fn iccid_variants(t: &str) -> Option<Vec<Variant>> {
    let t = t.trim_end_matches(['F', 'f']);
    let d = digits_only(t, b" -")?;
    if !(18..=20).contains(&d.len()) {
        return None;
    }
    let mut vs = vec![Variant::text(vec![], d.clone())];
    if d.len() >= 19 {
        vs.push(Variant::prefix(
            vec!["iccid-no-check"],
            d[..d.len() - 1].to_vec(),
        ));
    }
    let mut padded = d.clone();
    if padded.len() % 2 == 1 {
        padded.push(b'f');
        vs.push(Variant {
            encode: false,
            ..Variant::text(vec!["iccid-f"], padded.clone())
        });
    }
    // EF_ICCID on the SIM stores the digits nibble-swapped (BCD); it travels that way in AT and
    // modem logs.
    let swapped: Vec<u8> = padded
        .chunks_exact(2)
        .flat_map(|c| c.iter().rev().copied())
        .collect();
    vs.push(Variant {
        encode: false,
        ..Variant::text(vec!["bcd-swapped"], swapped)
    });
    Some(vs)
}

/// (code, trunk prefix) pairs from `data/calling_codes.tsv`.
pub(crate) fn calling_codes() -> &'static [(String, Option<String>)] {
    static TABLE: std::sync::OnceLock<Vec<(String, Option<String>)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("../data/calling_codes.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                let code = f.next()?.trim().to_string();
                let trunk = f.next()?.trim();
                let trunk = (trunk != "-").then(|| trunk.to_string());
                Some((code, trunk))
            })
            .collect()
    })
}

/// The calling code that `e164` digits (without '+') start with, if it is in the table.
pub fn calling_code_of(e164: &str) -> Option<&'static str> {
    calling_codes()
        .iter()
        .filter(|(c, _)| e164.starts_with(c.as_str()))
        .max_by_key(|(c, _)| c.len())
        .map(|(c, _)| c.as_str())
}

fn trunk_of(cc: &str) -> Option<&'static str> {
    calling_codes()
        .iter()
        .find(|(c, _)| c == cc)
        .and_then(|(_, t)| t.as_deref())
}

fn msisdn_variants(t: &str, hint: Option<&str>) -> Option<Vec<Variant>> {
    let s: String = t
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '/' | '\t'))
        .collect();
    let (intl, digits) = if let Some(r) = s.strip_prefix('+') {
        (true, r)
    } else if let Some(r) = s.strip_prefix("00") {
        (true, r)
    } else {
        (false, s.as_str())
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hint = hint
        .map(|h| h.trim().trim_start_matches('+'))
        .filter(|h| !h.is_empty() && h.len() <= 3 && h.bytes().all(|b| b.is_ascii_digit()));
    let (e164, cc): (String, Option<String>) = if intl {
        let cc = hint
            .filter(|h| digits.starts_with(h))
            .or_else(|| calling_code_of(digits));
        (digits.to_string(), cc.map(str::to_string))
    } else if let Some(h) = hint {
        if digits.starts_with(h) && !digits.starts_with('0') && digits.len() >= h.len() + 6 {
            (digits.to_string(), Some(h.to_string()))
        } else {
            let trunk = trunk_of(h).unwrap_or("0");
            let n = digits.strip_prefix(trunk).unwrap_or(digits);
            (format!("{h}{n}"), Some(h.to_string()))
        }
    } else {
        let cc = calling_code_of(digits)?;
        if digits.len() < cc.len() + 6 {
            return None;
        }
        (digits.to_string(), Some(cc.to_string()))
    };
    let mut vs = vec![
        Variant::text(vec![], format!("+{e164}")),
        Variant::text(vec!["e164-no-plus"], e164.clone()),
        Variant::text(vec!["intl-00"], format!("00{e164}")),
    ];
    if let Some(cc) = cc {
        let n = &e164[cc.len().min(e164.len())..];
        if let Some(trunk) = trunk_of(&cc) {
            vs.push(Variant::text(vec!["national"], format!("{trunk}{n}")));
        }
        vs.push(Variant::text(vec!["national-bare"], n.to_string()));
    }
    Some(vs)
}

pub(crate) fn parse_lat_lon(t: &str) -> Option<GeoPoint> {
    let (a, b) = t.split_once(',')?;
    let lat: f64 = a.trim().parse().ok()?;
    let lon: f64 = b.trim().parse().ok()?;
    Some(GeoPoint {
        lat,
        lon,
        radius_m: 0.0,
    })
}

const DECIMAL_NAMES: [&str; 4] = ["decimal-3dp", "decimal-4dp", "decimal-5dp", "decimal-6dp"];

/// Decimal renderings of one coordinate at 3..=6 decimals, rounded and truncated.
fn decimals(x: f64) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for (i, name) in DECIMAL_NAMES.iter().enumerate() {
        let n = i + 3;
        let rounded = format!("{x:.n$}");
        let scale = 10f64.powi(n as i32);
        let t = (x * scale).trunc() / scale;
        let truncated = format!("{t:.n$}");
        for s in [rounded, truncated] {
            if !out.iter().any(|(_, o)| *o == s) {
                out.push((name, s));
            }
        }
    }
    out
}

fn location_patterns(
    idx: usize,
    p: &GeoPoint,
    out: &mut Vec<FormPattern>,
) -> Result<(), &'static str> {
    // NaN fails both range checks.
    if !((-90.0..=90.0).contains(&p.lat) && (-180.0..=180.0).contains(&p.lon)) {
        return Err("location out of range");
    }
    // "0.000" appears in every payload with a default position.
    if p.lat.abs() < 0.5 && p.lon.abs() < 0.5 {
        return Err("location too close to 0,0 (would match default values)");
    }
    for (part, x) in [(Part::Lat, p.lat), (Part::Lon, p.lon)] {
        for (name, s) in decimals(x) {
            out.push(FormPattern {
                bytes: s.into_bytes(),
                case_sensitive: true,
                boundary: Boundary::Decimal,
                ident: idx,
                chain: vec![name],
                part,
            });
        }
    }
    Ok(())
}

/// Percent-encode everything outside the RFC 3986 unreserved set.
pub(crate) fn pct_encode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() * 3);
    for &c in b {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c);
        } else {
            out.extend_from_slice(format!("%{c:02X}").as_bytes());
        }
    }
    out
}

/// 6-bit value of a base64 character of either alphabet.
pub(crate) fn b64_val(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// The base64 characters fully determined by `value` when it sits after `k` (0..3) other bytes
/// in a longer encoded buffer, for `engine`, plus the checks on the neighbouring characters
/// that hold the value's first and last few bits.
pub(crate) fn b64_aligned(value: &[u8], k: usize, engine: &impl Engine) -> (Vec<u8>, Boundary) {
    let mut buf = vec![0u8; k];
    buf.extend_from_slice(value);
    let enc = engine.encode(&buf).into_bytes();
    let first = (8 * k).div_ceil(6);
    let last = (8 * (k + value.len())) / 6;
    let Some(chars) = enc.get(first..last.min(enc.len())) else {
        return (Vec::new(), Boundary::None);
    };
    // Low `r` bits of the character before hold the value's first bits (filler bits are 0).
    let before = match 6 * first - 8 * k {
        0 => None,
        r => {
            let mask = (1u8 << r) - 1;
            first
                .checked_sub(1)
                .and_then(|i| enc.get(i))
                .and_then(|&c| b64_val(c))
                .map(|v| (mask, v & mask))
        }
    };
    // High `r` bits of the character after hold the value's last bits.
    let after = match 8 * (k + value.len()) - 6 * last {
        0 => None,
        r => {
            let mask = ((1u8 << r) - 1) << (6 - r);
            enc.get(last)
                .and_then(|&c| b64_val(c))
                .map(|v| (mask, v & mask))
        }
    };
    (chars.to_vec(), Boundary::Base64 { before, after })
}

fn with(head: &'static str, tail: &[&'static str]) -> Vec<&'static str> {
    let mut c = Vec::with_capacity(tail.len() + 1);
    c.push(head);
    c.extend_from_slice(tail);
    c
}

/// All-digit forms must not touch other digits: a number inside a longer number is another
/// number (a national number inside a timestamp, a 14-digit IMEI body followed by a wrong
/// check digit).
fn digits_boundary(b: &[u8]) -> Boundary {
    if b.iter().all(u8::is_ascii_digit) {
        Boundary::Digits
    } else {
        Boundary::None
    }
}

fn emit_variant(idx: usize, v: &Variant, out: &mut Vec<FormPattern>) {
    let mut push = |bytes: Vec<u8>, cs: bool, boundary: Boundary, chain: Vec<&'static str>| {
        if bytes.len() >= MIN_VALUE_LEN {
            out.push(FormPattern {
                bytes,
                case_sensitive: cs,
                boundary,
                ident: idx,
                chain,
                part: Part::Whole,
            });
        }
    };
    let plain_chain = if v.chain.is_empty() {
        vec!["plain"]
    } else {
        v.chain.clone()
    };
    if v.plain {
        push(
            v.bytes.clone(),
            v.binary,
            digits_boundary(&v.bytes),
            plain_chain,
        );
    }
    let engines = [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD];
    if v.binary {
        for e in engines {
            for k in 0..3 {
                let (b, edges) = b64_aligned(&v.bytes, k, e);
                push(b, true, edges, with("base64", &v.chain));
            }
        }
        return;
    }
    if !v.encode {
        return;
    }
    if v.plain {
        let u = pct_encode(&v.bytes);
        if u != v.bytes {
            push(u, false, Boundary::None, with("url", &v.chain));
        }
    }
    for e in engines.iter().filter(|_| v.base64) {
        for k in 0..3 {
            let (b, edges) = b64_aligned(&v.bytes, k, *e);
            push(b, true, edges, with("base64", &v.chain));
        }
    }
    push(
        hex::encode(&v.bytes).into_bytes(),
        false,
        Boundary::None,
        with("hex", &v.chain),
    );
    let digests: [(&'static str, &'static str, Vec<u8>); 3] = [
        ("md5-hex", "md5-base64", Md5::digest(&v.bytes).to_vec()),
        ("sha1-hex", "sha1-base64", Sha1::digest(&v.bytes).to_vec()),
        (
            "sha256-hex",
            "sha256-base64",
            Sha256::digest(&v.bytes).to_vec(),
        ),
    ];
    for (hex_name, b64_name, d) in digests {
        push(
            hex::encode(&d).into_bytes(),
            false,
            Boundary::None,
            with(hex_name, &v.chain),
        );
        for e in engines {
            let (b, edges) = b64_aligned(&d, 0, e);
            push(b, true, edges, with(b64_name, &v.chain));
        }
    }
}
