//! APK Signature Scheme v2 / v3 / v3.1 blocks: parsing, signer checks, content digests, lineage.

use crate::asn1;
use crate::crypto::{self, CryptoError, Family, Hash};
use crate::zip::{ZipOffsets, u32le};
use crate::{Limits, SigError};
use sha2::{Digest, Sha256, Sha512};
use std::collections::BTreeMap;

/// Block IDs inside the APK Signing Block.
pub const V2_BLOCK_ID: u32 = 0x7109_871a;
/// APK Signature Scheme v3.
pub const V3_BLOCK_ID: u32 = 0xf053_68c0;
/// APK Signature Scheme v3.1 (rotation targeting an SDK version).
pub const V31_BLOCK_ID: u32 = 0x1b93_ad61;
/// Source stamp (v2).
pub const SOURCE_STAMP_BLOCK_ID: u32 = 0x6dff_800d;
/// Alignment padding written by apksigner.
pub const PADDING_BLOCK_ID: u32 = 0x4272_6577;

/// v2 additional attribute: the APK was also signed with the scheme id in the value.
pub(crate) const ATTR_STRIPPING_PROTECTION: u32 = 0xbeef_f00d;
/// v3 additional attribute: proof-of-rotation lineage.
pub(crate) const ATTR_PROOF_OF_ROTATION: u32 = 0x3ba0_6f8c;
/// v3 additional attribute: SDK from which the v3.1 rotated signer applies.
pub(crate) const ATTR_ROTATION_MIN_SDK: u32 = 0x559f_8b02;
/// v3.1 additional attribute: rotation targets a development release.
pub(crate) const ATTR_ROTATION_ON_DEV_RELEASE: u32 = 0xc2a6_b3ba;

/// One signer as stored in a v2/v3 block (borrowed views; nothing verified yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSigner<'a> {
    /// The signed-data bytes the signatures cover.
    pub signed_data: &'a [u8],
    /// (content digest / signature algorithm id, digest).
    pub digests: Vec<(u32, &'a [u8])>,
    /// DER certificates, signer's first.
    pub certificates: Vec<&'a [u8]>,
    /// v3 only: SDK range inside signed data.
    pub signed_min_sdk: Option<u32>,
    /// v3 only.
    pub signed_max_sdk: Option<u32>,
    /// v3 only: SDK range outside signed data.
    pub min_sdk: Option<u32>,
    /// v3 only.
    pub max_sdk: Option<u32>,
    /// (attribute id, value).
    pub attributes: Vec<(u32, &'a [u8])>,
    /// (signature algorithm id, signature).
    pub signatures: Vec<(u32, &'a [u8])>,
    /// SubjectPublicKeyInfo the signatures verify with.
    pub public_key: &'a [u8],
}

/// Reader over little-endian length-prefixed structures.
struct Lp<'a> {
    d: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Lp<'a> {
    fn new(d: &'a [u8], base: u64) -> Self {
        Lp { d, pos: 0, base }
    }
    fn at(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }
    fn remaining(&self) -> bool {
        self.pos < self.d.len()
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, SigError> {
        let v = u32le(self.d, self.pos).ok_or(SigError::Malformed {
            at: self.at(),
            what,
        })?;
        self.pos += 4;
        Ok(v)
    }
    fn slice(&mut self, what: &'static str) -> Result<Lp<'a>, SigError> {
        let at = self.at();
        let len = self.u32(what)? as usize;
        let end = self
            .pos
            .checked_add(len)
            .ok_or(SigError::Malformed { at, what })?;
        let s = self
            .d
            .get(self.pos..end)
            .ok_or(SigError::Malformed { at, what })?;
        let base = self.at();
        self.pos = end;
        Ok(Lp::new(s, base))
    }
    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], SigError> {
        Ok(self.slice(what)?.d)
    }
}

fn bounded_push<T>(
    v: &mut Vec<T>,
    x: T,
    max: usize,
    at: u64,
    what: &'static str,
) -> Result<(), SigError> {
    if v.len() >= max {
        return Err(SigError::Malformed { at, what });
    }
    v.push(x);
    Ok(())
}

/// Parses a v2 block value (the signers sequence).
pub fn parse_v2_block<'a>(
    value: &'a [u8],
    limits: &Limits,
) -> Result<Vec<RawSigner<'a>>, SigError> {
    parse_block(value, false, limits)
}

