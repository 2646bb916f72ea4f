//! Offline GeoIP / ASN look-ups on the shipped data.

use pc_detect::geo::{self, GeoDb, GeoError};
use std::io::Write;
use std::net::IpAddr;

const MMDB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/geoip/geo-whois-asn-country.mmdb"
);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn countries_of_known_ips() {
    let db = GeoDb::embedded().unwrap();
    assert_eq!(db.country(ip("8.8.8.8")).as_deref(), Some("US"));
    assert_eq!(
        db.country(ip("2001:4860:4860::8888")).as_deref(),
        Some("US")
    );
    // 1.0.0.0/24 is registered by APNIC to an Australian holder (Cloudflare operates it).
    assert_eq!(db.country(ip("1.0.0.1")).as_deref(), Some("AU"));
    assert_eq!(db.country(ip("193.51.24.1")).as_deref(), Some("FR"));
    // v4-mapped v6 is looked up as v4.
    assert_eq!(db.country(ip("::ffff:8.8.8.8")).as_deref(), Some("US"));
    let file = GeoDb::open(std::path::Path::new(MMDB)).unwrap();
    assert_eq!(file.country(ip("8.8.8.8")).as_deref(), Some("US"));
}

#[test]
fn private_and_reserved_have_no_country_or_asn() {
    let db = GeoDb::embedded().unwrap();
    let private = [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "224.0.0.251",
        "255.255.255.255",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "ff02::fb",
        "2001:db8::1",
        "::ffff:192.168.0.1",
    ];
    let ips: Vec<IpAddr> = private.iter().map(|s| ip(s)).collect();
    for &a in &ips {
        assert!(geo::is_non_public(a), "{a}");
        assert_eq!(db.country(a), None, "{a}");
    }
    assert!(geo::asn_lookup(&ips).unwrap().is_empty());
    assert!(!geo::is_non_public(ip("8.8.8.8")));
    assert!(!geo::is_non_public(ip("100.128.0.1")));
}

#[test]
fn asn_of_known_ips() {
    let q = [
        ip("8.8.8.8"),
        ip("1.0.0.1"),
        ip("2001:4860:4860::8888"),
        ip("10.0.0.1"),
        ip("8.8.8.8"),
        ip("223.255.255.255"),
    ];
    let r = geo::asn_lookup(&q).unwrap();
    assert_eq!(r[&ip("8.8.8.8")].asn, 15169);
    assert_eq!(r[&ip("8.8.8.8")].org, "Google LLC");
    assert_eq!(r[&ip("1.0.0.1")].asn, 13335);
    // Quoted org with a comma.
    assert_eq!(r[&ip("1.0.0.1")].org, "Cloudflare, Inc.");
    assert_eq!(r[&ip("2001:4860:4860::8888")].asn, 15169);
    assert!(!r.contains_key(&ip("10.0.0.1")));
}

