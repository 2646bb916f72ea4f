//! Memory per app, held on hostile APKs made in the tests (nothing is written to disk): DEX
//! files analysed one at a time, the per-app decompressed budget, oversize native libraries and
//! resources skipped with an anomaly, and the overlapping-entry zip bomb.

mod common;

#[path = "../../pc-apk/tests/common/bombs.rs"]
mod bombs;

use bombs::{RawEntry, overlap_bomb, zip_of};
use pc_firmware::facts::{Context, Limits};
use pc_firmware::{AppFacts, DexCode, NoSignatures, TrackerDb, analyze_apk_with};

const MIB: u64 = 1 << 20;

/// A real, small DEX (defines `Lcom/foobar/foo/Foobar;`), from the fixtures.
fn small_dex() -> Vec<u8> {
    let apk = common::fixture("androguard/multidex.apk");
    common::apk_dex(&apk)
        .into_iter()
        .find(|(n, _)| n == "classes.dex")
        .expect("classes.dex")
        .1
}

/// An APK whose `dex_count` DEX files are each the small DEX padded with zeros to `size`
/// bytes (a DEX reads only its `file_size`; the padding is what a loader would inflate).
fn apk_with_dex(dex_count: usize, size: u64) -> Vec<u8> {
    let dex = small_dex();
    let mut entries = vec![RawEntry::deflated(
        "AndroidManifest.xml",
        &common::manifest_axml("com.example.big", &["android.permission.INTERNET"], true),
    )];
    let padded = RawEntry::padded("classes.dex", &dex, size);
    for i in 1..=dex_count {
        let mut e = padded.clone();
        e.name = if i == 1 {
            "classes.dex".into()
        } else {
            format!("classes{i}.dex")
        };
        entries.push(e);
    }
    zip_of(&entries)
}

fn analyse(apk: &[u8], limits: Limits) -> AppFacts {
    let code = DexCode::new();
    let ctx = Context {
        code: &code,
        sig: &NoSignatures,
        trackers: TrackerDb::embedded(),
        limits,
    };
    analyze_apk_with("big.apk", apk, &ctx)
}

