//! Certificates: a JSON payload naming the device, its firmware and the verdicts, signed with
//! Ed25519 as a JWS (RFC 7515, flattened JSON serialization, `alg: EdDSA` per RFC 8037).
//!
//! Keys are PKCS#8 (`PREFIX.key`, mode 0600) and SPKI (`PREFIX.pub`) PEM files, the forms
//! OpenSSL and every JOSE library read.

use crate::audit::{AuditReport, Decision};
use crate::audit::{TOOL_NAME, TOOL_VERSION};
use crate::outcome::Verdict;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use maud::{DOCTYPE, html};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `format` of a certificate payload.
pub const CERT_FORMAT: &str = "phonecert-certificate/1";
/// The JWS `typ` header.
pub const JWS_TYP: &str = "phonecert-certificate+jws";
/// Largest certificate text accepted by [`verify`].
pub const MAX_CERT_BYTES: usize = 256 << 10;
/// Largest key file read.
pub const MAX_KEY_BYTES: u64 = 16 << 10;

/// The device a certificate names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertDevice {
    pub manufacturer: String,
    pub model: String,
    pub build_fingerprint: Option<String>,
}

/// The catalogue a certificate was issued against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertCatalogue {
    pub id: String,
    pub version: String,
}

/// What a certificate states (the signed JWS payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatePayload {
    /// [`CERT_FORMAT`].
    pub format: String,
    /// Random 128-bit serial number, hex.
    pub serial: String,
    /// The issuing lab.
    pub lab: String,
    pub case_id: Option<String>,
    pub device: CertDevice,
    /// `sha256:<hex>` over every app's package, version, APK digest and signer.
    pub firmware_digest: String,
    /// Number of apps covered by the digest.
    pub firmware_apps: usize,
    pub catalogue: CertCatalogue,
    /// Requirement id → final verdict.
    pub verdicts: BTreeMap<String, Verdict>,
    /// Requirements whose verdict was set by a reviewer.
    pub reviewed: Vec<String>,
    /// For each reviewed requirement: the automatic verdict, the final one and the reviewer's
    /// reason, so that nobody reads a reviewed PASS as an automatic one. Absent from
    /// certificates issued before reviews were spelled out (they still verify).
    #[serde(default)]
    pub reviews: Vec<CertReview>,
    /// Verdict → number of requirements.
    pub summary: BTreeMap<Verdict, usize>,
    /// SHA-256 of the report.json the certificate was issued with.
    pub report_sha256: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub issued: String,
    pub not_before: String,
    pub not_after: String,
    /// Tool name and version.
    pub tool: String,
}

/// One reviewer's override as a certificate states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertReview {
    pub requirement: String,
    /// What the automatic check decided.
    pub automatic: Verdict,
    /// What the reviewer set (the verdict in `verdicts`).
    pub verdict: Verdict,
    pub reviewer: String,
    pub reason: String,
    /// The review's date, as review.toml gives it.
    pub date: String,
}

/// Options for [`issue_certificate`].
#[derive(Debug, Clone)]
pub struct CertOptions {
    /// Issuing lab (default: the case's `lab`).
    pub lab: Option<String>,
    /// Validity in days from issue.
    pub validity_days: u32,
    /// Issue time in Unix seconds (default: now).
    pub now: Option<i64>,
    /// Serial number (default: 128 random bits).
    pub serial: Option<String>,
    /// SHA-256 of report.json, when written.
    pub report_sha256: Option<String>,
}

impl Default for CertOptions {
    fn default() -> Self {
        CertOptions {
            lab: None,
            validity_days: 365,
            now: None,
            serial: None,
            report_sha256: None,
        }
    }
}

/// Errors issuing a certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate refused (byte {at}): {what}")]
    NotCertifiable { at: u64, what: &'static str },
}

/// Errors with key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file, byte {at}: {what}: {source}")]
    Io {
        at: u64,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("key file, byte {at}: {what}")]
    Format { at: u64, what: &'static str },
}

