//! Agreement with tshark (tests/data/oracle/pcap/**.json) on every capture in tests/data/pcap:
//! DNS query names, TLS and QUIC SNIs, and cleartext HTTP requests (method, host, path).
//! Differences are listed in `EXPLAINED` with the reason, and the test fails on any other.

use pc_traffic::{Input, Options, TrafficReport, analyze};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// The key log the corpus ships beside a capture (same stem: `.keys`, `_keylog.dat`, or
/// `-keylog.txt` for the illustrated captures, as `tshark -o tls.keylog_file:` used them).
fn keylog_for(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().unwrap().to_string_lossy();
    let stem = name.split('.').next().unwrap();
    let dir = path.parent().unwrap();
    [
        format!("{stem}.keys"),
        format!("{stem}_keylog.dat"),
        format!("{}-keylog.txt", stem.trim_end_matches("-capture")),
    ]
    .iter()
    .map(|k| dir.join(k))
    .filter(|k| k.is_file())
    .collect()
}

fn run(path: &Path) -> TrafficReport {
    let input = Input {
        path: path.to_path_buf(),
        phase: "p".into(),
        consent: pc_case::Consent::None,
        keylogs: keylog_for(path),
    };
    analyze(&[input], &[], &Options::default(), &|_| {}).expect("analysis runs")
}

/// (capture, what, value, why) for each known and understood difference; `what` is
/// `dns`, `sni`, `quic-sni`, `http` or `http2`, and the value is prefixed `+` when phonecert has it
/// and tshark does not, `-` for the reverse.
const EXPLAINED: &[(&str, &str, &str, &str)] = &[];

fn captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["wireshark", "ndpi", "suricata", "zeek", "illustrated"] {
        let mut v: Vec<PathBuf> = std::fs::read_dir(data().join("pcap").join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.contains(".pcap")
            })
            .collect();
        v.sort();
        out.extend(v);
    }
    out
}

