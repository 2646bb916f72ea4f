//! A small blocking HTTP/1.1 client for tests that talk to a real server over loopback.
//!
//! Written over `std::net::TcpStream` rather than pulling in an HTTP crate: the tests only need
//! plain `http://` on loopback, and owning the socket lets crash tests cut a request off midway,
//! which client libraries deliberately make impossible. Every request is sent with
//! `Connection: close`, so a response ends at `Content-Length`, at the last chunk, or at EOF.
//! Redirects are never followed: tests assert on them (`Response::location`).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod cookies;
mod multipart;
use cookies::Jar;
pub use multipart::Multipart;

/// Long enough for a slow CI machine to process an upload; only there so a broken server fails
/// the test instead of hanging it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A port that was free a moment ago on 127.0.0.1, for handing to a server started by the test.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Polls until something accepts TCP connections at `base_url` (`http://host:port`), for a server
/// process the test just spawned. Returns false if nothing did within `timeout`.
pub fn wait_for_server(base_url: &str, timeout: Duration) -> bool {
    let url = Url::parse(base_url);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect((url.host.as_str(), url.port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Percent-encodes `s` as a query or form value (`application/x-www-form-urlencoded`).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `a=1&b=two+words`, as a browser encodes a form.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `unwrap_or_else(|e| panic!(..))` would report the closure as the panic's location; this
/// reports the test's line, through `#[track_caller]`.
pub trait OrPanic<T> {
    fn or_panic(self, what: impl FnOnce() -> String) -> T;
}

impl<T, E: fmt::Display> OrPanic<T> for Result<T, E> {
    #[track_caller]
    fn or_panic(self, what: impl FnOnce() -> String) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{}: {e}", what()),
        }
    }
}

impl<T> OrPanic<T> for Option<T> {
    #[track_caller]
    fn or_panic(self, what: impl FnOnce() -> String) -> T {
        match self {
            Some(v) => v,
            None => panic!("{}", what()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// URLs

#[derive(Clone, Debug)]
struct Url {
    host: String,
    port: u16,
    /// Path and query, always starting with `/`.
    target: String,
}

impl Url {
    #[track_caller]
    fn parse(url: &str) -> Url {
        let rest = url
            .strip_prefix("http://")
            .or_panic(|| format!("only http:// URLs are supported, got {url:?}"));
        let (authority, target) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            // [::1]:8080
            let (h, rest) = v6.split_once(']').or_panic(|| format!("bad URL {url:?}"));
            let port = match rest.strip_prefix(':') {
                Some(p) => p.parse().or_panic(|| format!("bad port in URL {url:?}")),
                None => 80,
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().or_panic(|| format!("bad port in URL {url:?}")),
                ),
                None => (authority.to_string(), 80),
            }
        };
        Url {
            host,
            port,
            target: target.to_string(),
        }
    }

    fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("/")
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

/// A complete response: status, headers in the order received, and the decoded body (de-chunked;
/// content encodings are left alone since the tests don't ask for any).
#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header with this name (e.g. several `Set-Cookie`), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The raw `Set-Cookie` values, for asserting on attributes (HttpOnly, SameSite, ...).
    pub fn set_cookies(&self) -> Vec<&str> {
        self.header_all("set-cookie")
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The body as text (lossy, so a wrong encoding still shows up in an assertion message).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body if it isn't.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!("response body is not JSON ({e}): {self:?}"),
        }
    }

    /// Panics, showing the whole response, unless the status is `expected`.
    #[track_caller]
    pub fn expect_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status, expected,
            "expected status {expected}, got: {self:?}"
        );
        self
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "HTTP {} {}", self.status, self.reason)?;
        for (k, v) in &self.headers {
            writeln!(f, "{k}: {v}")?;
        }
        // Enough of the body to explain a failure without flooding the log.
        const MAX: usize = 4000;
        let text = self.text();
        if text.len() > MAX {
            let cut = (0..=MAX)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            write!(f, "\n{}... ({} bytes)", &text[..cut], self.body.len())
        } else {
            write!(f, "\n{text}")
        }
    }
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut buf = Vec::new();
    r.read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before the end of the response head",
        ));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads header lines up to the empty line.
pub fn read_headers(r: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (k, v) = line.split_once(':').ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("bad header {line:?}"))
        })?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
}

/// Decodes a chunked body (and skips its trailers). Public so a test's own tiny server can read
/// chunked requests with the same code.
pub fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size {line:?}"),
            )
        })?;
        if size == 0 {
            read_headers(r)?; // trailers
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk not followed by CRLF",
            ));
        }
    }
}

fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn read_response(r: &mut impl BufRead, method: &str) -> io::Result<Response> {
    loop {
        let line = read_line(r)?;
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            ));
        }
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
        let reason = parts.next().unwrap_or("").to_string();
        let headers = read_headers(r)?;
        // Interim responses (100 Continue) precede the real one.
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let no_body = method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&status)
            || status == 204
            || status == 304;
        let body = if no_body {
            Vec::new()
        } else if has_token(&headers, "transfer-encoding", "chunked") {
            read_chunked(r)?
        } else if let Some(len) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            let len: usize = len
                .1
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
            let mut body = vec![0; len];
            r.read_exact(&mut body)?;
            body
        } else {
            let mut body = Vec::new();
            r.read_to_end(&mut body)?;
            body
        };
        return Ok(Response {
            status,
            reason,
            headers,
            body,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// How a streamed body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` known up front (a file's size, or given).
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

enum Body {
    Empty,
    Bytes(Vec<u8>),
    Reader(Box<dyn Read + Send>, Option<u64>),
}

/// One request, built up and then sent with `send` (panics on I/O errors) or `try_send`.
/// From a `Client` it carries the client's cookies and default headers.
#[must_use = "a request does nothing until sent"]
pub struct Request {
    method: String,
    url: Url,
    headers: Vec<(String, String)>,
    body: Body,
    content_type: Option<String>,
    timeout: Duration,
    jar: Option<Arc<Mutex<Jar>>>,
}

impl Request {
    /// A request to an absolute `http://` URL, with no cookie jar.
    #[track_caller]
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: Url::parse(url),
            headers: Vec::new(),
            body: Body::Empty,
            content_type: None,
            timeout: DEFAULT_TIMEOUT,
            jar: None,
        }
    }

    /// Sets a header, replacing one of the same name (e.g. the client's default
    /// `Authorization`); `Cookie` values are added to the jar's instead.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        if !name.eq_ignore_ascii_case("cookie") {
            self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        }
        self.add_header(name, value)
    }

    /// Adds a header even if one of that name is there, for tests of duplicated headers.
    pub fn add_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// Read and write timeout of the socket (default two minutes).
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = timeout;
        self
    }

    /// A body held in memory, sent with `Content-Length`.
    pub fn body(mut self, content_type: &str, bytes: impl Into<Vec<u8>>) -> Request {
        self.content_type = Some(content_type.to_string());
        self.body = Body::Bytes(bytes.into());
        self
    }

    pub fn form(self, pairs: &[(&str, &str)]) -> Request {
        self.body("application/x-www-form-urlencoded", form_encode(pairs))
    }

    pub fn json(self, value: &serde_json::Value) -> Request {
        self.body("application/json", serde_json::to_vec(value).expect("JSON"))
    }

    pub fn multipart(self, form: Multipart) -> Request {
        let ct = form.content_type();
        self.body(&ct, form.into_bytes())
    }

    /// A body streamed from `reader`: with `Content-Length: len` if given, else chunked.
    pub fn reader(
        mut self,
        content_type: &str,
        reader: impl Read + Send + 'static,
        len: Option<u64>,
    ) -> Request {
        self.content_type = Some(content_type.to_string());
        self.body = Body::Reader(Box::new(reader), len);
        self
    }

    /// A body streamed from a file, framed by its size or chunked.
    #[track_caller]
    pub fn file(self, content_type: &str, path: &Path, framing: Framing) -> Request {
        let file = File::open(path).or_panic(|| format!("open {}", path.display()));
        let len = match framing {
            Framing::Length => Some(file.metadata().expect("file metadata").len()),
            Framing::Chunked => None,
        };
        self.reader(content_type, file, len)
    }

    /// Sends the request and reads the whole response; panics on a connection error.
    #[track_caller]
    pub fn send(self) -> Response {
        let what = format!("{} {}", self.method, self.url.target);
        self.try_send()
            .or_panic(|| format!("HTTP request {what} failed"))
    }

    /// Sends the request and reads the whole response.
    pub fn try_send(mut self) -> io::Result<Response> {
        let body = std::mem::replace(&mut self.body, Body::Empty);
        let framing = match &body {
            Body::Empty if matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") => {
                Some(BodyHead::Length(0))
            }
            Body::Empty => None,
            Body::Bytes(b) => Some(BodyHead::Length(b.len() as u64)),
            Body::Reader(_, Some(n)) => Some(BodyHead::Length(*n)),
            Body::Reader(_, None) => Some(BodyHead::Chunked),
        };
        let stream = self.connect()?;
        let mut w = BufWriter::with_capacity(64 * 1024, stream.try_clone()?);
        let written = self.write_head(&mut w, framing).and_then(|()| {
            match body {
                Body::Empty => {}
                Body::Bytes(b) => w.write_all(&b)?,
                Body::Reader(mut r, Some(n)) => {
                    let copied = io::copy(&mut (&mut r).take(n), &mut w)?;
                    if copied != n {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("body reader gave {copied} bytes, {n} announced"),
                        ));
                    }
                }
                Body::Reader(mut r, None) => {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = r.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        write!(w, "{n:x}\r\n")?;
                        w.write_all(&buf[..n])?;
                        w.write_all(b"\r\n")?;
                    }
                    w.write_all(b"0\r\n\r\n")?;
                }
            }
            w.flush()
        });
        // A server may answer (413, 401, ...) and close before reading the whole body; its
        // response is still the thing the test wants to see, so try to read it first.
        let response = read_response(&mut BufReader::new(stream), &self.method);
        match (written, response) {
            (_, Ok(r)) => {
                self.store_cookies(&r);
                Ok(r)
            }
            (Err(e), Err(_)) | (Ok(()), Err(e)) => Err(e),
        }
    }

    /// Writes the head with `Content-Length: content_length` (or chunked framing if None) and
    /// returns the open connection, for a test that writes the body itself — and may stop
    /// midway and drop the connection to simulate a crashed or disconnected client.
    pub fn start_upload(self, content_length: Option<u64>) -> io::Result<Upload> {
        let stream = self.connect()?;
        let framing = match content_length {
            Some(n) => BodyHead::Length(n),
            None => BodyHead::Chunked,
        };
        let mut w = BufWriter::new(stream.try_clone()?);
        self.write_head(&mut w, Some(framing))?;
        w.flush()?;
        Ok(Upload {
            stream,
            chunked: content_length.is_none(),
            request: self,
        })
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let addr = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host has no address"))?;
        let stream = TcpStream::connect_timeout(&addr, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    fn write_head(&self, w: &mut impl Write, framing: Option<BodyHead>) -> io::Result<()> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.method,
            self.url.target,
            self.url.host_header()
        );
        if !self.has_header("user-agent") {
            head.push_str("User-Agent: phonecert-tests\r\n");
        }
        if let Some(jar) = &self.jar {
            let from_jar = jar.lock().unwrap().header_for(self.url.path());
            // Cookies a test set by hand go after the jar's, in the same header.
            let by_hand: Vec<&str> = self
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
                .map(|(_, v)| v.as_str())
                .collect();
            let all: Vec<&str> = from_jar.as_deref().into_iter().chain(by_hand).collect();
            if !all.is_empty() {
                head.push_str(&format!("Cookie: {}\r\n", all.join("; ")));
            }
        }
        for (k, v) in &self.headers {
            if self.jar.is_some() && k.eq_ignore_ascii_case("cookie") {
                continue;
            }
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(ct) = &self.content_type
            && !self.has_header("content-type")
        {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        match framing {
            Some(BodyHead::Length(n)) => head.push_str(&format!("Content-Length: {n}\r\n")),
            Some(BodyHead::Chunked) => head.push_str("Transfer-Encoding: chunked\r\n"),
            None => {}
        }
        head.push_str("\r\n");
        w.write_all(head.as_bytes())
    }

    fn store_cookies(&self, r: &Response) {
        if let Some(jar) = &self.jar {
            let mut jar = jar.lock().unwrap();
            for c in r.set_cookies() {
                jar.store(c, self.url.path());
            }
        }
    }
}

#[derive(Clone, Copy)]
enum BodyHead {
    Length(u64),
    Chunked,
}

/// A request whose head has been sent and whose body the test writes piece by piece.
pub struct Upload {
    stream: TcpStream,
    chunked: bool,
    request: Request,
}

impl Upload {
    /// Writes body bytes (as one chunk when chunked).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.chunked {
            if bytes.is_empty() {
                return Ok(()); // an empty chunk would end the body
            }
            write!(self.stream, "{:x}\r\n", bytes.len())?;
            self.stream.write_all(bytes)?;
            self.stream.write_all(b"\r\n")
        } else {
            self.stream.write_all(bytes)
        }
    }

    /// Ends the body (the last chunk, when chunked) and reads the response.
    pub fn finish(mut self) -> io::Result<Response> {
        if self.chunked {
            self.stream.write_all(b"0\r\n\r\n")?;
        }
        self.stream.flush()?;
        let r = read_response(&mut BufReader::new(&self.stream), &self.request.method)?;
        self.request.store_cookies(&r);
        Ok(r)
    }

    /// Gives up midway: the server sees EOF before the announced end of the body, as when a
    /// client crashes or its network goes away.
    pub fn abort(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Reads whatever the server answers without sending the rest of the body, e.g. an early
    /// 413 or 401. Half-closes the sending side first so the server sees the body cut short.
    pub fn abort_and_read(self) -> io::Result<Response> {
        let _ = self.stream.shutdown(Shutdown::Write);
        read_response(&mut BufReader::new(&self.stream), &self.request.method)
    }
}

