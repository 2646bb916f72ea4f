//! The durable job queue: runs are rows; a worker claims one with a lease it must keep renewing.
//!
//! Guarantees: a claim is a single atomic UPDATE, so two workers never hold the same run; a run
//! whose lease expired (its worker crashed or hung) is claimed again with `attempts` incremented,
//! so it is never lost; heartbeat and finish only succeed for the current lease owner, so a worker
//! that lost its lease learns so at its next heartbeat and must stop.

use std::time::Duration;

use serde::Serialize;

use crate::{Backend, RegistryError, Store, new_id, unix_now};

/// Claims after which a run that keeps losing its lease is failed rather than retried.
pub const MAX_ATTEMPTS: i64 = 5;
/// Longest stored error message.
pub const MAX_ERROR_LEN: usize = 4096;
/// Progress is in permille.
pub const PROGRESS_MAX: i64 = 1000;

/// State of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Waiting for a worker.
    Queued,
    /// Held by a worker under a lease.
    Running,
    /// Finished successfully.
    Done,
    /// Finished with an error, or gave up after too many lost leases.
    Failed,
}

impl RunState {
    /// The name stored in the database and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<RunState, RegistryError> {
        Ok(match s {
            "queued" => RunState::Queued,
            "running" => RunState::Running,
            "done" => RunState::Done,
            "failed" => RunState::Failed,
            _ => {
                return Err(RegistryError::Corrupt {
                    column: "runs.state",
                });
            }
        })
    }
}

/// An analysis run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Run {
    /// Random id.
    pub id: String,
    /// The submission analysed.
    pub submission_id: String,
    /// Current state.
    #[sqlx(try_from = "String")]
    pub state: RunState,
    /// Progress in permille.
    pub progress: i64,
    /// How many times the run was claimed.
    pub attempts: i64,
    /// Worker holding the lease.
    pub lease_owner: Option<String>,
    /// Lease expiry (unix seconds).
    pub lease_until: Option<i64>,
    /// Error message of a failed run.
    pub error: Option<String>,
    /// Enqueue time.
    pub created_at: i64,
    /// Time of the latest claim.
    pub started_at: Option<i64>,
    /// Completion time.
    pub finished_at: Option<i64>,
    /// The embedded requirement catalogue it audits against (`pc_certify::EMBEDDED`).
    pub catalogue: String,
}

pub(crate) const RUN_COLUMNS: &str = "id, submission_id, state, progress, attempts, lease_owner, lease_until, \
                           error, created_at, started_at, finished_at, catalogue";

/// For `#[sqlx(try_from = "String")]`: the column is read as text.
impl TryFrom<String> for RunState {
    type Error = RegistryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RunState::parse(&s)
    }
}

fn lease_secs(lease: Duration) -> i64 {
    i64::try_from(lease.as_secs()).unwrap_or(i64::MAX).max(1)
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default().to_owned()
}

impl Store {
    /// Queues a run of a submission; returns the run id.
    pub async fn enqueue_run(&self, submission_id: &str) -> Result<String, RegistryError> {
        let id = new_id()?;
        sqlx::query(
            "INSERT INTO runs (id, submission_id, state, created_at) VALUES ($1, $2, 'queued', $3)",
        )
        .bind(id.clone())
        .bind(submission_id.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Reads a run.
    pub async fn get_run(&self, id: &str) -> Result<Option<Run>, RegistryError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Claims the oldest claimable run for `worker_id` with a lease of `lease` (at least 1 s).
    pub async fn claim_next_run(
        &self,
        worker_id: &str,
        lease: Duration,
    ) -> Result<Option<Run>, RegistryError> {
        self.claim_next_run_at(worker_id, lease, unix_now()).await
    }

    /// [`Store::claim_next_run`] with an explicit clock (unix seconds), for tests and replays.
    pub async fn claim_next_run_at(
        &self,
        worker_id: &str,
        lease: Duration,
        now: i64,
    ) -> Result<Option<Run>, RegistryError> {
        // Runs that lost their lease too often are failed instead of being retried forever.
        sqlx::query(
            "UPDATE runs SET state = 'failed', error = 'lease lost too many times', \
                 finished_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE state = 'running' AND lease_until < $1 AND attempts >= $2",
        )
        .bind(now)
        .bind(MAX_ATTEMPTS)
        .execute(&self.pool)
        .await?;
        // The claim is one UPDATE: SQLite serialises writers; PostgreSQL locks the chosen row and
        // SKIP LOCKED lets concurrent workers pick different rows instead of colliding. The outer
        // WHERE repeats the condition so a row changed meanwhile is never taken.
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let claimable = "(state = 'queued' OR (state = 'running' AND lease_until < $3))";
        let sql = format!(
            "UPDATE runs SET state = 'running', lease_owner = $1, lease_until = $2, \
                 attempts = attempts + 1, started_at = $3, progress = 0 \
             WHERE id = (SELECT id FROM runs WHERE {claimable} AND attempts < $4 \
                         ORDER BY created_at, id LIMIT 1{lock}) \
               AND {claimable} \
             RETURNING {RUN_COLUMNS}"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(worker_id.to_owned())
            .bind(now.saturating_add(lease_secs(lease)))
            .bind(now)
            .bind(MAX_ATTEMPTS)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records progress (permille, clamped) and renews the lease. `Ok(false)` means the worker
    /// no longer holds the run and must stop working on it.
    pub async fn heartbeat(
        &self,
        run_id: &str,
        worker_id: &str,
        progress: i64,
        lease: Duration,
    ) -> Result<bool, RegistryError> {
        let now = unix_now();
        let n = sqlx::query(
            "UPDATE runs SET progress = $1, lease_until = $2 \
             WHERE id = $3 AND lease_owner = $4 AND state = 'running' AND lease_until >= $5",
        )
        .bind(progress.clamp(0, PROGRESS_MAX))
        .bind(now.saturating_add(lease_secs(lease)))
        .bind(run_id.to_owned())
        .bind(worker_id.to_owned())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Completes a run held by `worker_id`: `Ok(())` → done, `Err(message)` → failed.
    /// `Ok(false)` means the worker did not hold the run (lease lost): nothing was changed.
    pub async fn finish_run(
        &self,
        run_id: &str,
        worker_id: &str,
        outcome: Result<(), &str>,
    ) -> Result<bool, RegistryError> {
        let (state, error, progress) = match outcome {
            Ok(()) => ("done", None, PROGRESS_MAX),
            Err(e) => ("failed", Some(truncate(e, MAX_ERROR_LEN)), 0),
        };
        let n = sqlx::query(
            "UPDATE runs SET state = $1, error = $2, finished_at = $3, lease_owner = NULL, \
                 lease_until = NULL, progress = CASE WHEN $1 = 'done' THEN $4 ELSE progress END \
             WHERE id = $5 AND lease_owner = $6 AND state = 'running'",
        )
        .bind(state)
        .bind(error)
        .bind(unix_now())
        .bind(progress)
        .bind(run_id.to_owned())
        .bind(worker_id.to_owned())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
