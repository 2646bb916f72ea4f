//! Issue 18's service hardening, each case made inside its test: slow and greedy clients
//! against a real server on a socket, login throttling per address, token scopes, where the
//! CSRF token may be, Origin with its scheme, the `Host` check, file modes and the sweep of
//! cut-off uploads.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tower::ServiceExt;

use crate::auth::Scope;
use crate::tests::test_dbs;
use crate::web_tests::{As, Lab, PASSWORD, api, api_csrf, example_case, send, tar_of};
use crate::{AppState, ConnLimits, router};

/// A server on an ephemeral loopback port, serving the app of a fresh store with `limits`.
async fn server(limits: ConnLimits) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::Store::open(&dir.path().join("data"), None)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let app = router(AppState::new(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(crate::web::conn::serve_connections(listener, app, limits));
    (addr, dir)
}

/// Connects to `to` from the loopback address `from` (all of 127/8 is this machine's).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((from, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// Sends `GET /healthz` and reads the whole answer (the server closes after it).
async fn healthz(mut s: TcpStream) -> String {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_all(s, Duration::from_secs(10)).await
}

/// Everything the server sends until it closes, within `limit`.
async fn read_all(mut s: TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(limit, s.read_to_end(&mut out))
        .await
        .expect("the server kept the connection open")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn slowloris_is_cut_after_the_header_timeout_and_others_are_served() {
    let limits = ConnLimits {
        header_timeout: Duration::from_secs(1),
        ..ConnLimits::default()
    };
    let (addr, _dir) = server(limits).await;
    // One header byte every 300 ms: never a whole head.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let cut = tokio::spawn(async move {
        for b in
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if slow.write_all(&[*b]).await.is_err() {
                return started.elapsed();
            }
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_millis(300), slow.read(&mut buf));
            if let Ok(Ok(0) | Err(_)) = read.await {
                return started.elapsed();
            }
        }
        panic!("a header sent over {:?} was not cut", started.elapsed());
    });
    // Meanwhile another client is answered.
    let other = healthz(TcpStream::connect(addr).await.unwrap()).await;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    let after = cut.await.unwrap();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(5),
        "cut after {after:?}"
    );
    // A connection that sends nothing at all is closed after the same time.
    let idle = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    let said = read_all(idle, Duration::from_secs(5)).await;
    assert!(t.elapsed() >= Duration::from_millis(900), "{said}");
}

#[tokio::test]
async fn over_the_connection_limits_new_connections_are_refused_at_once() {
    let limits = ConnLimits {
        max_connections: 3,
        max_per_client: 2,
        header_timeout: Duration::from_secs(30),
        ..ConnLimits::default()
    };
    let (addr, _dir) = server(limits).await;
    // Client 127.0.0.2 holds its two connections open, sending nothing.
    let _a1 = connect_from([127, 0, 0, 2], addr).await;
    let _a2 = connect_from([127, 0, 0, 2], addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let third = read_all(
        connect_from([127, 0, 0, 2], addr).await,
        Duration::from_secs(2),
    )
    .await;
    assert!(third.starts_with("HTTP/1.1 429"), "{third}");
    assert!(third.contains("retry-after"), "{third}");
    assert!(t.elapsed() < Duration::from_secs(2));
    // Another client is served...
    let b = healthz(connect_from([127, 0, 0, 3], addr).await).await;
    assert!(b.starts_with("HTTP/1.1 200"), "{b}");
    // ...until the server's own limit: three open, the fourth is answered 503 and closed.
    let _c1 = connect_from([127, 0, 0, 4], addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let busy = read_all(
        connect_from([127, 0, 0, 5], addr).await,
        Duration::from_secs(2),
    )
    .await;
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    assert!(t.elapsed() < Duration::from_secs(2));
    // A slot freed is a slot served.
    drop(_c1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = healthz(connect_from([127, 0, 0, 5], addr).await).await;
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
}

/// `POST /api/v1/session` from `client`.
async fn login_from(
    app: &axum::Router,
    client: [u8; 4],
    password: &str,
) -> (StatusCode, Option<String>) {
    let body = serde_json::json!({"email": "admin@lab.example", "password": password});
    let mut req = Request::post("/api/v1/session")
        .header(header::HOST, "registry.test")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((IpAddr::from(client), 40000))));
    let r = app.clone().oneshot(req).await.unwrap();
    let retry = r
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status(), retry)
}

