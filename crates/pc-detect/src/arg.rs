//! The command-line form of an identifier, `KIND=VALUE` (`custom:NAME=VALUE`,
//! `location=LAT,LON[,RADIUS_M]`), parsed into an [`Identifier`]. It lives here, beside the
//! kinds it names, so every front end (the CLI, scripts, tests) accepts the same spellings and
//! reports the same errors.

use std::str::FromStr;

use crate::valid::{InvalidIdentifier, validate};
use crate::{GeoPoint, Identifier, IdentifierKind, IdentifierValue};

/// Radius given to a location written without one (`location=LAT,LON`), in metres.
pub const DEFAULT_LOCATION_RADIUS_M: f64 = 1000.0;

/// Why an identifier argument was refused. The text does not repeat the argument: the caller
/// says which one (the CLI prints `--id ARG: ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdArgError {
    /// No `=` between kind and value.
    #[error("expected KIND=VALUE")]
    NoEquals,
    /// Nothing after the `=`.
    #[error("empty value")]
    EmptyValue,
    /// `custom:=VALUE`.
    #[error("custom:NAME needs a name")]
    NoCustomName,
    /// A kind that is not one of [`IdentifierKind::ALL`].
    #[error("unknown kind `{kind}` (one of {known}, or custom:NAME)")]
    UnknownKind {
        kind: String,
        /// The kind names, comma-separated, in [`IdentifierKind::ALL`] order.
        known: String,
    },
    /// A location that is not two or three decimal numbers.
    #[error("location is LAT,LON[,RADIUS_M]")]
    BadLocation,
    /// A value without its kind's shape (see [`crate::valid`]); `--force` searches it anyway.
    #[error("{0} (--force searches it anyway)")]
    Invalid(InvalidIdentifier),
}

/// Parses one `KIND=VALUE` argument. `n` is how many identifiers of the same kind come before
/// it (from the case file and earlier arguments): the first is named after its kind (`imei`),
/// later ones get a number (`imei2`, `imei3`). Custom identifiers are named by their NAME.
pub fn parse_id_arg(s: &str, n: usize) -> Result<Identifier, IdArgError> {
    let id = parse_id_arg_forced(s, n)?;
    if let IdentifierValue::Text(v) = &id.value {
        validate(id.kind, v).map_err(IdArgError::Invalid)?;
    }
    Ok(id)
}

/// [`parse_id_arg`] without the check of the value's shape (`--force`).
pub fn parse_id_arg_forced(s: &str, n: usize) -> Result<Identifier, IdArgError> {
    let (kind, value) = s.split_once('=').ok_or(IdArgError::NoEquals)?;
    if value.is_empty() {
        return Err(IdArgError::EmptyValue);
    }
    if let Some(name) = kind.strip_prefix("custom:") {
        if name.is_empty() {
            return Err(IdArgError::NoCustomName);
        }
        return Ok(Identifier::text(IdentifierKind::Custom, name, value));
    }
    let kind = IdentifierKind::parse(kind).ok_or_else(|| IdArgError::UnknownKind {
        kind: kind.to_string(),
        known: IdentifierKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let name = if n == 0 {
        kind.as_str().to_string()
    } else {
        format!("{}{}", kind.as_str(), n + 1)
    };
    if kind == IdentifierKind::Location {
        let parts: Vec<f64> = value
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| IdArgError::BadLocation)?;
        let (lat, lon, radius_m) = match parts[..] {
            [lat, lon] => (lat, lon, DEFAULT_LOCATION_RADIUS_M),
            [lat, lon, r] => (lat, lon, r),
            _ => return Err(IdArgError::BadLocation),
        };
        return Ok(Identifier {
            kind,
            name,
            value: IdentifierValue::Location(GeoPoint { lat, lon, radius_m }),
            calling_code: None,
        });
    }
    Ok(Identifier::text(kind, name, value))
}

/// The kind part of an argument as [`parse_id_arg`] counts it for `n` (everything before the
/// first `=`; the whole argument if there is none).
pub fn id_arg_kind(s: &str) -> &str {
    s.split('=').next().unwrap_or_default()
}

impl FromStr for Identifier {
    type Err = IdArgError;

    /// [`parse_id_arg`] for the first identifier of its kind.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_id_arg(s, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_arguments() {
        let id = parse_id_arg("imei=356938035643809", 0).unwrap();
        assert_eq!((id.kind, id.name.as_str()), (IdentifierKind::Imei, "imei"));
        assert_eq!(
            id.value,
            IdentifierValue::Text("356938035643809".to_string())
        );
        assert_eq!(
            parse_id_arg("imei=356938035643817", 1).unwrap().name,
            "imei2"
        );
        let c = parse_id_arg("custom:fb_anon_id=XZ9dd", 3).unwrap();
        assert_eq!(
            (c.kind, c.name.as_str()),
            (IdentifierKind::Custom, "fb_anon_id")
        );
        // Only the first '=' splits: the value may contain more.
        let e: Identifier = "email=a=b@example.org".parse().unwrap();
        assert_eq!(
            e.value,
            IdentifierValue::Text("a=b@example.org".to_string())
        );
        let l = parse_id_arg("location=48.85, 2.35", 0).unwrap();
        assert_eq!(
            l.value,
            IdentifierValue::Location(GeoPoint {
                lat: 48.85,
                lon: 2.35,
                radius_m: DEFAULT_LOCATION_RADIUS_M
            })
        );
        let r = parse_id_arg("location=1,2,50", 1).unwrap();
        assert_eq!(r.name, "location2");
        assert!(
            matches!(r.value, IdentifierValue::Location(GeoPoint { radius_m, .. }) if radius_m == 50.0)
        );
        assert_eq!(id_arg_kind("imei=1=2"), "imei");
        assert_eq!(id_arg_kind("imei"), "imei");
        assert!(parse_id_arg("imei=49015420323751", 0).is_ok());
        assert!(parse_id_arg_forced("imei=490154203237512", 0).is_ok());
    }

    #[test]
    fn bad_arguments() {
        assert_eq!(parse_id_arg("imei", 0), Err(IdArgError::NoEquals));
        assert_eq!(parse_id_arg("imei=", 0), Err(IdArgError::EmptyValue));
        assert_eq!(parse_id_arg("custom:=x", 0), Err(IdArgError::NoCustomName));
        assert_eq!(parse_id_arg("location=1", 0), Err(IdArgError::BadLocation));
        assert_eq!(
            parse_id_arg("location=1,x", 0),
            Err(IdArgError::BadLocation)
        );
        assert_eq!(
            parse_id_arg("location=1,2,3,4", 0),
            Err(IdArgError::BadLocation)
        );
        let e = parse_id_arg("color=blue", 0).unwrap_err().to_string();
        assert!(e.starts_with("unknown kind `color` (one of "), "{e}");
        // The message lists every kind, so a user sees what to write instead.
        for k in IdentifierKind::ALL {
            assert!(e.contains(k.as_str()), "{k:?} missing from {e}");
        }
        assert!(e.ends_with(", or custom:NAME)"), "{e}");
        assert_eq!(
            parse_id_arg("imei=490154203237512", 0)
                .unwrap_err()
                .to_string(),
            "IMEI 490154203237512 fails the Luhn check (--force searches it anyway)"
        );
        // Kinds are case-sensitive, as in case files.
        assert!(matches!(
            "IMEI=1".parse::<Identifier>(),
            Err(IdArgError::UnknownKind { .. })
        ));
    }
}
