//! `phonecert`: the command line. Argument parsing, progress, printing and exit codes only; the
//! work is done by the library crates.
#![forbid(unsafe_code)]

mod certify;
mod firmware;
mod serve;
mod table;
mod traffic;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Certify the information security of phones' built-in software.
///
/// phonecert finds the phone's identifiers (IMEI, IMSI, ICCID, phone number, MACs, advertising
/// ID …) in what the phone sent during lab test phases, and tells to whom, from which app, in
/// which form, in clear or encrypted, and before or after the user consented.
///
/// Start with the bundled example:
///   phonecert traffic --case examples/acme-a1/case.toml
///   phonecert firmware --case examples/acme-a1/case.toml
///   phonecert audit examples/acme-a1/case.toml --out report/
#[derive(Parser)]
#[command(
    name = "phonecert",
    version,
    about,
    long_about,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Traffic(traffic::TrafficArgs),
    Apk(firmware::ApkArgs),
    Firmware(firmware::FirmwareArgs),
    Audit(certify::AuditArgs),
    Keygen(certify::KeygenArgs),
    Verify(certify::VerifyArgs),
    Diff(certify::DiffArgs),
    Serve(serve::ServeArgs),
    Worker(serve::WorkerArgs),
    User(serve::UserArgs),
    /// The child side of a registry audit (run by `serve`/`worker`, not by people).
    #[command(hide = true)]
    AuditJob {
        case: std::path::PathBuf,
        out: std::path::PathBuf,
        /// The embedded catalogue the run audits against.
        #[arg(long, default_value = "phonecert-baseline")]
        catalogue: String,
    },
}

/// Exit statuses: 0 the work ran, 2 an error stopped it, 3 findings with `--fail-on-findings`.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 2;
pub const EXIT_FINDINGS: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Traffic(args) => traffic::run(args),
        Command::Apk(args) => firmware::run_apk(args),
        Command::Firmware(args) => firmware::run_firmware(args),
        Command::Audit(args) => certify::run_audit(args),
        Command::Keygen(args) => certify::run_keygen(args),
        Command::Verify(args) => certify::run_verify(args),
        Command::Diff(args) => certify::run_diff(args),
        Command::Serve(args) => serve::run(args),
        Command::Worker(args) => serve::run_worker(args),
        Command::User(args) => serve::run_user(args),
        Command::AuditJob {
            case,
            out,
            catalogue,
        } => pc_registry::audit_exec::run_child(&case, &out, &catalogue)
            .map(|()| EXIT_OK)
            .map_err(Into::into),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("phonecert: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
