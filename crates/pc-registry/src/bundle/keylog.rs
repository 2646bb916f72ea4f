//! NSS key logs (`SSLKEYLOGFILE`): every line must be a key log line, with its number and offset
//! when it is not, and at least one must hold a secret.
//!
//! A line is first given to `pc_tlsdec::keylog`, the parser the analysis decrypts with: what it
//! reads is a key log line (its rules, such as Wireshark's trailing backslash, hold here too).
//! That parser never refuses anything (it skips and counts what it does not use), so it cannot
//! tell a key log from other text by itself: a line it skips is still accepted when it has the
//! key log shape, `LABEL <hex> <hex>`, since labels it does not use (ECH's, newer ones) and test
//! logs with short values are key logs all the same; anything else is refused.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use pc_tlsdec::keylog::KeyLog;

use super::error::{BundleError, file_len, io_err, open};
use super::looks::{Problem, utf8_prefix};
use super::types::{At, BUF, BundleLimits, Listing, UploadKind};

/// Longest key log line (a TLS 1.3 secret line is ~200 bytes; ECH lines are longer).
const MAX_KEYLOG_LINE: usize = 8 * 1024;

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One NSS key log line: blank, `# comment`, a line `pc_tlsdec` reads a secret from, or one of
/// the shape `LABEL <hex> <hex>` or the old `RSA Session-ID:<hex> Master-Key:<hex>`. Returns
/// Some(true) for a secret line.
fn keylog_line(line: &str) -> Option<bool> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Some(false);
    }
    if KeyLog::parse(t.as_bytes()).stats().secret_lines == 1 {
        return Some(true);
    }
    let mut parts = t.split_ascii_whitespace();
    let (Some(label), Some(a), Some(b), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if label == "RSA"
        && let (Some(a), Some(b)) = (a.strip_prefix("Session-ID:"), b.strip_prefix("Master-Key:"))
    {
        return (is_hex(a) && is_hex(b)).then_some(true);
    }
    let label_ok = label.len() <= 64
        && label
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_');
    (label_ok && is_hex(a) && is_hex(b)).then_some(true)
}

pub(super) fn head(head: &[u8], whole: bool) -> Result<(), Problem> {
    let s = utf8_prefix(head, whole)
        .map_err(|at| Problem::Bad(format!("not UTF-8 text (byte {at})")))?;
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let (complete, partial) = if whole {
        (s, "")
    } else {
        s.rsplit_once('\n').unwrap_or(("", s))
    };
    for (i, line) in complete.lines().enumerate() {
        if keylog_line(line).is_none() {
            return Err(Problem::Bad(format!(
                "line {} is not a key log line ('LABEL <hex> <hex>' or a '#' comment)",
                i + 1
            )));
        }
    }
    // The line cut by the end of the head: only its characters can be judged.
    let t = partial.trim_start();
    let partial_ok = t.starts_with('#')
        || t.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b' ' | b'\t' | b'\r')
        });
    if partial_ok {
        Ok(())
    } else {
        Err(Problem::Bad("the text is not an NSS key log".into()))
    }
}

pub(super) fn check_keylog(path: &Path, limits: &BundleLimits) -> Result<Listing, BundleError> {
    let kind = UploadKind::KeyLog;
    let f = open(path)?;
    let len = file_len(&f)?;
    if len > limits.max_text_size {
        return Err(BundleError::TooLarge {
            what: "the key log".into(),
            limit: limits.max_text_size,
            at: At::file(0),
        });
    }
    let mut r = BufReader::with_capacity(BUF, f.take(limits.max_text_size));
    let mut line = Vec::new();
    let (mut offset, mut number, mut secrets) = (0u64, 0u64, 0u64);
    loop {
        line.clear();
        let k = (&mut r)
            .take(MAX_KEYLOG_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(io_err("reading the upload"))?;
        if k == 0 {
            break;
        }
        number += 1;
        let invalid = |why: String| BundleError::Invalid {
            kind,
            at: At::file(offset),
            why,
        };
        if k > MAX_KEYLOG_LINE {
            return Err(invalid(format!(
                "line {number} is longer than {MAX_KEYLOG_LINE} bytes"
            )));
        }
        let body = if number == 1 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&line)
        } else {
            &line
        };
        let text = std::str::from_utf8(body)
            .map_err(|_| invalid(format!("line {number} is not UTF-8 text")))?;
        match keylog_line(text) {
            Some(secret) => secrets += u64::from(secret),
            None => {
                return Err(invalid(format!(
                    "line {number} is not a key log line ('LABEL <hex> <hex>' or a '#' comment)"
                )));
            }
        }
        offset += k as u64;
    }
    if secrets == 0 {
        return Err(BundleError::Invalid {
            kind,
            at: At::file(0),
            why: "the key log holds no secrets".into(),
        });
    }
    Ok(Listing::single(len))
}
