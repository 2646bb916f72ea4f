//! What changed between two audits (report.json), and which requirements must be re-tested.

use crate::audit::AuditReport;
use crate::evidence::{AppFact, DestFact};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Errors reading report.json values.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{which} report, byte {at}: {what}: {detail}")]
    Malformed {
        at: u64,
        which: &'static str,
        what: &'static str,
        detail: String,
    },
}

/// One changed fact of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactChange {
    /// `version`, `signer`, `apk`, `permissions`, `identifier_calls`, `endpoints`, `trackers`,
    /// `debuggable`, `cleartext`, `privileged`.
    pub kind: String,
    /// For scalar facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// For set facts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// An app present in both audits whose facts differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppChange {
    pub package: String,
    pub changes: Vec<FactChange>,
}

/// A requirement to re-test and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retest {
    pub requirement: String,
    pub because: Vec<String>,
}

/// The difference between two audits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffReport {
    pub apps_added: Vec<String>,
    pub apps_removed: Vec<String>,
    pub apps_changed: Vec<AppChange>,
    /// `host:port/protocol` of destinations only the new audit saw.
    pub new_destinations: Vec<String>,
    /// Old and new firmware digests.
    pub firmware_digest: (Option<String>, Option<String>),
    pub retest: Vec<Retest>,
}

impl DiffReport {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.apps_added.is_empty()
            && self.apps_removed.is_empty()
            && self.apps_changed.is_empty()
            && self.new_destinations.is_empty()
    }
}

#[derive(Deserialize, Default)]
struct View {
    #[serde(default)]
    firmware: Option<FwView>,
    #[serde(default)]
    traffic: Option<TrView>,
    #[serde(default)]
    results: Vec<ResView>,
    #[serde(default)]
    firmware_digest: Option<String>,
}

#[derive(Deserialize, Default)]
struct FwView {
    #[serde(default)]
    apps: Vec<AppFact>,
    #[serde(default)]
    build: pc_firmware::buildinfo::BuildFacts,
}

#[derive(Deserialize, Default)]
struct TrView {
    #[serde(default)]
    destinations: Vec<DestFact>,
}

#[derive(Deserialize)]
struct ResView {
    requirement: String,
    check: String,
}

/// Fact kinds → the checks whose verdict they can change.
fn checks_for(kind: &str) -> &'static [&'static str] {
    // Each narrower set is a prefix: the traffic checks on identifiers, then the other traffic
    // checks, then the firmware checks.
    const EVERYTHING: &[&str] = &[
        "no_identifier_in_phase",
        "no_cleartext_identifier",
        "identifier_recipients",
        "no_persistent_with_advertising_id",
        "no_cleartext",
        "tls_min_version",
        "identifier_permissions",
        "no_test_keys",
        "no_debuggable",
        "risk_score_max",
        "privileged_trackers",
        "release_build",
        "verified_boot",
        "patch_level_max_age",
        "debug_props_off",
    ];
    const ALL_TRAFFIC: &[&str] = EVERYTHING.split_at(6).0;
    const TRAFFIC_IDS: &[&str] = EVERYTHING.split_at(4).0;
    match kind {
        "app_added" | "app_removed" | "version" | "apk" => EVERYTHING,
        "signer" => &["no_test_keys", "risk_score_max", "privileged_trackers"],
        "permissions" => &["identifier_permissions", "risk_score_max"],
        "identifier_calls" => &[
            "identifier_permissions",
            "no_identifier_in_phase",
            "no_cleartext_identifier",
            "identifier_recipients",
            "no_persistent_with_advertising_id",
        ],
        "endpoints" => ALL_TRAFFIC,
        "trackers" => &[
            "privileged_trackers",
            "no_identifier_in_phase",
            "identifier_recipients",
            "no_persistent_with_advertising_id",
        ],
        "debuggable" => &["no_debuggable"],
        // The build's own facts (properties, verified boot) decide only the build checks.
        "build" => &[
            "release_build",
            "verified_boot",
            "patch_level_max_age",
            "debug_props_off",
        ],
        "cleartext" => &["no_cleartext", "risk_score_max"],
        "privileged" => &[
            "privileged_trackers",
            "risk_score_max",
            "identifier_permissions",
        ],
        "new_destination" => &["identifier_recipients", "tls_min_version", "no_cleartext"],
        _ => TRAFFIC_IDS,
    }
}

fn set_change(kind: &str, old: &[String], new: &[String]) -> Option<FactChange> {
    let o: BTreeSet<&String> = old.iter().collect();
    let n: BTreeSet<&String> = new.iter().collect();
    let added: Vec<String> = n.difference(&o).map(|s| (*s).clone()).collect();
    let removed: Vec<String> = o.difference(&n).map(|s| (*s).clone()).collect();
    (!added.is_empty() || !removed.is_empty()).then(|| FactChange {
        kind: kind.into(),
        old: None,
        new: None,
        added,
        removed,
    })
}

fn scalar_change(kind: &str, old: String, new: String) -> Option<FactChange> {
    (old != new).then(|| FactChange {
        kind: kind.into(),
        old: Some(old),
        new: Some(new),
        added: vec![],
        removed: vec![],
    })
}

fn version(a: &AppFact) -> String {
    format!(
        "{} ({})",
        a.version_name.as_deref().unwrap_or("-"),
        a.version_code.map_or("-".into(), |v| v.to_string())
    )
}

