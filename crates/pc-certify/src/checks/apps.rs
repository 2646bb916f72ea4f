//! Checks on the firmware's apps: identifier permissions, signing keys, debuggable apps, the
//! risk score and trackers in privileged apps.

use super::ctx::{Ctx, when_any};
use super::refs::app_ref;
use crate::outcome::{EvidenceRef, Outcome, Verdict};
use std::collections::BTreeSet;

pub(super) fn identifier_permissions(
    ctx: &Ctx<'_>,
    perms: &std::collections::BTreeMap<String, Vec<String>>,
) -> Outcome {
    let f = match ctx.firmware_apps() {
        Ok(f) => f,
        Err(o) => return o,
    };
    let mut fails = Vec::new();
    let mut readers = Vec::new();
    let mut unanalysed = Vec::new();
    let mut analysed = 0usize;
    for a in &f.apps {
        match a.code_analysed {
            Some(true) => analysed += 1,
            Some(false) => {
                unanalysed.push(app_ref(a, "code not analysed (odex only or unreadable)"))
            }
            None => {}
        }
        if a.identifier_calls.is_empty() {
            continue;
        }
        let read: BTreeSet<&str> = a
            .identifier_calls
            .iter()
            .flat_map(|c| c.identifiers.iter().map(String::as_str))
            .collect();
        let sites = a
            .identifier_calls
            .iter()
            .fold(0u32, |s, c| s.saturating_add(c.count));
        let mut missing = Vec::new();
        let mut held = BTreeSet::new();
        for id in &read {
            let Some(need) = perms.get(*id).filter(|n| !n.is_empty()) else {
                continue;
            };
            match need.iter().find(|p| a.permissions.contains(p)) {
                Some(p) => {
                    held.insert(p.as_str());
                }
                None => missing.push(format!("{id} (needs one of {})", need.join(", "))),
            }
        }
        let pre: Vec<&str> = held
            .iter()
            .copied()
            .filter(|p| a.pre_granted.iter().any(|g| g == p))
            .collect();
        let read_list: Vec<&str> = read.iter().copied().collect();
        let indirect: u32 = a
            .identifier_calls
            .iter()
            .filter(|c| c.indirect)
            .fold(0u32, |s, c| s.saturating_add(c.count));
        let desc = format!(
            "reads {} ({} call site(s){}); requests {}{}",
            read_list.join(", "),
            sites,
            if indirect > 0 {
                format!(", {indirect} of them by name through reflection")
            } else {
                String::new()
            },
            if held.is_empty() {
                "no matching permission".to_string()
            } else {
                held.iter().copied().collect::<Vec<_>>().join(", ")
            },
            if pre.is_empty() {
                String::new()
            } else {
                format!("; pre-granted: {}", pre.join(", "))
            }
        );
        if missing.is_empty() {
            readers.push(app_ref(a, format!("{desc} [listed for review]")));
        } else {
            fails.push(app_ref(
                a,
                format!("{desc}; MISSING permission for {}", missing.join("; ")),
            ));
        }
    }
    if let Some(o) = when_any(Verdict::Fail, fails, &readers, |n| {
        format!("{n} app(s) read identifiers without requesting the matching permission.")
    }) {
        return o;
    }
    if analysed == 0 {
        unanalysed.extend(readers);
        return Outcome::new(
            Verdict::NotTested,
            "No app's code was analysed: identifier-reading code cannot be seen.",
            unanalysed,
        );
    }
    if let Some(o) = when_any(Verdict::Inconclusive, unanalysed, &readers, |n| {
        format!("Readers hold matching permissions, but the code of {n} app(s) was not analysed.")
    }) {
        return o;
    }
    let n = readers.len();
    Outcome::new(
        Verdict::Pass,
        format!(
            "All {n} app(s) with identifier-reading code request the matching permission (listed for review)."
        ),
        readers,
    )
}

