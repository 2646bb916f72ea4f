#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    let _ = pc_h2::protobuf::decode(data, 16);
    let _ = pc_h2::grpc::split(data, Some("gzip"), 1 << 20, 1000, 16);
});
