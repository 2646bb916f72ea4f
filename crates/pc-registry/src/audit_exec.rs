//! Where a queued audit runs: in the worker's own process, or in a child process under a memory
//! limit.
//!
//! The child is what `phonecert serve` and `phonecert worker` use. An audit of a hostile upload
//! may take all the memory it is allowed, and memory a process has freed is not always given back
//! to the system; in a child, the worker's footprint returns to idle when the audit exits, and an
//! audit over its limit fails alone instead of taking the service down. The limit is set by the
//! shell's `ulimit -d` (RLIMIT_DATA: the heap and private writable mappings, not the read-only
//! file mappings a capture reader may use) because calling `setrlimit` here would need unsafe
//! code, which this crate forbids.
//!
//! The protocol, both ends in this file: the child (`phonecert audit-job CASE OUT --catalogue NAME`, which calls
//! [`run_child`]) writes one line per pipeline stage on stdout (`firmware-scanned N`, `app-done`,
//! `traffic-started N`, `traffic-bytes N`), writes the reports into OUT and exits 0; or writes the
//! error on stderr and exits non-zero. It ends itself when its stdin closes, so an audit never
//! outlives the worker that started it. The worker reads `OUT/report.json` back.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pc_certify::{AuditReport, PipelineOptions, Stage};

use crate::worker::JobFailure;

/// How the worker runs an audit.
#[derive(Debug, Clone, Default)]
pub enum AuditExec {
    /// In the worker's process (the crate's own tests, which have no `phonecert` binary).
    #[default]
    InProcess,
    /// In a child: `program audit-job CASE OUT`, its data (heap) limited to `memory_limit` bytes
    /// when set.
    Child {
        program: PathBuf,
        memory_limit: Option<u64>,
    },
}

/// The pipeline's options for a run against the embedded catalogue `catalogue`.
fn options(catalogue: &str) -> PipelineOptions {
    PipelineOptions {
        catalogue: Some(pc_certify::CatalogueChoice::Named(catalogue.to_owned())),
        ..PipelineOptions::default()
    }
}

/// How often the worker looks at the run's cancellation while the child is quiet.
const POLL: Duration = Duration::from_millis(200);
/// The end of the child's stderr kept for the run's failure message.
const STDERR_TAIL: usize = 4096;

impl AuditExec {
    /// Audits `case_file`, writes the reports into `out_dir` and returns the report. `on` hears
    /// the pipeline's stages; `cancelled` says the run was lost (the child is then killed).
    pub(crate) fn audit(
        &self,
        case_file: &Path,
        catalogue: &str,
        out_dir: &Path,
        on: &(dyn Fn(Stage) + Sync),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<AuditReport, JobFailure> {
        match self {
            AuditExec::InProcess => {
                let out = pc_certify::audit_case(case_file, &options(catalogue), on)
                    .map_err(|e| JobFailure(format!("audit: {e}")))?;
                pc_certify::write_report(out_dir, &out.report, &Default::default())
                    .map_err(|e| JobFailure(format!("writing the reports: {e}")))?;
                Ok(out.report)
            }
            AuditExec::Child {
                program,
                memory_limit,
            } => audit_in_child(
                program,
                *memory_limit,
                case_file,
                catalogue,
                out_dir,
                on,
                cancelled,
            ),
        }
    }
}

fn audit_in_child(
    program: &Path,
    memory_limit: Option<u64>,
    case_file: &Path,
    catalogue: &str,
    out_dir: &Path,
    on: &(dyn Fn(Stage) + Sync),
    cancelled: &dyn Fn() -> bool,
) -> Result<AuditReport, JobFailure> {
    let mut cmd = match memory_limit {
        Some(bytes) => {
            // `$0` and `$@` keep the paths out of the script text: no quoting to get wrong.
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!(
                    "ulimit -d {} && exec \"$0\" \"$@\"",
                    (bytes / 1024).max(1)
                ))
                .arg(program);
            c
        }
        None => Command::new(program),
    };
    cmd.arg("audit-job")
        .arg(case_file)
        .arg(out_dir)
        .arg("--catalogue")
        .arg(catalogue)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        JobFailure(format!(
            "starting the audit process {}: {e}",
            program.display()
        ))
    })?;
    // Held open until the child is reaped: closing it tells the child to stop.
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let err_tail = std::thread::spawn(move || stderr.map(tail_of).unwrap_or_default());
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let Some(out) = stdout else { return };
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if let Some(stage) = parse_stage(&line)
                && tx.send(stage).is_err()
            {
                return;
            }
        }
    });
    let mut killed = false;
    loop {
        match rx.recv_timeout(POLL) {
            Ok(stage) => on(stage),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !killed && cancelled() {
            let _ = child.kill();
            killed = true;
        }
    }
    let status = child
        .wait()
        .map_err(|e| JobFailure(format!("waiting for the audit process: {e}")))?;
    drop(stdin);
    let _ = reader.join();
    let tail = err_tail.join().unwrap_or_default();
    if killed {
        return Err(JobFailure(
            "the run was taken over by another worker".into(),
        ));
    }
    if !status.success() {
        return Err(JobFailure(failure_message(status, memory_limit, &tail)));
    }
    let json = std::fs::read(out_dir.join("report.json"))
        .map_err(|e| JobFailure(format!("reading the audit's report.json: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| JobFailure(format!("the audit's report.json: {e}")))
}

/// Why the child failed, in the words a lab engineer acts on.
fn failure_message(
    status: std::process::ExitStatus,
    memory_limit: Option<u64>,
    stderr: &str,
) -> String {
    // Rust's allocator prints this line and aborts when an allocation is refused.
    let refused = stderr.contains("memory allocation of");
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    match (memory_limit, refused) {
        (Some(limit), true) => format!(
            "the audit needed more than its memory limit of {} MiB and was stopped \
             (phonecert serve/worker --audit-memory-mib)",
            limit >> 20
        ),
        _ => {
            let how = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(sig)) => format!("signal {sig}"),
                (None, None) => "an unknown status".into(),
            };
            let last = last.strip_prefix("phonecert: error: ").unwrap_or(last);
            if last.is_empty() {
                format!("the audit process ended with {how}")
            } else {
                format!("{last} (the audit process ended with {how})")
            }
        }
    }
}

/// The last [`STDERR_TAIL`] bytes of a stream, read to its end.
fn tail_of(mut r: impl Read) -> String {
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
        }
    }
    let from = tail.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&tail[from..]).into_owned()
}