/// Parses a v3 or v3.1 block value.
pub fn parse_v3_block<'a>(
    value: &'a [u8],
    limits: &Limits,
) -> Result<Vec<RawSigner<'a>>, SigError> {
    parse_block(value, true, limits)
}

fn parse_block<'a>(
    value: &'a [u8],
    v3: bool,
    limits: &Limits,
) -> Result<Vec<RawSigner<'a>>, SigError> {
    let mut outer = Lp::new(value, 0);
    let mut signers_lp = outer.slice("signers sequence")?;
    let mut out = Vec::new();
    while signers_lp.remaining() {
        let at = signers_lp.at();
        let mut s = signers_lp.slice("signer")?;
        let signed = s.slice("signed data")?;
        let signed_data = signed.d;
        let (min_sdk, max_sdk) = if v3 {
            (
                Some(s.u32("signer min SDK")?),
                Some(s.u32("signer max SDK")?),
            )
        } else {
            (None, None)
        };
        let mut sigs = s.slice("signatures")?;
        let public_key = s.bytes("public key")?;
        let mut signatures = Vec::new();
        while sigs.remaining() {
            let a = sigs.at();
            let mut one = sigs.slice("signature record")?;
            let alg = one.u32("signature algorithm")?;
            let sig = one.bytes("signature")?;
            bounded_push(
                &mut signatures,
                (alg, sig),
                limits.max_records,
                a,
                "too many signatures",
            )?;
        }
        let mut sd = Lp::new(signed_data, signed.base);
        let mut dl = sd.slice("digests")?;
        let mut digests = Vec::new();
        while dl.remaining() {
            let a = dl.at();
            let mut one = dl.slice("digest record")?;
            let alg = one.u32("digest algorithm")?;
            let d = one.bytes("digest")?;
            bounded_push(
                &mut digests,
                (alg, d),
                limits.max_records,
                a,
                "too many digests",
            )?;
        }
        let mut cl = sd.slice("certificates")?;
        let mut certificates = Vec::new();
        while cl.remaining() {
            let a = cl.at();
            let c = cl.bytes("certificate")?;
            bounded_push(
                &mut certificates,
                c,
                limits.max_records,
                a,
                "too many certificates",
            )?;
        }
        let (signed_min_sdk, signed_max_sdk) = if v3 {
            (
                Some(sd.u32("signed min SDK")?),
                Some(sd.u32("signed max SDK")?),
            )
        } else {
            (None, None)
        };
        let mut al = sd.slice("additional attributes")?;
        let mut attributes = Vec::new();
        while al.remaining() {
            let a = al.at();
            let mut one = al.slice("attribute")?;
            let id = one.u32("attribute id")?;
            let v = &one.d[one.pos..];
            bounded_push(
                &mut attributes,
                (id, v),
                limits.max_records,
                a,
                "too many attributes",
            )?;
        }
        bounded_push(
            &mut out,
            RawSigner {
                signed_data,
                digests,
                certificates,
                signed_min_sdk,
                signed_max_sdk,
                min_sdk,
                max_sdk,
                attributes,
                signatures,
                public_key,
            },
            limits.max_signers,
            at,
            "too many signers",
        )?;
    }
    Ok(out)
}

/// Content digest algorithms of v2/v3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ContentDigest {
    ChunkedSha256,
    ChunkedSha512,
    VerityChunkedSha256,
}

/// What a v2/v3 signature algorithm id means.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SigAlgo {
    pub name: &'static str,
    pub family: Family,
    pub hash: Hash,
    pub content: ContentDigest,
}

