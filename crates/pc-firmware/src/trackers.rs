//! Exodus Privacy tracker detection, reproducing exodus-core's `detect_trackers`: the trackers
//! an app embeds, decided by *code* signatures only, as exodus-core decides them.
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
//! signature with the same search semantics (one [`SignatureSet`] over all class names).
//!
//! Network signatures are not claims: a host an app's strings mention is only annotated with
//! the trackers whose network signature it matches (`Endpoint::tracker_network`), and a
//! destination the phone contacted is annotated in the traffic report. Both read the list and
//! its network matcher from `pc_detect::trackers`.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use pc_detect::trackers::{SignatureSet, TrackerList, usable};
use regex::Regex;

pub use pc_detect::trackers::{Limits, Tracker, TrackerError};

/// A tracker an app embeds: a class of its code matched the tracker's code signature.
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
    /// The first matching class (Exodus form, in sorted order).
    pub evidence: String,
}

/// The list a [`TrackerDb`] reads: the embedded one, shared, or one loaded from a file.
enum List {
    Embedded(&'static TrackerList),
    Loaded(Box<TrackerList>),
}

/// The tracker list with its code signatures compiled.
pub struct TrackerDb {
    list: List,
    code: Option<SignatureSet>,
    /// Ids of trackers whose code signature the regex engine rejected: reported, not matched.
    pub skipped: Vec<u32>,
}

impl std::fmt::Debug for TrackerDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackerDb")
            .field("trackers", &self.len())
            .field("skipped", &self.skipped)
            .finish()
    }
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
            Self::from_list(List::Embedded(TrackerList::embedded())).unwrap_or(TrackerDb {
                list: List::Embedded(TrackerList::embedded()),
                code: None,
                skipped: Vec::new(),
            })
        })
    }

    /// Loads the Exodus `/api/trackers` shape (see [`TrackerList::from_json`]).
    pub fn from_json(bytes: &[u8]) -> Result<TrackerDb, TrackerError> {
        Self::from_json_with(bytes, Limits::default())
    }

    /// [`from_json`](Self::from_json) with explicit limits.
    pub fn from_json_with(bytes: &[u8], limits: Limits) -> Result<TrackerDb, TrackerError> {
        let list = TrackerList::from_json_with(bytes, limits)?;
        Self::from_list(List::Loaded(Box::new(list)))
    }

    fn from_list(list: List) -> Result<TrackerDb, TrackerError> {
        let l = match &list {
            List::Embedded(l) => *l,
            List::Loaded(l) => l,
        };
        let (code, rejected) =
            SignatureSet::compile(usable(l.trackers(), l.limits(), |t| &t.code_signature))?;
        let skipped = rejected
            .iter()
            .filter_map(|&i| l.trackers().get(i).map(|t| t.id))
            .collect();
        Ok(TrackerDb {
            list,
            code,
            skipped,
        })
    }

    /// The tracker list, with its network signatures (for annotating hosts).
    pub fn list(&self) -> &TrackerList {
        match &self.list {
            List::Embedded(l) => l,
            List::Loaded(l) => l,
        }
    }

    /// All trackers, by id.
    pub fn trackers(&self) -> &[Tracker] {
        self.list().trackers()
    }

    /// Number of trackers.
    pub fn len(&self) -> usize {
        self.list().len()
    }

    /// True when no tracker is loaded.
    pub fn is_empty(&self) -> bool {
        self.list().is_empty()
    }

    /// Trackers whose code signature matches a class name. Names may be descriptors, slash or
    /// dot names; they are normalised as Exodus does ([`exodus_class_name`]). Sorted by id.
    pub fn match_classes<'a>(&self, classes: impl Iterator<Item = &'a str>) -> Vec<TrackerHit> {
        let Some(code) = &self.code else {
            return Vec::new();
        };
        let limits = self.list().limits();
        let names: BTreeSet<String> = classes
            .take(limits.max_names)
            .filter(|c| c.len() <= limits.max_name_len)
            .filter_map(|c| exodus_class_name(c).map(Cow::into_owned))
            .collect();
        let mut hits: Vec<TrackerHit> = code
            .search(&names)
            .into_iter()
            .filter_map(|(ti, evidence)| {
                let t = self.trackers().get(ti)?;
                Some(TrackerHit {
                    id: t.id,
                    name: t.name.clone(),
                    website: t.website.clone(),
                    categories: t.categories.clone(),
                    evidence,
                })
            })
            .collect();
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
        // Code signatures only: a tracker's host named as a class is no claim.
        assert!(
            db.match_classes(["Lnet/doubleclick/googleads/g/X;"].into_iter())
                .is_empty()
        );
    }

    #[test]
    fn custom_db_and_short_signatures() {
        let j = br#"{"trackers":{"1":{"id":1,"name":"A","website":"","categories":["Ads"],
            "code_signature":"a.b.|x.y.z","network_signature":"a\\.com"},
            "2":{"id":2,"name":"Short","code_signature":"abc","network_signature":""},
            "3":{"id":3,"name":"Bad","code_signature":"((((","network_signature":""}}}"#;
        let db = TrackerDb::from_json(j).unwrap();
        assert_eq!(db.skipped, vec![3]);
        // '.' is a wildcard: a/b/ matches "a.b.".
        let h = db.match_classes(["La/b/C;", "Labc/D;"].into_iter());
        assert_eq!(h.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1]);
        assert!(TrackerDb::from_json(b"[]").is_err());
        assert!(TrackerDb::from_json(b"{\"trackers\":{\"x\":{}}}").is_err());
    }
}
