//! The same request through each of the four HTTP sources (HTTP/1 bytes, an HTTP/2 message,
//! an HTTP/3 request, a HAR entry) gives the same findings and the same listed request.

use super::Analysis;
use super::collector::Collector;
use super::flow::Flow;
use crate::ctx::Ctx;
use crate::result::CaptureResult;
use pc_detect::{Identifier, IdentifierKind, Matcher};
use pc_net::{Direction, FlowKey, FlowSink, FlowStats, PacketMeta, Transport};
use std::collections::BTreeSet;

const IMEI: &str = "356938035643809";

fn ctx() -> Ctx {
    let ids = vec![Identifier::text(IdentifierKind::Imei, "imei", IMEI)];
    Ctx {
        matcher: Matcher::new(&ids),
        ids,
        keylog: Default::default(),
        scan: Default::default(),
        reveal: false,
        net: Default::default(),
    }
}

fn key() -> FlowKey {
    FlowKey {
        client: "10.0.0.2:40000".parse().unwrap(),
        server: "203.0.113.9:443".parse().unwrap(),
        transport: Transport::Tcp,
    }
}

fn meta() -> PacketMeta {
    PacketMeta {
        frame: 4,
        ts: 1_782_000_000_000_000_000,
        app: None,
    }
}

/// The request: the IMEI in the query, in a header whose name is not lowercase, in a cookie
/// and in the body; the host in capitals.
fn headers() -> Vec<(String, Vec<u8>)> {
    vec![
        ("X-Device".into(), format!("id={IMEI}").into_bytes()),
        ("cookie".into(), format!("d={IMEI}").into_bytes()),
    ]
}
const PATH: &str = "/v1/sync?imei=356938035643809";
fn body() -> Vec<u8> {
    format!("{{\"imei\":\"{IMEI}\"}}").into_bytes()
}

/// What a source's result says: (where, form) of each finding, the destination names, and
/// (method, path) of each listed request.
type Seen = (
    BTreeSet<(String, Vec<&'static str>)>,
    BTreeSet<String>,
    Vec<(String, String)>,
);

fn seen(r: &CaptureResult) -> Seen {
    (
        r.findings
            .keys()
            .map(|k| (k.hit.location.clone(), k.hit.encoding.clone()))
            .collect(),
        r.destinations.keys().map(|k| k.name.clone()).collect(),
        r.requests
            .iter()
            .map(|q| (q.method.clone(), q.path.clone()))
            .collect(),
    )
}

fn http1(ctx: &Ctx) -> Seen {
    let mut a = Analysis::new(ctx, CaptureResult::default());
    let mut bytes = format!("POST {PATH} HTTP/1.1\r\nHost: API.Acme.Example:443\r\n").into_bytes();
    for (n, v) in headers() {
        bytes.extend(n.as_bytes());
        bytes.extend(b": ");
        bytes.extend(v);
        bytes.extend(b"\r\n");
    }
    bytes.extend(format!("Content-Length: {}\r\n\r\n", body().len()).as_bytes());
    bytes.extend(body());
    a.flow_start(0, &key(), &meta());
    a.stream_data(0, Direction::ToServer, &bytes, &meta());
    a.flow_end(0, &key(), &FlowStats::default());
    seen(&a.out.result)
}

/// An HTTP/2 or HTTP/3 request, recorded as the flow's analyzer would, then the flow ended.
fn framed(ctx: &Ctx, record: impl FnOnce(&mut Collector<'_>, &mut Flow)) -> Seen {
    let mut out = Collector::new(ctx, CaptureResult::default());
    let mut flow = Flow::new(&key(), &meta());
    record(&mut out, &mut flow);
    out.flow_ended(flow, &key(), &FlowStats::default(), None);
    seen(&out.result)
}

fn pseudo() -> Vec<(String, Vec<u8>)> {
    let mut h = vec![
        (":method".to_string(), b"POST".to_vec()),
        (":path".to_string(), PATH.as_bytes().to_vec()),
        (":authority".to_string(), b"API.Acme.Example".to_vec()),
    ];
    h.extend(headers());
    h
}

fn http2(ctx: &Ctx) -> Seen {
    framed(ctx, |out, flow| {
        let m = pc_h2::Message {
            stream_id: 1,
            to_server: true,
            headers: pseudo(),
            body: body(),
            complete: true,
            ..Default::default()
        };
        out.h2_message(&mut flow.st, &m, &meta(), true);
    })
}

fn http3(ctx: &Ctx) -> Seen {
    framed(ctx, |out, flow| {
        let m = pc_h3::H3Message {
            stream_id: 0,
            headers: pseudo(),
            body: body(),
            body_truncated: false,
            complete: true,
        };
        out.h3_events(&mut flow.st, &[pc_h3::Event::Request(m)], &meta());
    })
}

fn har(ctx: &Ctx) -> Seen {
    let mut result = CaptureResult::default();
    let entry = pc_capture::har::Entry {
        request: pc_capture::har::Request {
            method: "POST".into(),
            url: format!("https://API.Acme.Example{PATH}"),
            headers: headers()
                .into_iter()
                .map(|(n, v)| (n, String::from_utf8(v).unwrap()))
                .collect(),
            body: Some(body()),
            ..Default::default()
        },
        ..Default::default()
    };
    crate::har::analyze_entry(ctx, &entry, &mut result);
    seen(&result)
}

#[test]
fn one_request_four_sources_same_findings() {
    let ctx = ctx();
    let h1 = http1(&ctx);
    let (where_, names, requests) = &h1;
    let expected: BTreeSet<_> = ["body", "cookie", "header:x-device", "url"]
        .iter()
        .map(|w| (w.to_string(), vec!["plain"]))
        .collect();
    assert_eq!(where_, &expected, "HTTP/1");
    assert_eq!(names, &BTreeSet::from(["api.acme.example".to_string()]));
    assert_eq!(requests, &[("POST".to_string(), PATH.to_string())]);
    assert_eq!(http2(&ctx), h1, "HTTP/2");
    assert_eq!(http3(&ctx), h1, "HTTP/3");
    assert_eq!(har(&ctx), h1, "HAR");
}

/// An HTTP/3 stream without `:method` and `:path` is not listed as a request (it was, while
/// HTTP/2 left such streams out).
#[test]
fn a_stream_without_method_or_path_is_no_request() {
    let ctx = ctx();
    let (_, _, requests) = framed(&ctx, |out, flow| {
        let m = pc_h3::H3Message {
            stream_id: 0,
            headers: headers(),
            body: vec![],
            body_truncated: false,
            complete: true,
        };
        out.h3_events(&mut flow.st, &[pc_h3::Event::Request(m)], &meta());
    });
    assert!(requests.is_empty());
}
