//! The web application in process (router + real store + real audit workers), on SQLite and,
//! when configured, PostgreSQL. This file holds the lab fixture and the request helpers that
//! these tests, the route-by-role matrix (`authz_tests`) and the hardening tests share; the
//! tests are in the submodules, one subject each.

mod pages;
mod security;
mod uploads;
mod workflow;

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use crate::tests::{TestDb, test_dbs};
use crate::*;

/// A minimal ustar writer: the test builds the case archive itself, so the upload path is
/// exercised with a real archive of the real example case.
pub(crate) fn tar_of(dir: &Path) -> Vec<u8> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    let mut tar = Vec::new();
    for (name, data) in files {
        tar.extend_from_slice(&ustar_header(&name, b'0', data.len(), ""));
        tar.extend_from_slice(&data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

fn ustar_header(name: &str, typeflag: u8, size: usize, link: &str) -> [u8; 512] {
    assert!(name.len() < 100, "ustar name field: {name}");
    assert!(link.len() < 100, "ustar linkname field: {link}");
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A [`tar_of`] archive with symbolic links (name, target) added at its end.
fn with_symlinks(mut tar: Vec<u8>, links: &[(&str, &str)]) -> Vec<u8> {
    tar.truncate(tar.len() - 1024);
    for (name, target) in links {
        tar.extend_from_slice(&ustar_header(name, b'2', 0, target));
    }
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

pub(crate) fn example_case() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-a1")
}

/// One HTTP exchange with the router.
pub(crate) struct Resp {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub(crate) enum As {
    Nobody,
    Token(String),
    Session { cookie: String, csrf: String },
}

pub(crate) async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    who: &As,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Resp {
    send_with(app, method, uri, who, content_type, &[], body).await
}

/// [`send`] with extra headers.
pub(crate) async fn send_with(
    app: &axum::Router,
    method: &str,
    uri: &str,
    who: &As,
    content_type: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "registry.test");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    match who {
        As::Nobody => {}
        As::Token(t) => b = b.header(header::AUTHORIZATION, format!("Bearer {t}")),
        As::Session { cookie, .. } => {
            b = b.header(header::COOKIE, format!("phonecert_session={cookie}"))
        }
    }
    let resp = app
        .clone()
        .oneshot(b.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let set_cookie = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    Resp {
        status,
        location,
        set_cookie,
        body,
    }
}

/// A JSON request body and its content type; `null` sends none.
fn json_body(json: &serde_json::Value) -> (Option<&'static str>, Vec<u8>) {
    if json.is_null() {
        (None, Vec::new())
    } else {
        (Some("application/json"), serde_json::to_vec(json).unwrap())
    }
}

pub(crate) async fn api(
    app: &axum::Router,
    method: &str,
    uri: &str,
    who: &As,
    json: serde_json::Value,
) -> Resp {
    let (ct, body) = json_body(&json);
    send(app, method, uri, who, ct, body).await
}

/// [`api`] as a browser session's script: its CSRF token in the header, the API's only place.
pub(crate) async fn api_csrf(
    app: &axum::Router,
    method: &str,
    uri: &str,
    who: &As,
    json: serde_json::Value,
) -> Resp {
    let (ct, body) = json_body(&json);
    let csrf = match who {
        As::Session { csrf, .. } => vec![("x-csrf-token", csrf.as_str())],
        _ => Vec::new(),
    };
    send_with(app, method, uri, who, ct, &csrf, body).await
}

/// A form post of a browser session, with its CSRF token.
pub(crate) async fn form(app: &axum::Router, uri: &str, who: &As, fields: &[(&str, &str)]) -> Resp {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if let As::Session { csrf, .. } = who {
        s.append_pair("csrf", csrf);
    }
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    send(
        app,
        "POST",
        uri,
        who,
        Some("application/x-www-form-urlencoded"),
        s.finish().into_bytes(),
    )
    .await
}

/// A multipart form as the pages' forms send it: the CSRF field first (the body's first part is
/// where it is looked for), then one file in `field`. Returns the content type and the body.
pub(crate) fn multipart_file(
    csrf: &str,
    field: &str,
    filename: &str,
    data: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "testformboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A lab with accounts of every role, two manufacturers and audit workers.
pub(crate) struct Lab {
    pub db: TestDb,
    pub app: axum::Router,
    pub state: AppState,
    pub workers: Option<WorkerPool>,
    /// role name → token
    pub tokens: std::collections::BTreeMap<&'static str, String>,
}

pub(crate) const PASSWORD: &str = "a long test password";

/// Records `n` failed logins of `email` from in-process requests (client `local`), now.
pub(crate) async fn add_failures(store: &crate::Store, email: &str, n: usize) {
    add_failures_from(store, email, "local", n).await;
}

/// Records `n` failed logins of `email` from `client` (a client key), now.
pub(crate) async fn add_failures_from(store: &crate::Store, email: &str, client: &str, n: usize) {
    for _ in 0..n {
        sqlx::query("INSERT INTO login_failures (id, email, client, at) VALUES ($1, $2, $3, $4)")
            .bind(crate::new_id().unwrap())
            .bind(email.to_lowercase())
            .bind(client.to_owned())
            .bind(crate::unix_now())
            .execute(&store.pool)
            .await
            .unwrap();
    }
}

/// The web settings of the test lab: it answers as `http://registry.test`, the `Host` the
/// request helpers send.
pub(crate) fn test_web_config() -> WebConfig {
    WebConfig {
        host: crate::HostPolicy::Public(
            crate::Origin::parse_public_url("http://registry.test").unwrap(),
        ),
        ..WebConfig::default()
    }
}

impl Lab {
    pub async fn new(db: TestDb) -> Lab {
        let s = db.store.clone();
        let acme = s.create_manufacturer("Acme").await.unwrap();
        let other = s.create_manufacturer("Other Phones").await.unwrap();
        let mut tokens = std::collections::BTreeMap::new();
        for (name, role, m) in [
            ("admin", Role::Admin, None),
            ("engineer", Role::Engineer, None),
            ("reviewer", Role::Reviewer, None),
            ("acme", Role::Manufacturer, Some(acme.as_str())),
            ("other", Role::Manufacturer, Some(other.as_str())),
            ("public", Role::Public, None),
        ] {
            let u = s
                .create_user_for(&format!("{name}@lab.example"), PASSWORD, role, m)
                .await
                .unwrap();
            // Full-scope tokens: these tests are about roles; scopes have their own.
            let (_, t) = s
                .create_token(&u.id, "test", auth::Scope::Full, None)
                .await
                .unwrap();
            tokens.insert(name, t);
        }
        let key = certs::LabKey::new(pc_certify::keygen().0).unwrap();
        let state = AppState::with(s.clone(), key, test_web_config());
        let workers = Some(WorkerPool::spawn(
            s.clone(),
            WorkerConfig {
                workers: 1,
                lease: Duration::from_secs(30),
                heartbeat: Duration::from_secs(5),
                poll: Duration::from_millis(20),
                name: "test".into(),
            },
            jobs::audit_handler(
                s.clone(),
                bundle::BundleLimits::default(),
                crate::AuditExec::InProcess,
            ),
        ));
        Lab {
            app: router(state.clone()),
            state,
            db,
            workers,
            tokens,
        }
    }

    pub fn token(&self, role: &str) -> As {
        As::Token(self.tokens[role].clone())
    }

    pub async fn session(&self, role: &str) -> As {
        let r = api(
            &self.app,
            "POST",
            "/api/v1/session",
            &As::Nobody,
            serde_json::json!({"email": format!("{role}@lab.example"), "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let cookie = r
            .set_cookie
            .iter()
            .find_map(|c| c.strip_prefix("phonecert_session="))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_owned();
        As::Session {
            cookie,
            csrf: r.json()["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// `GET path` as Acme's manufacturer account, as JSON.
    pub async fn get_as_acme(&self, path: &str) -> serde_json::Value {
        api(
            &self.app,
            "GET",
            path,
            &self.token("acme"),
            serde_json::Value::Null,
        )
        .await
        .json()
    }

    /// No temporary upload file is left in the artifact store.
    pub fn assert_no_upload_left_behind(&self) {
        assert!(crate::tests::tmp_is_empty(&self.db.store));
    }

    /// The lab's API on the same database, with other upload limits.
    pub fn limited(&self, limits: ArtifactLimits) -> axum::Router {
        router(AppState::with(
            self.db.store.clone().with_limits(limits),
            certs::LabKey::new(pc_certify::keygen().0).unwrap(),
            test_web_config(),
        ))
    }

    /// `POST` JSON (`null`: no body) as `who`.
    pub async fn post(&self, path: &str, who: &As, json: serde_json::Value) -> Resp {
        api(&self.app, "POST", path, who, json).await
    }

    /// `PUT` a file into submission `sub` through `app`'s API (the lab's own or a
    /// [`Lab::limited`] one), as Acme.
    pub async fn put_file(&self, app: &axum::Router, sub: &str, name: &str, body: Vec<u8>) -> Resp {
        let path = format!(
            "/api/v1/submissions/{sub}/files/{}",
            crate::web::pages::layout::url(name)
        );
        send(app, "PUT", &path, &self.token("acme"), None, body).await
    }

    /// What the public verification says of a certificate (JSON string or value).
    pub async fn verify(&self, certificate: impl Into<serde_json::Value>) -> serde_json::Value {
        let body = serde_json::json!({ "certificate": certificate.into() });
        self.post("/api/v1/public/verify", &As::Nobody, body)
            .await
            .json()
    }

    /// An empty submission of Acme's A1; returns its id.
    pub async fn empty_submission(&self, firmware: &str) -> String {
        let body = serde_json::json!({"model": "A1", "firmware": firmware});
        let r = self
            .post("/api/v1/submissions", &self.token("acme"), body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// A submission of Acme with the example case uploaded; returns its id.
    pub async fn submission(&self, firmware: &str) -> String {
        let id = self.empty_submission(firmware).await;
        let r = self
            .put_file(&self.app, &id, "case.tar", tar_of(&example_case()))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        id
    }

    /// The audit log as the admin reads it through the API (entries and chain check).
    pub async fn audit_log(&self) -> serde_json::Value {
        api(
            &self.app,
            "GET",
            "/api/v1/audit-log",
            &self.token("admin"),
            serde_json::Value::Null,
        )
        .await
        .json()
    }

    /// The `field` of every audit log entry whose action is `action` ("" for all).
    pub async fn audit_field(&self, action: &str, field: &str) -> Vec<String> {
        let log = self.audit_log().await;
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| action.is_empty() || e["action"] == action)
            .map(|e| e[field].as_str().unwrap().to_owned())
            .collect()
    }

    /// Starts a run and waits for it to finish; returns the run as JSON.
    pub async fn run(&self, sub: &str) -> serde_json::Value {
        let path = format!("/api/v1/submissions/{sub}/runs");
        let r = self
            .post(&path, &self.token("engineer"), serde_json::Value::Null)
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
        let run = r.json()["id"].as_str().unwrap().to_owned();
        let v = self.wait_run(&run).await;
        assert_eq!(v["run"]["state"], "done", "run failed: {v}");
        v
    }

    /// Polls a run until it is done or failed; returns it as JSON.
    pub async fn wait_run(&self, run: &str) -> serde_json::Value {
        for _ in 0..6000 {
            let v = self.get_as_acme(&format!("/api/v1/runs/{run}")).await;
            if matches!(v["run"]["state"].as_str(), Some("done" | "failed")) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("run {run} did not finish");
    }

    /// Reviewer overrides every blocking requirement to PASS, approves, issues; returns the
    /// certificate JSON.
    pub async fn certify(&self, sub: &str, run: &serde_json::Value) -> serde_json::Value {
        let reviewer = self.token("reviewer");
        for r in run["results"].as_array().unwrap() {
            if r["level"] == "mandatory" && r["verdict"] != "PASS" {
                let body = serde_json::json!({"requirement": r["requirement"], "verdict": "PASS", "reason": "accepted by the lab after manual analysis"});
                let o = self
                    .post(
                        &format!("/api/v1/submissions/{sub}/overrides"),
                        &reviewer,
                        body,
                    )
                    .await;
                assert_eq!(o.status, StatusCode::CREATED, "{}", o.text());
            }
        }
        let body = serde_json::json!({"decision": "approve", "comment": "four eyes"});
        let d = self
            .post(
                &format!("/api/v1/submissions/{sub}/decision"),
                &reviewer,
                body,
            )
            .await;
        assert_eq!(d.status, StatusCode::CREATED, "{}", d.text());
        let path = format!("/api/v1/submissions/{sub}/certificate");
        let c = self.post(&path, &reviewer, serde_json::Value::Null).await;
        assert_eq!(c.status, StatusCode::CREATED, "{}", c.text());
        c.json()
    }

    pub async fn stop(mut self) {
        if let Some(w) = self.workers.take() {
            w.shutdown().await.unwrap();
        }
    }
}
