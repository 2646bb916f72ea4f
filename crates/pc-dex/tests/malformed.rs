//! Hostile input: every failure is an error, never a panic, a hang or an unbounded allocation.

mod common;

use common::*;
use pc_dex::rules::{RuleSet, find_calls};
use pc_dex::{Dex, DexError, dex_sections};

/// Runs everything the crate offers over `data`; the results don't matter, only that it returns.
fn exercise(data: &[u8], rules: &RuleSet) {
    let _ = dex_sections(data);
    let Ok(all) = Dex::parse_all(data) else {
        let _ = Dex::parse(data);
        return;
    };
    for dex in all {
        for s in dex.strings() {
            let _ = s;
        }
        for i in 0..dex.method_ids_count().min(64) {
            let _ = dex.method_ref(i);
        }
        for i in 0..dex.field_ids_count().min(64) {
            let _ = dex.field_ref(i);
        }
        for c in dex.classes() {
            let Ok(c) = c else { continue };
            let Ok(ms) = c.methods() else { continue };
            for m in ms {
                if let Ok(code) = dex.code_item(m.code_off) {
                    for i in code.instructions().flatten() {
                        let _ = (i.name(), i.index());
                    }
                }
            }
        }
        let _ = dex.call_sites();
        let _ = find_calls(&dex, "x.dex", rules);
    }
}

/// A synthetic dex that calls identifier APIs (so find_calls walks its code).
fn synthetic(version: u16) -> Vec<u8> {
    let mut b = DexBuilder::default();
    let obj = b.t("Ljava/lang/Object;");
    let ty = b.t("Lcom/example/M;");
    let gid = b.m(
        "Landroid/telephony/TelephonyManager;",
        "getDeviceId",
        "Ljava/lang/String;",
        &[],
    );
    let gs = b.m(
        "Landroid/provider/Settings$Secure;",
        "getString",
        "Ljava/lang/String;",
        &["Landroid/content/ContentResolver;", "Ljava/lang/String;"],
    );
    let serial = b.f("Landroid/os/Build;", "SERIAL", "Ljava/lang/String;");
    let run = b.m("Lcom/example/M;", "run", "V", &[]);
    let aid = b.s("android_id");
    let mut code = Vec::new();
    code.extend(const_string(aid));
    code.extend(invoke(0x71, gs, 2));
    code.extend(invoke(0x6e, gid, 1));
    code.extend(field_op(0x62, serial));
    code.push(RETURN_VOID);
    code.extend([0x0100, 1, 0, 0, 2, 0]);
    b.push_public_class(ty, obj, run, Some(code));
    b.build(version, 0)
}

fn real_small_dex() -> Vec<u8> {
    apk_dex("apk/apksig/golden-aligned-v1-out.apk").remove(0).1
}

#[test]
fn truncated_at_every_length() {
    let rules = RuleSet::embedded();
    for full in [real_small_dex(), synthetic(35), synthetic(41)] {
        for len in 0..full.len() {
            let cut = &full[..len];
            assert!(Dex::parse(cut).is_err(), "len {len}");
            exercise(cut, &rules);
            // Same prefix with file_size (and container_size) fixed up, so parsing gets past the
            // header and reaches tables that are now cut short.
            if len >= 0x78 {
                let mut fixed = cut.to_vec();
                fixed[0x20..0x24].copy_from_slice(&(len as u32).to_le_bytes());
                if &fixed[4..7] == b"041" {
                    fixed[0x70..0x74].copy_from_slice(&(len as u32).to_le_bytes());
                }
                exercise(&fixed, &rules);
            }
        }
    }
}

#[test]
fn wrong_magic_and_versions() {
    let mut d = synthetic(35);
    assert!(Dex::parse(&d).is_ok());
    for (magic, want_version) in [
        (&b"dey\n035\0"[..], None),
        (&b"dex\n036\0"[..], Some(36)),
        (&b"dex\n099\0"[..], Some(99)),
        (&b"dex\n0a5\0"[..], None),
        (&b"dex\n0351"[..], None),
    ] {
        d[..8].copy_from_slice(magic);
        let e = Dex::parse(&d).unwrap_err();
        match want_version {
            Some(v) => {
                assert!(matches!(e, DexError::UnsupportedVersion { version, .. } if version == v))
            }
            None => assert!(matches!(e, DexError::BadMagic { .. }), "{e:?}"),
        }
        assert!(dex_sections(&d).is_empty());
    }
    let mut d = synthetic(35);
    d[0x28..0x2c].copy_from_slice(&0x7856_3412u32.to_le_bytes());
    assert!(matches!(
        Dex::parse(&d),
        Err(DexError::Malformed { at: 0x28, .. })
    ));
    assert!(Dex::parse(b"").is_err());
    assert!(Dex::parse(b"dex\n035\0").is_err());
}

