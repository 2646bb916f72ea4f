//! Scan throughput on the ReportHAR fixture repeated and on pseudo-random bytes:
//! `cargo run --release -p pc-detect --example throughput`.

use pc_detect::{Identifier, IdentifierKind as K, Matcher, ScanOptions};
use std::time::Instant;

fn main() {
    let ids = [
        Identifier::text(K::Imei, "imei", "490154203237518"),
        Identifier::text(K::Imei, "imei2", "490154203237526"),
        Identifier::text(K::Imsi, "imsi", "208150123456789"),
        Identifier::text(K::Iccid, "iccid", "8933150319000012345F"),
        Identifier::text(K::Msisdn, "msisdn", "+33612345678"),
        Identifier::text(K::Serial, "serial", "R58M12ABCDE"),
        Identifier::text(K::WifiMac, "wifi_mac", "aa:bb:cc:11:22:33"),
        Identifier::text(K::BtMac, "bt_mac", "aa:bb:cc:11:22:34"),
        Identifier::text(K::AndroidId, "android_id", "9774d56d682e549c"),
        Identifier::text(
            K::AdvertisingId,
            "gaid",
            "1209d0b9-b959-42e6-b921-aa5d9d08c1af",
        ),
        Identifier::text(K::Email, "email", "john.doe@example.com"),
        Identifier::text(K::Location, "home", "48.856613,2.352222"),
    ];
    let t = Instant::now();
    let m = Matcher::new(&ids);
    println!("{} patterns, built in {:?}", m.pattern_count(), t.elapsed());
    let har = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/leak/reporthar_android_second-run.har"
    ))
    .expect("fixture");
    let mut x: u32 = 1;
    let rnd: Vec<u8> = (0..har.len())
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    for (name, payload) in [("har", &har), ("random", &rnd)] {
        for opts in [
            ScanOptions {
                max_depth: 0,
                ..ScanOptions::default()
            },
            ScanOptions::default(),
        ] {
            let reps = 400;
            let t = Instant::now();
            let mut n = 0usize;
            for _ in 0..reps {
                m.scan(payload, &opts, &mut |_| n += 1);
            }
            let secs = t.elapsed().as_secs_f64();
            let mb = (payload.len() * reps) as f64 / 1e6;
            println!(
                "{name:6} depth {}: {:7.1} MB/s ({n} hits)",
                opts.max_depth,
                mb / secs
            );
        }
    }
}
