//! Checks on the build itself, from its properties files and its verified-boot metadata
//! (`pc_firmware::buildinfo`): a user build signed with release keys, verified boot on and not
//! signed with a public test key, a recent security patch level, and the debugging switches
//! off. A fact that was not in the inputs (no vbmeta given, no `build.prop` read) is never a
//! PASS: it is INCONCLUSIVE and says which file would decide it.

use pc_firmware::buildinfo::BuildFacts;

use super::ctx::{Ctx, when_any};
use crate::outcome::{EvidenceRef, Outcome, Verdict};

fn prop(what: impl Into<String>) -> EvidenceRef {
    EvidenceRef::new("build", what)
}

fn build<'a>(ctx: &Ctx<'a>) -> Result<&'a BuildFacts, Outcome> {
    let f = ctx.firmware_apps()?;
    if f.build.prop_files.is_empty() {
        return Err(Outcome::new(
            Verdict::Inconclusive,
            "No build.prop was read from the firmware: its build facts are unknown.",
            vec![prop("no build.prop, default.prop or prop.default found")],
        ));
    }
    Ok(&f.build)
}

/// `ro.build.type` is `user` and `ro.build.tags` is `release-keys`.
pub(super) fn release_build(ctx: &Ctx<'_>) -> Outcome {
    let b = match build(ctx) {
        Ok(b) => b,
        Err(o) => return o,
    };
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    match b.build_type.as_deref() {
        Some("user") => {}
        Some(t) => fails.push(prop(format!(
            "ro.build.type={t} (a {t} build: debugging features stay in)"
        ))),
        None => unknown.push(prop("ro.build.type not found")),
    }
    match b.tags.as_deref() {
        Some(t) if t.split(',').any(|x| x.trim() == "release-keys") => {}
        Some(t) => fails.push(prop(format!(
            "ro.build.tags={t} (not signed with the manufacturer's release keys)"
        ))),
        None => unknown.push(prop("ro.build.tags not found")),
    }
    // Each partition says its own; a vendor partition built as userdebug is a finding too.
    for f in &b.prop_files {
        if let Some(t) = f.build_type.as_deref().filter(|t| *t != "user")
            && Some(t) != b.build_type.as_deref()
        {
            fails.push(prop(format!("{}: build type {t}", f.path)));
        }
    }
    if let Some(o) = when_any(Verdict::Fail, fails, &[], |n| {
        format!("The build is not a user build signed with release keys ({n} fact(s)).")
    }) {
        return o;
    }
    if let Some(o) = when_any(Verdict::Inconclusive, unknown, &[], |_| {
        "The build type or tags could not be read.".into()
    }) {
        return o;
    }
    Outcome::new(
        Verdict::Pass,
        "A user build signed with release keys.",
        vec![prop(format!(
            "ro.build.type=user, ro.build.tags={}; fingerprint {}",
            b.tags.as_deref().unwrap_or_default(),
            b.fingerprint.as_deref().unwrap_or("unknown")
        ))],
    )
}

/// Verified boot on: a vbmeta signed (not with a public test key), verification and dm-verity
/// not switched off, every hash descriptor matching its partition.
pub(super) fn verified_boot(ctx: &Ctx<'_>) -> Outcome {
    let f = match ctx.firmware_apps() {
        Ok(f) => f,
        Err(o) => return o,
    };
    if f.build.avb.is_empty() {
        return Outcome::new(
            Verdict::Inconclusive,
            "No vbmeta was given: verified boot could not be examined (give the factory images with vbmeta.img).",
            vec![prop("no vbmeta structure in the inputs")],
        );
    }
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    for v in &f.build.avb {
        let at = &v.partition;
        if let Some(e) = &v.error {
            fails.push(prop(format!("{at}: malformed vbmeta: {e}")));
            continue;
        }
        if v.algorithm == "NONE" {
            fails.push(prop(format!("{at}: not signed (algorithm NONE)")));
        }
        if let Some(k) = &v.test_key {
            fails.push(prop(format!(
                "{at}: signed with {k} (public key sha1 {}), whose private key is public",
                v.public_key_sha1.as_deref().unwrap_or_default()
            )));
        }
        if v.verification_disabled {
            fails.push(prop(format!(
                "{at}: flags {} switch verification off",
                v.flags
            )));
        }
        for h in &v.hashes {
            match h.matches {
                Some(true) => {}
                Some(false) => fails.push(prop(format!(
                    "{at}: hash descriptor of {} does not match the partition given",
                    h.partition
                ))),
                None => unknown.push(prop(format!(
                    "{at}: partition {} not given, its hash not checked",
                    h.partition
                ))),
            }
        }
    }
    if let Some(o) = when_any(Verdict::Fail, fails, &unknown, |n| {
        format!("Verified boot does not protect this build ({n} fact(s)).")
    }) {
        return o;
    }
    let keys: Vec<String> = f
        .build
        .avb
        .iter()
        .map(|v| {
            format!(
                "{}: {} key sha1 {}",
                v.partition,
                v.algorithm,
                v.public_key_sha1.as_deref().unwrap_or("-")
            )
        })
        .collect();
    let mut refs: Vec<EvidenceRef> = keys.into_iter().map(prop).collect();
    refs.extend(unknown);
    Outcome::new(
        Verdict::Pass,
        "Verified boot is on, signed with a key that is not a public test key, and the hashes checked match.",
        refs,
    )
}