fn oracle(path: &Path) -> serde_json::Value {
    let rel = path.strip_prefix(data().join("pcap")).unwrap();
    let p = data()
        .join("oracle/pcap")
        .join(format!("{}.json", rel.display()));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

fn diff(
    name: &str,
    what: &str,
    ours: &BTreeSet<String>,
    theirs: &BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    let explained = |v: &str| {
        EXPLAINED
            .iter()
            .any(|(c, w, val, _)| *c == name && *w == what && *val == v)
    };
    for v in ours.difference(theirs) {
        let v = format!("+{v}");
        if !explained(&v) {
            problems.push(format!("{name}: {what}: {v} (phonecert only)"));
        }
    }
    for v in theirs.difference(ours) {
        let v = format!("-{v}");
        if !explained(&v) {
            problems.push(format!("{name}: {what}: {v} (tshark only)"));
        }
    }
}

#[test]
fn agrees_with_tshark_on_names_snis_and_http_requests() {
    let mut problems = Vec::new();
    let caps = captures();
    assert!(caps.len() >= 30, "fixtures missing: {}", caps.len());
    for path in caps {
        let name = path
            .strip_prefix(data().join("pcap"))
            .unwrap()
            .display()
            .to_string();
        let o = oracle(&path);
        let r = run(&path);

        // tshark's list holds DNS query messages; multicast DNS (port 5353) is a protocol of its
        // own there ("mdns"), so it is compared apart from unicast DNS, and names known only
        // from a captured response (count 0) are not queries.
        let ours: BTreeSet<String> = r
            .dns
            .iter()
            .filter(|q| q.count > 0 && q.transports.iter().any(|t| t != "mdns"))
            .map(|q| q.name.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        let theirs: BTreeSet<String> = o["dns"]["queries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                q["name"]
                    .as_str()
                    .unwrap()
                    .trim_end_matches('.')
                    .to_ascii_lowercase()
            })
            .filter(|n| !n.is_empty() && n != "<root>")
            .collect();
        diff(&name, "dns", &ours, &theirs, &mut problems);

        let sni = |protos: &[&str]| -> BTreeSet<String> {
            r.handshakes
                .iter()
                .filter(|h| protos.contains(&h.protocol.as_str()))
                .filter_map(|h| h.sni.clone())
                .collect()
        };
        let oracle_sni = |key: &str| -> BTreeSet<String> {
            o[key]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|h| h["sni"].as_array().cloned().unwrap_or_default())
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        diff(
            &name,
            "sni",
            &sni(&["tls"]),
            &oracle_sni("tls_client_hello"),
            &mut problems,
        );
        diff(
            &name,
            "quic-sni",
            &sni(&["quic", "gquic"]),
            &oracle_sni("quic_sni"),
            &mut problems,
        );

        let ours = our_requests(&r, |p| {
            p != pc_traffic::Protocol::Http2 && p != pc_traffic::Protocol::Http3
        });
        let theirs: BTreeSet<String> = o["http_requests"]
            .as_array()
            .unwrap()
            .iter()
            // Requests inside TLS count where tshark had keys: a key log beside the capture or
            // Decryption Secrets Blocks in it. rsasnakeoil2 is decrypted by tshark with the
            // server's RSA private key, which phonecert does not take: phones negotiate
            // (EC)DHE, where a server key decrypts nothing, so labs record key logs instead.
            .filter(|q| !q["over_tls"].as_bool().unwrap_or(false) || !name.contains("rsasnakeoil2"))
            .map(|q| their_request(q, "host", "uri"))
            .collect();
        diff(&name, "http", &ours, &theirs, &mut problems);

        // HTTP/2 requests, cleartext and decrypted (method, :authority, :path).
        let ours = our_requests(&r, |p| p == pc_traffic::Protocol::Http2);
        let theirs: BTreeSet<String> = o["http2_requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| their_request(q, "authority", "path"))
            .collect();
        diff(&name, "http2", &ours, &theirs, &mut problems);

        // QUIC: tshark 4.0 decrypts 1-RTT packets but does not decode QPACK, so HTTP/3 requests
        // cannot be compared; what can be is whether the connections were decrypted at all.
        let d = &o["decryption"];
        let tshark_decrypted = d["quic_short_packets_decrypted"].as_u64().unwrap_or(0) > 0;
        let ours_decrypted = r.handshakes.iter().any(|h| {
            h.protocol == pc_traffic::Protocol::Quic
                && h.decrypted_bytes > 0
                && h.decryption.as_deref() != Some("no key")
        });
        if tshark_decrypted != ours_decrypted {
            problems.push(format!(
                "{name}: QUIC decrypted: phonecert {ours_decrypted}, tshark {tshark_decrypted}"
            ));
        }
        if d["http3_layers"].as_u64().unwrap_or(0) > 0
            && !r
                .requests
                .iter()
                .any(|q| q.protocol == pc_traffic::Protocol::Http3)
        {
            problems.push(format!(
                "{name}: tshark saw HTTP/3, phonecert no HTTP/3 request"
            ));
        }

        // Nothing may be lost: every packet tshark counted was read.
        assert_eq!(
            r.inputs[0].packets,
            o["frame_count"].as_u64().unwrap(),
            "{name}: packets read: {:?}",
            r.inputs[0].errors
        );
    }
    assert!(
        problems.is_empty(),
        "differences from tshark:\n{}",
        problems.join("\n")
    );
}

/// Our requests of the protocols `keep` selects, as `METHOD HOST PATH`.
fn our_requests(
    r: &pc_traffic::TrafficReport,
    keep: impl Fn(pc_traffic::Protocol) -> bool,
) -> BTreeSet<String> {
    r.requests
        .iter()
        .filter(|q| keep(q.protocol))
        .map(|q| {
            let host = q.host.as_deref().unwrap_or("-");
            format!("{} {host} {}", q.method, q.path)
        })
        .collect()
}

/// One of tshark's requests (from the oracle JSON) as `METHOD HOST PATH`, with the names its
/// fields have for this protocol.
fn their_request(q: &serde_json::Value, host: &str, path: &str) -> String {
    format!(
        "{} {} {}",
        q["method"].as_str().unwrap_or("?"),
        q[host].as_str().unwrap_or("-"),
        q[path].as_str().unwrap_or("?")
    )
}
