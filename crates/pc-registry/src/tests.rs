//! Store tests. Every test runs on SQLite in a temporary directory and, when
//! `PHONECERT_TEST_POSTGRES_URL` is set (a role allowed to CREATE DATABASE), also on a fresh
//! PostgreSQL database of its own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tower::ServiceExt;

use crate::*;

pub(crate) struct TestDb {
    pub(crate) name: &'static str,
    pub(crate) store: Store,
    pub(crate) dir: tempfile::TempDir,
    /// Admin URL and name of the PostgreSQL database to drop afterwards.
    pg: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.pg.take() else {
            return;
        };
        // Drop runs inside the test's runtime, so do the async cleanup on a thread of its own.
        // WITH (FORCE) ends the pool's remaining connections.
        let cleanup = std::thread::spawn(move || {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut admin = sqlx::AnyConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await
            })
            .map_err(std::io::Error::other)
        });
        if let Ok(Err(e)) = cleanup.join() {
            println!("could not drop test database: {e}");
        }
    }
}

const PG_ENV: &str = "PHONECERT_TEST_POSTGRES_URL";

pub(crate) async fn test_dbs() -> Vec<TestDb> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("data"), None)
        .await
        .expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    out.push(TestDb {
        name: "sqlite",
        store,
        dir,
        pg: None,
    });
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => {
            let dir = tempfile::tempdir().expect("tempdir");
            let (db_url, db_name) = fresh_pg_database(&url).await;
            let store = Store::open(dir.path(), Some(&db_url))
                .await
                .expect("open postgres");
            store.migrate().await.expect("migrate postgres");
            out.push(TestDb {
                name: "postgres",
                store,
                dir,
                pg: Some((url, db_name)),
            });
        }
        _ => println!("{PG_ENV} not set: PostgreSQL variant skipped"),
    }
    out
}

/// Creates a uniquely named database next to the one in `url`; returns its URL and name.
async fn fresh_pg_database(url: &str) -> (String, String) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let slash = base.rfind('/').expect("postgres URL has a path");
    let name = format!("pc_test_{}", new_id().expect("id"));
    let mut admin = sqlx::AnyConnection::connect(url)
        .await
        .expect("connect admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    admin.close().await.expect("close");
    let new_url = format!(
        "{}/{name}{query}",
        base.get(..slash).expect("slash in bounds")
    );
    (new_url, name)
}

async fn submission(store: &Store) -> String {
    let m = store.create_manufacturer("Acme Phones").await.unwrap();
    let d = store.create_model(&m, "A1").await.unwrap();
    let f = store
        .create_firmware_build(&d, "1.0.0", "acme/a1:1.0.0")
        .await
        .unwrap();
    store.create_submission(&f, None, "").await.unwrap()
}

#[tokio::test]
async fn migrations_are_idempotent() {
    for db in test_dbs().await {
        db.store.migrate().await.expect(db.name);
        db.store.migrate().await.expect(db.name);
        db.store.ping().await.expect(db.name);
        // Reopening an existing database and migrating again is also a no-op.
        if db.name == "sqlite" {
            let again = Store::open(&db.dir.path().join("data"), None)
                .await
                .unwrap();
            again.migrate().await.unwrap();
            assert!(db.dir.path().join("data/registry.sqlite3").exists());
        }
    }
}

#[tokio::test]
async fn sqlite_uses_wal_and_foreign_keys() {
    let db = test_dbs().await.remove(0);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&db.store.pool)
        .await
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    // A model of a manufacturer that does not exist must be refused.
    assert!(db.store.create_model("no-such-id", "X").await.is_err());
}

