//! JAR signing (v1) as Android / apksig verify it.

use crate::asn1;
use crate::crypto::{self, CryptoError, Family, Hash};
use crate::{ApkEntries, Limits};
use base64::Engine;
use std::collections::{BTreeMap, BTreeSet};

const MANIFEST: &str = "META-INF/MANIFEST.MF";
const OID_DATA: &str = "1.2.840.113549.1.7.1";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";

/// One manifest / signature-file section with its exact bytes.
#[derive(Debug)]
pub(crate) struct Section<'a> {
    pub name: Option<String>,
    pub attrs: Vec<(String, String)>,
    pub raw: &'a [u8],
}

impl Section<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a manifest into main section + named sections, keeping each section's raw bytes
/// (including the blank line that ends it), which is what .SF per-section digests cover.
pub(crate) fn parse_manifest(data: &[u8], max_sections: usize) -> (Section<'_>, Vec<Section<'_>>) {
    let mut sections: Vec<Section<'_>> = Vec::new();
    let mut pos = 0usize;
    let mut first = true;
    while pos < data.len() && sections.len() <= max_sections {
        if !first {
            // Blank lines between sections belong to no section.
            while pos < data.len() {
                let (line, next) = next_line(data, pos);
                if !line.is_empty() {
                    break;
                }
                pos = next;
            }
            if pos >= data.len() {
                break;
            }
        }
        let start = pos;
        let mut attrs: Vec<(String, String)> = Vec::new();
        while pos < data.len() {
            let (line, next) = next_line(data, pos);
            pos = next;
            if line.is_empty() {
                break;
            }
            let text = String::from_utf8_lossy(line);
            if let Some(cont) = text.strip_prefix(' ') {
                if let Some(last) = attrs.last_mut() {
                    last.1.push_str(cont);
                }
                continue;
            }
            if let Some((k, v)) = text.split_once(':') {
                attrs.push((k.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()));
            }
        }
        let name = if first {
            None
        } else {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Name"))
                .map(|(_, v)| v.clone())
        };
        sections.push(Section {
            name,
            attrs,
            raw: &data[start..pos],
        });
        first = false;
    }
    if sections.is_empty() {
        sections.push(Section {
            name: None,
            attrs: Vec::new(),
            raw: &data[..0],
        });
    }
    let main = sections.remove(0);
    (main, sections)
}

/// Returns (line without terminator, offset after terminator).
fn next_line(data: &[u8], pos: usize) -> (&[u8], usize) {
    let rest = &data[pos..];
    match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
        None => (rest, data.len()),
        Some(i) => {
            let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            (&rest[..i], pos + i + skip)
        }
    }
}

fn hash_from_attr_prefix(p: &str) -> Option<Hash> {
    Some(match p.to_ascii_uppercase().as_str() {
        "SHA1" | "SHA-1" => Hash::Sha1,
        "SHA-256" | "SHA256" => Hash::Sha256,
        "SHA-384" | "SHA384" => Hash::Sha384,
        "SHA-512" | "SHA512" => Hash::Sha512,
        "MD5" => Hash::Md5,
        _ => return None,
    })
}

/// All digests in `section` whose attribute name is `<ALG><suffix>`.
fn digests(section: &Section<'_>, suffix: &str) -> Vec<(Hash, Vec<u8>)> {
    let mut out = Vec::new();
    for (k, v) in &section.attrs {
        if k.len() > suffix.len()
            && k.to_ascii_lowercase()
                .ends_with(&suffix.to_ascii_lowercase())
        {
            let alg = &k[..k.len() - suffix.len()];
            if let (Some(h), Ok(d)) = (
                hash_from_attr_prefix(alg),
                base64::engine::general_purpose::STANDARD.decode(v.trim()),
            ) {
                out.push((h, d));
            }
        }
    }
    out
}

