//! The bottom of the workspace: what every layer needs and no layer owns.
//!
//! - [`time`]: instants are numbers in memory (Unix nanoseconds for packets, Unix seconds for
//!   certificates and reviews); text appears only at the edges, in RFC 3339, through one calendar.
//! - [`atomic`]: a file is replaced whole or not at all, so no reader ever sees half a report.
//!
//! It depends on nothing, so format crates (pc-capture) and certification (pc-certify) can share
//! it without any import running upwards. Written here rather than taken from `chrono`/`time`:
//! the workspace needs four functions of proleptic-Gregorian arithmetic, not time zones.
#![forbid(unsafe_code)]

pub mod atomic;
pub mod time;
