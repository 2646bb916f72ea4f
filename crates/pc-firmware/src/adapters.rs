//! The code and signature seams implemented with this project's DEX parser (pc-dex) and APK
//! signature verifier (pc-apksig): what `phonecert apk` and `phonecert firmware` use.

use crate::facts::{CodeAnalyzer, CodeFacts, IdentifierCall, SignatureVerifier, SigningSummary};
use pc_apk::zip::Archive;
use pc_apksig::{ApkEntries, Scheme, VerifyOptions};
use pc_dex::Dex;
use pc_dex::rules::RuleSet;
use std::collections::BTreeMap;

/// Most bytes of class names and strings [`DexCode`] keeps per app (each counted with
/// [`TEXT_OVERHEAD`] more, for the `String` itself): a DEX of millions of one-byte strings
/// would otherwise hold many times its own size. Past it, the rest of the app's text is not
/// kept and a note says so (its identifier call sites are still found).
pub const MAX_CODE_TEXT: u64 = 256 << 20;

/// What a kept `String` costs besides its bytes (pointer, length, capacity).
pub const TEXT_OVERHEAD: u64 = 24;

/// DEX analysis: class names (for tracker signatures), strings (for endpoints) and
/// identifier-reading call sites from the rule file.
pub struct DexCode {
    rules: RuleSet,
    max_text: u64,
}

impl DexCode {
    /// With the embedded identifier-API rules (`data/rules/identifier-apis.toml`).
    pub fn new() -> Self {
        Self::with_rules(RuleSet::embedded())
    }

    /// With another rule set.
    pub fn with_rules(rules: RuleSet) -> Self {
        DexCode {
            rules,
            max_text: MAX_CODE_TEXT,
        }
    }

    /// With another bound on the text kept per app (see [`MAX_CODE_TEXT`]).
    pub fn with_max_text(mut self, bytes: u64) -> Self {
        self.max_text = bytes;
        self
    }
}

impl Default for DexCode {
    fn default() -> Self {
        Self::new()
    }
}

impl CodeAnalyzer for DexCode {
    fn add_dex(&self, name: &str, bytes: &[u8], facts: &mut CodeFacts) {
        // A dex that does not parse contributes nothing; the app's other files still count.
        let sections = match Dex::parse_all(bytes) {
            Ok(s) => s,
            Err(e) => {
                facts.notes.push(format!("{name}: not analysed: {e}"));
                return;
            }
        };
        let mut text = facts.text_bytes;
        let mut full = false;
        let mut keep = |s: String, out: &mut Vec<String>| {
            let t = text.saturating_add(s.len() as u64 + TEXT_OVERHEAD);
            if t > self.max_text {
                full = true;
            } else {
                text = t;
                out.push(s);
            }
        };
        for dex in &sections {
            for class in dex.classes().flatten() {
                keep(class.descriptor.into_owned(), &mut facts.class_names);
            }
            for s in dex.strings().flatten() {
                keep(s.into_owned(), &mut facts.strings);
            }
            if let Ok(found) = pc_dex::rules::find_calls(dex, name, &self.rules) {
                facts
                    .identifier_calls
                    .extend(found.into_iter().map(|c| IdentifierCall {
                        api: c.api,
                        caller: c.caller,
                        identifiers: c.identifiers,
                        count: c.count,
                        indirect: c.indirect,
                    }));
            }
        }
        facts.text_bytes = text;
        if full {
            facts.notes.push(format!(
                "{name}: class names and strings past {} bytes per app not kept (not matched \
                 against trackers or scanned for endpoints)",
                self.max_text
            ));
        }
    }

    fn finish(&self, facts: &mut CodeFacts) {
        // Several dex files may call the same API from the same caller: count them together
        // (direct and indirect calls apart).
        let mut calls: BTreeMap<(String, String, bool), IdentifierCall> = BTreeMap::new();
        for c in std::mem::take(&mut facts.identifier_calls) {
            match calls.entry((c.api.clone(), c.caller.clone(), c.indirect)) {
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let e = o.get_mut();
                    e.count = e.count.saturating_add(c.count);
                }
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(c);
                }
            }
        }
        facts.identifier_calls = calls.into_values().collect();
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
