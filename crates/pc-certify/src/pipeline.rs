//! The whole audit of a case as one call: firmware analysis, traffic analysis, then the verdicts.
//! `phonecert audit` and the registry's workers both run it, so a lab gets the same report from
//! the command line and from the service.

use crate::audit::{AuditOptions, AuditReport, InputDigest};
use crate::catalogue::{Catalogue, CatalogueChoice, CatalogueError};
use crate::policy::PolicyError;
use crate::review::ReviewError;
use pc_case::Case;
use pc_firmware::{ApkSig, DexCode, FirmwareProgress};
use pc_traffic::Input;
use std::path::{Path, PathBuf};

/// Options of [`audit_case`].
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    /// The catalogue (default: the embedded baseline).
    pub catalogue: Option<CatalogueChoice>,
    /// A review file (its digest is listed among the inputs).
    pub review_file: Option<PathBuf>,
    /// Show identifier values unmasked.
    pub reveal: bool,
    /// A MaxMind country database instead of the embedded one.
    pub geoip: Option<PathBuf>,
}

/// Where the pipeline is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The firmware tree was walked: `apps` APKs will be analysed.
    FirmwareScanned { apps: u64 },
    /// One more APK was analysed.
    AppDone,
    /// The traffic analysis starts over `bytes` bytes of captures.
    TrafficStarted { bytes: u64 },
    /// `bytes` more capture bytes were read.
    TrafficBytes { bytes: u64 },
}

/// Why a case could not be audited.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Case(#[from] pc_case::CaseError),
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error("{case}: [policy]: {source}")]
    Policy {
        case: String,
        #[source]
        source: PolicyError,
    },
    #[error("{case}: [firmware] path {path} does not exist")]
    FirmwareMissing { case: String, path: String },
    #[error(transparent)]
    Traffic(#[from] pc_traffic::TrafficError),
    /// A capture could not be read: the audit would rest on missing evidence.
    #[error(
        "a capture of the case could not be read ({0}); the audit would rest on missing evidence"
    )]
    CaptureUnreadable(String),
}

/// Result of [`audit_case`]: the report and the problems worth telling the user.
#[derive(Debug)]
pub struct PipelineOutput {
    pub report: AuditReport,
    /// Capture read problems that did not stop the analysis.
    pub capture_warnings: Vec<String>,
}

/// Audits the case at `case_path` (firmware first: it is the larger job and names the apps the
/// traffic is checked against).
pub fn audit_case(
    case_path: &Path,
    opts: &PipelineOptions,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<PipelineOutput, PipelineError> {
    let case = Case::load(case_path)?;
    let catalogue = match &opts.catalogue {
        Some(c) => c.load()?,
        None => Catalogue::baseline()?,
    };
    let reviews = match &opts.review_file {
        Some(p) => crate::review::load_reviews(p)?,
        None => Vec::new(),
    };
    let policy = case
        .policy
        .clone()
        .map(|t| crate::Policy::from_value(toml::Value::Table(t)))
        .transpose()
        .map_err(|source| PipelineError::Policy {
            case: case_path.display().to_string(),
            source,
        })?;
    let mut extra = vec![InputDigest::of_file("case", case_path)];
    if let Some(CatalogueChoice::File(p)) = &opts.catalogue {
        extra.push(InputDigest::of_file("catalogue", p));
    }
    if let Some(p) = &opts.review_file {
        extra.push(InputDigest::of_file("review", p));
    }

    let firmware = match &case.firmware {
        Some(fw) => {
            let paths: Vec<PathBuf> = fw.path.paths().iter().map(|p| case.resolve(p)).collect();
            if let Some(missing) = paths.iter().find(|p| !p.exists()) {
                return Err(PipelineError::FirmwareMissing {
                    case: case_path.display().to_string(),
                    path: missing.display().to_string(),
                });
            }
            let report = pc_firmware::analyze_inputs(
                &paths,
                &Default::default(),
                &Default::default(),
                pc_firmware::TrackerDb::embedded(),
                &DexCode::new(),
                &ApkSig,
                &|p| match p {
                    FirmwareProgress::Scanned { apps } => {
                        progress(Stage::FirmwareScanned { apps: apps as u64 })
                    }
                    FirmwareProgress::AppDone { .. } => progress(Stage::AppDone),
                },
            );
            Some(report)
        }
        None => None,
    };
    let inputs = Input::from_case(&case);
    let mut capture_warnings = Vec::new();
    let traffic = if inputs.is_empty() {
        None
    } else {
        let total: u64 = inputs
            .iter()
            .map(|i| std::fs::metadata(&i.path).map(|m| m.len()).unwrap_or(0))
            .sum();
        progress(Stage::TrafficStarted { bytes: total });
        let topts = pc_traffic::Options {
            reveal: opts.reveal,
            geoip: opts.geoip.clone(),
            ..Default::default()
        };
        let r = pc_traffic::analyze(&inputs, &case.identifiers(), &topts, &|n| {
            progress(Stage::TrafficBytes { bytes: n })
        })?;
        let mut failed = Vec::new();
        for i in &r.inputs {
            for e in &i.errors {
                capture_warnings.push(e.clone());
            }
            if i.failed {
                failed.push(i.errors.first().cloned().unwrap_or_default());
            }
        }
        if !failed.is_empty() {
            return Err(PipelineError::CaptureUnreadable(failed.join("; ")));
        }
        Some(r)
    };
    let aopts = AuditOptions {
        policy,
        extra_inputs: extra,
        reveal: opts.reveal,
        logs: crate::logs::scan_case_logs(&case, opts.reveal),
        ..Default::default()
    };
    let report = crate::audit_with(
        &case,
        traffic.as_ref(),
        firmware.as_ref(),
        &catalogue,
        &reviews,
        &aopts,
    );
    Ok(PipelineOutput {
        report,
        capture_warnings,
    })
}
