//! The traffic engine: captures → flows → protocols → decoded payloads → identifier findings,
//! destinations, requests, DNS look-ups and TLS/QUIC handshakes.
//!
//! Each input is read as a stream (constant memory); inputs run side by side, and a large
//! capture is shared by several workers, by flow (`stream.rs`). Results are merged, enriched
//! with country and network owner, and sorted: the output is the same whatever the number of
//! threads. [`Engine::stream`] takes packets as they arrive, for live capture.
#![forbid(unsafe_code)]

mod agg;
mod ctx;
mod engine;
pub mod event;
mod h1;
mod har;
pub mod model;
pub mod ndjson;
mod packets;
mod report;
mod request;
mod result;
mod seam;
pub mod stream;

pub use engine::{Engine, Input, Options, TrafficError, analyze};
pub use event::{Event, EventSink};
pub use model::*;
pub use result::CaptureResult;
pub use stream::CaptureStream;