/// xorshift64*, deterministic garbage.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn garbage() {
    let rules = RuleSet::embedded();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for size in [0usize, 1, 7, 8, 0x70, 0x78, 200, 1000, 5000] {
        for _ in 0..50 {
            let mut v: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            exercise(&v, &rules);
            // Garbage behind a valid magic and a valid header prefix.
            if size >= 0x78 {
                v[..8].copy_from_slice(if rng.next().is_multiple_of(2) {
                    b"dex\n035\0"
                } else {
                    b"dex\n041\0"
                });
                v[0x28..0x2c].copy_from_slice(&0x1234_5678u32.to_le_bytes());
                exercise(&v, &rules);
            }
        }
    }
}

#[test]
fn huge_counts_and_offsets_in_header() {
    let rules = RuleSet::embedded();
    for version in [35u16, 41] {
        let base = synthetic(version);
        let len = base.len() as u32;
        let end = if version >= 41 { 0x78 } else { 0x70 };
        for field in (0x20..end).step_by(4) {
            for v in [
                0xffff_ffffu32,
                0x7fff_ffff,
                0x0001_0001,
                len,
                len - 1,
                len + 1,
                1,
                0,
            ] {
                let mut d = base.clone();
                d[field..field + 4].copy_from_slice(&v.to_le_bytes());
                exercise(&d, &rules);
            }
        }
        // Specific expectations.
        let mut d = base.clone();
        d[0x38..0x3c].copy_from_slice(&0xffff_ffffu32.to_le_bytes()); // string_ids_size
        assert!(matches!(
            Dex::parse(&d),
            Err(DexError::LimitExceeded { at: 0x38, .. })
        ));
        let mut d = base.clone();
        d[0x58..0x5c].copy_from_slice(&0x0001_0001u32.to_le_bytes()); // method_ids_size > 65536
        assert!(matches!(
            Dex::parse(&d),
            Err(DexError::LimitExceeded { .. })
        ));
        let mut d = base.clone();
        d[0x3c..0x40].copy_from_slice(&0xffff_fff0u32.to_le_bytes()); // string_ids_off
        assert!(matches!(
            Dex::parse(&d),
            Err(DexError::Truncated { at: 0x38, .. })
        ));
        let mut d = base.clone();
        d[0x20..0x24].copy_from_slice(&(len + 1).to_le_bytes()); // file_size
        assert!(Dex::parse(&d).is_err());
        let mut d = base.clone();
        d[0x34..0x38].copy_from_slice(&(len - 2).to_le_bytes()); // map_off
        assert!(Dex::parse(&d).is_err());
    }
}

/// Offset of the first code_item of the first class.
fn first_code_off(d: &[u8]) -> usize {
    let dex = Dex::parse(d).unwrap();
    let c = dex.classes().next().unwrap().unwrap();
    c.methods().unwrap()[0].code_off as usize
}

#[test]
fn insns_size_past_end() {
    let rules = RuleSet::embedded();
    let mut d = synthetic(35);
    let off = first_code_off(&d);
    d[off + 12..off + 16].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let dex = Dex::parse(&d).unwrap();
    assert!(matches!(
        dex.code_item(off as u32),
        Err(DexError::Truncated { .. })
    ));
    assert!(matches!(dex.call_sites(), Err(DexError::Truncated { .. })));
    assert!(matches!(
        find_calls(&dex, "x", &rules),
        Err(DexError::Truncated { .. })
    ));
    // insns_size cutting an invoke in half: the instruction runs past the end of the code.
    let mut d = synthetic(35);
    d[off + 12..off + 16].copy_from_slice(&3u32.to_le_bytes()); // const-string + 1 unit of invoke
    let dex = Dex::parse(&d).unwrap();
    let code = dex.code_item(off as u32).unwrap();
    let r: Vec<_> = code.instructions().collect();
    assert!(r[0].is_ok());
    assert!(matches!(
        r[1],
        Err(DexError::Truncated {
            what: "instruction past end of code",
            ..
        })
    ));
    assert_eq!(r.len(), 2);
    assert!(find_calls(&dex, "x", &rules).is_err());
    // A payload whose declared size runs past the end.
    let mut d = synthetic(35);
    let units = 2 + 3 + 3 + 2 + 1; // before the payload
    let p = off + 16 + units * 2;
    assert_eq!(&d[p..p + 2], &0x0100u16.to_le_bytes());
    d[p + 2..p + 4].copy_from_slice(&0xffffu16.to_le_bytes());
    let dex = Dex::parse(&d).unwrap();
    assert!(find_calls(&dex, "x", &rules).is_err());
}

