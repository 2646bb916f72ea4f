//! APK signature verification as Android does it (reference: AOSP apksig, `ApkVerifier`):
//! JAR signing (v1), APK Signature Scheme v2, v3 and v3.1, with per-scheme verdicts, signer
//! certificates, proof-of-rotation lineage, and flags for public AOSP test keys and debug
//! certificates.
#![forbid(unsafe_code)]

mod asn1;
mod block;
mod crypto;
mod testkeys;
mod v1;
mod zip;

pub use block::{
    PADDING_BLOCK_ID, RawSigner, SOURCE_STAMP_BLOCK_ID, V2_BLOCK_ID, V3_BLOCK_ID, V31_BLOCK_ID,
    parse_v2_block, parse_v3_block,
};
pub use testkeys::{TestKey, aosp_test_keys};
pub use zip::{SigningBlock, ZipOffsets, find_signing_block, find_zip_offsets};

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Errors from the structural parsers (the verifier itself reports problems in [`Report`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// Input is malformed at byte offset `at` (relative to the structure being parsed).
    #[error("{what} (at byte {at})")]
    Malformed {
        /// Byte offset.
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
}

/// What v1 (JAR) verification needs from the zip: entry names in central-directory order and
/// their uncompressed contents.
pub trait ApkEntries {
    /// Entry names in central-directory order.
    fn names(&self) -> Vec<String>;
    /// Uncompressed contents of `name`, or `None` if absent, unreadable or larger than `limit`.
    fn read(&self, name: &str, limit: u64) -> Option<Vec<u8>>;
}

/// Bounds on everything read from hostile input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Signers per scheme block / JAR signers.
    pub max_signers: usize,
    /// Signatures, digests, certificates, attributes or lineage nodes per signer.
    pub max_records: usize,
    /// ZIP entries considered for v1.
    pub max_entries: usize,
    /// Size of MANIFEST.MF / .SF / signature block files.
    pub max_meta_file: u64,
    /// Size of one entry digested for v1.
    pub max_entry_size: u64,
    /// Sections in MANIFEST.MF / .SF.
    pub max_manifest_sections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_signers: 16,
            max_records: 256,
            max_entries: 200_000,
            max_meta_file: 64 << 20,
            max_entry_size: 1 << 30,
            max_manifest_sections: 200_000,
        }
    }
}

/// apksig's default "max SDK": every future platform.
pub const ANY_FUTURE_SDK: u32 = i32::MAX as u32;
/// Android 7.0, first to verify v2.
pub const SDK_N: u32 = 24;
/// Android 9, first to verify v3.
pub const SDK_P: u32 = 28;
/// Android 11: targetSdk >= 30 requires v2+.
pub const SDK_R: u32 = 30;
/// Android 13, first to verify v3.1.
pub const SDK_T: u32 = 33;

/// Device range to verify for, as apksigner's `--min-sdk-version` / `--max-sdk-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Lowest platform the APK must verify on (apksigner: the manifest's minSdkVersion).
    pub min_sdk: u32,
    /// Highest platform (default: every future one).
    pub max_sdk: u32,
    /// The manifest's targetSdkVersion, for the "targetSdk >= 30 needs v2+" rule.
    pub target_sdk: Option<u32>,
    /// Input bounds.
    pub limits: Limits,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            min_sdk: 1,
            max_sdk: ANY_FUTURE_SDK,
            target_sdk: None,
            limits: Limits::default(),
        }
    }
}

/// Signature schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Scheme {
    /// JAR signing.
    V1,
    /// APK Signature Scheme v2.
    V2,
    /// APK Signature Scheme v3.
    V3,
    /// APK Signature Scheme v3.1.
    V31,
}

/// A certificate as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// SHA-256 of the DER certificate, lower-case hex (apksigner's "certificate SHA-256 digest").
    pub sha256: String,
    /// SHA-1 of the DER certificate.
    pub sha1: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Validity start, ISO 8601.
    pub not_before: String,
    /// Validity end, ISO 8601.
    pub not_after: String,
    /// "RSA", "EC", "DSA" or the key OID.
    pub key_algorithm: String,
    /// Key size in bits when known.
    pub key_bits: Option<u32>,
    /// Android debug certificate (subject `CN=Android Debug,O=Android,C=US`).
    pub debug: bool,
    /// Name of the public AOSP test key ("testkey", "platform", ...) if it is one.
    pub test_key: Option<String>,
}

