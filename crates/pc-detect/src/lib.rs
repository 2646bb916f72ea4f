//! Identifier detection: forms, matcher, decoders, GeoIP.
//!
//! [`Matcher`] derives every form a unit identifier may travel in (separator and case variants,
//! national phone forms, URL encoding, base64 at every alignment, hex, MD5/SHA-1/SHA-256) and
//! searches them all with one Aho-Corasick automaton, over the raw payload and over URL- and
//! base64-decoded layers that cheap prefilters point at. [`snippet`] renders masked evidence;
//! [`geo`] does offline country and ASN look-ups; [`trackers`] holds the Exodus tracker list
//! and matches host names against its network signatures.
//!
//! Locations are searched as decimal-degree strings at 3 to 6 decimals (rounded and
//! truncated) and reported only when latitude and longitude both occur in one payload. The
//! trade-off: 3 decimals (~110 m) catch coarse reporting but a 5-6 character number such as
//! "2.352" also occurs by chance; requiring the pair, refusing a digit, '.' or '-' right before
//! the number, and refusing points near 0,0 keeps false positives rare, while numbers printed
//! with other precision (2 decimals, scientific notation) or as integers (micro-degrees) are
//! missed.
#![forbid(unsafe_code)]

mod arg;
mod forms;
pub mod geo;
pub mod ident;
pub mod lines;
mod mask;
mod matcher;
pub mod trackers;
pub mod valid;

pub use arg::{
    DEFAULT_LOCATION_RADIUS_M, IdArgError, id_arg_kind, parse_id_arg, parse_id_arg_forced,
};
pub use forms::{MAX_VALUE_LEN, MIN_VALUE_LEN, Skipped, calling_code_of};
pub use ident::{GeoPoint, Identifier, IdentifierKind, IdentifierValue};
pub use mask::{CONTEXT, snippet};
pub use matcher::{Hit, MAX_DEPTH, MAX_RAW_HITS, MIN_BASE64_RUN, Matcher, ScanOptions, Scanned};
pub use valid::{InvalidIdentifier, validate};
