#![no_main]
use libfuzzer_sys::fuzz_target;
use pc_apk::zip::{Archive, Tail};

fuzz_target!(|data: &[u8]| {
    let mem = Archive::parse(data);
    if let Ok(a) = &mem {
        for e in a.entries() {
            let _ = a.read(e, 1 << 16);
        }
        let _ = pc_apk::manifest::from_archive(a);
    }
    // Parsed from a file with only its end held, the archive must read the same.
    let mut file = std::io::Cursor::new(data);
    let from_file = Tail::read(&mut file, u64::MAX)
        .and_then(|t| {
            Archive::parse_file(&t, &mut file, Default::default())
                .map(|a| (a.entries().len(), a.anomalies().to_vec()))
        });
    let in_memory = mem.map(|a| (a.entries().len(), a.anomalies().to_vec()));
    assert_eq!(in_memory, from_file);
});