/// Verdict for one scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemeResult {
    /// Which scheme.
    pub scheme: Scheme,
    /// A signature of this scheme exists in the APK.
    pub present: bool,
    /// It was checked for the requested SDK range (apksigner only reports checked schemes).
    pub checked: bool,
    /// It was checked and verified.
    pub verified: bool,
    /// Problems found.
    pub errors: Vec<String>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
    /// Each signer's certificate, in block order.
    pub certificates: Vec<CertInfo>,
    /// Lowest SDK any signer targets (v3/v3.1).
    pub min_sdk: Option<u32>,
    /// Highest SDK any signer targets (v3/v3.1).
    pub max_sdk: Option<u32>,
    /// Proof-of-rotation lineage, oldest first (v3/v3.1).
    pub lineage: Vec<CertInfo>,
}

impl SchemeResult {
    const fn new(scheme: Scheme) -> Self {
        SchemeResult {
            scheme,
            present: false,
            checked: false,
            verified: false,
            errors: Vec::new(),
            warnings: Vec::new(),
            certificates: Vec::new(),
            min_sdk: None,
            max_sdk: None,
            lineage: Vec::new(),
        }
    }
}

/// Overall verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Verifies on every platform in the requested range.
    pub verified: bool,
    /// One entry per scheme (V1, V2, V3, V31).
    pub schemes: Vec<SchemeResult>,
    /// The effective signer(s), as apksigner prints them (empty unless verified).
    pub signers: Vec<CertInfo>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
    /// Fatal findings.
    pub errors: Vec<String>,
}

impl Report {
    /// The result for `scheme` (an absent, unchecked result if the report lacks it).
    pub fn scheme(&self, scheme: Scheme) -> &SchemeResult {
        static ABSENT: [SchemeResult; 4] = [
            SchemeResult::new(Scheme::V1),
            SchemeResult::new(Scheme::V2),
            SchemeResult::new(Scheme::V3),
            SchemeResult::new(Scheme::V31),
        ];
        self.schemes
            .iter()
            .chain(ABSENT.iter())
            .find(|s| s.scheme == scheme)
            .unwrap_or(&ABSENT[0])
    }
}

/// Describes a DER certificate; lenient (fields it cannot read are left empty).
pub fn cert_info(der: &[u8]) -> CertInfo {
    use sha1::Sha1;
    use sha2::{Digest, Sha256};
    let sha256 = hex::encode(Sha256::digest(der));
    let sha1 = hex::encode(Sha1::digest(der));
    let mut info = CertInfo {
        test_key: testkeys::lookup(&sha256).map(str::to_string),
        sha256,
        sha1,
        subject: String::new(),
        issuer: String::new(),
        serial: String::new(),
        not_before: String::new(),
        not_after: String::new(),
        key_algorithm: String::new(),
        key_bits: None,
        debug: false,
    };
    if let Ok(p) = asn1::parse_cert(der) {
        info.subject = name_string(p.subject);
        info.issuer = name_string(p.issuer);
        info.serial = hex::encode(asn1::strip_int(p.serial));
        info.not_before = p.not_before.clone();
        info.not_after = p.not_after.clone();
        if let Ok((alg, params, key)) = asn1::parse_spki(p.spki) {
            let (name, bits) = match alg {
                asn1::KeyAlg::Rsa => {
                    let bits = asn1::parse_one(key, 0x30, "")
                        .ok()
                        .and_then(|s| asn1::Reader::new(s.content).next().ok())
                        .map(|n| asn1::int_bits(n.content));
                    ("RSA".to_string(), bits)
                }
                asn1::KeyAlg::Ec(curve) => {
                    let bits = match curve.as_str() {
                        "1.2.840.10045.3.1.7" => Some(256),
                        "1.3.132.0.34" => Some(384),
                        "1.3.132.0.35" => Some(521),
                        _ => None,
                    };
                    ("EC".to_string(), bits)
                }
                asn1::KeyAlg::Dsa => {
                    let bits = params
                        .and_then(|p| asn1::Reader::new(p.content).next().ok())
                        .map(|pp| asn1::int_bits(pp.content));
                    ("DSA".to_string(), bits)
                }
                asn1::KeyAlg::Other(oid) => (oid, None),
            };
            info.key_algorithm = name;
            info.key_bits = bits;
        }
    }
    info.debug = is_debug_subject(&info.subject);
    info
}

/// Subject of the certificates the Android SDK generates for debug builds.
pub const DEBUG_SUBJECT: &str = "CN=Android Debug,O=Android,C=US";

