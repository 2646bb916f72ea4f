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