fn stage_line(s: Stage) -> String {
    match s {
        Stage::FirmwareScanned { apps } => format!("firmware-scanned {apps}"),
        Stage::AppDone => "app-done".into(),
        Stage::TrafficStarted { bytes } => format!("traffic-started {bytes}"),
        Stage::TrafficBytes { bytes } => format!("traffic-bytes {bytes}"),
    }
}

fn parse_stage(line: &str) -> Option<Stage> {
    let (word, n) = line.split_once(' ').unwrap_or((line, ""));
    let n = || n.trim().parse::<u64>().ok();
    match word {
        "firmware-scanned" => Some(Stage::FirmwareScanned { apps: n()? }),
        "app-done" => Some(Stage::AppDone),
        "traffic-started" => Some(Stage::TrafficStarted { bytes: n()? }),
        "traffic-bytes" => Some(Stage::TrafficBytes { bytes: n()? }),
        _ => None,
    }
}

/// Why the child side of an audit failed.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("audit: {0}")]
    Audit(#[from] pc_certify::PipelineError),
    #[error("writing the reports: {0}")]
    Write(#[from] pc_certify::OutputError),
}

/// The child's side (`phonecert audit-job CASE OUT`): audits the case, reports its stages on
/// stdout and writes the reports into `out_dir`. Exits the process when stdin closes (the worker
/// that started it is gone).
pub fn run_child(case_file: &Path, out_dir: &Path, catalogue: &str) -> Result<(), ChildError> {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        // The worker is gone: nobody will read this audit.
        std::process::exit(1);
    });
    let stdout = std::sync::Mutex::new(std::io::stdout());
    let on = |s: Stage| {
        if let Ok(mut out) = stdout.lock() {
            let _ = writeln!(out, "{}", stage_line(s));
        }
    };
    let out = pc_certify::audit_case(case_file, &options(catalogue), &on)?;
    pc_certify::write_report(out_dir, &out.report, &Default::default())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_round_trip_through_their_lines() {
        for s in [
            Stage::FirmwareScanned { apps: 12 },
            Stage::AppDone,
            Stage::TrafficStarted { bytes: 1 << 40 },
            Stage::TrafficBytes { bytes: 65536 },
        ] {
            assert_eq!(parse_stage(&stage_line(s)), Some(s));
        }
        assert_eq!(parse_stage("traffic-bytes x"), None);
        assert_eq!(parse_stage("warning: something"), None);
    }

    #[test]
    fn a_refused_allocation_under_a_limit_names_the_limit() {
        let status = std::process::ExitStatus::from_raw(6); // killed by SIGABRT
        let m = failure_message(
            status,
            Some(64 << 20),
            "memory allocation of 1048576 bytes failed\n",
        );
        assert!(m.contains("memory limit of 64 MiB"), "{m}");
        let m = failure_message(
            std::process::ExitStatus::from_raw(2 << 8),
            Some(64 << 20),
            "phonecert: error: audit: case.toml: no such file\n",
        );
        assert_eq!(
            m,
            "audit: case.toml: no such file (the audit process ended with exit status 2)"
        );
    }

    #[test]
    fn the_stderr_tail_keeps_the_end() {
        let long = "x".repeat(3 * STDERR_TAIL) + "the end";
        let t = tail_of(long.as_bytes());
        assert_eq!(t.len(), STDERR_TAIL);
        assert!(t.ends_with("the end"));
    }
}
