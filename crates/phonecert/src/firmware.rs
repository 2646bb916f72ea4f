//! `phonecert apk` and `phonecert firmware`.

use crate::traffic::write_atomic;
use crate::{EXIT_ERROR, EXIT_OK};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use pc_firmware::facts::Context as AppContext;
use pc_firmware::{ApkSig, AppFacts, DexCode, FirmwareProgress, TrackerDb};
use rayon::prelude::*;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Format {
    /// One line per app, for people.
    Table,
    /// Everything, as JSON.
    Json,
}

/// Analyse APK files: manifest, permissions, signing (v1/v2/v3/v3.1), identifier-reading code,
/// tracker SDKs and hard-coded endpoints.
///
///   phonecert apk app.apk other.apk bundle.xapk --format json
///
/// Each app is analysed on its own; a corrupt APK is reported with its error and the others go
/// on. Exit status: 0 every file was analysed, 2 at least one could not be.
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct ApkArgs {
    /// APK files, split APKs, or .xapk / .apks bundles.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    format: Option<Format>,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// Analyse a firmware: every pre-installed app, the permissions the image pre-grants, the
/// build's own security facts (build type and keys, patch level, verified boot) and a device
/// risk score (Uraniborg-compatible, plus the apps that can read phone identifiers and have
/// code that does).
///
///   phonecert firmware extracted/                 # a folder with system/, product/, vendor/ …
///   phonecert firmware factory.tgz                # a fastboot/factory package (.tgz .tar .zip)
///   phonecert firmware super.img vbmeta.img       # loose images: sparse or raw
///   phonecert firmware ota.zip                    # an A/B OTA (payload.bin) or block OTA
///   phonecert firmware --case case.toml           # the case's [firmware] path
///
/// Inputs are recognised by their content, not their names: Android sparse images, super.img
/// (dynamic partitions, slot _a read), EROFS and ext4 filesystems, vbmeta, payload.bin,
/// system.transfer.list + system.new.dat[.br], zip, tar (Samsung .tar.md5 too), gzip, lz4.
/// Nothing is unpacked to disk (compressed containers are spooled to a temporary file that is
/// deleted at the end); `phonecert unpack` writes the files for people who want them.
/// A partition that cannot be read is reported with its image, partition and offset; the
/// others are still analysed.
///
/// Exit status: 0 the analysis ran (apps or partitions that failed are listed with their
/// error), 2 nothing could be read.
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct FirmwareArgs {
    /// A folder of extracted partitions, or images and packages as the manufacturer ships them.
    paths: Vec<PathBuf>,
    /// Take the firmware from this case file's [firmware] table.
    #[arg(long, short = 'c')]
    case: Option<PathBuf>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    format: Option<Format>,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

fn pick(format: Option<Format>, output: &Option<PathBuf>) -> Format {
    format.unwrap_or(if std::io::stdout().is_terminal() && output.is_none() {
        Format::Table
    } else {
        Format::Json
    })
}

fn emit(out: &[u8], output: &Option<PathBuf>) -> Result<()> {
    match output {
        Some(p) => write_atomic(p, out),
        None => Ok(std::io::stdout().lock().write_all(out)?),
    }
}

pub fn run_apk(args: ApkArgs) -> Result<u8> {
    for f in &args.files {
        if !f.is_file() {
            bail!("{}: no such file", f.display());
        }
    }
    let code = DexCode::new();
    let sig = ApkSig;
    let ctx = AppContext {
        code: &code,
        sig: &sig,
        trackers: TrackerDb::embedded(),
        limits: Default::default(),
    };
    let bar = crate::table::count_bar(args.files.len() as u64, "apps");
    let apps: Vec<AppFacts> = args
        .files
        .par_iter()
        .map(|f| {
            let (root, loc) = pc_firmware::loose_app_location(f);
            let mut facts = pc_firmware::analyze_app(&root, &loc, &ctx);
            facts.path = f.display().to_string();
            bar.inc(1);
            facts
        })
        .collect();
    bar.finish_and_clear();
    let mut out = Vec::new();
    match pick(args.format, &args.output) {
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({ "tool": tool(), "apps": apps }),
            )?;
            out.push(b'\n');
        }
        Format::Table => crate::table::write_apps(&mut out, &apps)?,
    }
    emit(&out, &args.output)?;
    let mut code = EXIT_OK;
    for a in &apps {
        if let Some(e) = &a.error {
            eprintln!("phonecert: error: {}: {e}", a.path);
            code = EXIT_ERROR;
        }
    }
    Ok(code)
}

fn tool() -> String {
    format!("phonecert {}", env!("CARGO_PKG_VERSION"))
}

/// The firmware inputs named on the command line or by the case.
pub fn firmware_paths(paths: &[PathBuf], case: &Option<PathBuf>) -> Result<Vec<PathBuf>> {
    let paths = match (paths.is_empty(), case) {
        (false, None) => paths.to_vec(),
        (true, Some(c)) => {
            let case = pc_case::Case::load(c)?;
            let fw = case
                .firmware
                .as_ref()
                .with_context(|| format!("{}: no [firmware] table", c.display()))?;
            fw.path.paths().iter().map(|p| case.resolve(p)).collect()
        }
        (false, Some(_)) => bail!("give either firmware paths or --case, not both"),
        (true, None) => bail!(
            "no firmware: give the extracted partitions' folder, the images or the package, or --case CASE.toml (see --help)"
        ),
    };
    for p in &paths {
        if !p.exists() {
            bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(paths)
}

pub fn run_firmware(args: FirmwareArgs) -> Result<u8> {
    let paths = firmware_paths(&args.paths, &args.case)?;
    let code = DexCode::new();
    let sig = ApkSig;
    let bar = crate::table::count_bar(0, "apps");
    let report = pc_firmware::analyze_inputs(
        &paths,
        &Default::default(),
        &Default::default(),
        TrackerDb::embedded(),
        &code,
        &sig,
        &|p| match p {
            FirmwareProgress::Scanned { apps } => bar.set_length(apps as u64),
            FirmwareProgress::AppDone { .. } => bar.inc(1),
        },
    );
    bar.finish_and_clear();
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut out = Vec::new();
    match pick(args.format, &args.output) {
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("tool".into(), tool().into());
                o.insert("root".into(), shown.join(" ").into());
            }
            serde_json::to_writer_pretty(&mut out, &v)?;
            out.push(b'\n');
        }
        Format::Table => crate::table::write_firmware(&mut out, &report)?,
    }
    emit(&out, &args.output)?;
    for a in report.apps.iter().filter(|a| a.error.is_some()) {
        eprintln!(
            "phonecert: warning: {}: {}",
            a.path,
            a.error.as_deref().unwrap_or_default()
        );
    }
    for e in &report.errors {
        eprintln!("phonecert: warning: {e}");
    }
    let readable = report
        .partitions
        .iter()
        .any(|p| matches!(p.filesystem.as_str(), "folder" | "erofs" | "ext4"));
    if !readable {
        eprintln!(
            "phonecert: error: {}: no partition could be read (see the warnings above)",
            shown.join(", ")
        );
        return Ok(EXIT_ERROR);
    }
    if report.apps.is_empty() {
        // An empty folder analysed is not a firmware without problems.
        eprintln!(
            "phonecert: warning: {}: no APK found: nothing was analysed (is this the folder of the extracted partitions, with system/, product/, vendor/ ...?)",
            shown.join(", ")
        );
    }
    Ok(EXIT_OK)
}
