//! The certification workflow in the database: submissions and their artifacts, what runs
//! found, reviewers' overrides and decisions, and certificates (issued, revoked, superseded).

use serde::Serialize;

use crate::store::check_name;
use crate::{RegistryError, Store, SubmissionState, new_id, unix_now};

/// Most rows a staff listing returns.
pub const MAX_ROWS: i64 = 5000;
/// Longest reason or comment accepted.
pub const MAX_REASON_LEN: usize = 4000;

/// A manufacturer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Manufacturer {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A submission with what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Submission {
    /// Id.
    pub id: String,
    /// Where it is in the workflow.
    #[sqlx(try_from = "String")]
    pub state: SubmissionState,
    /// The manufacturer's id (for access checks).
    pub manufacturer_id: String,
    /// Manufacturer name.
    pub manufacturer: String,
    /// Device model id.
    pub model_id: String,
    /// Device model name.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// Build fingerprint as declared.
    pub fingerprint: String,
    /// Who created it.
    pub submitted_by: Option<String>,
    /// Created (unix seconds).
    pub created_at: i64,
}

/// A file of a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SubmissionArtifact {
    /// File name within the submission.
    pub name: String,
    /// Content hash.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Media type.
    pub media_type: String,
}

/// One requirement's result in a run, with the override that applies to it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ResultRow {
    /// Requirement id.
    pub requirement: String,
    /// Title.
    pub title: String,
    /// mandatory / recommended …
    pub level: String,
    /// The check's verdict.
    pub automatic: String,
    /// The check's summary.
    pub summary: String,
    /// Evidence references (JSON array).
    pub evidence: String,
}

/// What a finished run found, recorded together with its completion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResults {
    /// Per-requirement results.
    pub results: Vec<ResultRow>,
    /// Output files (name, artifact sha256), already in the artifact store.
    pub outputs: Vec<(String, String)>,
    /// Findings: kind, severity, JSON detail.
    pub findings: Vec<(String, String, String)>,
    /// Overall outcome (pass, fail, inconclusive) and a summary line.
    pub outcome: Option<(String, String)>,
}

/// A reviewer's override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Override {
    /// Id.
    pub id: String,
    /// The run reviewed.
    pub run_id: String,
    /// Requirement.
    pub requirement: String,
    /// Verdict set.
    pub verdict: String,
    /// Why.
    pub reason: String,
    /// Reviewer's e-mail.
    #[sqlx(rename = "email")]
    pub reviewer: String,
    /// When (unix seconds).
    pub created_at: i64,
}

/// A reviewer's decision on a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ReviewDecision {
    /// approve, reject, changes.
    pub decision: String,
    /// Comment.
    pub comment: String,
    /// Reviewer's e-mail.
    #[sqlx(rename = "email")]
    pub reviewer: String,
    /// Run reviewed.
    pub run_id: Option<String>,
    /// When.
    pub created_at: i64,
}

/// A certificate as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CertificateRecord {
    /// Registry number.
    pub number: String,
    /// Serial in the signed payload.
    pub serial: Option<String>,
    /// issued, revoked, superseded.
    pub state: String,
    /// Why revoked or superseded.
    pub reason: Option<String>,
    /// Submission.
    pub submission_id: String,
    /// Run whose report it rests on.
    pub run_id: Option<String>,
    /// Manufacturer name.
    pub manufacturer: String,
    /// The manufacturer's id (for access checks).
    pub manufacturer_id: String,
    /// Model name.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// The signed certificate (JWS, flattened JSON).
    pub jws: String,
    /// Expiry (`YYYY-MM-DDTHH:MM:SSZ`).
    pub not_after: String,
    /// Issue time (unix seconds).
    pub issued_at: i64,
    /// Number of the certificate that superseded this one.
    pub superseded_by: Option<String>,
}

/// What [`Store::insert_certificate`] records.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    /// Registry number.
    pub number: &'a str,
    /// Payload serial.
    pub serial: &'a str,
    /// Submission.
    pub submission_id: &'a str,
    /// Run.
    pub run_id: &'a str,
    /// JWS text.
    pub jws: &'a str,
    /// Expiry.
    pub not_after: &'a str,
    /// Issuer's user id.
    pub issued_by: &'a str,
}

