//! Test support shared by the tests of pc-h2, pc-h3 and pc-tlsdec (included with `#[path]`):
//! a capture's packets through pc-net's decoder into a flow sink.

use pc_net::{FlowSink, PacketMeta};
use std::path::Path;

/// Feed every packet of the capture at `path` to pc-net's decoder and `sink`, then finish; the
/// reader is returned for what it read besides packets (Decryption Secrets Blocks).
pub fn decode_capture(path: &Path, sink: &mut dyn FlowSink) -> pc_capture::CaptureReader {
    let mut r = pc_capture::CaptureReader::open(path).expect("open capture");
    let mut dec = pc_net::Decoder::new(pc_net::Limits::default());
    while let Some(p) = r.next_packet().expect("read capture") {
        let meta = PacketMeta {
            frame: p.frame,
            ts: p.ts,
            app: None,
        };
        let _ = dec.push(p.linktype, p.data, &meta, sink);
    }
    dec.finish(sink);
    r
}
