//! End to end in a real headless Chromium against a real `phonecert serve`: the administrator
//! sets the lab up, a manufacturer logs in, creates a submission, uploads the case and watches
//! the run finish; a reviewer overrides verdicts with reasons, approves and issues the
//! certificate; an anonymous visitor finds the model in the public registry and verifies the
//! certificate, which also verifies offline with the lab's public key.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::http::{self, Client};
use support::tar::tar_of;
use support::webdriver::Browser;

const ADMIN: &str = "admin@lab.example";
const PASSWORD: &str = "a long e2e password";
const WAIT: Duration = Duration::from_secs(120);

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of the first element matching `css` right now, read in one script call: pages that
/// refresh themselves (a run under way) make element handles go stale between two calls.
fn text_now(b: &Browser, css: &str) -> Option<String> {
    b.try_cmd(
        "POST",
        "/execute/sync",
        Some(serde_json::json!({
            "script": "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
            "args": [css],
        })),
    )
    .ok()
    .and_then(|v| v.as_str().map(str::to_owned))
}

fn login(b: &Browser, base: &str, email: &str) {
    b.goto(&format!("{base}/login"));
    b.find("#email").send_keys(email);
    b.find("#password").send_keys(PASSWORD);
    b.find("#login").click();
    b.wait_until(WAIT, |b| b.try_find("#logout").is_some());
}

fn logout(b: &Browser) {
    b.find("#logout").click();
    b.wait_until(WAIT, |b| b.try_find("#login-link").is_some());
}

