//! The engine driven packet by packet, as live capture drives it, gives the batch report; the
//! events it sends on the way announce every finding of that report.

use pc_detect::{Identifier, IdentifierKind};
use pc_traffic::{Engine, Event, EventSink, Input, Options, analyze};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../")
        .join(rel)
}

fn ids() -> Vec<Identifier> {
    vec![
        Identifier::text(IdentifierKind::Imei, "imei", "356938035643809"),
        Identifier::text(IdentifierKind::Msisdn, "msisdn", "+33612345678"),
        Identifier::text(IdentifierKind::AndroidId, "android_id", "9774d56d682e549c"),
        Identifier::text(IdentifierKind::Iccid, "iccid", "8933150319009875432"),
        Identifier::text(IdentifierKind::WifiMac, "wifi_mac", "4c:6a:f6:9f:f6:27"),
    ]
}

/// Push every packet of `input` through `Engine::stream` with `workers`, collecting events.
fn pushed(input: &Input, workers: usize) -> (pc_traffic::TrafficReport, Vec<Event>) {
    let engine = Engine::new(&ids(), &Options::default()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink: EventSink = {
        let seen = seen.clone();
        Arc::new(move |e| seen.lock().unwrap().push(e))
    };
    let mut stream = engine.stream(input, workers, Some(sink));
    let mut reader = pc_capture::CaptureReader::open(&input.path).unwrap();
    let format = match reader.format() {
        pc_capture::CaptureFormat::PcapNg => "pcapng",
        _ => "pcap",
    };
    stream.set_format(format, reader.compressed());
    // Packet by packet, as a live capture hands them over.
    while let Some(pkt) = reader.next_packet().unwrap() {
        stream.push_record(&pkt);
    }
    let result = stream.finish();
    let report = engine.report(vec![result]);
    let events = std::mem::take(&mut *seen.lock().unwrap());
    (report, events)
}

fn check(capture: &str, keylogs: &[&str]) {
    let input = Input {
        path: data(capture),
        phase: "first-boot".into(),
        consent: pc_case::Consent::None,
        keylogs: keylogs.iter().map(|k| data(k)).collect(),
    };
    let batch = analyze(
        std::slice::from_ref(&input),
        &ids(),
        &Options::default(),
        &|_| {},
    )
    .unwrap();
    assert!(
        !batch.findings.is_empty(),
        "{capture}: the batch run finds something"
    );
    for workers in [1, 2] {
        let (streamed, events) = pushed(&input, workers);
        assert_eq!(
            serde_json::to_string(&streamed).unwrap(),
            serde_json::to_string(&batch).unwrap(),
            "{capture} with {workers} workers"
        );
        // Every finding of the report was announced by at least one event of the same
        // identifier, field and destination, with the same total count.
        for f in &batch.findings {
            let announced: u64 = events
                .iter()
                .filter_map(|e| match e {
                    Event::Finding(x)
                        if x.identifier_name == f.identifier_name
                            && x.location == f.location
                            && x.host == f.host
                            && x.ip == f.ip
                            && x.encoding == f.encoding =>
                    {
                        Some(x.count)
                    }
                    _ => None,
                })
                .sum();
            assert_eq!(announced, f.count, "{capture}: events for {f:?}");
        }
        let dest_events = events
            .iter()
            .filter(|e| matches!(e, Event::Destination(_)))
            .count() as u64;
        let flows: u64 = batch.destinations.iter().map(|d| d.flows).sum();
        assert_eq!(
            dest_events, flows,
            "{capture}: one destination event per flow"
        );
        // A flow's tracker annotation is its destination's (which gathers every flow's SNI).
        for e in &events {
            let Event::Destination(d) = e else { continue };
            let Some(host) = &d.host else { continue };
            let b = batch
                .destinations
                .iter()
                .find(|b| b.host.as_ref() == Some(host) && b.port == d.port)
                .unwrap_or_else(|| panic!("{capture}: {host}:{} not reported", d.port));
            assert!(
                d.tracker_network
                    .iter()
                    .all(|t| b.tracker_network.contains(t)),
                "{capture}: {host}: {:?} vs {:?}",
                d.tracker_network,
                b.tracker_network
            );
        }
    }
}

#[test]
fn a_decrypted_capture_pushed_packet_by_packet_gives_the_batch_report() {
    check(
        "tests/data/synthetic/tls13-h2-grpc.pcapng",
        &["tests/data/synthetic/tls13-h2-grpc.keys"],
    );
}

#[test]
fn a_real_phone_capture_pushed_packet_by_packet_gives_the_batch_report() {
    check("tests/data/pcap/ndpi/android.pcap", &[]);
}

#[test]
fn the_example_first_boot_capture_streams_like_the_batch() {
    check("examples/acme-a1/captures/first-boot.pcapng", &[]);
}