pub(crate) fn sig_algo(id: u32) -> Option<SigAlgo> {
    use ContentDigest::*;
    let (name, family, hash, content) = match id {
        0x0101 => (
            "RSA_PSS_WITH_SHA256",
            Family::RsaPss,
            Hash::Sha256,
            ChunkedSha256,
        ),
        0x0102 => (
            "RSA_PSS_WITH_SHA512",
            Family::RsaPss,
            Hash::Sha512,
            ChunkedSha512,
        ),
        0x0103 => (
            "RSA_PKCS1_V1_5_WITH_SHA256",
            Family::RsaPkcs1,
            Hash::Sha256,
            ChunkedSha256,
        ),
        0x0104 => (
            "RSA_PKCS1_V1_5_WITH_SHA512",
            Family::RsaPkcs1,
            Hash::Sha512,
            ChunkedSha512,
        ),
        0x0201 => (
            "ECDSA_WITH_SHA256",
            Family::Ecdsa,
            Hash::Sha256,
            ChunkedSha256,
        ),
        0x0202 => (
            "ECDSA_WITH_SHA512",
            Family::Ecdsa,
            Hash::Sha512,
            ChunkedSha512,
        ),
        0x0301 => ("DSA_WITH_SHA256", Family::Dsa, Hash::Sha256, ChunkedSha256),
        0x0421 => (
            "VERITY_RSA_PKCS1_V1_5_WITH_SHA256",
            Family::RsaPkcs1,
            Hash::Sha256,
            VerityChunkedSha256,
        ),
        0x0423 => (
            "VERITY_ECDSA_WITH_SHA256",
            Family::Ecdsa,
            Hash::Sha256,
            VerityChunkedSha256,
        ),
        0x0425 => (
            "VERITY_DSA_WITH_SHA256",
            Family::Dsa,
            Hash::Sha256,
            VerityChunkedSha256,
        ),
        _ => return None,
    };
    Some(SigAlgo {
        name,
        family,
        hash,
        content,
    })
}

const CHUNK: usize = 1 << 20;
const VERITY_PAGE: usize = 4096;

/// The three byte ranges v2/v3 digest; the EOCD copy has its CD offset pointing at the block.
pub(crate) struct Sections<'a> {
    pub before: &'a [u8],
    pub cd: &'a [u8],
    pub eocd: Vec<u8>,
}

impl<'a> Sections<'a> {
    pub fn new(apk: &'a [u8], offs: &ZipOffsets, block_offset: u64) -> Result<Self, SigError> {
        let before = apk
            .get(..block_offset as usize)
            .ok_or(SigError::Malformed {
                at: block_offset,
                what: "block offset",
            })?;
        let cd = apk
            .get(offs.central_directory_offset as usize..offs.eocd_offset as usize)
            .ok_or(SigError::Malformed {
                at: offs.central_directory_offset,
                what: "CD bounds",
            })?;
        let mut eocd = apk
            .get(offs.eocd_offset as usize..)
            .unwrap_or_default()
            .to_vec();
        let field = eocd.get_mut(16..20).ok_or(SigError::Malformed {
            at: offs.eocd_offset,
            what: "EOCD truncated",
        })?;
        field.copy_from_slice(&(block_offset as u32).to_le_bytes());
        Ok(Sections { before, cd, eocd })
    }
    fn parts(&self) -> [&[u8]; 3] {
        [self.before, self.cd, &self.eocd]
    }

    /// Computes one content digest as stored in v2/v3 signed data.
    pub fn digest(&self, alg: ContentDigest) -> Vec<u8> {
        match alg {
            ContentDigest::ChunkedSha256 => self.chunked::<Sha256>(),
            ContentDigest::ChunkedSha512 => self.chunked::<Sha512>(),
            ContentDigest::VerityChunkedSha256 => self.verity(),
        }
    }

    fn chunked<D: Digest>(&self) -> Vec<u8> {
        let parts = self.parts();
        let count: usize = parts.iter().map(|p| p.len().div_ceil(CHUNK)).sum();
        let mut top = D::new();
        top.update([0x5a]);
        top.update((count as u32).to_le_bytes());
        for p in parts {
            for chunk in p.chunks(CHUNK) {
                let mut h = D::new();
                h.update([0xa5]);
                h.update((chunk.len() as u32).to_le_bytes());
                h.update(chunk);
                top.update(h.finalize());
            }
        }
        top.finalize().to_vec()
    }

    /// fs-verity style Merkle root over 4 KiB pages of the concatenated sections, followed by
    /// the data length (little-endian u64), as apksig's VerityTreeBuilder produces.
    fn verity(&self) -> Vec<u8> {
        let total: usize = self.parts().iter().map(|p| p.len()).sum();
        // Leaf level: hash each 4 KiB page of the concatenation (zero-padded last page).
        let mut level = Vec::new();
        let mut page = Vec::with_capacity(VERITY_PAGE);
        for p in self.parts() {
            let mut rest = p;
            while !rest.is_empty() {
                let take = (VERITY_PAGE - page.len()).min(rest.len());
                page.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if page.len() == VERITY_PAGE {
                    level.extend_from_slice(&salted(&page));
                    page.clear();
                }
            }
        }
        if !page.is_empty() {
            page.resize(VERITY_PAGE, 0);
            level.extend_from_slice(&salted(&page));
        }
        loop {
            let padded = level.len().div_ceil(VERITY_PAGE).max(1) * VERITY_PAGE;
            level.resize(padded, 0);
            if level.len() == VERITY_PAGE {
                break;
            }
            level = level.chunks(VERITY_PAGE).flat_map(salted).collect();
        }
        let mut out = salted(&level);
        out.extend_from_slice(&(total as u64).to_le_bytes());
        out
    }
}

