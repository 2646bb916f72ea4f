//! Uploads: bad files refused with clear messages, a submission's quota, archive links
//! recorded but never extracted.

use std::path::Path;

use axum::http::StatusCode;

use super::*;
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_with_clear_messages() {
    for db in test_dbs().await {
        let lab = Lab::new(db).await;
        let sub = lab.empty_submission("1").await;
        let put = async |name: &str, body: Vec<u8>| lab.put_file(&lab.app, &sub, name, body).await;
        // A ZIP named like a capture.
        let zip = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/data/apk/fdroid")
                .read_dir()
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|e| e == "apk"))
                .unwrap(),
        )
        .unwrap();
        let r = put("boot.pcap", zip).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("boot.pcap"), "{}", r.text());
        // Names that are paths.
        for bad in ["../case.toml", ".hidden.pcap", "a\\b.pcap"] {
            let r = put(bad, b"x".to_vec()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
            assert!(
                r.text().contains("invalid artifact name"),
                "{bad}: {}",
                r.text()
            );
        }
        // An archive whose entry escapes its folder.
        let mut evil = tar_of(&example_case());
        let name = b"../../etc/cron.d/x";
        evil[..100].fill(0);
        evil[..name.len()].copy_from_slice(name);
        evil[148..156].copy_from_slice(b"        ");
        let sum: u32 = evil[..512].iter().map(|&b| u32::from(b)).sum();
        evil[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let r = put("case.tar", evil).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("etc/cron.d"), "{}", r.text());
        // A gzip bomb: 64 MiB of zeros.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            std::io::Write::write_all(&mut gz, &zeros).unwrap();
        }
        let r = put("boot.pcap.gz", gz.finish().unwrap()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        // Garbage as case.toml.
        let r = put("case.toml", vec![0xff, 0xfe, 0, 1, 2]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        // Over the size limit: cut off while streaming, 413 saying the limit.
        let small = lab.limited(ArtifactLimits {
            max_size: 10_000,
            ..ArtifactLimits::default()
        });
        let big = std::fs::read(example_case().join("captures/declined-idle.pcap")).unwrap();
        let r = lab.put_file(&small, &sub, "idle.pcap", big).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
        assert!(r.text().contains("10000 bytes"), "{}", r.text());
        // Nothing of the refused uploads was kept.
        let v = lab.get_as_acme(&format!("/api/v1/submissions/{sub}")).await;
        assert_eq!(v["files"], serde_json::json!([]));
        lab.assert_no_upload_left_behind();
        // A case that names files outside its own, as a capture or as a system log (which would
        // be read and quoted in the report): the run fails and says why.
        for (i, named) in [
            "captures = [\"/etc/passwd\"]",
            "logs = [\"../../../../etc/passwd\"]",
        ]
        .into_iter()
        .enumerate()
        {
            let sub = lab.empty_submission(&format!("A1-outside-{i}")).await;
            let case = format!(
                "[device]\nmanufacturer = \"Acme\"\nmodel = \"A1\"\n[[phase]]\nname = \"p\"\nconsent = \"none\"\n{named}\n"
            );
            let r = lab
                .put_file(&lab.app, &sub, "case.toml", case.into_bytes())
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            let r = lab
                .post(
                    &format!("/api/v1/submissions/{sub}/runs"),
                    &lab.token("acme"),
                    serde_json::Value::Null,
                )
                .await;
            let run = r.json()["id"].as_str().unwrap().to_owned();
            let v = lab.wait_run(&run).await;
            assert_eq!(v["run"]["state"], "failed", "{named}: {v}");
            let err = v["run"]["error"].as_str().unwrap();
            assert!(
                err.contains("outside the submission") && err.contains("passwd"),
                "{named}: {err}"
            );
        }
        lab.stop().await;
    }
}

/// A submission holds at most its quota of uploads; a file replaced under its name frees its
/// share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_holds_at_most_its_quota() {
    for db in test_dbs().await {
        let name = db.name;
        let lab = Lab::new(db).await;
        let sub = lab.empty_submission("1").await;
        let pcap = std::fs::read(example_case().join("captures/declined-idle.pcap")).unwrap();
        let app = lab.limited(ArtifactLimits {
            max_submission_total: pcap.len() as u64 + 100,
            ..ArtifactLimits::default()
        });
        let put = async |file: &str, body: Vec<u8>| lab.put_file(&app, &sub, file, body).await;
        let r = put("idle.pcap", pcap.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
        // A second copy under another name does not fit (though its content is deduplicated:
        // the quota counts what the submission holds).
        let r = put("again.pcap", pcap.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{name}: {}",
            r.text()
        );
        assert!(
            r.text()
                .contains(&format!("already holds {} bytes", pcap.len())),
            "{name}: {}",
            r.text()
        );
        // Cut off while streaming: 200 bytes fit, this is larger, and nothing is kept.
        let mut keys = b"# key log\n".to_vec();
        keys.resize(5_000, b'#');
        let r = put("tls.keys", keys).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{name}: {}",
            r.text()
        );
        // The same name replaced: its old size no longer counts.
        let r = put("idle.pcap", pcap.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
        let v = lab.get_as_acme(&format!("/api/v1/submissions/{sub}")).await;
        let files: Vec<&str> = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["idle.pcap"], "{name}");
        lab.assert_no_upload_left_behind();
        lab.stop().await;
    }
}

/// Links in an uploaded firmware tree are accepted, not extracted, and every answer says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_links_are_recorded_not_extracted() {
    for db in test_dbs().await {
        let name = db.name;
        let lab = Lab::new(db).await;
        let sub = lab.empty_submission("A1-14.0.3").await;
        let tar = with_symlinks(
            tar_of(&example_case()),
            &[
                ("firmware/system/bin/ls", "toybox"),
                ("firmware/system/vendor", "/vendor"),
            ],
        );
        let r = lab.put_file(&lab.app, &sub, "case.tar", tar.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
        assert_eq!(r.json()["links_skipped"], 2, "{name}: {}", r.text());
        // The page's upload says it too.
        let s = lab.session("engineer").await;
        let As::Session { csrf, .. } = &s else {
            unreachable!()
        };
        let (content_type, body) = multipart_file(csrf, "file", "case.tar", &tar);
        let r = send(
            &lab.app,
            "POST",
            &format!("/submissions/{sub}/files"),
            &s,
            Some(&content_type),
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{name}: {}", r.text());
        let to = r.location.unwrap();
        assert_eq!(to, format!("/submissions/{sub}?links=2"));
        let page = send(&lab.app, "GET", &to, &s, None, vec![]).await;
        assert!(
            page.text()
                .contains("The upload held 2 links: recorded, not extracted"),
            "{name}: {}",
            page.text()
        );
        // The run's summary, and the audit log.
        let run = lab.run(&sub).await;
        let summary = run["outcome"][1].as_str().unwrap();
        assert!(
            summary.ends_with("; 2 links in case.tar recorded, not extracted"),
            "{name}: {summary}"
        );
        let uploads = lab.audit_field("submission.upload", "detail").await;
        assert_eq!(uploads.len(), 2, "{name}: {uploads:?}");
        for d in uploads {
            assert!(
                d.ends_with(", 2 links recorded, not extracted"),
                "{name}: {d}"
            );
        }
        lab.stop().await;
    }
}
