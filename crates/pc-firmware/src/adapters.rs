//! The code and signature seams implemented with this project's DEX parser (pc-dex) and APK
//! signature verifier (pc-apksig): what `phonecert apk` and `phonecert firmware` use.

use crate::facts::{CodeAnalyzer, CodeFacts, IdentifierCall, SignatureVerifier, SigningSummary};
use pc_apk::zip::Archive;
use pc_apksig::{ApkEntries, Scheme, VerifyOptions};
use pc_dex::Dex;
use pc_dex::rules::RuleSet;
use std::collections::BTreeMap;

/// DEX analysis: class names (for tracker signatures), strings (for endpoints) and
/// identifier-reading call sites from the rule file.
pub struct DexCode {
    rules: RuleSet,
}

impl DexCode {
    /// With the embedded identifier-API rules (`data/rules/identifier-apis.toml`).
    pub fn new() -> Self {
        DexCode {
            rules: RuleSet::embedded(),
        }
    }

    /// With another rule set.
    pub fn with_rules(rules: RuleSet) -> Self {
        DexCode { rules }
    }
}

impl Default for DexCode {
    fn default() -> Self {
        Self::new()
    }
}

impl CodeAnalyzer for DexCode {
    fn analyze(&self, dex_files: &[(String, Vec<u8>)]) -> CodeFacts {
        let mut facts = CodeFacts::default();
        // Several dex files may call the same API from the same caller: count them together.
        let mut calls: BTreeMap<(String, String), IdentifierCall> = BTreeMap::new();
        for (name, bytes) in dex_files {
            // A dex that does not parse contributes nothing; the app's other files still count.
            let Ok(sections) = Dex::parse_all(bytes) else {
                continue;
            };
            for dex in &sections {
                for class in dex.classes().flatten() {
                    facts.class_names.push(class.descriptor.into_owned());
                }
                facts
                    .strings
                    .extend(dex.strings().flatten().map(|s| s.into_owned()));
                if let Ok(found) = pc_dex::rules::find_calls(dex, name, &self.rules) {
                    for c in found {
                        let e = calls
                            .entry((c.api.clone(), c.caller.clone()))
                            .or_insert_with(|| IdentifierCall {
                                api: c.api.clone(),
                                caller: c.caller.clone(),
                                identifiers: c.identifiers.clone(),
                                count: 0,
                            });
                        e.count = e.count.saturating_add(c.count);
                    }
                }
            }
        }
        facts.identifier_calls = calls.into_values().collect();
        facts
    }
}

/// APK signature verification as Android does it (v1, v2, v3, v3.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApkSig;

struct Entries<'a, 'b>(&'b Archive<'a>);

impl ApkEntries for Entries<'_, '_> {
    fn names(&self) -> Vec<String> {
        self.0.entries().iter().map(|e| e.name.clone()).collect()
    }

    fn read(&self, name: &str, limit: u64) -> Option<Vec<u8>> {
        let e = self.0.find(name)?;
        self.0.read(e, limit).ok()
    }
}

fn scheme_name(s: Scheme) -> &'static str {
    match s {
        Scheme::V1 => "v1",
        Scheme::V2 => "v2",
        Scheme::V3 => "v3",
        Scheme::V31 => "v3.1",
    }
}

impl SignatureVerifier for ApkSig {
    fn verify(&self, apk: &[u8], archive: &Archive<'_>, min_sdk: Option<u32>) -> SigningSummary {
        let opts = VerifyOptions {
            min_sdk: min_sdk.unwrap_or(1).max(1),
            ..VerifyOptions::default()
        };
        let report = pc_apksig::verify(apk, &Entries(archive), &opts);
        let present: Vec<_> = report.schemes.iter().filter(|s| s.present).collect();
        // The effective signers when verified; otherwise whatever the newest present scheme
        // names, so that an unverified app still shows who claims to have signed it.
        let certs: Vec<&pc_apksig::CertInfo> = if report.signers.is_empty() {
            present
                .iter()
                .rev()
                .find(|s| !s.certificates.is_empty())
                .map(|s| s.certificates.iter().collect())
                .unwrap_or_default()
        } else {
            report.signers.iter().collect()
        };
        SigningSummary {
            verified: report.verified,
            schemes: present
                .iter()
                .map(|s| (scheme_name(s.scheme).to_string(), s.verified))
                .collect(),
            certificates: certs.iter().map(|c| c.sha256.clone()).collect(),
            platform_signed: false,
            test_key: certs.iter().find_map(|c| c.test_key.clone()),
            debug_cert: certs.iter().any(|c| c.debug),
        }
    }
}
