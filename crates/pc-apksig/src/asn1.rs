//! Minimal, lenient DER walker for certificates and PKCS#7 SignedData.
//!
//! Android (via Java's providers and apksig's own ASN.1 parser) accepts certificates that strict
//! DER crates reject (odd string types, non-minimal integers), so the fields we need are cut out
//! here by hand; every length is checked against the enclosing slice.

use crate::SigError;

/// One TLV: tag byte, contents, and the full encoding (header + contents).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// Sequential reader over concatenated TLVs.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Nesting is shallow in the structures we read; this only bounds hostile recursion elsewhere.
const MAX_LEN_OCTETS: usize = 4;

fn err(what: &'static str, at: usize) -> SigError {
    SigError::Malformed {
        at: at as u64,
        what,
    }
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }
    /// Reads the next TLV (definite lengths only; single-byte tags only).
    pub fn next(&mut self) -> Result<Tlv<'a>, SigError> {
        let start = self.pos;
        let tag = *self
            .data
            .get(start)
            .ok_or_else(|| err("ASN.1: truncated tag", start))?;
        if tag & 0x1f == 0x1f {
            return Err(err("ASN.1: multi-byte tags unsupported", start));
        }
        let l0 = *self
            .data
            .get(start + 1)
            .ok_or_else(|| err("ASN.1: truncated length", start))?;
        let (len, hdr) = if l0 < 0x80 {
            (l0 as usize, 2usize)
        } else {
            let n = (l0 & 0x7f) as usize;
            if n == 0 {
                return Err(err("ASN.1: indefinite length unsupported", start));
            }
            if n > MAX_LEN_OCTETS {
                return Err(err("ASN.1: length too large", start));
            }
            let bytes = self
                .data
                .get(start + 2..start + 2 + n)
                .ok_or_else(|| err("ASN.1: truncated length", start))?;
            let mut len = 0usize;
            for b in bytes {
                len = (len << 8) | *b as usize;
            }
            (len, 2 + n)
        };
        let cstart = start + hdr;
        let cend = cstart
            .checked_add(len)
            .ok_or_else(|| err("ASN.1: length overflow", start))?;
        let content = self
            .data
            .get(cstart..cend)
            .ok_or_else(|| err("ASN.1: content past end", start))?;
        let raw = &self.data[start..cend];
        self.pos = cend;
        Ok(Tlv { tag, content, raw })
    }
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, SigError> {
        let at = self.pos;
        let t = self.next()?;
        if t.tag != tag {
            return Err(err(what, at));
        }
        Ok(t)
    }
}

/// Parses a single TLV that must span `data` (trailing bytes tolerated, as Java does).
pub(crate) fn parse_one<'a>(
    data: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<Tlv<'a>, SigError> {
    Reader::new(data).expect(tag, what)
}

/// Dotted OID string from its content bytes.
pub(crate) fn oid_string(content: &[u8]) -> String {
    let mut out = String::new();
    let mut val: u64 = 0;
    let mut first = true;
    for &b in content {
        val = (val << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            if first {
                let (a, c) = if val < 40 {
                    (0, val)
                } else if val < 80 {
                    (1, val - 40)
                } else {
                    (2, val - 80)
                };
                out.push_str(&format!("{a}.{c}"));
                first = false;
            } else {
                out.push_str(&format!(".{val}"));
            }
            val = 0;
        }
        if val > (u64::MAX >> 8) {
            break;
        }
    }
    out
}

/// The fields of an X.509 certificate that verification and reporting need.
#[derive(Clone, Debug)]
pub(crate) struct CertParts<'a> {
    pub serial: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub not_before: String,
    pub not_after: String,
    /// Full SubjectPublicKeyInfo encoding.
    pub spki: &'a [u8],
}

