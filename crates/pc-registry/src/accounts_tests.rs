//! One create-account rule for the web and `phonecert user add` ([`Store::add_account`]): a
//! manufacturer account names an existing company; an unknown one is refused by both with the
//! same message, and nothing is created on the side.

use axum::http::StatusCode;
use serde_json::json;

use crate::tests::test_dbs;
use crate::web_tests::{Lab, PASSWORD, api};
use crate::{RegistryError, Role};

#[tokio::test]
async fn web_and_cli_refuse_the_same_unknown_manufacturer() {
    for db in test_dbs().await {
        let lab = Lab::new(db).await;
        let s = lab.db.store.clone();
        let web = api(
            &lab.app,
            "POST",
            "/api/v1/users",
            &lab.token("admin"),
            json!({"email": "new@lab.example", "password": PASSWORD, "role": "manufacturer",
                   "manufacturer": "Nokla"}),
        )
        .await;
        assert_eq!(web.status, StatusCode::BAD_REQUEST, "{}", web.text());
        // What `phonecert user add --manufacturer Nokla` calls.
        let cli = s
            .add_account(
                "cli",
                "new@lab.example",
                PASSWORD,
                Role::Manufacturer,
                Some("Nokla"),
            )
            .await
            .expect_err("unknown manufacturer");
        assert!(
            matches!(&cli, RegistryError::UnknownManufacturer(n) if n == "Nokla"),
            "{cli}"
        );
        assert_eq!(web.json()["error"], cli.to_string());
        assert!(
            cli.to_string().contains("phonecert user manufacturer"),
            "{cli}"
        );
        assert!(s.manufacturer_by_name("Nokla").await.unwrap().is_none());
        assert!(
            s.verify_login("new@lab.example", PASSWORD)
                .await
                .unwrap()
                .is_none()
        );

        // A known one (named with stray spaces) is accepted, and the creation audited.
        let u = s
            .add_account(
                "cli",
                "m@lab.example",
                PASSWORD,
                Role::Manufacturer,
                Some(" Acme "),
            )
            .await
            .expect("known manufacturer");
        let acme = s.manufacturer_by_name("Acme").await.unwrap().unwrap();
        assert_eq!(u.manufacturer_id.as_deref(), Some(acme.id.as_str()));
        let log = s.audit_entries(0, 1000).await.unwrap();
        assert!(
            log.iter()
                .any(|e| e.actor == "cli" && e.action == "user.create" && e.object == u.id),
            "{log:?}"
        );
        // A blank company is none: refused for the manufacturer role, as before.
        let e = s
            .add_account(
                "cli",
                "b@lab.example",
                PASSWORD,
                Role::Manufacturer,
                Some(" "),
            )
            .await
            .expect_err("no company");
        assert!(matches!(e, RegistryError::Invalid { .. }), "{e}");
    }
}