/// Why a certificate does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("certificate, byte {at}: {what}")]
    TooLarge { at: u64, what: &'static str },
    #[error("certificate, byte {at}: {what}")]
    Malformed { at: u64, what: &'static str },
    #[error("certificate, byte {at}: {what}")]
    Unsupported { at: u64, what: &'static str },
    #[error("certificate, byte {at}: {what}")]
    WrongKey { at: u64, what: &'static str },
    #[error("certificate, byte {at}: {what}")]
    BadSignature { at: u64, what: &'static str },
    #[error("certificate expired on {not_after} (byte {at}: {what})")]
    Expired {
        at: u64,
        what: &'static str,
        not_after: String,
    },
    #[error("certificate not valid before {not_before} (byte {at}: {what})")]
    NotYetValid {
        at: u64,
        what: &'static str,
        not_before: String,
    },
}

/// A new Ed25519 key pair from the OS random generator.
pub fn keygen() -> (SigningKey, VerifyingKey) {
    let sk = SigningKey::generate(&mut rand_core::OsRng);
    let pk = sk.verifying_key();
    (sk, pk)
}

/// Key id: the first 16 bytes of SHA-256 over the raw public key, hex.
pub fn key_id(pk: &VerifyingKey) -> String {
    let d = Sha256::digest(pk.as_bytes());
    hex::encode(d.get(..16).unwrap_or_default())
}

/// Writes `PREFIX.key` (PKCS#8 PEM, created with mode 0600, never overwritten) and
/// `PREFIX.pub` (SPKI PEM). Returns both paths.
pub fn write_keypair(prefix: &Path, sk: &SigningKey) -> Result<(PathBuf, PathBuf), KeyError> {
    let key_path = with_suffix(prefix, "key");
    let pub_path = with_suffix(prefix, "pub");
    let pem = sk
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|_| KeyError::Format {
            at: 0,
            what: "cannot encode the secret key",
        })?;
    let pub_pem = sk
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|_| KeyError::Format {
            at: 0,
            what: "cannot encode the public key",
        })?;
    let io = |what: &'static str| {
        move |source| KeyError::Io {
            at: 0,
            what,
            source,
        }
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&key_path)
        .map_err(io("cannot create the secret key file (it must not exist)"))?;
    f.write_all(pem.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io("cannot write the secret key file"))?;
    pc_base::atomic::write_atomic(&pub_path, pub_pem.as_bytes())
        .map_err(io("cannot write the public key file"))?;
    Ok((key_path, pub_path))
}

fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn read_key_text(path: &Path) -> Result<String, KeyError> {
    crate::review::read_capped(path, MAX_KEY_BYTES).map_err(|e| match e {
        Some(source) => KeyError::Io {
            at: 0,
            what: "cannot read key file",
            source,
        },
        None => KeyError::Format {
            at: MAX_KEY_BYTES,
            what: "key file too large",
        },
    })
}

/// Reads a PKCS#8 PEM secret key.
pub fn read_secret_key(path: &Path) -> Result<SigningKey, KeyError> {
    parse_secret_key(&read_key_text(path)?)
}

/// Parses a PKCS#8 PEM secret key.
pub fn parse_secret_key(text: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(text).map_err(|_| KeyError::Format {
        at: 0,
        what: "not a PKCS#8 PEM Ed25519 private key",
    })
}

/// Reads an SPKI PEM public key.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    parse_public_key(&read_key_text(path)?)
}

/// Parses an SPKI PEM public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_pem(text).map_err(|_| KeyError::Format {
        at: 0,
        what: "not an SPKI PEM Ed25519 public key",
    })
}

