//! The audit job: what a worker does with a queued run. It lays the submission's artifacts out
//! in a fresh work folder (archives extracted with the upload checks applied again), runs the same
//! audit as `phonecert audit`, stores the reports in the artifact store and hands the results
//! back to the worker, which records them together with the run's completion.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pc_certify::{AuditReport, Decision, Stage};

use crate::audit_exec::AuditExec;
use crate::bundle::{BundleLimits, UploadKind};
use crate::worker::{JobFailure, JobHandler, Progress};
use crate::workflow::{ResultRow, RunResults, SubmissionArtifact};
use crate::{Run, Store};

/// Progress (permille) at the end of each stage.
const AFTER_LAYOUT: i64 = 50;
const AFTER_FIRMWARE: i64 = 550;
const AFTER_TRAFFIC: i64 = 950;

/// The handler that audits submissions, each audit run as `exec` says.
pub fn audit_handler(store: Store, limits: BundleLimits, exec: AuditExec) -> JobHandler {
    Arc::new(move |run: Run, progress: Progress| {
        let store = store.clone();
        let limits = limits.clone();
        let exec = exec.clone();
        Box::pin(async move { run_audit(&store, &run, &progress, &limits, &exec).await })
    })
}

/// The worker lost the run to another; this attempt's outcome is discarded anyway.
fn lost() -> JobFailure {
    JobFailure("the run was taken over by another worker".into())
}

fn fail(what: &str, e: impl std::fmt::Display) -> JobFailure {
    JobFailure(format!("{what}: {e}"))
}

async fn run_audit(
    store: &Store,
    run: &Run,
    progress: &Progress,
    limits: &BundleLimits,
    exec: &AuditExec,
) -> Result<RunResults, JobFailure> {
    let artifacts = store
        .submission_artifacts(&run.submission_id)
        .await
        .map_err(|e| fail("reading the submission", e))?;
    if artifacts.is_empty() {
        return Err(JobFailure(
            "the submission has no files: upload case.toml with its captures and firmware".into(),
        ));
    }
    // One folder per attempt: an earlier attempt that lost its lease may still be reading
    // its own (a blocking audit cannot be aborted), so the folders must not be shared.
    let work_root = store.data_dir().join("work");
    let work = work_root.join(format!("{}-{}", run.id, run.attempts));
    let paths: Vec<(SubmissionArtifact, Option<PathBuf>)> = artifacts
        .into_iter()
        .map(|a| {
            let p = store.artifact_path(&a.sha256);
            (a, p)
        })
        .collect();
    let result = audit_and_store(store, &work, paths, progress, limits, exec, &run.catalogue).await;
    // Scratch space, removed whatever happened (a failed extraction leaves a partial tree).
    let _ = tokio::fs::remove_dir_all(&work).await;
    let results = result?;
    // Earlier attempts' folders (their process died, or they lost the run) go too.
    if let Ok(mut rd) = tokio::fs::read_dir(&work_root).await {
        let prefix = format!("{}-", run.id);
        while let Ok(Some(e)) = rd.next_entry().await {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = tokio::fs::remove_dir_all(e.path()).await;
            }
        }
    }
    Ok(results)
}

async fn audit_and_store(
    store: &Store,
    work: &Path,
    paths: Vec<(SubmissionArtifact, Option<PathBuf>)>,
    progress: &Progress,
    limits: &BundleLimits,
    exec: &AuditExec,
    catalogue: &str,
) -> Result<RunResults, JobFailure> {
    let (report, out_dir, notes) = {
        let catalogue = catalogue.to_owned();
        let work = work.to_path_buf();
        let limits = limits.clone();
        let progress = progress.clone();
        let exec = exec.clone();
        tokio::task::spawn_blocking(move || {
            audit_in(&work, &paths, &limits, &progress, &exec, &catalogue)
        })
        .await
        .map_err(|e| fail("the audit stopped", e))??
    };
    let mut results = results_of(&report);
    // What the layout left out is said with the outcome, where the run's result is read.
    if let Some((_, summary)) = &mut results.outcome {
        for note in &notes {
            summary.push_str("; ");
            summary.push_str(note);
        }
    }
    for (name, media) in [
        ("report.json", "application/json"),
        ("report.html", "text/html"),
        ("report.sarif", "application/sarif+json"),
    ] {
        let file = tokio::fs::File::open(out_dir.join(name))
            .await
            .map_err(|e| fail("reading the report", e))?;
        let art = store
            .store_artifact_stream(media, file)
            .await
            .map_err(|e| fail("storing the report", e))?;
        results.outputs.push((name.to_owned(), art.sha256));
    }
    if progress.cancelled() {
        return Err(lost());
    }
    Ok(results)
}