fn app_changes(o: &AppFact, n: &AppFact) -> Vec<FactChange> {
    let calls = |a: &AppFact| -> Vec<String> {
        a.identifier_calls
            .iter()
            .map(|c| format!("{} [{}]", c.api, c.identifiers.join(",")))
            .collect()
    };
    [
        scalar_change("version", version(o), version(n)),
        scalar_change(
            "signer",
            o.signer.clone().unwrap_or_default(),
            n.signer.clone().unwrap_or_default(),
        ),
        scalar_change(
            "apk",
            o.apk_sha256.clone().unwrap_or_default(),
            n.apk_sha256.clone().unwrap_or_default(),
        ),
        set_change("permissions", &o.permissions, &n.permissions),
        set_change("identifier_calls", &calls(o), &calls(n)),
        set_change("endpoints", &o.endpoints, &n.endpoints),
        set_change("trackers", &o.trackers, &n.trackers),
        scalar_change(
            "debuggable",
            o.debuggable.to_string(),
            n.debuggable.to_string(),
        ),
        scalar_change(
            "cleartext",
            format!("{} {:?}", o.allows_cleartext, o.cleartext_domains),
            format!("{} {:?}", n.allows_cleartext, n.cleartext_domains),
        ),
        scalar_change(
            "privileged",
            format!("{} {}", o.privileged, o.platform_signed),
            format!("{} {}", n.privileged, n.platform_signed),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn view(v: &serde_json::Value, which: &'static str) -> Result<View, DiffError> {
    if !v.is_object() {
        return Err(DiffError::Malformed {
            at: 0,
            which,
            what: "not a report.json object",
            detail: String::new(),
        });
    }
    serde_json::from_value(v.clone()).map_err(|e| DiffError::Malformed {
        at: 0,
        which,
        what: "not a phonecert report.json",
        detail: e.to_string(),
    })
}

fn dest_key(d: &DestFact) -> String {
    format!("{}:{}/{}", d.name(), d.port, d.protocol)
}

/// Compares two report.json values.
pub fn diff(old: &serde_json::Value, new: &serde_json::Value) -> Result<DiffReport, DiffError> {
    let o = view(old, "old")?;
    let n = view(new, "new")?;
    Ok(diff_views(&o, &n))
}

/// Compares two audits.
pub fn diff_reports(old: &AuditReport, new: &AuditReport) -> DiffReport {
    let to_view = |r: &AuditReport| View {
        firmware: r.firmware.as_ref().map(|f| FwView {
            apps: f.apps.clone(),
            build: f.build.clone(),
        }),
        traffic: r.traffic.as_ref().map(|t| TrView {
            destinations: t.destinations.clone(),
        }),
        results: r
            .results
            .iter()
            .map(|x| ResView {
                requirement: x.requirement.clone(),
                check: x.check.clone(),
            })
            .collect(),
        firmware_digest: r.firmware_digest.clone(),
    };
    diff_views(&to_view(old), &to_view(new))
}

fn diff_views(o: &View, n: &View) -> DiffReport {
    let apps = |v: &View| -> BTreeMap<String, AppFact> {
        v.firmware
            .iter()
            .flat_map(|f| f.apps.iter())
            .map(|a| (a.key().to_string(), a.clone()))
            .collect()
    };
    let (oa, na) = (apps(o), apps(n));
    let mut d = DiffReport {
        firmware_digest: (o.firmware_digest.clone(), n.firmware_digest.clone()),
        ..DiffReport::default()
    };
    // kind → reasons, to map onto requirements at the end.
    let mut reasons: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut note = |kind: &str, why: String| {
        for c in checks_for(kind) {
            reasons.entry(c).or_default().insert(why.clone());
        }
    };
    for (k, a) in &na {
        match oa.get(k) {
            None => {
                d.apps_added.push(k.clone());
                note("app_added", format!("app {k} added"));
            }
            Some(old) => {
                let changes = app_changes(old, a);
                for c in &changes {
                    note(&c.kind, format!("{k}: {} changed", c.kind));
                }
                if !changes.is_empty() {
                    d.apps_changed.push(AppChange {
                        package: k.clone(),
                        changes,
                    });
                }
            }
        }
    }
    for k in oa.keys().filter(|k| !na.contains_key(*k)) {
        d.apps_removed.push(k.clone());
        note("app_removed", format!("app {k} removed"));
    }
    let build = |v: &View| {
        v.firmware
            .as_ref()
            .map(|f| f.build.clone())
            .unwrap_or_default()
    };
    let (ob, nb) = (build(o), build(n));
    for (what, a, b) in [
        ("fingerprint", &ob.fingerprint, &nb.fingerprint),
        ("build type", &ob.build_type, &nb.build_type),
        ("build tags", &ob.tags, &nb.tags),
        (
            "security patch level",
            &ob.security_patch,
            &nb.security_patch,
        ),
        ("ro.debuggable", &ob.debuggable, &nb.debuggable),
        ("ro.adb.secure", &ob.adb_secure, &nb.adb_secure),
    ] {
        if a != b {
            note(
                "build",
                format!(
                    "{what} changed: {} -> {}",
                    a.as_deref().unwrap_or("-"),
                    b.as_deref().unwrap_or("-")
                ),
            );
        }
    }
    if ob.avb != nb.avb {
        note("build", "verified boot metadata changed".into());
    }
    let dests = |v: &View| -> BTreeSet<String> {
        v.traffic
            .iter()
            .flat_map(|t| t.destinations.iter())
            .map(dest_key)
            .collect()
    };
    let od = dests(o);
    for k in dests(n).difference(&od) {
        d.new_destinations.push(k.clone());
        note("new_destination", format!("new destination {k}"));
    }
    let results = if n.results.is_empty() {
        &o.results
    } else {
        &n.results
    };
    for r in results {
        if let Some(why) = reasons.get(r.check.as_str()) {
            d.retest.push(Retest {
                requirement: r.requirement.clone(),
                because: why.iter().take(50).cloned().collect(),
            });
        }
    }
    d
}
