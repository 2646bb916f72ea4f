//! Reviews (`review.toml`): a reviewer's reasoned verdict on a requirement, shown beside the
//! automatic one and used for the decision.

use crate::outcome::Verdict;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// Largest review file accepted.
pub const MAX_REVIEW_BYTES: u64 = 1 << 20;
/// Most reviews in one file.
pub const MAX_REVIEWS: usize = 10_000;

/// One review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The requirement id.
    pub requirement: String,
    /// The reviewed verdict.
    pub verdict: Verdict,
    /// Why (required, shown in every report).
    pub reason: String,
    /// Who.
    pub reviewer: String,
    /// When (`YYYY-MM-DD`).
    pub date: String,
}

/// Errors reading reviews.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("review file, byte {at}: {what}: {detail}")]
    Syntax {
        at: u64,
        what: &'static str,
        detail: String,
    },
    #[error("review file, byte {at}: {what}: {detail}")]
    Invalid {
        at: u64,
        what: &'static str,
        detail: String,
    },
    #[error("review file, byte {at}: {what}")]
    TooLarge { at: u64, what: &'static str },
    #[error("review file, byte {at}: {what}: {source}")]
    Io {
        at: u64,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReviews {
    #[serde(default)]
    review: Vec<toml::Spanned<Review>>,
}

/// Reads at most `max` bytes of a UTF-8 file; `Err(None)` when it is larger.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<String, Option<std::io::Error>> {
    let f = std::fs::File::open(path).map_err(Some)?;
    let mut buf = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(Some)?;
    if buf.len() as u64 > max {
        return Err(None);
    }
    String::from_utf8(buf).map_err(|_| {
        Some(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8",
        ))
    })
}

/// Parses `review.toml` text: `[[review]]` tables with requirement, verdict, reason, reviewer,
/// date. Checks that reasons and reviewers are given and dates are valid; whether the
/// requirement exists is checked by the audit (reported as a warning).
pub fn parse_reviews(text: &str) -> Result<Vec<Review>, ReviewError> {
    if text.len() as u64 > MAX_REVIEW_BYTES {
        return Err(ReviewError::TooLarge {
            at: MAX_REVIEW_BYTES,
            what: "review text too large",
        });
    }
    let raw: RawReviews = toml::from_str(text).map_err(|e| ReviewError::Syntax {
        at: e.span().map_or(0, |s| s.start as u64),
        what: "not a valid review file",
        detail: e.message().to_string(),
    })?;
    if raw.review.len() > MAX_REVIEWS {
        return Err(ReviewError::TooLarge {
            at: 0,
            what: "too many reviews",
        });
    }
    let mut out = Vec::with_capacity(raw.review.len());
    for sp in raw.review {
        let at = sp.span().start as u64;
        let r = sp.into_inner();
        let invalid = |what: &'static str| ReviewError::Invalid {
            at,
            what,
            detail: r.requirement.chars().take(100).collect(),
        };
        if r.requirement.trim().is_empty() {
            return Err(invalid("review names no requirement"));
        }
        if r.reason.trim().is_empty() {
            return Err(invalid("review gives no reason"));
        }
        if r.reviewer.trim().is_empty() {
            return Err(invalid("review names no reviewer"));
        }
        if pc_base::time::parse_utc(&r.date).is_none() {
            return Err(invalid("review date must be YYYY-MM-DD"));
        }
        out.push(r);
    }
    Ok(out)
}

/// Reads and parses a review file.
pub fn load_reviews(path: &Path) -> Result<Vec<Review>, ReviewError> {
    let text = read_capped(path, MAX_REVIEW_BYTES).map_err(|e| match e {
        Some(source) => ReviewError::Io {
            at: 0,
            what: "cannot read review file",
            source,
        },
        None => ReviewError::TooLarge {
            at: MAX_REVIEW_BYTES,
            what: "review file too large",
        },
    })?;
    parse_reviews(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[review]]
requirement = "PCB-APP-05"
verdict = "PASS"
reason = "Crash reporting SDK only; no identifiers collected (vendor statement 2026-04-02)."
reviewer = "A. Martin"
date = "2026-05-02"
"#;

    #[test]
    fn parses_and_validates() {
        let r = parse_reviews(GOOD).unwrap();
        assert_eq!(r[0].verdict, Verdict::Pass);
        assert!(parse_reviews("").unwrap().is_empty());
        for (bad, what) in [
            (GOOD.replace("\"PASS\"", "\"OK\""), "not a valid"),
            (GOOD.replace("A. Martin", " "), "no reviewer"),
            (GOOD.replace("reason = \"Crash", "reason = \" \"\nx = \"Crash"), "not a valid"),
            (GOOD.replace("2026-05-02", "02/05/2026"), "date"),
            (GOOD.replace("Crash reporting SDK only; no identifiers collected (vendor statement 2026-04-02).", ""), "no reason"),
        ] {
            let e = parse_reviews(&bad).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
        for cut in 0..GOOD.len() {
            let _ = parse_reviews(&GOOD[..cut]);
        }
    }
}
