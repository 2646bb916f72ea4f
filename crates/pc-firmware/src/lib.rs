//! Firmware analysis for phonecert: finds every pre-installed app in an extracted firmware
//! tree and reports, per app, its manifest facts, pre-granted permissions, signing,
//! identifier-reading code, trackers and endpoints, plus a device risk score.
//!
//! * [`tree`]: walks the firmware folder (apps, split sets, bundles, permission XML files).
//! * [`trackers`]: the trackers an app embeds, by Exodus code signatures exactly as exodus-core
//!   decides them (network signatures only annotate [`endpoints`]).
//! * [`endpoints`]: URLs, host names and IP literals in strings and native libraries.
//! * [`perms`]: the AOSP permission table and the phone-identifier permissions.
//! * [`risk`]: the Uraniborg-compatible device score and the identifier readers.
//! * [`facts`]: per-app facts and [`analyze_firmware`].
//!
//! DEX parsing (pc-dex) and signature verification (pc-apksig) are plugged in through
//! [`CodeAnalyzer`] and [`SignatureVerifier`].
#![forbid(unsafe_code)]

pub mod adapters;
pub mod endpoints;
pub mod facts;
pub mod firmware;
pub mod functions;
pub mod loose;
pub mod perms;
pub mod risk;
pub mod trackers;
pub mod tree;
pub mod xml;

pub use adapters::{ApkSig, DexCode};
pub use facts::{
    AppFacts, CodeAnalyzer, CodeFacts, IdentifierCall, NoCode, NoSignatures, SignatureVerifier,
    SigningSummary, analyze_apk, analyze_apk_with, analyze_app, analyze_app_in,
};
pub use firmware::{
    FirmwareProgress, FirmwareReport, Options, analyze_firmware, analyze_firmware_with,
    analyze_tree,
};
pub use loose::{LOOSE_PARTITION, loose_app_location, loose_app_locations};
pub use trackers::{TrackerDb, TrackerHit};
