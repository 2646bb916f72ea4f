//! Exodus Privacy tracker detection, reproducing exodus-core's `detect_trackers`.
//!
//! exodus-core (`static_analysis.py`, 1.3.x) builds its class list by running `dexdump` over
//! every `classes*.dex` and keeping, for each output line, the first match of the Perl regex
//! `[A-Z]+((?:\w+\/)+\w+)` (so `Lcom/foo/Bar$1;` becomes `com/foo/Bar`), then `sort | uniq`.
//! A tracker is present when `re.search(code_signature, class)` succeeds for some class, and
//! only signatures longer than 3 characters are used. In a signature `.` is the regex
//! wildcard, which is how dotted signatures (`com.google.ads.`) match slash-separated names.
//!
//! [`exodus_class_name`] applies that normalisation to a class name given as a descriptor
//! (`Lcom/foo/Bar;`), in slash form or in dot form, and [`TrackerDb::match_classes`] runs every
//! signature with the same search semantics: all signatures are compiled into one
//! [`regex::RegexSet`] run once over the class names joined by `\n` (`.` never matches `\n`,
//! so no match can span two names), and the few matching trackers are then searched name by
//! name for evidence.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::{Regex, RegexSet, RegexSetBuilder};

/// Embedded copy of `data/trackers/exodus_trackers.json` (see its SOURCES.md).
const EMBEDDED: &[u8] = include_bytes!("../../../data/trackers/exodus_trackers.json");

/// Limits on a tracker database and on matching.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most trackers loaded.
    pub max_trackers: usize,
    /// Longest signature compiled.
    pub max_signature_len: usize,
    /// Most class names (or hosts) examined per call.
    pub max_names: usize,
    /// Longest class name (or host) examined; longer ones are skipped.
    pub max_name_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_trackers: 10_000,
            max_signature_len: 16_384,
            max_names: 5_000_000,
            max_name_len: 4096,
        }
    }
}

/// Errors loading a tracker database.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    /// Not the Exodus JSON shape.
    #[error("bad tracker database at {at}: {what}")]
    Format {
        /// Byte offset, when known (0 otherwise).
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The combined signature set does not compile.
    #[error("tracker signatures do not compile (at {at}): {what}")]
    Compile {
        /// Always 0.
        at: u64,
        /// What failed.
        what: &'static str,
    },
}

/// One tracker of the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tracker {
    /// Exodus id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Website.
    pub website: Option<String>,
    /// Categories (Analytics, Advertisement, ...).
    pub categories: Vec<String>,
    /// Code signature (regex over class names).
    pub code_signature: String,
    /// Network signature (regex over host names).
    pub network_signature: String,
}

/// How a tracker was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// A class name matched the code signature.
    Code,
    /// A host matched the network signature.
    Network,
}

/// A detected tracker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrackerHit {
    /// Exodus id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Website.
    pub website: Option<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Code or network.
    pub matched_by: MatchedBy,
    /// The first matching class (Exodus form, in sorted order) or host.
    pub evidence: String,
}

struct Compiled {
    set: RegexSet,
    /// Pattern index → tracker index.
    owner: Vec<usize>,
    /// Pattern index → individual regex (for evidence).
    single: Vec<Regex>,
}

/// The tracker database with compiled signatures.
pub struct TrackerDb {
    trackers: Vec<Tracker>,
    code: Option<Compiled>,
    network: Option<Compiled>,
    /// Signatures that the regex engine rejected (tracker id, which): reported, not matched.
    pub skipped: Vec<(u32, MatchedBy)>,
    limits: Limits,
}

impl std::fmt::Debug for TrackerDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackerDb")
            .field("trackers", &self.trackers.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

fn compile(
    pats: Vec<(usize, String)>,
    skipped: &mut Vec<(u32, MatchedBy)>,
    trackers: &[Tracker],
    by: MatchedBy,
) -> Result<Option<Compiled>, TrackerError> {
    let mut owner = Vec::new();
    let mut single = Vec::new();
    let mut srcs = Vec::new();
    for (i, p) in pats {
        match Regex::new(&p) {
            Ok(r) => {
                owner.push(i);
                single.push(r);
                srcs.push(p);
            }
            Err(_) => skipped.push((trackers.get(i).map_or(0, |t| t.id), by)),
        }
    }
    if srcs.is_empty() {
        return Ok(None);
    }
    let set = RegexSetBuilder::new(&srcs)
        .size_limit(256 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .map_err(|_| TrackerError::Compile {
            at: 0,
            what: "regex set too large",
        })?;
    Ok(Some(Compiled { set, owner, single }))
}

/// exodus-core's class-name form of `name`: the first match of Perl's
/// `[A-Z]+((?:\w+\/)+\w+)` (ASCII `\w`) over the type descriptor. Accepts a descriptor
/// (`Lcom/foo/Bar$1;`), a slash name (`com/foo/Bar`) or a dot name (`com.foo.Bar$1`).
/// Names without a package give `None`, as they do in Exodus.
pub fn exodus_class_name(name: &str) -> Option<Cow<'_, str>> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| Regex::new(r"[A-Z]+((?:[0-9A-Za-z_]+/)+[0-9A-Za-z_]+)").ok())
        .as_ref()?;
    let descriptor: Cow<'_, str> = if name.starts_with('L') && name.ends_with(';') {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("L{};", name.replace('.', "/")))
    };
    let caps = re.captures(&descriptor)?;
    let m = caps.get(1)?;
    Some(match descriptor {
        Cow::Borrowed(d) => Cow::Borrowed(&d[m.range()]),
        Cow::Owned(_) => Cow::Owned(m.as_str().to_string()),
    })
}