#[test]
fn invalid_mutf8_and_bad_indices() {
    let mut b = DexBuilder::default();
    let s = b.s("Lzz/Zzzz;");
    b.t("Lzz/Zzzz;");
    let mut d = b.build(35, 0);
    let dex = Dex::parse(&d).unwrap();
    assert_eq!(dex.string(s as u32).unwrap(), "Lzz/Zzzz;");
    // Corrupt the string data: 0xFF is never valid MUTF-8.
    let pos = d.windows(9).position(|w| w == b"Lzz/Zzzz;").unwrap();
    d[pos + 3] = 0xff;
    let dex = Dex::parse(&d).unwrap();
    assert!(
        matches!(dex.string(s as u32), Err(DexError::BadString { at, .. }) if at == (pos + 3) as u64)
    );
    assert!(matches!(
        dex.type_descriptor(0),
        Err(DexError::BadString { .. })
    ));
    // A 4-byte UTF-8 sequence is not MUTF-8 either.
    d[pos + 3..pos + 7].copy_from_slice(&[0xf0, 0x9f, 0x98, 0x80]);
    assert!(Dex::parse(&d).unwrap().string(0).is_err());
    // type_ids entry pointing at a string index out of range.
    let mut d3 = b.build(35, 0);
    let type_ids_off = u32::from_le_bytes(d3[0x44..0x48].try_into().unwrap()) as usize;
    d3[type_ids_off..type_ids_off + 4].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    let dex = Dex::parse(&d3).unwrap();
    assert!(matches!(
        dex.type_descriptor(0),
        Err(DexError::IndexOutOfRange {
            what: "string",
            index: 0x00ff_ffff,
            ..
        })
    ));
    assert!(matches!(
        dex.string(1),
        Err(DexError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        dex.string(u32::MAX),
        Err(DexError::IndexOutOfRange { .. })
    ));
    // string_data_off pointing past the end.
    let mut d4 = b.build(35, 0);
    let string_ids_off = u32::from_le_bytes(d4[0x3c..0x40].try_into().unwrap()) as usize;
    d4[string_ids_off..string_ids_off + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert!(matches!(
        Dex::parse(&d4).unwrap().string(0),
        Err(DexError::Truncated { .. })
    ));
}

#[test]
fn every_byte_mutated() {
    let rules = RuleSet::embedded();
    for full in [synthetic(35), synthetic(41), real_small_dex()] {
        for i in 0..full.len() {
            for v in [0x00u8, 0xff, 0x80, full[i] ^ 0x01, full[i].wrapping_add(1)] {
                let mut d = full.clone();
                d[i] = v;
                exercise(&d, &rules);
            }
        }
    }
}

/// Many class_defs sharing one class_data whose method has a big code item: the walk stops at
/// the work budget instead of doing classes x code-size work.
#[test]
fn shared_code_hits_work_budget() {
    let mut b = DexBuilder::default();
    let obj = b.t("Ljava/lang/Object;");
    let gid = b.m(
        "Landroid/telephony/TelephonyManager;",
        "getDeviceId",
        "Ljava/lang/String;",
        &[],
    );
    let mut code = vec![NOP; 100_000];
    code.extend(invoke(0x6e, gid, 1));
    code.push(RETURN_VOID);
    let n = 2000;
    for k in 0..n {
        let ty = b.t(&format!("Lc/C{k};"));
        let m = b.m(&format!("Lc/C{k};"), "run", "V", &[]);
        b.push_public_class(ty, obj, m, if k == 0 { Some(code.clone()) } else { None });
    }
    let mut d = b.build(35, 0);
    let dex = Dex::parse(&d).unwrap();
    let first = dex.class_def(0).unwrap().class_data_off;
    let class_defs_off = u32::from_le_bytes(d[0x64..0x68].try_into().unwrap()) as usize;
    for k in 1..n {
        let e = class_defs_off + 32 * k + 24;
        d[e..e + 4].copy_from_slice(&first.to_le_bytes());
    }
    let dex = Dex::parse(&d).unwrap();
    assert!(matches!(
        find_calls(&dex, "x", &RuleSet::embedded()),
        Err(DexError::LimitExceeded { .. })
    ));
    assert!(matches!(
        dex.call_sites(),
        Err(DexError::LimitExceeded { .. })
    ));
}

/// Every string id points at one 2 MB string: matching stays cheap (only short prefixes are
/// scanned), names longer than the limit are refused, and iterating all strings stops at the
/// work budget instead of decoding gigabytes.
#[test]
fn shared_huge_string() {
    let mut b = DexBuilder::default();
    let n = 5000;
    for k in 0..n {
        b.t(&format!("Lt/T{k};"));
    }
    let huge = format!("L{};", "a".repeat(2 << 20));
    let h = b.s(&huge);
    let mut d = b.build(35, 0);
    let string_ids_off = u32::from_le_bytes(d[0x3c..0x40].try_into().unwrap()) as usize;
    let target = d[string_ids_off + 4 * h..string_ids_off + 4 * h + 4].to_vec();
    for k in 0..n {
        d[string_ids_off + 4 * k..string_ids_off + 4 * k + 4].copy_from_slice(&target);
    }
    let dex = Dex::parse(&d).unwrap();
    assert!(
        find_calls(&dex, "x", &RuleSet::embedded())
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        dex.type_descriptor(0),
        Err(DexError::LimitExceeded { .. })
    ));
    assert_eq!(dex.string(0).unwrap().len(), huge.len());
    let results: Vec<_> = dex.strings().collect();
    assert!(results.len() < 20, "{}", results.len());
    assert!(matches!(
        results.last(),
        Some(Err(DexError::LimitExceeded { .. }))
    ));
}
