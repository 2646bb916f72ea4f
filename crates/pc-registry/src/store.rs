//! The database store: connection, migrations, accounts and the catalogue.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};

use crate::{RegistryError, new_id, unix_now};

/// Limits applied to uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactLimits {
    /// Largest accepted artifact in bytes (firmware images are big, but not unbounded).
    pub max_size: u64,
    /// Most bytes of uploads one submission may hold (a file replaced under the same name no
    /// longer counts), so one account cannot fill the lab's disk.
    pub max_submission_total: u64,
}

impl Default for ArtifactLimits {
    fn default() -> Self {
        ArtifactLimits {
            max_size: 16 * 1024 * 1024 * 1024,
            max_submission_total: 64 * 1024 * 1024 * 1024,
        }
    }
}

/// The schema migrations, embedded so the binary needs no migrations folder at run time.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "workflow",
        include_str!("../migrations/0002_workflow.sql"),
    ),
    (
        3,
        "security",
        include_str!("../migrations/0003_security.sql"),
    ),
    (
        4,
        "catalogue",
        include_str!("../migrations/0004_catalogue.sql"),
    ),
];

/// Longest accepted e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest accepted password: argon2 accepts more, but unbounded input is a DoS lever.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Longest accepted name (manufacturer, model, firmware version).
pub const MAX_NAME_LEN: usize = 200;
/// Most rows a public listing returns.
pub const MAX_LIST_ROWS: i64 = 1000;
/// Maximum connections in the pool.
const POOL_SIZE: u32 = 8;

/// Which database engine the store talks to; a few statements differ (row locking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (single machine).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// An account role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages accounts and configuration.
    Admin,
    /// Runs analyses.
    Engineer,
    /// Reviews results and approves certificates.
    Reviewer,
    /// A manufacturer's account: submits and sees its own cases.
    Manufacturer,
    /// Read-only access to public information.
    Public,
}

impl Role {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Engineer => "engineer",
            Role::Reviewer => "reviewer",
            Role::Manufacturer => "manufacturer",
            Role::Public => "public",
        }
    }
}

/// For `#[sqlx(try_from = "String")]`.
impl TryFrom<String> for Role {
    type Error = RegistryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for Role {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "admin" => Role::Admin,
            "engineer" => Role::Engineer,
            "reviewer" => Role::Reviewer,
            "manufacturer" => Role::Manufacturer,
            "public" => Role::Public,
            _ => {
                return Err(RegistryError::Invalid {
                    field: "role",
                    why: "unknown role",
                });
            }
        })
    }
}

/// An account (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct User {
    /// Random id.
    pub id: String,
    /// Login name.
    pub email: String,
    /// Role.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// The company of a manufacturer account.
    pub manufacturer_id: Option<String>,
}

/// A certificate as shown on the public register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PublicCertificate {
    /// Certificate number.
    pub number: String,
    /// issued, revoked or superseded.
    pub state: String,
    /// Reason for revocation or supersession.
    pub reason: Option<String>,
    /// Manufacturer name.
    pub manufacturer: String,
    /// Device model name.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// Issue time (unix seconds).
    pub issued_at: i64,
}

/// The registry store: a connection pool plus the data directory holding the artifact folder.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) data_dir: PathBuf,
    pub(crate) limits: ArtifactLimits,
    /// This process's claim on its temporary upload files.
    pub(crate) uploads: std::sync::Arc<UploadOwner>,
}

impl Store {
    /// Opens the store. `database_url` `None` means the embedded SQLite database
    /// `DATA_DIR/registry.sqlite3` (created, with `data_dir`, if missing). `data_dir` always holds
    /// the artifact folder. Does not migrate: call [`Store::migrate`].
    pub async fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Store, RegistryError> {
        sqlx::any::install_default_drivers();
        crate::private_fs::create_dir_all_async(data_dir)
            .await
            .map_err(RegistryError::io("creating the data directory"))?;
        crate::private_fs::close_existing(data_dir)
            .map_err(RegistryError::io("making the data directory private"))?;
        let url: Cow<'_, str> = match database_url {
            Some(u) => Cow::Borrowed(u),
            None => {
                let file = data_dir.join("registry.sqlite3");
                private_database_files(&file)
                    .await
                    .map_err(RegistryError::io("making the database files private"))?;
                let file = file.to_str().ok_or(RegistryError::Invalid {
                    field: "data directory",
                    why: "path is not UTF-8",
                })?;
                // The URL query would misparse such paths; refuse them rather than open elsewhere.
                if file.contains(['?', '#']) {
                    return Err(RegistryError::Invalid {
                        field: "data directory",
                        why: "path contains '?' or '#'",
                    });
                }
                Cow::Owned(format!("sqlite://{file}?mode=rwc"))
            }
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(RegistryError::UnsupportedUrl);
        };
        let mut opts = AnyPoolOptions::new().max_connections(POOL_SIZE);
        if backend == Backend::Sqlite {
            // WAL lets readers proceed during a write; foreign keys are off by default in SQLite;
            // busy_timeout makes concurrent writers wait for the lock instead of failing.
            opts = opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(&url).await?;
        Ok(Store {
            pool,
            backend,
            data_dir: data_dir.to_path_buf(),
            limits: ArtifactLimits::default(),
            uploads: UploadOwner::new()?,
        })
    }

