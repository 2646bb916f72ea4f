//! `--id KIND=VALUE` and case-file identifiers are checked by kind; `--force` and
//! `force = true` search a value that fails the check anyway.

mod support;
use std::process::Output;
use support::cli::{root, run};

const CAPTURE: &str = "examples/acme-a1/captures/first-boot.pcapng";

fn traffic_with(ids: &[&str], force: bool) -> Output {
    let mut args = vec!["traffic", CAPTURE, "--format", "json"];
    for id in ids {
        args.push("--id");
        args.push(id);
    }
    if force {
        args.push("--force");
    }
    run(&args)
}

#[test]
fn bad_identifiers_are_rejected_with_the_reason() {
    for (arg, message) in [
        (
            "imei=490154203237512",
            "--id imei=490154203237512: IMEI 490154203237512 fails the Luhn check",
        ),
        ("imei=4901542032375", "IMEI 4901542032375 is not 15 digits"),
        ("imsi=20815012345", "IMSI 20815012345 is not 15 digits"),
        (
            "iccid=8933150319009875431",
            "ICCID 8933150319009875431 fails the Luhn check",
        ),
        ("msisdn=+33-6-12", "MSISDN +33-6-12 is not an E.164 number"),
        (
            "wifi_mac=02:00:5e:10:00",
            "MAC 02:00:5e:10:00 is not 6 hex octets",
        ),
        (
            "bt_mac=02:00:5e:10:00:0g",
            "MAC 02:00:5e:10:00:0g is not 6 hex octets",
        ),
        (
            "advertising_id=1209d0b9-b959-42e6-b921",
            "advertising ID 1209d0b9-b959-42e6-b921 is not a UUID",
        ),
    ] {
        let out = traffic_with(&[arg], false);
        assert_eq!(out.status.code(), Some(2), "{arg}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{arg}: {err}");
        assert!(err.contains("--force"), "{arg}: {err}");
        // --force searches it anyway.
        let out = traffic_with(&[arg], true);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn valid_identifiers_of_each_kind_are_accepted() {
    let out = traffic_with(
        &[
            "imei=356938035643809",
            "imei=35693803564380",
            "imsi=208150123456789",
            "iccid=8933150319009875432",
            "msisdn=+33612345678",
            "msisdn=0612345678",
            "wifi_mac=02:00:5e:10:00:01",
            "bt_mac=02-00-5E-10-00-02",
            "advertising_id=1209d0b9-b959-42e6-b921-aa5d9d08c1af",
            "serial=A1X9K2Q7ZP",
        ],
        false,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn forced_value_is_searched() {
    // The example capture sends IMEI 356938035643809; one digit off fails the Luhn check,
    // and the correct one is found: --force must not change what valid values find.
    let out = traffic_with(&["imei=356938035643809"], true);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["identifier"] == "imei")),
        "{v}"
    );
}

#[test]
fn example_case_loads_and_a_bad_case_value_is_named() {
    let out = run(&[
        "traffic",
        "--case",
        "examples/acme-a1/case.toml",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("examples/acme-a1/case.toml")).unwrap();
    let bad = text.replace("imsi = \"208150123456789\"", "imsi = \"20815012345678\"");
    assert_ne!(bad, text);
    let case = dir.path().join("case.toml");
    std::fs::write(&case, &bad).unwrap();
    let out = run(&["traffic", "--case", case.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("identifier `imsi`: IMSI 20815012345678 is not 15 digits"),
        "{err}"
    );
}
