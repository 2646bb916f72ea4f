//! A minimal W3C WebDriver client driving headless Chromium through chromedriver.
//!
//! JSON over the loopback HTTP client in `http.rs`, so the browser tests add no dependency.
//! `Browser::start` returns None when chromedriver or Chromium is missing, so a developer without
//! them still runs the rest of the suite; with `PHONECERT_E2E=1` (set by `.ci/run` once it has
//! installed them) a missing browser is a failure instead, so CI can't skip silently.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::{self, OrPanic, Request};

/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long `find` waits for an element by default: generous, since CI machines have two cores
/// shared with the compiler. It bounds a wait; nothing asserts on how long anything took.
const DEFAULT_WAIT: Duration = Duration::from_secs(20);

const POLL: Duration = Duration::from_millis(50);

/// Chromium's flags. As root it needs --no-sandbox; the background-networking flags stop it
/// from dialing Google's hosts, which this machine's closed network refuses.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1024",
];

/// An error answered by chromedriver, with its JSON for the panic message.
#[derive(Debug)]
pub struct WebDriverError {
    pub http_status: u16,
    /// The W3C error code, e.g. `no such element`.
    pub error: String,
    pub json: Value,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut json = self.json.clone();
        // The stack trace is chromedriver's own and long; the message says what went wrong.
        if let Some(v) = json.get_mut("value").and_then(Value::as_object_mut) {
            v.remove("stacktrace");
        }
        write!(
            f,
            "WebDriver error {:?} (HTTP {}): {json}",
            self.error, self.http_status
        )
    }
}

