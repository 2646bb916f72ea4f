//! Checks the preload rules ask for, decided from firmware facts: which apps the user cannot
//! remove, and which apps the image grants dangerous permissions without asking. An app's basic
//! function (settings, camera, phone, ...) is what its intent filters answer to
//! (`data/rules/basic-functions.toml`), named in the evidence so a reviewer can check it.

use super::ctx::{Ctx, when_any};
use super::refs::app_ref;
use crate::evidence::AppFact;
use crate::outcome::{EvidenceRef, Outcome, Verdict};

fn basic<'a>(a: &'a AppFact, allowed: &[String]) -> Option<&'a crate::evidence::FunctionFact> {
    a.functions.iter().find(|f| allowed.contains(&f.name))
}

fn unreadable(apps: &[AppFact]) -> Vec<EvidenceRef> {
    apps.iter()
        .filter_map(|a| {
            a.error
                .as_ref()
                .map(|e| app_ref(a, format!("manifest not read: {e}")))
        })
        .collect()
}

pub(super) fn non_removable_basic_only(
    ctx: &Ctx<'_>,
    allowed: &[String],
    removable_partitions: &[String],
) -> Outcome {
    let f = match ctx.firmware_apps() {
        Ok(f) => f,
        Err(o) => return o,
    };
    let mut fails = Vec::new();
    let mut fine = Vec::new();
    let fixed = f
        .apps
        .iter()
        .filter(|a| a.launcher && !removable_partitions.contains(&a.partition));
    for a in fixed {
        match basic(a, allowed) {
            Some(func) => fine.push(app_ref(
                a,
                format!(
                    "non-removable ({} partition), basic function {}: {}",
                    a.partition, func.name, func.because
                ),
            )),
            None => fails.push(app_ref(
                a,
                format!(
                    "non-removable ({} partition) and shown by the launcher, but no basic function{}",
                    a.partition,
                    if a.functions.is_empty() {
                        String::new()
                    } else {
                        let names: Vec<&str> = a.functions.iter().map(|f| f.name.as_str()).collect();
                        format!(" among {} (it provides {})", allowed.join(", "), names.join(", "))
                    }
                ),
            )),
        }
    }
    decide(
        &f.apps,
        fails,
        fine,
        |n| {
            format!(
                "{n} app(s) the user cannot uninstall are not basic functions ({}).",
                allowed.join(", ")
            )
        },
        |n| format!("All {n} non-removable app(s) shown by the launcher are basic functions."),
    )
}

pub(super) fn no_dangerous_default_grants(ctx: &Ctx<'_>, basic_functions: &[String]) -> Outcome {
    let f = match ctx.firmware_apps() {
        Ok(f) => f,
        Err(o) => return o,
    };
    let mut fails = Vec::new();
    let mut fine = Vec::new();
    for a in f
        .apps
        .iter()
        .filter(|a| !a.default_granted_dangerous.is_empty())
    {
        let granted = a.default_granted_dangerous.join(", ");
        match basic(a, basic_functions) {
            Some(func) => fine.push(app_ref(
                a,
                format!(
                    "granted {granted} by default-permissions; basic function {}",
                    func.name
                ),
            )),
            None => fails.push(app_ref(
                a,
                format!(
                    "granted {granted} by default-permissions without asking, and no basic function"
                ),
            )),
        }
    }
    decide(
        &f.apps,
        fails,
        fine,
        |n| {
            format!(
                "{n} app(s) outside the basic functions are granted dangerous permissions without asking."
            )
        },
        |n| {
            format!(
                "No app outside the basic functions is granted a dangerous permission by default ({n} basic-function app(s) are)."
            )
        },
    )
}

/// FAIL on any failing app (unreadable apps listed after), else INCONCLUSIVE on any app whose
/// manifest could not be read, else PASS on the apps that were fine.
fn decide(
    apps: &[AppFact],
    fails: Vec<EvidenceRef>,
    fine: Vec<EvidenceRef>,
    failed: impl FnOnce(usize) -> String,
    passed: impl FnOnce(usize) -> String,
) -> Outcome {
    let unknown = unreadable(apps);
    if let Some(o) = when_any(Verdict::Fail, fails, &unknown, failed) {
        return o;
    }
    if let Some(o) = when_any(Verdict::Inconclusive, unknown, &fine, |n| {
        format!("{n} app(s) could not be analysed.")
    }) {
        return o;
    }
    let n = fine.len();
    Outcome::new(Verdict::Pass, passed(n), fine)
}