/// Result of v1 verification.
#[derive(Debug, Default)]
pub(crate) struct V1Outcome {
    pub present: bool,
    /// Signer certificates (DER) of the signers Android uses.
    pub certs: Vec<Vec<u8>>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

struct Signer {
    name: String,
    sf_name: String,
    block_name: String,
    cert: Option<Vec<u8>>,
    entry_names: BTreeSet<String>,
}

fn is_signature_block(lower: &str) -> bool {
    lower.ends_with(".rsa") || lower.ends_with(".dsa") || lower.ends_with(".ec")
}

/// Verifies the JAR signature. `found_schemes` are the APK Signature Scheme ids already found,
/// `supported_schemes` those the checked SDK range understands (for stripping protection).
pub(crate) fn verify(
    entries: &dyn ApkEntries,
    found_schemes: &BTreeSet<u32>,
    supported_schemes: &BTreeSet<u32>,
    limits: &Limits,
) -> V1Outcome {
    let mut out = V1Outcome::default();
    let mut names = entries.names();
    names.truncate(limits.max_entries);
    let mut seen = BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    let name_set: BTreeSet<&str> = names.iter().map(|s| s.as_str()).collect();
    let top_meta = |n: &str| -> Option<String> {
        let rest = n.strip_prefix("META-INF/")?;
        if rest.contains('/') {
            None
        } else {
            Some(rest.to_string())
        }
    };
    out.present = names.iter().any(|n| {
        top_meta(n).map(|f| {
            let l = f.to_ascii_lowercase();
            l.ends_with(".sf") || is_signature_block(&l)
        }) == Some(true)
    });
    if !name_set.contains(MANIFEST) {
        out.errors.push("Missing META-INF/MANIFEST.MF".into());
        return out;
    }
    let Some(manifest) = entries.read(MANIFEST, limits.max_meta_file) else {
        out.errors
            .push("Failed to read META-INF/MANIFEST.MF".into());
        return out;
    };
    let (man_main, man_sections) = parse_manifest(&manifest, limits.max_manifest_sections);
    let _ = man_main;
    let mut by_name: BTreeMap<&str, &Section<'_>> = BTreeMap::new();
    for s in &man_sections {
        if let Some(n) = &s.name
            && by_name.insert(n.as_str(), s).is_some()
        {
            out.errors
                .push(format!("Duplicate section in META-INF/MANIFEST.MF: {n}"));
        }
    }

    // Pair signature block files with signature files, like apksig.
    let mut signers: Vec<Signer> = Vec::new();
    let mut sf_used = BTreeSet::new();
    for n in &names {
        let Some(file) = top_meta(n) else { continue };
        let lower = file.to_ascii_lowercase();
        if !is_signature_block(&lower) {
            continue;
        }
        let base = &file[..file.rfind('.').unwrap_or(file.len())];
        let sf = format!("META-INF/{base}.SF");
        if !name_set.contains(sf.as_str()) {
            out.warnings
                .push(format!("Partial JAR signature. Found: {n}, missing: {sf}"));
            continue;
        }
        sf_used.insert(sf.clone());
        if signers.len() < limits.max_signers {
            signers.push(Signer {
                name: base.to_string(),
                sf_name: sf,
                block_name: n.clone(),
                cert: None,
                entry_names: BTreeSet::new(),
            });
        }
    }
    for n in &names {
        if let Some(file) = top_meta(n)
            && file.to_ascii_lowercase().ends_with(".sf")
            && !sf_used.contains(n)
        {
            out.warnings.push(format!(
                "Partial JAR signature. Found: {n}, missing signature block"
            ));
        }
    }
    if signers.is_empty() {
        out.errors.push("No JAR signatures".into());
        return out;
    }

    for signer in &mut signers {
        let who = format!("JAR signer {}", signer.name);
        let (Some(sf), Some(block)) = (
            entries.read(&signer.sf_name, limits.max_meta_file),
            entries.read(&signer.block_name, limits.max_meta_file),
        ) else {
            out.errors
                .push(format!("{who}: failed to read signature files"));
            continue;
        };
        match verify_pkcs7(&block, &sf) {
            Ok(cert) => signer.cert = Some(cert),
            Err(e) => {
                out.errors.push(format!("{who}: {e}"));
                continue;
            }
        }
        let (sf_main, sf_sections) = parse_manifest(&sf, limits.max_manifest_sections);
        if let Some(ids) = sf_main.get("X-Android-APK-Signed") {
            for id in ids.split(',').filter_map(|x| x.trim().parse::<u32>().ok()) {
                if supported_schemes.contains(&id) && !found_schemes.contains(&id) {
                    out.errors.push(format!(
                        "{who}: JAR signature {} indicates the APK is signed using APK Signature Scheme v{id} but no such signature was found. Signature stripped?",
                        signer.sf_name
                    ));
                }
            }
        }
        let whole = digests(&sf_main, "-Digest-Manifest");
        let manifest_ok = !whole.is_empty() && whole.iter().all(|(h, d)| h.digest(&manifest) == *d);
        if !manifest_ok {
            let main_attr = digests(&sf_main, "-Digest-Manifest-Main-Attributes");
            for (h, d) in &main_attr {
                if h.digest(man_main_raw(&manifest, &man_sections)) != *d {
                    out.errors.push(format!(
                        "{who}: {h:?} digest of META-INF/MANIFEST.MF main section does not match {}",
                        signer.sf_name
                    ));
                }
            }
        }
        for s in &sf_sections {
            let Some(n) = &s.name else { continue };
            signer.entry_names.insert(n.clone());
            if manifest_ok {
                continue;
            }
            match by_name.get(n.as_str()) {
                None => out.errors.push(format!(
                    "{who}: {} refers to {n} which is not in META-INF/MANIFEST.MF",
                    signer.sf_name
                )),
                Some(ms) => {
                    let ds = digests(s, "-Digest");
                    if ds.is_empty() {
                        out.errors
                            .push(format!("{who}: no digest for {n} in {}", signer.sf_name));
                    }
                    for (h, d) in ds {
                        if h.digest(ms.raw) != d {
                            out.errors.push(format!(
                                "{who}: {h:?} digest of {n} in META-INF/MANIFEST.MF does not match {}",
                                signer.sf_name
                            ));
                        }
                    }
                }
            }
        }
    }
    if !out.errors.is_empty() {
        return out;
    }

    // Every non-META-INF entry must be in the manifest, signed by the same signers, and match.
    let mut first_signers: Option<Vec<usize>> = None;
    for n in &names {
        if n.starts_with("META-INF/") || n.ends_with('/') {
            continue;
        }
        let Some(section) = by_name.get(n.as_str()) else {
            out.errors.push(format!(
                "No JAR entry digest in META-INF/MANIFEST.MF for {n}"
            ));
            continue;
        };
        let entry_signers: Vec<usize> = signers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.entry_names.contains(n))
            .map(|(i, _)| i)
            .collect();
        if entry_signers.is_empty() {
            out.errors
                .push(format!("Entry {n} is not signed by any JAR signer"));
            continue;
        }
        match &first_signers {
            None => first_signers = Some(entry_signers),
            Some(f) if *f != entry_signers => {
                out.errors
                    .push(format!("Entry {n} is signed by a different set of signers"));
                continue;
            }
            _ => {}
        }
        let ds = digests(section, "-Digest");
        if ds.is_empty() {
            out.errors.push(format!(
                "No JAR entry digest in META-INF/MANIFEST.MF for {n}"
            ));
            continue;
        }
        let Some(data) = entries.read(n, limits.max_entry_size) else {
            out.errors.push(format!("Failed to read entry {n}"));
            continue;
        };
        for (h, d) in ds {
            if h.digest(&data) != d {
                out.errors.push(format!(
                    "{h:?} digest of {n} does not match the digest in META-INF/MANIFEST.MF"
                ));
            }
        }
    }
    let Some(used) = first_signers else {
        out.errors.push("No signed ZIP entries".into());
        return out;
    };
    // META-INF entries are ignored by Android, so unprotected ones only warrant a warning.
    let sig_files: BTreeSet<&str> = signers
        .iter()
        .flat_map(|s| [s.sf_name.as_str(), s.block_name.as_str()])
        .chain([MANIFEST])
        .collect();
    for n in &names {
        if n.starts_with("META-INF/")
            && !n.ends_with('/')
            && !sig_files.contains(n.as_str())
            && !by_name.contains_key(n.as_str())
        {
            out.warnings.push(format!("{n} not protected by signature"));
        }
    }
    for i in used {
        if let Some(c) = signers.get(i).and_then(|s| s.cert.clone()) {
            out.certs.push(c);
        }
    }
    out
}