/// A headless Chromium with one WebDriver session. Dropping it ends the session (which closes
/// Chromium) and kills chromedriver.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:<port>/session/<id>`
    session_url: String,
    driver_url: String,
    wait: Duration,
    /// Holds Chromium's profile and chromedriver's log; removed after both have exited.
    dir: Option<tempfile::TempDir>,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or returns None if either binary is
    /// missing (panics instead when `PHONECERT_E2E=1`). Binaries: `PHONECERT_CHROMEDRIVER` and
    /// `PHONECERT_CHROMIUM`, else `/usr/bin/chromedriver` and `/usr/bin/chromium`.
    #[track_caller]
    pub fn start() -> Option<Browser> {
        let driver = env_path("PHONECERT_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = env_path("PHONECERT_CHROMIUM", "/usr/bin/chromium");
        let missing: Vec<String> = [&driver, &chromium]
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            if std::env::var("PHONECERT_E2E").as_deref() == Ok("1") {
                panic!(
                    "PHONECERT_E2E=1 but {} not found: install Debian's chromium and \
                     chromium-driver, or point PHONECERT_CHROMEDRIVER / PHONECERT_CHROMIUM at them",
                    missing.join(" and ")
                );
            }
            eprintln!(
                "skipping browser test: {} not found (set PHONECERT_E2E=1 to make this fail)",
                missing.join(" and ")
            );
            return None;
        }
        Some(Browser::launch(&driver, &chromium))
    }

    #[track_caller]
    fn launch(driver: &Path, chromium: &Path) -> Browser {
        let dir = tempfile::Builder::new()
            .prefix("phonecert-browser-")
            .tempdir()
            .expect("tempdir for the browser");
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).expect("profile dir");
        let log = dir.path().join("chromedriver.log");
        // The port is free when chosen but another process could take it before chromedriver
        // binds it; a few attempts make that race harmless.
        let mut last_failure = String::new();
        for _ in 0..3 {
            let port = http::free_port();
            let mut child = Command::new(driver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(File::create(&log).expect("chromedriver log"))
                .stderr(File::create(dir.path().join("chromedriver.err")).expect("log"))
                .spawn()
                .or_panic(|| format!("spawn {}", driver.display()));
            let driver_url = format!("http://127.0.0.1:{port}");
            match wait_ready(&mut child, &driver_url) {
                Ok(()) => {
                    let mut browser = Browser {
                        driver: child,
                        session_url: String::new(),
                        driver_url,
                        wait: DEFAULT_WAIT,
                        dir: Some(dir),
                    };
                    browser.new_session(chromium, &profile);
                    return browser;
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_failure = format!("{why}\n{}", read_logs(dir.path()));
                }
            }
        }
        panic!("chromedriver did not start: {last_failure}");
    }

    #[track_caller]
    fn new_session(&mut self, chromium: &Path, profile: &Path) {
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "implicit": 0, "pageLoad": 60_000, "script": 30_000 },
                    "goog:chromeOptions": {
                        "binary": chromium.display().to_string(),
                        "args": args,
                    },
                }
            }
        });
        let url = format!("{}/session", self.driver_url);
        match command(&url, "POST", Some(caps)) {
            Ok(v) => {
                let id = v["sessionId"]
                    .as_str()
                    .or_panic(|| format!("new session without an id: {v}"));
                self.session_url = format!("{}/session/{id}", self.driver_url);
            }
            Err(e) => {
                let logs = self.dir.as_ref().map(|d| read_logs(d.path()));
                panic!(
                    "could not start Chromium ({}): {e}\n{}",
                    chromium.display(),
                    logs.unwrap_or_default()
                );
            }
        }
    }

    /// Sends a WebDriver command relative to the session (`path` like `/url`) and returns its
    /// `value`, or the error chromedriver answered.
    pub fn try_cmd(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        command(&format!("{}{path}", self.session_url), method, body)
    }

    /// As `try_cmd`, panicking with the error JSON.
    #[track_caller]
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(method, path, body)
            .or_panic(|| format!("{method} {path}"))
    }

    /// How long `find` and `Element::find` wait for an element to appear.
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Navigates and waits for the page to load.
    #[track_caller]
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    #[track_caller]
    pub fn current_url(&self) -> String {
        string(self.cmd("GET", "/url", None))
    }

    #[track_caller]
    pub fn title(&self) -> String {
        string(self.cmd("GET", "/title", None))
    }

    #[track_caller]
    pub fn page_source(&self) -> String {
        string(self.cmd("GET", "/source", None))
    }

    #[track_caller]
    pub fn back(&self) {
        self.cmd("POST", "/back", Some(json!({})));
    }

    #[track_caller]
    pub fn refresh(&self) {
        self.cmd("POST", "/refresh", Some(json!({})));
    }

    /// The first element matching `css`, waiting for it to appear; panics (with the URL and
    /// the start of the page) if it doesn't.
    #[track_caller]
    pub fn find(&self, css: &str) -> Element<'_> {
        find_waiting(self, "", css, self.wait)
    }

    /// The first element matching `css` now, or None.
    #[track_caller]
    pub fn try_find(&self, css: &str) -> Option<Element<'_>> {
        try_find_in(self, "", css)
    }

    /// Every element matching `css` now (maybe none; no waiting).
    #[track_caller]
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        find_all_in(self, "", css)
    }

    /// Polls `condition` until it holds; panics after `timeout` with where the browser is.
    #[track_caller]
    pub fn wait_until(&self, timeout: Duration, condition: impl FnMut(&Browser) -> bool) {
        if !self.try_wait_until(timeout, condition) {
            panic!(
                "condition not met within {timeout:?}; {}",
                self.describe_page()
            );
        }
    }

    /// Polls `condition` until it holds (true) or `timeout` passes (false).
    pub fn try_wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&Browser) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Runs `script` (a function body: use `return`, and `arguments[i]` for `args`) and returns
    /// its result. Elements can be passed with `Element::to_json`.
    #[track_caller]
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// A PNG screenshot of the viewport, written to `path`.
    #[track_caller]
    pub fn screenshot(&self, path: &Path) {
        let b64 = string(self.cmd("GET", "/screenshot", None));
        let png = base64_decode(&b64).expect("screenshot is base64");
        std::fs::write(path, png).or_panic(|| format!("write {}", path.display()));
    }

    /// The value of a cookie the browser holds for the current page, e.g. to hand a logged-in
    /// session to `http::Client::set_cookie`.
    #[track_caller]
    pub fn cookie(&self, name: &str) -> Option<String> {
        match self.try_cmd("GET", &format!("/cookie/{name}"), None) {
            Ok(v) => v["value"].as_str().map(str::to_string),
            Err(e) if e.error == "no such cookie" => None,
            Err(e) => panic!("GET cookie {name}: {e}"),
        }
    }

    /// Every cookie of the current page as (name, value).
    #[track_caller]
    pub fn cookies(&self) -> Vec<(String, String)> {
        let v = self.cmd("GET", "/cookie", None);
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                        (s("name"), s("value"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The text of an open alert/confirm/prompt dialog, if one is open.
    #[track_caller]
    pub fn alert_text(&self) -> Option<String> {
        match self.try_cmd("GET", "/alert/text", None) {
            Ok(v) => Some(string(v)),
            Err(e) if e.error == "no such alert" => None,
            Err(e) => panic!("GET alert text: {e}"),
        }
    }

    #[track_caller]
    pub fn accept_alert(&self) {
        self.cmd("POST", "/alert/accept", Some(json!({})));
    }

    #[track_caller]
    pub fn dismiss_alert(&self) {
        self.cmd("POST", "/alert/dismiss", Some(json!({})));
    }

    /// URL, title and the start of the page, for failure messages.
    fn describe_page(&self) -> String {
        // Never panics: it builds the message of a panic.
        let get = |path: &str| match self.try_cmd("GET", path, None) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => format!("({e})"),
        };
        let (url, title, mut source) = (get("/url"), get("/title"), get("/source"));
        if source.len() > 3000 {
            let cut = (0..=3000)
                .rev()
                .find(|&i| source.is_char_boundary(i))
                .unwrap_or(0);
            source.truncate(cut);
            source.push_str("...");
        }
        format!("url {url}, title {title:?}, page:\n{source}")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failing test leaves a screenshot and the page behind for whoever reads the log.
        if std::thread::panicking() && !self.session_url.is_empty() {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-failures");
            let stem = format!(
                "{}-{}",
                std::process::id(),
                self.driver_url.rsplit(':').next().unwrap_or("")
            );
            if std::fs::create_dir_all(&dir).is_ok() {
                let png = dir.join(format!("{stem}.png"));
                let html = dir.join(format!("{stem}.html"));
                if let Ok(v) = self.try_cmd("GET", "/screenshot", None)
                    && let Some(bytes) = v.as_str().and_then(base64_decode)
                {
                    let _ = std::fs::write(&png, bytes);
                }
                if let Ok(Value::String(source)) = self.try_cmd("GET", "/source", None) {
                    let _ = std::fs::write(&html, source);
                }
                eprintln!(
                    "browser state at failure: {} and {}",
                    png.display(),
                    html.display()
                );
            }
        }
        if !self.session_url.is_empty() {
            // Ending the session makes chromedriver close Chromium and its helpers.
            let _ = Request::new("DELETE", &self.session_url)
                .timeout(Duration::from_secs(30))
                .try_send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        drop(self.dir.take());
    }
}

/// An element of the current page. Becomes stale when the page changes; find it again then.
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
    /// The selector it was found by, for messages.
    css: String,
}

impl<'b> Element<'b> {
    #[track_caller]
    fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let path = format!("/element/{}{what}", self.id);
        self.browser
            .try_cmd(method, &path, body)
            .or_panic(|| format!("{method} {what} on {:?}", self.css))
    }

    /// Clicks it (scrolling it into view); waits for a navigation it starts.
    #[track_caller]
    pub fn click(&self) {
        self.cmd("POST", "/click", Some(json!({})));
    }

    /// Types `text`. On `<input type=file>`, `text` is the absolute path of the file to attach.
    #[track_caller]
    pub fn send_keys(&self, text: &str) {
        self.cmd("POST", "/value", Some(json!({ "text": text })));
    }

    #[track_caller]
    pub fn clear(&self) {
        self.cmd("POST", "/clear", Some(json!({})));
    }

    /// Its rendered text.
    #[track_caller]
    pub fn text(&self) -> String {
        string(self.cmd("GET", "/text", None))
    }

    /// An HTML attribute, as written in the markup.
    #[track_caller]
    pub fn attr(&self, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/attribute/{name}"), None)
            .as_str()
            .map(str::to_string)
    }

    /// A DOM property (e.g. `value`, `checked`), which follows what the user did.
    #[track_caller]
    pub fn property(&self, name: &str) -> Value {
        self.cmd("GET", &format!("/property/{name}"), None)
    }

    /// The current value of an input, select or textarea.
    #[track_caller]
    pub fn value(&self) -> String {
        self.property("value")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[track_caller]
    pub fn tag_name(&self) -> String {
        string(self.cmd("GET", "/name", None))
    }

    #[track_caller]
    pub fn is_displayed(&self) -> bool {
        self.cmd("GET", "/displayed", None)
            .as_bool()
            .unwrap_or(false)
    }

    #[track_caller]
    pub fn is_enabled(&self) -> bool {
        self.cmd("GET", "/enabled", None).as_bool().unwrap_or(false)
    }

    #[track_caller]
    pub fn is_selected(&self) -> bool {
        self.cmd("GET", "/selected", None)
            .as_bool()
            .unwrap_or(false)
    }

    /// The first descendant matching `css`, waiting for it.
    #[track_caller]
    pub fn find(&self, css: &str) -> Element<'b> {
        find_waiting(
            self.browser,
            &format!("/element/{}", self.id),
            css,
            self.browser.wait,
        )
    }

    /// Every descendant matching `css` now.
    #[track_caller]
    pub fn find_all(&self, css: &str) -> Vec<Element<'b>> {
        find_all_in(self.browser, &format!("/element/{}", self.id), css)
    }

    /// The reference to pass it as an argument to `Browser::execute`.
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Element({:?})", self.css)
    }
}

