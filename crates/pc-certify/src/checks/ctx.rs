//! What every check starts from: the evidence it may see ([`Ctx`]), the outcomes when that
//! evidence is missing, and the one shape of a deciding verdict ([`when_any`]).

use crate::evidence::{FirmwareEvidence, TrafficEvidence};
use crate::outcome::{EvidenceRef, Outcome, Verdict};
use crate::policy::Policy;

/// What the checks see.
pub(crate) struct Ctx<'a> {
    pub traffic: Option<&'a TrafficEvidence>,
    pub firmware: Option<&'a FirmwareEvidence>,
    pub policy: Option<&'a Policy>,
    /// System logs searched, when the case gives any.
    pub logs: Option<&'a crate::logs::LogEvidence>,
    /// The audit time (Unix seconds): the date patch levels are aged at.
    pub now: i64,
}

impl<'a> Ctx<'a> {
    /// The firmware evidence, when it lists at least one app: an empty tree (a wrong folder, a
    /// failed extraction) is no evidence, and must not let a firmware check pass.
    pub(super) fn firmware_apps(&self) -> Result<&'a FirmwareEvidence, Outcome> {
        match self.firmware {
            None => Err(no_firmware()),
            Some(f) if f.apps.is_empty() => Err(Outcome::new(
                Verdict::NotTested,
                "The firmware analysis found no app (an empty or wrong folder?): nothing was tested.",
                vec![EvidenceRef::new(
                    "note",
                    "the firmware analysis lists no app",
                )],
            )),
            Some(f) => Ok(f),
        }
    }
}

pub(super) fn no_traffic() -> Outcome {
    Outcome::new(
        Verdict::NotTested,
        "No traffic analysis was provided.",
        vec![],
    )
}

pub(super) fn no_firmware() -> Outcome {
    Outcome::new(
        Verdict::NotTested,
        "No firmware analysis was provided.",
        vec![],
    )
}

pub(super) fn kind_in(kinds: &[String], k: &str) -> bool {
    kinds.is_empty() || kinds.iter().any(|x| x == k)
}

/// `verdict` on `first` when there is any, the facts that did not decide (`then`) listed after
/// them; `summary` gets the number of deciding facts.
pub(super) fn when_any(
    verdict: Verdict,
    mut first: Vec<EvidenceRef>,
    then: &[EvidenceRef],
    summary: impl FnOnce(usize) -> String,
) -> Option<Outcome> {
    if first.is_empty() {
        return None;
    }
    let n = first.len();
    first.extend_from_slice(then);
    Some(Outcome::new(verdict, summary(n), first))
}
