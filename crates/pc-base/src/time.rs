//! UTC instants as numbers, and their RFC 3339 text at the edges, through one calendar.
//!
//! Packets carry Unix nanoseconds (`i64`), certificates, reviews and catalogues Unix seconds.
//! Parsing comes in two strictnesses on purpose: [`parse_rfc3339_nanos`] reads what capture
//! writers produce (any offset, optional seconds, `,` or `.` fractions), [`parse_utc`] reads
//! what this system stores and signs (only `Z`, or a plain date), so every stored time is
//! unambiguous. The calendar is proleptic Gregorian (Howard Hinnant's `days_from_civil`).

/// Days since 1970-01-01 to a proleptic Gregorian date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A proleptic Gregorian date to days since 1970-01-01 (the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS` of Unix seconds, the part every text form shares.
fn date_time(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Formats Unix nanoseconds as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub fn rfc3339_nanos(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    format!("{}.{:09}Z", date_time(secs), ns.rem_euclid(1_000_000_000))
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(secs: i64) -> String {
    format!("{}Z", date_time(secs))
}

/// Formats Unix seconds as `YYYY-MM-DD`.
pub fn format_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The decimal number in `b[from..from + len]`, all digits or nothing.
fn number(b: &[u8], from: usize, len: usize) -> Option<i64> {
    let d = b.get(from..from.checked_add(len)?)?;
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    d.iter().try_fold(0i64, |acc, &c| {
        acc.checked_mul(10)?.checked_add(i64::from(c - b'0'))
    })
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses an RFC 3339 / ISO 8601 date-time as capture writers spell it
/// (`2023-04-07T13:04:57.078662+00:00`, `...Z`, offsets with or without a colon, seconds
/// optional, no offset meaning UTC) into Unix nanoseconds.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let (year, month, day) = (number(b, 0, 4)?, number(b, 5, 2)?, number(b, 8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (number(b, 11, 2)?, number(b, 14, 2)?);
    let with_seconds = b.get(16) == Some(&b':');
    let second = if with_seconds { number(b, 17, 2)? } else { 0 };
    let mut at = if with_seconds { 19 } else { 16 };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut nanos = 0i64;
    if matches!(b.get(at), Some(b'.' | b',')) {
        at += 1;
        let mut digits = 0;
        while let Some(c) = b.get(at).filter(|c| c.is_ascii_digit()) {
            if digits < 9 {
                nanos = nanos * 10 + i64::from(c - b'0');
                digits += 1;
            }
            at += 1;
        }
        if digits == 0 {
            return None;
        }
        nanos *= 10i64.pow(9 - digits);
    }
    let offset_s = match b.get(at) {
        None => 0,
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = number(b, at + 1, 2)?;
            let om = match b.get(at + 3) {
                Some(b':') if at + 6 == b.len() => number(b, at + 4, 2)?,
                Some(_) if at + 5 == b.len() => number(b, at + 3, 2)?,
                None => 0,
                _ => return None,
            };
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SS[.frac]Z` into Unix seconds:
/// the forms this system stores. Years outside 1970–9999 and offsets other than `Z` are
/// refused, so every stored time is unambiguous and far from overflow.
pub fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (
        number(b, 0, 4)?,
        number(b, 5, 2)? as u32,
        number(b, 8, 2)? as u32,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d).checked_mul(86_400)?;
    if let Some(t) = time {
        let t = t.strip_suffix(['Z', 'z'])?;
        let hms = match t.split_once('.') {
            Some((hms, frac)) if frac.bytes().all(|c| c.is_ascii_digit()) => hms,
            Some(_) => return None,
            None => t,
        };
        let b = hms.as_bytes();
        if b.len() != 8 || b[2] != b':' || b[5] != b':' {
            return None;
        }
        let (h, mi, se) = (number(b, 0, 2)?, number(b, 3, 2)?, number(b, 6, 2)?);
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        // A leap second is stored as the last second of its minute.
        secs = secs.checked_add(h * 3600 + mi * 60 + se.min(59))?;
    }
    Some(secs)
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
    fn formats_known_instants() {
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
        // 2024-02-29T12:34:56.000000789Z (a leap day)
        assert_eq!(
            rfc3339_nanos(1_709_210_096_000_000_789),
            "2024-02-29T12:34:56.000000789Z"
        );
        assert_eq!(rfc3339_nanos(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_utc(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(format_date(1_709_164_800), "2024-02-29");
    }

    #[test]
    fn parses_capture_timestamps() {
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_nanos("2024-02-29T12:34:56.000000789Z"),
            Some(1_709_210_096_000_000_789)
        );
        assert_eq!(
            parse_rfc3339_nanos("2024-02-29T14:34:56.5+02:00"),
            Some(1_709_210_096_500_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2024-02-29T14:34:56,5+0200"),
            Some(1_709_210_096_500_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2024-02-29T12:34Z"),
            Some(1_709_210_040_000_000_000)
        );
        for bad in [
            "not a date",
            "2024-13-01T00:00:00Z",
            "2024-02-29T12:34:56.Z",
            "2024-02-29T12:34:56Zjunk",
            "2024-02-29T12:34:56+02:00x",
            "9999999-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn stored_forms_round_trip_and_reject() {
        let t = parse_utc("2026-02-28T23:59:59Z").unwrap();
        assert_eq!(format_utc(t), "2026-02-28T23:59:59Z");
        assert_eq!(format_utc(t + 1), "2026-03-01T00:00:00Z");
        assert_eq!(parse_utc("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse_utc("1970-01-01T00:00:00.123Z"), Some(0));
        assert_eq!(
            parse_utc("2016-12-31T23:59:60Z"),
            parse_utc("2016-12-31T23:59:59Z")
        );
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
            "1969-12-31",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    /// Days from 1970 to 2260 (nanoseconds in an i64 end in 2262) round-trip through both
    /// text forms, leap days and century years included.
    #[test]
    fn calendar_round_trips() {
        for day in (0..106_000).step_by(3) {
            let secs = day * 86_400 + 12 * 3600;
            assert_eq!(parse_utc(&format_utc(secs)), Some(secs));
            assert_eq!(
                parse_rfc3339_nanos(&rfc3339_nanos(secs * 1_000_000_000 + 5)),
                Some(secs * 1_000_000_000 + 5)
            );
        }
    }
}
