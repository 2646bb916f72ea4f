//! The test support works against a real page: headless Chromium fills a form and uploads a file
//! to a tiny server started here, and the HTTP client's cookies, chunking, bodies and cut-off
//! uploads are checked against the same server.

mod support;

use std::collections::BTreeMap;
use std::io::{BufReader, Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::http::{self, Client, Framing, Multipart};
use support::webdriver::Browser;

/// Bounds waits only: a broken server or browser fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// A tiny server: one thread per connection, one request per connection.

struct TinyServer {
    base: String,
    /// What the server noticed that has no response to show it: bodies cut short.
    events: mpsc::Receiver<String>,
}

impl TinyServer {
    fn start() -> TinyServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, events) = mpsc::channel();
        // Detached: it lives as long as the test process, which is short.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tx = tx.clone();
                // Chromium opens speculative connections it may never use, so one blocked
                // connection must not hold up the others.
                std::thread::spawn(move || serve(stream, tx));
            }
        });
        TinyServer { base, events }
    }
}

struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn serve(stream: TcpStream, events: mpsc::Sender<String>) {
    let _ = stream.set_read_timeout(Some(WAIT));
    let mut r = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if std::io::BufRead::read_line(&mut r, &mut line).unwrap_or(0) == 0 {
        return; // a speculative connection closed unused
    }
    let mut parts = line.split_whitespace();
    let (method, target) = match (parts.next(), parts.next()) {
        (Some(m), Some(t)) => (m.to_string(), t.to_string()),
        _ => return,
    };
    let Ok(headers) = http::read_headers(&mut r) else {
        return;
    };
    let mut req = Req {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let what = format!("{} {}", req.method, req.target);
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        match http::read_chunked(&mut r) {
            Ok(body) => req.body = body,
            Err(_) => {
                let _ = events.send(format!("{what}: chunked body cut off"));
                return;
            }
        }
    } else if let Some(len) = req.header("content-length") {
        let len: u64 = len.parse().expect("Content-Length");
        let _ = (&mut r).take(len).read_to_end(&mut req.body);
        if (req.body.len() as u64) < len {
            let _ = events.send(format!("{what}: short body {} of {len}", req.body.len()));
            return;
        }
    }
    let (status, headers, body) = route(&req);
    let mut out = stream;
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if req.target == "/chunked" {
        // Several chunks with extensions and a trailer, so the client's decoder is exercised.
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        let _ = out.write_all(head.as_bytes());
        for piece in ["alpha ", "beta ", "gamma"] {
            let _ = write!(out, "{:x};ext=1\r\n{piece}\r\n", piece.len());
            let _ = out.flush();
        }
        let _ = out.write_all(b"0\r\nX-Trailer: done\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&body);
    }
}

type Reply = (&'static str, Vec<(&'static str, String)>, Vec<u8>);

fn html(body: String) -> Reply {
    (
        "200 OK",
        vec![("Content-Type", "text/html; charset=utf-8".into())],
        body.into_bytes(),
    )
}

