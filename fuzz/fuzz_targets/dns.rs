#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    let _ = pc_proto::dns::parse(data);
    let _ = pc_proto::dns::TcpFramer::default().push(data);
});
