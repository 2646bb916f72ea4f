//! APK container formats, read the way Android reads them.
//!
//! * [`zip`]: the archive, trusting the central directory as Android's libziparchive does, with
//!   anomalies (duplicate names, local-header mismatches, prepended data as in Janus …) recorded.
//! * [`axml`]: Android binary XML (`AndroidManifest.xml`, `res/xml/*.xml`).
//! * [`arsc`]: `resources.arsc`, enough to resolve references (labels, version names, file paths).
//! * [`manifest`]: the facts phonecert needs from the manifest, plus the network security config.
//!
//! Nothing here knows about signatures (pc-apksig) or DEX (pc-dex). All inputs are hostile:
//! every parser is bounded and never panics.
#![forbid(unsafe_code)]

pub mod arsc;
pub mod attrs;
pub mod axml;
mod bytes;
pub mod manifest;
pub mod zip;