/// The blocking part: layout, audit, reports written into `work/out`; also returns notes on
/// the layout for the run's summary (links recorded in archives, not extracted).
fn audit_in(
    work: &Path,
    artifacts: &[(SubmissionArtifact, Option<PathBuf>)],
    limits: &BundleLimits,
    progress: &Progress,
    exec: &AuditExec,
    catalogue: &str,
) -> Result<(AuditReport, PathBuf, Vec<String>), JobFailure> {
    if work.exists() {
        std::fs::remove_dir_all(work).map_err(|e| fail("clearing the work folder", e))?;
    }
    let case_root = work.join("case");
    // 0700 like the rest of the data folder: it holds the manufacturer's extracted files.
    crate::private_fs::create_dir_all(&case_root)
        .map_err(|e| fail("creating the work folder", e))?;
    let mut notes = Vec::new();
    for (a, path) in artifacts {
        if progress.cancelled() {
            return Err(lost());
        }
        let src = path
            .as_ref()
            .ok_or_else(|| JobFailure(format!("{}: artifact hash malformed", a.name)))?;
        let kind = crate::bundle::sniff_file(&a.name, src).map_err(|e| fail(&a.name, e))?;
        match kind {
            UploadKind::Tar | UploadKind::TarGz | UploadKind::Zip => {
                let listing = crate::bundle::extract_archive(src, kind, &case_root, limits)
                    .map_err(|e| fail(&a.name, e))?;
                if listing.links_skipped > 0 {
                    notes.push(format!(
                        "{} in {} recorded, not extracted",
                        crate::bundle::links_counted(listing.links_skipped),
                        a.name
                    ));
                }
            }
            _ => {
                let dest = case_root.join(&a.name);
                if dest.exists() {
                    return Err(JobFailure(format!(
                        "{}: two files of the submission have this name",
                        a.name
                    )));
                }
                // A link, not a copy: captures of several GB need no second copy. The audit
                // only reads, and removing the work folder only removes the link.
                if std::fs::hard_link(src, &dest).is_err() {
                    std::fs::copy(src, &dest).map_err(|e| fail(&a.name, e))?;
                }
            }
        }
    }
    progress.set(AFTER_LAYOUT);
    let case_file = find_case(&case_root)?;
    check_case_paths(&case_file, &case_root)?;

    let apps = std::sync::atomic::AtomicU64::new(0);
    let done = std::sync::atomic::AtomicU64::new(0);
    let bytes_total = std::sync::atomic::AtomicU64::new(0);
    let bytes_done = std::sync::atomic::AtomicU64::new(0);
    use std::sync::atomic::Ordering::Relaxed;
    let on = |s: Stage| match s {
        Stage::FirmwareScanned { apps: n } => apps.store(n.max(1), Relaxed),
        Stage::AppDone => {
            let d = done.fetch_add(1, Relaxed) + 1;
            let n = apps.load(Relaxed).max(1);
            progress.set(AFTER_LAYOUT + scale(d, n, AFTER_FIRMWARE - AFTER_LAYOUT));
        }
        Stage::TrafficStarted { bytes } => {
            bytes_total.store(bytes.max(1), Relaxed);
            progress.set(AFTER_FIRMWARE);
        }
        Stage::TrafficBytes { bytes } => {
            let d = bytes_done.fetch_add(bytes, Relaxed) + bytes;
            let n = bytes_total.load(Relaxed).max(1);
            progress.set(AFTER_FIRMWARE + scale(d, n, AFTER_TRAFFIC - AFTER_FIRMWARE));
        }
    };
    let out_dir = work.join("out");
    let report = exec.audit(&case_file, catalogue, &out_dir, &on, &|| {
        progress.cancelled()
    })?;
    if progress.cancelled() {
        return Err(lost());
    }
    progress.set(AFTER_TRAFFIC);
    Ok((report, out_dir, notes))
}

