//! Intent filters as aapt reads them: for every fixture APK with an intent filter, the actions,
//! categories, data schemes and MIME types of each component's filters agree with
//! `aapt dump xmltree` (tests/data/oracle/apk/aapt-xmltree/). aapt prints resource references
//! (`@0x7f...`) unresolved where we resolve them through resources.arsc; those values are
//! compared only when aapt gives the literal.

use pc_apk::manifest::{self, ComponentKind, IntentFilter};
use pc_apk::zip::Archive;
use std::path::Path;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

/// One component's filters as aapt shows them: (component tag, filters).
type Oracle = Vec<(String, Vec<Filter>)>;

#[derive(Debug, Default, Clone, PartialEq)]
struct Filter {
    actions: Vec<String>,
    categories: Vec<String>,
    /// Literal schemes and MIME types, and how many were references aapt did not resolve.
    schemes: Vec<String>,
    mime_types: Vec<String>,
    unresolved: usize,
}

/// The literal value of an `A: android:name(0x...)="..." (Raw: ...)` line, or None for a
/// reference (`=@0x7f...`).
fn literal(line: &str) -> Option<String> {
    let (_, v) = line.split_once(")=")?;
    let v = v.strip_prefix('"')?;
    Some(v[..v.find('"')?].to_string())
}

fn parse_aapt(text: &str) -> Oracle {
    let mut out: Oracle = Vec::new();
    let mut in_app = false;
    // (indent, element) stack.
    let mut stack: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("E: ") {
            let tag = rest.split_whitespace().next().unwrap_or("").to_string();
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            stack.push((indent, tag.clone()));
            let parent = stack.iter().rev().nth(1).map(|(_, t)| t.as_str());
            if tag == "application" {
                in_app = true;
            }
            if in_app
                && parent == Some("application")
                && matches!(
                    tag.as_str(),
                    "activity" | "activity-alias" | "service" | "receiver" | "provider"
                )
            {
                out.push((tag.clone(), Vec::new()));
            }
            if tag == "intent-filter"
                && stack.iter().rev().nth(2).map(|(_, t)| t.as_str()) == Some("application")
                && let Some(c) = out.last_mut()
            {
                c.1.push(Filter::default());
            }
        } else if let Some(attr) = t.strip_prefix("A: ") {
            let Some((_, el)) = stack.last() else {
                continue;
            };
            let in_filter =
                stack.iter().rev().nth(1).map(|(_, t)| t.as_str()) == Some("intent-filter");
            if !in_filter {
                continue;
            }
            let Some(f) = out.last_mut().and_then(|c| c.1.last_mut()) else {
                continue;
            };
            let v = literal(attr);
            match (el.as_str(), attr.split('(').next().unwrap_or("")) {
                ("action", "android:name") => f.actions.extend(v),
                ("category", "android:name") => f.categories.extend(v),
                ("data", "android:scheme") => match v {
                    Some(v) => f.schemes.push(v),
                    None => f.unresolved += 1,
                },
                ("data", "android:mimeType") => match v {
                    Some(v) => f.mime_types.push(v),
                    None => f.unresolved += 1,
                },
                _ => {}
            }
        }
    }
    out
}

fn tag(k: ComponentKind) -> &'static str {
    match k {
        ComponentKind::Activity => "activity",
        ComponentKind::ActivityAlias => "activity-alias",
        ComponentKind::Service => "service",
        ComponentKind::Receiver => "receiver",
        ComponentKind::Provider => "provider",
    }
}

fn agrees(ours: &IntentFilter, theirs: &Filter) -> bool {
    ours.actions == theirs.actions
        && ours.categories == theirs.categories
        && (theirs.unresolved > 0 || ours.schemes == theirs.schemes)
        && (theirs.unresolved > 0 || ours.mime_types == theirs.mime_types)
        && theirs.schemes.iter().all(|s| ours.schemes.contains(s))
        && theirs
            .mime_types
            .iter()
            .all(|m| ours.mime_types.contains(m))
}

#[test]
fn intent_filters_agree_with_aapt() {
    let dir = Path::new(DATA).join("oracle/apk/aapt-xmltree");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "oracle files missing: {}", files.len());
    let mut compared = 0usize;
    for o in files {
        let stem = o.file_stem().unwrap().to_string_lossy().into_owned();
        let (sub, apk) = stem.split_once("--").unwrap();
        let apk_path = Path::new(DATA)
            .join("apk")
            .join(sub)
            .join(format!("{apk}.apk"));
        let data = std::fs::read(&apk_path).unwrap();
        let Ok(a) = Archive::parse(&data) else {
            continue;
        };
        // A manifest Android refuses (Invalid.apk) has no facts to compare.
        let Ok(m) = manifest::from_archive(&a) else {
            continue;
        };
        let theirs = parse_aapt(&std::fs::read_to_string(&o).unwrap());
        // Our components are those with an android:name, in manifest order; aapt lists all.
        let ours: Vec<_> = m.manifest.components.iter().collect();
        let named: Vec<_> = theirs.iter().filter(|(_, f)| !f.is_empty()).collect();
        let with: Vec<_> = ours
            .iter()
            .filter(|c| !c.intent_filters.is_empty())
            .collect();
        assert_eq!(
            with.len(),
            named.len(),
            "{stem}: components with filters: ours {:?}",
            with.iter().map(|c| &c.name).collect::<Vec<_>>()
        );
        for (c, (t, fs)) in with.iter().zip(named) {
            assert_eq!(tag(c.kind), t, "{stem}: {}", c.name);
            assert_eq!(c.intent_filters.len(), fs.len(), "{stem}: {}", c.name);
            for (ours, theirs) in c.intent_filters.iter().zip(fs) {
                assert!(
                    agrees(ours, theirs),
                    "{stem}: {}: ours {ours:?} aapt {theirs:?}",
                    c.name
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 30, "only {compared} filters compared");
}

#[test]
fn the_filters_of_the_intent_filter_test_apk_resolve_references() {
    // aapt prints android:scheme=@0x7f0d0036 here; resources.arsc resolves it.
    let data =
        std::fs::read(Path::new(DATA).join("apk/androguard/com.test.intent_filter.apk")).unwrap();
    let m = manifest::from_archive(&Archive::parse(&data).unwrap()).unwrap();
    let f: Vec<&IntentFilter> = m
        .manifest
        .components
        .iter()
        .flat_map(|c| &c.intent_filters)
        .collect();
    assert!(f.iter().any(|f| {
        f.categories
            .iter()
            .any(|c| c == "android.intent.category.APP_BROWSER")
    }));
    let respond: Vec<_> = f
        .iter()
        .filter(|f| {
            f.actions
                .iter()
                .any(|a| a == "android.intent.action.RESPOND_VIA_MESSAGE")
        })
        .collect();
    assert!(!respond.is_empty());
    assert!(respond.iter().any(|f| !f.schemes.is_empty()), "{respond:?}");
}
