//! The registry's workers run each audit in a child process (`phonecert audit-job`) under a memory
//! limit: an audit over its limit fails its own run with a message naming the limit, while the
//! service goes on answering and its worker takes the next run. With room, the same case audits
//! to the same results as `phonecert audit` (the multiprocess test covers the default limit).

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::http::{self, Client, Framing};
use support::tar::tar_of;

const WAIT: Duration = Duration::from_secs(300);

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `phonecert serve` with one worker whose audits may use `mib` MiB; its API with a full token.
fn server(data: &Path, mib: u64) -> (Proc, Client) {
    let admin = "admin@lab.example";
    let password = "a long child-audit password";
    let st = Command::new(env!("CARGO_BIN_EXE_phonecert"))
        .args(["user", "add", "--email", admin, "--role", "admin", "--data"])
        .arg(data)
        .env("PHONECERT_PASSWORD", password)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let listen = format!("127.0.0.1:{}", http::free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_phonecert"))
        .args(["serve", "--listen", &listen, "--workers", "1", "--data"])
        .arg(data)
        .args(["--audit-memory-mib", &mib.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proc = Proc(child);
    let base = format!("http://{listen}");
    assert!(http::wait_for_server(&base, WAIT));
    let token = http::login_token(&base, admin, password, "full");
    let api = Client::new(&base).with_bearer(&token);
    api.post_json("/api/v1/manufacturers", &json!({"name": "Acme"}))
        .expect_status(201);
    (proc, api)
}

/// Submits the example case and starts a run; returns the run's final JSON.
fn audit_example(api: &Client, case_tar: &Path, firmware: &str) -> Value {
    let s = api.post_json(
        "/api/v1/submissions",
        &json!({"manufacturer": "Acme", "model": "A1", "firmware": firmware}),
    );
    s.expect_status(201);
    let id = s.json()["id"].as_str().unwrap().to_owned();
    api.put_file(
        &format!("/api/v1/submissions/{id}/files/case.tar"),
        case_tar,
        Framing::Length,
    )
    .expect_status(201);
    let r = api.post_json(&format!("/api/v1/submissions/{id}/runs"), &json!({}));
    r.expect_status(202);
    let run = r.json()["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let v = api.get(&format!("/api/v1/runs/{run}")).json();
        let state = v["run"]["state"].as_str().unwrap().to_owned();
        if state == "done" || state == "failed" {
            return v;
        }
        assert!(start.elapsed() < WAIT, "run {run} still {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn example_tar(dir: &Path) -> std::path::PathBuf {
    let case = dir.join("case.tar");
    std::fs::write(
        &case,
        tar_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-a1")),
    )
    .unwrap();
    case
}

#[test]
fn an_audit_over_its_memory_limit_fails_its_run_and_the_worker_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let case = example_tar(dir.path());
    // The example's audit needs more heap than this (its tracker and rule automata alone do).
    let (_proc, api) = server(&dir.path().join("data"), 8);
    for fw in ["fw-1", "fw-2"] {
        let v = audit_example(&api, &case, fw);
        assert_eq!(v["run"]["state"], "failed", "{v}");
        let error = v["run"]["error"].as_str().unwrap();
        assert!(
            error.contains("memory limit of 8 MiB") && error.contains("--audit-memory-mib"),
            "{error}"
        );
    }
    assert_eq!(api.get("/healthz").status, 200);
}

#[test]
fn a_child_audit_gives_the_results_of_phonecert_audit() {
    let dir = tempfile::tempdir().unwrap();
    let case = example_tar(dir.path());
    let (_proc, api) = server(&dir.path().join("data"), 1024);
    let v = audit_example(&api, &case, "fw-1");
    assert_eq!(v["run"]["state"], "done", "{v}");

    let out = dir.path().join("cli");
    let st = Command::new(env!("CARGO_BIN_EXE_phonecert"))
        .arg("audit")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-a1/case.toml"))
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(3), "the example fails certification");
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let mut cli = verdicts(&report["results"], |r| &r["automatic"]["verdict"]);
    let mut run = verdicts(&v["results"], |r| &r["automatic"]);
    cli.sort();
    run.sort();
    assert!(!cli.is_empty());
    assert_eq!(run, cli);
}

/// (requirement, automatic verdict) of each result row; `verdict` finds the verdict in a row.
fn verdicts(rows: &Value, verdict: impl Fn(&Value) -> &Value) -> Vec<(String, String)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["requirement"].as_str().unwrap().to_owned(),
                verdict(r).as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