/// apksig builds the APK verity tree with an 8-byte all-zero salt before every page.
fn salted(page: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([0u8; 8]);
    h.update(page);
    h.finalize().to_vec()
}

/// A signer that passed (or failed) checks, with what the report needs.
#[derive(Debug, Default)]
pub(crate) struct CheckedSigner<'a> {
    pub cert: Option<&'a [u8]>,
    pub min_sdk: Option<u32>,
    pub max_sdk: Option<u32>,
    pub lineage: Vec<Vec<u8>>,
    pub rotation_min_sdk: Option<u32>,
    pub stripping: Vec<u32>,
}

/// Outcome of verifying one scheme block.
#[derive(Debug, Default)]
pub(crate) struct BlockOutcome<'a> {
    pub signers: Vec<CheckedSigner<'a>>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Verifies all signers of a v2 (`v3 == false`) or v3/v3.1 block and the APK content digests.
pub(crate) fn verify_block<'a>(
    value: &'a [u8],
    v3: bool,
    label: &str,
    sections: &Sections<'_>,
    cache: &mut BTreeMap<ContentDigest, Vec<u8>>,
    limits: &Limits,
) -> BlockOutcome<'a> {
    let mut out = BlockOutcome::default();
    let signers = match parse_block(value, v3, limits) {
        Ok(s) => s,
        Err(e) => {
            out.errors.push(format!("{label}: malformed block: {e}"));
            return out;
        }
    };
    if signers.is_empty() {
        out.errors.push(format!("{label}: no signers"));
        return out;
    }
    let mut expected: Vec<(ContentDigest, &[u8], usize)> = Vec::new();
    for (i, s) in signers.iter().enumerate() {
        let who = format!("{label} signer #{}", i + 1);
        let mut checked = CheckedSigner {
            min_sdk: s.min_sdk,
            max_sdk: s.max_sdk,
            ..Default::default()
        };
        if s.signatures.is_empty() {
            out.errors.push(format!("{who}: no signatures"));
        }
        let mut supported = Vec::new();
        for (alg, sig) in &s.signatures {
            match sig_algo(*alg) {
                Some(a) => supported.push((a, *sig)),
                None => out
                    .warnings
                    .push(format!("{who}: unknown signature algorithm 0x{alg:04x}")),
            }
        }
        if !s.signatures.is_empty() && supported.is_empty() {
            out.errors.push(format!("{who}: no supported signatures"));
        }
        for (a, sig) in &supported {
            match crypto::verify(a.family, a.hash, s.public_key, s.signed_data, sig) {
                Ok(()) => {}
                Err(CryptoError::Invalid) => out.errors.push(format!(
                    "{who}: {} signature over signed-data did not verify",
                    a.name
                )),
                Err(CryptoError::BadKey(why)) => {
                    out.errors.push(format!("{who}: {}: {why}", a.name))
                }
            }
        }
        match s.certificates.first() {
            None => out.errors.push(format!("{who}: no certificates")),
            Some(c) => match asn1::parse_cert(c) {
                Ok(parts) => {
                    checked.cert = Some(c);
                    if parts.spki != s.public_key {
                        out.errors.push(format!(
                            "{who}: public key mismatch between certificate and signature record"
                        ));
                    }
                }
                Err(e) => out
                    .errors
                    .push(format!("{who}: malformed certificate: {e}")),
            },
        }
        let sig_ids: Vec<u32> = s.signatures.iter().map(|x| x.0).collect();
        let dig_ids: Vec<u32> = s.digests.iter().map(|x| x.0).collect();
        if sig_ids != dig_ids {
            out.errors.push(format!(
                "{who}: signature algorithms don't match between digests and signatures records"
            ));
        }
        for (alg, d) in &s.digests {
            if let Some(a) = sig_algo(*alg) {
                expected.push((a.content, d, i));
            }
        }
        if v3 && (s.signed_min_sdk != s.min_sdk || s.signed_max_sdk != s.max_sdk) {
            out.errors.push(format!(
                "{who}: SDK versions differ between signed and unsigned data"
            ));
        }
        if let (Some(mn), Some(mx)) = (s.min_sdk, s.max_sdk)
            && mn > mx
        {
            out.errors
                .push(format!("{who}: invalid SDK range {mn}..{mx}"));
        }
        for (id, v) in &s.attributes {
            match (*id, v3) {
                (ATTR_STRIPPING_PROTECTION, false) => match u32le(v, 0) {
                    Some(x) => checked.stripping.push(x),
                    None => out
                        .errors
                        .push(format!("{who}: malformed stripping-protection attribute")),
                },
                (ATTR_PROOF_OF_ROTATION, true) => match verify_lineage(v, limits) {
                    Ok(certs) => {
                        if let (Some(last), Some(c)) = (certs.last(), checked.cert)
                            && last.as_slice() != c
                        {
                            out.errors.push(format!(
                                "{who}: proof-of-rotation's newest certificate differs from the signer's"
                            ));
                        }
                        checked.lineage = certs;
                    }
                    Err(e) => out
                        .errors
                        .push(format!("{who}: proof-of-rotation did not verify: {e}")),
                },
                (ATTR_ROTATION_MIN_SDK, true) => match u32le(v, 0) {
                    Some(x) => checked.rotation_min_sdk = Some(x),
                    None => out
                        .errors
                        .push(format!("{who}: malformed rotation-min-sdk attribute")),
                },
                (ATTR_ROTATION_ON_DEV_RELEASE, true) => {}
                _ => out.warnings.push(format!(
                    "{who}: unknown additional attribute: ID 0x{id:08x}"
                )),
            }
        }
        out.signers.push(checked);
    }
    if !out.errors.is_empty() {
        return out;
    }
    for (alg, want, i) in expected {
        let got = cache.entry(alg).or_insert_with(|| sections.digest(alg));
        if got.as_slice() != want {
            out.errors.push(format!(
                "{label} signer #{}: APK integrity check failed. {alg:?} digest mismatch. Expected: <{}>, actual: <{}>",
                i + 1,
                hex::encode(want),
                hex::encode(&got)
            ));
        }
    }
    out
}