#[tokio::test]
async fn users_and_passwords() {
    for db in test_dbs().await {
        let s = &db.store;
        let u = s
            .create_user("Alice@Lab.example", "correct horse battery", Role::Engineer)
            .await
            .unwrap();
        assert_eq!(u.email, "alice@lab.example");
        let ok = s
            .verify_login("alice@lab.example", "correct horse battery")
            .await
            .unwrap();
        assert_eq!(
            ok.as_ref().map(|u| u.role),
            Some(Role::Engineer),
            "{}",
            db.name
        );
        assert_eq!(ok.map(|u| u.id), Some(u.id.clone()));
        assert!(
            s.verify_login("alice@lab.example", "wrong horse battery")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.verify_login("bob@lab.example", "correct horse battery")
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.verify_login("garbage", "x").await.unwrap().is_none());
        // Stored as an argon2id PHC string, never in clear.
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(u.id.clone())
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        // Duplicates (case-insensitively), short passwords and bad e-mails are refused.
        let dup = s
            .create_user("ALICE@lab.example", "another long password", Role::Admin)
            .await;
        assert!(
            dup.as_ref().is_err_and(RegistryError::is_unique_violation),
            "{dup:?}"
        );
        assert!(
            s.create_user("c@lab.example", "short", Role::Admin)
                .await
                .is_err()
        );
        assert!(
            s.create_user("no-at-sign", "long enough password", Role::Admin)
                .await
                .is_err()
        );
        assert!(
            s.create_user("a b@x", "long enough password", Role::Admin)
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn role_names_round_trip() {
    for r in [
        Role::Admin,
        Role::Engineer,
        Role::Reviewer,
        Role::Manufacturer,
        Role::Public,
    ] {
        assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
    }
    assert!("root".parse::<Role>().is_err());
}

/// No temporary upload file is in the temp folder (the process's lock file may be).
pub(crate) fn tmp_is_empty(store: &Store) -> bool {
    match std::fs::read_dir(store.artifact_dir().join("tmp")) {
        Ok(it) => !it
            .filter_map(Result::ok)
            .any(|e| !e.file_name().to_string_lossy().ends_with(".lock")),
        Err(_) => true,
    }
}

#[tokio::test]
async fn artifacts_streamed_hashed_deduplicated() {
    for db in test_dbs().await {
        let s = db.store.clone().with_limits(ArtifactLimits {
            max_size: 300_000,
            ..ArtifactLimits::default()
        });
        let sub = submission(&s).await;
        // Larger than one read chunk, so the streaming loop runs several times.
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let expect = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&data))
        };
        let a = s
            .add_submission_artifact(
                &sub,
                "capture.pcapng",
                "application/octet-stream",
                &data[..],
            )
            .await
            .unwrap();
        assert_eq!(a.sha256, expect, "{}", db.name);
        assert_eq!(a.size, 200_000);
        assert!(!a.existed);
        let path = s.artifact_path(&a.sha256).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert!(path.ends_with(format!("{}/{}", &expect[..2], expect)));
        // Same content under another name: deduplicated, one file, one row.
        let b = s
            .add_submission_artifact(&sub, "copy.pcapng", "application/octet-stream", &data[..])
            .await
            .unwrap();
        assert!(b.existed);
        assert_eq!(b.sha256, a.sha256);
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM artifacts")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(n, 1);
        // Too large: rejected, nothing stored, no temp file left.
        let big = vec![7u8; 300_001];
        let err = s
            .store_artifact_stream("application/octet-stream", &big[..])
            .await;
        assert!(
            matches!(err, Err(RegistryError::TooLarge { limit: 300_000, .. })),
            "{err:?}"
        );
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM artifacts")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(n, 1);
        // Exactly at the limit is fine; empty files are fine.
        let edge = vec![9u8; 300_000];
        s.store_artifact_stream("application/octet-stream", &edge[..])
            .await
            .unwrap();
        let empty = s
            .store_artifact_stream("text/plain", &b""[..])
            .await
            .unwrap();
        assert_eq!(
            empty.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // Hostile names are refused before anything is read.
        for bad in [
            "",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "..",
            ".",
            ".hidden",
            "c:x",
            "nul\0",
            "tab\t",
            " lead",
        ] {
            let r = s
                .add_submission_artifact(&sub, bad, "text/plain", &b"x"[..])
                .await;
            assert!(
                matches!(r, Err(RegistryError::Invalid { .. })),
                "{bad:?}: {r:?}"
            );
        }
        assert!(validate_artifact_name(&"a".repeat(256)).is_err());
        assert!(validate_artifact_name("firmware v1.2 (final).zip").is_ok());
        assert!(
            s.store_artifact_stream("bad type\n", &b"x"[..])
                .await
                .is_err()
        );
        assert!(s.artifact_path("../../etc/passwd").is_none());
        assert!(s.artifact_path(&"A".repeat(64)).is_none());
        assert!(tmp_is_empty(&s), "{}: temp files left", db.name);
    }
}

/// A reader that fails half-way, as a dropped upload connection does.
struct FailingReader(usize);

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("connection reset")));
        }
        self.0 -= 1;
        buf.put_slice(&[1u8; 1000]);
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn interrupted_upload_leaves_nothing() {
    for db in test_dbs().await {
        let r = db
            .store
            .store_artifact_stream("application/zip", FailingReader(5))
            .await;
        assert!(matches!(r, Err(RegistryError::BodyRead(_))), "{r:?}");
        assert!(tmp_is_empty(&db.store));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_concurrent_claims_are_exclusive() {
    for db in test_dbs().await {
        let s = db.store.clone();
        let sub = submission(&s).await;
        let mut ids = Vec::new();
        for _ in 0..20 {
            ids.push(s.enqueue_run(&sub).await.unwrap());
        }
        let mut tasks = Vec::new();
        for w in 0..4 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("worker-{w}");
                let mut got = Vec::new();
                while let Some(run) = s
                    .claim_next_run(&worker, Duration::from_secs(600))
                    .await
                    .unwrap()
                {
                    assert_eq!(run.state, RunState::Running);
                    assert_eq!(run.lease_owner.as_deref(), Some(worker.as_str()));
                    assert_eq!(run.attempts, 1);
                    got.push(run.id);
                    tokio::task::yield_now().await;
                }
                got
            }));
        }
        let mut claimed: BTreeMap<String, usize> = BTreeMap::new();
        for t in tasks {
            for id in t.await.unwrap() {
                *claimed.entry(id).or_default() += 1;
            }
        }
        ids.sort();
        assert_eq!(
            claimed.keys().cloned().collect::<Vec<_>>(),
            ids,
            "{}",
            db.name
        );
        assert!(
            claimed.values().all(|&n| n == 1),
            "{}: {claimed:?}",
            db.name
        );
    }
}