#[track_caller]
fn find_waiting<'b>(b: &'b Browser, scope: &str, css: &str, wait: Duration) -> Element<'b> {
    let mut found = None;
    b.try_wait_until(wait, |_| {
        found = try_find_in(b, scope, css);
        found.is_some()
    });
    found.or_panic(|| {
        format!(
            "no element matches {css:?} after {wait:?}; {}",
            b.describe_page()
        )
    })
}

#[track_caller]
fn try_find_in<'b>(b: &'b Browser, scope: &str, css: &str) -> Option<Element<'b>> {
    let body = json!({ "using": "css selector", "value": css });
    match b.try_cmd("POST", &format!("{scope}/element"), Some(body)) {
        Ok(v) => Some(element(b, &v, css)),
        Err(e) if e.error == "no such element" => None,
        Err(e) => panic!("find {css:?}: {e}"),
    }
}

#[track_caller]
fn find_all_in<'b>(b: &'b Browser, scope: &str, css: &str) -> Vec<Element<'b>> {
    let body = json!({ "using": "css selector", "value": css });
    let v = b
        .try_cmd("POST", &format!("{scope}/elements"), Some(body))
        .or_panic(|| format!("find all {css:?}"));
    v.as_array()
        .map(|a| a.iter().map(|e| element(b, e, css)).collect())
        .unwrap_or_default()
}

