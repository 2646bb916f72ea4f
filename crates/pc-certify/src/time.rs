//! UTC timestamps without a date library: Unix seconds ⇄ `YYYY-MM-DDTHH:MM:SSZ` / `YYYY-MM-DD`.

// The calendar arithmetic is the traffic engine's, so both stages agree on every date.
use pc_traffic::time::{civil_from_days, days_from_civil};

/// Whether a year is in the range we accept (keeps every computation far from overflow).
fn year_ok(y: i64) -> bool {
    (1970..=9999).contains(&y)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Formats Unix seconds as `YYYY-MM-DD`.
pub fn format_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SS[.frac]Z` into Unix seconds.
/// Offsets other than `Z` are rejected so that every stored time is unambiguous.
pub fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut it = date.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (i64::from(digits(y)?), digits(m)?, digits(d)?);
    if !year_ok(y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d).checked_mul(86_400)?;
    if let Some(t) = time {
        let t = t.strip_suffix(['Z', 'z'])?;
        let t = t.split_once('.').map_or(t, |(hms, frac)| {
            if digits(frac).is_some() || frac.is_empty() {
                hms
            } else {
                "invalid"
            }
        });
        let mut p = t.split(':');
        let (h, mi, se) = (p.next()?, p.next()?, p.next()?);
        if p.next().is_some() || h.len() != 2 || mi.len() != 2 || se.len() != 2 {
            return None;
        }
        let (h, mi, se) = (digits(h)?, digits(mi)?, digits(se)?);
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs = secs.checked_add(i64::from(h * 3600 + mi * 60 + se.min(59)))?;
    }
    Some(secs)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects() {
        let t = parse_utc("2026-02-28T23:59:59Z").unwrap();
        assert_eq!(format_utc(t), "2026-02-28T23:59:59Z");
        assert_eq!(format_utc(t + 1), "2026-03-01T00:00:00Z");
        assert_eq!(parse_utc("2024-02-29"), Some(1_709_164_800));
        assert_eq!(format_date(1_709_164_800), "2024-02-29");
        assert_eq!(parse_utc("1970-01-01T00:00:00.123Z"), Some(0));
        for bad in [
            "",
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "2026-01-01T25:00:00Z",
            "2026-01-01T10:00:00+02:00",
            "99999-01-01",
            "2026-01-01T10:00Z",
            "２０２６-01-01",
            "2026-01-01T10:00:00.xZ",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}