const SUBMISSION_SELECT: &str = "SELECT s.id, s.state, s.submitted_by, s.created_at, \
        f.version AS firmware, f.fingerprint, d.id AS model_id, d.name AS model, \
        m.id AS manufacturer_id, m.name AS manufacturer \
     FROM submissions s \
     JOIN firmware_builds f ON f.id = s.firmware_build_id \
     JOIN device_models d ON d.id = f.device_model_id \
     JOIN manufacturers m ON m.id = d.manufacturer_id";

const CERT_SELECT: &str = "SELECT c.number, c.serial, c.state, c.reason, c.submission_id, \
        c.run_id, c.jws, c.not_after, c.issued_at, sup.number AS superseded_by, \
        f.version AS firmware, d.name AS model, m.id AS manufacturer_id, m.name AS manufacturer \
     FROM certificates c \
     LEFT JOIN certificates sup ON sup.id = c.superseded_by \
     JOIN submissions s ON s.id = c.submission_id \
     JOIN firmware_builds f ON f.id = s.firmware_build_id \
     JOIN device_models d ON d.id = f.device_model_id \
     JOIN manufacturers m ON m.id = d.manufacturer_id";

/// Moves submission `id` to `to` if it is in one of the states `from`, in one guarded UPDATE (so
/// two requests at once cannot both move it); true if it moved. The states are the enum's own
/// names, so writing them into the statement is safe.
async fn move_submission<'e, E>(
    executor: E,
    id: &str,
    from: &[SubmissionState],
    to: SubmissionState,
) -> Result<bool, RegistryError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    if from.is_empty() {
        return Ok(false);
    }
    let from = from
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("UPDATE submissions SET state = $1 WHERE id = $2 AND state IN ({from})");
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to.as_str())
        .bind(id.to_owned())
        .execute(executor)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Refuses empty, over-long or control-character reasons.
pub fn check_reason(field: &'static str, s: &str) -> Result<String, RegistryError> {
    let t = s.trim();
    if t.is_empty() || t.len() > MAX_REASON_LEN || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(RegistryError::Invalid {
            field,
            why: "required, at most 4000 bytes, no control characters",
        });
    }
    Ok(t.to_owned())
}

