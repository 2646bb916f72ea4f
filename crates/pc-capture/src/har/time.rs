//! `startedDateTime`: RFC 3339 / ISO 8601 date-times as HAR writers spell them.

use crate::Timestamp;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 / ISO 8601 date-time (`2023-04-07T13:04:57.078662+00:00`, `...Z`,
/// offsets with or without a colon; no offset means UTC) into nanoseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let d = b.get(from..from.checked_add(len)?)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        d.iter().try_fold(0i64, |acc, &c| {
            acc.checked_mul(10)?.checked_add(i64::from(c - b'0'))
        })
    };
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let hour = num(11, 2)?;
    let minute = num(14, 2)?;
    let second = if b.get(16) == Some(&b':') {
        num(17, 2)?
    } else {
        0
    };
    let mut at = if b.get(16) == Some(&b':') { 19 } else { 16 };
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
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset_s = match b.get(at) {
        None => 0,
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(at + 1, 2)?;
            let om = match b.get(at + 3) {
                Some(b':') if at + 6 == b.len() => num(at + 4, 2)?,
                Some(_) if at + 5 == b.len() => num(at + 3, 2)?,
                None => 0,
                _ => return None,
            };
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}
