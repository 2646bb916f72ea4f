//! The Exodus Privacy tracker list (`data/trackers/exodus_trackers.json`) and its network
//! signatures.
//!
//! Each tracker has a *code* signature (a regex over class names, what exodus-core uses to
//! decide that an app embeds the tracker: `pc-firmware`'s `trackers` module) and a *network*
//! signature (a regex over host names). A network signature says which hosts a tracker's
//! traffic goes to; it is broad (`\.google\.com` for "Google Ads", `\.facebook\.com` for six
//! Facebook SDKs), so it means something for a host the phone actually contacted (a traffic
//! destination), and is only a hint for a host name an app's strings merely mention. Both
//! uses read the list here: [`TrackerList::network_matches`].
//!
//! Signatures are matched with Python's `re.search` semantics, as Exodus does: a match may
//! start anywhere in the name. [`SignatureSet`] compiles many signatures into one
//! [`regex::RegexSet`] and runs it once over names joined by `\n` (`.` never matches `\n`, so
//! no match spans two names).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::{Regex, RegexSet, RegexSetBuilder};

/// Embedded copy of `data/trackers/exodus_trackers.json` (see its SOURCES.md).
pub const EMBEDDED: &[u8] = include_bytes!("../../../data/trackers/exodus_trackers.json");

/// Limits on a tracker list and on matching.
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

/// Errors loading a tracker list.
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

/// One tracker of the list.
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

/// Signatures compiled together, each owned by a tracker (an index into the list).
pub struct SignatureSet {
    set: RegexSet,
    /// Pattern index → tracker index.
    owner: Vec<usize>,
    /// Pattern index → the pattern alone (to find the evidence).
    single: Vec<Regex>,
}

impl std::fmt::Debug for SignatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureSet")
            .field("patterns", &self.owner.len())
            .finish()
    }
}

