//! `phonecert traffic`.

use crate::{EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use pc_case::{Case, Consent};
use pc_detect::Identifier;
use pc_traffic::{Input, Options};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Format {
    /// A summary per destination and identifier, for people.
    Table,
    /// One JSON object: findings, destinations, requests, dns, handshakes, inputs.
    Json,
    /// One JSON object per line, each with a "type" field.
    Ndjson,
}

/// Find transmissions of the unit's identifiers in captures (pcap, pcapng, HAR; gzip too).
///
/// With a case file, every phase's captures are analysed with the case's identifiers and each
/// finding carries its phase and consent state. Ad hoc, give captures and identifiers:
///
///   phonecert traffic boot.pcapng --id imei=356938035643809 --id msisdn=+33612345678
///
/// Identifiers are searched in every form they may travel in: plain, case and separator
/// variants, URL-encoded, base64, hex, and MD5/SHA-1/SHA-256 hashes, also inside URL-encoded
/// and base64 values, in URLs, headers, cookies, decompressed bodies, DNS names, TLS/QUIC SNI
/// and raw stream bytes.
///
/// Exit status: 0 the analysis ran, 2 an error (an input could not be read), 3 something was
/// found and --fail-on-findings was given.
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct TrafficArgs {
    /// Capture files (pcap, pcapng, HAR, optionally .gz), in addition to the case's.
    captures: Vec<PathBuf>,
    /// The case file (case.toml) naming the unit's identifiers and the phases' captures.
    #[arg(long, short = 'c')]
    case: Option<PathBuf>,
    /// An identifier to search: KIND=VALUE, KIND one of imei, meid, imsi, iccid, msisdn, serial,
    /// wifi_mac, bt_mac, android_id, advertising_id, email, location (=LAT,LON[,RADIUS_M]), or
    /// custom:NAME=VALUE. Repeatable; added to the case's identifiers.
    #[arg(long = "id", value_name = "KIND=VALUE")]
    ids: Vec<String>,
    /// Search --id values that fail their kind's check (IMEI/ICCID Luhn digit, IMSI length,
    /// E.164 number, MAC, UUID) anyway.
    #[arg(long)]
    force: bool,
    /// Phase name for captures given on the command line.
    #[arg(long, default_value = "adhoc")]
    phase: String,
    /// Consent state for captures given on the command line.
    #[arg(long, value_enum, default_value = "none")]
    consent: ConsentArg,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    format: Option<Format>,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// An NSS key log (SSLKEYLOGFILE) to decrypt TLS with; repeatable. Keys in the case's
    /// phases and in pcapng Decryption Secrets Blocks are used as well.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<PathBuf>,
    /// Show identifier values in evidence snippets (masked by default).
    #[arg(long)]
    reveal: bool,
    /// A MaxMind .mmdb country database to use instead of the embedded one.
    #[arg(long, value_name = "MMDB")]
    geoip: Option<PathBuf>,
    /// Exit with status 3 when any identifier was found.
    #[arg(long)]
    fail_on_findings: bool,
    /// Threads (default: one per core). Captures are analysed side by side; a capture larger
    /// than its share is split by flow between threads (DNS and key-material flows stay in
    /// capture order). The report is byte-identical whatever the number.
    #[arg(long, short = 'j')]
    threads: Option<usize>,
}

#[derive(Clone, Copy, ValueEnum, Debug)]
enum ConsentArg {
    None,
    Declined,
    Granted,
}

impl From<ConsentArg> for Consent {
    fn from(c: ConsentArg) -> Self {
        match c {
            ConsentArg::None => Consent::None,
            ConsentArg::Declined => Consent::Declined,
            ConsentArg::Granted => Consent::Granted,
        }
    }
}

/// `--id KIND=VALUE`: pc-detect's parser, with the argument in the message.
pub fn parse_id(s: &str, n: usize) -> Result<Identifier> {
    pc_detect::parse_id_arg(s, n).with_context(|| format!("--id {s}"))
}

/// `--id KIND=VALUE` with `--force`: the value's shape is not checked.
pub fn parse_id_forced(s: &str, n: usize) -> Result<Identifier> {
    pc_detect::parse_id_arg_forced(s, n).with_context(|| format!("--id {s}"))
}

pub fn run(args: TrafficArgs) -> Result<u8> {
    let mut ids = Vec::new();
    let mut inputs = Vec::new();
    if let Some(path) = &args.case {
        let case = Case::load(path)?;
        ids = case.identifiers();
        inputs = Input::from_case(&case);
    }
    for s in &args.ids {
        let kind = s.split('=').next().unwrap_or_default();
        let n = ids.iter().filter(|i| i.kind.as_str() == kind).count();
        ids.push(if args.force {
            parse_id_forced(s, n)?
        } else {
            parse_id(s, n)?
        });
    }
    for c in &args.captures {
        inputs.push(Input {
            path: c.clone(),
            phase: args.phase.clone(),
            consent: args.consent.into(),
            keylogs: Vec::new(),
        });
    }
    if inputs.is_empty() {
        bail!("no capture to analyse: give capture files or --case CASE.toml (see --help)");
    }
    if ids.is_empty() {
        eprintln!(
            "phonecert: warning: no identifiers given: only destinations, requests and DNS are reported"
        );
    }
    for i in &inputs {
        if !i.path.exists() {
            bail!("{}: no such file", i.path.display());
        }
    }
    let total: u64 = inputs
        .iter()
        .map(|i| std::fs::metadata(&i.path).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = crate::table::progress_bar(total, "analysing");
    let opts = Options {
        reveal: args.reveal,
        geoip: args.geoip.clone(),
        keylogs: args.keylog.clone(),
        threads: args
            .threads
            .unwrap_or(0)
            .max(usize::from(args.threads.is_some())),
        ..Default::default()
    };
    let report = pc_traffic::analyze(&inputs, &ids, &opts, &|n| bar.inc(n))?;
    bar.finish_and_clear();

    let format = args.format.unwrap_or(
        if std::io::stdout().is_terminal() && args.output.is_none() {
            Format::Table
        } else {
            Format::Json
        },
    );
    let mut out = Vec::new();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            out.push(b'\n');
        }
        Format::Ndjson => pc_traffic::ndjson::write_ndjson(&mut out, &report)?,
        Format::Table => crate::table::write_traffic(&mut out, &report)?,
    }
    match &args.output {
        Some(p) => write_atomic(p, &out)?,
        None => std::io::stdout().lock().write_all(&out)?,
    }
    let mut code = EXIT_OK;
    for i in &report.inputs {
        for e in &i.errors {
            eprintln!(
                "phonecert: {}: {e}",
                if i.failed { "error" } else { "warning" }
            );
        }
        if i.failed {
            code = EXIT_ERROR;
        } else if i.packets == 0 && i.har_entries == 0 {
            // Nothing found in nothing is not a clean result.
            eprintln!(
                "phonecert: warning: {}: no packet and no HAR entry: nothing was analysed{}",
                i.path,
                if args.fail_on_findings {
                    " (an error with --fail-on-findings)"
                } else {
                    ""
                }
            );
            if args.fail_on_findings {
                code = EXIT_ERROR;
            }
        }
    }
    if code == EXIT_OK && args.fail_on_findings && !report.findings.is_empty() {
        code = EXIT_FINDINGS;
    }
    Ok(code)
}

/// [`pc_base::atomic::write_atomic`] with the path in the error.
pub fn write_atomic(path: &std::path::Path, data: &[u8]) -> Result<()> {
    pc_base::atomic::write_atomic(path, data)
        .with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser is pc-detect's (tested there); the CLI adds the argument to the message.
    #[test]
    fn id_errors_name_the_argument() {
        assert_eq!(parse_id("imei=356938035643817", 1).unwrap().name, "imei2");
        let e = format!("{:#}", parse_id("color=blue", 0).unwrap_err());
        assert!(
            e.starts_with("--id color=blue: unknown kind `color`"),
            "{e}"
        );
    }
}
