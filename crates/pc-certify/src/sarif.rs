//! SARIF 2.1.0 output: one rule per requirement, one result per FAIL or INCONCLUSIVE
//! requirement (automatic or reviewed); automatic findings a reviewer overrode to PASS are kept
//! as suppressed results.

use crate::audit::{AuditReport, RequirementResult};
use crate::catalogue::Level;
use crate::outcome::Verdict;
use serde_json::{Value, json};

/// The schema URI written in `$schema`.
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

fn uri(path: &str) -> String {
    // A relative URI reference: percent-encode everything but unreserved characters and '/'.
    let mut s = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn level(r: &RequirementResult, v: Verdict) -> (&'static str, &'static str) {
    // SARIF §3.27.9: a result whose kind is not "fail" must have level "none".
    match (v, r.level) {
        (Verdict::Fail, Level::Mandatory) => ("fail", "error"),
        (Verdict::Fail, Level::Recommended) => ("fail", "warning"),
        _ => ("review", "none"),
    }
}

fn result(idx: usize, r: &RequirementResult) -> Option<Value> {
    let auto = r.automatic.verdict;
    let fin = r.verdict;
    let shown = if matches!(fin, Verdict::Fail | Verdict::Inconclusive) {
        fin
    } else if matches!(auto, Verdict::Fail | Verdict::Inconclusive) && r.review.is_some() {
        auto
    } else {
        return None;
    };
    let (kind, lvl) = level(r, shown);
    let mut locations = Vec::new();
    let mut logical = Vec::new();
    for e in r.automatic.evidence.iter().take(50) {
        if let Some(c) = &e.capture {
            locations.push(json!({
                "physicalLocation": { "artifactLocation": { "uri": uri(c) } },
                "message": { "text": e.description },
            }));
        } else if let Some(a) = &e.app {
            logical.push(json!({ "name": a, "kind": "module" }));
        } else if let Some(h) = &e.host {
            logical.push(json!({ "name": h, "kind": "resource" }));
        }
    }
    if !logical.is_empty() {
        logical.sort_by_key(|v| v.to_string());
        logical.dedup();
        locations.push(json!({ "logicalLocations": logical }));
    }
    let mut text = format!("{} {}: {}", r.requirement, shown, r.automatic.summary);
    if let Some(rv) = &r.review {
        text.push_str(&format!(
            " Reviewed {} by {} on {}: {}",
            rv.verdict, rv.reviewer, rv.date, rv.reason
        ));
    }
    let mut res = json!({
        "ruleId": r.requirement,
        "ruleIndex": idx,
        "kind": kind,
        "level": lvl,
        "message": { "text": text },
        "locations": locations,
        "properties": {
            "automaticVerdict": auto.as_str(),
            "finalVerdict": fin.as_str(),
            "evidence": r.automatic.evidence.iter().map(|e| e.description.clone()).collect::<Vec<_>>(),
        },
    });
    if fin != shown
        && let (Some(rv), Some(obj)) = (&r.review, res.as_object_mut())
    {
        obj.insert(
            "suppressions".into(),
            json!([{
                "kind": "external",
                "status": "accepted",
                "justification": format!("{} ({}, {}): {}", rv.verdict, rv.reviewer, rv.date, rv.reason),
            }]),
        );
    }
    Some(res)
}

/// The SARIF log of an audit.
pub fn sarif(report: &AuditReport) -> Value {
    let rules: Vec<Value> = report
        .results
        .iter()
        .map(|r| {
            json!({
                "id": r.requirement,
                "name": r.check,
                "shortDescription": { "text": r.title },
                "fullDescription": { "text": format!("{} References: {}.", r.title, r.references.join(", ")) },
                "defaultConfiguration": {
                    "level": if r.level == Level::Mandatory { "error" } else { "warning" }
                },
                "properties": {
                    "tags": r.references,
                    "level": r.level.as_str(),
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| result(i, r))
        .collect();
    // run.artifacts must hold unique items: one per distinct input path.
    let mut seen = std::collections::BTreeSet::new();
    let artifacts: Vec<Value> = report
        .inputs
        .iter()
        .filter(|i| seen.insert(i.path.clone()))
        .map(|i| {
            let mut a = json!({
                "location": { "uri": uri(&i.path) },
                "roles": ["analysisTarget"],
            });
            if let (Some(h), Some(o)) = (&i.sha256, a.as_object_mut()) {
                o.insert("hashes".into(), json!({ "sha-256": h }));
            }
            a
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "rules": rules,
                "properties": {
                    "catalogue": report.catalogue.id,
                    "catalogueVersion": report.catalogue.version,
                },
            }},
            "invocations": [{ "executionSuccessful": true }],
            "artifacts": artifacts,
            "results": results,
            "properties": {
                "decision": report.summary.decision.as_str(),
                "device": format!("{} {}", report.case.manufacturer, report.case.model),
                "caseId": report.case.id,
                "generated": report.generated,
            },
        }],
    })
}

/// The SARIF log as text (pretty, trailing newline).
pub fn to_string(report: &AuditReport) -> String {
    let mut s = serde_json::to_string_pretty(&sarif(report)).unwrap_or_default();
    s.push('\n');
    s
}
