//! The pages as HTML: what users typed comes back escaped, the forms a page shows are exactly the
//! operations the action layer allows, and the generated OpenAPI document describes the types the
//! API answers with.

use std::collections::BTreeSet;

use axum::http::StatusCode;

use super::*;
use crate::web::allowed::Op;
use crate::web::{Auth, Caller};
use crate::*;

/// A page as `who` sees it: its status and HTML.
async fn page(lab: &Lab, path: &str, who: &As) -> Resp {
    send(&lab.app, "GET", path, who, None, vec![]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_escape_what_users_typed() {
    for db in test_dbs().await {
        let name = db.name;
        let mut lab = Lab::new(db).await;
        if let Some(w) = lab.workers.take() {
            w.shutdown().await.unwrap();
        }
        let hostile = "<img src=x onerror=alert(1)>\"'&";
        let maker = lab
            .post(
                "/api/v1/manufacturers",
                &lab.token("admin"),
                serde_json::json!({ "name": format!("M {hostile}") }),
            )
            .await;
        assert_eq!(maker.status, StatusCode::CREATED, "{}", maker.text());
        let body =
            serde_json::json!({"model": hostile, "firmware": hostile, "fingerprint": hostile});
        let r = lab
            .post("/api/v1/submissions", &lab.token("acme"), body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
        let sub = r.json()["id"].as_str().unwrap().to_owned();
        let admin = lab.session("admin").await;
        for path in ["/dashboard", &format!("/submissions/{sub}"), "/admin"] {
            let html = page(&lab, path, &admin).await.text();
            assert!(!html.contains("<img"), "{name} {path}: {html}");
            assert!(
                html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;'&amp;"),
                "{name} {path}: {html}"
            );
            // The content security policy forbids inline scripts: the pages have none.
            assert!(!html.contains("<script"), "{name} {path}");
        }
        // A search text is echoed into an attribute, escaped.
        let html = page(&lab, "/registry?q=%22%3E%3Cb%3E", &As::Nobody)
            .await
            .text();
        assert!(
            html.contains("value=\"&quot;&gt;&lt;b&gt;\""),
            "{name}: {html}"
        );
        lab.stop().await;
    }
}

/// The operations whose forms a page shows, by the ids and classes the browser tests click.
fn shown(html: &str) -> BTreeSet<Op> {
    [
        ("id=\"create-submission\"", Op::CreateSubmission),
        ("id=\"upload\"", Op::Upload),
        ("id=\"start-run\"", Op::StartRun),
        ("class=\"override\"", Op::Override),
        ("id=\"decide\"", Op::Decide),
        ("id=\"issue\"", Op::Issue),
        ("id=\"revoke\"", Op::Revoke),
    ]
    .into_iter()
    .filter(|(needle, _)| html.contains(needle))
    .map(|(_, op)| op)
    .collect()
}

/// The caller a session cookie stands for, as the middleware makes it.
async fn caller_of(lab: &Lab, who: &As) -> Caller {
    let As::Session { cookie, csrf } = who else {
        unreachable!()
    };
    let s = lab.db.store.session(cookie).await.unwrap().unwrap();
    Caller {
        user: Some(s.user),
        auth: Auth::Session {
            cookie: cookie.clone(),
            csrf: csrf.clone(),
        },
        client: "local".into(),
    }
}

/// Posts `op` on submission `sub` with input that fails validation only after authorisation
/// (a bad file name, an empty reason, an unknown decision): 400 when the action allows the
/// operation, its refusal (403, 404, 409) when not. `None` for operations not on submissions.
async fn probe(lab: &Lab, who: &As, sub: &str, op: Op) -> Option<StatusCode> {
    let As::Session { csrf, .. } = who else {
        unreachable!()
    };
    let path = |p: &str| format!("/submissions/{sub}/{p}");
    let r = match op {
        Op::Upload => {
            let (ct, body) = multipart_file(csrf, "file", ".hidden.pcap", b"x");
            send(&lab.app, "POST", &path("files"), who, Some(&ct), body).await
        }
        Op::Override => {
            let f = [
                ("requirement", "PCB-CONSENT-01"),
                ("verdict", "PASS"),
                ("reason", " "),
            ];
            form(&lab.app, &path("overrides"), who, &f).await
        }
        Op::Decide => form(&lab.app, &path("decision"), who, &[("decision", "bogus")]).await,
        // Issuing and starting a run have no input to get wrong: the caller probes them only
        // where the page offers nothing (a success there is a failure of the test).
        Op::Issue => form(&lab.app, &path("certificate"), who, &[]).await,
        Op::StartRun => form(&lab.app, &path("runs"), who, &[]).await,
        Op::CreateSubmission | Op::Revoke => return None,
    };
    Some(r.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forms_a_page_shows_are_the_operations_the_actions_allow() {
    for db in test_dbs().await {
        let name = db.name;
        let lab = Lab::new(db).await;
        // A submission in each state: empty, with its case, reviewed (a finished run), closed.
        let empty = lab.empty_submission("0.9").await;
        let draft = lab.submission("1.0").await;
        let reviewed = lab.submission("1.1").await;
        lab.run(&reviewed).await;
        let closed = lab.submission("1.2").await;
        let run = lab.run(&closed).await;
        let cert = lab.certify(&closed, &run).await;
        let number = cert["number"].as_str().unwrap().to_owned();
        let mut failures = Vec::new();
        for role in ["public", "other", "acme", "engineer", "reviewer", "admin"] {
            let who = lab.session(role).await;
            let caller = caller_of(&lab, &who).await;
            for sub in [&empty, &draft, &reviewed, &closed] {
                let r = page(&lab, &format!("/submissions/{sub}"), &who).await;
                let Ok(view) = web::actions::get_submission(&lab.state, &caller, sub).await else {
                    // Not visible: the page refuses too, and shows nothing.
                    if r.status != StatusCode::NOT_FOUND && r.status != StatusCode::FORBIDDEN {
                        failures.push(format!("{role} {sub}: page {} for a hidden one", r.status));
                    }
                    continue;
                };
                let on_page = shown(&r.text());
                let allowed: BTreeSet<Op> = view.allowed.iter().collect();
                if on_page != allowed {
                    failures.push(format!(
                        "{role} {sub}: shows {on_page:?}, allows {allowed:?}"
                    ));
                }
                for op in [
                    Op::Upload,
                    Op::StartRun,
                    Op::Override,
                    Op::Decide,
                    Op::Issue,
                ] {
                    let offered = on_page.contains(&op);
                    // Without input to get wrong, only a refusal can be probed.
                    let refusal_only = matches!(op, Op::Issue | Op::StartRun);
                    if refusal_only && offered {
                        continue;
                    }
                    let Some(status) = probe(&lab, &who, sub, op).await else {
                        continue;
                    };
                    let passed = status == StatusCode::BAD_REQUEST;
                    let refused = matches!(
                        status,
                        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::CONFLICT
                    );
                    if (offered && !passed) || (!offered && !refused) {
                        failures.push(format!(
                            "{role} {sub} {op:?}: shown {offered}, the post answered {status}"
                        ));
                    }
                }
            }
            // The dashboard's form, and the certificate's revoke form.
            let dash = shown(&page(&lab, "/dashboard", &who).await.text());
            let create = form(
                &lab.app,
                "/submissions",
                &who,
                &[("model", ""), ("firmware", "")],
            )
            .await;
            if dash.contains(&Op::CreateSubmission) != (create.status == StatusCode::BAD_REQUEST) {
                failures.push(format!(
                    "{role} dashboard: {dash:?}, create answered {}",
                    create.status
                ));
            }
            let cert_page = shown(
                &page(&lab, &format!("/certificates/{number}"), &who)
                    .await
                    .text(),
            );
            let revoke = form(
                &lab.app,
                &format!("/certificates/{number}/revoke"),
                &who,
                &[("reason", " ")],
            )
            .await;
            if cert_page.contains(&Op::Revoke) != (revoke.status == StatusCode::BAD_REQUEST) {
                failures.push(format!(
                    "{role} certificate: {cert_page:?}, revoke answered {}",
                    revoke.status
                ));
            }
        }
        assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
        lab.stop().await;
    }
}

/// The API's upload answer has the fields its generated schema names.
#[tokio::test]
async fn the_stored_artifact_schema_names_its_fields() {
    let doc: serde_json::Value = serde_json::from_str(web::openapi::document()).unwrap();
    let schema = &doc["components"]["schemas"]["StoredArtifact"];
    let named: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let art = StoredArtifact {
        sha256: String::new(),
        size: 0,
        path: String::new(),
        media_type: String::new(),
        existed: false,
        links_skipped: 0,
    };
    let json = serde_json::to_value(&art).unwrap();
    let answered: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(named, answered);
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, answered);
    // Every upload answer refers to it.
    let put = &doc["paths"]["/api/v1/submissions/{id}/files/{name}"]["put"];
    assert_eq!(
        put["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/StoredArtifact"
    );
}
