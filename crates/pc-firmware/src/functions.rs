//! Which basic function of the phone an app provides (settings, camera, dialer, SMS, ...), read
//! from what its components answer to. The patterns are data
//! (`data/rules/basic-functions.toml`); the rules on pre-installed apps ask which
//! non-removable apps are basic functions and which are not.

use pc_apk::manifest::{Component, ComponentKind, IntentFilter};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const EMBEDDED: &str = include_str!("../../../data/rules/basic-functions.toml");

/// A basic function an app provides, with the intent filter entry that shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AppFunction {
    /// `settings`, `file_manager`, `camera`, `phone`, `sms`, `contacts`, `browser`, `app_store`.
    pub name: String,
    /// The component and what it answers to, e.g. `com.acme.camera.Main answers
    /// android.media.action.IMAGE_CAPTURE`.
    pub because: String,
}

/// Errors in a functions file.
#[derive(Debug, thiserror::Error)]
#[error("basic functions, byte {at}: {detail}")]
pub struct FunctionsError {
    pub at: u64,
    pub detail: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pattern {
    action: Option<String>,
    category: Option<String>,
    scheme: Option<String>,
    mime: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Function {
    name: String,
    #[serde(rename = "match")]
    patterns: Vec<Pattern>,
}

/// The basic-function patterns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionRules {
    pub version: String,
    pub date: String,
    #[serde(rename = "function")]
    functions: Vec<Function>,
}

impl FunctionRules {
    /// The embedded rules.
    pub fn embedded() -> &'static FunctionRules {
        static RULES: OnceLock<FunctionRules> = OnceLock::new();
        RULES.get_or_init(|| {
            FunctionRules::parse(EMBEDDED).expect("data/rules/basic-functions.toml is valid")
        })
    }

    /// Parses a rules file; a pattern that names nothing is refused (it would match anything).
    pub fn parse(text: &str) -> Result<FunctionRules, FunctionsError> {
        let r: FunctionRules = toml::from_str(text).map_err(|e| FunctionsError {
            at: e.span().map_or(0, |s| s.start as u64),
            detail: e.message().to_string(),
        })?;
        for f in &r.functions {
            if f.patterns.is_empty()
                || f.patterns.iter().any(|p| {
                    p.action.is_none()
                        && p.category.is_none()
                        && p.scheme.is_none()
                        && p.mime.is_none()
                })
            {
                return Err(FunctionsError {
                    at: 0,
                    detail: format!("function {}: an empty pattern matches every app", f.name),
                });
            }
        }
        Ok(r)
    }

    /// The functions `components` provide, one entry per function (the first component and
    /// filter that show it), sorted by name.
    pub fn functions_of(&self, components: &[Component]) -> Vec<AppFunction> {
        let mut out: Vec<AppFunction> = Vec::new();
        for f in &self.functions {
            let hit = components
                .iter()
                .filter(|c| c.kind != ComponentKind::Provider && c.enabled)
                .find_map(|c| {
                    let p = f
                        .patterns
                        .iter()
                        .find(|p| c.intent_filters.iter().any(|i| matches(p, i)))?;
                    Some(format!("{} answers {}", c.name, describe(p)))
                });
            if let Some(because) = hit {
                out.push(AppFunction {
                    name: f.name.clone(),
                    because,
                });
            }
        }
        out.sort();
        out
    }
}

fn matches(p: &Pattern, i: &IntentFilter) -> bool {
    let has = |want: &Option<String>, list: &[String]| {
        want.as_ref().is_none_or(|w| list.iter().any(|x| x == w))
    };
    has(&p.action, &i.actions)
        && has(&p.category, &i.categories)
        && has(&p.scheme, &i.schemes)
        && has(&p.mime, &i.mime_types)
}

fn describe(p: &Pattern) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &p.action {
        parts.push(a.clone());
    }
    if let Some(c) = &p.category {
        parts.push(format!("category {c}"));
    }
    if let Some(s) = &p.scheme {
        parts.push(format!("scheme {s}:"));
    }
    if let Some(m) = &p.mime {
        parts.push(format!("type {m}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(name: &str, filters: Vec<IntentFilter>) -> Component {
        Component {
            kind: ComponentKind::Activity,
            name: name.into(),
            exported: true,
            exported_explicit: None,
            permission: None,
            has_intent_filter: !filters.is_empty(),
            enabled: true,
            target_activity: None,
            intent_filters: filters,
        }
    }

    fn filter(actions: &[&str], categories: &[&str], schemes: &[&str]) -> IntentFilter {
        IntentFilter {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            categories: categories.iter().map(|s| s.to_string()).collect(),
            schemes: schemes.iter().map(|s| s.to_string()).collect(),
            mime_types: vec![],
        }
    }

    #[test]
    fn functions_come_from_intent_filters() {
        let r = FunctionRules::embedded();
        let cam = activity(
            "com.acme.cam.Shoot",
            vec![filter(
                &["android.media.action.IMAGE_CAPTURE"],
                &["android.intent.category.DEFAULT"],
                &[],
            )],
        );
        let f = r.functions_of(&[cam]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].name, "camera");
        assert!(
            f[0].because
                .contains("com.acme.cam.Shoot answers android.media.action.IMAGE_CAPTURE")
        );
        // SENDTO needs the sms/smsto scheme: SENDTO mailto: is an e-mail app, not SMS.
        let mail = activity(
            "m.Compose",
            vec![filter(&["android.intent.action.SENDTO"], &[], &["mailto"])],
        );
        assert!(r.functions_of(&[mail]).is_empty());
        let sms = activity(
            "s.Compose",
            vec![filter(&["android.intent.action.SENDTO"], &[], &["smsto"])],
        );
        assert_eq!(r.functions_of(&[sms])[0].name, "sms");
        // A disabled component provides nothing.
        let mut off = activity(
            "d.Dial",
            vec![filter(&["android.intent.action.DIAL"], &[], &[])],
        );
        off.enabled = false;
        assert!(r.functions_of(&[off]).is_empty());
        // An app with no filter is no basic function.
        assert!(r.functions_of(&[activity("x.Main", vec![])]).is_empty());
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(
            FunctionRules::parse(
                "version = \"1\"\ndate = \"d\"\n[[function]]\nname = \"x\"\nmatch = [{}]\n"
            )
            .is_err()
        );
        assert!(FunctionRules::parse("version = \"1\"\n[[function]]\nname = 3\n").is_err());
        assert!(FunctionRules::parse("\u{0}garbage").is_err());
    }
}
