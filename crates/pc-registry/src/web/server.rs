//! Starting the service: the store opened and migrated, the first administrator, sweeps of
//! cut-off uploads, the lab key, the workers, and the connection loop with limits that fit the
//! process's descriptors; or workers alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::origin::{HostPolicy, Origin};
use super::{AppState, WebConfig, conn, router};
use crate::certs::LabKey;
use crate::{RegistryError, Store};

/// Everything `phonecert serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data folder (SQLite database when embedded, artifacts, lab key).
    pub data_dir: PathBuf,
    /// PostgreSQL URL instead of the embedded database.
    pub database_url: Option<String>,
    /// Workers running audits in this process (0: web only).
    pub workers: usize,
    /// Job lease: a crashed worker's run is taken up again after this.
    pub lease: Duration,
    /// Lab key file instead of `DATA_DIR/lab.key`.
    pub signing_key: Option<PathBuf>,
    /// Web settings (`web.host` is decided by [`serve`] from `listen` and `public_url`).
    pub web: WebConfig,
    /// The origin clients reach the service by; required unless listening on loopback.
    pub public_url: Option<Origin>,
    /// Connection bounds (`trusted_proxies` is taken from `web`).
    pub conn: conn::ConnLimits,
    /// Largest upload in bytes.
    pub max_upload: u64,
    /// Most bytes of uploads per submission.
    pub max_submission_total: u64,
    /// First administrator, created if the database has no account.
    pub bootstrap_admin: Option<(String, String)>,
    /// Where the workers run audits (a child process under a memory limit for `phonecert`).
    pub audit: crate::AuditExec,
}

/// Descriptors kept for everything but connections: the database pool, uploads being written,
/// audit pipelines, the listener.
const FD_RESERVE: u64 = 256;

/// The soft limit on open descriptors, from `/proc/self/limits` (Linux; `None` elsewhere or
/// when unlimited). Read, not raised: raising it takes `setrlimit`, which needs unsafe code.
fn soft_nofile_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Lowers the connection limit to what the descriptor limit leaves room for, so the limit is a
/// bound the process can keep (over it, `accept` would fail instead of answering 503).
fn fit_descriptors(mut limits: conn::ConnLimits) -> conn::ConnLimits {
    let want = (limits.max_connections as u64).saturating_add(FD_RESERVE);
    if let Some(have) = soft_nofile_limit()
        && have < want
    {
        let n = usize::try_from(have.saturating_sub(FD_RESERVE).max(16)).unwrap_or(16);
        eprintln!(
            "phonecert serve: the descriptor limit is {have}: serving at most {n} connections \
             instead of {} (raise `ulimit -n`)",
            limits.max_connections
        );
        limits.max_connections = n;
    }
    limits
}

/// Opens (creating if needed) and migrates the store, starts the workers, then serves until
/// the process ends. `/healthz` answers once the database is ready.
pub async fn serve(cfg: ServeConfig) -> Result<(), RegistryError> {
    let host = HostPolicy::for_listener(cfg.listen, cfg.public_url.clone()).ok_or(
        RegistryError::Invalid {
            field: "public URL",
            why: "listening on a non-loopback address needs --public-url, the URL clients use \
                  (requests naming other hosts are refused, against DNS rebinding)",
        },
    )?;
    let web = WebConfig {
        host,
        ..cfg.web.clone()
    };
    let store = Store::open(&cfg.data_dir, cfg.database_url.as_deref())
        .await?
        .with_limits(crate::ArtifactLimits {
            max_size: cfg.max_upload,
            max_submission_total: cfg.max_submission_total,
        });
    store.migrate().await?;
    if let Some((email, password)) = &cfg.bootstrap_admin
        && store.bootstrap_admin(email, password).await?
    {
        eprintln!("phonecert serve: created the first administrator {email}");
    }
    // Uploads cut off by a crash of this or another process sharing the folder go now, before
    // the service answers; files of the old naming after an hour without writes.
    let swept = store.sweep_stale_uploads(Duration::from_secs(3600)).await?;
    if swept > 0 {
        eprintln!("phonecert serve: removed {swept} cut-off upload(s)");
    }
    {
        // And again now and then: processes sharing the folder die while this one runs.
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(600)).await;
                if let Err(e) = store.sweep_stale_uploads(Duration::from_secs(3600)).await {
                    eprintln!("phonecert serve: sweeping cut-off uploads: {e}");
                }
            }
        });
    }
    let key = LabKey::load_or_create(&cfg.data_dir, cfg.signing_key.as_deref())?;
    eprintln!("phonecert serve: lab key {}", key.key_id);
    let pool = (cfg.workers > 0).then(|| {
        crate::WorkerPool::spawn(
            store.clone(),
            worker_config(&cfg),
            crate::jobs::audit_handler(store.clone(), cfg.web.bundle.clone(), cfg.audit.clone()),
        )
    });
    let limits = fit_descriptors(conn::ConnLimits {
        trusted_proxies: web.trusted_proxies.clone(),
        ..cfg.conn.clone()
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(RegistryError::io("binding the listen address"))?;
    eprintln!(
        "phonecert serve: answering as {}; at most {} connections ({} per client), \
         {:?} for a request head, {:?} for a pause in a body",
        web.host.describe(),
        limits.max_connections,
        limits.max_per_client,
        limits.header_timeout,
        limits.body_timeout
    );
    let app = router(AppState::with(store, key, web));
    conn::serve_connections(listener, app, limits).await;
    if let Some(p) = pool {
        p.shutdown().await?;
    }
    Ok(())
}

fn worker_config(cfg: &ServeConfig) -> crate::WorkerConfig {
    crate::WorkerConfig {
        workers: cfg.workers.max(1),
        lease: cfg.lease,
        heartbeat: (cfg.lease / 4).max(Duration::from_millis(200)),
        poll: Duration::from_millis(500),
        name: worker_name(),
    }
}

/// Runs workers only (no web server), for labs that spread audits over machines sharing one
/// PostgreSQL database and artifact folder.
pub async fn work(cfg: ServeConfig) -> Result<(), RegistryError> {
    let store = Store::open(&cfg.data_dir, cfg.database_url.as_deref()).await?;
    store.migrate().await?;
    let pool = crate::WorkerPool::spawn(
        store.clone(),
        worker_config(&cfg),
        crate::jobs::audit_handler(store, cfg.web.bundle.clone(), cfg.audit.clone()),
    );
    // Runs until killed; a killed worker's runs are taken up again after their lease.
    std::future::pending::<()>().await;
    pool.shutdown().await
}

/// Host and process id: who holds a lease, visible in the runs table.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}
