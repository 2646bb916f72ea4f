//! `phonecert serve`, `phonecert worker` and `phonecert user`: the lab's registry service.

use crate::EXIT_OK;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use pc_registry::{AuditExec, ConnLimits, Origin, Role, ServeConfig, Store, WebConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Run the lab's registry service: web application, API, public registry and audit workers.
///
///   phonecert serve --listen 127.0.0.1:8080 --data /srv/phonecert
///   phonecert serve --data /srv/phonecert --database postgres://lab@db/phonecert
///
/// With no --database, an embedded SQLite database and the artifact store live under --data;
/// nothing else needs installing. `GET /healthz` answers once the database is ready. The lab's
/// signing key is DATA/lab.key (made at first start) unless --signing-key names one.
///
/// The first administrator: set PHONECERT_ADMIN_EMAIL and PHONECERT_ADMIN_PASSWORD at the first
/// start, or use `phonecert user add`. Several `serve` and `worker` processes, on several
/// machines, can share one PostgreSQL database and one --data folder (a shared file system).
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    audits: Audits,
    /// The lab's name on the certificates it issues.
    #[arg(long, default_value = "phonecert test lab")]
    lab: String,
    /// Certificate validity in days.
    #[arg(long, default_value_t = 365)]
    validity_days: u32,
    /// The lab's Ed25519 secret key (from `phonecert keygen`) instead of DATA/lab.key.
    #[arg(long, value_name = "PREFIX.key")]
    signing_key: Option<PathBuf>,
    /// Largest upload, in MiB.
    #[arg(long, default_value_t = 16 * 1024)]
    max_upload_mib: u64,
    /// Most uploads one submission may hold in all, in GiB (a file replaced under its name no
    /// longer counts).
    #[arg(long, default_value_t = 64)]
    max_submission_gib: u64,
    /// The URL clients reach the service by (https://registry.lab.example): requests naming
    /// another host are refused (421) and only this origin may post. Required unless --listen
    /// is a loopback address, where loopback names are answered.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Most connections open at once (over it, new ones are answered 503 and closed).
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Most connections open at once from one client address (an IPv6 /64 counts as one).
    #[arg(long, default_value_t = 64)]
    max_connections_per_client: usize,
    /// Seconds a request's head may take to arrive (also the keep-alive idle time).
    #[arg(long, default_value_t = 20)]
    header_timeout_secs: u64,
    /// Seconds a request body (an upload) or a client reading a response may pause.
    #[arg(long, default_value_t = 60)]
    body_timeout_secs: u64,
    /// A proxy in front whose X-Forwarded-For names the client (repeatable).
    #[arg(long, value_name = "IP")]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Send the session cookie without the Secure flag: only for plain-HTTP setups that are
    /// not on localhost (browsers accept Secure cookies over http://localhost).
    #[arg(long)]
    insecure_cookies: bool,
}

/// How the workers run each audit: in a child process (`phonecert audit-job`) whose heap is
/// limited, so that a hostile upload fails its own run and the worker returns to idle after it.
#[derive(Args, Debug)]
pub struct AuditProcess {
    /// Memory (heap) each audit may use, in MiB; an audit that needs more fails with a message
    /// saying so. 0: no limit.
    #[arg(long, default_value_t = 4096, value_name = "MiB")]
    audit_memory_mib: u64,
}

impl AuditProcess {
    fn exec(&self) -> Result<AuditExec> {
        let program = std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("finding the phonecert program for audits: {e}"))?;
        Ok(AuditExec::Child {
            program,
            memory_limit: (self.audit_memory_mib > 0)
                .then(|| self.audit_memory_mib.saturating_mul(1 << 20)),
        })
    }
}

/// Database and data folder, shared by the service's commands.
#[derive(Args, Debug)]
pub struct Common {
    /// Folder for the database (when embedded), the uploaded artifacts and the lab key.
    #[arg(long)]
    data: PathBuf,
    /// A PostgreSQL URL (postgres://…) instead of the embedded SQLite database.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Seconds a run stays with a worker that stopped answering before another takes it up.
    #[arg(long, default_value_t = 60)]
    lease_secs: u64,
}