pub(super) fn no_test_keys(ctx: &Ctx<'_>, include_debug: bool) -> Outcome {
    let f = match ctx.firmware_apps() {
        Ok(f) => f,
        Err(o) => return o,
    };
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    for a in &f.apps {
        if let Some(k) = &a.test_key {
            fails.push(app_ref(
                a,
                format!("signed with the public AOSP test key \"{k}\""),
            ));
        } else if include_debug && a.debug_cert {
            fails.push(app_ref(a, "signed with an Android debug certificate"));
        } else if let Some(e) = &a.error {
            unknown.push(app_ref(a, format!("not analysed: {e}")));
        } else if !a.signing_known {
            unknown.push(app_ref(a, "signature not analysed or unsigned"));
        }
    }
    if let Some(o) = when_any(Verdict::Fail, fails, &unknown, |n| {
        format!("{n} app(s) signed with public keys.")
    }) {
        return o;
    }
    if let Some(o) = when_any(Verdict::Inconclusive, unknown, &[], |n| {
        format!("The signer of {n} app(s) is unknown.")
    }) {
        return o;
    }
    Outcome::new(
        Verdict::Pass,
        format!(
            "None of the {} apps is signed with a public test or debug key.",
            f.apps.len()
        ),
        vec![EvidenceRef::new(
            "note",
            format!("{} apps examined", f.apps.len()),
        )],
    )
}

pub(super) fn no_debuggable(ctx: &Ctx<'_>) -> Outcome {
    let f = match ctx.firmware_apps() {
        Ok(f) => f,
        Err(o) => return o,
    };
    let fails: Vec<EvidenceRef> = f
        .apps
        .iter()
        .filter(|a| a.debuggable)
        .map(|a| app_ref(a, "android:debuggable=\"true\""))
        .collect();
    let unknown: Vec<EvidenceRef> = f
        .apps
        .iter()
        .filter_map(|a| {
            a.error
                .as_ref()
                .map(|e| app_ref(a, format!("manifest not read: {e}")))
        })
        .collect();
    if let Some(o) = when_any(Verdict::Fail, fails, &[], |n| {
        format!("{n} debuggable app(s).")
    }) {
        return o;
    }
    if let Some(o) = when_any(Verdict::Inconclusive, unknown, &[], |n| {
        format!("{n} app(s) could not be analysed.")
    }) {
        return o;
    }
    Outcome::new(
        Verdict::Pass,
        format!("None of the {} apps is debuggable.", f.apps.len()),
        vec![EvidenceRef::new(
            "note",
            format!("{} apps examined", f.apps.len()),
        )],
    )
}

pub(super) fn risk_score_max(ctx: &Ctx<'_>, max: f64) -> Outcome {
    let f = match ctx.firmware_apps() {
        Ok(f) => f,
        Err(o) => return o,
    };
    let Some(total) = f.risk_total else {
        return Outcome::new(
            Verdict::NotTested,
            "The firmware analysis has no risk score.",
            vec![],
        );
    };
    let ev = vec![EvidenceRef::new(
        "risk",
        format!(
            "Uraniborg-compatible risk score {total:.3} of {:.1}; threshold {max}",
            f.risk_max.unwrap_or(10.0)
        ),
    )];
    if !total.is_finite() {
        return Outcome::new(Verdict::Inconclusive, "The risk score is not a number.", ev);
    }
    if total >= max {
        Outcome::new(
            Verdict::Fail,
            format!("Risk score {total:.3} is not under the threshold {max}."),
            ev,
        )
    } else {
        Outcome::new(
            Verdict::Pass,
            format!("Risk score {total:.3} is under the threshold {max}."),
            ev,
        )
    }
}

pub(super) fn privileged_trackers(ctx: &Ctx<'_>, include_platform: bool) -> Outcome {
    let f = match ctx.firmware_apps() {
        Ok(f) => f,
        Err(o) => return o,
    };
    let hits: Vec<EvidenceRef> = f
        .apps
        .iter()
        .filter(|a| {
            (a.privileged || (include_platform && a.platform_signed)) && !a.trackers.is_empty()
        })
        .map(|a| {
            app_ref(
                a,
                format!(
                    "{} app embeds tracker(s): {} [listed for review]",
                    if a.privileged {
                        "privileged"
                    } else {
                        "platform-signed"
                    },
                    a.trackers.join(", ")
                ),
            )
        })
        .collect();
    if let Some(o) = when_any(Verdict::Inconclusive, hits, &[], |n| {
        format!("{n} privileged app(s) embed trackers; each needs a reviewer's decision.")
    }) {
        return o;
    }
    Outcome::new(
        Verdict::Pass,
        "No privileged or platform-signed app embeds a known tracker.",
        vec![],
    )
}
