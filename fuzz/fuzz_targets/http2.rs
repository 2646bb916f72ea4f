#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    // First byte: share of the input sent by the client (after the preface); the rest is the
    // server's. The same bytes also go through the WebSocket framer.
    let split = data.first().map_or(0, |&b| usize::from(b) * data.len() / 256);
    let (c, s) = data.split_at(split);
    let mut conn = pc_h2::Connection::new();
    let mut out = Vec::new();
    let _ = conn.push(true, &[pc_h2::PREFACE.as_slice(), c].concat(), &mut out);
    let _ = conn.push(false, s, &mut out);
    conn.finish(&mut out);
    let _ = pc_h2::websocket::WsStream::new().push(data, &mut Vec::new());
});
