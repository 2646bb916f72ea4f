//! The traffic engine: captures → flows → protocols → decoded payloads → identifier findings,
//! destinations, requests, DNS look-ups and TLS/QUIC handshakes.
//!
//! Each input file is read as a stream (constant memory) and analysed on its own thread; results
//! are merged, enriched with country and network owner, and sorted so that output is
//! deterministic.
#![forbid(unsafe_code)]

mod agg;
mod engine;
mod h1;
mod har;
pub mod model;
mod pcap;
mod seam;
pub mod time;

pub use engine::{Input, Options, TrafficError, analyze};
pub use model::*;