#[tokio::test]
async fn wrong_passwords_slow_their_address_not_the_owner() {
    for db in test_dbs().await {
        let lab = Lab::new(db).await;
        let attacker = [198, 51, 100, 7];
        let mut statuses = Vec::new();
        for _ in 0..8 {
            statuses.push(login_from(&lab.app, attacker, "wrong password!").await);
        }
        let free = crate::login_limit::FREE_FAILURES_PER_ACCOUNT as usize;
        assert!(
            statuses[..free]
                .iter()
                .all(|s| s.0 == StatusCode::BAD_REQUEST),
            "{statuses:?}"
        );
        // Past the free ones, attempts are refused with a wait; a whole-second clock ticking
        // during the test may let one through (the 1 s wait after the third failure).
        let past = &statuses[free..];
        assert!(
            past.iter()
                .filter(|s| s.0 == StatusCode::TOO_MANY_REQUESTS)
                .all(|s| s
                    .1
                    .as_deref()
                    .is_some_and(|v| v.parse::<i64>().unwrap() >= 1)),
            "{statuses:?}"
        );
        assert!(
            past.iter()
                .filter(|s| s.0 == StatusCode::TOO_MANY_REQUESTS)
                .count()
                >= past.len() - 1,
            "{statuses:?}"
        );
        // Two more failures now: the wait (at least 4 s) outlasts any tick.
        crate::web_tests::add_failures_from(&lab.db.store, "admin@lab.example", "198.51.100.7", 2)
            .await;
        // The attacker's address, even with the right password, waits.
        let (st, retry) = login_from(&lab.app, attacker, PASSWORD).await;
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
        assert!(retry.is_some());
        // The owner from another address logs in.
        let (st, _) = login_from(&lab.app, [203, 0, 113, 9], PASSWORD).await;
        assert_eq!(st, StatusCode::OK);
        // The backoff doubles per failure past the free ones, up to its cap.
        assert_eq!(crate::login_limit::backoff_secs(3, 3), 1);
        assert_eq!(crate::login_limit::backoff_secs(5, 3), 4);
        assert_eq!(
            crate::login_limit::backoff_secs(60, 3),
            crate::login_limit::MAX_LOGIN_DELAY_SECS
        );
        // Once the wait is over (an explicit clock), the attacker's next try is let through.
        let later = crate::unix_now() + crate::login_limit::MAX_LOGIN_DELAY_SECS + 1;
        let a = lab
            .db
            .store
            .begin_login_at("admin@lab.example", "198.51.100.7", later)
            .await
            .unwrap();
        assert!(a.is_ok(), "{a:?}");
        lab.stop().await;
    }
}