/// Builds the payload for a certifiable audit.
pub fn issue_certificate(
    report: &AuditReport,
    opts: &CertOptions,
) -> Result<CertificatePayload, CertError> {
    if report.summary.decision != Decision::Certifiable {
        return Err(CertError::NotCertifiable {
            at: 0,
            what: "not every mandatory requirement is PASS",
        });
    }
    let Some(digest) = report.firmware_digest.clone() else {
        return Err(CertError::NotCertifiable {
            at: 0,
            what: "no firmware analysis: the certificate could not name the firmware",
        });
    };
    let lab = opts
        .lab
        .clone()
        .or_else(|| report.case.lab.clone())
        .filter(|l| !l.trim().is_empty())
        .ok_or(CertError::NotCertifiable {
            at: 0,
            what: "no issuing lab (case [case].lab or the lab option)",
        })?;
    let now = opts.now.unwrap_or_else(pc_base::time::now);
    let not_after = now.saturating_add(i64::from(opts.validity_days).saturating_mul(86_400));
    let serial = opts.serial.clone().unwrap_or_else(|| {
        let mut b = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        hex::encode(b)
    });
    Ok(CertificatePayload {
        format: CERT_FORMAT.into(),
        serial,
        lab,
        case_id: report.case.id.clone(),
        device: CertDevice {
            manufacturer: report.case.manufacturer.clone(),
            model: report.case.model.clone(),
            build_fingerprint: report.case.build_fingerprint.clone(),
        },
        firmware_digest: digest,
        firmware_apps: report.apps().len(),
        catalogue: CertCatalogue {
            id: report.catalogue.id.clone(),
            version: report.catalogue.version.clone(),
        },
        verdicts: report
            .results
            .iter()
            .map(|r| (r.requirement.clone(), r.verdict))
            .collect(),
        reviewed: report
            .results
            .iter()
            .filter(|r| r.review.is_some())
            .map(|r| r.requirement.clone())
            .collect(),
        reviews: report
            .results
            .iter()
            .filter_map(|r| {
                let v = r.review.as_ref()?;
                Some(CertReview {
                    requirement: r.requirement.clone(),
                    automatic: r.automatic.verdict,
                    verdict: r.verdict,
                    reviewer: v.reviewer.clone(),
                    reason: v.reason.clone(),
                    date: v.date.clone(),
                })
            })
            .collect(),
        summary: report.summary.counts.clone(),
        report_sha256: opts.report_sha256.clone(),
        issued: pc_base::time::format_utc(now),
        not_before: pc_base::time::format_utc(now),
        not_after: pc_base::time::format_utc(not_after),
        tool: format!("{TOOL_NAME} {TOOL_VERSION}"),
    })
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlatJws {
    payload: String,
    protected: String,
    signature: String,
}

/// Signs a payload: a JWS in flattened JSON serialization (RFC 7515 §7.2.2), pretty-printed
/// with a trailing newline.
pub fn sign(payload: &CertificatePayload, key: &SigningKey) -> String {
    let header = serde_json::json!({
        "alg": "EdDSA",
        "typ": JWS_TYP,
        "kid": key_id(&key.verifying_key()),
    });
    let protected = B64.encode(header.to_string());
    let body = B64.encode(serde_json::to_vec(payload).unwrap_or_default());
    let input = format!("{protected}.{body}");
    let sig: Signature = key.sign(input.as_bytes());
    let jws = FlatJws {
        payload: body,
        protected,
        signature: B64.encode(sig.to_bytes()),
    };
    let mut s = serde_json::to_string_pretty(&jws).unwrap_or_default();
    s.push('\n');
    s
}

/// The same JWS in compact serialization (`header.payload.signature`).
pub fn to_compact(cert_text: &str) -> Result<String, VerifyError> {
    let (p, b, s, _) = split(cert_text)?;
    Ok(format!("{p}.{b}.{s}"))
}

/// (protected, payload, signature, offsets of each) of a flattened-JSON or compact JWS.
fn split(text: &str) -> Result<(String, String, String, [u64; 3]), VerifyError> {
    if text.len() > MAX_CERT_BYTES {
        return Err(VerifyError::TooLarge {
            at: MAX_CERT_BYTES as u64,
            what: "certificate larger than the limit",
        });
    }
    let t = text.trim();
    if t.starts_with('{') {
        let j: FlatJws = serde_json::from_str(t).map_err(|_| VerifyError::Malformed {
            at: 0,
            what: "not a flattened JWS JSON object (payload, protected, signature)",
        })?;
        let off = |needle: &str| text.find(needle).map_or(0, |i| i as u64);
        let o = [off(&j.protected), off(&j.payload), off(&j.signature)];
        Ok((j.protected, j.payload, j.signature, o))
    } else {
        let mut parts = t.split('.');
        let (Some(p), Some(b), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed {
                at: 0,
                what: "not a JWS: expected header.payload.signature",
            });
        };
        let o1 = p.len() as u64 + 1;
        let o2 = o1 + b.len() as u64 + 1;
        Ok((p.into(), b.into(), s.into(), [0, o1, o2]))
    }
}

