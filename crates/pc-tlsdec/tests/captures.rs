//! Real captures with their real key logs (and tshark's view of what is inside them).

mod common;
use common::{Conn, data, dsb_keys, keyfile, run};
use pc_tlsdec::Outcome;
use pc_tlsdec::keylog::KeyLog;

fn dsb(rel: &str) -> KeyLog {
    let keys = dsb_keys(&data(rel));
    assert!(!keys.is_empty(), "{rel} has Decryption Secrets Blocks");
    KeyLog::parse(&keys)
}

/// Every HTTP/1 request tshark saw over TLS is in our decrypted client plaintext.
fn check_oracle(cap: &str, conns: &[Conn]) -> usize {
    let path = data(&format!(
        "oracle/pcap/{}.json",
        cap.trim_start_matches("pcap/")
    ));
    let o: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("oracle")).expect("oracle json");
    let mut n = 0;
    for r in o["http_requests"].as_array().expect("http_requests") {
        if r["over_tls"] != true {
            continue;
        }
        let line = format!(
            "{} {} HTTP/",
            r["method"].as_str().expect("method"),
            r["uri"].as_str().expect("uri")
        );
        assert!(
            conns.iter().any(|c| c.contains(true, &line)),
            "{cap}: {line:?} not decrypted"
        );
        n += 1;
    }
    n
}

fn all_decrypted(conns: &[Conn]) {
    assert!(!conns.is_empty());
    for c in conns {
        assert_eq!(c.outcome, Outcome::Decrypted, "{c:?}");
        // Full coverage: every application-data byte seen was decrypted.
        assert_eq!(c.encrypted, c.decrypted, "{c:?}");
        assert_eq!(c.stats.records_failed, [0, 0]);
        assert_eq!(c.stats.finished_decrypted, 2);
    }
}

#[test]
fn illustrated_tls12_cbc() {
    let conns = run(
        &data("pcap/illustrated/tls12-capture.pcap"),
        keyfile("pcap/illustrated/tls12-keylog.txt"),
    );
    all_decrypted(&conns);
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!((c.version, c.suite), (0x0303, Some(0xc013)));
    assert_eq!(c.text(true), b"ping");
    assert_eq!(c.text(false), b"pong");
}

#[test]
fn illustrated_tls13() {
    let conns = run(
        &data("pcap/illustrated/tls13-capture.pcap"),
        keyfile("pcap/illustrated/tls13-keylog.txt"),
    );
    all_decrypted(&conns);
    let c = &conns[0];
    assert_eq!((c.version, c.suite), (0x0304, Some(0x1302)));
    assert_eq!(c.text(true), b"ping");
    assert_eq!(c.text(false), b"pong");
}

#[test]
fn tls12_chacha20_poly1305_all_key_exchanges() {
    let cap = "pcap/wireshark/tls12-chacha20poly1305.pcap";
    let conns = run(
        &data(cap),
        keyfile("pcap/wireshark/tls12-chacha20poly1305.keys"),
    );
    all_decrypted(&conns);
    let mut suites: Vec<u16> = conns.iter().filter_map(|c| c.suite).collect();
    suites.sort_unstable();
    assert_eq!(suites, (0xcca8..=0xccae).collect::<Vec<u16>>());
    for c in &conns {
        assert!(c.contains(true, "GET / HTTP/1.1\r\nHost: localhost"));
        assert!(c.contains(false, "HTTP/1.0 200 ok"));
    }
    assert_eq!(check_oracle(cap, &conns), 7);
}

#[test]
fn tls13_with_0rtt_early_data() {
    let cap = "pcap/wireshark/tls13-rfc8446.pcap";
    let conns = run(&data(cap), keyfile("pcap/wireshark/tls13-rfc8446.keys"));
    all_decrypted(&conns);
    assert_eq!(conns.len(), 2);
    assert!(conns[0].contains(true, "GET /first HTTP/1.1"));
    let c = &conns[1];
    let early: Vec<&[u8]> = c
        .plains
        .iter()
        .filter(|p| p.early)
        .map(|p| &p.data[..])
        .collect();
    assert_eq!(early, vec![&b"GET /early HTTP/1.1\r\n\r\n"[..]]);
    assert!(c.contains(true, "GET /second HTTP/1.1"));
    assert_eq!(c.stats.early_records_skipped, 0);
    assert_eq!(check_oracle(cap, &conns), 3);
}

#[test]
fn tls13_0rtt_without_early_secret_skips_it() {
    let cap = "pcap/wireshark/tls13-rfc8446.pcap";
    let conns = run(
        &data(cap),
        keyfile("pcap/wireshark/tls13-rfc8446-noearly.keys"),
    );
    let c = &conns[1];
    assert_eq!(c.outcome, Outcome::Decrypted);
    assert!(c.contains(true, "GET /second HTTP/1.1"));
    assert!(!c.contains(true, "/early"));
    // The early data record and EndOfEarlyData.
    assert_eq!(c.stats.early_records_skipped, 2);
    assert!(c.plains.iter().all(|p| !p.early));
    assert!(c.decrypted[0] < c.encrypted[0]);
    assert_eq!(c.decrypted[1], c.encrypted[1]);
}

