//! The one error type of the registry.

/// Everything that can go wrong in the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A filesystem operation failed.
    #[error("I/O error while {what}: {source}")]
    Io {
        /// What we were doing.
        what: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An upload exceeded the size limit; `at` is the byte offset at which it was cut off.
    #[error("artifact exceeds the limit of {limit} bytes (cut off at byte {at})")]
    TooLarge {
        /// The configured limit.
        limit: u64,
        /// Bytes read when the limit was exceeded.
        at: u64,
    },
    /// An upload would take a submission past its total (`ArtifactLimits::max_submission_total`).
    #[error(
        "this submission already holds {used} bytes of uploads and may hold {limit}: replace a file under its name, or ask the lab to raise the limit (--max-submission-gib)"
    )]
    SubmissionFull {
        /// Bytes already held (files of other names).
        used: u64,
        /// The limit.
        limit: u64,
    },
    /// A caller-supplied value was rejected (bad file name, e-mail, role …).
    #[error("invalid {field}: {why}")]
    Invalid {
        /// Which input.
        field: &'static str,
        /// Why it was rejected.
        why: &'static str,
    },
    /// The database URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported database URL (expected sqlite: or postgres:)")]
    UnsupportedUrl,
    /// Hashing or parsing a password hash failed.
    #[error("password hashing failed")]
    PasswordHash,
    /// The operating system's random generator failed.
    #[error("random number generator failed")]
    Random,
    /// A blocking background task panicked or was cancelled.
    #[error("background task failed")]
    Join,
    /// An upload was refused by its checks (type, archive bomb, path names …), or could not
    /// be checked; the message names the file and offset.
    #[error("{name}: {source}")]
    Upload {
        /// The uploaded file's name.
        name: String,
        /// What the checks found.
        source: crate::bundle::BundleError,
    },
    /// The request body could not be read to its end: the client went away or sent garbage.
    #[error("the upload was cut off: {0}")]
    BodyRead(std::io::Error),
    /// The action is not possible in the object's current state.
    #[error("{0}")]
    Refused(String),
    /// An account names a manufacturer that does not exist: it is never created on the side.
    #[error(
        "no manufacturer named {0:?}: create it first (`phonecert user manufacturer --name NAME`, or as an administrator or engineer in the registry)"
    )]
    UnknownManufacturer(String),
    /// No such object.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The database holds a value this version does not understand.
    #[error("unexpected value in column {column}")]
    Corrupt {
        /// The column.
        column: &'static str,
    },
}

impl RegistryError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { what, source }
    }

    /// True when the database reported a UNIQUE/PRIMARY KEY violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}