impl Store {
    /// Every manufacturer, by name.
    pub async fn list_manufacturers(&self) -> Result<Vec<Manufacturer>, RegistryError> {
        Ok(
            sqlx::query_as("SELECT id, name FROM manufacturers ORDER BY name LIMIT $1")
                .bind(MAX_ROWS)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A manufacturer by id.
    pub async fn manufacturer(&self, id: &str) -> Result<Option<Manufacturer>, RegistryError> {
        self.manufacturer_where("id", id).await
    }

    /// A manufacturer by exact name.
    pub async fn manufacturer_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Manufacturer>, RegistryError> {
        self.manufacturer_where("name", name.trim()).await
    }

    async fn manufacturer_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Manufacturer>, RegistryError> {
        let sql = format!("SELECT id, name FROM manufacturers WHERE {column} = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(value.to_owned())
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn find_or_create(
        &self,
        select: &'static str,
        keys: [&str; 2],
        create: impl AsyncFnOnce() -> Result<String, RegistryError>,
    ) -> Result<String, RegistryError> {
        let find = async || -> Result<Option<String>, RegistryError> {
            Ok(sqlx::query_scalar(select)
                .bind(keys[0].to_owned())
                .bind(keys[1].to_owned())
                .fetch_optional(&self.pool)
                .await?)
        };
        if let Some(id) = find().await? {
            return Ok(id);
        }
        match create().await {
            Ok(id) => Ok(id),
            // Another request created it meanwhile: use theirs.
            Err(e) if e.is_unique_violation() => {
                find().await?.ok_or(RegistryError::Corrupt { column: "id" })
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a submission (state `draft`) for a manufacturer's model and firmware version,
    /// creating the model and the firmware build on first use.
    pub async fn create_submission_for(
        &self,
        manufacturer_id: &str,
        model: &str,
        firmware: &str,
        fingerprint: &str,
        submitted_by: &str,
    ) -> Result<String, RegistryError> {
        let model = check_name("model", model)?;
        let firmware = check_name("firmware version", firmware)?;
        if fingerprint.len() > 512 || fingerprint.chars().any(char::is_control) {
            return Err(RegistryError::Invalid {
                field: "build fingerprint",
                why: "at most 512 bytes, no control characters",
            });
        }
        if self.manufacturer(manufacturer_id).await?.is_none() {
            return Err(RegistryError::Invalid {
                field: "manufacturer",
                why: "unknown manufacturer",
            });
        }
        let model_id = self
            .find_or_create(
                "SELECT id FROM device_models WHERE manufacturer_id = $1 AND name = $2",
                [manufacturer_id, model],
                async || self.create_model(manufacturer_id, model).await,
            )
            .await?;
        let build_id = self
            .find_or_create(
                "SELECT id FROM firmware_builds WHERE device_model_id = $1 AND version = $2",
                [&model_id, firmware],
                async || {
                    self.create_firmware_build(&model_id, firmware, fingerprint.trim())
                        .await
                },
            )
            .await?;
        let id = new_id()?;
        sqlx::query(
            "INSERT INTO submissions (id, firmware_build_id, submitted_by, state, created_at) \
             VALUES ($1, $2, $3, 'draft', $4)",
        )
        .bind(id.clone())
        .bind(build_id)
        .bind(submitted_by.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// A submission.
    pub async fn submission(&self, id: &str) -> Result<Option<Submission>, RegistryError> {
        let sql = format!("{SUBMISSION_SELECT} WHERE s.id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Submissions, newest first; only one manufacturer's when `manufacturer_id` is given.
    pub async fn list_submissions(
        &self,
        manufacturer_id: Option<&str>,
    ) -> Result<Vec<Submission>, RegistryError> {
        let sql = format!(
            "{SUBMISSION_SELECT} WHERE ($1 IS NULL OR m.id = $1) \
             ORDER BY s.created_at DESC, s.id LIMIT $2"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(manufacturer_id.map(str::to_owned))
            .bind(MAX_ROWS)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Moves a submission to `state`, if [`SubmissionState::may_become`] allows it from the
    /// state it is in; refused otherwise.
    pub async fn set_submission_state(
        &self,
        id: &str,
        state: SubmissionState,
    ) -> Result<(), RegistryError> {
        let moved =
            move_submission(&self.pool, id, &SubmissionState::sources_of(state), state).await?;
        if moved {
            return Ok(());
        }
        match self.submission(id).await? {
            Some(s) => Err(RegistryError::Refused(format!(
                "the submission is {}: it cannot become {state}",
                s.state
            ))),
            None => Err(RegistryError::NotFound("submission")),
        }
    }

    /// A submission's files, by name.
    pub async fn submission_artifacts(
        &self,
        id: &str,
    ) -> Result<Vec<SubmissionArtifact>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT sa.name, a.sha256, a.size, a.media_type FROM submission_artifacts sa \
             JOIN artifacts a ON a.sha256 = sa.artifact_sha256 \
             WHERE sa.submission_id = $1 ORDER BY sa.name",
        )
        .bind(id.to_owned())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Queues a run of a submission for a user and marks the submission as being tested.
    /// `Ok(None)` when a run of the submission is already queued or running: the check and
    /// the insert are one statement, so two requests at once cannot both queue one.
    pub async fn request_run(
        &self,
        submission_id: &str,
        user_id: &str,
        catalogue: &str,
    ) -> Result<Option<String>, RegistryError> {
        if let Some(s) = self.submission(submission_id).await?
            && !s.state.may_become(SubmissionState::Testing)
        {
            return Err(RegistryError::Refused(format!(
                "the submission is {}",
                s.state
            )));
        }
        let id = new_id()?;
        let n = sqlx::query(
            "INSERT INTO runs (id, submission_id, state, created_at, requested_by, catalogue) \
             SELECT $1, $2, 'queued', $3, $4, $5 WHERE NOT EXISTS ( \
                 SELECT 1 FROM runs WHERE submission_id = $2 AND state IN ('queued', 'running'))",
        )
        .bind(id.clone())
        .bind(submission_id.to_owned())
        .bind(unix_now())
        .bind(user_id.to_owned())
        .bind(catalogue.to_owned())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        self.set_submission_state(submission_id, SubmissionState::Testing)
            .await?;
        Ok(Some(id))
    }

    /// A submission's runs, newest first.
    pub async fn runs_of(&self, submission_id: &str) -> Result<Vec<crate::Run>, RegistryError> {
        let sql = format!(
            "SELECT {} FROM runs WHERE submission_id = $1 ORDER BY created_at DESC, id LIMIT 200",
            crate::queue::RUN_COLUMNS
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(submission_id.to_owned())
            .fetch_all(&self.pool)
            .await?)
    }

    /// A run's per-requirement results, in catalogue order as recorded.
    pub async fn run_results(&self, run_id: &str) -> Result<Vec<ResultRow>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT requirement, title, level, automatic, summary, evidence FROM run_results \
             WHERE run_id = $1 ORDER BY position",
        )
        .bind(run_id.to_owned())
        .fetch_all(&self.pool)
        .await?)
    }

    /// A run's output files (name, sha256).
    pub async fn run_outputs(&self, run_id: &str) -> Result<Vec<(String, String)>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT name, artifact_sha256 FROM run_outputs WHERE run_id = $1 ORDER BY name",
        )
        .bind(run_id.to_owned())
        .fetch_all(&self.pool)
        .await?)
    }

    /// The run's overall outcome (pass, fail, inconclusive) and summary, once done.
    pub async fn run_outcome(
        &self,
        run_id: &str,
    ) -> Result<Option<(String, String)>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT outcome, summary FROM verdicts WHERE run_id = $1 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(run_id.to_owned())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Number of findings of a run.
    pub async fn count_findings(&self, run_id: &str) -> Result<i64, RegistryError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM findings WHERE run_id = $1")
                .bind(run_id.to_owned())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Completes a run held by `worker_id` and records what it found, in one transaction, so a
    /// crash leaves either a queued/running run (retried) or a done run with all its results.
    /// `Ok(false)`: the worker no longer held the run; nothing was recorded.
    pub async fn complete_run(
        &self,
        run_id: &str,
        worker_id: &str,
        results: &RunResults,
    ) -> Result<bool, RegistryError> {
        let now = unix_now();
        let mut tx = self.pool.begin().await?;
        // The write comes first so SQLite takes its write lock at once.
        let n = sqlx::query(
            "UPDATE runs SET state = 'done', error = NULL, finished_at = $1, lease_owner = NULL, \
                 lease_until = NULL, progress = $2 \
             WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
        )
        .bind(now)
        .bind(crate::queue::PROGRESS_MAX)
        .bind(run_id.to_owned())
        .bind(worker_id.to_owned())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        for (pos, r) in results.results.iter().enumerate() {
            sqlx::query(
                "INSERT INTO run_results (run_id, position, requirement, title, level, automatic, summary, evidence) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(run_id.to_owned())
            .bind(i64::try_from(pos).unwrap_or(i64::MAX))
            .bind(r.requirement.clone())
            .bind(r.title.clone())
            .bind(r.level.clone())
            .bind(r.automatic.clone())
            .bind(r.summary.clone())
            .bind(r.evidence.clone())
            .execute(&mut *tx)
            .await?;
        }
        for (name, sha) in &results.outputs {
            sqlx::query(
                "INSERT INTO run_outputs (run_id, name, artifact_sha256) VALUES ($1, $2, $3)",
            )
            .bind(run_id.to_owned())
            .bind(name.clone())
            .bind(sha.clone())
            .execute(&mut *tx)
            .await?;
        }
        for (kind, severity, detail) in &results.findings {
            sqlx::query(
                "INSERT INTO findings (id, run_id, kind, severity, detail, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new_id()?)
            .bind(run_id.to_owned())
            .bind(kind.clone())
            .bind(severity.clone())
            .bind(detail.clone())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let submission: String = sqlx::query_scalar("SELECT submission_id FROM runs WHERE id = $1")
            .bind(run_id.to_owned())
            .fetch_one(&mut *tx)
            .await?;
        if let Some((outcome, summary)) = &results.outcome {
            sqlx::query(
                "INSERT INTO verdicts (id, run_id, submission_id, outcome, summary, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new_id()?)
            .bind(run_id.to_owned())
            .bind(submission.clone())
            .bind(outcome.clone())
            .bind(summary.clone())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        // Only a submission still being tested moves on: a decision taken meanwhile stands.
        move_submission(
            &mut *tx,
            &submission,
            &[SubmissionState::Testing],
            SubmissionState::Review,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a reviewer's override of one requirement of a run.
    pub async fn add_override(
        &self,
        submission_id: &str,
        run_id: &str,
        requirement: &str,
        verdict: &str,
        reason: &str,
        reviewer_id: &str,
    ) -> Result<String, RegistryError> {
        let reason = check_reason("reason", reason)?;
        if ![
            "PASS",
            "FAIL",
            "INCONCLUSIVE",
            "NOT_APPLICABLE",
            "NOT_TESTED",
        ]
        .contains(&verdict)
        {
            return Err(RegistryError::Invalid {
                field: "verdict",
                why: "one of PASS, FAIL, INCONCLUSIVE, NOT_APPLICABLE, NOT_TESTED",
            });
        }
        let known: Option<String> = sqlx::query_scalar(
            "SELECT requirement FROM run_results WHERE run_id = $1 AND requirement = $2",
        )
        .bind(run_id.to_owned())
        .bind(requirement.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        if known.is_none() {
            return Err(RegistryError::Invalid {
                field: "requirement",
                why: "not a requirement of this run",
            });
        }
        let id = new_id()?;
        sqlx::query(
            "INSERT INTO verdict_overrides (id, submission_id, run_id, requirement, verdict, reason, reviewer_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.clone())
        .bind(submission_id.to_owned())
        .bind(run_id.to_owned())
        .bind(requirement.to_owned())
        .bind(verdict.to_owned())
        .bind(reason)
        .bind(reviewer_id.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Overrides of a run, oldest first (the latest per requirement wins).
    pub async fn overrides(&self, run_id: &str) -> Result<Vec<Override>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT o.id, o.run_id, o.requirement, o.verdict, o.reason, o.created_at, u.email \
             FROM verdict_overrides o JOIN users u ON u.id = o.reviewer_id \
             WHERE o.run_id = $1 ORDER BY o.created_at, o.id",
        )
        .bind(run_id.to_owned())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records a reviewer's decision.
    pub async fn add_review(
        &self,
        submission_id: &str,
        run_id: &str,
        reviewer_id: &str,
        decision: &str,
        comment: &str,
    ) -> Result<String, RegistryError> {
        if !["approve", "reject", "changes"].contains(&decision) {
            return Err(RegistryError::Invalid {
                field: "decision",
                why: "one of approve, reject, changes",
            });
        }
        let comment = comment.trim();
        if comment.len() > MAX_REASON_LEN {
            return Err(RegistryError::Invalid {
                field: "comment",
                why: "at most 4000 bytes",
            });
        }
        let id = new_id()?;
        sqlx::query(
            "INSERT INTO reviews (id, submission_id, run_id, reviewer_id, decision, comment, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.clone())
        .bind(submission_id.to_owned())
        .bind(run_id.to_owned())
        .bind(reviewer_id.to_owned())
        .bind(decision.to_owned())
        .bind(comment.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        let state = match decision {
            "reject" => SubmissionState::Closed,
            "changes" => SubmissionState::Draft,
            _ => SubmissionState::Review,
        };
        self.set_submission_state(submission_id, state).await?;
        Ok(id)
    }

    /// Decisions on a submission, newest first.
    pub async fn reviews_of(
        &self,
        submission_id: &str,
    ) -> Result<Vec<ReviewDecision>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT r.decision, r.comment, r.run_id, r.created_at, u.email FROM reviews r \
             JOIN users u ON u.id = r.reviewer_id WHERE r.submission_id = $1 \
             ORDER BY r.created_at DESC, r.id LIMIT 200",
        )
        .bind(submission_id.to_owned())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records an issued certificate; earlier live certificates of the same device model are
    /// superseded by it, in the same transaction, and the submission is closed.
    pub async fn insert_certificate(
        &self,
        c: &NewCertificate<'_>,
    ) -> Result<String, RegistryError> {
        let id = new_id()?;
        let now = unix_now();
        let mut tx = self.pool.begin().await?;
        // Closing first: of two concurrent issues of one submission, only one gets here.
        let closed = SubmissionState::Closed;
        let open = move_submission(
            &mut *tx,
            c.submission_id,
            &SubmissionState::sources_of(closed),
            closed,
        )
        .await?;
        if !open {
            tx.rollback().await?;
            return Err(RegistryError::Refused(
                "the submission is closed: its certificate was issued already".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO certificates (id, number, submission_id, state, issued_at, run_id, serial, jws, not_after, issued_by) \
             VALUES ($1, $2, $3, 'issued', $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.clone())
        .bind(c.number.to_owned())
        .bind(c.submission_id.to_owned())
        .bind(now)
        .bind(c.run_id.to_owned())
        .bind(c.serial.to_owned())
        .bind(c.jws.to_owned())
        .bind(c.not_after.to_owned())
        .bind(c.issued_by.to_owned())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE certificates SET state = 'superseded', superseded_by = $1, changed_at = $2, \
                 reason = $3 \
             WHERE state = 'issued' AND id <> $1 AND submission_id IN ( \
                 SELECT s.id FROM submissions s JOIN firmware_builds f ON f.id = s.firmware_build_id \
                 WHERE f.device_model_id = (SELECT f2.device_model_id FROM submissions s2 \
                     JOIN firmware_builds f2 ON f2.id = s2.firmware_build_id WHERE s2.id = $4))",
        )
        .bind(id.clone())
        .bind(now)
        .bind(format!("superseded by certificate {}", c.number))
        .bind(c.submission_id.to_owned())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Revokes an issued certificate with a reason; false if it was not live.
    pub async fn revoke_certificate(
        &self,
        number: &str,
        reason: &str,
    ) -> Result<bool, RegistryError> {
        let reason = check_reason("reason", reason)?;
        let n = sqlx::query(
            "UPDATE certificates SET state = 'revoked', reason = $1, changed_at = $2 \
             WHERE number = $3 AND state = 'issued'",
        )
        .bind(reason)
        .bind(unix_now())
        .bind(number.to_owned())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A certificate by registry number.
    pub async fn certificate(
        &self,
        number: &str,
    ) -> Result<Option<CertificateRecord>, RegistryError> {
        self.certificate_where("c.number", number).await
    }

    /// A certificate by the serial in its signed payload.
    pub async fn certificate_by_serial(
        &self,
        serial: &str,
    ) -> Result<Option<CertificateRecord>, RegistryError> {
        self.certificate_where("c.serial", serial).await
    }

    async fn certificate_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<CertificateRecord>, RegistryError> {
        let sql = format!("{CERT_SELECT} WHERE {column} = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(value.to_owned())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Certificates of a submission, newest first.
    pub async fn certificates_of(
        &self,
        submission_id: &str,
    ) -> Result<Vec<CertificateRecord>, RegistryError> {
        let sql = format!("{CERT_SELECT} WHERE c.submission_id = $1 ORDER BY c.issued_at DESC");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(submission_id.to_owned())
            .fetch_all(&self.pool)
            .await?)
    }

    /// Staff search over manufacturers and models by substring (case-insensitive), used by
    /// the public registry search: `q` matches manufacturer or model names.
    pub async fn search_certificates(
        &self,
        q: &str,
    ) -> Result<Vec<crate::PublicCertificate>, RegistryError> {
        let q = q.trim().to_lowercase();
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let sql = format!(
            "{} WHERE LOWER(m.name) LIKE $1 ESCAPE '\\' OR LOWER(d.name) LIKE $1 ESCAPE '\\' \
                OR LOWER(m.name || ' ' || d.name) LIKE $1 ESCAPE '\\' \
             ORDER BY m.name, d.name, c.issued_at DESC LIMIT $2",
            crate::store::PUBLIC_CERT_SELECT
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(pattern)
            .bind(crate::store::MAX_LIST_ROWS)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Opens an artifact for reading.
    pub async fn open_artifact(&self, sha256: &str) -> Result<tokio::fs::File, RegistryError> {
        let path = self
            .artifact_path(sha256)
            .ok_or(RegistryError::Corrupt { column: "sha256" })?;
        tokio::fs::File::open(&path)
            .await
            .map_err(RegistryError::io("opening an artifact"))
    }

    /// Reads an artifact's bytes (small files only: reports), refusing more than `max`.
    pub async fn read_artifact(&self, sha256: &str, max: u64) -> Result<Vec<u8>, RegistryError> {
        let path = self
            .artifact_path(sha256)
            .ok_or(RegistryError::Corrupt { column: "sha256" })?;
        let len = tokio::fs::metadata(&path)
            .await
            .map_err(RegistryError::io("reading an artifact"))?
            .len();
        if len > max {
            return Err(RegistryError::TooLarge {
                limit: max,
                at: len,
            });
        }
        tokio::fs::read(&path)
            .await
            .map_err(RegistryError::io("reading an artifact"))
    }
}