#[tokio::test]
async fn a_ci_token_uploads_and_runs_and_nothing_else() {
    for db in test_dbs().await {
        let lab = Lab::new(db).await;
        let sub = lab.empty_submission("1.0").await;
        let acme = lab
            .db
            .store
            .verify_login("acme@lab.example", PASSWORD)
            .await
            .unwrap()
            .unwrap();
        let (_, secret) = lab
            .db
            .store
            .create_token(&acme.id, "ci", Scope::Ci, None)
            .await
            .unwrap();
        let ci = As::Token(secret);
        // Allowed: upload, start a run, follow it.
        let r = send(
            &lab.app,
            "PUT",
            &format!("/api/v1/submissions/{sub}/files/case.tar"),
            &ci,
            Some("application/x-tar"),
            tar_of(&example_case()),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let r = api(
            &lab.app,
            "POST",
            &format!("/api/v1/submissions/{sub}/runs"),
            &ci,
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
        let run = r.json()["id"].as_str().unwrap().to_owned();
        let r = api(
            &lab.app,
            "GET",
            &format!("/api/v1/runs/{run}"),
            &ci,
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let r = api(&lab.app, "GET", "/api/v1/me", &ci, serde_json::Value::Null).await;
        assert_eq!(r.json()["scope"], "ci", "{}", r.text());
        // Refused, each with 403: reading, listing, creating, tokens, reports, pages.
        let refused = [
            (
                "GET",
                "/api/v1/submissions".to_owned(),
                serde_json::Value::Null,
            ),
            (
                "GET",
                format!("/api/v1/submissions/{sub}"),
                serde_json::Value::Null,
            ),
            (
                "POST",
                "/api/v1/submissions".to_owned(),
                serde_json::json!({"model": "A2", "firmware": "2"}),
            ),
            (
                "GET",
                "/api/v1/manufacturers".to_owned(),
                serde_json::Value::Null,
            ),
            ("GET", "/api/v1/tokens".to_owned(), serde_json::Value::Null),
            (
                "POST",
                "/api/v1/tokens".to_owned(),
                serde_json::json!({"label": "successor", "scope": "full"}),
            ),
            (
                "GET",
                format!("/api/v1/runs/{run}/files/report.json"),
                serde_json::Value::Null,
            ),
            ("GET", "/dashboard".to_owned(), serde_json::Value::Null),
            ("GET", "/account".to_owned(), serde_json::Value::Null),
            (
                "GET",
                format!("/submissions/{sub}"),
                serde_json::Value::Null,
            ),
        ];
        for (method, path, body) in refused {
            let r = api(&lab.app, method, &path, &ci, body).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {path}: {}",
                r.text()
            );
        }
        // Not even a full token mints tokens; a read token cannot upload.
        let r = api(
            &lab.app,
            "POST",
            "/api/v1/tokens",
            &lab.token("admin"),
            serde_json::json!({"label": "x"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        let (_, read) = lab
            .db
            .store
            .create_token(&acme.id, "r", Scope::Read, None)
            .await
            .unwrap();
        let r = send(
            &lab.app,
            "PUT",
            &format!("/api/v1/submissions/{sub}/files/x.pcap"),
            &As::Token(read),
            None,
            vec![0; 24],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        lab.wait_run(&run).await;
        lab.stop().await;
    }
}

#[tokio::test]
async fn csrf_only_in_header_or_form_and_origin_compared_with_scheme() {
    for db in test_dbs().await {
        let lab = Lab::new(db).await;
        let s = lab.session("engineer").await;
        let As::Session { cookie, csrf } = &s else {
            unreachable!()
        };
        let body = serde_json::json!({"name": "Query Phones"});
        // The token in the query string is not read on the API.
        let r = send(
            &lab.app,
            "POST",
            &format!("/api/v1/manufacturers?csrf={csrf}"),
            &s,
            Some("application/json"),
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        // Nor on the pages.
        let r = send(
            &lab.app,
            "POST",
            &format!("/admin/manufacturers?csrf={csrf}"),
            &s,
            Some("application/x-www-form-urlencoded"),
            b"name=Query+Phones".to_vec(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        // In the header it is.
        let r = api_csrf(&lab.app, "POST", "/api/v1/manufacturers", &s, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        // Origin: same host and port, other scheme: refused; the service's own: allowed.
        for (origin, want) in [
            ("https://registry.test", StatusCode::FORBIDDEN),
            ("http://registry.test:8443", StatusCode::FORBIDDEN),
            ("http://registry.test", StatusCode::CREATED),
        ] {
            let name = format!("Origin {}", origin.len());
            let req = Request::post("/api/v1/manufacturers")
                .header(header::HOST, "registry.test")
                .header(header::ORIGIN, origin)
                .header(header::COOKIE, format!("phonecert_session={cookie}"))
                .header("x-csrf-token", csrf.as_str())
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::to_vec(&serde_json::json!({"name": name})).unwrap(),
                ))
                .unwrap();
            let st = lab.app.clone().oneshot(req).await.unwrap().status();
            assert_eq!(st, want, "{origin}");
        }
        lab.stop().await;
    }
}

#[tokio::test]
async fn a_request_for_another_host_is_misdirected() {
    for db in test_dbs().await {
        let lab = Lab::new(db).await;
        for host in [
            "evil.example",
            "registry.test:8080",
            "registry.test.evil.example",
            "",
        ] {
            let req = Request::get("/api/v1/public/certificates")
                .header(header::HOST, host)
                .body(Body::empty())
                .unwrap();
            let st = lab.app.clone().oneshot(req).await.unwrap().status();
            assert!(
                st == StatusCode::MISDIRECTED_REQUEST || st == StatusCode::BAD_REQUEST,
                "{host:?}: {st}"
            );
        }
        let req = Request::get("/api/v1/public/certificates")
            .header(header::HOST, "REGISTRY.test")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            lab.app.clone().oneshot(req).await.unwrap().status(),
            StatusCode::OK
        );
        // Loopback only, when no public URL is configured and the listener is loopback.
        let lo = crate::HostPolicy::for_listener("127.0.0.1:8080".parse().unwrap(), None).unwrap();
        assert!(lo.origin_for_host("localhost:8080").is_some());
        assert!(lo.origin_for_host("evil.example:8080").is_none());
        assert!(lo.origin_for_host("localhost:9090").is_none());
        assert!(crate::HostPolicy::for_listener("0.0.0.0:8080".parse().unwrap(), None).is_none());
        lab.stop().await;
    }
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn database_and_artifacts_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An older data folder left open is closed at start.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = crate::Store::open(&data, None).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("registry.sqlite3")), 0o600);
    for suffix in ["-wal", "-shm"] {
        let p = data.join(format!("registry.sqlite3{suffix}"));
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{suffix}");
        }
    }
    let art = store
        .store_artifact_stream("application/octet-stream", &b"firmware bytes"[..])
        .await
        .unwrap();
    let path = store.artifact_path(&art.sha256).unwrap();
    assert_eq!(mode(&path), 0o600);
    let mut d = path.parent().unwrap().to_path_buf();
    while d != data {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        d = d.parent().unwrap().to_path_buf();
    }
}

#[tokio::test]
async fn cut_off_uploads_are_swept_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = crate::Store::open(&data, None).await.unwrap();
    store.migrate().await.unwrap();
    // This process's own upload folder and lock; then a dead process's part file (its lock
    // file released: the process is gone) and one of the older naming, an hour untouched.
    let mine = store.new_upload_tmp().await.unwrap();
    std::fs::write(&mine, b"live upload").unwrap();
    let tmp = store.upload_tmp_dir();
    let dead = "0123456789abcdef0123456789abcdef";
    std::fs::write(tmp.join(format!("{dead}.lock")), b"").unwrap();
    let dead_part = tmp.join(format!("{dead}-feedface.part"));
    std::fs::write(&dead_part, vec![7u8; 4096]).unwrap();
    let orphan = tmp.join("0a1b2c3d.part");
    std::fs::write(&orphan, b"old").unwrap();
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3700);
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let young = tmp.join("0a1b2c3e.part");
    std::fs::write(&young, b"recent").unwrap();
    let swept = store
        .sweep_stale_uploads(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(swept, 2);
    assert!(!dead_part.exists() && !orphan.exists());
    assert!(!tmp.join(format!("{dead}.lock")).exists());
    assert!(mine.exists() && young.exists());
    // A second store (another process's view, its own owner) leaves the live file alone
    // while its owner's lock is held.
    let other = crate::Store::open(&data, None).await.unwrap();
    assert_eq!(
        other
            .sweep_stale_uploads(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert!(mine.exists());
}