/// `VmHWM` / `VmRSS` of this process, in bytes.
fn proc_status(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

const CHILD: &str = "PC_FIRMWARE_MEMORY_CHILD";

/// Runs in a process of its own (the test re-runs this binary on itself): the other tests of
/// the binary must not share its high-water mark.
#[test]
fn dex_files_are_analysed_one_at_a_time() {
    const SIZE: u64 = 64 * MIB;
    const COUNT: usize = 4;
    if std::env::var_os(CHILD).is_none() {
        if proc_status("VmHWM").is_none() {
            eprintln!("no /proc/self/status VmHWM: peak not measurable here");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args([
                "--exact",
                "dex_files_are_analysed_one_at_a_time",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("peak-checked"),
            "child did not measure:\n{stdout}"
        );
        return;
    }
    let apk = apk_with_dex(COUNT, SIZE);
    assert!((apk.len() as u64) < 2 * MIB, "small APK: {}", apk.len());
    let before = proc_status("VmRSS").expect("rss");
    let f = analyse(&apk, Limits::default());
    let peak = proc_status("VmHWM").expect("hwm");
    let grew = peak.saturating_sub(before);
    println!("rss before {before}, high-water {peak}, grew {grew} (one DEX is {SIZE})");
    // Every DEX was analysed, and its classes are in the facts.
    assert_eq!(
        f.dex_files,
        [
            "classes.dex",
            "classes2.dex",
            "classes3.dex",
            "classes4.dex"
        ]
    );
    assert!(f.error.is_none(), "{:?}", f.error);
    assert!(
        !f.anomalies.iter().any(|a| a.contains("not read")),
        "{:?}",
        f.anomalies
    );
    // Holding the four at once needs 4 × 64 MiB; one at a time, one (plus the reader's
    // buffers and the allocator's slack).
    assert!(
        grew < 2 * SIZE,
        "analysis grew the process by {grew} bytes: more than one DEX held at a time"
    );
    println!("peak-checked");
}

#[test]
fn decompressed_budget_stops_before_inflating_and_other_apps_go_on() {
    let apk = apk_with_dex(4, 8 * MIB);
    let entries = pc_apk::zip::Archive::parse(&apk).expect("zip");
    let offset = |name: &str| {
        entries
            .find(name)
            .expect("entry")
            .local_header_offset
            .to_string()
    };
    let limits = Limits {
        max_inflated_total: 20 * MIB,
        ..Limits::default()
    };
    let f = analyse(&apk, limits.clone());
    // Two fit in 20 MiB; the third and fourth are not inflated at all.
    assert_eq!(f.dex_files, ["classes.dex", "classes2.dex"]);
    for name in ["classes3.dex", "classes4.dex"] {
        let a = f
            .anomalies
            .iter()
            .find(|a| a.starts_with(&format!("{name}: not read")))
            .unwrap_or_else(|| panic!("{name}: {:?}", f.anomalies));
        assert!(a.contains(&offset(name)), "{a}");
        assert!(a.contains(&(8 * MIB).to_string()), "{a}");
        assert!(a.contains(&(20 * MIB).to_string()), "{a}");
    }
    assert_eq!(f.package, "com.example.big");

    // The budget is per app: the next app has all of it again.
    let small = apk_with_dex(2, 4 * MIB);
    let g = analyse(&small, limits);
    assert_eq!(g.dex_files, ["classes.dex", "classes2.dex"]);
    assert!(
        !g.anomalies.iter().any(|a| a.contains("budget")),
        "{:?}",
        g.anomalies
    );
}

#[test]
fn oversize_native_libraries_and_resources_are_anomalies() {
    let mut entries = vec![RawEntry::deflated(
        "AndroidManifest.xml",
        &common::manifest_axml("com.example.libs", &[], false),
    )];
    // One library within the limit, holding a host; one past it; a resources.arsc past its own.
    entries.push(RawEntry::deflated(
        "lib/arm64-v8a/libok.so",
        b"\0\0https://ok.example.com/api\0\0",
    ));
    entries.push(RawEntry::padded(
        "lib/arm64-v8a/libbig.so",
        b"https://big.example.com/",
        3 * MIB,
    ));
    entries.push(RawEntry::padded(
        "resources.arsc",
        b"https://res.example.com/",
        3 * MIB,
    ));
    let apk = zip_of(&entries);
    let limits = Limits {
        max_native_size: 2 * MIB,
        max_resources_size: 2 * MIB,
        ..Limits::default()
    };
    let f = analyse(&apk, limits);
    let hosts: Vec<&str> = f.endpoints.iter().map(|e| e.value.as_str()).collect();
    assert!(
        hosts.iter().any(|h| h.contains("ok.example.com")),
        "{hosts:?}"
    );
    assert!(
        !hosts.iter().any(|h| h.contains("big.example.com")),
        "{hosts:?}"
    );
    for name in ["lib/arm64-v8a/libbig.so", "resources.arsc"] {
        let a = f
            .anomalies
            .iter()
            .find(|a| a.starts_with(&format!("{name}: not scanned")))
            .unwrap_or_else(|| panic!("{name}: {:?}", f.anomalies));
        assert!(a.contains(&(3 * MIB).to_string()), "{a}");
        assert!(a.contains(&(2 * MIB).to_string()), "{a}");
    }
    assert!(
        !f.anomalies
            .iter()
            .any(|a| a.starts_with("lib/arm64-v8a/libok.so")),
        "{:?}",
        f.anomalies
    );
}

#[test]
fn too_many_native_libraries_is_an_anomaly() {
    let mut entries = vec![RawEntry::deflated(
        "AndroidManifest.xml",
        &common::manifest_axml("com.example.many", &[], false),
    )];
    for i in 0..5 {
        entries.push(RawEntry::deflated(&format!("lib/x86/l{i}.so"), b"\x7fELF"));
    }
    let f = analyse(
        &zip_of(&entries),
        Limits {
            max_native_libs: 3,
            ..Limits::default()
        },
    );
    assert!(
        f.anomalies
            .iter()
            .any(|a| a.starts_with("too many native libraries: 3")),
        "{:?}",
        f.anomalies
    );
}

#[test]
fn overlapping_entry_bomb_is_an_anomaly_and_not_reinflated() {
    // 200 DEX names over one 32 MiB kernel: re-inflating it per entry is 6.4 GiB.
    let names: Vec<String> = (0..200)
        .map(|i| {
            if i == 0 {
                "classes.dex".to_string()
            } else {
                format!("classes{}.dex", i + 1)
            }
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let manifest = RawEntry::deflated(
        "AndroidManifest.xml",
        &common::manifest_axml("com.example.bomb", &[], true),
    );
    let apk = overlap_bomb(&[manifest], &names, 32 * MIB);
    assert!((apk.len() as u64) < MIB, "{}", apk.len());
    let f = analyse(&apk, Limits::default());
    assert_eq!(f.package, "com.example.bomb");
    // The kept entry (classes.dex) is read once; every other one is refused unread.
    assert!(f.dex_files.len() <= 1, "{:?}", f.dex_files);
    assert!(
        f.anomalies
            .iter()
            .any(|a| a.starts_with("zip: OverlappingEntries")),
        "{:?}",
        &f.anomalies[..5.min(f.anomalies.len())]
    );
    let refused = f
        .anomalies
        .iter()
        .filter(|a| a.contains("overlapping-entry zip bomb"))
        .count();
    assert_eq!(refused, names.len() - 1);
}
