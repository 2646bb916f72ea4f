//! What a caller may do, decided in one place: for a user, the way they authenticated and the
//! state of the thing acted on, [`check`] says whether an operation is permitted and, when it is
//! not, why (the error the request gets). The actions call it to authorise a request; the pages
//! call [`allowed`] to choose which forms to show. So a page shows a button exactly when its
//! POST would pass these checks (short of another request changing the state in between, which
//! the store's own guards still catch).

use std::collections::BTreeSet;

use super::actions::{ActionResult, DECIDERS, Need, SUBMITTERS, require};
use super::{Caller, WebError};
use crate::{Role, SubmissionState};

/// An operation that a page offers as a form and the API as an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Create a submission (the dashboard's form).
    CreateSubmission,
    /// Upload files into a submission.
    Upload,
    /// Queue an audit run of a submission.
    StartRun,
    /// Override a requirement's verdict of the latest finished run.
    Override,
    /// Record a review decision on the latest finished run.
    Decide,
    /// Issue the certificate of an approved submission.
    Issue,
    /// Revoke an issued certificate.
    Revoke,
}

/// What an operation acts on, with the facts about it that the rules read.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// The lab as a whole (creating a submission).
    Lab,
    /// A submission the caller may see.
    Submission(&'a SubmissionFacts),
    /// A certificate, by its state (`issued`, `revoked`, `superseded`).
    Certificate(&'a str),
}

/// The facts about a submission that decide what may be done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionFacts {
    /// Where it is in the workflow.
    pub state: SubmissionState,
    /// It holds at least one file.
    pub has_files: bool,
    /// A run is queued or running.
    pub run_active: bool,
    /// At least one run finished (`done`).
    pub has_done_run: bool,
    /// The latest review decision approves the latest finished run.
    pub approved: bool,
}

impl Op {
    /// Every operation, in order.
    pub const ALL: [Op; 7] = [
        Op::CreateSubmission,
        Op::Upload,
        Op::StartRun,
        Op::Override,
        Op::Decide,
        Op::Issue,
        Op::Revoke,
    ];

    /// True when the operation acts on `subject`'s kind of thing.
    fn applies_to(self, subject: &Subject) -> bool {
        matches!(
            (self, subject),
            (Op::CreateSubmission, Subject::Lab)
                | (
                    Op::Upload | Op::StartRun | Op::Override | Op::Decide | Op::Issue,
                    Subject::Submission(_)
                )
                | (Op::Revoke, Subject::Certificate(_))
        )
    }
}

fn conflict(m: impl Into<String>) -> WebError {
    WebError::Conflict(m.into())
}

/// Whether `c` may do `op` on `subject`: `Ok` or the error the request is answered with (401,
/// 403 for the role or a token's scope, 409 for the state).
pub fn check(c: &Caller, op: Op, subject: &Subject) -> ActionResult<()> {
    if !op.applies_to(subject) {
        return Err(WebError::NotFound("operation"));
    }
    match (op, subject) {
        (Op::CreateSubmission, _) => {
            let u = require(c, SUBMITTERS, Need::Submit)?;
            if u.role == Role::Manufacturer && u.manufacturer_id.is_none() {
                return Err(WebError::Forbidden);
            }
        }
        (Op::Upload, Subject::Submission(f)) => {
            require(c, SUBMITTERS, Need::Ci)?;
            if !f.state.accepts_files() {
                return Err(conflict(format!(
                    "the submission is {}: files can no longer change",
                    f.state
                )));
            }
        }
        (Op::StartRun, Subject::Submission(f)) => {
            require(c, SUBMITTERS, Need::Ci)?;
            if f.state.is_closed() {
                return Err(conflict("the submission is closed"));
            }
            if !f.has_files {
                return Err(conflict(
                    "upload the case (case.toml with its captures and firmware) first",
                ));
            }
            if f.run_active {
                return Err(conflict("a run of this submission is already under way"));
            }
        }
        (Op::Override | Op::Decide, Subject::Submission(f)) => {
            require(c, DECIDERS, Need::Manage)?;
            if f.state.is_closed() {
                return Err(conflict("the submission is closed"));
            }
            if !f.has_done_run {
                return Err(conflict("no finished run to review"));
            }
        }
        (Op::Issue, Subject::Submission(f)) => {
            require(c, DECIDERS, Need::Manage)?;
            if f.state.is_closed() {
                return Err(conflict(
                    "the submission is closed: its certificate was issued already, or it was \
                     rejected",
                ));
            }
            if !f.has_done_run {
                return Err(conflict("no finished run to certify"));
            }
            if !f.approved {
                return Err(conflict(
                    "a reviewer must approve the latest run before a certificate is issued",
                ));
            }
        }
        (Op::Revoke, Subject::Certificate(state)) => {
            require(c, DECIDERS, Need::Manage)?;
            if *state != "issued" {
                return Err(conflict(format!("the certificate is {state}")));
            }
        }
        _ => return Err(WebError::NotFound("operation")),
    }
    Ok(())
}

/// The operations `c` may do on `subject`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ops(BTreeSet<Op>);

impl Ops {
    /// True when `op` is permitted.
    pub fn has(&self, op: Op) -> bool {
        self.0.contains(&op)
    }

    /// The permitted operations, in order.
    pub fn iter(&self) -> impl Iterator<Item = Op> + '_ {
        self.0.iter().copied()
    }
}

/// Every operation on `subject` that [`check`] permits `c`.
pub fn allowed(c: &Caller, subject: &Subject) -> Ops {
    Ops(Op::ALL
        .into_iter()
        .filter(|op| op.applies_to(subject) && check(c, *op, subject).is_ok())
        .collect())
}