impl TrackerDb {
    /// The embedded Exodus snapshot, compiled once.
    pub fn embedded() -> &'static TrackerDb {
        static DB: OnceLock<TrackerDb> = OnceLock::new();
        DB.get_or_init(|| {
            TrackerDb::from_json(EMBEDDED).unwrap_or_else(|_| TrackerDb {
                trackers: Vec::new(),
                code: None,
                network: None,
                skipped: Vec::new(),
                limits: Limits::default(),
            })
        })
    }

    /// Loads the Exodus `/api/trackers` shape: `{"trackers": {"<id>": {id, name, website,
    /// categories, code_signature, network_signature, ...}}}`.
    pub fn from_json(bytes: &[u8]) -> Result<TrackerDb, TrackerError> {
        Self::from_json_with(bytes, Limits::default())
    }

    /// [`from_json`](Self::from_json) with explicit limits.
    pub fn from_json_with(bytes: &[u8], limits: Limits) -> Result<TrackerDb, TrackerError> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| TrackerError::Format {
                at: e.column() as u64,
                what: "not JSON",
            })?;
        let map = v
            .get("trackers")
            .and_then(|t| t.as_object())
            .ok_or(TrackerError::Format {
                at: 0,
                what: "no \"trackers\" object",
            })?;
        let s = |t: &serde_json::Value, k: &str| {
            t.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let mut trackers = Vec::new();
        for (key, t) in map.iter().take(limits.max_trackers) {
            let id = t
                .get("id")
                .and_then(|x| x.as_u64())
                .or_else(|| key.parse().ok())
                .and_then(|x| u32::try_from(x).ok())
                .ok_or(TrackerError::Format {
                    at: 0,
                    what: "tracker without a numeric id",
                })?;
            trackers.push(Tracker {
                id,
                name: s(t, "name"),
                website: Some(s(t, "website")).filter(|w| !w.is_empty()),
                categories: t
                    .get("categories")
                    .and_then(|c| c.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                code_signature: s(t, "code_signature"),
                network_signature: s(t, "network_signature"),
            });
        }
        // Exodus iterates the API's dictionary, ordered by id.
        trackers.sort_by_key(|t| t.id);
        let mut skipped = Vec::new();
        // exodus-core: `len(tracker.code_signature) > 3`.
        let code_pats = trackers
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.code_signature.chars().count() > 3
                    && t.code_signature.len() <= limits.max_signature_len
            })
            .map(|(i, t)| (i, t.code_signature.clone()))
            .collect();
        let net_pats = trackers
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.network_signature.chars().count() > 3
                    && t.network_signature.len() <= limits.max_signature_len
            })
            .map(|(i, t)| (i, t.network_signature.clone()))
            .collect();
        let code = compile(code_pats, &mut skipped, &trackers, MatchedBy::Code)?;
        let network = compile(net_pats, &mut skipped, &trackers, MatchedBy::Network)?;
        Ok(TrackerDb {
            trackers,
            code,
            network,
            skipped,
            limits,
        })
    }

    /// All trackers, by id.
    pub fn trackers(&self) -> &[Tracker] {
        &self.trackers
    }

    /// Number of trackers.
    pub fn len(&self) -> usize {
        self.trackers.len()
    }

    /// True when no tracker is loaded.
    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty()
    }

    /// Trackers whose code signature matches a class name. Names may be descriptors, slash or
    /// dot names; they are normalised as Exodus does ([`exodus_class_name`]). Sorted by id.
    pub fn match_classes<'a>(&self, classes: impl Iterator<Item = &'a str>) -> Vec<TrackerHit> {
        let names: BTreeSet<String> = classes
            .take(self.limits.max_names)
            .filter(|c| c.len() <= self.limits.max_name_len)
            .filter_map(|c| exodus_class_name(c).map(Cow::into_owned))
            .collect();
        self.run(self.code.as_ref(), &names, MatchedBy::Code)
    }

    /// Trackers whose network signature matches a host name (compared in lower case).
    /// Exodus itself does not run network signatures statically; this applies the same
    /// `re.search` semantics to hosts found in the app. Sorted by id.
    pub fn match_hosts<'a>(&self, hosts: impl Iterator<Item = &'a str>) -> Vec<TrackerHit> {
        let names: BTreeSet<String> = hosts
            .take(self.limits.max_names)
            .filter(|h| h.len() <= self.limits.max_name_len && !h.contains('\n'))
            .map(str::to_ascii_lowercase)
            .collect();
        self.run(self.network.as_ref(), &names, MatchedBy::Network)
    }

    fn run(
        &self,
        compiled: Option<&Compiled>,
        names: &BTreeSet<String>,
        by: MatchedBy,
    ) -> Vec<TrackerHit> {
        let Some(c) = compiled else {
            return Vec::new();
        };
        if names.is_empty() {
            return Vec::new();
        }
        let mut hay = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
        for n in names {
            hay.push_str(n);
            hay.push('\n');
        }
        let mut hits = Vec::new();
        for pi in c.set.matches(&hay).iter() {
            let (Some(&ti), Some(re)) = (c.owner.get(pi), c.single.get(pi)) else {
                continue;
            };
            let Some(t) = self.trackers.get(ti) else {
                continue;
            };
            let Some(evidence) = names.iter().find(|n| re.is_match(n)) else {
                continue;
            };
            hits.push(TrackerHit {
                id: t.id,
                name: t.name.clone(),
                website: t.website.clone(),
                categories: t.categories.clone(),
                matched_by: by,
                evidence: evidence.clone(),
            });
        }
        hits.sort_by_key(|h| h.id);
        hits.dedup_by_key(|h| h.id);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exodus_normalisation() {
        let f = |s| exodus_class_name(s).map(|c| c.into_owned());
        assert_eq!(f("Lcom/foo/Bar$1;").as_deref(), Some("com/foo/Bar"));
        assert_eq!(f("com.foo.Bar$Inner").as_deref(), Some("com/foo/Bar"));
        assert_eq!(f("com/foo/Bar").as_deref(), Some("com/foo/Bar"));
        assert_eq!(f("Foo"), None);
        // Perl's greedy [A-Z]+ backtracks one letter: an upper-case package loses letters.
        assert_eq!(f("LCOM/foo/X;").as_deref(), Some("M/foo/X"));
    }

    #[test]
    fn embedded_db_matches_admob() {
        let db = TrackerDb::embedded();
        assert_eq!(db.len(), 432);
        assert!(db.skipped.is_empty(), "{:?}", db.skipped);
        let hits = db.match_classes(
            [
                "Lcom/google/android/gms/ads/AdView;",
                "com.example.Main",
                "Landroid/app/Activity;",
            ]
            .into_iter(),
        );
        let ids: Vec<u32> = hits.iter().map(|h| h.id).collect();
        assert_eq!(ids, vec![312]);
        assert_eq!(hits[0].evidence, "com/google/android/gms/ads/AdView");
        assert!(
            db.match_classes(["com.example.Main"].into_iter())
                .is_empty()
        );
        let net = db.match_hosts(["googleads.g.doubleclick.net", "example.org"].into_iter());
        assert!(net.iter().any(|h| h.name == "Google AdMob"), "{net:?}");
        assert!(net.iter().all(|h| h.matched_by == MatchedBy::Network));
    }

    #[test]
    fn custom_db_and_short_signatures() {
        let j = br#"{"trackers":{"1":{"id":1,"name":"A","website":"","categories":["Ads"],
            "code_signature":"a.b.|x.y.z","network_signature":"a\\.com"},
            "2":{"id":2,"name":"Short","code_signature":"abc","network_signature":""},
            "3":{"id":3,"name":"Bad","code_signature":"((((","network_signature":""}}}"#;
        let db = TrackerDb::from_json(j).unwrap();
        assert_eq!(db.skipped, vec![(3, MatchedBy::Code)]);
        // '.' is a wildcard: a/b/ matches "a.b.".
        let h = db.match_classes(["La/b/C;", "Labc/D;"].into_iter());
        assert_eq!(h.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1]);
        assert!(TrackerDb::from_json(b"[]").is_err());
        assert!(TrackerDb::from_json(b"{\"trackers\":{\"x\":{}}}").is_err());
    }
}