/// Debug certificates are generated with their RDNs in either order, so compare as sets.
fn is_debug_subject(subject: &str) -> bool {
    let mut got: Vec<&str> = subject.split(',').collect();
    let mut want: Vec<&str> = DEBUG_SUBJECT.split(',').collect();
    got.sort_unstable();
    want.sort_unstable();
    got == want
}

fn name_string(raw: &[u8]) -> String {
    use der::Decode;
    match x509_cert::name::Name::from_der(raw) {
        Ok(n) => n.to_string(),
        Err(_) => String::new(),
    }
}

/// Verifies `apk` for the device range in `opts`, following apksig's `ApkVerifier.verify`.
pub fn verify(apk: &[u8], entries: &dyn ApkEntries, opts: &VerifyOptions) -> Report {
    let mut v1r = SchemeResult::new(Scheme::V1);
    let mut v2r = SchemeResult::new(Scheme::V2);
    let mut v3r = SchemeResult::new(Scheme::V3);
    let mut v31r = SchemeResult::new(Scheme::V31);
    let mut report = Report {
        verified: false,
        schemes: Vec::new(),
        signers: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    let (min, max) = (opts.min_sdk, opts.max_sdk.max(opts.min_sdk));
    let limits = &opts.limits;

    let offs = match find_zip_offsets(apk) {
        Ok(o) => Some(o),
        Err(e) => {
            report
                .errors
                .push(format!("Malformed APK: not a ZIP archive: {e}"));
            None
        }
    };
    let block = match offs.as_ref().map(|o| find_signing_block(apk, o)) {
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            // apksig treats an unparsable signing block as absent.
            report
                .warnings
                .push(format!("APK Signing Block ignored: {e}"));
            None
        }
        None => None,
    };
    v2r.present = block.as_ref().and_then(|b| b.get(V2_BLOCK_ID)).is_some();
    v3r.present = block.as_ref().and_then(|b| b.get(V3_BLOCK_ID)).is_some();
    v31r.present = block.as_ref().and_then(|b| b.get(V31_BLOCK_ID)).is_some();

    let mut found: BTreeSet<u32> = BTreeSet::new();
    let supported: BTreeSet<u32> = match max {
        m if m >= SDK_P => [2, 3].into(),
        m if m >= SDK_N => [2].into(),
        _ => BTreeSet::new(),
    };
    let mut cache = BTreeMap::new();
    let mut v3_lineage: Vec<Vec<u8>> = Vec::new();
    let mut v3_signer_certs: Vec<Vec<u8>> = Vec::new();
    let mut v31_signer_certs: Vec<Vec<u8>> = Vec::new();
    let mut v2_certs: Vec<Vec<u8>> = Vec::new();

    'schemes: {
        let (Some(offs), Some(sb)) = (offs.as_ref(), block.as_ref()) else {
            break 'schemes;
        };
        if max < SDK_N {
            break 'schemes;
        }
        let sections = match block::Sections::new(apk, offs, sb.offset) {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(format!("Malformed APK: {e}"));
                break 'schemes;
            }
        };
        let mut rotation_min: Option<u32> = None;
        if max >= SDK_T
            && let Some(v) = sb.get(V31_BLOCK_ID)
        {
            let out = block::verify_block(
                v,
                true,
                "APK Signature Scheme v3.1",
                &sections,
                &mut cache,
                limits,
            );
            found.insert(31);
            rotation_min = out.signers.iter().filter_map(|s| s.min_sdk).min();
            fill_v3(
                &mut v31r,
                out,
                min.max(SDK_T),
                max,
                None,
                &mut v3_lineage,
                &mut v31_signer_certs,
            );
            if !v31r.errors.is_empty() {
                break 'schemes;
            }
        }
        if max >= SDK_P {
            if let Some(v) = sb.get(V3_BLOCK_ID) {
                let out = block::verify_block(
                    v,
                    true,
                    "APK Signature Scheme v3",
                    &sections,
                    &mut cache,
                    limits,
                );
                found.insert(3);
                // Rotation-min-sdk stripping protection between v3 and v3.1.
                for (i, s) in out.signers.iter().enumerate() {
                    match (rotation_min, s.rotation_min_sdk) {
                        (Some(r), Some(a)) if r != a => v3r.errors.push(format!(
                            "APK Signature Scheme v3 signer #{}: rotation min SDK attribute {a} does not match the v3.1 signers' {r}",
                            i + 1
                        )),
                        (Some(_), None) => v3r.warnings.push(format!(
                            "APK Signature Scheme v3 signer #{}: rotation min SDK attribute missing",
                            i + 1
                        )),
                        (None, Some(a)) if max >= SDK_T && a <= max => v3r.errors.push(format!(
                            "APK Signature Scheme v3 signer #{}: rotation targets SDK {a} but the v3.1 block is missing",
                            i + 1
                        )),
                        _ => {}
                    }
                }
                let mut lineage = Vec::new();
                fill_v3(
                    &mut v3r,
                    out,
                    min.max(SDK_P),
                    max,
                    rotation_min,
                    &mut lineage,
                    &mut v3_signer_certs,
                );
                if v3_lineage.is_empty() {
                    v3_lineage = lineage;
                }
                if !v3r.errors.is_empty() {
                    break 'schemes;
                }
            } else if found.contains(&31) {
                v3r.errors
                    .push("APK Signature Scheme v3.1 block found without a v3 block".into());
                break 'schemes;
            }
        }
        if (min < SDK_P || found.is_empty())
            && let Some(v) = sb.get(V2_BLOCK_ID)
        {
            let out = block::verify_block(
                v,
                false,
                "APK Signature Scheme v2",
                &sections,
                &mut cache,
                limits,
            );
            found.insert(2);
            v2r.checked = true;
            v2r.errors = out.errors;
            v2r.warnings = out.warnings;
            for (i, s) in out.signers.iter().enumerate() {
                for id in &s.stripping {
                    if supported.contains(id) && !found.contains(id) {
                        v2r.errors.push(format!(
                                "APK Signature Scheme v2 signer #{}: APK is signed using APK Signature Scheme v{id} but no such signature was found. Signature stripped?",
                                i + 1
                            ));
                    }
                }
                if let Some(c) = s.cert {
                    v2_certs.push(c.to_vec());
                    v2r.certificates.push(cert_info(c));
                }
            }
            v2r.verified = v2r.errors.is_empty();
        }
    }

    let scheme_errors = !(v31r.errors.is_empty() && v3r.errors.is_empty() && v2r.errors.is_empty());
    let sig_files_present = entries.names().iter().take(limits.max_entries).any(|n| {
        n.strip_prefix("META-INF/").is_some_and(|f| {
            let l = f.to_ascii_lowercase();
            !l.contains('/')
                && (l.ends_with(".sf")
                    || l.ends_with(".rsa")
                    || l.ends_with(".dsa")
                    || l.ends_with(".ec"))
        })
    });
    v1r.present = sig_files_present;
    let mut v1_certs = Vec::new();
    if offs.is_some() && !scheme_errors && (min < SDK_N || found.is_empty()) {
        let out = v1::verify(entries, &found, &supported, limits);
        v1r.checked = true;
        v1r.present = out.present;
        v1r.errors = out.errors;
        v1r.warnings = out.warnings;
        v1r.certificates = out.certs.iter().map(|c| cert_info(c)).collect();
        v1r.verified = v1r.errors.is_empty();
        v1_certs = out.certs;
    }

    let mut cross = Vec::new();
    if v1r.verified && v2r.verified {
        if v1_certs.iter().any(|c| !v2_certs.contains(c)) {
            cross.push("JAR signer not found among APK Signature Scheme v2 signers".to_string());
        }
        if v2_certs.iter().any(|c| !v1_certs.contains(c)) {
            cross.push("APK Signature Scheme v2 signer not found among JAR signers".to_string());
        }
    }
    if v3r.verified && (v1r.verified || v2r.verified) {
        let older = if v1r.verified { &v1_certs } else { &v2_certs };
        if older.len() != 1 {
            cross.push("v3 supports a single past signer, but v1/v2 has several".to_string());
        }
        if let Some(old) = older.first() {
            if v3_lineage.is_empty() {
                if v3_signer_certs.len() != 1 {
                    cross.push("multiple v3 signers without rotation history".to_string());
                }
                if v3_signer_certs.first() != Some(old) {
                    cross.push(
                        "v3 signer differs from the v1/v2 signer and there is no lineage"
                            .to_string(),
                    );
                }
            } else if v3_lineage.first() != Some(old) {
                cross.push(
                    "v1/v2 signer is not the root of the v3 signing certificate lineage"
                        .to_string(),
                );
            }
        }
    }
    if let Some(t) = opts.target_sdk
        && t >= SDK_R
        && max >= t
        && !(v2r.verified || v3r.verified || v31r.verified)
        && !scheme_errors
        && v1r.errors.is_empty()
    {
        cross.push(format!(
            "Target SDK version {t} requires a minimum of signature scheme v2; the APK is not signed with this or a later signature scheme"
        ));
    }

    for r in [&v31r, &v3r, &v2r, &v1r] {
        report.errors.extend(r.errors.iter().cloned());
        report.warnings.extend(r.warnings.iter().cloned());
    }
    report.errors.extend(cross);
    let any_verified = v1r.verified || v2r.verified || v3r.verified || v31r.verified;
    if report.errors.is_empty() && !any_verified && !v1r.checked {
        report
            .errors
            .push("No signatures verified for the requested SDK range".into());
    }
    report.verified = report.errors.is_empty() && any_verified;
    if report.verified {
        report.signers = if v31r.verified {
            v31_signer_certs
                .last()
                .map(|c| vec![cert_info(c)])
                .unwrap_or_default()
        } else if v3r.verified {
            v3_signer_certs
                .last()
                .map(|c| vec![cert_info(c)])
                .unwrap_or_default()
        } else if v2r.verified {
            v2r.certificates.clone()
        } else {
            v1r.certificates.clone()
        };
    }
    report.schemes = vec![v1r, v2r, v3r, v31r];
    report
}

