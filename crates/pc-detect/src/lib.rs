//! Identifier detection: forms, matcher, decoders, GeoIP.
#![forbid(unsafe_code)]

pub mod ident;
pub use ident::{GeoPoint, Identifier, IdentifierKind, IdentifierValue};
