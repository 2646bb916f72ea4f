//! The case file's `[policy]` table: which recipients may receive which identifiers, and the
//! countries data may go to.
//!
//! ```toml
//! [policy]
//! allowed_countries = ["FR", "DE", "IE"]
//! [[policy.recipient]]
//! host = "*.acme-cloud.example"      # exact name, or *.suffix for any subdomain
//! identifiers = ["imei", "serial"]   # kinds it may receive; absent or empty: any
//! purpose = "warranty registration"
//! ```
//!
//! pc-case rejects unknown tables, so until it carries the table itself this module reads it
//! from the case file's text.

use serde::{Deserialize, Serialize};

/// Errors reading a policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("case file, byte {at}: {what}: {detail}")]
    Syntax {
        at: u64,
        what: &'static str,
        detail: String,
    },
    #[error("case file, byte {at}: {what}: {detail}")]
    Invalid {
        at: u64,
        what: &'static str,
        detail: String,
    },
}

/// A declared recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// Host name, or `*.suffix` for any subdomain of `suffix`.
    pub host: String,
    /// Identifier kinds it may receive (empty: any).
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// Why it receives them.
    #[serde(default)]
    pub purpose: Option<String>,
}

/// The declared data-flow policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// ISO 3166-1 alpha-2 codes data may be sent to. `None`: not declared.
    #[serde(default)]
    pub allowed_countries: Option<Vec<String>>,
    /// Declared recipients. `None`: not declared.
    #[serde(default, rename = "recipient")]
    pub recipients: Option<Vec<Recipient>>,
    /// Oldest security patch level accepted, in months before the audit date (the
    /// catalogue's number when not set).
    #[serde(default)]
    pub security_patch_max_age_months: Option<u32>,
}

/// Most recipients or countries in a policy.
pub const MAX_POLICY_ENTRIES: usize = 10_000;

impl Policy {
    /// Reads the `[policy]` table from a case file's text; `Ok(None)` when there is none.
    pub fn from_case_text(text: &str) -> Result<Option<Policy>, PolicyError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            at: e.span().map_or(0, |s| s.start as u64),
            what: "case file is not valid TOML",
            detail: e.message().to_string(),
        })?;
        match table.get("policy") {
            None => Ok(None),
            Some(v) => Policy::from_value(v.clone()).map(Some),
        }
    }

    /// Reads a policy from the `[policy]` table's value (for when pc-case carries it).
    pub fn from_value(v: toml::Value) -> Result<Policy, PolicyError> {
        let p: Policy = v
            .try_into()
            .map_err(|e: toml::de::Error| PolicyError::Syntax {
                at: 0,
                what: "bad [policy] table",
                detail: e.message().to_string(),
            })?;
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), PolicyError> {
        let invalid = |what: &'static str, detail: &str| PolicyError::Invalid {
            at: 0,
            what,
            detail: detail.chars().take(100).collect(),
        };
        let n = self.allowed_countries.as_ref().map_or(0, Vec::len)
            + self.recipients.as_ref().map_or(0, Vec::len);
        if n > MAX_POLICY_ENTRIES {
            return Err(invalid("too many policy entries", ""));
        }
        for c in self.allowed_countries.iter().flatten() {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(invalid(
                    "allowed_countries: use ISO 3166-1 alpha-2 codes",
                    c,
                ));
            }
        }
        for r in self.recipients.iter().flatten() {
            let h = r.host.trim_start_matches("*.");
            if h.is_empty() || h.contains('*') || h.contains(char::is_whitespace) {
                return Err(invalid(
                    "recipient host must be a name or *.suffix",
                    &r.host,
                ));
            }
        }
        Ok(())
    }

    /// Whether `host` matches a declared recipient allowed to receive `kind`; returns it.
    pub fn recipient_for(&self, host: &str, kind: &str) -> Option<&Recipient> {
        let host = normalize(host);
        self.recipients.iter().flatten().find(|r| {
            host_matches(&r.host, &host)
                && (r.identifiers.is_empty() || r.identifiers.iter().any(|i| i == kind))
        })
    }

    /// Whether some declared recipient matches `host` (whatever identifiers it may receive).
    pub fn declares_host(&self, host: &str) -> bool {
        let host = normalize(host);
        self.recipients
            .iter()
            .flatten()
            .any(|r| host_matches(&r.host, &host))
    }

    /// `Some(true/false)` when countries are declared, `None` when not.
    pub fn country_allowed(&self, country: &str) -> Option<bool> {
        self.allowed_countries
            .as_ref()
            .map(|l| l.iter().any(|c| c.eq_ignore_ascii_case(country)))
    }
}

fn normalize(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = normalize(pattern);
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = r#"
[device]
manufacturer = "Acme"
model = "A1"

[policy]
allowed_countries = ["FR", "de"]
[[policy.recipient]]
host = "*.acme-cloud.example"
identifiers = ["imei"]
[[policy.recipient]]
host = "time.acme.example."
"#;

    #[test]
    fn reads_policy_from_case_text() {
        let p = Policy::from_case_text(CASE).unwrap().unwrap();
        assert!(p.recipient_for("reg.acme-cloud.example", "imei").is_some());
        assert!(p.recipient_for("REG.Acme-Cloud.example.", "imei").is_some());
        assert!(p.recipient_for("reg.acme-cloud.example", "imsi").is_none());
        assert!(p.recipient_for("acme-cloud.example", "imei").is_none());
        assert!(p.recipient_for("evilacme-cloud.example", "imei").is_none());
        assert!(p.recipient_for("time.acme.example", "serial").is_some());
        assert!(p.declares_host("reg.acme-cloud.example"));
        assert_eq!(p.country_allowed("DE"), Some(true));
        assert_eq!(p.country_allowed("US"), Some(false));
        assert_eq!(
            Policy::from_case_text("[device]\nmodel = \"x\"").unwrap(),
            None
        );
        assert_eq!(Policy::default().country_allowed("FR"), None);
    }

    #[test]
    fn rejects_bad_policies() {
        for bad in [
            CASE.replace("\"FR\"", "\"FRA\""),
            CASE.replace("*.acme-cloud.example", "*"),
            CASE.replace("identifiers", "idents"),
            CASE.replace(
                "allowed_countries = [\"FR\", \"de\"]",
                "allowed_countries = 3",
            ),
            format!("policy = 3\n{CASE}").replace("[policy]\n", "[p]\n"),
            "[[[".to_string(),
        ] {
            assert!(Policy::from_case_text(&bad).is_err(), "{bad}");
        }
    }
}
