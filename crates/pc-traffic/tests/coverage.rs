//! Coverage: what the phone sent is searched to the end where it can be, and every piece that
//! could not be (a body past its budget, an undecodable coding, bytes lost in the capture, a
//! capture that stops part-way) is reported with where it is — never silently dropped.

#[path = "util/pcap.rs"]
mod pcap;

use pc_detect::{Identifier, IdentifierKind};
use pc_traffic::TrafficReport;
use pcap::{Pcap, gzip, one_request, post};
#[path = "util/run.rs"]
mod analysis;
use std::io::Write;

const IMEI: &str = "356938035643809";

fn run(p: &Pcap) -> TrafficReport {
    let ids = [Identifier::text(IdentifierKind::Imei, "imei", IMEI)];
    analysis::analyze_bytes(&p.out, &ids)
}

fn found(r: &TrafficReport) -> usize {
    r.findings.iter().filter(|f| f.identifier == "imei").count()
}

#[test]
fn imei_after_a_mebibyte_of_gzip_padding_is_found() {
    let mut plain = vec![0u8; 1 << 20];
    plain.extend(format!("{{\"imei\":\"{IMEI}\"}}").as_bytes());
    let body = gzip(&plain);
    assert!(
        body.len() < 4096,
        "a small body on the wire: {}",
        body.len()
    );
    let r = run(&one_request(&post(
        "reg.acme.example",
        "Content-Encoding: gzip\r\n",
        &body,
    )));
    assert_eq!(found(&r), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].location, "body");
    assert_eq!(r.inputs[0].coverage.cuts, 0, "{:?}", r.inputs[0].coverage);
}

#[test]
fn imei_at_the_end_of_a_17_mib_plain_body_is_found() {
    let mut body = vec![b'a'; 17 << 20];
    body.extend(IMEI.as_bytes());
    let r = run(&one_request(&post("reg.acme.example", "", &body)));
    assert_eq!(found(&r), 1, "{:#?}", r.findings);
    assert_eq!(r.inputs[0].coverage.cuts, 0);
    assert!(r.destinations[0].bytes_sent > 17 << 20);
}

/// gzip inside gzip multiplies the ratio past any single-layer bound: the decoded budget stops
/// it, what was decoded before the stop is still searched, and the stop is a cut with a place.
#[test]
fn a_body_past_its_decoding_budget_is_a_cut_and_what_came_before_is_searched() {
    let mut inner = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    inner.write_all(IMEI.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..96 {
        inner.write_all(&zeros).unwrap();
    }
    inner.write_all(b"356938035643817").unwrap();
    let body = gzip(&inner.finish().unwrap());
    let r = run(&one_request(&post(
        "reg.acme.example",
        "Content-Encoding: gzip, gzip\r\n",
        &body,
    )));
    assert_eq!(found(&r), 1, "the IMEI before the cut: {:#?}", r.findings);
    let cov = &r.inputs[0].coverage;
    assert_eq!(cov.cuts, 1, "{cov:?}");
    let cut = &cov.first_cuts[0];
    assert!(cut.what.contains("decoded bytes only"), "{cut:?}");
    assert!(cut.frame.is_some(), "{cut:?}");
    assert!(
        cut.flow
            .as_deref()
            .is_some_and(|f| f.contains("203.0.113.9:80")),
        "{cut:?}"
    );
    assert_eq!(r.destinations[0].cuts, 1);
}

#[test]
fn a_corrupt_gzip_body_is_a_cut() {
    let mut plain = Vec::new();
    for i in 0..20_000u32 {
        plain.extend(format!("line {i} of a log the phone uploads\n").as_bytes());
    }
    let mut body = gzip(&plain);
    let mid = body.len() / 2;
    for b in &mut body[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let r = run(&one_request(&post(
        "reg.acme.example",
        "Content-Encoding: gzip\r\n",
        &body,
    )));
    let cov = &r.inputs[0].coverage;
    assert_eq!(cov.cuts, 1, "{cov:?}");
    // The corrupt stream decodes to its end; the trailer shows it is not what was compressed.
    assert!(cov.first_cuts[0].what.contains("CRC-32"), "{cov:?}");
}

#[test]
fn a_clean_request_leaves_no_cut() {
    let r = run(&one_request(&post(
        "reg.acme.example",
        "Content-Encoding: gzip\r\n",
        &gzip(b"{\"model\":\"A1\"}"),
    )));
    assert_eq!(found(&r), 0);
    let cov = &r.inputs[0].coverage;
    assert_eq!((cov.cuts, cov.gap_bytes_sent), (0, 0), "{cov:?}");
    assert_eq!(r.inputs[0].stopped_at, None);
}

#[test]
fn bytes_lost_on_the_way_to_the_server_are_counted() {
    let mut p = Pcap::new();
    let mut c = p.connect(40000, 80);
    let req = post("reg.acme.example", "", &vec![b'x'; 3000]);
    p.send(&mut c, true, &req[..1000]);
    p.lose(&mut c, 1000);
    p.send(&mut c, true, &req[2000..]);
    p.send(&mut c, false, b"HTTP/1.1 204 No Content\r\n\r\n");
    p.close(&mut c);
    let r = run(&p);
    let cov = &r.inputs[0].coverage;
    assert_eq!(cov.gap_bytes_sent, 1000, "{cov:?}");
    assert!(cov.cuts >= 1, "the request the bytes belonged to: {cov:?}");
}

#[test]
fn a_capture_broken_after_its_first_packets_is_partly_usable() {
    let mut p = Pcap::new();
    let mut c = p.connect(40000, 80);
    let at = p.break_here();
    // What follows the bad record is never read: an IMEI there is not found, and nobody may
    // conclude it is absent.
    p.send(&mut c, true, &post("reg.acme.example", "", IMEI.as_bytes()));
    let r = run(&p);
    let i = &r.inputs[0];
    assert_eq!(i.packets, 3);
    assert_eq!(i.stopped_at, Some(at as u64), "{:?}", i.errors);
    assert!(
        i.errors.iter().any(|e| e.contains(&format!("{at}"))),
        "{:?}",
        i.errors
    );
    assert!(!i.failed);
    assert_eq!(found(&r), 0);
}

/// A phone that resolves a new name per event: the DNS list stops at its bound and says how
/// many it left out, while every name is still searched.
#[test]
fn dns_questions_are_listed_within_a_bound_and_all_searched() {
    let mut p = Pcap::new();
    let n = pc_traffic::MAX_DNS_QUERIES + 20_000;
    for i in 0..n {
        let name = format!("e{i}.t.acme-analytics.example");
        p.udp(
            1024 + (i % 60_000) as u16,
            53,
            &pcap::dns_query(i as u16, &name),
        );
    }
    // The last name carries the IMEI: past the bound, it is still found.
    p.udp(
        1023,
        53,
        &pcap::dns_query(7, &format!("{IMEI}.t.acme-analytics.example")),
    );
    let r = run(&p);
    assert_eq!(r.dns.len(), pc_traffic::MAX_DNS_QUERIES);
    assert_eq!(r.inputs[0].omitted.dns_queries, 20_001);
    assert_eq!(found(&r), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].location, "dns");
}
