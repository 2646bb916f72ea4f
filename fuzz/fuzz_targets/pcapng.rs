#![no_main]
use libfuzzer_sys::fuzz_target;
// Same entry point as the pcap target; a separate corpus lets libFuzzer explore pcapng blocks.
fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = pc_capture::CaptureReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())), "fuzz") {
        while let Ok(Some(_)) = r.next_packet() {}
    }
});