const DHE1_SESSION: &str = "c93399eb331c6261a202afb0ac21be2234da2cb6707084d7c3b423bb5ad9b660";
const DHE1_MASTER: &str = "3CC9E5068E674393C10E540430F60AB794C028B277CAD9C708758400B803AD4FC81D6796AFD14D8952F7CD9E4268B4DB";

#[test]
fn tls10_cbc_dhe1() {
    let conns = run(
        &data("pcap/wireshark/dhe1.pcapng.gz"),
        keyfile("pcap/wireshark/dhe1_keylog.dat"),
    );
    all_decrypted(&conns);
    let c = &conns[0];
    assert_eq!((c.version, c.suite), (0x0301, Some(0x0039)));
    assert!(c.text(true).starts_with(b"GET /test HTTP/1.0"));
}

#[test]
fn rsa_session_id_master_key_form() {
    let log = format!("# old form\nRSA Session-ID:{DHE1_SESSION} Master-Key:{DHE1_MASTER}\n");
    let keys = KeyLog::parse(log.as_bytes());
    assert_eq!(keys.len(), 1);
    assert!(
        keys.by_session_id(&hex::decode(DHE1_SESSION).unwrap())
            .is_some()
    );
    let conns = run(&data("pcap/wireshark/dhe1.pcapng.gz"), keys);
    all_decrypted(&conns);
    assert!(conns[0].contains(true, "GET /test HTTP/1.0"));
}

#[test]
fn http2_over_tls12_gcm() {
    let conns = run(
        &data("pcap/wireshark/http2-data-reassembly.pcap"),
        keyfile("pcap/wireshark/http2-data-reassembly.keys"),
    );
    all_decrypted(&conns);
    let c = &conns[0];
    assert_eq!(c.suite, Some(0xc02b));
    assert_eq!(c.alpn.as_deref(), Some("h2"));
    assert!(
        c.text(true)
            .starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    );
    // The response carries a PNG image in DATA frames.
    assert!(c.text(false).windows(4).any(|w| w == b"\x89PNG"));
}

#[test]
fn keys_from_decryption_secrets_blocks() {
    let cap = "pcap/wireshark/tls12-dsb.pcapng";
    let conns = run(&data(cap), dsb(cap));
    all_decrypted(&conns);
    assert_eq!(conns.len(), 2);
    assert!(conns[0].contains(true, "HEAD / HTTP/1.1\r\nHost: example.com"));
    assert!(conns[1].contains(true, "HEAD / HTTP/1.1\r\nHost: example.net"));
    assert_eq!(conns[0].alpn.as_deref(), Some("http/1.1"));
    assert_eq!(check_oracle(cap, &conns), 2);

    let cap = "pcap/wireshark/http2_follow_multistream.pcapng";
    let conns = run(&data(cap), dsb(cap));
    all_decrypted(&conns);
    assert_eq!(conns[0].alpn.as_deref(), Some("h2"));
    assert!(conns[0].text(true).starts_with(b"PRI * HTTP/2.0"));
}

/// Flip one hex digit of every secret in a key log.
fn corrupt(text: &[u8]) -> KeyLog {
    let s = String::from_utf8(text.to_vec()).unwrap();
    let out: String = s
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            if !l.starts_with('#') && l.len() > 2 {
                let last = l.pop().unwrap();
                l.push(if last == '0' { '1' } else { '0' });
            }
            l + "\n"
        })
        .collect();
    KeyLog::parse(out.as_bytes())
}

#[test]
fn wrong_keys_fail_with_reason() {
    let read = |p: &str| std::fs::read(data(p)).unwrap();
    let cbc = run(
        &data("pcap/illustrated/tls12-capture.pcap"),
        corrupt(&read("pcap/illustrated/tls12-keylog.txt")),
    );
    assert_eq!(cbc[0].outcome, Outcome::Failed("bad record MAC"));
    assert!(cbc[0].plains.is_empty());

    let gcm = run(
        &data("pcap/wireshark/tls12-chacha20poly1305.pcap"),
        corrupt(&read("pcap/wireshark/tls12-chacha20poly1305.keys")),
    );
    for c in &gcm {
        assert_eq!(c.outcome, Outcome::Failed("AEAD tag"));
        assert_eq!(c.decrypted, [0, 0]);
        assert!(c.encrypted[0] > 0);
    }

    let t13 = run(
        &data("pcap/illustrated/tls13-capture.pcap"),
        corrupt(&read("pcap/illustrated/tls13-keylog.txt")),
    );
    assert_eq!(t13[0].outcome, Outcome::Failed("AEAD tag"));
    assert!(t13[0].plains.is_empty());
}

#[test]
fn missing_keys_say_no_key() {
    for cap in [
        "pcap/illustrated/tls12-capture.pcap",
        "pcap/illustrated/tls13-capture.pcap",
        "pcap/wireshark/dhe1.pcapng.gz",
        "pcap/wireshark/tls13-rfc8446.pcap",
    ] {
        for c in run(&data(cap), KeyLog::default()) {
            assert_eq!(c.outcome, Outcome::NoKey, "{cap}");
            assert!(c.plains.is_empty());
        }
    }
    // Keys for other connections only.
    for c in run(
        &data("pcap/illustrated/tls12-capture.pcap"),
        keyfile("pcap/wireshark/tls12-chacha20poly1305.keys"),
    ) {
        assert_eq!(c.outcome, Outcome::NoKey);
    }
}