fn scale(done: u64, total: u64, span: i64) -> i64 {
    let d = done.min(total);
    i64::try_from(d.saturating_mul(span.unsigned_abs()) / total.max(1)).unwrap_or(span)
}

/// `case.toml` at the top of the submission, or in its only top-level folder (an archive of
/// the case folder).
fn find_case(root: &Path) -> Result<PathBuf, JobFailure> {
    let top = root.join("case.toml");
    if top.is_file() {
        return Ok(top);
    }
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| fail("listing the work folder", e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    if let [only] = dirs.as_slice() {
        let inner = only.join("case.toml");
        if inner.is_file() {
            return Ok(inner);
        }
    }
    Err(JobFailure(
        "no case.toml: upload it beside the captures, or inside the case archive's top folder"
            .into(),
    ))
}

/// A case names files by path; uploaded cases may only name files they brought, never files
/// of the server (absolute paths, `..`).
fn check_case_paths(case_file: &Path, root: &Path) -> Result<(), JobFailure> {
    let case = pc_case::Case::load(case_file).map_err(|e| fail("case.toml", e))?;
    let root = root
        .canonicalize()
        .map_err(|e| fail("resolving the work folder", e))?;
    let mut named: Vec<&Path> = Vec::new();
    for p in &case.phases {
        named.extend(p.captures.iter().map(PathBuf::as_path));
        named.extend(p.keylogs.iter().map(PathBuf::as_path));
        // Logs are read and quoted in the report: a case must not point them at the server's files.
        named.extend(p.logs.iter().map(PathBuf::as_path));
    }
    if let Some(fw) = &case.firmware {
        named.extend(fw.path.paths().iter().map(PathBuf::as_path));
    }
    for p in named {
        let full = case.resolve(p);
        let inside = full
            .canonicalize()
            .map(|c| c.starts_with(&root))
            // A missing file is reported by the audit itself, with its name.
            .unwrap_or(
                !p.is_absolute() && !p.components().any(|c| c == std::path::Component::ParentDir),
            );
        if !inside {
            return Err(JobFailure(format!(
                "case.toml names {}, which is outside the submission's files",
                p.display()
            )));
        }
    }
    Ok(())
}

/// The database rows of a report.
fn results_of(report: &AuditReport) -> RunResults {
    let results = report
        .results
        .iter()
        .map(|r| ResultRow {
            requirement: r.requirement.clone(),
            title: r.title.clone(),
            level: r.level.as_str().to_owned(),
            automatic: r.automatic.verdict.as_str().to_owned(),
            summary: r.automatic.summary.clone(),
            evidence: serde_json::to_string(&r.automatic.evidence).unwrap_or_else(|_| "[]".into()),
        })
        .collect();
    let findings = report
        .traffic
        .as_ref()
        .map(|t| {
            t.findings
                .iter()
                .map(|f| {
                    let before_consent = f.consent != Some(pc_case::Consent::Granted);
                    let severity = match (f.cleartext, before_consent) {
                        (true, true) => "critical",
                        (true, false) | (false, true) => "high",
                        (false, false) => "medium",
                    };
                    (
                        "identifier-transmission".to_owned(),
                        severity.to_owned(),
                        serde_json::to_string(f).unwrap_or_else(|_| "{}".into()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let outcome = match report.summary.decision {
        Decision::Certifiable => "pass",
        Decision::NotCertifiable => "fail",
        Decision::Incomplete => "inconclusive",
    };
    let summary = format!(
        "{}; blocking: {}",
        report.summary.decision.as_str(),
        if report.summary.blocking.is_empty() {
            "none".to_owned()
        } else {
            report.summary.blocking.join(", ")
        }
    );
    RunResults {
        results,
        outputs: Vec::new(),
        findings,
        outcome: Some((outcome.to_owned(), summary)),
    }
}
