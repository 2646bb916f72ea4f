//! The web application in process (router + real store + real audit workers), on SQLite and,
//! when configured, PostgreSQL: the certification workflow end to end, every route as every
//! role, bad uploads, CSRF and login rate limiting.

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

    /// An empty submission of Acme's A1; returns its id.
    pub async fn empty_submission(&self, firmware: &str) -> String {
        let r = api(
            &self.app,
            "POST",
            "/api/v1/submissions",
            &self.token("acme"),
            serde_json::json!({"model": "A1", "firmware": firmware}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// A submission of Acme with the example case uploaded; returns its id.
    pub async fn submission(&self, firmware: &str) -> String {
        let id = self.empty_submission(firmware).await;
        let r = send(
            &self.app,
            "PUT",
            &format!("/api/v1/submissions/{id}/files/case.tar"),
            &self.token("acme"),
            Some("application/x-tar"),
            tar_of(&example_case()),
        )
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
        let r = api(
            &self.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/runs"),
            &self.token("engineer"),
            serde_json::Value::Null,
        )
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
                let o = api(
                    &self.app,
                    "POST",
                    &format!("/api/v1/submissions/{sub}/overrides"),
                    &reviewer,
                    serde_json::json!({"requirement": r["requirement"], "verdict": "PASS", "reason": "accepted by the lab after manual analysis"}),
                )
                .await;
                assert_eq!(o.status, StatusCode::CREATED, "{}", o.text());
            }
        }
        let d = api(
            &self.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/decision"),
            &reviewer,
            serde_json::json!({"decision": "approve", "comment": "four eyes"}),
        )
        .await;
        assert_eq!(d.status, StatusCode::CREATED, "{}", d.text());
        let c = api(
            &self.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/certificate"),
            &reviewer,
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(c.status, StatusCode::CREATED, "{}", c.text());
        c.json()
    }

    pub async fn stop(mut self) {
        if let Some(w) = self.workers.take() {
            w.shutdown().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certification_workflow_over_the_api() {
    for db in test_dbs().await {
        let name = db.name;
        let lab = Lab::new(db).await;
        let sub = lab.submission("A1-14.0.3").await;
        let run = lab.run(&sub).await;
        // The example fails: its first-boot capture leaks identifiers before consent.
        assert_eq!(run["outcome"][0], "fail", "{name}: {run}");
        assert!(run["findings"].as_i64().unwrap() > 0);
        let consent = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["requirement"] == "PCB-CONSENT-01")
            .unwrap();
        assert_eq!(consent["automatic"], "FAIL");
        assert_eq!(
            run["files"],
            serde_json::json!(["report.html", "report.json", "report.sarif"])
        );
        // The stored report is the audit's own report.
        let rid = run["run"]["id"].as_str().unwrap();
        let rep = api(
            &lab.app,
            "GET",
            &format!("/api/v1/runs/{rid}/files/report.json"),
            &lab.token("acme"),
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(rep.json()["summary"]["decision"], "NOT_CERTIFIABLE");

        // Approving a failing run is refused; a certificate without approval too.
        let reviewer = lab.token("reviewer");
        let d = api(
            &lab.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/decision"),
            &reviewer,
            serde_json::json!({"decision": "approve"}),
        )
        .await;
        assert_eq!(d.status, StatusCode::CONFLICT, "{}", d.text());
        assert!(d.text().contains("PCB-CONSENT-01"));
        let c = api(
            &lab.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/certificate"),
            &reviewer,
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(c.status, StatusCode::CONFLICT);
        // An override needs a reason.
        let o = api(
            &lab.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/overrides"),
            &reviewer,
            serde_json::json!({"requirement": "PCB-CONSENT-01", "verdict": "PASS", "reason": "  "}),
        )
        .await;
        assert_eq!(o.status, StatusCode::BAD_REQUEST);

        let cert = lab.certify(&sub, &run).await;
        let number = cert["number"].as_str().unwrap().to_owned();
        assert_eq!(cert["state"], "issued");
        // Issuing twice is refused.
        let again = api(
            &lab.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/certificate"),
            &reviewer,
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
        // The signed payload names the reviewed requirements and verifies with the lab key.
        let jws = cert["jws"].as_str().unwrap();
        let p = pc_certify::verify(jws, &lab.state.key.public, unix_now()).unwrap();
        assert!(p.reviewed.contains(&"PCB-CONSENT-01".to_owned()));
        assert_eq!(
            (p.device.manufacturer.as_str(), p.device.model.as_str()),
            ("Acme", "A1")
        );

        // The public registry finds it; verification says valid, and so does the lab's key.
        let list = api(
            &lab.app,
            "GET",
            "/api/v1/public/certificates?q=acme%20a1",
            &As::Nobody,
            serde_json::Value::Null,
        )
        .await
        .json();
        assert_eq!(list[0]["number"], number.as_str(), "{name}");
        let pem = send(
            &lab.app,
            "GET",
            "/api/v1/public/lab-key",
            &As::Nobody,
            None,
            vec![],
        )
        .await
        .text();
        assert_eq!(
            pc_certify::cert::parse_public_key(&pem).unwrap(),
            lab.state.key.public
        );
        let v = api(
            &lab.app,
            "POST",
            "/api/v1/public/verify",
            &As::Nobody,
            serde_json::json!({"certificate": jws}),
        )
        .await
        .json();
        assert_eq!(
            (v["valid"].as_bool(), v["status"].as_str()),
            (Some(true), Some("valid")),
            "{v}"
        );
        // One changed byte of the signed content: invalid.
        let forged = jws.replacen("\"payload\": \"ey", "\"payload\": \"ez", 1);
        assert_ne!(forged, jws);
        let v = api(
            &lab.app,
            "POST",
            "/api/v1/public/verify",
            &As::Nobody,
            serde_json::json!({"certificate": forged}),
        )
        .await
        .json();
        assert_eq!(v["status"], "invalid");

        // A newer firmware certified: the first certificate is superseded, still genuine.
        let sub2 = lab.submission("A1-14.0.4").await;
        let run2 = lab.run(&sub2).await;
        let cert2 = lab.certify(&sub2, &run2).await;
        let v = api(
            &lab.app,
            "POST",
            "/api/v1/public/verify",
            &As::Nobody,
            serde_json::json!({"certificate": jws}),
        )
        .await
        .json();
        assert_eq!(v["status"], "superseded", "{v}");
        assert_eq!(v["record"]["superseded_by"], cert2["number"]);
        // Revoked with a reason.
        let n2 = cert2["number"].as_str().unwrap();
        let r = api(
            &lab.app,
            "POST",
            &format!("/api/v1/certificates/{n2}/revoke"),
            &reviewer,
            serde_json::json!({"reason": "firmware found to leak the IMEI"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = api(
            &lab.app,
            "POST",
            "/api/v1/public/verify",
            &As::Nobody,
            serde_json::json!({"certificate": cert2["jws"]}),
        )
        .await
        .json();
        assert_eq!(v["status"], "revoked");
        assert!(v["message"].as_str().unwrap().contains("leak the IMEI"));
        // Every change is in the audit log, whose chain is intact.
        let actions = lab.audit_field("", "action").await;
        for a in [
            "submission.create",
            "submission.upload",
            "run.request",
            "verdict.override",
            "submission.decide",
            "certificate.issue",
            "certificate.revoke",
        ] {
            assert!(
                actions.iter().any(|x| x == a),
                "{a} missing from {actions:?}"
            );
        }
        assert_eq!(lab.audit_log().await["chain"]["state"], "intact");
        lab.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_with_clear_messages() {
    for db in test_dbs().await {
        let lab = Lab::new(db).await;
        let sub = lab.empty_submission("1").await;
        let put = async |name: &str, body: Vec<u8>| {
            send(
                &lab.app,
                "PUT",
                &format!("/api/v1/submissions/{sub}/files/{}", web::ui::url(name)),
                &lab.token("acme"),
                None,
                body,
            )
            .await
        };
        // A ZIP named like a capture.
        let zip = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/data/apk/fdroid")
                .read_dir()
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|e| e == "apk"))
                .unwrap(),
        )
        .unwrap();
        let r = put("boot.pcap", zip).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("boot.pcap"), "{}", r.text());
        // Names that are paths.
        for bad in ["../case.toml", ".hidden.pcap", "a\\b.pcap"] {
            let r = put(bad, b"x".to_vec()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
            assert!(
                r.text().contains("invalid artifact name"),
                "{bad}: {}",
                r.text()
            );
        }
        // An archive whose entry escapes its folder.
        let mut evil = tar_of(&example_case());
        let name = b"../../etc/cron.d/x";
        evil[..100].fill(0);
        evil[..name.len()].copy_from_slice(name);
        evil[148..156].copy_from_slice(b"        ");
        let sum: u32 = evil[..512].iter().map(|&b| u32::from(b)).sum();
        evil[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let r = put("case.tar", evil).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("etc/cron.d"), "{}", r.text());
        // A gzip bomb: 64 MiB of zeros.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            std::io::Write::write_all(&mut gz, &zeros).unwrap();
        }
        let r = put("boot.pcap.gz", gz.finish().unwrap()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        // Garbage as case.toml.
        let r = put("case.toml", vec![0xff, 0xfe, 0, 1, 2]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        // Over the size limit: cut off while streaming, 413 saying the limit.
        let small = lab.limited(ArtifactLimits {
            max_size: 10_000,
            ..ArtifactLimits::default()
        });
        let big = std::fs::read(example_case().join("captures/declined-idle.pcap")).unwrap();
        let r = send(
            &small,
            "PUT",
            &format!("/api/v1/submissions/{sub}/files/idle.pcap"),
            &lab.token("acme"),
            None,
            big,
        )
        .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
        assert!(r.text().contains("10000 bytes"), "{}", r.text());
        // Nothing of the refused uploads was kept.
        let v = lab.get_as_acme(&format!("/api/v1/submissions/{sub}")).await;
        assert_eq!(v["files"], serde_json::json!([]));
        lab.assert_no_upload_left_behind();
        // A case that names files outside its own: the run fails and says why.
        let r = put("case.toml", b"[device]\nmanufacturer = \"Acme\"\nmodel = \"A1\"\n[[phase]]\nname = \"p\"\nconsent = \"none\"\ncaptures = [\"/etc/passwd\"]\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let r = api(
            &lab.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/runs"),
            &lab.token("acme"),
            serde_json::Value::Null,
        )
        .await;
        let run = r.json()["id"].as_str().unwrap().to_owned();
        let v = lab.wait_run(&run).await;
        assert_eq!(v["run"]["state"], "failed", "{v}");
        let err = v["run"]["error"].as_str().unwrap();
        assert!(err.contains("outside the submission"), "{err}");
        lab.stop().await;
    }
}

/// A submission holds at most its quota of uploads; a file replaced under its name frees its
/// share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_holds_at_most_its_quota() {
    for db in test_dbs().await {
        let name = db.name;
        let lab = Lab::new(db).await;
        let sub = lab.empty_submission("1").await;
        let pcap = std::fs::read(example_case().join("captures/declined-idle.pcap")).unwrap();
        let app = lab.limited(ArtifactLimits {
            max_submission_total: pcap.len() as u64 + 100,
            ..ArtifactLimits::default()
        });
        let put = async |file: &str, body: Vec<u8>| {
            send(
                &app,
                "PUT",
                &format!("/api/v1/submissions/{sub}/files/{file}"),
                &lab.token("acme"),
                None,
                body,
            )
            .await
        };
        let r = put("idle.pcap", pcap.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
        // A second copy under another name does not fit (though its content is deduplicated:
        // the quota counts what the submission holds).
        let r = put("again.pcap", pcap.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{name}: {}",
            r.text()
        );
        assert!(
            r.text()
                .contains(&format!("already holds {} bytes", pcap.len())),
            "{name}: {}",
            r.text()
        );
        // Cut off while streaming: 200 bytes fit, this is larger, and nothing is kept.
        let mut keys = b"# key log\n".to_vec();
        keys.resize(5_000, b'#');
        let r = put("tls.keys", keys).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{name}: {}",
            r.text()
        );
        // The same name replaced: its old size no longer counts.
        let r = put("idle.pcap", pcap.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
        let v = lab.get_as_acme(&format!("/api/v1/submissions/{sub}")).await;
        let files: Vec<&str> = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["idle.pcap"], "{name}");
        lab.assert_no_upload_left_behind();
        lab.stop().await;
    }
}

/// Links in an uploaded firmware tree are accepted, not extracted, and every answer says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_links_are_recorded_not_extracted() {
    for db in test_dbs().await {
        let name = db.name;
        let lab = Lab::new(db).await;
        let sub = lab.empty_submission("A1-14.0.3").await;
        let tar = with_symlinks(
            tar_of(&example_case()),
            &[
                ("firmware/system/bin/ls", "toybox"),
                ("firmware/system/vendor", "/vendor"),
            ],
        );
        let r = send(
            &lab.app,
            "PUT",
            &format!("/api/v1/submissions/{sub}/files/case.tar"),
            &lab.token("acme"),
            Some("application/x-tar"),
            tar.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
        assert_eq!(r.json()["links_skipped"], 2, "{name}: {}", r.text());
        // The page's upload says it too.
        let s = lab.session("engineer").await;
        let As::Session { csrf, .. } = &s else {
            unreachable!()
        };
        let boundary = "linksboundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"case.tar\"\r\n\
             Content-Type: application/x-tar\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&tar);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = send(
            &lab.app,
            "POST",
            &format!("/submissions/{sub}/files"),
            &s,
            Some(&format!("multipart/form-data; boundary={boundary}")),
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{name}: {}", r.text());
        let to = r.location.unwrap();
        assert_eq!(to, format!("/submissions/{sub}?links=2"));
        let page = send(&lab.app, "GET", &to, &s, None, vec![]).await;
        assert!(
            page.text()
                .contains("The upload held 2 links: recorded, not extracted"),
            "{name}: {}",
            page.text()
        );
        // The run's summary, and the audit log.
        let run = lab.run(&sub).await;
        let summary = run["outcome"][1].as_str().unwrap();
        assert!(
            summary.ends_with("; 2 links in case.tar recorded, not extracted"),
            "{name}: {summary}"
        );
        let uploads = lab.audit_field("submission.upload", "detail").await;
        assert_eq!(uploads.len(), 2, "{name}: {uploads:?}");
        for d in uploads {
            assert!(
                d.ends_with(", 2 links recorded, not extracted"),
                "{name}: {d}"
            );
        }
        lab.stop().await;
    }
}

#[tokio::test]
async fn csrf_origin_cookies_and_login_rate_limit() {
    for db in test_dbs().await {
        let mut lab = Lab::new(db).await;
        if let Some(w) = lab.workers.take() {
            w.shutdown().await.unwrap();
        }
        let s = lab.session("admin").await;
        let As::Session { cookie, csrf } = s.clone() else {
            unreachable!()
        };
        // The cookie is HttpOnly, SameSite=Strict and Secure.
        let r = api(
            &lab.app,
            "POST",
            "/api/v1/session",
            &As::Nobody,
            serde_json::json!({"email": "admin@lab.example", "password": PASSWORD}),
        )
        .await;
        let c = &r.set_cookie[0];
        for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(c.contains(attr), "{c}");
        }
        // A session's state-changing request needs its CSRF token.
        let no_token = As::Session {
            cookie: cookie.clone(),
            csrf: String::new(),
        };
        let r = form(
            &lab.app,
            "/admin/manufacturers",
            &no_token,
            &[("name", "Evil")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        let wrong = As::Session {
            cookie: cookie.clone(),
            csrf: "0".repeat(64),
        };
        let r = form(
            &lab.app,
            "/admin/manufacturers",
            &wrong,
            &[("name", "Evil")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = api(
            &lab.app,
            "POST",
            "/api/v1/manufacturers",
            &s,
            serde_json::json!({"name": "Evil"}),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "JSON with a cookie needs the header too"
        );
        let r = form(&lab.app, "/admin/manufacturers", &s, &[("name", "Good")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        // The header works for the API.
        let req = Request::post("/api/v1/manufacturers")
            .header(header::HOST, "registry.test")
            .header(header::COOKIE, format!("phonecert_session={cookie}"))
            .header("x-csrf-token", csrf.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"name":"Good Two"}"#))
            .unwrap();
        assert_eq!(
            lab.app.clone().oneshot(req).await.unwrap().status(),
            StatusCode::CREATED
        );
        // A cross-origin post is refused even with the token.
        let req = Request::post("/admin/manufacturers")
            .header(header::HOST, "registry.test")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::COOKIE, format!("phonecert_session={cookie}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}&name=Evil")))
            .unwrap();
        assert_eq!(
            lab.app.clone().oneshot(req).await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
        assert!(
            lab.db
                .store
                .manufacturer_by_name("Evil")
                .await
                .unwrap()
                .is_none()
        );
        // Wrong passwords from one address, then even the right one from there waits a while
        // (told how long); other addresses are the `login_limit` tests'.
        for _ in 0..crate::login_limit::FREE_FAILURES_PER_ACCOUNT {
            let r = form(
                &lab.app,
                "/login",
                &As::Nobody,
                &[
                    ("email", "engineer@lab.example"),
                    ("password", "wrong password!"),
                ],
            )
            .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
            assert!(r.text().contains("wrong e-mail or password"));
        }
        // Two more, now, so the wait (4 s) outlasts a slow test's clock tick.
        add_failures(&lab.db.store, "engineer@lab.example", 2).await;
        let r = form(
            &lab.app,
            "/login",
            &As::Nobody,
            &[("email", "engineer@lab.example"), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
        // Long account names are counted the same way they are checked.
        let long = format!("{}@lab.example", "l".repeat(220));
        lab.db
            .store
            .create_user(&long, PASSWORD, Role::Engineer)
            .await
            .unwrap();
        for _ in 0..crate::login_limit::FREE_FAILURES_PER_ACCOUNT {
            let r = form(
                &lab.app,
                "/login",
                &As::Nobody,
                &[("email", &long), ("password", "wrong password!")],
            )
            .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
        }
        add_failures(&lab.db.store, &long, 2).await;
        let r = form(
            &lab.app,
            "/login",
            &As::Nobody,
            &[("email", &long), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
        // Another account is not affected.
        let r = form(
            &lab.app,
            "/login",
            &As::Nobody,
            &[("email", "reviewer@lab.example"), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        // Logging out ends the session on the server.
        let r = form(&lab.app, "/logout", &s, &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let r = send(&lab.app, "GET", "/dashboard", &s, None, vec![]).await;
        assert_eq!(r.location.as_deref(), Some("/login"));
        // A revoked or made-up token is refused outright.
        let r = api(
            &lab.app,
            "GET",
            "/api/v1/me",
            &As::Token("pct_nope".into()),
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        lab.stop().await;
    }
}
