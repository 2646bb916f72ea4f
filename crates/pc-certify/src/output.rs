//! Writing a report set atomically: every file is written and synced in a temporary folder
//! beside the output folder, then renamed into place, so that no reader ever sees half a file.

use crate::audit::{AuditReport, Decision};
use crate::cert::{self, CertOptions, CertificatePayload};
use ed25519_dalek::SigningKey;
use pc_base::atomic::{sync_dir, temp_name, write_synced};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Errors writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {what} (byte {at}): {source}")]
    Io {
        at: u64,
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}: {what} (byte {at})")]
    BadName {
        at: u64,
        what: &'static str,
        name: String,
    },
}

/// Report files written by [`write_report`].
pub const REPORT_FILES: [&str; 5] = [
    "report.json",
    "report.html",
    "report.sarif",
    "certificate.json",
    "certificate.html",
];

/// How to write a report set.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Key and options to issue a certificate when the audit is certifiable.
    pub signing: Option<(SigningKey, CertOptions)>,
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// The certificate issued, if any.
    pub certificate: Option<CertificatePayload>,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OutputError {
    let path = path.to_path_buf();
    move |source| OutputError::Io {
        at: 0,
        what,
        path,
        source,
    }
}

fn check_name(name: &str) -> Result<(), OutputError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && name.len() <= 255;
    if ok {
        Ok(())
    } else {
        Err(OutputError::BadName {
            at: 0,
            what: "output names must be plain file names",
            name: name.chars().take(100).collect(),
        })
    }
}

/// Writes `files` (name, bytes) into `dir`: all are written and synced in a temporary folder
/// inside `dir`'s parent, then `remove` (stale files of an earlier run) are deleted and each
/// file is renamed into `dir`, replacing any existing one whole. On error the temporary
/// folder is removed and `dir` keeps its previous files.
pub fn write_outputs(
    dir: &Path,
    files: &[(String, Vec<u8>)],
    remove: &[&str],
) -> Result<Vec<PathBuf>, OutputError> {
    for (n, _) in files {
        check_name(n)?;
    }
    for n in remove {
        check_name(n)?;
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io("cannot create the parent folder", parent))?;
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = parent.join(temp_name(&base));
    std::fs::create_dir(&tmp).map_err(io("cannot create a temporary folder", &tmp))?;
    let staged = (|| {
        for (name, bytes) in files {
            let p = tmp.join(name);
            write_synced(&p, bytes).map_err(io("cannot write", &p))?;
        }
        sync_dir(&tmp);
        std::fs::create_dir_all(dir).map_err(io("cannot create the output folder", dir))?;
        Ok::<(), OutputError>(())
    })();
    if let Err(e) = staged {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let mut written = Vec::with_capacity(files.len());
    let mut result = Ok(());
    for n in remove {
        let p = dir.join(n);
        if let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            result = Err(io("cannot remove a stale file", &p)(e));
            break;
        }
    }
    if result.is_ok() {
        for (name, _) in files {
            let to = dir.join(name);
            if let Err(e) = std::fs::rename(tmp.join(name), &to) {
                result = Err(io("cannot move into place", &to)(e));
                break;
            }
            written.push(to);
        }
    }
    sync_dir(dir);
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| written)
}

/// Writes report.json, report.html and report.sarif into `dir`, and certificate.json (+
/// certificate.html) when the audit is certifiable and a signing key is given. A certificate
/// left by an earlier run is removed when this run issues none.
pub fn write_report(
    dir: &Path,
    report: &AuditReport,
    opts: &WriteOptions,
) -> Result<Written, OutputError> {
    let json = report.to_json().into_bytes();
    let json_digest = hex::encode(Sha256::digest(&json));
    let mut files = vec![
        ("report.json".to_string(), json),
        (
            "report.html".to_string(),
            crate::html::report_html(report).into_bytes(),
        ),
        (
            "report.sarif".to_string(),
            crate::sarif::to_string(report).into_bytes(),
        ),
    ];
    let mut certificate = None;
    if let Some((key, co)) = &opts.signing
        && report.summary.decision == Decision::Certifiable
    {
        let mut co = co.clone();
        co.report_sha256 = Some(json_digest);
        if let Ok(p) = cert::issue_certificate(report, &co) {
            files.push(("certificate.json".into(), cert::sign(&p, key).into_bytes()));
            files.push((
                "certificate.html".into(),
                cert::certificate_html(&p).into_bytes(),
            ));
            certificate = Some(p);
        }
    }
    let remove: &[&str] = if certificate.is_some() {
        &[]
    } else {
        &["certificate.json", "certificate.html"]
    };
    let files = write_outputs(dir, &files, remove)?;
    Ok(Written { files, certificate })
}