/// Verifies a proof-of-rotation lineage; returns its certificates oldest first.
pub(crate) fn verify_lineage(v: &[u8], limits: &Limits) -> Result<Vec<Vec<u8>>, SigError> {
    let mut r = Lp::new(v, 0);
    let version = r.u32("lineage version")?;
    if version != 1 {
        return Err(SigError::Malformed {
            at: 0,
            what: "unsupported lineage version",
        });
    }
    let mut certs: Vec<Vec<u8>> = Vec::new();
    let mut last: Option<(Vec<u8>, u32)> = None;
    while r.remaining() {
        let at = r.at();
        if certs.len() >= limits.max_records {
            return Err(SigError::Malformed {
                at,
                what: "lineage too long",
            });
        }
        let mut node = r.slice("lineage node")?;
        let signed = node.bytes("lineage signed data")?;
        let _flags = node.u32("lineage flags")?;
        let sig_alg = node.u32("lineage signature algorithm")?;
        let signature = node.bytes("lineage signature")?;
        let mut sd = Lp::new(signed, at);
        let cert = sd.bytes("lineage certificate")?;
        let signed_alg = sd.u32("lineage signed algorithm")?;
        if let Some((prev_cert, prev_alg)) = &last {
            if *prev_alg != signed_alg {
                return Err(SigError::Malformed {
                    at,
                    what: "lineage signing algorithm mismatch",
                });
            }
            let a = sig_algo(*prev_alg).ok_or(SigError::Malformed {
                at,
                what: "lineage: unknown algorithm",
            })?;
            let prev = asn1::parse_cert(prev_cert)?;
            crypto::verify(a.family, a.hash, prev.spki, signed, signature).map_err(|_| {
                SigError::Malformed {
                    at,
                    what: "lineage node signature did not verify",
                }
            })?;
        }
        asn1::parse_cert(cert)?;
        if certs.iter().any(|c| c.as_slice() == cert) {
            return Err(SigError::Malformed {
                at,
                what: "duplicate certificate in lineage",
            });
        }
        certs.push(cert.to_vec());
        last = Some((cert.to_vec(), sig_alg));
    }
    Ok(certs)
}
