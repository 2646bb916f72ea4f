//! Certificates in the service: the lab's signing key, issuing a certificate from a reviewed
//! run (the same payload and JWS as `phonecert audit --signing-key`), and verification of a
//! certificate someone pastes, against the signature and the registry's record.

use std::path::Path;

use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::workflow::{CertificateRecord, NewCertificate};
use crate::{RegistryError, RunState, Store, User};
use pc_certify::{AuditReport, CertOptions, CertificatePayload, Decision, Review};

/// Largest report.json read back to issue a certificate.
const MAX_REPORT_BYTES: u64 = 256 << 20;

/// The lab's Ed25519 key pair.
#[derive(Debug, Clone)]
pub struct LabKey {
    secret: SigningKey,
    /// The public key.
    pub public: VerifyingKey,
    /// The public key as SPKI PEM, as served for offline verification.
    pub public_pem: String,
    /// Key id (as in the certificates' `kid`).
    pub key_id: String,
}

impl LabKey {
    /// Wraps a secret key.
    pub fn new(secret: SigningKey) -> Result<LabKey, RegistryError> {
        let public = secret.verifying_key();
        let public_pem = public
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|_| RegistryError::Invalid {
                field: "signing key",
                why: "cannot encode the public key",
            })?;
        Ok(LabKey {
            key_id: pc_certify::cert::key_id(&public),
            secret,
            public,
            public_pem,
        })
    }

    /// `path` if given; else `DATA_DIR/lab.key`, created (with `lab.pub`) on first start.
    /// Every process sharing a data folder thus signs with the same key.
    pub fn load_or_create(data_dir: &Path, path: Option<&Path>) -> Result<LabKey, RegistryError> {
        let bad = |_| RegistryError::Invalid {
            field: "signing key",
            why: "cannot read the lab's secret key (PKCS#8 PEM Ed25519)",
        };
        if let Some(p) = path {
            return LabKey::new(pc_certify::read_secret_key(p).map_err(bad)?);
        }
        let key = data_dir.join("lab.key");
        if !key.exists() {
            let (sk, _) = pc_certify::keygen();
            // Another process may create it at the same moment: then read theirs.
            if pc_certify::write_keypair(&data_dir.join("lab"), &sk).is_err() && !key.exists() {
                return Err(RegistryError::Invalid {
                    field: "signing key",
                    why: "cannot create DATA_DIR/lab.key",
                });
            }
        }
        LabKey::new(pc_certify::read_secret_key(&key).map_err(bad)?)
    }
}

/// What verification of a pasted certificate found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// True only if the signature is the lab's, the certificate is within its validity and
    /// the registry has it as issued (not revoked, not superseded).
    pub valid: bool,
    /// `valid`, `revoked`, `superseded`, `unknown` (good signature, not in this registry),
    /// or `invalid` (signature, format or dates).
    pub status: String,
    /// One sentence for people.
    pub message: String,
    /// The signed content, when the signature verified.
    pub payload: Option<CertificatePayload>,
    /// The registry's record, when found.
    pub record: Option<PublicRecord>,
}

/// The registry's public view of a certificate.
#[derive(Debug, Clone, Serialize)]
pub struct PublicRecord {
    /// Number.
    pub number: String,
    /// State.
    pub state: String,
    /// Reason for revocation or supersession.
    pub reason: Option<String>,
    /// Superseding certificate.
    pub superseded_by: Option<String>,
}

impl From<&CertificateRecord> for PublicRecord {
    fn from(c: &CertificateRecord) -> Self {
        PublicRecord {
            number: c.number.clone(),
            state: c.state.clone(),
            reason: c.reason.clone(),
            superseded_by: c.superseded_by.clone(),
        }
    }
}

/// Verifies a certificate text with the lab's key at `now`, then looks its serial up.
pub async fn verify_certificate(
    store: &Store,
    key: &LabKey,
    text: &str,
    now: i64,
) -> Result<Verification, RegistryError> {
    let p = match pc_certify::verify(text, &key.public, now) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Verification {
                valid: false,
                status: "invalid".into(),
                message: format!("not a valid certificate of this lab: {e}"),
                payload: None,
                record: None,
            });
        }
    };
    let rec = store.certificate_by_serial(&p.serial).await?;
    let (valid, status, message) = match rec.as_ref().map(|r| r.state.as_str()) {
        Some("issued") => (
            true,
            "valid",
            format!(
                "valid: signed by {} for {} {}, valid until {}",
                p.lab, p.device.manufacturer, p.device.model, p.not_after
            ),
        ),
        Some("revoked") => (
            false,
            "revoked",
            format!(
                "the signature is genuine but the certificate was revoked: {}",
                rec.as_ref()
                    .and_then(|r| r.reason.clone())
                    .unwrap_or_default()
            ),
        ),
        Some(_) => (
            false,
            "superseded",
            format!(
                "the signature is genuine but the certificate was superseded by {}",
                rec.as_ref()
                    .and_then(|r| r.superseded_by.clone())
                    .unwrap_or_default()
            ),
        ),
        None => (
            false,
            "unknown",
            "the signature is the lab's, but this registry has no record of the certificate"
                .to_owned(),
        ),
    };
    Ok(Verification {
        valid,
        status: status.into(),
        message,
        payload: Some(p),
        record: rec.as_ref().map(PublicRecord::from),
    })
}