fn ymd(s: &str) -> Option<(i64, i64, i64)> {
    let mut it = s.get(..10)?.split('-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let d = it.next()?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// The security patch level is at most `max_months` old at the audit date (`[policy]
/// security_patch_max_age_months` overrides the catalogue's number).
pub(super) fn patch_level_max_age(ctx: &Ctx<'_>, max_months: u32) -> Outcome {
    let b = match build(ctx) {
        Ok(b) => b,
        Err(o) => return o,
    };
    let max = ctx
        .policy
        .and_then(|p| p.security_patch_max_age_months)
        .unwrap_or(max_months);
    let Some(spl) = b.security_patch.as_deref() else {
        return Outcome::new(
            Verdict::Inconclusive,
            "The security patch level (ro.build.version.security_patch) was not found.",
            vec![prop("ro.build.version.security_patch not found")],
        );
    };
    let today = pc_base::time::format_utc(ctx.now);
    let (Some((py, pm, pd)), Some((ny, nm, nd))) = (ymd(spl), ymd(&today)) else {
        return Outcome::new(
            Verdict::Inconclusive,
            format!("The security patch level {spl:?} is not a date."),
            vec![prop(format!("ro.build.version.security_patch={spl}"))],
        );
    };
    let age = (ny - py) * 12 + (nm - pm) - i64::from(nd < pd);
    let fact = prop(format!(
        "security patch level {spl}: {age} month(s) old on {} (at most {max})",
        &today[..10]
    ));
    if age > i64::from(max) {
        Outcome::new(
            Verdict::Fail,
            format!("The security patch level is {age} months old; at most {max} are allowed."),
            vec![fact],
        )
    } else {
        Outcome::new(
            Verdict::Pass,
            format!("The security patch level is {age} month(s) old."),
            vec![fact],
        )
    }
}

/// `ro.debuggable=0` and `ro.adb.secure=1` (and `ro.secure=1` where set).
pub(super) fn debug_props_off(ctx: &Ctx<'_>) -> Outcome {
    let b = match build(ctx) {
        Ok(b) => b,
        Err(o) => return o,
    };
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    let mut seen = Vec::new();
    for (key, value, want) in [
        ("ro.debuggable", &b.debuggable, "0"),
        ("ro.adb.secure", &b.adb_secure, "1"),
        ("ro.secure", &b.secure, "1"),
    ] {
        match value.as_deref() {
            Some(v) if v == want => seen.push(prop(format!("{key}={v}"))),
            Some(v) => fails.push(prop(format!("{key}={v} ({want} required)"))),
            // ro.secure defaults to 1 in init; the other two must be said.
            None if key == "ro.secure" => {}
            None => unknown.push(prop(format!("{key} not found in the properties read"))),
        }
    }
    if let Some(o) = when_any(Verdict::Fail, fails, &seen, |n| {
        format!("Debugging is left open ({n} propert(ies)).")
    }) {
        return o;
    }
    if let Some(o) = when_any(Verdict::Inconclusive, unknown, &seen, |_| {
        "ro.debuggable or ro.adb.secure was not found (they are in prop.default / default.prop)."
            .into()
    }) {
        return o;
    }
    Outcome::new(Verdict::Pass, "ro.debuggable=0 and ro.adb.secure=1.", seen)
}
