//! The certification workflow end to end over the API: run, review, certify, publish, verify,
//! supersede and revoke, with every change in the audit log.

use axum::http::StatusCode;

use super::*;
use crate::*;

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
        let d = lab
            .post(
                &format!("/api/v1/submissions/{sub}/decision"),
                &reviewer,
                serde_json::json!({"decision": "approve"}),
            )
            .await;
        assert_eq!(d.status, StatusCode::CONFLICT, "{}", d.text());
        assert!(d.text().contains("PCB-CONSENT-01"));
        let c = lab
            .post(
                &format!("/api/v1/submissions/{sub}/certificate"),
                &reviewer,
                serde_json::Value::Null,
            )
            .await;
        assert_eq!(c.status, StatusCode::CONFLICT);
        // An override needs a reason.
        let o = lab.post(&format!("/api/v1/submissions/{sub}/overrides"), &reviewer, serde_json::json!({"requirement": "PCB-CONSENT-01", "verdict": "PASS", "reason": "  "})).await;
        assert_eq!(o.status, StatusCode::BAD_REQUEST);

        let cert = lab.certify(&sub, &run).await;
        let number = cert["number"].as_str().unwrap().to_owned();
        assert_eq!(cert["state"], "issued");
        // Issuing twice is refused.
        let again = lab
            .post(
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
        let v = lab.verify(jws).await;
        assert_eq!(
            (v["valid"].as_bool(), v["status"].as_str()),
            (Some(true), Some("valid")),
            "{v}"
        );
        // One changed byte of the signed content: invalid.
        let forged = jws.replacen("\"payload\": \"ey", "\"payload\": \"ez", 1);
        assert_ne!(forged, jws);
        let v = lab.verify(forged).await;
        assert_eq!(v["status"], "invalid");

        // A newer firmware certified: the first certificate is superseded, still genuine.
        let sub2 = lab.submission("A1-14.0.4").await;
        let run2 = lab.run(&sub2).await;
        let cert2 = lab.certify(&sub2, &run2).await;
        let v = lab.verify(jws).await;
        assert_eq!(v["status"], "superseded", "{v}");
        assert_eq!(v["record"]["superseded_by"], cert2["number"]);
        // Revoked with a reason.
        let n2 = cert2["number"].as_str().unwrap();
        let r = lab
            .post(
                &format!("/api/v1/certificates/{n2}/revoke"),
                &reviewer,
                serde_json::json!({"reason": "firmware found to leak the IMEI"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = lab.verify(cert2["jws"].clone()).await;
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

/// A run audits against the catalogue it was started with: an embedded scheme by name, the
/// baseline by default; an unknown name is refused before anything is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_audits_against_the_chosen_catalogue() {
    for db in test_dbs().await {
        let name = db.name;
        let lab = Lab::new(db).await;
        let sub = lab.submission("A1-14.0.3").await;
        let path = format!("/api/v1/submissions/{sub}/runs");
        let r = lab
            .post(
                &format!("{path}?catalogue=no-such-scheme"),
                &lab.token("engineer"),
                serde_json::Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.text());
        assert!(r.text().contains("cn-preload"), "{}", r.text());
        let r = lab
            .post(
                &format!("{path}?catalogue=cn-preload"),
                &lab.token("engineer"),
                serde_json::Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{name}: {}", r.text());
        assert_eq!(r.json()["catalogue"], "cn-preload");
        let run = r.json()["id"].as_str().unwrap().to_owned();
        let v = lab.wait_run(&run).await;
        assert_eq!(v["run"]["state"], "done", "{name}: {v}");
        let ids: Vec<&str> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["requirement"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"CN-PRE-REMOVABLE"), "{name}: {ids:?}");
        assert!(
            !ids.iter().any(|i| i.starts_with("PCB-")),
            "{name}: {ids:?}"
        );
        let rep = api(
            &lab.app,
            "GET",
            &format!("/api/v1/runs/{run}/files/report.json"),
            &lab.token("acme"),
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(rep.json()["catalogue"]["id"], "cn-preload");
        lab.stop().await;
    }
}
