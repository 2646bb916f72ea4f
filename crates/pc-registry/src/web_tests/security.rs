//! Browser-session defences: CSRF tokens, the origin check, cookie attributes, login rate
//! limiting, logout and refused tokens.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::*;
use crate::*;

/// The login page's form, posted without a session.
async fn page_login(lab: &Lab, email: &str, password: &str) -> Resp {
    form(
        &lab.app,
        "/login",
        &As::Nobody,
        &[("email", email), ("password", password)],
    )
    .await
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
        let r = lab
            .post(
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
        let r = lab
            .post(
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
            let r = page_login(&lab, "engineer@lab.example", "wrong password!").await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
            assert!(r.text().contains("wrong e-mail or password"));
        }
        // Two more, now, so the wait (4 s) outlasts a slow test's clock tick.
        add_failures(&lab.db.store, "engineer@lab.example", 2).await;
        let r = page_login(&lab, "engineer@lab.example", PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
        // Long account names are counted the same way they are checked.
        let long = format!("{}@lab.example", "l".repeat(220));
        lab.db
            .store
            .create_user(&long, PASSWORD, Role::Engineer)
            .await
            .unwrap();
        for _ in 0..crate::login_limit::FREE_FAILURES_PER_ACCOUNT {
            let r = page_login(&lab, &long, "wrong password!").await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
        }
        add_failures(&lab.db.store, &long, 2).await;
        let r = page_login(&lab, &long, PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
        // Another account is not affected.
        let r = page_login(&lab, "reviewer@lab.example", PASSWORD).await;
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