    /// Replaces the artifact limits (size cap).
    pub fn with_limits(mut self, limits: ArtifactLimits) -> Store {
        self.limits = limits;
        self
    }

    /// Which engine this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Applies pending migrations; applying again is a no-op.
    pub async fn migrate(&self) -> Result<(), RegistryError> {
        let migrations = MIGRATIONS
            .iter()
            .map(|&(version, desc, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(desc),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations)
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Answers when the database does (for `/healthz`).
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let one: i64 = sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
            .fetch_one(&self.pool)
            .await?;
        if one == 1 {
            Ok(())
        } else {
            Err(RegistryError::Corrupt { column: "ping" })
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates an account; the password is hashed with argon2id on a blocking thread.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User, RegistryError> {
        self.create_user_for(email, password, role, None).await
    }

    /// Creates an account as an administrator asks for it, in the web or with `phonecert user
    /// add`: one set of rules for both. `manufacturer` is a company's name (blank: none), which
    /// must exist already ([`RegistryError::UnknownManufacturer`]); the creation is recorded
    /// in the audit log as done by `actor`.
    pub async fn add_account(
        &self,
        actor: &str,
        email: &str,
        password: &str,
        role: Role,
        manufacturer: Option<&str>,
    ) -> Result<User, RegistryError> {
        let m_id = match manufacturer.map(str::trim).filter(|m| !m.is_empty()) {
            Some(name) => Some(
                self.manufacturer_by_name(name)
                    .await?
                    .ok_or_else(|| RegistryError::UnknownManufacturer(name.to_owned()))?
                    .id,
            ),
            None => None,
        };
        let u = self
            .create_user_for(email, password, role, m_id.as_deref())
            .await?;
        self.audit(
            actor,
            "user.create",
            &u.id,
            &format!("{} {}", u.email, role.as_str()),
        )
        .await?;
        Ok(u)
    }

    /// Creates an account tied to a manufacturer (required for, and only for, the
    /// manufacturer role).
    pub async fn create_user_for(
        &self,
        email: &str,
        password: &str,
        role: Role,
        manufacturer_id: Option<&str>,
    ) -> Result<User, RegistryError> {
        if (role == Role::Manufacturer) != manufacturer_id.is_some() {
            return Err(RegistryError::Invalid {
                field: "manufacturer",
                why: "a manufacturer account needs its company, and only such accounts have one",
            });
        }
        let email = normalise_email(email)?;
        check_password(password)?;
        let hash = hash_password(password.to_owned()).await?;
        let id = new_id()?;
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, manufacturer_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.clone())
        .bind(email.clone())
        .bind(hash)
        .bind(role.as_str())
        .bind(manufacturer_id.map(str::to_owned))
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(User {
            id,
            email,
            role,
            manufacturer_id: manufacturer_id.map(str::to_owned),
        })
    }

    /// Checks a login. `Ok(None)` for an unknown account, a disabled one or a wrong password;
    /// unknown accounts still cost one hash verification so timing does not reveal them.
    pub async fn verify_login(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<User>, RegistryError> {
        let (email, password) = match (normalise_email(email), password.len()) {
            (Ok(e), n) if n <= MAX_PASSWORD_LEN => (e, password.to_owned()),
            _ => return Ok(None),
        };
        let row: Option<LoginRow> = sqlx::query_as(
            "SELECT id, email, password_hash, role, disabled, manufacturer_id FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            let dummy = dummy_hash().await?;
            verify_password(password, dummy).await?;
            return Ok(None);
        };
        if !verify_password(password, row.password_hash).await? || row.disabled != 0 {
            return Ok(None);
        }
        Ok(Some(row.user))
    }

    /// Creates a manufacturer; returns its id.
    pub async fn create_manufacturer(&self, name: &str) -> Result<String, RegistryError> {
        let name = check_name("manufacturer name", name)?;
        let id = new_id()?;
        sqlx::query("INSERT INTO manufacturers (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id.clone())
            .bind(name.to_owned())
            .bind(unix_now())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// Creates a device model of a manufacturer; returns its id.
    pub async fn create_model(
        &self,
        manufacturer_id: &str,
        name: &str,
    ) -> Result<String, RegistryError> {
        let name = check_name("model name", name)?;
        let id = new_id()?;
        sqlx::query(
            "INSERT INTO device_models (id, manufacturer_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.clone())
        .bind(manufacturer_id.to_owned())
        .bind(name.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Creates a firmware build of a device model; returns its id.
    pub async fn create_firmware_build(
        &self,
        model_id: &str,
        version: &str,
        fingerprint: &str,
    ) -> Result<String, RegistryError> {
        let version = check_name("firmware version", version)?;
        let id = new_id()?;
        sqlx::query(
            "INSERT INTO firmware_builds (id, device_model_id, version, fingerprint, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.clone())
        .bind(model_id.to_owned())
        .bind(version.to_owned())
        .bind(fingerprint.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Creates a submission (state `submitted`) for a firmware build; returns its id.
    pub async fn create_submission(
        &self,
        firmware_build_id: &str,
        submitted_by: Option<&str>,
        case_toml: &str,
    ) -> Result<String, RegistryError> {
        let id = new_id()?;
        sqlx::query(
            "INSERT INTO submissions (id, firmware_build_id, submitted_by, state, case_toml, created_at) \
             VALUES ($1, $2, $3, 'submitted', $4, $5)",
        )
        .bind(id.clone())
        .bind(firmware_build_id.to_owned())
        .bind(submitted_by.map(str::to_owned))
        .bind(case_toml.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// The public certificate register, optionally filtered by exact manufacturer and model name.
    pub async fn list_public_certificates(
        &self,
        manufacturer: Option<&str>,
        model: Option<&str>,
    ) -> Result<Vec<PublicCertificate>, RegistryError> {
        let sql = format!(
            "{PUBLIC_CERT_SELECT} WHERE ($1 IS NULL OR m.name = $1) AND ($2 IS NULL OR d.name = $2) \
             ORDER BY c.issued_at, c.number LIMIT $3"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(manufacturer.map(str::to_owned))
            .bind(model.map(str::to_owned))
            .bind(MAX_LIST_ROWS)
            .fetch_all(&self.pool)
            .await?)
    }
}

/// The public register's columns: a certificate with what it is about.
pub(crate) const PUBLIC_CERT_SELECT: &str = "SELECT c.number, c.state, c.reason, c.issued_at, m.name AS manufacturer, \
            d.name AS model, f.version AS firmware \
     FROM certificates c \
     JOIN submissions s ON s.id = c.submission_id \
     JOIN firmware_builds f ON f.id = s.firmware_build_id \
     JOIN device_models d ON d.id = f.device_model_id \
     JOIN manufacturers m ON m.id = d.manufacturer_id";

/// An account with what a login checks.
#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: User,
    password_hash: String,
    disabled: i64,
}

/// The SQLite database and its WAL and shared-memory files as 0600: the database file is made
/// before SQLite opens it (SQLite gives the other two the database file's mode), and existing
/// ones, perhaps made by an older version under a lax umask, are closed.
async fn private_database_files(db: &Path) -> std::io::Result<()> {
    let db = db.to_path_buf();
    tokio::task::spawn_blocking(move || {
        match crate::private_fs::create_new(&db) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            crate::private_fs::restrict_if_exists(Path::new(&name), crate::private_fs::FILE_MODE)?;
        }
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)?
}

pub(crate) fn normalise_email(email: &str) -> Result<String, RegistryError> {
    let e = email.trim();
    let bad = |why| RegistryError::Invalid {
        field: "email",
        why,
    };
    if e.is_empty() || e.len() > MAX_EMAIL_LEN {
        return Err(bad("empty or too long"));
    }
    if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace or control characters"));
    }
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(e.to_lowercase())
        }
        _ => Err(bad("not of the form local@domain")),
    }
}

pub(crate) fn check_password(password: &str) -> Result<(), RegistryError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(RegistryError::Invalid {
            field: "password",
            why: "length out of range",
        });
    }
    Ok(())
}

pub(crate) fn check_name<'a>(field: &'static str, name: &'a str) -> Result<&'a str, RegistryError> {
    let n = name.trim();
    if n.is_empty() || n.len() > MAX_NAME_LEN || n.chars().any(char::is_control) {
        return Err(RegistryError::Invalid {
            field,
            why: "empty, too long or contains control characters",
        });
    }
    Ok(n)
}

/// Hashes on a blocking thread: argon2 deliberately takes tens of milliseconds of CPU.
pub(crate) async fn hash_password(password: String) -> Result<String, RegistryError> {
    tokio::task::spawn_blocking(move || {
        let mut salt_bytes = [0u8; 16];
        getrandom::fill(&mut salt_bytes).map_err(|_| RegistryError::Random)?;
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| RegistryError::PasswordHash)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| RegistryError::PasswordHash)
    })
    .await
    .map_err(|_| RegistryError::Join)?
}

async fn verify_password(password: String, hash: String) -> Result<bool, RegistryError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|_| RegistryError::PasswordHash)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|_| RegistryError::Join)?
}

/// A hash of a random password, computed once, to verify against for unknown accounts.
async fn dummy_hash() -> Result<String, RegistryError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = hash_password(new_id()?).await?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

/// This process's claim on its temporary files (how they are used: `upload_tmp.rs`).
#[derive(Debug)]
pub(crate) struct UploadOwner {
    pub(crate) id: String,
    /// The open, locked lock file, made at the first upload.
    pub(crate) lock: std::sync::Mutex<Option<std::fs::File>>,
}

impl UploadOwner {
    pub(crate) fn new() -> Result<std::sync::Arc<UploadOwner>, RegistryError> {
        Ok(std::sync::Arc::new(UploadOwner {
            id: new_id()?,
            lock: std::sync::Mutex::new(None),
        }))
    }
}