/// Bytes of the manifest's main section.
fn man_main_raw<'a>(manifest: &'a [u8], sections: &[Section<'a>]) -> &'a [u8] {
    let end = sections
        .first()
        .map(|s| s.raw.as_ptr() as usize - manifest.as_ptr() as usize)
        .unwrap_or(manifest.len());
    manifest.get(..end).unwrap_or(manifest)
}

/// Verifies the PKCS#7 signature block over the .SF bytes; returns the signer's certificate.
pub(crate) fn verify_pkcs7(block: &[u8], sf: &[u8]) -> Result<Vec<u8>, String> {
    let sd =
        asn1::parse_pkcs7(block).map_err(|e| format!("malformed PKCS#7 signature block: {e}"))?;
    if sd.signer_infos.is_empty() {
        return Err("no signers in PKCS#7 signature block".into());
    }
    let mut last_err = String::from("signature did not verify");
    for si in &sd.signer_infos {
        // Issuer names may be encoded differently in the SignerInfo (Java compares them
        // normalised), so fall back to the serial number alone.
        let by_serial =
            |c: &&&[u8], with_issuer: bool| match (asn1::parse_cert(c), si.issuer, si.serial) {
                (Ok(p), Some(i), Some(s)) => {
                    (!with_issuer || p.issuer == i)
                        && asn1::strip_int(p.serial) == asn1::strip_int(s)
                }
                _ => false,
            };
        let found = sd
            .certificates
            .iter()
            .find(|c| by_serial(c, true))
            .or_else(|| sd.certificates.iter().find(|c| by_serial(c, false)));
        let Some(cert) = found else {
            last_err = "signer certificate not found in PKCS#7 block".into();
            continue;
        };
        let Some(hash) = Hash::from_oid(&si.digest_oid) else {
            last_err = format!("unsupported digest algorithm {}", si.digest_oid);
            continue;
        };
        let Ok(parts) = asn1::parse_cert(cert) else {
            continue;
        };
        let family = match asn1::parse_spki(parts.spki) {
            Ok((asn1::KeyAlg::Rsa, _, _)) => Family::RsaPkcs1,
            Ok((asn1::KeyAlg::Ec(_), _, _)) => Family::Ecdsa,
            Ok((asn1::KeyAlg::Dsa, _, _)) => Family::Dsa,
            _ => {
                last_err = "unsupported public key algorithm".into();
                continue;
            }
        };
        let signed: Vec<u8> = match si.signed_attrs {
            None => sf.to_vec(),
            Some(attrs) => {
                match asn1::find_attr(attrs, OID_CONTENT_TYPE) {
                    Ok(Some(t)) if t.tag == 0x06 && asn1::oid_string(t.content) == OID_DATA => {}
                    _ => {
                        last_err = "signed attributes: content type is not data".into();
                        continue;
                    }
                }
                match asn1::find_attr(attrs, OID_MESSAGE_DIGEST) {
                    Ok(Some(t)) if t.tag == 0x04 && t.content == hash.digest(sf).as_slice() => {}
                    _ => {
                        last_err =
                            "signed attributes: message digest does not match the signature file"
                                .into();
                        continue;
                    }
                }
                // The signature covers the attributes re-tagged as a SET OF.
                let mut v = vec![0x31];
                let n = attrs.len();
                if n < 0x80 {
                    v.push(n as u8);
                } else {
                    let bytes = (n as u32).to_be_bytes();
                    let skip = bytes.iter().take_while(|b| **b == 0).count();
                    v.push(0x80 | (4 - skip) as u8);
                    v.extend_from_slice(&bytes[skip..]);
                }
                v.extend_from_slice(attrs);
                v
            }
        };
        match crypto::verify(family, hash, parts.spki, &signed, si.signature) {
            Ok(()) => return Ok(cert.to_vec()),
            Err(CryptoError::Invalid) => last_err = "signature did not verify".into(),
            Err(CryptoError::BadKey(w)) => last_err = w.into(),
        }
    }
    Err(last_err)
}