#[track_caller]
fn element<'b>(b: &'b Browser, v: &Value, css: &str) -> Element<'b> {
    let id = v[ELEMENT_KEY]
        .as_str()
        .or_panic(|| format!("not an element reference: {v}"));
    Element {
        browser: b,
        id: id.to_string(),
        css: css.to_string(),
    }
}

/// One command to chromedriver: its `value` on success, the W3C error otherwise. A transport
/// failure (chromedriver gone) is reported as error `transport`.
fn command(url: &str, method: &str, body: Option<Value>) -> Result<Value, WebDriverError> {
    let mut req = Request::new(method, url);
    if let Some(body) = &body {
        req = req.json(body);
    }
    let resp = req.try_send().map_err(|e| WebDriverError {
        http_status: 0,
        error: "transport".into(),
        json: json!({ "value": { "message": format!("{method} {url}: {e}") } }),
    })?;
    let json: Value = serde_json::from_slice(&resp.body)
        .unwrap_or_else(|_| json!({ "value": { "error": "not json", "message": resp.text() } }));
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    let error = value.get("error").and_then(Value::as_str);
    if resp.status == 200 && error.is_none() {
        return Ok(value);
    }
    Err(WebDriverError {
        http_status: resp.status,
        error: error.unwrap_or("unknown error").to_string(),
        json,
    })
}

/// Waits for chromedriver's `/status` to say ready, or for it to exit.
fn wait_ready(child: &mut Child, driver_url: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("chromedriver exited with {status}"));
        }
        let resp = Request::new("GET", &format!("{driver_url}/status"))
            .timeout(Duration::from_secs(5))
            .try_send();
        if let Ok(r) = resp
            && serde_json::from_slice::<Value>(&r.body)
                .is_ok_and(|v| v["value"]["ready"].as_bool() == Some(true))
        {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
    Err("chromedriver not ready after 30s".into())
}

fn read_logs(dir: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    format!(
        "chromedriver stdout:\n{}\nchromedriver stderr:\n{}",
        read("chromedriver.log"),
        read("chromedriver.err")
    )
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

#[track_caller]
fn string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => panic!("expected a string from WebDriver, got {other}"),
    }
}

/// Standard base64 with padding, as WebDriver sends screenshots; None on a bad character.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
