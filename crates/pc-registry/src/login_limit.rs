//! Login throttling: failed logins slow down the address they come from, never the account's
//! owner elsewhere. A per-account lock (the earlier policy: five failures locked any account,
//! the administrator's too, for everyone) lets a stranger lock the owner out; so failures are
//! weighed per (client address, account) and per client address only, each with exponential
//! backoff, and a login from another address is never refused because of them.
//!
//! The first [`FREE_FAILURES_PER_ACCOUNT`] failures of a (client, account) pair cost nothing;
//! from then on the pair's next attempt must wait `2^(failures − free)` seconds after its latest
//! failure, up to [`MAX_LOGIN_DELAY_SECS`]. The same holds per client address over all accounts
//! (password spraying) from [`FREE_FAILURES_PER_CLIENT`] on. A refused attempt is not checked
//! (the password is not even hashed, so waiting reveals nothing) and does not count. A success
//! forgets the pair's failures only: the owner logging in elsewhere does not reset a stranger's
//! backoff. Failures older than [`LOGIN_WINDOW_SECS`] are forgotten.
//!
//! A client is its IPv4 address, or its IPv6 /64 prefix (one subscriber line gets a whole /64,
//! so single IPv6 addresses would give an attacker 2^64 fresh starts). Every attempt is written
//! before its password is checked, so parallel attempts see each other: a burst cannot get more
//! than the free attempts through at once.

use std::net::IpAddr;

use crate::store::MAX_EMAIL_LEN;
use crate::{RegistryError, Store, new_id, unix_now};

/// Failures older than this are forgotten.
pub const LOGIN_WINDOW_SECS: i64 = 3600;
/// Failed logins of one (client, account) pair before the pair is slowed down.
pub const FREE_FAILURES_PER_ACCOUNT: i64 = 3;
/// Failed logins of one client over all accounts before the client is slowed down.
pub const FREE_FAILURES_PER_CLIENT: i64 = 20;
/// Longest wait the backoff asks for.
pub const MAX_LOGIN_DELAY_SECS: i64 = 900;
/// Longest stored client key (an IPv6 /64 prefix is at most 24 characters).
const MAX_CLIENT_KEY_LEN: usize = 64;

/// Seconds to wait after the latest of `failures` failures when `free` of them cost nothing.
pub fn backoff_secs(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(30);
    (1i64 << doublings).min(MAX_LOGIN_DELAY_SECS)
}

/// The key failures of a client are counted under: an IPv4 address as is, an IPv6 address by
/// its /64 prefix (IPv4-mapped IPv6 addresses as the IPv4 address). Not an address ("local",
/// in-process requests): the text itself, bounded.
pub fn client_key(client: &str) -> String {
    match client.parse::<IpAddr>() {
        Ok(ip) => ip_key(ip),
        Err(_) => client.chars().take(MAX_CLIENT_KEY_LEN).collect(),
    }
}

/// [`client_key`] of an address.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The account name failures are counted under: the same for recording, checking and
/// clearing, and bounded (longer names are no account's, but still count as one).
fn account_key(email: &str) -> String {
    email
        .trim()
        .to_lowercase()
        .chars()
        .take(MAX_EMAIL_LEN)
        .collect()
}

/// A login attempt let through: recorded as a failure until [`Store::login_succeeded`].
#[derive(Debug)]
#[must_use = "a successful login must clear the pair's failures"]
pub struct LoginAttempt {
    account: String,
    client: String,
}

/// Count and latest time of the failures matching a query.
async fn failures(
    store: &Store,
    sql: &'static str,
    binds: &[&str],
    since: i64,
) -> Result<(i64, Option<i64>), RegistryError> {
    let mut q = sqlx::query_as(sql);
    for b in binds {
        q = q.bind((*b).to_owned());
    }
    Ok(q.bind(since).fetch_one(&store.pool).await?)
}

impl Store {
    /// Records a login attempt of `email` from `client` (a [`client_key`]) before its password
    /// is checked. `Ok(Err(seconds))`: refused, try again after that long (nothing recorded).
    pub async fn begin_login(
        &self,
        email: &str,
        client: &str,
    ) -> Result<Result<LoginAttempt, i64>, RegistryError> {
        self.begin_login_at(email, client, unix_now()).await
    }

    /// [`Store::begin_login`] with an explicit clock (unix seconds), for tests.
    pub async fn begin_login_at(
        &self,
        email: &str,
        client: &str,
        now: i64,
    ) -> Result<Result<LoginAttempt, i64>, RegistryError> {
        let account = account_key(email);
        let client: String = client.chars().take(MAX_CLIENT_KEY_LEN).collect();
        let since = now.saturating_sub(LOGIN_WINDOW_SECS);
        sqlx::query("DELETE FROM login_failures WHERE at <= $1")
            .bind(since)
            .execute(&self.pool)
            .await?;
        let id = new_id()?;
        sqlx::query("INSERT INTO login_failures (id, email, client, at) VALUES ($1, $2, $3, $4)")
            .bind(id.clone())
            .bind(account.clone())
            .bind(client.clone())
            .bind(now)
            .execute(&self.pool)
            .await?;
        // Everyone else's attempts, this one's excluded: it is the one being decided.
        let (pair_n, pair_last) = failures(
            self,
            "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures \
             WHERE id <> $1 AND client = $2 AND email = $3 AND at > $4",
            &[&id, &client, &account],
            since,
        )
        .await?;
        let (client_n, client_last) = failures(
            self,
            "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures \
             WHERE id <> $1 AND client = $2 AND at > $3",
            &[&id, &client],
            since,
        )
        .await?;
        let until = |last: Option<i64>, n: i64, free: i64| {
            last.map_or(0, |t| t.saturating_add(backoff_secs(n, free)))
        };
        let allowed_at = until(pair_last, pair_n, FREE_FAILURES_PER_ACCOUNT).max(until(
            client_last,
            client_n,
            FREE_FAILURES_PER_CLIENT,
        ));
        if allowed_at > now {
            sqlx::query("DELETE FROM login_failures WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
            return Ok(Err(allowed_at - now));
        }
        Ok(Ok(LoginAttempt { account, client }))
    }

    /// The attempt's password was right: forgets the failures of its (client, account) pair,
    /// and only those.
    pub async fn login_succeeded(&self, attempt: LoginAttempt) -> Result<(), RegistryError> {
        sqlx::query("DELETE FROM login_failures WHERE client = $1 AND email = $2")
            .bind(attempt.client)
            .bind(attempt.account)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