fn route(req: &Req) -> Reply {
    let path = req.target.split('?').next().unwrap_or("");
    match (req.method.as_str(), path) {
        ("GET", "/") => {
            let mut reply = html(FORM.to_string());
            reply.1.push(("Set-Cookie", "visited=yes; Path=/".into()));
            reply
        }
        ("POST", "/upload") => {
            let parts = multipart_parts(req);
            let note = parts
                .get("note")
                .map(|p| String::from_utf8_lossy(&p.1).into_owned())
                .unwrap_or_default();
            let (filename, size) = parts
                .get("doc")
                .map(|p| (p.0.clone().unwrap_or_default(), p.1.len()))
                .unwrap_or_default();
            html(format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>Echo</title></head>\
                 <body><p id=\"note\">{}</p><p id=\"size\">{size}</p>\
                 <p id=\"filename\">{}</p></body></html>",
                escape(&note),
                escape(&filename)
            ))
        }
        ("GET", "/set-cookie") => (
            "200 OK",
            vec![
                (
                    "Set-Cookie",
                    "sid=s3cret; Path=/; HttpOnly; SameSite=Lax".into(),
                ),
                ("Set-Cookie", "theme=dark; Path=/".into()),
                ("Set-Cookie", "scoped=1; Path=/admin".into()),
            ],
            b"set".to_vec(),
        ),
        ("GET", "/clear-cookie") => (
            "200 OK",
            vec![(
                "Set-Cookie",
                "theme=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT".into(),
            )],
            b"cleared".to_vec(),
        ),
        ("GET", "/cookies") | ("GET", "/admin/cookies") => (
            "200 OK",
            vec![],
            req.header("cookie").unwrap_or("").as_bytes().to_vec(),
        ),
        ("GET", "/chunked") => ("200 OK", vec![], Vec::new()),
        ("GET", "/redirect") => ("303 See Other", vec![("Location", "/".into())], Vec::new()),
        (_, "/raw") => (
            "200 OK",
            vec![("Content-Type", "application/octet-stream".into())],
            req.body.clone(),
        ),
        (_, "/echo") => {
            // Repeated headers joined, so a test sees duplicates.
            let mut headers: BTreeMap<String, String> = BTreeMap::new();
            for (k, v) in &req.headers {
                let e = headers.entry(k.to_ascii_lowercase()).or_default();
                if !e.is_empty() {
                    e.push_str(", ");
                }
                e.push_str(v);
            }
            let fields: BTreeMap<String, Value> = multipart_parts(req)
                .into_iter()
                .map(|(name, (filename, bytes))| {
                    let v = json!({
                        "filename": filename,
                        "len": bytes.len(),
                        "text": String::from_utf8_lossy(&bytes),
                    });
                    (name, v)
                })
                .collect();
            let v = json!({
                "method": req.method,
                "target": req.target,
                "headers": headers,
                "body": String::from_utf8_lossy(&req.body),
                "body_len": req.body.len(),
                "fields": fields,
            });
            (
                "200 OK",
                vec![("Content-Type", "application/json".into())],
                serde_json::to_vec(&v).unwrap(),
            )
        }
        _ => ("404 Not Found", vec![], b"not found".to_vec()),
    }
}

const FORM: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Upload form</title></head>
<body>
<form method="post" action="/upload" enctype="multipart/form-data">
  <label>Note <input type="text" name="note" id="note" value="placeholder"></label>
  <input type="file" name="doc" id="doc">
  <button type="submit" id="send">Send</button>
</form>
</body></html>"#;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Field name -> (file name, bytes) of a multipart/form-data body; empty if it isn't one.
fn multipart_parts(req: &Req) -> BTreeMap<String, (Option<String>, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let Some(boundary) = req
        .header("content-type")
        .filter(|ct| ct.starts_with("multipart/form-data"))
        .and_then(|ct| ct.split("boundary=").nth(1))
    else {
        return out;
    };
    let delim = format!("--{}", boundary.trim_matches('"'));
    let body = &req.body;
    let Some(mut at) = find(body, delim.as_bytes()) else {
        return out;
    };
    loop {
        at += delim.len();
        if body[at..].starts_with(b"--") {
            return out; // closing delimiter
        }
        at += 2; // CRLF after the delimiter
        let head_end = at + find(&body[at..], b"\r\n\r\n").expect("part head");
        let head = String::from_utf8_lossy(&body[at..head_end]).into_owned();
        let content_start = head_end + 4;
        let next = format!("\r\n{delim}");
        let content_end =
            content_start + find(&body[content_start..], next.as_bytes()).expect("part end");
        let param = |key: &str| {
            let pat = format!("{key}=\"");
            head.find(&pat).map(|i| {
                let rest = &head[i + pat.len()..];
                rest[..rest.find('"').unwrap_or(rest.len())].to_string()
            })
        };
        // `filename=` contains `name=`: look for the name with its leading space.
        let name = param(" name").unwrap_or_default();
        out.insert(
            name,
            (param("filename"), body[content_start..content_end].to_vec()),
        );
        at = content_end + 2;
    }
}

// ---------------------------------------------------------------------------------------------
// The browser

