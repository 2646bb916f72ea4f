//! The case file (`case.toml`): UTF-8 TOML text, checked whole with the `toml` crate (the head
//! check only looks at the first significant line, for [`super::sniff`]).

use std::io::Read;
use std::path::Path;

use super::error::{BundleError, file_len, io_err, open, shown};
use super::looks::{Problem, is_text, utf8_prefix};
use super::types::{At, BundleLimits, Listing, UploadKind};

/// The first significant line of a TOML document is a table header or a `key = value`.
pub(super) fn head(head: &[u8], whole: bool) -> Result<(), Problem> {
    let s = utf8_prefix(head, whole)
        .map_err(|at| Problem::Bad(format!("not UTF-8 text (byte {at})")))?;
    if !is_text(s) {
        return Err(Problem::Bad("contains control characters".into()));
    }
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let complete_lines = if whole {
        s
    } else {
        s.rsplit_once('\n').map_or("", |(a, _)| a)
    };
    for line in complete_lines.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let key_ok = t.split_once('=').is_some_and(|(k, _)| {
            let k = k.trim();
            !k.is_empty()
                && k.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '"' | '\'')
                })
        });
        if t.starts_with('[') || key_ok {
            return Ok(());
        }
        return Err(Problem::Bad(format!(
            "'{}' is neither a [table] header nor a key = value line",
            shown(t.as_bytes())
        )));
    }
    Ok(())
}

/// Reads a text upload whole, within the text size limit.
fn read_text(path: &Path, kind: UploadKind, limits: &BundleLimits) -> Result<Vec<u8>, BundleError> {
    let f = open(path)?;
    let max = limits.max_text_size;
    let too_large = || BundleError::TooLarge {
        what: format!("the {kind} file"),
        limit: max,
        at: At::file(0),
    };
    if file_len(&f)? > max {
        return Err(too_large());
    }
    let mut data = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io_err("reading the upload"))?;
    if data.len() as u64 > max {
        return Err(too_large());
    }
    Ok(data)
}

pub(super) fn check_case_toml(path: &Path, limits: &BundleLimits) -> Result<Listing, BundleError> {
    let kind = UploadKind::CaseToml;
    let data = read_text(path, kind, limits)?;
    let invalid = |at: usize, why: String| BundleError::Invalid {
        kind,
        at: At::file(at as u64),
        why,
    };
    let s = std::str::from_utf8(&data)
        .map_err(|e| invalid(e.valid_up_to(), "not UTF-8 text".into()))?;
    if let Some((i, _)) = s
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(invalid(
            i,
            "control characters are not allowed in TOML".into(),
        ));
    }
    let body = s.strip_prefix('\u{feff}').unwrap_or(s);
    if body.trim().is_empty() {
        return Err(invalid(0, "the file is empty".into()));
    }
    if let Err(e) = toml::from_str::<toml::Table>(body) {
        let skip = s.len() - body.len();
        let at = e.span().map_or(0, |r| r.start) + skip;
        let line = s.get(..at).map_or(0, |p| p.matches('\n').count()) + 1;
        return Err(invalid(
            at,
            format!("not valid TOML (line {line}): {}", e.message().trim()),
        ));
    }
    Ok(Listing::single(data.len() as u64))
}
