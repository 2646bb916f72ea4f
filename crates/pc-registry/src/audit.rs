//! Append-only audit log with a hash chain. The API offers append, read and verify only; there is
//! deliberately no update or delete. Edits made behind the API's back (raw SQL) break the chain and
//! are reported by [`Store::verify_audit_chain`].

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{RegistryError, Store, new_id, unix_now};

/// Longest stored actor/action/object field.
pub const MAX_AUDIT_FIELD_LEN: usize = 256;
/// Longest stored detail.
pub const MAX_AUDIT_DETAIL_LEN: usize = 16 * 1024;
/// Retries when a concurrent writer took the same sequence number.
const APPEND_RETRIES: usize = 32;
/// The predecessor hash of the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Most entries [`Store::audit_entries`] returns at once.
pub const MAX_AUDIT_PAGE: i64 = 1000;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    /// Position in the log, 1-based, gap-free.
    pub seq: i64,
    /// Random id.
    pub id: String,
    /// Time (unix seconds).
    pub at: i64,
    /// Who (user id, `system`, worker id).
    pub actor: String,
    /// What (`certificate.revoke` …).
    pub action: String,
    /// On what (object id).
    pub object: String,
    /// Free text or JSON.
    pub detail: String,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// Hash of this entry (over prev_hash and all fields).
    pub hash: String,
}

/// Result of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum AuditCheck {
    /// Every entry is in sequence and hashes correctly; `entries` were checked.
    Intact {
        /// Number of entries.
        entries: u64,
    },
    /// The first entry (by sequence) that is missing, out of place or altered.
    Broken {
        /// Sequence number where the chain breaks.
        at_seq: i64,
    },
}

fn entry_hash(prev: &str, seq: i64, id: &str, at: i64, fields: [&str; 4]) -> String {
    let mut h = Sha256::new();
    // Length-prefix each field so no two different entries serialise alike.
    let mut put = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    put(prev.as_bytes());
    put(&seq.to_be_bytes());
    put(id.as_bytes());
    put(&at.to_be_bytes());
    for f in fields {
        put(f.as_bytes());
    }
    hex::encode(h.finalize())
}

fn bounded(field: &'static str, s: &str, max: usize) -> Result<(), RegistryError> {
    if s.len() > max {
        return Err(RegistryError::Invalid {
            field,
            why: "too long",
        });
    }
    Ok(())
}

impl Store {
    /// Appends an entry; returns its sequence number.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        detail: &str,
    ) -> Result<i64, RegistryError> {
        bounded("audit actor", actor, MAX_AUDIT_FIELD_LEN)?;
        bounded("audit action", action, MAX_AUDIT_FIELD_LEN)?;
        bounded("audit object", object, MAX_AUDIT_FIELD_LEN)?;
        bounded("audit detail", detail, MAX_AUDIT_DETAIL_LEN)?;
        let mut last_err = None;
        for _ in 0..APPEND_RETRIES {
            let prev: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?;
            let (prev_seq, prev_hash) = prev.unwrap_or_else(|| (0, GENESIS.to_owned()));
            let seq = prev_seq.checked_add(1).ok_or(RegistryError::Corrupt {
                column: "audit_log.seq",
            })?;
            let id = new_id()?;
            let at = unix_now();
            let hash = entry_hash(&prev_hash, seq, &id, at, [actor, action, object, detail]);
            let res = sqlx::query(
                "INSERT INTO audit_log (seq, id, at, actor, action, object, detail, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(seq)
            .bind(id)
            .bind(at)
            .bind(actor.to_owned())
            .bind(action.to_owned())
            .bind(object.to_owned())
            .bind(detail.to_owned())
            .bind(prev_hash)
            .bind(hash)
            .execute(&self.pool)
            .await;
            match res.map_err(RegistryError::from) {
                Ok(_) => return Ok(seq),
                // Another writer appended seq first: read the new tail and try again.
                Err(e) if e.is_unique_violation() => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(RegistryError::Corrupt {
            column: "audit_log.seq",
        }))
    }

    /// Up to `limit` (capped at [`MAX_AUDIT_PAGE`]) entries with `seq > after`, in order.
    pub async fn audit_entries(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT seq, id, at, actor, action, object, detail, prev_hash, hash FROM audit_log \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit.clamp(0, MAX_AUDIT_PAGE))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Walks the whole log checking sequence continuity and every hash.
    pub async fn verify_audit_chain(&self) -> Result<AuditCheck, RegistryError> {
        let mut prev_hash = GENESIS.to_owned();
        let mut expected: i64 = 1;
        let mut count: u64 = 0;
        loop {
            let page = self
                .audit_entries(expected.saturating_sub(1), MAX_AUDIT_PAGE)
                .await?;
            if page.is_empty() {
                return Ok(AuditCheck::Intact { entries: count });
            }
            for e in page {
                let fields = [
                    e.actor.as_str(),
                    e.action.as_str(),
                    e.object.as_str(),
                    e.detail.as_str(),
                ];
                if e.seq != expected
                    || e.prev_hash != prev_hash
                    || entry_hash(&prev_hash, e.seq, &e.id, e.at, fields) != e.hash
                {
                    return Ok(AuditCheck::Broken { at_seq: expected });
                }
                prev_hash = e.hash;
                expected = expected.saturating_add(1);
                count = count.saturating_add(1);
            }
        }
    }
}