// ---------------------------------------------------------------------------------------------
// Client

/// A base URL, default headers and a shared cookie jar. Cloning shares the jar, as tabs of one
/// browser do; `Client::new` again for a second, independent user.
#[derive(Clone)]
pub struct Client {
    base: String,
    headers: Vec<(String, String)>,
    jar: Arc<Mutex<Jar>>,
    timeout: Duration,
}

impl Client {
    /// `base` is `http://host:port` (a trailing `/` is ignored).
    #[track_caller]
    pub fn new(base: &str) -> Client {
        let base = base.trim_end_matches('/').to_string();
        Url::parse(&base); // fail here, not at the first request
        Client {
            base,
            headers: Vec::new(),
            jar: Arc::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The base URL, which is also the value for an `Origin` header.
    pub fn origin(&self) -> &str {
        &self.base
    }

    /// The full URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{path}", self.base)
        }
    }

    /// A header sent with every request from now on (e.g. `Authorization`).
    pub fn with_header(mut self, name: &str, value: &str) -> Client {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Bearer <token>` on every request from now on.
    pub fn with_bearer(self, token: &str) -> Client {
        self.with_header("Authorization", &format!("Bearer {token}"))
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// A request to `path` (or an absolute `http://` URL, e.g. a `Location`), carrying this
    /// client's headers and cookies, and storing the cookies its response sets.
    #[track_caller]
    pub fn req(&self, method: &str, path: &str) -> Request {
        let mut r = Request::new(method, &self.url(path)).timeout(self.timeout);
        r.headers = self.headers.clone();
        r.jar = Some(self.jar.clone());
        r
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> Response {
        self.req("GET", path).send()
    }

    #[track_caller]
    pub fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> Response {
        self.req("POST", path).form(pairs).send()
    }

    #[track_caller]
    pub fn post_json(&self, path: &str, value: &serde_json::Value) -> Response {
        self.req("POST", path).json(value).send()
    }

    #[track_caller]
    pub fn post_multipart(&self, path: &str, form: Multipart) -> Response {
        self.req("POST", path).multipart(form).send()
    }

    /// PUT a file, streamed, framed by its size or chunked.
    #[track_caller]
    pub fn put_file(&self, path: &str, file: &Path, framing: Framing) -> Response {
        self.req("PUT", path)
            .file("application/octet-stream", file, framing)
            .send()
    }

    /// The value of a cookie in the jar (any path).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let jar = self.jar.lock().unwrap();
        jar.cookies
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.value.clone())
    }

    /// Puts a cookie in the jar for path `/`, as if the server had set it.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .store(&format!("{name}={value}; Path=/"), "/");
    }

    pub fn clear_cookies(&self) {
        self.jar.lock().unwrap().cookies.clear();
    }
}

/// Logs in as `email` on `base` and mints an API token of `scope`; returns the token.
pub fn login_token(base: &str, email: &str, password: &str, scope: &str) -> String {
    let web = Client::new(base);
    let login = web.post_json(
        "/api/v1/session",
        &serde_json::json!({"email": email, "password": password}),
    );
    login.expect_status(200);
    let csrf = login.json()["csrf_token"].as_str().unwrap().to_owned();
    let tok = web.clone().with_header("X-CSRF-Token", &csrf).post_json(
        "/api/v1/tokens",
        &serde_json::json!({"label": scope, "scope": scope}),
    );
    tok.expect_status(201);
    tok.json()["token"].as_str().unwrap().to_owned()
}