fn gz(text: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

#[test]
fn asn_tables_synthetic_and_malformed() {
    let v4 = gz(b"5.0.0.0,5.255.255.255,1,Big\n5.1.0.0,5.1.0.255,2,\"Small, \"\"quoted\"\"\"\r\n");
    let v6 = gz(b"");
    let r = geo::asn_lookup_with(&v4, &v6, &[ip("5.1.0.7"), ip("5.2.0.1"), ip("6.0.0.1")]).unwrap();
    assert_eq!(r[&ip("5.1.0.7")].asn, 2, "narrowest range wins");
    assert_eq!(r[&ip("5.1.0.7")].org, "Small, \"quoted\"");
    assert_eq!(r[&ip("5.2.0.1")].asn, 1);
    assert!(!r.contains_key(&ip("6.0.0.1")));

    let bad: [&[u8]; 7] = [
        b"5.0.0.0,5.0.0.9\n",
        b"5.0.0.0,x,1,a\n",
        b"5.0.0.9,5.0.0.0,1,a\n",
        b"5.0.0.0,5.0.0.9,-1,a\n",
        b"5.0.0.0,5.0.0.9,1,\"open\n",
        b"::,::1,1,a\n",
        b"\xff\xfe,\n",
    ];
    for b in bad {
        let e = geo::asn_lookup_with(&gz(b), &v6, &[ip("5.0.0.1")]);
        assert!(
            matches!(e, Err(GeoError::Csv { at: 0, .. })),
            "{:?}: {e:?}",
            String::from_utf8_lossy(b)
        );
    }
    // Overlong line, corrupt and truncated gzip.
    let long = gz(&vec![b'7'; 10_000]);
    assert!(matches!(
        geo::asn_lookup_with(&long, &v6, &[ip("5.0.0.1")]),
        Err(GeoError::Csv { .. })
    ));
    let good = gz(&b"5.0.0.0,5.0.0.9,1,a\n".repeat(100));
    for cut in 0..good.len() {
        let _ = geo::asn_lookup_with(&good[..cut], &v6, &[ip("5.0.0.1")]);
    }
    assert!(geo::asn_lookup_with(b"not gzip at all", &v6, &[ip("5.0.0.1")]).is_err());
    // Nothing queried for a family: its table is not read at all.
    assert!(
        geo::asn_lookup_with(b"junk", b"junk", &[])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn mmdb_malformed() {
    let real = std::fs::read(MMDB).unwrap();
    assert!(matches!(
        GeoDb::from_bytes(Vec::new()),
        Err(GeoError::Mmdb { .. })
    ));
    assert!(GeoDb::from_bytes(b"garbage".repeat(100)).is_err());
    // Truncations: either refused, or (when the metadata survives) look-ups do not panic.
    for cut in [10, 1000, real.len() / 2, real.len() - 200, real.len() - 1] {
        if let Ok(db) = GeoDb::from_bytes(real[..cut].to_vec()) {
            let _ = db.country(ip("8.8.8.8"));
        }
    }
    // Metadata intact but the search tree zeroed.
    let mut zeroed = real.clone();
    zeroed[..real.len() / 2].fill(0xff);
    if let Ok(db) = GeoDb::from_bytes(zeroed) {
        let _ = db.country(ip("8.8.8.8"));
        let _ = db.country(ip("2a00::1"));
    }
    let e = GeoDb::open(std::path::Path::new("/nonexistent/x.mmdb"));
    assert!(matches!(e, Err(GeoError::Io { .. })));
}

/// The table loaded into memory answers as the streaming lookup does, on the embedded tables
/// (addresses spread over the whole IPv4 and IPv6 space) and on overlapping synthetic ranges.
#[test]
fn the_loaded_table_answers_like_the_streaming_lookup() {
    let mut q: Vec<std::net::IpAddr> = (0..4000u32)
        .map(|i| std::net::IpAddr::V4(std::net::Ipv4Addr::from(i.wrapping_mul(1_073_741))))
        .collect();
    q.extend((0..500u128).map(|i| {
        std::net::IpAddr::V6(std::net::Ipv6Addr::from(
            (0x2000u128 << 112) | i.wrapping_mul(0x0000_0a3f_0000_0000_0000_0000_1234),
        ))
    }));
    q.extend([ip("8.8.8.8"), ip("1.0.0.1"), ip("2001:4860:4860::8888")]);
    let streamed = geo::asn_lookup(&q).unwrap();
    let table = geo::AsnTable::embedded().unwrap();
    assert!(streamed.len() > 1000, "answers: {}", streamed.len());
    assert_eq!(table.lookup(&q), streamed);

    let v4 = gz(b"5.0.0.0,5.255.255.255,1,Big\n5.1.0.0,5.1.0.255,2,\"Small, \"\"quoted\"\"\"\n");
    let v6 = gz(b"2001:db8::,2001:db8::ffff,7,Doc\n");
    let q = [
        ip("5.1.0.7"),
        ip("5.2.0.1"),
        ip("6.0.0.1"),
        ip("2001:db8::1"),
    ];
    let t = geo::AsnTable::parse(&v4, &v6).unwrap();
    assert_eq!(t.lookup(&q), geo::asn_lookup_with(&v4, &v6, &q).unwrap());
    assert_eq!(t.lookup(&q)[&ip("5.1.0.7")].asn, 2);
    assert!(geo::AsnTable::parse(&gz(b"5.0.0.0,4.0.0.0,1,x\n"), &v6).is_err());
}
