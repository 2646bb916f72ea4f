//! `phonecert audit`, `keygen`, `verify` and `diff`.

use crate::{EXIT_FINDINGS, EXIT_OK};
use anyhow::{Context, Result};
use clap::Args;
use pc_certify::{CertOptions, Decision, PipelineOptions, Stage, WriteOptions};
use std::path::PathBuf;

/// Audit a case against the requirement catalogue and write the lab's outputs.
///
/// Runs the firmware analysis (the case's [firmware]) and the traffic analysis (every phase's
/// captures), decides each requirement (PASS, FAIL, INCONCLUSIVE, NOT_APPLICABLE, NOT_TESTED)
/// with the evidence behind it, applies reviewer overrides, and writes into DIR, atomically:
///
///   report.json   everything, for machines (schema: schemas/report.schema.json)
///   report.html   one self-contained page for people: decision, evidence, data flows
///   report.sarif  SARIF 2.1.0 for CI systems
///   certificate.json / certificate.html
///                 only when every mandatory requirement is PASS and --signing-key is given
///
///   phonecert keygen --out lab
///   phonecert audit examples/acme-a1/case.toml --out out/ --signing-key lab.key
///
/// Exit status: 0 the model passes, 3 it does not (FAIL or incomplete evidence), 2 an error.
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct AuditArgs {
    /// The case file.
    case: PathBuf,
    /// The folder to write the reports into (created if missing).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// A reviewer's overrides (review.toml: [[review]] requirement, verdict, reason, reviewer, date).
    #[arg(long)]
    review: Option<PathBuf>,
    /// The lab's Ed25519 secret key (from `phonecert keygen`), to sign a certificate.
    #[arg(long, value_name = "PREFIX.key")]
    signing_key: Option<PathBuf>,
    /// The requirement catalogue: an embedded one by name (phonecert-baseline, the default;
    /// en-18031-2: EN 18031-2 secure communication, cryptography, updates, logs, the rest
    /// NOT_TESTED with what would decide it; taics-ts-0029: TAICS TS-0029/0030 application,
    /// communication and OS layers; cn-preload: the Chinese preload rules) or a catalogue file
    /// (see data/catalogue/ for the format).
    #[arg(long, value_name = "NAME|FILE")]
    catalogue: Option<String>,
    /// The issuing lab's name on the certificate (default: the case's [case] lab).
    #[arg(long)]
    lab: Option<String>,
    /// Certificate validity in days.
    #[arg(long, default_value_t = 365)]
    validity_days: u32,
    /// Show identifier values in the reports (masked by default).
    #[arg(long)]
    reveal: bool,
    /// A MaxMind .mmdb country database to use instead of the embedded one.
    #[arg(long, value_name = "MMDB")]
    geoip: Option<PathBuf>,
}

/// Make a lab key pair: PREFIX.key (secret, readable by its owner only) and PREFIX.pub.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Path prefix of the two files.
    #[arg(long, short = 'o', value_name = "PREFIX")]
    out: PathBuf,
}

/// Verify a certificate offline with the lab's public key.
///
/// Exit status: 0 the signature is good and the certificate valid today, 3 it is not (any
/// changed byte, another key, expired or not yet valid), 2 the files could not be read.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// certificate.json (JWS, flattened JSON or compact form).
    cert: PathBuf,
    /// The lab's public key (PREFIX.pub).
    #[arg(long, short = 'k', value_name = "PUBKEY")]
    key: PathBuf,
}

