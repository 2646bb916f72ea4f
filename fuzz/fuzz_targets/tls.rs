#![no_main]
use libfuzzer_sys::fuzz_target;
// First byte: chunk size for the record stream; the rest: the stream, also parsed as a hello.
fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let mut rs = pc_proto::tls::RecordStream::new();
    let mut ev = Vec::new();
    for c in rest.chunks(usize::from(n).max(1)) {
        let _ = rs.push(c, &mut ev);
    }
    let _ = pc_proto::tls::parse_client_hello(rest);
    let _ = pc_proto::tls::parse_server_hello(rest);
});