#[test]
fn lab_workflow_in_a_real_browser() {
    let Some(b) = Browser::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = http::free_port();
    // localhost: browsers keep Secure cookies over plain HTTP there.
    let base = format!("http://localhost:{port}");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_phonecert"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--workers",
                "1",
            ])
            .arg("--data")
            .arg(dir.path().join("data"))
            .args(["--lab", "E2E Test Lab"])
            .env("PHONECERT_ADMIN_EMAIL", ADMIN)
            .env("PHONECERT_ADMIN_PASSWORD", PASSWORD)
            .stdout(Stdio::null())
            .spawn()
            .expect("start phonecert serve"),
    );
    assert!(http::wait_for_server(&base, WAIT), "server did not start");
    let case = dir.path().join("acme-a1-case.tar");
    std::fs::write(&case, tar_of(&root().join("examples/acme-a1"))).unwrap();

    // The administrator adds the manufacturer and two accounts.
    login(&b, &base, ADMIN);
    b.goto(&format!("{base}/admin"));
    b.find("#new-manufacturer").send_keys("Acme");
    b.find("#create-manufacturer").click();
    // The page source, not an element: elements go stale while the next page loads.
    b.wait_until(WAIT, |b| b.page_source().contains("<li>Acme</li>"));
    for (email, role, manufacturer) in [
        ("maker@acme.example", "manufacturer", "Acme"),
        ("reviewer@lab.example", "reviewer", ""),
    ] {
        b.find("#new-email").send_keys(email);
        b.find("#new-password").send_keys(PASSWORD);
        b.find(&format!("#new-role option[value='{role}']")).click();
        b.find(&format!(
            "select[name=manufacturer] option[value='{manufacturer}']"
        ))
        .click();
        b.find("#create-user").click();
        b.wait_until(WAIT, |b| {
            b.page_source().contains(&format!("<td>{email}</td>"))
        });
    }
    logout(&b);

    // The manufacturer submits its model with the case, and watches the run.
    login(&b, &base, "maker@acme.example");
    b.find("#model").send_keys("A1");
    b.find("#firmware").send_keys("A1-14.0.3");
    b.find("#create-submission").click();
    b.find("#file").send_keys(case.to_str().unwrap());
    b.find("#upload").click();
    b.wait_until(WAIT, |b| {
        b.page_source().contains("<td>acme-a1-case.tar</td>")
    });
    let submission_url = b.current_url();
    b.find("#start-run").click();
    // The page refreshes itself while the run is under way.
    b.wait_until(WAIT, |b| {
        text_now(b, ".run-state").is_some_and(|t| t == "done" || t == "failed")
    });
    assert_eq!(b.find(".run-state").text(), "done");
    assert_eq!(b.find("#outcome").text(), "FAIL");
    assert!(b.find("#verdicts").text().contains("PCB-CONSENT-01"));
    assert!(
        b.try_find("#data-flows svg").is_some(),
        "data-flow picture shown"
    );
    // A manufacturer cannot review.
    assert!(b.try_find(".override").is_none() && b.try_find("#decide").is_none());
    logout(&b);

    // The reviewer overrides every mandatory requirement that is not PASS, with a reason.
    login(&b, &base, "reviewer@lab.example");
    b.goto(&submission_url);
    loop {
        let rows = b.find_all("#verdicts tr[id^='req-']");
        let next = rows.iter().find(|r| {
            let cells = r.find_all("td");
            cells.len() > 3
                && cells[1].text() == "mandatory"
                && cells[3].text().split('\n').next() != Some("PASS")
        });
        let Some(row) = next else { break };
        let id = row.attr("id").unwrap();
        row.find("option[value='PASS']").click();
        row.find("input[name=reason]")
            .send_keys("reviewed: the lab accepts this after manual analysis");
        row.find("button.override").click();
        b.wait_until(WAIT, |b| {
            text_now(b, &format!("#{id} .verdict")).is_some_and(|t| t.starts_with("PASS"))
        });
    }
    assert!(b.find("#overrides").text().contains("reviewer@lab.example"));
    b.find("#comment").send_keys("four eyes: approved");
    b.find("#decide").click();
    b.find("#issue").click();
    b.wait_until(WAIT, |b| b.current_url().contains("/certificates/"));
    assert_eq!(b.find("#cert-state").text(), "issued");
    let cert_url = b.current_url();
    let number = cert_url.rsplit('/').next().unwrap().to_owned();
    assert!(b.find("#certificate").text().contains("E2E Test Lab"));
    logout(&b);

    // The public finds the model and verifies the certificate, pasted and uploaded.
    b.goto(&format!("{base}/registry"));
    b.find("#q").send_keys("acme");
    b.find("#search").click();
    b.wait_until(WAIT, |b| b.current_url().contains("q=acme"));
    assert!(b.find("#registry").text().contains(&number));
    b.find(&format!("#registry a[href='/certificates/{number}']"))
        .click();
    b.wait_until(WAIT, |b| b.current_url() == cert_url);
    let client = Client::new(&format!("http://127.0.0.1:{port}"));
    let cert = client.get(&format!("/certificates/{number}/certificate.json"));
    assert_eq!(cert.status, 200);
    let cert_file = dir.path().join("certificate.json");
    std::fs::write(&cert_file, &cert.body).unwrap();
    b.goto(&format!("{base}/registry/verify"));
    b.find("#certificate-file")
        .send_keys(cert_file.to_str().unwrap());
    b.find("#verify").click();
    assert_eq!(b.find("#verify-status").text(), "valid");
    assert!(b.find("#verify-message").text().contains("Acme A1"));
    // A tampered certificate pasted into the form is refused.
    let tampered = cert
        .text()
        .replacen("\"payload\": \"ey", "\"payload\": \"ez", 1);
    b.goto(&format!("{base}/registry/verify"));
    b.execute(
        "document.querySelector('#certificate').value = arguments[0];",
        &[tampered.into()],
    );
    b.find("#verify").click();
    assert_eq!(b.find("#verify-status").text(), "invalid");

    // Offline, with the lab's public key as published.
    let key = client.get("/lab.pub");
    let key_file = dir.path().join("lab.pub");
    std::fs::write(&key_file, &key.body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_phonecert"))
        .arg("verify")
        .arg(&cert_file)
        .arg("--key")
        .arg(&key_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Acme A1"));
}
