//! The automated checks: each decides one requirement from the evidence and names the facts
//! its verdict rests on. Evidence too thin to decide is never a PASS. One function per check,
//! grouped by what they look at: identifiers in the traffic ([`identifiers`]), how traffic
//! travels ([`transport`]) and the firmware's apps ([`apps`]); [`coverage`] decides whether the
//! traffic seen is enough, [`refs`] names the facts. This file only dispatches.

mod apps;
mod build_facts;
mod coverage;
mod ctx;
mod identifiers;
mod logs;
mod preloads;
mod refs;
mod scope;
mod transport;

use crate::catalogue::Check;
use crate::outcome::{Outcome, Verdict};
use apps::{
    identifier_permissions, no_debuggable, no_test_keys, privileged_trackers, risk_score_max,
};
pub(crate) use ctx::Ctx;
use identifiers::{
    identifier_recipients, no_cleartext_identifier, no_identifier_in_phase, no_persistent_with_adid,
};
pub(crate) use transport::LOCAL_NETWORK;
use transport::{no_cleartext, tls_min_version};

pub(crate) fn run(check: &Check, ctx: &Ctx<'_>) -> Outcome {
    match check {
        Check::NoIdentifierInPhase {
            consent,
            identifiers,
            coverage: cp,
        } => no_identifier_in_phase(ctx, *consent, identifiers, cp),
        Check::NoCleartextIdentifier { identifiers } => no_cleartext_identifier(ctx, identifiers),
        Check::NoCleartext(rule) => no_cleartext(ctx, rule),
        Check::TlsMinVersion { min } => tls_min_version(ctx, min),
        Check::IdentifierRecipients { coverage: cp } => identifier_recipients(ctx, cp),
        Check::NoPersistentWithAdvertisingId {
            persistent,
            advertising,
            coverage: cp,
        } => no_persistent_with_adid(ctx, persistent, advertising, cp),
        Check::IdentifierPermissions { permissions } => identifier_permissions(ctx, permissions),
        Check::NoTestKeys { include_debug_cert } => no_test_keys(ctx, *include_debug_cert),
        Check::NoDebuggable => no_debuggable(ctx),
        Check::RiskScoreMax { max } => risk_score_max(ctx, *max),
        Check::PrivilegedTrackers {
            include_platform_signed,
        } => privileged_trackers(ctx, *include_platform_signed),
        Check::NonRemovableBasicOnly {
            allowed_functions,
            removable_partitions,
        } => preloads::non_removable_basic_only(ctx, allowed_functions, removable_partitions),
        Check::NoDangerousDefaultGrants { basic_functions } => {
            preloads::no_dangerous_default_grants(ctx, basic_functions)
        }
        Check::NoIdentifierInLogs { identifiers } => logs::no_identifier_in_logs(ctx, identifiers),
        Check::ReleaseBuild => build_facts::release_build(ctx),
        Check::VerifiedBoot => build_facts::verified_boot(ctx),
        Check::PatchLevelMaxAge { months } => build_facts::patch_level_max_age(ctx, *months),
        Check::DebugPropsOff => build_facts::debug_props_off(ctx),
        // What traffic and firmware cannot show is said, never guessed: a reviewer decides it.
        Check::NotAutomated { needs } => Outcome::new(
            Verdict::NotTested,
            format!("Not decided by the automatic checks; needs {needs}"),
            vec![],
        ),
    }
}