/// Issuing settings.
#[derive(Debug, Clone)]
pub struct IssueSettings {
    /// The lab's name on certificates.
    pub lab: String,
    /// Validity in days.
    pub validity_days: u32,
}

/// Issues the certificate of a submission: its latest finished run must be approved by a
/// reviewer and, with the reviewers' overrides applied, certifiable; the case must name the
/// submission's manufacturer and model. Earlier certificates of the model are superseded.
pub async fn issue(
    store: &Store,
    key: &LabKey,
    settings: &IssueSettings,
    submission_id: &str,
    issuer: &User,
) -> Result<CertificateRecord, RegistryError> {
    let sub = store
        .submission(submission_id)
        .await?
        .ok_or(RegistryError::NotFound("submission"))?;
    if sub.state.is_closed() {
        return Err(RegistryError::Refused(
            "the submission is closed: its certificate was issued already, or it was rejected"
                .into(),
        ));
    }
    let runs = store.runs_of(submission_id).await?;
    let run = runs
        .iter()
        .find(|r| r.state == RunState::Done)
        .ok_or_else(|| RegistryError::Refused("no finished run to certify".into()))?;
    let approved = store
        .reviews_of(submission_id)
        .await?
        .into_iter()
        .next()
        .filter(|r| r.decision == "approve" && r.run_id.as_deref() == Some(run.id.as_str()));
    if approved.is_none() {
        return Err(RegistryError::Refused(
            "a reviewer must approve the latest run before a certificate is issued".into(),
        ));
    }
    let report = reviewed_report(store, &run.id).await?;
    if report.summary.decision != Decision::Certifiable {
        return Err(RegistryError::Refused(format!(
            "not certifiable: mandatory requirements not PASS: {}",
            report.summary.blocking.join(", ")
        )));
    }
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    if !same(&report.case.manufacturer, &sub.manufacturer) || !same(&report.case.model, &sub.model)
    {
        return Err(RegistryError::Refused(format!(
            "the case is about {} {}, the submission about {} {}",
            report.case.manufacturer, report.case.model, sub.manufacturer, sub.model
        )));
    }
    let json = report.to_json();
    let report_sha256 = hex::encode(Sha256::digest(json.as_bytes()));
    store
        .store_artifact_stream("application/json", json.as_bytes())
        .await?;
    let opts = CertOptions {
        lab: Some(settings.lab.clone()),
        validity_days: settings.validity_days,
        report_sha256: Some(report_sha256),
        ..Default::default()
    };
    let payload = pc_certify::issue_certificate(&report, &opts)
        .map_err(|e| RegistryError::Refused(e.to_string()))?;
    let jws = pc_certify::sign(&payload, &key.secret);
    let year = payload.issued.get(..4).unwrap_or("0000");
    let number = format!(
        "PC-{year}-{}",
        payload.serial.get(..10).unwrap_or("0").to_uppercase()
    );
    store
        .insert_certificate(&NewCertificate {
            number: &number,
            serial: &payload.serial,
            submission_id,
            run_id: &run.id,
            jws: &jws,
            not_after: &payload.not_after,
            issued_by: &issuer.id,
        })
        .await?;
    store
        .certificate(&number)
        .await?
        .ok_or(RegistryError::NotFound("certificate"))
}

/// A run's report.json as the audit wrote it, if it is at most `max` bytes.
pub async fn stored_report(
    store: &Store,
    run_id: &str,
    max: u64,
) -> Result<AuditReport, RegistryError> {
    let sha = store
        .run_outputs(run_id)
        .await?
        .into_iter()
        .find(|(n, _)| n == "report.json")
        .map(|(_, s)| s)
        .ok_or(RegistryError::NotFound("report.json of the run"))?;
    let bytes = store.read_artifact(&sha, max).await?;
    serde_json::from_slice(&bytes).map_err(|_| RegistryError::Corrupt {
        column: "report.json",
    })
}

/// A run's report.json with the reviewers' overrides applied.
pub async fn reviewed_report(store: &Store, run_id: &str) -> Result<AuditReport, RegistryError> {
    let mut report = stored_report(store, run_id, MAX_REPORT_BYTES).await?;
    let reviews: Vec<Review> = store
        .overrides(run_id)
        .await?
        .into_iter()
        .filter_map(|o| {
            Some(Review {
                requirement: o.requirement,
                verdict: serde_json::from_value(serde_json::Value::String(o.verdict)).ok()?,
                reason: o.reason,
                reviewer: o.reviewer,
                date: pc_base::time::format_utc(o.created_at)
                    .get(..10)
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
        .collect();
    pc_certify::apply_reviews(&mut report, &reviews);
    Ok(report)
}