#[test]
fn browser_fills_a_form_and_uploads_a_file() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = TinyServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.bin");
    // Binary, with CR and LF bytes, so a multipart boundary search would trip on a bad parser.
    let content: Vec<u8> = (0..1234u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();

    browser.goto(&format!("{}/", server.base));
    assert_eq!(browser.title(), "Upload form");
    assert_eq!(browser.cookie("visited").as_deref(), Some("yes"));
    assert_eq!(browser.cookie("absent"), None);
    let note = browser.find("#note");
    assert_eq!(note.attr("value").as_deref(), Some("placeholder"));
    assert_eq!(note.attr("data-none"), None);
    assert_eq!(note.tag_name(), "input");
    assert!(note.is_displayed() && note.is_enabled());
    note.clear();
    let text = "héllo wörld & <tags>";
    note.send_keys(text);
    assert_eq!(note.value(), text);
    browser
        .find("input[type=file]")
        .send_keys(file.to_str().unwrap());
    let form = browser.find("form");
    assert_eq!(form.find_all("input").len(), 2);
    assert_eq!(form.find("button").text(), "Send");
    browser.find("#send").click();

    browser.wait_until(WAIT, |b| b.title() == "Echo");
    assert!(browser.current_url().ends_with("/upload"));
    assert_eq!(browser.find("#note").text(), text);
    assert_eq!(browser.find("#size").text(), content.len().to_string());
    assert_eq!(browser.find("#filename").text(), "sample.bin");
    assert_eq!(browser.find_all("p").len(), 3);
    assert!(browser.try_find("#missing").is_none());
    assert!(browser.page_source().contains("id=\"size\""));
    let size = browser.find("#size");
    assert_eq!(
        browser.execute("return arguments[0].id + document.title", &[size.to_json()]),
        json!("sizeEcho")
    );

    let png = dir.path().join("echo.png");
    browser.screenshot(&png);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    browser.back();
    browser.wait_until(WAIT, |b| b.try_find("#doc").is_some());
    assert_eq!(browser.title(), "Upload form");
}

// ---------------------------------------------------------------------------------------------
// The HTTP client

#[test]
fn http_cookie_jar_stores_sends_scopes_and_clears() {
    let server = TinyServer::start();
    let c = Client::new(&server.base);
    let r = c.get("/set-cookie");
    r.expect_status(200);
    assert_eq!(r.set_cookies().len(), 3);
    assert!(r.set_cookies()[0].contains("HttpOnly"));
    assert_eq!(c.cookie("sid").as_deref(), Some("s3cret"));
    assert_eq!(c.get("/cookies").text(), "sid=s3cret; theme=dark");
    // Path=/admin cookies go only below /admin, and first, as browsers order them.
    assert_eq!(
        c.get("/admin/cookies").text(),
        "scoped=1; sid=s3cret; theme=dark"
    );
    c.get("/clear-cookie").expect_status(200);
    assert_eq!(c.cookie("theme"), None);
    assert_eq!(c.get("/cookies").text(), "sid=s3cret");
    // A clone shares the jar; a new client is another user.
    assert_eq!(c.clone().get("/cookies").text(), "sid=s3cret");
    let other = Client::new(&server.base);
    assert_eq!(other.get("/cookies").text(), "");
    other.set_cookie("sid", "forged");
    assert_eq!(other.get("/cookies").text(), "sid=forged");
    // A cookie set by hand on one request joins the jar's.
    let r = other
        .req("GET", "/cookies")
        .header("Cookie", "extra=1")
        .send();
    assert_eq!(r.text(), "sid=forged; extra=1");
    other.clear_cookies();
    assert_eq!(other.get("/cookies").text(), "");
}

#[test]
fn http_reads_chunked_responses_and_leaves_redirects_alone() {
    let server = TinyServer::start();
    let c = Client::new(&server.base);
    let r = c.get("/chunked");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.text(), "alpha beta gamma");
    let r = c.get("/redirect");
    r.expect_status(303);
    assert_eq!(r.location(), Some("/"));
    assert_eq!(c.get("/nowhere").status, 404);
    // An absolute URL works too (a Location, or another server).
    assert_eq!(c.get(&c.url("/chunked")).text(), "alpha beta gamma");
}

