//! Checks that an identifier's value has its kind's shape (IMEI and ICCID Luhn check digits,
//! IMSI length, E.164 numbers, MACs, UUIDs), so that a typo is caught before a search that would
//! silently find nothing.

use crate::IdentifierKind;

/// A value that is not a valid identifier of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{label} {value} {why}")]
pub struct InvalidIdentifier {
    pub kind: IdentifierKind,
    /// The kind as people write it: "IMEI", "MAC", ...
    pub label: &'static str,
    pub value: String,
    /// Why, e.g. "fails the Luhn check".
    pub why: &'static str,
}

/// Whether the digits end in a valid Luhn check digit.
pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c.wrapping_sub(b'0'));
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks `value` against `kind`'s format. Kinds without a fixed format (serial, android_id,
/// email, location, custom) always pass; MEID is checked as before this module (by the
/// matcher's forms).
pub fn validate(kind: IdentifierKind, value: &str) -> Result<(), InvalidIdentifier> {
    let v = value.trim();
    let err = |label, why| InvalidIdentifier {
        kind,
        label,
        value: v.to_string(),
        why,
    };
    match kind {
        IdentifierKind::Imei => {
            if !digits(v) || !(v.len() == 14 || v.len() == 15) {
                return Err(err(
                    "IMEI",
                    "is not 15 digits (or 14 without the check digit)",
                ));
            }
            if v.len() == 15 && !luhn_ok(v) {
                return Err(err("IMEI", "fails the Luhn check"));
            }
        }
        IdentifierKind::Imsi if !digits(v) || v.len() != 15 => {
            return Err(err("IMSI", "is not 15 digits"));
        }
        IdentifierKind::Iccid => {
            if !digits(v) || !(19..=20).contains(&v.len()) {
                return Err(err("ICCID", "is not 19 or 20 digits"));
            }
            if !luhn_ok(v) {
                return Err(err("ICCID", "fails the Luhn check"));
            }
        }
        IdentifierKind::Msisdn => {
            let d = v.strip_prefix('+').unwrap_or(v);
            if !digits(d) || d.len() > 15 || d.len() < 3 {
                return Err(err(
                    "MSISDN",
                    "is not an E.164 number (+ and up to 15 digits)",
                ));
            }
        }
        IdentifierKind::WifiMac | IdentifierKind::BtMac => {
            let sep = if v.contains('-') { '-' } else { ':' };
            let parts: Vec<&str> = v.split(sep).collect();
            if parts.len() != 6 || !parts.iter().all(|p| hex(p, 2)) {
                return Err(err("MAC", "is not 6 hex octets separated by : or -"));
            }
        }
        IdentifierKind::AdvertisingId => {
            let parts: Vec<&str> = v.split('-').collect();
            let lens = [8, 4, 4, 4, 12];
            if parts.len() != 5 || !parts.iter().zip(lens).all(|(p, n)| hex(p, n)) {
                return Err(err(
                    "advertising ID",
                    "is not a UUID (8-4-4-4-12 hex digits)",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use IdentifierKind as K;

    #[test]
    fn kinds() {
        assert_eq!(
            validate(K::Imei, "490154203237512")
                .unwrap_err()
                .to_string(),
            "IMEI 490154203237512 fails the Luhn check"
        );
        assert!(validate(K::Imei, "490154203237518").is_ok());
        assert!(validate(K::Imei, "49015420323751").is_ok());
        assert!(validate(K::Imei, "4901542032375").is_err());
        assert!(validate(K::Imei, "49015420323751x").is_err());
        assert!(validate(K::Imsi, "208150123456789").is_ok());
        assert!(validate(K::Imsi, "20815012345678").is_err());
        assert!(validate(K::Iccid, "8933150319009875432").is_ok());
        assert!(validate(K::Iccid, "8933150319009875431").is_err());
        assert!(validate(K::Iccid, "893315031900987543").is_err());
        assert!(validate(K::Msisdn, "+33612345678").is_ok());
        assert!(validate(K::Msisdn, "33612345678").is_ok());
        assert!(validate(K::Msisdn, "+3361234567890123").is_err());
        assert!(validate(K::Msisdn, "+33 6 12").is_err());
        assert!(validate(K::WifiMac, "02:00:5e:10:00:01").is_ok());
        assert!(validate(K::BtMac, "02-00-5E-10-00-02").is_ok());
        assert!(validate(K::WifiMac, "02:00:5e:10:00").is_err());
        assert!(validate(K::WifiMac, "02:00:5e:10-00:01").is_err());
        assert!(validate(K::AdvertisingId, "1209d0b9-b959-42e6-b921-aa5d9d08c1af").is_ok());
        assert!(validate(K::AdvertisingId, "1209d0b9b95942e6b921aa5d9d08c1af").is_err());
        assert!(validate(K::Serial, "anything").is_ok());
    }
}