impl SignatureSet {
    /// Compiles `(tracker index, signature)` pairs. Signatures the regex engine rejects are
    /// left out and their tracker indexes returned, so the caller can report them; `None`
    /// when nothing compiled.
    pub fn compile(
        pats: impl IntoIterator<Item = (usize, String)>,
    ) -> Result<(Option<SignatureSet>, Vec<usize>), TrackerError> {
        let mut owner = Vec::new();
        let mut single = Vec::new();
        let mut srcs = Vec::new();
        let mut rejected = Vec::new();
        for (i, p) in pats {
            match Regex::new(&p) {
                Ok(r) => {
                    owner.push(i);
                    single.push(r);
                    srcs.push(p);
                }
                Err(_) => rejected.push(i),
            }
        }
        if srcs.is_empty() {
            return Ok((None, rejected));
        }
        let set = RegexSetBuilder::new(&srcs)
            .size_limit(256 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .map_err(|_| TrackerError::Compile {
                at: 0,
                what: "regex set too large",
            })?;
        Ok((Some(SignatureSet { set, owner, single }), rejected))
    }

    /// For every tracker with a signature matching some name: (tracker index, the first
    /// matching name in sorted order). Sorted by tracker index, one entry per tracker.
    pub fn search(&self, names: &BTreeSet<String>) -> Vec<(usize, String)> {
        if names.is_empty() {
            return Vec::new();
        }
        let mut hay = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
        for n in names {
            hay.push_str(n);
            hay.push('\n');
        }
        let mut hits = Vec::new();
        for pi in self.set.matches(&hay).iter() {
            let (Some(&ti), Some(re)) = (self.owner.get(pi), self.single.get(pi)) else {
                continue;
            };
            if let Some(evidence) = names.iter().find(|n| re.is_match(n)) {
                hits.push((ti, evidence.clone()));
            }
        }
        hits.sort();
        hits.dedup_by_key(|h| h.0);
        hits
    }

    /// Tracker indexes whose signature matches `name`, sorted, each once.
    pub fn owners_of(&self, name: &str) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .set
            .matches(name)
            .iter()
            .filter_map(|pi| self.owner.get(pi).copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The tracker list with its network signatures compiled.
pub struct TrackerList {
    trackers: Vec<Tracker>,
    network: Option<SignatureSet>,
    /// Ids of trackers whose network signature the regex engine rejected: reported, not
    /// matched.
    pub skipped: Vec<u32>,
    limits: Limits,
}

impl std::fmt::Debug for TrackerList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackerList")
            .field("trackers", &self.trackers.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl TrackerList {
    /// The embedded Exodus snapshot, loaded and compiled once.
    pub fn embedded() -> &'static TrackerList {
        static LIST: OnceLock<TrackerList> = OnceLock::new();
        LIST.get_or_init(|| {
            TrackerList::from_json(EMBEDDED).unwrap_or_else(|_| TrackerList {
                trackers: Vec::new(),
                network: None,
                skipped: Vec::new(),
                limits: Limits::default(),
            })
        })
    }

    /// Loads the Exodus `/api/trackers` shape: `{"trackers": {"<id>": {id, name, website,
    /// categories, code_signature, network_signature, ...}}}`.
    pub fn from_json(bytes: &[u8]) -> Result<TrackerList, TrackerError> {
        Self::from_json_with(bytes, Limits::default())
    }

    /// [`from_json`](Self::from_json) with explicit limits.
    pub fn from_json_with(bytes: &[u8], limits: Limits) -> Result<TrackerList, TrackerError> {
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
        let pats = usable(&trackers, &limits, |t| &t.network_signature);
        let (network, rejected) = SignatureSet::compile(pats)?;
        let skipped = rejected
            .iter()
            .filter_map(|&i| trackers.get(i).map(|t| t.id))
            .collect();
        Ok(TrackerList {
            trackers,
            network,
            skipped,
            limits,
        })
    }

    /// All trackers, by id.
    pub fn trackers(&self) -> &[Tracker] {
        &self.trackers
    }

    /// The limits the list was loaded with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Number of trackers.
    pub fn len(&self) -> usize {
        self.trackers.len()
    }

    /// True when no tracker is loaded.
    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty()
    }

    /// Trackers whose network signature matches `host` (compared in lower case, with a
    /// trailing dot removed), by id. This says the host is one the tracker's traffic goes
    /// to, not that an app embeds the tracker.
    pub fn network_matches(&self, host: &str) -> Vec<&Tracker> {
        let Some(set) = &self.network else {
            return Vec::new();
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty() || host.len() > self.limits.max_name_len || host.contains('\n') {
            return Vec::new();
        }
        set.owners_of(&host.to_ascii_lowercase())
            .into_iter()
            .filter_map(|i| self.trackers.get(i))
            .collect()
    }

    /// Names of the trackers whose network signature matches any of `hosts`, sorted by
    /// tracker id, each once.
    pub fn network_names<'a>(&self, hosts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut by_id: Vec<&Tracker> = hosts
            .into_iter()
            .flat_map(|h| self.network_matches(h))
            .collect();
        by_id.sort_by_key(|t| t.id);
        by_id.dedup_by_key(|t| t.id);
        by_id.into_iter().map(|t| t.name.clone()).collect()
    }
}

/// `(tracker index, signature)` of the signatures Exodus uses: exodus-core keeps only
/// signatures longer than 3 characters (`len(signature) > 3`); longer than the limit are
/// not compiled.
pub fn usable<'a>(
    trackers: &'a [Tracker],
    limits: &'a Limits,
    field: impl Fn(&Tracker) -> &String + 'a,
) -> impl Iterator<Item = (usize, String)> + 'a {
    trackers.iter().enumerate().filter_map(move |(i, t)| {
        let sig = field(t);
        (sig.chars().count() > 3 && sig.len() <= limits.max_signature_len).then(|| (i, sig.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_network_signatures() {
        let list = TrackerList::embedded();
        assert_eq!(list.len(), 432);
        assert!(list.skipped.is_empty(), "{:?}", list.skipped);
        let names = |h| {
            list.network_matches(h)
                .iter()
                .map(|t| t.name.clone())
                .collect::<Vec<_>>()
        };
        assert!(names("googleads.g.doubleclick.net").contains(&"Google AdMob".to_string()));
        assert_eq!(names("WWW.Google-Analytics.com."), vec!["Google Analytics"]);
        assert!(names("example.org").is_empty());
        assert!(names("").is_empty());
        // Broad: any *.google.com host is "Google Ads" traffic.
        assert_eq!(names("issuetracker.google.com"), vec!["Google Ads"]);
        assert_eq!(
            list.network_names(["example.org", "ssl.google-analytics.com"]),
            vec!["Google Analytics"]
        );
    }

    #[test]
    fn custom_list_and_rejected_signatures() {
        let j = br#"{"trackers":{"2":{"id":2,"name":"B","network_signature":"b\\.net"},
            "1":{"id":1,"name":"A","network_signature":"a\\.com|b\\.net"},
            "3":{"id":3,"name":"Bad","network_signature":"(((("},
            "4":{"id":4,"name":"Short","network_signature":"a.c"}}}"#;
        let list = TrackerList::from_json(j).unwrap();
        assert_eq!(list.skipped, vec![3]);
        assert_eq!(list.network_names(["x.b.net"]), vec!["A", "B"]);
        // Short signatures are not used (exodus-core's `len > 3`).
        assert!(list.network_names(["abc"]).is_empty());
        assert!(TrackerList::from_json(b"[]").is_err());
        assert!(TrackerList::from_json(b"{\"trackers\":{\"x\":{}}}").is_err());
        let set = SignatureSet::compile([(0, "a.b".to_string()), (1, "zz+".to_string())])
            .unwrap()
            .0
            .unwrap();
        let names: BTreeSet<String> = ["xa/b", "q", "zzz"].map(String::from).into();
        assert_eq!(
            set.search(&names),
            vec![(0, "xa/b".to_string()), (1, "zzz".to_string())]
        );
    }
}