#[tokio::test]
async fn queue_expired_lease_is_reclaimed() {
    for db in test_dbs().await {
        let s = &db.store;
        let sub = submission(s).await;
        let id = s.enqueue_run(&sub).await.unwrap();
        let now = unix_now();
        let lease = Duration::from_secs(60);
        let first = s
            .claim_next_run_at("crashy", lease, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((first.id.as_str(), first.attempts), (id.as_str(), 1));
        // Within the lease nobody else gets it.
        assert!(
            s.claim_next_run_at("other", lease, now + 59)
                .await
                .unwrap()
                .is_none()
        );
        // After it expires the run is picked up again, attempt 2, by the new owner.
        let second = s
            .claim_next_run_at("other", lease, now + 61)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.id, id);
        assert_eq!(second.attempts, 2);
        assert_eq!(second.lease_owner.as_deref(), Some("other"));
        // The crashed worker, should it come back, no longer holds the run.
        assert!(!s.finish_run(&id, "crashy", Ok(())).await.unwrap());
        assert!(!s.heartbeat(&id, "crashy", 500, lease).await.unwrap());
        let r = s.get_run(&id).await.unwrap().unwrap();
        assert_eq!(r.state, RunState::Running);
        assert_eq!(r.lease_owner.as_deref(), Some("other"));
    }
}

