//! Every route, as every role and as an anonymous visitor: who is allowed is written here as
//! the specification, independently of the code, and the route list is read from the router's
//! source so that a new route without an entry here fails the test.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::json;

use crate::tests::test_dbs;
use crate::web_tests::{As, Lab, PASSWORD, api_csrf, example_case, form, multipart_file, send};

const ROLES: [&str; 7] = [
    "anonymous",
    "public",
    "other",
    "acme",
    "engineer",
    "reviewer",
    "admin",
];
const ALL: &[&str] = &ROLES;
const ACCOUNTS: &[&str] = &["public", "other", "acme", "engineer", "reviewer", "admin"];
const SEES_SUBMISSIONS: &[&str] = &["other", "acme", "engineer", "reviewer", "admin"];
/// Scoped routes: `other` (a manufacturer) is refused another manufacturer's submission.
const STAFF_AND_OWNER: &[&str] = &["acme", "engineer", "reviewer", "admin"];
const SUBMITTERS: &[&str] = &["acme", "engineer", "admin"];
const DECIDERS: &[&str] = &["reviewer", "admin"];
const ADMIN: &[&str] = &["admin"];
const MANUFACTURER_ADMINS: &[&str] = &["engineer", "admin"];

#[derive(Clone)]
enum B {
    None,
    Json(serde_json::Value),
    Form(Vec<(&'static str, String)>),
    Upload,
    Multipart(&'static str),
}

struct Case {
    method: &'static str,
    path: &'static str,
    allowed: &'static [&'static str],
    /// A foreign manufacturer gets 404 here (existence not leaked), which counts as refused.
    scoped: bool,
    body: fn(&str) -> B,
}

fn none(_: &str) -> B {
    B::None
}

fn spec() -> Vec<Case> {
    let c = |method, path, allowed, scoped, body| Case {
        method,
        path,
        allowed,
        scoped,
        body,
    };
    vec![
        // The JSON API.
        c("GET", "/healthz", ALL, false, none),
        c("GET", "/api/v1/openapi.json", ALL, false, none),
        c("POST", "/api/v1/session", ALL, false, |r| {
            let who = if r == "anonymous" { "public" } else { r };
            B::Json(json!({"email": format!("{who}@lab.example"), "password": PASSWORD}))
        }),
        // With a token there is no session to end: a no-op, allowed for everyone.
        c("DELETE", "/api/v1/session", ALL, false, none),
        c("GET", "/api/v1/me", ACCOUNTS, false, none),
        c("GET", "/api/v1/tokens", ACCOUNTS, false, none),
        c("POST", "/api/v1/tokens", ACCOUNTS, false, |_| {
            B::Json(json!({"label": "matrix"}))
        }),
        c("DELETE", "/api/v1/tokens/{id}", ACCOUNTS, false, none),
        c("GET", "/api/v1/users", ADMIN, false, none),
        c("POST", "/api/v1/users", ADMIN, false, |r| {
            B::Json(
                json!({"email": format!("new-{r}@lab.example"), "password": PASSWORD, "role": "engineer"}),
            )
        }),
        c(
            "GET",
            "/api/v1/manufacturers",
            SEES_SUBMISSIONS,
            false,
            none,
        ),
        c(
            "POST",
            "/api/v1/manufacturers",
            MANUFACTURER_ADMINS,
            false,
            |r| B::Json(json!({"name": format!("Maker {r}")})),
        ),
        c("GET", "/api/v1/submissions", SEES_SUBMISSIONS, false, none),
        c("POST", "/api/v1/submissions", SUBMITTERS, false, |r| {
            B::Json(json!({"manufacturer": "Acme", "model": "A2", "firmware": format!("fw-{r}")}))
        }),
        c(
            "GET",
            "/api/v1/submissions/{id}",
            STAFF_AND_OWNER,
            true,
            none,
        ),
        c(
            "PUT",
            "/api/v1/submissions/{draft}/files/{name}",
            SUBMITTERS,
            true,
            |_| B::Upload,
        ),
        c(
            "POST",
            "/api/v1/submissions/{draft}/runs",
            SUBMITTERS,
            true,
            none,
        ),
        c(
            "POST",
            "/api/v1/submissions/{id}/overrides",
            DECIDERS,
            true,
            |_| {
                B::Json(
                    json!({"requirement": "PCB-CONSENT-01", "verdict": "PASS", "reason": "matrix"}),
                )
            },
        ),
        c(
            "POST",
            "/api/v1/submissions/{id}/decision",
            DECIDERS,
            true,
            |_| B::Json(json!({"decision": "approve"})),
        ),
        c(
            "POST",
            "/api/v1/submissions/{id}/certificate",
            DECIDERS,
            true,
            none,
        ),
        c("GET", "/api/v1/runs/{run}", STAFF_AND_OWNER, true, none),
        c(
            "GET",
            "/api/v1/runs/{run}/files/{name}",
            STAFF_AND_OWNER,
            true,
            none,
        ),
        c(
            "POST",
            "/api/v1/certificates/{number}/revoke",
            DECIDERS,
            false,
            |_| B::Json(json!({"reason": "matrix"})),
        ),
        c("GET", "/api/v1/audit-log", ADMIN, false, none),
        c("GET", "/api/v1/public/certificates", ALL, false, none),
        c(
            "GET",
            "/api/v1/public/certificates/{number}",
            ALL,
            false,
            none,
        ),
        c("POST", "/api/v1/public/verify", ALL, false, |_| {
            B::Json(json!({"certificate": "{}"}))
        }),
        c("GET", "/api/v1/public/lab-key", ALL, false, none),
        // The pages.
        c("GET", "/", ALL, false, none),
        c("GET", "/login", ALL, false, none),
        c("POST", "/login", ALL, false, |r| {
            let who = if r == "anonymous" { "public" } else { r };
            B::Form(vec![
                ("email", format!("{who}@lab.example")),
                ("password", PASSWORD.into()),
            ])
        }),
        c("GET", "/dashboard", SEES_SUBMISSIONS, false, none),
        c("POST", "/submissions", SUBMITTERS, false, |r| {
            B::Form(vec![
                ("manufacturer", "Acme".into()),
                ("model", "A3".into()),
                ("firmware", format!("page-{r}")),
            ])
        }),
        c("GET", "/submissions/{id}", STAFF_AND_OWNER, true, none),
        c(
            "POST",
            "/submissions/{draft}/files",
            SUBMITTERS,
            true,
            |_| B::Multipart("file"),
        ),
        c(
            "POST",
            "/submissions/{draft}/runs",
            SUBMITTERS,
            true,
            |_| B::Form(vec![]),
        ),
        c(
            "POST",
            "/submissions/{id}/overrides",
            DECIDERS,
            true,
            |_| {
                B::Form(vec![
                    ("requirement", "PCB-CONSENT-01".into()),
                    ("verdict", "PASS".into()),
                    ("reason", "matrix".into()),
                ])
            },
        ),
        c("POST", "/submissions/{id}/decision", DECIDERS, true, |_| {
            B::Form(vec![("decision", "approve".into())])
        }),
        c(
            "POST",
            "/submissions/{id}/certificate",
            DECIDERS,
            true,
            |_| B::Form(vec![]),
        ),
        c(
            "GET",
            "/runs/{run}/files/{name}",
            STAFF_AND_OWNER,
            true,
            none,
        ),
        c("GET", "/certificates/{number}", ALL, false, none),
        c(
            "GET",
            "/certificates/{number}/certificate.json",
            ALL,
            false,
            none,
        ),
        c(
            "POST",
            "/certificates/{number}/revoke",
            DECIDERS,
            false,
            |_| B::Form(vec![("reason", "matrix".into())]),
        ),
        c("GET", "/registry", ALL, false, none),
        c("GET", "/registry/verify", ALL, false, none),
        c("POST", "/registry/verify", ALL, false, |_| {
            B::Multipart("certificate")
        }),
        c("GET", "/lab.pub", ALL, false, none),
        c("GET", "/account", ACCOUNTS, false, none),
        c("POST", "/account/tokens", ACCOUNTS, false, |_| {
            B::Form(vec![("label", "matrix".into())])
        }),
        c(
            "POST",
            "/account/tokens/{id}/revoke",
            ACCOUNTS,
            false,
            |_| B::Form(vec![]),
        ),
        c("GET", "/admin", ADMIN, false, none),
        c("POST", "/admin/users", ADMIN, false, |r| {
            B::Form(vec![
                ("email", format!("page-{r}@lab.example")),
                ("password", PASSWORD.into()),
                ("role", "reviewer".into()),
            ])
        }),
        c(
            "POST",
            "/admin/manufacturers",
            MANUFACTURER_ADMINS,
            false,
            |r| B::Form(vec![("name", format!("Page maker {r}"))]),
        ),
        c("GET", "/admin/audit", ADMIN, false, none),
        // Last: it ends the session the other page requests use.
        c("POST", "/logout", ALL, false, |_| B::Form(vec![])),
    ]
}

/// (method, path) of every route registered in a router source file.
fn routes_in(src: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let parts: Vec<&str> = src.split(".route(").skip(1).collect();
    for part in parts {
        let Some(start) = part.find('"') else {
            continue;
        };
        let rest = &part[start + 1..];
        let Some(end) = rest.find('"') else { continue };
        let path = &rest[..end];
        let handlers = &rest[end..];
        for m in ["get", "post", "put", "delete"] {
            let needle = format!("{m}(");
            let found = handlers.match_indices(&needle).any(|(i, _)| {
                i == 0
                    || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && handlers.as_bytes()[i - 1] != b'_'
            });
            if found {
                out.insert((m.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

/// The router path of a spec entry (`{draft}`/`{run}` are fixtures, all ids to the router).
fn route_of(path: &str) -> String {
    path.replace("{draft}", "{id}").replace("{run}", "{id}")
}

#[test]
fn every_route_is_in_the_matrix_and_the_api_in_openapi() {
    let mut routes = routes_in(include_str!("web/api.rs"));
    let api_routes = routes.clone();
    routes.extend(routes_in(include_str!("web/pages/mod.rs")));
    assert!(routes.len() > 40, "route parsing found {routes:?}");
    let cases = spec();
    let spec: BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.method.to_owned(), route_of(c.path)))
        .collect();
    let missing: Vec<_> = routes.difference(&spec).collect();
    let stale: Vec<_> = spec.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes without an authorization spec: {missing:?}"
    );
    assert!(stale.is_empty(), "spec entries without a route: {stale:?}");
    // Every API operation is described in the OpenAPI document, and nothing else is.
    let doc: serde_json::Value = serde_json::from_str(crate::web::openapi::document()).unwrap();
    let mut documented = BTreeSet::new();
    let mut wrong_roles = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (m, op) in ops.as_object().unwrap() {
            documented.insert((m.to_uppercase(), path.clone()));
            // Who the document says may call it is who the specification allows.
            let Some(case) = cases
                .iter()
                .find(|c| c.method.eq_ignore_ascii_case(m) && route_of(c.path) == *path)
            else {
                continue;
            };
            let said: BTreeSet<&str> = op["x-roles"]
                .as_array()
                .unwrap_or_else(|| panic!("{m} {path} has no x-roles"))
                .iter()
                .flat_map(|r| roles_named(r.as_str().unwrap()))
                .filter(|r| *r != "other")
                .collect();
            let allowed: BTreeSet<&str> = case
                .allowed
                .iter()
                .copied()
                .filter(|r| *r != "other")
                .collect();
            if said != allowed {
                wrong_roles.push(format!("{m} {path}: says {said:?}, allowed {allowed:?}"));
            }
        }
    }
    assert_eq!(
        documented, api_routes,
        "the OpenAPI document and the API routes differ"
    );
    assert!(
        wrong_roles.is_empty(),
        "x-roles wrong:\n{}",
        wrong_roles.join("\n")
    );
}

/// The test accounts an `x-roles` entry names ("manufacturer (own)" is Acme's account: the
/// fixtures are Acme's, so whether the other manufacturer may is not a question of role).
fn roles_named(x_role: &str) -> Vec<&'static str> {
    match x_role {
        "anyone" => ALL.to_vec(),
        "any account" => ACCOUNTS.to_vec(),
        "manufacturer (own)" => vec!["acme"],
        r => vec![
            *ROLES
                .iter()
                .find(|n| **n == r)
                .unwrap_or_else(|| panic!("role {r}")),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_as_every_role() {
    for db in test_dbs().await {
        let name = db.name;
        let lab = Lab::new(db).await;
        // Fixtures: a certified (closed) submission with its run and certificate, and a
        // draft with the case uploaded.
        let closed = lab.submission("1.0").await;
        let run = lab.run(&closed).await;
        let cert = lab.certify(&closed, &run).await;
        let run_id = run["run"]["id"].as_str().unwrap().to_owned();
        let number = cert["number"].as_str().unwrap().to_owned();
        let draft = lab.submission("2.0").await;
        let capture = std::fs::read(example_case().join("captures/first-boot.pcapng")).unwrap();

        let mut who = std::collections::BTreeMap::new();
        for r in ROLES {
            let api_auth = if r == "anonymous" {
                As::Nobody
            } else {
                lab.token(r)
            };
            let page_auth = if r == "anonymous" {
                As::Nobody
            } else {
                lab.session(r).await
            };
            who.insert(r, (api_auth, page_auth));
        }
        let mut failures = Vec::new();
        for case in spec() {
            let path = case
                .path
                .replace("{draft}", &draft)
                .replace(
                    "{id}",
                    if case.path.contains("tokens") {
                        "0000"
                    } else {
                        &closed
                    },
                )
                .replace("{run}", &run_id)
                .replace("{number}", &number)
                .replace(
                    "{name}",
                    if case.path.contains("runs") {
                        "report.json"
                    } else {
                        "extra.pcapng"
                    },
                );
            for role in ROLES {
                let is_api = case.path.starts_with("/api/") || case.path == "/healthz";
                let (api_auth, page_auth) = &who[role];
                // Tokens are managed from a session only (tokens' scopes have their own tests).
                let auth = if is_api && !case.path.starts_with("/api/v1/tokens") {
                    api_auth
                } else {
                    page_auth
                };
                let csrf = match auth {
                    As::Session { csrf, .. } => csrf.clone(),
                    _ => String::new(),
                };
                let r = match (case.body)(role) {
                    B::None => {
                        api_csrf(&lab.app, case.method, &path, auth, serde_json::Value::Null).await
                    }
                    B::Json(v) => api_csrf(&lab.app, case.method, &path, auth, v).await,
                    B::Form(f) => {
                        let f: Vec<(&str, &str)> =
                            f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                        form(&lab.app, &path, auth, &f).await
                    }
                    B::Upload => {
                        send(&lab.app, case.method, &path, auth, None, capture.clone()).await
                    }
                    B::Multipart(field) => {
                        let (ct, body) = multipart_file(&csrf, field, "extra.pcapng", &capture);
                        send(&lab.app, case.method, &path, auth, Some(&ct), body).await
                    }
                };
                let to_login =
                    r.status == StatusCode::SEE_OTHER && r.location.as_deref() == Some("/login");
                let refused = r.status == StatusCode::UNAUTHORIZED
                    || r.status == StatusCode::FORBIDDEN
                    || to_login
                    || (case.scoped && r.status == StatusCode::NOT_FOUND);
                let allowed = case.allowed.contains(&role);
                if allowed == refused || r.status.is_server_error() {
                    failures.push(format!(
                        "{} {} as {role}: got {} {:?} ({}), expected {}",
                        case.method,
                        case.path,
                        r.status,
                        r.location,
                        r.text().chars().take(160).collect::<String>(),
                        if allowed { "allowed" } else { "refused" }
                    ));
                }
                // Anonymous API calls are 401 (so clients know to authenticate), never 403.
                if !allowed && role == "anonymous" && is_api && r.status != StatusCode::UNAUTHORIZED
                {
                    failures.push(format!(
                        "{} {} anonymous: {} instead of 401",
                        case.method, case.path, r.status
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
        lab.stop().await;
    }
}