/// Cuts a certificate into its TBS fields.
pub(crate) fn parse_cert(der: &[u8]) -> Result<CertParts<'_>, SigError> {
    let cert = parse_one(der, 0x30, "certificate: not a SEQUENCE")?;
    let mut c = Reader::new(cert.content);
    let tbs = c.expect(0x30, "certificate: TBS not a SEQUENCE")?;
    let mut t = Reader::new(tbs.content);
    if t.peek_tag() == Some(0xa0) {
        t.next()?;
    }
    let serial = t.expect(0x02, "certificate: serial")?;
    t.expect(0x30, "certificate: signature algorithm")?;
    let issuer = t.expect(0x30, "certificate: issuer")?;
    let validity = t.expect(0x30, "certificate: validity")?;
    let subject = t.expect(0x30, "certificate: subject")?;
    let spki = t.expect(0x30, "certificate: subjectPublicKeyInfo")?;
    let mut v = Reader::new(validity.content);
    let nb = v.next()?;
    let na = v.next()?;
    Ok(CertParts {
        serial: serial.content,
        issuer: issuer.raw,
        subject: subject.raw,
        not_before: format_time(nb),
        not_after: format_time(na),
        spki: spki.raw,
    })
}

/// UTCTime / GeneralizedTime to ISO-8601 (`YYYY-MM-DDTHH:MM:SSZ`); raw text if unusual.
fn format_time(t: Tlv<'_>) -> String {
    let s = String::from_utf8_lossy(t.content).to_string();
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let full = match (t.tag, digits.len()) {
        (0x17, 12) => {
            let yy: u32 = digits[0..2].parse().unwrap_or(0);
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{digits}")
        }
        (0x18, 14) => digits,
        _ => return s,
    };
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[0..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    )
}

/// Public key algorithm as found in a SubjectPublicKeyInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyAlg {
    Rsa,
    Ec(String),
    Dsa,
    Other(String),
}

/// Splits an SPKI into (algorithm, parameters TLV raw, public key bits).
pub(crate) fn parse_spki(spki: &[u8]) -> Result<(KeyAlg, Option<Tlv<'_>>, &[u8]), SigError> {
    let s = parse_one(spki, 0x30, "SPKI: not a SEQUENCE")?;
    let mut r = Reader::new(s.content);
    let alg = r.expect(0x30, "SPKI: algorithm")?;
    let bits = r.expect(0x03, "SPKI: key bits")?;
    let mut a = Reader::new(alg.content);
    let oid = a.expect(0x06, "SPKI: algorithm OID")?;
    let params = if a.is_empty() { None } else { Some(a.next()?) };
    let key = bits
        .content
        .get(1..)
        .ok_or_else(|| err("SPKI: empty bit string", 0))?;
    let oid = oid_string(oid.content);
    let alg = match oid.as_str() {
        "1.2.840.113549.1.1.1" => KeyAlg::Rsa,
        "1.2.840.10045.2.1" => {
            let curve = params
                .filter(|p| p.tag == 0x06)
                .map(|p| oid_string(p.content))
                .unwrap_or_default();
            KeyAlg::Ec(curve)
        }
        "1.2.840.10040.4.1" => KeyAlg::Dsa,
        _ => KeyAlg::Other(oid),
    };
    Ok((alg, params, key))
}

/// Bit length of a big-endian unsigned integer's content bytes.
pub(crate) fn int_bits(content: &[u8]) -> u32 {
    let trimmed: &[u8] = {
        let mut c = content;
        while let [0, rest @ ..] = c {
            c = rest;
        }
        c
    };
    match trimmed.first() {
        None => 0,
        Some(b) => (trimmed.len() as u32 - 1) * 8 + (8 - b.leading_zeros()),
    }
}

/// One SignerInfo of a PKCS#7 SignedData.
#[derive(Debug)]
pub(crate) struct SignerInfo<'a> {
    pub issuer: Option<&'a [u8]>,
    pub serial: Option<&'a [u8]>,
    pub digest_oid: String,
    /// Contents of the `[0] IMPLICIT` signed attributes, if present.
    pub signed_attrs: Option<&'a [u8]>,
    pub signature: &'a [u8],
}

/// What we take from a PKCS#7 SignedData.
#[derive(Debug)]
pub(crate) struct SignedData<'a> {
    pub certificates: Vec<&'a [u8]>,
    pub signer_infos: Vec<SignerInfo<'a>>,
}

/// Bound on certificates / signer infos accepted from one PKCS#7 block.
const MAX_PKCS7_ITEMS: usize = 64;

