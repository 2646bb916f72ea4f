#![no_main]
use libfuzzer_sys::fuzz_target;
use pc_detect::{Identifier, IdentifierKind as K, Matcher, ScanOptions};
use std::sync::OnceLock;

static M: OnceLock<Matcher> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let m = M.get_or_init(|| {
        Matcher::new(&[
            Identifier::text(K::Imei, "imei", "490154203237518"),
            Identifier::text(K::WifiMac, "wifi_mac", "aa:bb:cc:11:22:33"),
            Identifier::text(K::Msisdn, "msisdn", "+33612345678"),
            Identifier::text(K::AdvertisingId, "gaid", "1209d0b9-b959-42e6-b921-aa5d9d08c1af"),
            Identifier::text(K::Location, "home", "48.856613,2.352222"),
        ])
    });
    m.scan(data, &ScanOptions::default(), &mut |h| {
        let _ = m.snippet(data, h.start, h.end, false);
    });
});