#[test]
fn http_posts_forms_json_and_multipart_with_custom_headers() {
    let server = TinyServer::start();
    let c = Client::new(&server.base).with_bearer("tok-123");

    let r = c.post_form("/echo", &[("a", "1 2"), ("b", "é&=")]).json();
    assert_eq!(r["method"], "POST");
    assert_eq!(r["body"], "a=1+2&b=%C3%A9%26%3D");
    assert_eq!(
        r["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(r["headers"]["authorization"], "Bearer tok-123");
    assert_eq!(r["headers"]["connection"], "close");

    let doc = json!({ "name": "Acme A1", "ids": [1, 2] });
    let r = c.post_json("/echo", &doc).json();
    assert_eq!(r["headers"]["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap(),
        doc
    );

    let r = c
        .req("POST", &format!("/echo?q={}", http::urlencode("a b")))
        .header("X-CSRF-Token", "csrf-abc")
        .header("Origin", c.origin())
        .send()
        .json();
    assert_eq!(r["target"], "/echo?q=a+b");
    assert_eq!(r["headers"]["x-csrf-token"], "csrf-abc");
    assert_eq!(r["headers"]["origin"], server.base.as_str());
    assert_eq!(r["headers"]["content-length"], "0");
    // A request's own Authorization replaces the client's.
    let r = c.req("GET", "/echo").bearer("other").send().json();
    assert_eq!(r["headers"]["authorization"], "Bearer other");

    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let form = Multipart::new().text("model", "Acme \"A1\"").file(
        "firmware",
        "fw.img",
        "application/octet-stream",
        &binary,
    );
    let r = c.post_multipart("/echo", form).json();
    assert!(
        r["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(r["fields"]["model"]["text"], "Acme \"A1\"");
    assert_eq!(r["fields"]["firmware"]["filename"], "fw.img");
    assert_eq!(r["fields"]["firmware"]["len"], 5000);
}

#[test]
fn http_puts_files_and_readers_with_either_framing() {
    let server = TinyServer::start();
    let c = Client::new(&server.base);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &content).unwrap();

    for framing in [Framing::Length, Framing::Chunked] {
        let r = c.put_file("/raw", &file, framing);
        r.expect_status(200);
        assert!(r.body == content, "{framing:?}: body differs");
        let r = c.put_file("/echo", &file, framing).json();
        match framing {
            Framing::Length => assert_eq!(r["headers"]["content-length"], "300000"),
            Framing::Chunked => assert_eq!(r["headers"]["transfer-encoding"], "chunked"),
        }
        assert_eq!(r["body_len"], 300_000);
    }
    let r = c
        .req("PUT", "/raw")
        .reader(
            "application/octet-stream",
            Cursor::new(b"streamed".to_vec()),
            None,
        )
        .send();
    assert_eq!(r.body, b"streamed");
    let r = c
        .req("PUT", "/raw")
        .reader("text/plain", Cursor::new(b"sized".to_vec()), Some(5))
        .send();
    assert_eq!(r.body, b"sized");
}

#[test]
fn http_uploads_can_be_cut_off_midway() {
    let server = TinyServer::start();
    let c = Client::new(&server.base);

    let mut up = c.req("PUT", "/raw").start_upload(Some(1000)).unwrap();
    up.write(&[7u8; 400]).unwrap();
    up.abort();
    assert_eq!(
        server.events.recv_timeout(WAIT).unwrap(),
        "PUT /raw: short body 400 of 1000"
    );

    let mut up = c.req("PUT", "/raw").start_upload(None).unwrap();
    up.write(b"first chunk").unwrap();
    up.abort();
    assert_eq!(
        server.events.recv_timeout(WAIT).unwrap(),
        "PUT /raw: chunked body cut off"
    );

    // The same, carried to the end, is an ordinary request.
    let mut up = c.req("PUT", "/raw").start_upload(None).unwrap();
    up.write(b"one ").unwrap();
    up.write(b"two").unwrap();
    assert_eq!(up.finish().unwrap().body, b"one two");
    let mut up = c.req("PUT", "/raw").start_upload(Some(6)).unwrap();
    up.write(b"abc").unwrap();
    up.write(b"def").unwrap();
    assert_eq!(up.finish().unwrap().body, b"abcdef");
}