/// What `serve` and `worker` share: the database, the data folder and how audits run.
#[derive(Args, Debug)]
pub struct Audits {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    audit: AuditProcess,
    /// Concurrent audits in this process (with `serve`, 0: web only, audits run by
    /// `phonecert worker`).
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

/// Run audit workers without the web server (for labs spreading audits over machines).
///
///   phonecert worker --data /shared/phonecert --database postgres://lab@db/phonecert --workers 4
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct WorkerArgs {
    #[command(flatten)]
    audits: Audits,
}

/// Manage the registry's accounts from the command line.
#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account. The password is read from PHONECERT_PASSWORD, else from the first
    /// line of standard input.
    ///
    ///   echo 'a long passphrase' | phonecert user add --data /srv/phonecert --email a@lab.example --role admin
    #[command(verbatim_doc_comment)]
    Add {
        #[command(flatten)]
        common: Common,
        /// Login e-mail.
        #[arg(long)]
        email: String,
        /// admin, engineer, reviewer, manufacturer or public.
        #[arg(long)]
        role: String,
        /// The company of a manufacturer account; it must exist (`phonecert user manufacturer`).
        #[arg(long)]
        manufacturer: Option<String>,
    },
    /// Add a manufacturer.
    Manufacturer {
        #[command(flatten)]
        common: Common,
        /// Its name.
        #[arg(long)]
        name: String,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn config(audits: &Audits, listen: SocketAddr) -> Result<ServeConfig> {
    let Audits {
        common,
        audit,
        workers,
    } = audits;
    let workers = *workers;
    Ok(ServeConfig {
        listen,
        data_dir: common.data.clone(),
        database_url: common.database.clone(),
        workers,
        lease: Duration::from_secs(common.lease_secs.max(1)),
        signing_key: None,
        web: WebConfig::default(),
        public_url: None,
        conn: ConnLimits::default(),
        max_upload: 16 << 30,
        max_submission_total: 64 << 30,
        bootstrap_admin: None,
        audit: audit.exec()?,
    })
}

pub fn run(args: ServeArgs) -> Result<u8> {
    let mut cfg = config(&args.audits, args.listen)?;
    cfg.signing_key = args.signing_key;
    cfg.web.secure_cookies = !args.insecure_cookies;
    cfg.web.issue.lab = args.lab;
    cfg.web.issue.validity_days = args.validity_days;
    cfg.public_url = args
        .public_url
        .as_deref()
        .map(Origin::parse_public_url)
        .transpose()?;
    cfg.conn = ConnLimits {
        max_connections: args.max_connections,
        max_per_client: args.max_connections_per_client,
        header_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
        body_timeout: Duration::from_secs(args.body_timeout_secs.max(1)),
        trusted_proxies: Vec::new(),
    };
    cfg.web.trusted_proxies = args.trusted_proxy;
    cfg.max_upload = args.max_upload_mib.saturating_mul(1 << 20);
    cfg.max_submission_total = args.max_submission_gib.saturating_mul(1 << 30);
    if let (Ok(e), Ok(p)) = (
        std::env::var("PHONECERT_ADMIN_EMAIL"),
        std::env::var("PHONECERT_ADMIN_PASSWORD"),
    ) {
        cfg.bootstrap_admin = Some((e, p));
    }
    eprintln!(
        "phonecert: serving on http://{} (data in {}, {} workers)",
        args.listen,
        args.audits.common.data.display(),
        args.audits.workers
    );
    runtime()?.block_on(pc_registry::serve(cfg))?;
    Ok(EXIT_OK)
}

pub fn run_worker(args: WorkerArgs) -> Result<u8> {
    let cfg = config(&args.audits, SocketAddr::from(([127, 0, 0, 1], 0)))?;
    eprintln!(
        "phonecert: {} audit workers on {}",
        args.audits.workers,
        args.audits
            .common
            .database
            .as_deref()
            .unwrap_or("the embedded database")
    );
    runtime()?.block_on(pc_registry::work(cfg))?;
    Ok(EXIT_OK)
}

async fn open(common: &Common) -> Result<Store> {
    let store = Store::open(&common.data, common.database.as_deref()).await?;
    store.migrate().await?;
    Ok(store)
}

/// `phonecert user add`: the registry's own create-account rules ([`Store::add_account`]), the
/// same as the web's, audited as done by `cli`.
async fn add_user(
    common: &Common,
    email: &str,
    role: Role,
    manufacturer: Option<&str>,
    password: &str,
) -> Result<pc_registry::User> {
    if password.is_empty() {
        bail!("no password: set PHONECERT_PASSWORD or give it on standard input");
    }
    let store = open(common).await?;
    Ok(store
        .add_account("cli", email, password, role, manufacturer)
        .await?)
}

pub fn run_user(args: UserArgs) -> Result<u8> {
    runtime()?.block_on(async {
        match args.command {
            UserCommand::Add {
                common,
                email,
                role,
                manufacturer,
            } => {
                let role: Role = role.parse()?;
                let password = match std::env::var("PHONECERT_PASSWORD") {
                    Ok(p) => p,
                    Err(_) => {
                        let mut line = String::new();
                        std::io::stdin()
                            .read_line(&mut line)
                            .context("reading the password from standard input")?;
                        line.trim_end_matches(['\r', '\n']).to_owned()
                    }
                };
                let u = add_user(&common, &email, role, manufacturer.as_deref(), &password).await?;
                println!("created {} ({})", u.email, role.as_str());
            }
            UserCommand::Manufacturer { common, name } => {
                let store = open(&common).await?;
                let id = store.create_manufacturer(&name).await?;
                store
                    .audit("cli", "manufacturer.create", &id, &name)
                    .await?;
                println!("created manufacturer {name}");
            }
        }
        Ok(EXIT_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI refuses an unknown manufacturer with the registry's message (the web gives the
    /// same one: `pc-registry`'s `accounts_tests`), and creates none.
    #[test]
    fn user_add_refuses_an_unknown_manufacturer() {
        let dir = tempfile::tempdir().unwrap();
        let common = Common {
            data: dir.path().join("data"),
            database: None,
            lease_secs: 60,
        };
        let rt = runtime().unwrap();
        let add = || {
            rt.block_on(add_user(
                &common,
                "m@lab.example",
                Role::Manufacturer,
                Some("Nokla"),
                "a long enough password",
            ))
        };
        let e = add().expect_err("unknown manufacturer");
        let want = pc_registry::RegistryError::UnknownManufacturer("Nokla".into()).to_string();
        assert_eq!(e.to_string(), want);
        rt.block_on(async {
            let store = open(&common).await.unwrap();
            assert!(store.manufacturer_by_name("Nokla").await.unwrap().is_none());
            store.create_manufacturer("Nokla").await.unwrap();
        });
        let u = add().expect("known manufacturer");
        assert_eq!(u.role, Role::Manufacturer);
    }
}
