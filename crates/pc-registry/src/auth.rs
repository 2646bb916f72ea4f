//! Accounts at the door: browser sessions (with their CSRF token) and scoped API tokens for
//! manufacturers' CI (login throttling is [`crate::login_limit`]). Only SHA-256 digests of
//! session cookies and tokens are stored, so a copy of the database does not let anyone in.

use std::str::FromStr;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::normalise_email;
use crate::{RegistryError, Role, Store, User, new_id, unix_now};

/// How long a browser session lasts.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;
/// Prefix of API tokens, so leaked ones are recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "pct_";

/// What an API token may do, within what its account's role allows. No token manages tokens or
/// opens the pages: those take a logged-in session, so a leaked token cannot make itself a
/// successor or act in a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// A manufacturer's CI (the default): upload files into a submission, start its runs and
    /// follow them (a run's state and outcome); nothing else — no listing, no reports, no
    /// new submissions.
    Ci,
    /// Read submissions, runs and reports only.
    Read,
    /// Every API action the account's role allows (reviewing, certifying, administration),
    /// tokens excepted.
    Full,
}

impl Scope {
    /// The name stored in the database and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ci => "ci",
            Scope::Read => "read",
            Scope::Full => "full",
        }
    }
}

/// For `#[sqlx(try_from = "String")]`.
impl TryFrom<String> for Scope {
    type Error = RegistryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for Scope {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ci" => Scope::Ci,
            "read" => Scope::Read,
            "full" => Scope::Full,
            _ => {
                return Err(RegistryError::Invalid {
                    field: "scope",
                    why: "one of ci, read, full",
                });
            }
        })
    }
}

/// A logged-in browser session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// Who.
    #[sqlx(flatten)]
    pub user: User,
    /// The token every state-changing request of this session must carry.
    #[sqlx(rename = "csrf_token")]
    pub csrf: String,
}

/// An API token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    /// Id (to revoke it).
    pub id: String,
    /// What it is for.
    pub label: String,
    /// What it may do.
    #[sqlx(try_from = "String")]
    pub scope: Scope,
    /// Created (unix seconds).
    pub created_at: i64,
    /// Expiry, if any.
    pub expires_at: Option<i64>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
}

/// An account as listed for administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// The account.
    #[serde(flatten)]
    pub user: User,
    /// Its manufacturer's name.
    pub manufacturer: Option<String>,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, RegistryError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|_| RegistryError::Random)?;
    Ok(hex::encode(buf))
}

/// A live token's account and scope.
#[derive(sqlx::FromRow)]
struct TokenOwner {
    #[sqlx(flatten)]
    user: User,
    #[sqlx(try_from = "String")]
    scope: Scope,
}

/// An account row of the administrators' list (`disabled` is an integer in both engines).
#[derive(sqlx::FromRow)]
struct UserRow {
    #[sqlx(flatten)]
    user: User,
    manufacturer: Option<String>,
    disabled: i64,
}

/// Compares in time independent of where the strings differ.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Store {
    /// Opens a session for a user; returns the cookie value (shown once) and the CSRF token.
    pub async fn create_session(&self, user: &User) -> Result<(String, String), RegistryError> {
        let cookie = random_hex(32)?;
        let csrf = random_hex(32)?;
        let now = unix_now();
        sqlx::query(
            "INSERT INTO sessions (id_sha256, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sha256_hex(&cookie))
        .bind(user.id.clone())
        .bind(csrf.clone())
        .bind(now)
        .bind(now.saturating_add(SESSION_TTL_SECS))
        .execute(&self.pool)
        .await?;
        Ok((cookie, csrf))
    }

    /// The live session of a cookie value (not expired, account not disabled).
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, RegistryError> {
        if cookie.len() != 64 {
            return Ok(None);
        }
        Ok(sqlx::query_as(
            "SELECT u.id, u.email, u.role, u.manufacturer_id, s.csrf_token FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.id_sha256 = $1 AND s.expires_at > $2 AND u.disabled = 0",
        )
        .bind(sha256_hex(cookie))
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Ends a session (logout). Expired sessions of everyone are swept at the same time.
    pub async fn delete_session(&self, cookie: &str) -> Result<(), RegistryError> {
        sqlx::query("DELETE FROM sessions WHERE id_sha256 = $1 OR expires_at <= $2")
            .bind(sha256_hex(cookie))
            .bind(unix_now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Creates an API token for a user; returns its id and the secret (shown once).
    pub async fn create_token(
        &self,
        user_id: &str,
        label: &str,
        scope: Scope,
        expires_at: Option<i64>,
    ) -> Result<(String, String), RegistryError> {
        let label = crate::store::check_name("token label", label)?;
        let id = new_id()?;
        let secret = format!("{TOKEN_PREFIX}{}", random_hex(32)?);
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, token_sha256, label, scope, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.clone())
        .bind(user_id.to_owned())
        .bind(sha256_hex(&secret))
        .bind(label.to_owned())
        .bind(scope.as_str())
        .bind(unix_now())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok((id, secret))
    }

    /// The account an API token belongs to and the token's scope, if the token is live.
    pub async fn token_user(&self, secret: &str) -> Result<Option<(User, Scope)>, RegistryError> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let row: Option<TokenOwner> = sqlx::query_as(
            "SELECT u.id, u.email, u.role, u.manufacturer_id, t.scope FROM api_tokens t \
             JOIN users u ON u.id = t.user_id \
             WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL \
               AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled = 0",
        )
        .bind(sha256_hex(secret))
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|t| (t.user, t.scope)))
    }

    /// A user's tokens, newest first.
    pub async fn list_tokens(&self, user_id: &str) -> Result<Vec<TokenInfo>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT id, label, scope, created_at, expires_at, revoked_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(user_id.to_owned())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes one of a user's tokens; false if it is not theirs or already revoked.
    pub async fn revoke_token(&self, user_id: &str, token_id: &str) -> Result<bool, RegistryError> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(unix_now())
        .bind(token_id.to_owned())
        .bind(user_id.to_owned())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// An account by id.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, RegistryError> {
        Ok(
            sqlx::query_as("SELECT id, email, role, manufacturer_id FROM users WHERE id = $1")
                .bind(id.to_owned())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Every account, by e-mail.
    pub async fn list_users(&self) -> Result<Vec<UserInfo>, RegistryError> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT u.id, u.email, u.role, u.manufacturer_id, u.disabled, m.name AS manufacturer \
             FROM users u LEFT JOIN manufacturers m ON m.id = u.manufacturer_id \
             ORDER BY u.email LIMIT 10000",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| UserInfo {
                user: r.user,
                manufacturer: r.manufacturer,
                disabled: r.disabled != 0,
            })
            .collect())
    }

    /// Creates the first administrator if there is no account at all (first start of a lab);
    /// returns true if it did.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        password: &str,
    ) -> Result<bool, RegistryError> {
        let _ = normalise_email(email)?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        if n > 0 {
            return Ok(false);
        }
        self.create_user(email, password, Role::Admin).await?;
        Ok(true)
    }
}