/// Compare two audits of a model (e.g. before and after a firmware update): apps added,
/// removed and changed, new destinations, and which requirements must be re-tested.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// report.json of the earlier audit.
    old: PathBuf,
    /// report.json of the new audit.
    new: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run_audit(args: AuditArgs) -> Result<u8> {
    let signing_key = args
        .signing_key
        .as_ref()
        .map(|p| pc_certify::read_secret_key(p))
        .transpose()?;
    let opts = PipelineOptions {
        catalogue: args
            .catalogue
            .as_deref()
            .map(pc_certify::CatalogueChoice::from_arg),
        review_file: args.review.clone(),
        reveal: args.reveal,
        geoip: args.geoip.clone(),
    };
    // One bar per stage; they are hidden when stderr is not a terminal.
    let bar = std::sync::Mutex::new(None::<indicatif::ProgressBar>);
    let on = |stage: Stage| {
        let Ok(mut b) = bar.lock() else { return };
        match stage {
            Stage::FirmwareScanned { apps } => {
                *b = Some(crate::table::count_bar(apps, "firmware"));
            }
            Stage::TrafficStarted { bytes } => {
                if let Some(old) = b.take() {
                    old.finish_and_clear();
                }
                *b = Some(crate::table::progress_bar(bytes, "traffic"));
            }
            Stage::AppDone | Stage::TrafficBytes { .. } => {
                if let Some(bar) = b.as_ref() {
                    bar.inc(match stage {
                        Stage::TrafficBytes { bytes } => bytes,
                        _ => 1,
                    });
                }
            }
        }
    };
    let out = pc_certify::audit_case(&args.case, &opts, &on);
    if let Ok(mut b) = bar.lock()
        && let Some(b) = b.take()
    {
        b.finish_and_clear();
    }
    let out = out?;
    for w in &out.capture_warnings {
        eprintln!("phonecert: warning: {w}");
    }
    let report = out.report;
    let write = WriteOptions {
        signing: signing_key.map(|k| {
            (
                k,
                CertOptions {
                    lab: args.lab.clone(),
                    validity_days: args.validity_days,
                    ..Default::default()
                },
            )
        }),
    };
    let written = pc_certify::write_report(&args.out, &report, &write)?;
    crate::table::write_audit(&mut std::io::stdout().lock(), &report, &written.files)?;
    for w in &report.warnings {
        eprintln!("phonecert: warning: {w}");
    }
    Ok(match report.summary.decision {
        Decision::Certifiable => {
            if written.certificate.is_none() {
                eprintln!(
                    "phonecert: the model passes; give --signing-key to issue its certificate"
                );
            }
            EXIT_OK
        }
        Decision::NotCertifiable | Decision::Incomplete => EXIT_FINDINGS,
    })
}

pub fn run_keygen(args: KeygenArgs) -> Result<u8> {
    let (sk, _) = pc_certify::keygen();
    let (secret, public) = pc_certify::write_keypair(&args.out, &sk)?;
    println!("secret key: {} (keep it private)", secret.display());
    println!(
        "public key: {} (publish it: anyone can verify certificates with it)",
        public.display()
    );
    Ok(EXIT_OK)
}

pub fn run_verify(args: VerifyArgs) -> Result<u8> {
    let text = std::fs::read_to_string(&args.cert)
        .with_context(|| format!("{}: cannot read", args.cert.display()))?;
    let key = pc_certify::read_public_key(&args.key)?;
    let now = pc_base::time::now();
    match pc_certify::verify(&text, &key, now) {
        Ok(p) => {
            println!(
                "VALID certificate {} issued by {} on {}",
                p.serial, p.lab, p.issued
            );
            println!(
                "  device:   {} {} {}",
                p.device.manufacturer,
                p.device.model,
                p.device.build_fingerprint.as_deref().unwrap_or("")
            );
            println!(
                "  firmware: {} ({} apps)",
                p.firmware_digest, p.firmware_apps
            );
            println!(
                "  catalogue {} {}; valid until {}",
                p.catalogue.id, p.catalogue.version, p.not_after
            );
            if p.reviews.is_empty() && !p.reviewed.is_empty() {
                // A certificate from before reviews were spelled out: it still names them.
                println!("  set by reviewers: {}", p.reviewed.join(", "));
            }
            if !p.reviews.is_empty() {
                println!(
                    "  {} verdict(s) set by reviewers, overriding the automatic checks:",
                    p.reviews.len()
                );
                for r in &p.reviews {
                    println!(
                        "    {}: automatic {}, final {} ({}, {}): {}",
                        r.requirement, r.automatic, r.verdict, r.reviewer, r.date, r.reason
                    );
                }
            } else {
                println!("  no verdict was set by a reviewer");
            }
            Ok(EXIT_OK)
        }
        Err(e) => {
            println!("INVALID: {}: {e}", args.cert.display());
            Ok(EXIT_FINDINGS)
        }
    }
}

pub fn run_diff(args: DiffArgs) -> Result<u8> {
    let read = |p: &PathBuf| -> Result<serde_json::Value> {
        let bytes = std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a report.json", p.display()))
    };
    let d = pc_certify::diff(&read(&args.old)?, &read(&args.new)?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        crate::table::write_diff(&mut std::io::stdout().lock(), &d)?;
    }
    Ok(if d.is_empty() { EXIT_OK } else { EXIT_FINDINGS })
}
