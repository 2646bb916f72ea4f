#![no_main]
// Upload checks on hostile bytes: check_archive reads from a file, so the input is written to one
// (per process, reused) first. Small limits keep each run fast; bombs hit them quickly.
use libfuzzer_sys::fuzz_target;
use pc_registry::bundle::{BundleLimits, UploadKind, check_archive, sniff};

fuzz_target!(|data: &[u8]| {
    let head = data.get(..512).unwrap_or(data);
    for name in [
        "x.tar",
        "x.tgz",
        "x.zip",
        "x.apk",
        "x.pcap.gz",
        "x.har",
        "case.toml",
        "x.keys",
    ] {
        let _ = sniff(name, head);
    }
    let path = std::env::temp_dir().join(format!("registry_bundle_fuzz_{}", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let limits = BundleLimits {
        max_entries: 1000,
        max_unpacked_total: 8 << 20,
        max_entry_size: 4 << 20,
        ratio_min_size: 64 << 10,
        max_zip_directory: 1 << 20,
        max_text_size: 1 << 20,
        ..BundleLimits::default()
    };
    for kind in [
        UploadKind::Tar,
        UploadKind::TarGz,
        UploadKind::Zip,
        UploadKind::Apk,
        UploadKind::Gzip,
        UploadKind::CaseToml,
        UploadKind::KeyLog,
    ] {
        let _ = check_archive(&path, kind, &limits);
    }
});