#[tokio::test]
async fn queue_gives_up_after_max_attempts() {
    for db in test_dbs().await {
        let s = &db.store;
        let sub = submission(s).await;
        let id = s.enqueue_run(&sub).await.unwrap();
        let lease = Duration::from_secs(10);
        let mut now = unix_now();
        for attempt in 1..=queue::MAX_ATTEMPTS {
            let r = s.claim_next_run_at("w", lease, now).await.unwrap().unwrap();
            assert_eq!(r.attempts, attempt);
            now += 11;
        }
        assert!(
            s.claim_next_run_at("w", lease, now)
                .await
                .unwrap()
                .is_none()
        );
        let r = s.get_run(&id).await.unwrap().unwrap();
        assert_eq!(r.state, RunState::Failed, "{}", db.name);
        assert!(r.error.is_some());
    }
}

#[tokio::test]
async fn queue_heartbeat_and_finish() {
    for db in test_dbs().await {
        let s = &db.store;
        let sub = submission(s).await;
        let ok_id = s.enqueue_run(&sub).await.unwrap();
        let bad_id = s.enqueue_run(&sub).await.unwrap();
        let lease = Duration::from_secs(600);
        let a = s.claim_next_run("w1", lease).await.unwrap().unwrap();
        let b = s.claim_next_run("w1", lease).await.unwrap().unwrap();
        // FIFO within the same second is by id, so compare as sets.
        let mut got = [a.id.clone(), b.id.clone()];
        got.sort();
        let mut want = [ok_id.clone(), bad_id.clone()];
        want.sort();
        assert_eq!(got, want);
        assert!(s.claim_next_run("w1", lease).await.unwrap().is_none());
        assert!(s.heartbeat(&ok_id, "w1", 420, lease).await.unwrap());
        assert_eq!(s.get_run(&ok_id).await.unwrap().unwrap().progress, 420);
        assert!(s.heartbeat(&ok_id, "w1", 5000, lease).await.unwrap());
        assert_eq!(s.get_run(&ok_id).await.unwrap().unwrap().progress, 1000);
        assert!(!s.heartbeat(&ok_id, "w2", 1, lease).await.unwrap());
        assert!(s.finish_run(&ok_id, "w1", Ok(())).await.unwrap());
        assert!(
            s.finish_run(&bad_id, "w1", Err("decoder crashed"))
                .await
                .unwrap()
        );
        // Finishing twice does nothing.
        assert!(!s.finish_run(&ok_id, "w1", Err("late")).await.unwrap());
        let ok = s.get_run(&ok_id).await.unwrap().unwrap();
        assert_eq!(
            (ok.state, ok.progress, ok.error),
            (RunState::Done, 1000, None),
            "{}",
            db.name
        );
        assert!(ok.finished_at.is_some() && ok.lease_owner.is_none());
        let bad = s.get_run(&bad_id).await.unwrap().unwrap();
        assert_eq!(bad.state, RunState::Failed);
        assert_eq!(bad.error.as_deref(), Some("decoder crashed"));
        // Finished runs are never claimed again.
        assert!(
            s.claim_next_run_at("w3", lease, unix_now() + 100_000)
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.get_run("nope").await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_log_ordered_and_chained() {
    for db in test_dbs().await {
        let s = db.store.clone();
        assert_eq!(
            s.verify_audit_chain().await.unwrap(),
            AuditCheck::Intact { entries: 0 }
        );
        for i in 0..5 {
            s.audit("admin", "user.create", &format!("user-{i}"), "{}")
                .await
                .unwrap();
        }
        // Concurrent appenders still produce a gap-free, correctly chained log.
        let mut tasks = Vec::new();
        for t in 0..4 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..5 {
                    s.audit(
                        &format!("worker-{t}"),
                        "run.progress",
                        &format!("run-{i}"),
                        "",
                    )
                    .await
                    .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let all = s.audit_entries(0, 1000).await.unwrap();
        assert_eq!(all.len(), 25, "{}", db.name);
        assert!(all.iter().enumerate().all(|(i, e)| e.seq == i as i64 + 1));
        assert_eq!(all[0].object, "user-0");
        assert_eq!(all[4].object, "user-4");
        assert!(
            all.windows(2)
                .all(|w| w[1].prev_hash == w[0].hash && w[0].at <= w[1].at)
        );
        assert_eq!(s.audit_entries(20, 1000).await.unwrap().len(), 5);
        assert_eq!(
            s.verify_audit_chain().await.unwrap(),
            AuditCheck::Intact { entries: 25 }
        );
        assert!(s.audit("a", "b", "c", &"x".repeat(20_000)).await.is_err());
        // The API has no update/delete; tampering behind its back (raw SQL) is detected.
        sqlx::query("UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 3")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(
            s.verify_audit_chain().await.unwrap(),
            AuditCheck::Broken { at_seq: 3 }
        );
        sqlx::query("DELETE FROM audit_log WHERE seq <= 3")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(
            s.verify_audit_chain().await.unwrap(),
            AuditCheck::Broken { at_seq: 1 }
        );
    }
}

async fn get(app: axum::Router, uri: &str) -> (axum::http::StatusCode, Vec<u8>) {
    let req = axum::http::Request::get(uri)
        .header(axum::http::header::HOST, "localhost:8080")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, body.to_vec())
}

#[tokio::test]
async fn http_healthz_and_public_certificates() {
    for db in test_dbs().await {
        let app = router(AppState::new(db.store.clone()));
        assert_eq!(
            get(app.clone(), "/healthz").await,
            (axum::http::StatusCode::OK, b"ok".to_vec())
        );
        let (st, body) = get(
            app.clone(),
            "/api/v1/public/certificates?manufacturer=&model=",
        )
        .await;
        assert_eq!(st, axum::http::StatusCode::OK);
        assert_eq!(body, b"[]");
        // One issued certificate shows up, filtered by manufacturer.
        let sub = submission(&db.store).await;
        sqlx::query(
            "INSERT INTO certificates (id, number, submission_id, state, issued_at) \
             VALUES ('c1', 'PC-2026-0001', $1, 'issued', 1700000000)",
        )
        .bind(sub)
        .execute(&db.store.pool)
        .await
        .unwrap();
        let (_, body) = get(
            app.clone(),
            "/api/v1/public/certificates?manufacturer=Acme%20Phones",
        )
        .await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v[0]["number"], "PC-2026-0001", "{}", db.name);
        assert_eq!(v[0]["model"], "A1");
        let (_, body) = get(
            app.clone(),
            "/api/v1/public/certificates?manufacturer=Other",
        )
        .await;
        assert_eq!(body, b"[]");
        let long = "x".repeat(300);
        let (st, _) = get(
            app.clone(),
            &format!("/api/v1/public/certificates?model={long}"),
        )
        .await;
        assert_eq!(st, axum::http::StatusCode::BAD_REQUEST);
        let (st, _) = get(app.clone(), "/nope").await;
        assert_eq!(st, axum::http::StatusCode::NOT_FOUND);
        // A closed pool makes /healthz report unavailability instead of hanging or panicking.
        db.store.close().await;
        let (st, _) = get(app, "/healthz").await;
        assert_eq!(st, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }
}

#[tokio::test]
async fn open_rejects_unknown_urls() {
    let dir = tempfile::tempdir().unwrap();
    let r = Store::open(dir.path(), Some("mysql://x/y")).await;
    assert!(matches!(r, Err(RegistryError::UnsupportedUrl)));
}

/// Waits (with a generous hang guard, not a timing assertion) until every run is finished.
async fn wait_finished(s: &Store, ids: &[String]) {
    let all_done = async {
        loop {
            let mut pending = false;
            for id in ids {
                let r = s.get_run(id).await.unwrap().unwrap();
                pending |= matches!(r.state, RunState::Queued | RunState::Running);
            }
            if !pending {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all_done)
        .await
        .expect("runs did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_pool_runs_each_job_once_and_recovers_crashed_ones() {
    for db in test_dbs().await {
        let s = db.store.clone();
        let sub = submission(&s).await;
        // One run was claimed by a worker that then "crashed": its lease is already expired.
        let orphan = s.enqueue_run(&sub).await.unwrap();
        let lease = Duration::from_secs(30);
        s.claim_next_run_at("dead", lease, unix_now() - 1000)
            .await
            .unwrap()
            .unwrap();
        let mut ids = vec![orphan.clone()];
        for _ in 0..9 {
            ids.push(s.enqueue_run(&sub).await.unwrap());
        }
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let fail_id = ids[3].clone();
        let handler: JobHandler = Arc::new(move |run: Run, progress: Progress| {
            let seen = seen2.clone();
            let fail_id = fail_id.clone();
            Box::pin(async move {
                progress.set(500);
                seen.lock().unwrap().push(run.id.clone());
                if run.id == fail_id {
                    return Err(JobFailure("bad capture".to_owned()));
                }
                Ok(RunResults::default())
            })
        });
        let cfg = WorkerConfig {
            workers: 3,
            lease,
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_millis(10),
            name: "test".to_owned(),
        };
        let pool = WorkerPool::spawn(s.clone(), cfg, handler);
        wait_finished(&s, &ids).await;
        pool.shutdown().await.unwrap();
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(seen, want, "{}: each run handled exactly once", db.name);
        for id in &ids {
            let r = s.get_run(id).await.unwrap().unwrap();
            if *id == ids[3] {
                assert_eq!(r.state, RunState::Failed);
                assert_eq!(r.error.as_deref(), Some("bad capture"));
            } else {
                assert_eq!(r.state, RunState::Done, "{}", db.name);
            }
        }
        let o = s.get_run(&orphan).await.unwrap().unwrap();
        assert_eq!(o.attempts, 2, "the crashed run was retried");
    }
}

/// Sets its flag when dropped: tells whether an aborted job's future was really torn down.
struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_aborts_job_when_lease_is_lost() {
    for db in test_dbs().await {
        let s = db.store.clone();
        let sub = submission(&s).await;
        let id = s.enqueue_run(&sub).await.unwrap();
        let started = Arc::new(tokio::sync::Notify::new());
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (started2, dropped2) = (started.clone(), dropped.clone());
        let handler: JobHandler = Arc::new(move |_run: Run, _p: Progress| {
            let started = started2.clone();
            let guard = DropFlag(dropped2.clone());
            Box::pin(async move {
                let _guard = guard;
                started.notify_one();
                // Never finishes on its own.
                std::future::pending::<()>().await;
                Ok(RunResults::default())
            })
        });
        let lease = Duration::from_secs(30);
        let cfg = WorkerConfig {
            workers: 1,
            lease,
            heartbeat: Duration::from_millis(20),
            poll: Duration::from_millis(10),
            name: "slow".to_owned(),
        };
        let pool = WorkerPool::spawn(s.clone(), cfg, handler);
        started.notified().await;
        // The database hands the run to another worker (as after a stall past the lease).
        let stolen = s
            .claim_next_run_at("thief", lease, unix_now() + 31)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stolen.id, id);
        let wait = async {
            while !dropped.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(120), wait)
            .await
            .expect("job was not aborted");
        pool.shutdown().await.unwrap();
        let r = s.get_run(&id).await.unwrap().unwrap();
        assert_eq!(r.state, RunState::Running, "{}", db.name);
        assert_eq!(r.lease_owner.as_deref(), Some("thief"));
        assert_eq!(r.attempts, 2);
    }
}
