//! `phonecert firmware` on what a lab receives: images and packages by content, several
//! inputs at once, a case naming images; and a file that is no firmware is an error (exit 2).

mod support;
use support::cli::{root, run};

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn images_given_loose_or_by_the_case() {
    let img = root().join("tests/data/images/firmware");
    let (simg, vbmeta) = (img.join("super.simg"), img.join("vbmeta.img"));
    let out = run(&[
        "firmware",
        simg.to_str().unwrap(),
        vbmeta.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v = json(&out);
    let apps: Vec<&str> = v["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(apps.len(), 4, "{apps:?}");
    assert!(apps.contains(&"system/priv-app/AcmeMessaging/AcmeMessaging.apk"));
    assert_eq!(v["build"]["build_type"], "user");
    assert_eq!(v["build"]["avb"][0]["test_key"], "AOSP testkey_rsa4096");
    assert_eq!(v["inputs"][0]["format"], "sparse");
    // The same through a case's [firmware] path list.
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case.toml");
    std::fs::write(
        &case,
        format!(
            "[device]\nmanufacturer = \"Acme\"\nmodel = \"A1\"\n\n[firmware]\npath = [{:?}, {:?}]\n",
            simg.display().to_string(),
            vbmeta.display().to_string()
        ),
    )
    .unwrap();
    let by_case = json(&run(&[
        "firmware",
        "--case",
        case.to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(by_case["apps"], v["apps"]);
    // Not a firmware at all: the error names the file, exit 2.
    let txt = dir.path().join("readme.txt");
    std::fs::write(&txt, "flash with fastboot").unwrap();
    let out = run(&["firmware", txt.to_str().unwrap(), "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("readme.txt") && err.contains("not a firmware image"),
        "{err}"
    );
}