/// Parses a PKCS#7 ContentInfo holding SignedData (JAR signature block file).
pub(crate) fn parse_pkcs7(data: &[u8]) -> Result<SignedData<'_>, SigError> {
    let ci = parse_one(data, 0x30, "PKCS#7: ContentInfo not a SEQUENCE")?;
    let mut r = Reader::new(ci.content);
    let oid = r.expect(0x06, "PKCS#7: content type")?;
    if oid_string(oid.content) != "1.2.840.113549.1.7.2" {
        return Err(err("PKCS#7: not SignedData", 0));
    }
    let explicit = r.expect(0xa0, "PKCS#7: missing [0] content")?;
    let sd = parse_one(explicit.content, 0x30, "PKCS#7: SignedData not a SEQUENCE")?;
    let mut s = Reader::new(sd.content);
    s.expect(0x02, "PKCS#7: version")?;
    s.expect(0x31, "PKCS#7: digestAlgorithms")?;
    s.expect(0x30, "PKCS#7: encapContentInfo")?;
    let mut certificates = Vec::new();
    let mut signer_infos = Vec::new();
    while !s.is_empty() {
        let t = s.next()?;
        match t.tag {
            0xa0 => {
                let mut cr = Reader::new(t.content);
                while !cr.is_empty() && certificates.len() < MAX_PKCS7_ITEMS {
                    let c = cr.next()?;
                    if c.tag == 0x30 {
                        certificates.push(c.raw);
                    }
                }
            }
            0xa1 => {}
            0x31 => {
                let mut sr = Reader::new(t.content);
                while !sr.is_empty() && signer_infos.len() < MAX_PKCS7_ITEMS {
                    let si = sr.expect(0x30, "PKCS#7: SignerInfo")?;
                    signer_infos.push(parse_signer_info(si.content)?);
                }
            }
            _ => {}
        }
    }
    Ok(SignedData {
        certificates,
        signer_infos,
    })
}

fn parse_signer_info(content: &[u8]) -> Result<SignerInfo<'_>, SigError> {
    let mut r = Reader::new(content);
    r.expect(0x02, "SignerInfo: version")?;
    let sid = r.next()?;
    let (issuer, serial) = if sid.tag == 0x30 {
        let mut ir = Reader::new(sid.content);
        let issuer = ir.expect(0x30, "SignerInfo: issuer")?;
        let serial = ir.expect(0x02, "SignerInfo: serial")?;
        (Some(issuer.raw), Some(serial.content))
    } else {
        (None, None)
    };
    let dalg = r.expect(0x30, "SignerInfo: digestAlgorithm")?;
    let digest_oid = oid_string(parse_one(dalg.content, 0x06, "SignerInfo: digest OID")?.content);
    let mut signed_attrs = None;
    if r.peek_tag() == Some(0xa0) {
        signed_attrs = Some(r.next()?.content);
    }
    let salg = r.expect(0x30, "SignerInfo: signatureAlgorithm")?;
    parse_one(salg.content, 0x06, "SignerInfo: signature OID")?;
    let signature = r.expect(0x04, "SignerInfo: signature")?.content;
    Ok(SignerInfo {
        issuer,
        serial,
        digest_oid,
        signed_attrs,
        signature,
    })
}

/// Finds attribute `oid` in signed attributes content; returns the first value TLV.
pub(crate) fn find_attr<'a>(attrs: &'a [u8], oid: &str) -> Result<Option<Tlv<'a>>, SigError> {
    let mut r = Reader::new(attrs);
    while !r.is_empty() {
        let a = r.expect(0x30, "signed attribute not a SEQUENCE")?;
        let mut ar = Reader::new(a.content);
        let o = ar.expect(0x06, "signed attribute OID")?;
        if oid_string(o.content) == oid {
            let set = ar.expect(0x31, "signed attribute values")?;
            let mut vr = Reader::new(set.content);
            return Ok(Some(vr.next()?));
        }
    }
    Ok(None)
}

/// Integer content with leading zero padding removed (for serial comparisons).
pub(crate) fn strip_int(c: &[u8]) -> &[u8] {
    let mut c = c;
    while c.len() > 1 && c[0] == 0 {
        c = &c[1..];
    }
    c
}
