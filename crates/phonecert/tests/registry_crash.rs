//! Crash safety of the registry service, against the real binary: a `phonecert serve` killed
//! (SIGKILL) in the middle of an upload, or in the middle of an audit run, loses nothing it had
//! acknowledged, and a run it was working on is taken up again after its lease and completes
//! exactly once. The last test shares one data folder between `serve` and `worker` processes
//! and kills whichever holds the run, twice.
//!
//! Waits are bounded only so that a broken server fails the test instead of hanging it; nothing
//! here asserts on how long anything takes. The timings the tests print (`--nocapture`) are for
//! people sizing the enlarged case.

mod support;

use support::tar::{Tar, files_below};

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::http::{self, Client, Framing, OrPanic};

const ADMIN_EMAIL: &str = "admin@lab.example";
const ADMIN_PASSWORD: &str = "crash-test admin passphrase";
/// Seconds a killed worker keeps its run before another takes it up.
const LEASE_SECS: &str = "2";
/// Bounds a server start (migrations, lab key) on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Bounds a whole audit of the enlarged case (debug build, 2 cores, other builds running).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Extra copies of a real APK added to the example firmware so the audit is slow enough to be
/// caught running. AcmeMessaging.apk is 0.8 MB; the audit spends about 60 ms on each copy in a
/// dev build here, so 200 copies make the firmware stage last ~10 s.
const EXTRA_APPS: usize = 200;
/// How often run state is polled.
const POLL: Duration = Duration::from_millis(100);

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-a1")
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A child process that is killed (and reaped) when dropped, so a failing test leaves nothing
/// running; on a panic its log is printed to explain the failure.
struct Proc {
    what: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(what: &str, args: &[&str], log: &Path) -> Proc {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .or_panic(|| format!("open {}", log.display()));
        let err = out.try_clone().expect("clone log file");
        let child = Command::new(env!("CARGO_BIN_EXE_phonecert"))
            .args(args)
            .env("PHONECERT_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("PHONECERT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .or_panic(|| format!("spawn phonecert {args:?}"));
        Proc {
            what: what.to_string(),
            child,
            log: log.to_path_buf(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs, as in a crash or an OOM kill.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.exited() {
            self.kill();
        }
        if std::thread::panicking() {
            eprintln!("---- log of {} ----\n{}", self.what, self.log_text());
        }
    }
}

/// A running `phonecert serve`.
struct Server {
    proc: Proc,
    base: String,
}

impl Server {
    /// Starts `phonecert serve` on a free port and waits until `/healthz` answers 200.
    fn start(data: &Path, workers: usize, log: &Path) -> Server {
        // The port is free when picked but could be taken before the server binds it: retry.
        for _ in 0..3 {
            let port = http::free_port();
            let listen = format!("127.0.0.1:{port}");
            let workers = workers.to_string();
            let data_arg = data.to_str().expect("UTF-8 temp path");
            let mut proc = Proc::spawn(
                &format!("phonecert serve (log {})", log.display()),
                &[
                    "serve",
                    "--listen",
                    &listen,
                    "--data",
                    data_arg,
                    "--lease-secs",
                    LEASE_SECS,
                    "--workers",
                    &workers,
                ],
                log,
            );
            let base = format!("http://{listen}");
            let deadline = Instant::now() + START_TIMEOUT;
            let mut ready = false;
            while Instant::now() < deadline && !proc.exited() {
                if http::wait_for_server(&base, Duration::from_millis(200)) {
                    let health = http::Request::new("GET", &format!("{base}/healthz"))
                        .timeout(Duration::from_secs(10))
                        .try_send();
                    if health.is_ok_and(|r| r.status == 200) {
                        ready = true;
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if ready {
                return Server { proc, base };
            }
            if !proc.exited() {
                panic!(
                    "phonecert serve not healthy after {START_TIMEOUT:?}:\n{}",
                    proc.log_text()
                );
            }
            if !proc.log_text().contains("binding") {
                panic!("phonecert serve exited at start:\n{}", proc.log_text());
            }
        }
        panic!("phonecert serve could not bind a free port three times");
    }

    fn kill(&mut self) {
        self.proc.kill();
    }

    fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

/// Starts `phonecert worker` (audit workers without a web server) on the data folder.
fn start_worker(data: &Path, log: &Path) -> Proc {
    let data_arg = data.to_str().expect("UTF-8 temp path");
    Proc::spawn(
        &format!("phonecert worker (log {})", log.display()),
        &[
            "worker",
            "--data",
            data_arg,
            "--lease-secs",
            LEASE_SECS,
            "--workers",
            "1",
        ],
        log,
    )
}

// ---------------------------------------------------------------------------------------------
// The API

/// Logs in as the bootstrapped administrator and makes an API token.
fn admin_token(base: &str) -> String {
    let browser = Client::new(base);
    let login = browser.post_json(
        "/api/v1/session",
        &json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }),
    );
    login.expect_status(200);
    let csrf = login.json()["csrf_token"]
        .as_str()
        .or_panic(|| format!("no csrf_token: {login:?}"))
        .to_string();
    let made = browser
        .req("POST", "/api/v1/tokens")
        .header("X-CSRF-Token", &csrf)
        .json(&json!({ "label": "crash tests", "scope": "full" }))
        .send();
    made.expect_status(201);
    let token = made.json()["token"]
        .as_str()
        .or_panic(|| format!("no token: {made:?}"))
        .to_string();
    assert!(token.starts_with("pct_"), "token {token:?}");
    token
}

fn api(server: &Server, token: &str) -> Client {
    Client::new(&server.base).with_bearer(token)
}

#[track_caller]
fn get_json(api: &Client, path: &str) -> Value {
    let r = api.get(path);
    r.expect_status(200);
    r.json()
}

/// A manufacturer and a draft submission; returns the submission id.
fn new_submission(api: &Client) -> String {
    api.post_json("/api/v1/manufacturers", &json!({ "name": "Acme" }))
        .expect_status(201);
    let s = api.post_json(
        "/api/v1/submissions",
        &json!({ "manufacturer": "Acme", "model": "A1", "firmware": "A1-14.0.3" }),
    );
    s.expect_status(201);
    s.json()["id"]
        .as_str()
        .or_panic(|| format!("no submission id: {s:?}"))
        .to_string()
}

fn files_of(api: &Client, submission: &str) -> Vec<Value> {
    get_json(api, &format!("/api/v1/submissions/{submission}"))["files"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls a run until `until` accepts it or it ends (done or failed); returns the last view.
#[track_caller]
fn wait_run(api: &Client, run: &str, what: &str, mut until: impl FnMut(&Value) -> bool) -> Value {
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        // The server may be restarting; a refused connection is not an answer yet.
        if let Ok(r) = api.req("GET", &format!("/api/v1/runs/{run}")).try_send()
            && r.status == 200
        {
            last = r.json();
            let state = last["run"]["state"].as_str().unwrap_or("");
            if until(&last) || state == "done" || state == "failed" {
                return last;
            }
        }
        std::thread::sleep(POLL);
    }
    panic!("run {run}: not {what} after {RUN_TIMEOUT:?}; last seen: {last:#}");
}

fn state(view: &Value) -> &str {
    view["run"]["state"].as_str().unwrap_or("")
}

fn progress(view: &Value) -> i64 {
    view["run"]["progress"].as_i64().unwrap_or(0)
}

fn attempts(view: &Value) -> i64 {
    view["run"]["attempts"].as_i64().unwrap_or(0)
}

/// Running and past laying the files out (progress is permille; the layout ends at 50).
fn in_audit(view: &Value) -> bool {
    state(view) == "running" && progress(view) > 50
}

/// The process id in a lease owner `<host>-<pid>-<worker index>`.
fn owner_pid(view: &Value) -> u32 {
    let owner = view["run"]["lease_owner"]
        .as_str()
        .or_panic(|| format!("running run without lease owner: {view:#}"));
    let mut parts = owner.rsplitn(3, '-');
    let _index = parts.next();
    parts
        .next()
        .and_then(|p| p.parse().ok())
        .or_panic(|| format!("lease owner {owner:?} is not host-pid-index"))
}

#[track_caller]
fn assert_caught_running(view: &Value) {
    assert!(
        in_audit(view),
        "the run ended before it could be killed: make the case larger (EXTRA_APPS); {view:#}"
    );
}

/// The checks on a run that was killed and completed after being taken up again.
#[track_caller]
fn assert_completed_once(
    api: &Client,
    data: &Path,
    submission: &str,
    run: &str,
    view: &Value,
    tries: i64,
) {
    assert_eq!(state(view), "done", "run did not complete: {view:#}");
    assert_eq!(attempts(view), tries, "claims of the run: {view:#}");
    assert_eq!(progress(view), 1000, "{view:#}");
    assert!(view["run"]["error"].is_null(), "{view:#}");
    assert!(view["run"]["lease_owner"].is_null(), "{view:#}");

    let ids: Vec<&str> = view["results"]
        .as_array()
        .or_panic(|| format!("no results: {view:#}"))
        .iter()
        .map(|r| r["requirement"].as_str().unwrap_or(""))
        .collect();
    assert!(!ids.is_empty(), "no results recorded: {view:#}");
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "a requirement's result was recorded twice: {ids:?}"
    );

    let files: BTreeSet<&str> = view["files"]
        .as_array()
        .or_panic(|| format!("no files: {view:#}"))
        .iter()
        .map(|f| f.as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        files,
        BTreeSet::from(["report.html", "report.json", "report.sarif"]),
        "{view:#}"
    );
    // The enlarged case keeps the example's debuggable and test-key-signed apps.
    assert_eq!(view["outcome"][0], "fail", "outcome: {view:#}");
    assert!(
        view["outcome"][1].as_str().is_some_and(|s| !s.is_empty()),
        "outcome summary: {view:#}"
    );

    // The stored report decides the same requirements as the recorded results.
    let report = api.get(&format!("/api/v1/runs/{run}/files/report.json"));
    report.expect_status(200);
    let report = report.json();
    let in_report: Vec<&str> = report["results"]
        .as_array()
        .or_panic(|| "report.json has no results".to_string())
        .iter()
        .map(|r| r["requirement"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, in_report, "results recorded vs report.json");

    // One run, not a second one made by the recovery.
    let sub = get_json(api, &format!("/api/v1/submissions/{submission}"));
    let runs = sub["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 1, "runs of the submission: {sub:#}");
    assert_eq!(runs[0]["id"], run);
    assert_eq!(sub["submission"]["state"], "review", "{sub:#}");
    assert_eq!(sub["latest"]["run"]["id"], run, "{sub:#}");

    // Each attempt has its own scratch folder (`<run>-<attempt>`); the killed attempts'
    // folders went with the attempt that completed.
    let left: Vec<String> = std::fs::read_dir(data.join("work"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(run))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "work folders left behind: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// Files

/// A classic pcap (little-endian, microseconds, Ethernet) of `len` bytes or a little more: the
/// global header and 1000-byte packets of varying bytes.
fn synthetic_pcap(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 1100);
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut n: u32 = 0;
    while out.len() < len {
        out.extend_from_slice(&(1_700_000_000 + n / 1000).to_le_bytes());
        out.extend_from_slice(&((n % 1000) * 1000).to_le_bytes());
        out.extend_from_slice(&1000u32.to_le_bytes());
        out.extend_from_slice(&1000u32.to_le_bytes());
        out.extend((0..1000u32).map(|i| (i.wrapping_mul(31) ^ n) as u8));
        n += 1;
    }
    out
}

/// Files in the upload temp folder, with their sizes.
fn temp_uploads(data: &Path) -> Vec<(String, u64)> {
    let tmp = data.join("artifacts").join("tmp");
    files_below(&tmp)
        .into_iter()
        // Each process's lock file (its claim on its uploads) is not an upload.
        .filter(|name| !name.ends_with(".lock"))
        .map(|name| {
            let size = std::fs::metadata(tmp.join(&name)).map_or(0, |m| m.len());
            (name, size)
        })
        .collect()
}

/// `case.tar`: the example case with `EXTRA_APPS` copies of its messaging app added as
/// `firmware/system/app/CopyN/CopyN.apk` (each copy is an app of its own to the firmware walk).
fn write_big_case(path: &Path) {
    let root = example();
    let mut tar = Tar::create(path);
    for rel in files_below(&root) {
        let data = std::fs::read(root.join(&rel)).or_panic(|| format!("read {rel}"));
        tar.add(&rel, &data);
    }
    let apk = std::fs::read(root.join("firmware/system/priv-app/AcmeMessaging/AcmeMessaging.apk"))
        .expect("read AcmeMessaging.apk");
    for i in 1..=EXTRA_APPS {
        tar.add(&format!("firmware/system/app/Copy{i}/Copy{i}.apk"), &apk);
    }
    tar.finish();
}

/// Uploads the enlarged case into a new submission and returns the submission id.
fn submit_big_case(api: &Client, dir: &Path) -> String {
    let tar = dir.join("case.tar");
    write_big_case(&tar);
    let submission = new_submission(api);
    let t = Instant::now();
    let r = api
        .req(
            "PUT",
            &format!("/api/v1/submissions/{submission}/files/case.tar"),
        )
        .timeout(Duration::from_secs(600))
        .file("application/x-tar", &tar, Framing::Length)
        .send();
    r.expect_status(201);
    eprintln!(
        "uploaded case.tar ({} MB) in {:.1?}",
        r.json()["size"].as_u64().unwrap_or(0) >> 20,
        t.elapsed()
    );
    submission
}

#[track_caller]
fn start_run(api: &Client, submission: &str) -> String {
    let r = api
        .req("POST", &format!("/api/v1/submissions/{submission}/runs"))
        .send();
    r.expect_status(202);
    r.json()["id"]
        .as_str()
        .or_panic(|| format!("no run id: {r:?}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Tests

/// Killed while a second upload streams in: the first, acknowledged upload survives intact;
/// the cut-off one is neither listed nor stored, its bytes only in the temp folder.
#[test]
fn kill_during_upload_keeps_acknowledged_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let mut server = Server::start(&data, 1, &log);
    let token = admin_token(&server.base);
    let api1 = api(&server, &token);
    let submission = new_submission(&api1);

    // 1. A complete upload, acknowledged with its hash.
    let capture = example().join("captures/declined-idle.pcap");
    let original = std::fs::read(&capture).expect("read declined-idle.pcap");
    let up = api1.put_file(
        &format!("/api/v1/submissions/{submission}/files/declined-idle.pcap"),
        &capture,
        Framing::Length,
    );
    up.expect_status(201);
    let acked = up.json();
    let sha = acked["sha256"].as_str().expect("sha256").to_string();
    assert_eq!(sha.len(), 64, "{acked}");
    assert_eq!(acked["size"], original.len() as u64, "{acked}");

    // 2. A larger capture, announced in full and cut off by the crash after 4 MiB.
    let big = synthetic_pcap(32 << 20);
    let sent = 4 << 20;
    let mut upload = api1
        .req(
            "PUT",
            &format!("/api/v1/submissions/{submission}/files/long-session.pcap"),
        )
        .header("Content-Type", "application/vnd.tcpdump.pcap")
        .start_upload(Some(big.len() as u64))
        .expect("start the second upload");
    for piece in big[..sent].chunks(64 * 1024) {
        upload.write(piece).expect("write the second upload");
    }
    // Wait until the server is demonstrably writing it (its temp file has data).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !temp_uploads(&data).iter().any(|(_, size)| *size >= 1 << 20) {
        assert!(
            Instant::now() < deadline,
            "the server never wrote the upload to its temp folder: {:?}",
            temp_uploads(&data)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // While open, it is not a file of the submission.
    let during = files_of(&api1, &submission);
    assert_eq!(during.len(), 1, "files during the upload: {during:?}");

    server.kill();
    upload.abort();
    let leftovers = temp_uploads(&data);
    assert_eq!(
        leftovers.len(),
        1,
        "temp files after the crash: {leftovers:?}"
    );
    assert!(leftovers[0].0.ends_with(".part"), "{leftovers:?}");
    assert!(
        leftovers[0].1 <= sent as u64,
        "more in the temp file than was sent: {leftovers:?}"
    );

    // 3. Restart on the same data folder: the database opens, the token still works.
    let server = Server::start(&data, 1, &log);
    let api2 = api(&server, &token);
    let files = files_of(&api2, &submission);
    assert_eq!(files.len(), 1, "files after the restart: {files:#?}");
    assert_eq!(files[0]["name"], "declined-idle.pcap");
    assert_eq!(files[0]["sha256"], sha.as_str());
    assert_eq!(files[0]["size"], original.len() as u64);
    assert_eq!(files[0]["media_type"], "application/vnd.tcpdump.pcap");

    // The stored artifact is the acknowledged content, and the only stored artifact; the
    // cut-off upload's bytes were only in the temp folder, swept at the restart (its owner died).
    let artifacts = data.join("artifacts");
    let stored_rel = format!("{}/{sha}", &sha[..2]);
    assert_eq!(
        std::fs::read(artifacts.join(&stored_rel)).expect("read the stored artifact"),
        original,
        "the stored artifact differs from the uploaded file"
    );
    let stored: BTreeSet<String> = files_below(&artifacts)
        .into_iter()
        .filter(|p| !p.starts_with("tmp/"))
        .collect();
    assert_eq!(stored, BTreeSet::from([stored_rel.clone()]));
    assert_eq!(temp_uploads(&data), vec![], "temp folder after restart");

    // The audit log holds the acknowledged upload, not the cut-off one, and is intact.
    let log_view = get_json(&api2, "/api/v1/audit-log");
    assert_eq!(log_view["chain"]["state"], "intact", "{log_view:#}");
    let uploads: Vec<&str> = log_view["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "submission.upload")
        .map(|e| e["detail"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(uploads.len(), 1, "upload entries: {uploads:?}");
    assert!(uploads[0].starts_with("declined-idle.pcap "), "{uploads:?}");

    // 4. The cut-off file can be uploaded again, whole, after the restart.
    let whole = synthetic_pcap(6 << 20);
    let again = api2
        .req(
            "PUT",
            &format!("/api/v1/submissions/{submission}/files/long-session.pcap"),
        )
        .body("application/vnd.tcpdump.pcap", whole.clone())
        .send();
    again.expect_status(201);
    let files = files_of(&api2, &submission);
    let names: Vec<&str> = files.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["declined-idle.pcap", "long-session.pcap"]);
    assert_eq!(files[1]["size"], whole.len() as u64);
    assert_eq!(files[0]["sha256"], sha.as_str());
    drop(server);
}

/// Killed while an audit runs: after a restart the run is taken up again once its lease has
/// expired and completes, with one set of results.
#[test]
fn kill_during_run_completes_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let mut server = Server::start(&data, 1, &log);
    let token = admin_token(&server.base);
    let api1 = api(&server, &token);
    let submission = submit_big_case(&api1, dir.path());

    let t0 = Instant::now();
    let run = start_run(&api1, &submission);
    let first = wait_run(&api1, &run, "running past the layout", in_audit);
    let caught_at = t0.elapsed();
    assert_caught_running(&first);
    assert_eq!(attempts(&first), 1, "{first:#}");
    server.kill();
    eprintln!(
        "run caught at progress {} after {caught_at:.1?}; server killed",
        progress(&first)
    );

    let t1 = Instant::now();
    let server = Server::start(&data, 1, &log);
    let api2 = api(&server, &token);
    let retaken = wait_run(&api2, &run, "taken up again", |v| attempts(v) >= 2);
    let retaken_at = t1.elapsed();
    let done = wait_run(&api2, &run, "done", |v| state(v) == "done");
    eprintln!(
        "after restart: taken up again after {retaken_at:.1?}, done after {:.1?} \
         (one whole attempt of the enlarged audit: {:.1?})",
        t1.elapsed(),
        t1.elapsed() - retaken_at
    );
    assert!(attempts(&retaken) >= 2, "{retaken:#}");
    assert_completed_once(&api2, &data, &submission, &run, &done, 2);
    drop(server);
}

/// `serve` and `worker` processes share one SQLite database and data folder; whichever holds
/// the run is killed, twice, and the run completes with a fresh `phonecert worker`.
#[test]
fn run_survives_killing_its_holder_twice_across_processes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let serve_log = dir.path().join("serve.log");
    let mut server = Server::start(&data, 1, &serve_log);
    let mut worker = start_worker(&data, &dir.path().join("worker1.log"));
    let token = admin_token(&server.base);
    let mut client = api(&server, &token);
    let submission = submit_big_case(&client, dir.path());
    let run = start_run(&client, &submission);

    // First holder: serve's worker or the worker process, whichever claimed it.
    let first = wait_run(&client, &run, "running past the layout", in_audit);
    assert_caught_running(&first);
    assert_eq!(attempts(&first), 1, "{first:#}");
    let holder = owner_pid(&first);
    let serve_held_first = holder == server.pid();
    assert!(
        serve_held_first || holder == worker.pid(),
        "run held by pid {holder}, neither serve ({}) nor worker ({}): {first:#}",
        server.pid(),
        worker.pid()
    );
    if serve_held_first {
        // Restarted web-only, so only the worker process can take the run up.
        server.kill();
        server = Server::start(&data, 0, &serve_log);
        client = api(&server, &token);
    } else {
        worker.kill();
    }
    eprintln!(
        "first kill: {} held the run at progress {}",
        if serve_held_first { "serve" } else { "worker" },
        progress(&first)
    );

    // Second holder: the other process. Kill it too.
    let second = wait_run(&client, &run, "running again past the layout", |v| {
        attempts(v) >= 2 && in_audit(v)
    });
    assert_caught_running(&second);
    assert_eq!(attempts(&second), 2, "{second:#}");
    let holder = owner_pid(&second);
    if serve_held_first {
        assert_eq!(holder, worker.pid(), "second holder: {second:#}");
        worker.kill();
    } else {
        assert_eq!(holder, server.pid(), "second holder: {second:#}");
        server.kill();
        server = Server::start(&data, 0, &serve_log);
        client = api(&server, &token);
    }

    // Now only a fresh worker process can finish it (serve runs web-only).
    let t = Instant::now();
    let _worker2 = start_worker(&data, &dir.path().join("worker2.log"));
    let done = wait_run(&client, &run, "done", |v| state(v) == "done");
    eprintln!("fresh worker finished the run after {:.1?}", t.elapsed());
    assert_completed_once(&client, &data, &submission, &run, &done, 3);
    drop(server);
}