/// Fills a v3/v3.1 result and applies apksig's SDK coverage and lineage-ordering rules.
fn fill_v3(
    r: &mut SchemeResult,
    out: block::BlockOutcome<'_>,
    range_min: u32,
    range_max: u32,
    rotation_min: Option<u32>,
    lineage_out: &mut Vec<Vec<u8>>,
    certs_out: &mut Vec<Vec<u8>>,
) {
    r.checked = true;
    r.errors = out.errors;
    r.warnings = out.warnings;
    let label = if r.scheme == Scheme::V31 {
        "APK Signature Scheme v3.1"
    } else {
        "APK Signature Scheme v3"
    };
    let mut sorted: Vec<&block::CheckedSigner<'_>> = out.signers.iter().collect();
    sorted.sort_by_key(|s| s.min_sdk.unwrap_or(0));
    let mut first_min: Option<u32> = None;
    let mut last_max = 0u32;
    let mut last_lineage = 0usize;
    for s in &sorted {
        let (mn, mx) = (s.min_sdk.unwrap_or(0), s.max_sdk.unwrap_or(0));
        match first_min {
            None => first_min = Some(mn),
            Some(_) if mn != last_max.saturating_add(1) => {
                r.errors.push(format!(
                    "{label}: inconsistent SDK versions between signers"
                ));
                break;
            }
            _ => {}
        }
        last_max = mx;
        if !s.lineage.is_empty() {
            if s.lineage.len() < last_lineage {
                r.errors
                    .push(format!("{label}: inconsistent lineages between signers"));
                break;
            }
            last_lineage = s.lineage.len();
        }
    }
    let need_max = rotation_min
        .map(|x| x.saturating_sub(1))
        .unwrap_or(range_max);
    if let Some(fm) = first_min
        && (fm > range_min || last_max < need_max)
    {
        r.errors.push(format!(
            "{label}: signers cover SDK {fm}..{last_max}, not the required {range_min}..{need_max}"
        ));
    }
    r.min_sdk = sorted.iter().filter_map(|s| s.min_sdk).min();
    r.max_sdk = sorted.iter().filter_map(|s| s.max_sdk).max();
    for s in &out.signers {
        if let Some(c) = s.cert {
            r.certificates.push(cert_info(c));
            certs_out.push(c.to_vec());
        }
    }
    if let Some(s) = out.signers.iter().rev().find(|s| !s.lineage.is_empty()) {
        r.lineage = s.lineage.iter().map(|c| cert_info(c)).collect();
        *lineage_out = s.lineage.clone();
    }
    r.verified = r.errors.is_empty();
}

/// Parses a fuzz input the way [`verify`] does before any cryptography: ZIP offsets, the
/// signing block, and every v2/v3/v3.1 block in it. Never panics.
pub fn parse_signing_structures(data: &[u8]) -> Result<usize, SigError> {
    let offs = find_zip_offsets(data)?;
    let Some(sb) = find_signing_block(data, &offs)? else {
        return Ok(0);
    };
    let limits = Limits::default();
    let mut n = 0;
    for (id, v) in &sb.pairs {
        n += match *id {
            V2_BLOCK_ID => parse_v2_block(v, &limits).map(|s| s.len()).unwrap_or(0),
            V3_BLOCK_ID | V31_BLOCK_ID => parse_v3_block(v, &limits).map(|s| s.len()).unwrap_or(0),
            _ => 0,
        };
    }
    // Also parse a raw v2/v3 block directly, so the fuzzer reaches those parsers quickly.
    let _ = parse_v2_block(data, &limits);
    let _ = parse_v3_block(data, &limits);
    Ok(n)
}
