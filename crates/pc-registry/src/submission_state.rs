//! Where a submission is in the certification workflow, and which moves the workflow allows:
//! the one place they are decided. The database keeps the lowercase name (the `submissions.state`
//! CHECK constraint lists the same five), so no stored data changes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::RegistryError;

/// State of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubmissionState {
    /// Being prepared by the manufacturer: files may change.
    Draft,
    /// Created with its case file (`Store::create_submission`), not yet tested.
    Submitted,
    /// A run is queued or under way: files are frozen.
    Testing,
    /// A run finished; reviewers decide.
    Review,
    /// Certified or rejected: final.
    Closed,
}

impl SubmissionState {
    /// Every state, in workflow order.
    pub const ALL: [SubmissionState; 5] = [
        SubmissionState::Draft,
        SubmissionState::Submitted,
        SubmissionState::Testing,
        SubmissionState::Review,
        SubmissionState::Closed,
    ];

    /// The name stored in the database and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            SubmissionState::Draft => "draft",
            SubmissionState::Submitted => "submitted",
            SubmissionState::Testing => "testing",
            SubmissionState::Review => "review",
            SubmissionState::Closed => "closed",
        }
    }

    /// Whether a submission in this state may move to `next`. Closed is final; `submitted` is
    /// only ever a starting state. Everything else is open to the workflow's events: a run
    /// requested (→ testing, again after a failed run or a request for changes), a run finished
    /// (testing → review), a decision (→ review, draft or closed) and an issued certificate
    /// (→ closed).
    pub fn may_become(self, next: SubmissionState) -> bool {
        self != SubmissionState::Closed && next != SubmissionState::Submitted
    }

    /// The states that may move to `next` (what a guarded UPDATE accepts).
    pub fn sources_of(next: SubmissionState) -> Vec<SubmissionState> {
        Self::ALL
            .into_iter()
            .filter(|s| s.may_become(next))
            .collect()
    }

    /// Files may be uploaded or replaced: not while a run reads them, nor once closed.
    pub fn accepts_files(self) -> bool {
        !matches!(self, SubmissionState::Testing | SubmissionState::Closed)
    }

    /// Certified or rejected.
    pub fn is_closed(self) -> bool {
        self == SubmissionState::Closed
    }
}

impl fmt::Display for SubmissionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubmissionState {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(RegistryError::Corrupt {
                column: "submissions.state",
            })
    }
}

/// For `#[sqlx(try_from = "String")]`: the column is read as text.
impl TryFrom<String> for SubmissionState {
    type Error = RegistryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::SubmissionState as S;

    #[test]
    fn names_round_trip_and_closed_is_final() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>().expect("parse"), s);
            assert_eq!(s.to_string(), s.as_str());
            assert!(!S::Closed.may_become(s), "{s}");
            assert!(!s.may_become(S::Submitted), "{s}");
        }
        assert!("Closed".parse::<S>().is_err());
        assert!(S::Draft.may_become(S::Testing));
        assert!(S::Testing.may_become(S::Review));
        assert_eq!(
            S::sources_of(S::Closed),
            [S::Draft, S::Submitted, S::Testing, S::Review]
        );
        assert!(S::Review.accepts_files() && !S::Testing.accepts_files());
    }
}
