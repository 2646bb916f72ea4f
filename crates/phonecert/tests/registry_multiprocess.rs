//! Several processes share one database and one artifact folder: a `phonecert serve` with a
//! worker, a `phonecert worker`, and a web-only `phonecert serve` that reads what the others
//! did. Every run is executed exactly once, by one of the workers. On the embedded SQLite
//! database (one machine), and on PostgreSQL when `PHONECERT_TEST_POSTGRES_URL` is set.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::http::{self, Client, Framing};
use support::tar::tar_of;

const WAIT: Duration = Duration::from_secs(300);

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn phonecert(args: &[&str], data: &Path, db: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phonecert"));
    c.args(args).arg("--data").arg(data);
    if let Some(db) = db {
        c.args(["--database", db]);
    }
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn shared_deployment(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Unique names: a PostgreSQL database may hold earlier runs of this test.
    let tag = format!(
        "{}-{}",
        std::process::id(),
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let admin = format!("admin-{tag}@lab.example").to_lowercase();
    let password = "a long multiprocess password";
    let st = phonecert(
        &["user", "add", "--email", &admin, "--role", "admin"],
        &data,
        db,
    )
    .env("PHONECERT_PASSWORD", password)
    .status()
    .unwrap();
    assert!(st.success());

    let (pa, pc) = (http::free_port(), http::free_port());
    let mut procs = Procs(Vec::new());
    let a = format!("127.0.0.1:{pa}");
    let c = format!("127.0.0.1:{pc}");
    procs.0.push(
        phonecert(
            &[
                "serve",
                "--listen",
                &a,
                "--workers",
                "1",
                "--lease-secs",
                "10",
            ],
            &data,
            db,
        )
        .spawn()
        .unwrap(),
    );
    procs.0.push(
        phonecert(
            &["worker", "--workers", "1", "--lease-secs", "10"],
            &data,
            db,
        )
        .spawn()
        .unwrap(),
    );
    procs.0.push(
        phonecert(&["serve", "--listen", &c, "--workers", "0"], &data, db)
            .spawn()
            .unwrap(),
    );
    let base_a = format!("http://{a}");
    let base_c = format!("http://{c}");
    assert!(http::wait_for_server(&base_a, WAIT) && http::wait_for_server(&base_c, WAIT));
    for base in [&base_a, &base_c] {
        let start = Instant::now();
        while Client::new(base).get("/healthz").status != 200 {
            assert!(start.elapsed() < WAIT, "{base} not healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // Log in on A, get an API token; the token works on C too (one database).
    let token = http::login_token(&base_a, &admin, password, "full");
    let a_api = Client::new(&base_a).with_bearer(&token);
    let c_api = Client::new(&base_c).with_bearer(&token);
    let maker = format!("Maker {tag}");
    a_api
        .post_json("/api/v1/manufacturers", &json!({"name": maker}))
        .expect_status(201);

    let case = dir.path().join("case.tar");
    std::fs::write(
        &case,
        tar_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-a1")),
    )
    .unwrap();
    let mut runs = Vec::new();
    for i in 0..6 {
        let s = c_api.post_json(
            "/api/v1/submissions",
            &json!({"manufacturer": maker, "model": "A1", "firmware": format!("fw-{i}")}),
        );
        s.expect_status(201);
        let id = s.json()["id"].as_str().unwrap().to_owned();
        // Uploads through the web-only process land in the shared artifact folder.
        c_api
            .put_file(
                &format!("/api/v1/submissions/{id}/files/case.tar"),
                &case,
                Framing::Length,
            )
            .expect_status(201);
        let r = a_api.post_json(&format!("/api/v1/submissions/{id}/runs"), &json!({}));
        r.expect_status(202);
        runs.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    let start = Instant::now();
    for run in &runs {
        loop {
            let v = c_api.get(&format!("/api/v1/runs/{run}")).json();
            let state = v["run"]["state"].as_str().unwrap().to_owned();
            if state == "done" {
                assert_eq!(v["run"]["attempts"], 1, "{v}");
                assert!(!v["results"].as_array().unwrap().is_empty());
                break;
            }
            assert_ne!(state, "failed", "{v}");
            assert!(start.elapsed() < WAIT, "run {run} still {state}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // The audit log says who ran what: each run started once and finished once.
    let log = c_api.get("/api/v1/audit-log").json();
    assert_eq!(log["chain"]["state"], "intact", "{}", log["chain"]);
    let entries = log["entries"].as_array().unwrap();
    let mut workers = std::collections::BTreeSet::new();
    for run in &runs {
        for action in ["run.start", "run.done"] {
            let by: Vec<&str> = entries
                .iter()
                .filter(|e| e["object"] == run.as_str() && e["action"] == action)
                .map(|e| e["actor"].as_str().unwrap())
                .collect();
            assert_eq!(by.len(), 1, "{run} {action}: {by:?}");
            workers.insert(by[0].to_owned());
        }
    }
    println!(
        "{}: 6 runs by {} worker(s): {workers:?}",
        if db.is_some() { "postgres" } else { "sqlite" },
        workers.len()
    );
}

#[test]
fn processes_share_the_embedded_database() {
    shared_deployment(None);
}

#[test]
fn processes_share_postgres() {
    match std::env::var("PHONECERT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => shared_deployment(Some(&url)),
        _ => println!("PHONECERT_TEST_POSTGRES_URL not set: PostgreSQL variant skipped"),
    }
}