fn b64(s: &str, at: u64, what: &'static str) -> Result<Vec<u8>, VerifyError> {
    B64.decode(s)
        .map_err(|_| VerifyError::Malformed { at, what })
}

/// Verifies a certificate (flattened JSON or compact JWS) with `pubkey` at Unix time `now`:
/// the signature must be valid over the exact signed bytes, the header must be `EdDSA` without
/// critical extensions, its `kid` (if any) must be the key's, and `now` must lie within
/// `not_before ..= not_after`.
pub fn verify(
    cert_text: &str,
    pubkey: &VerifyingKey,
    now: i64,
) -> Result<CertificatePayload, VerifyError> {
    let (protected, body, sig, at) = split(cert_text)?;
    let header_bytes = b64(&protected, at[0], "protected header is not base64url")?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header_bytes)
        .map_err(|_| VerifyError::Malformed {
            at: at[0],
            what: "protected header is not a JSON object",
        })?;
    if header.get("alg").and_then(|v| v.as_str()) != Some("EdDSA") {
        return Err(VerifyError::Unsupported {
            at: at[0],
            what: "alg must be EdDSA",
        });
    }
    if header.contains_key("crit") || header.contains_key("b64") {
        return Err(VerifyError::Unsupported {
            at: at[0],
            what: "critical header extensions are not supported",
        });
    }
    if let Some(kid) = header.get("kid")
        && kid.as_str() != Some(key_id(pubkey).as_str())
    {
        return Err(VerifyError::WrongKey {
            at: at[0],
            what: "signed with another key (kid differs)",
        });
    }
    let sig_bytes = b64(&sig, at[2], "signature is not base64url")?;
    let sig_arr: [u8; 64] =
        sig_bytes
            .as_slice()
            .try_into()
            .map_err(|_| VerifyError::Malformed {
                at: at[2],
                what: "an Ed25519 signature is 64 bytes",
            })?;
    let signature = Signature::from_bytes(&sig_arr);
    let input = format!("{protected}.{body}");
    pubkey
        .verify_strict(input.as_bytes(), &signature)
        .map_err(|_| VerifyError::BadSignature {
            at: at[2],
            what: "signature does not verify with this key over the signed content",
        })?;
    let payload_bytes = b64(&body, at[1], "payload is not base64url")?;
    let p: CertificatePayload =
        serde_json::from_slice(&payload_bytes).map_err(|_| VerifyError::Malformed {
            at: at[1],
            what: "payload is not a phonecert certificate",
        })?;
    if p.format != CERT_FORMAT {
        return Err(VerifyError::Unsupported {
            at: at[1],
            what: "unknown certificate format",
        });
    }
    let nb = pc_base::time::parse_utc(&p.not_before).ok_or(VerifyError::Malformed {
        at: at[1],
        what: "not_before is not a UTC time",
    })?;
    let na = pc_base::time::parse_utc(&p.not_after).ok_or(VerifyError::Malformed {
        at: at[1],
        what: "not_after is not a UTC time",
    })?;
    if now < nb {
        return Err(VerifyError::NotYetValid {
            at: at[1],
            what: "now is before not_before",
            not_before: p.not_before.clone(),
        });
    }
    if now > na {
        return Err(VerifyError::Expired {
            at: at[1],
            what: "now is after not_after",
            not_after: p.not_after.clone(),
        });
    }
    Ok(p)
}

/// The certificate page's style sheet (printable on one page).
const CERT_CSS: &str = r#"
body { font: 11pt/1.45 system-ui, sans-serif; color: #111; max-width: 52em; margin: 2em auto; padding: 0 1em; }
.frame { border: 3px double #234; padding: 1.5em 2em; }
h1 { font-size: 1.6em; text-align: center; margin: 0 0 .2em; }
.sub { text-align: center; color: #444; margin-bottom: 1.5em; }
table { border-collapse: collapse; width: 100%; margin: .8em 0; }
th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid #ddd; vertical-align: top; }
th { width: 14em; color: #333; }
code { font: 9.5pt ui-monospace, monospace; word-break: break-all; }
.v.pass { color: #0a6b2d; font-weight: 600; }
.howto { font-size: .92em; background: #f5f7fa; border: 1px solid #dde; padding: .8em 1em; }
@media print { body { margin: 0; max-width: none; } .frame { border-color: #000; } .howto { background: none; } tr { page-break-inside: avoid; } }
"#;

/// A printable HTML rendering of a certificate, with verification instructions (through maud,
/// like report.html: every value is escaped).
pub fn certificate_html(p: &CertificatePayload) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (crate::html::page_head(&format!("Certificate {}", p.serial), CERT_CSS))
            body {
                div class="frame" {
                    h1 { "Certificate of conformity" }
                    div class="sub" {
                        "pre-installed software of a mobile phone · " (p.catalogue.id) " " (p.catalogue.version)
                    }
                    table {
                        tr { th { "Serial number" } td { code { (p.serial) } } }
                        tr { th { "Issued by" } td { (p.lab) } }
                        tr { th { "Case" } td { (p.case_id.as_deref().unwrap_or("-")) } }
                        tr { th { "Device" } td { (p.device.manufacturer) " " (p.device.model) } }
                        tr { th { "Build fingerprint" } td { code { (p.device.build_fingerprint.as_deref().unwrap_or("-")) } } }
                        tr { th { "Firmware digest" } td { code { (p.firmware_digest) } " (" (p.firmware_apps) " apps)" } }
                        tr { th { "Requirement catalogue" } td { (p.catalogue.id) " version " (p.catalogue.version) } }
                        tr { th { "Issued" } td { (p.issued) } }
                        tr { th { "Valid" } td { (p.not_before) " to " (p.not_after) } }
                        tr { th { "Report digest" } td { code { (p.report_sha256.as_deref().unwrap_or("-")) } } }
                        tr { th { "Tool" } td { (p.tool) } }
                    }
                    h2 { "Verdicts" }
                    table {
                        @for (id, v) in &p.verdicts {
                            tr {
                                td { (id) }
                                td class={ "v " (v.as_str().to_ascii_lowercase()) } {
                                    (v.as_str())
                                    @if let Some(r) = p.reviews.iter().find(|r| &r.requirement == id) {
                                        " (reviewed; automatic verdict " (r.automatic.as_str()) ")"
                                    } @else if p.reviewed.contains(id) { " (reviewed)" }
                                }
                            }
                        }
                    }
                    @if !p.reviews.is_empty() {
                        h2 { "Verdicts set by reviewers" }
                        p {
                            "The automatic checks decided otherwise for these requirements; a reviewer overrode them, for the reason given."
                        }
                        table {
                            tr { th { "Requirement" } th { "Automatic" } th { "Final" } th { "Reviewer, date" } th { "Reason" } }
                            @for r in &p.reviews {
                                tr {
                                    td { (r.requirement) }
                                    td class={ "v " (r.automatic.as_str().to_ascii_lowercase()) } { (r.automatic.as_str()) }
                                    td class={ "v " (r.verdict.as_str().to_ascii_lowercase()) } { (r.verdict.as_str()) }
                                    td { (r.reviewer) ", " (r.date) }
                                    td { (r.reason) }
                                }
                            }
                        }
                    }
                    div class="howto" {
                        strong { "How to verify." }
                        " This page is a rendering; the certificate itself is the file "
                        code { "certificate.json" }
                        ", a JSON Web Signature (RFC 7515, flattened JSON serialization) signed with Ed25519 ("
                        code { "alg: EdDSA" }
                        ", RFC 8037). To check it, obtain the lab's public key ("
                        code { "lab.pub" }
                        ", SPKI PEM) from the lab through a trusted channel and run "
                        code { "phonecert verify certificate.json --key lab.pub" }
                        ", which checks the signature, the validity period and prints the payload. Any JOSE library that supports EdDSA can do the same: the signature covers the ASCII bytes "
                        code { "protected + \".\" + payload" }
                        ". Then check that the serial number, device, firmware digest and dates printed here are those of the verified payload. A certificate edited by even one byte, expired, or checked with another key does not verify."
                    }
                }
            }
        }
    };
    crate::html::page_text(page)
}
