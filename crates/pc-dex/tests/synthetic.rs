//! Synthetic DEX files for every supported version, including 041 containers (the fixtures have
//! only 035-039).

mod common;

use common::*;
use pc_dex::rules::{RuleSet, find_calls};
use pc_dex::{Dex, DexError, dex_sections};

const TM: &str = "Landroid/telephony/TelephonyManager;";
const SECURE: &str = "Landroid/provider/Settings$Secure;";
const CR: &str = "Landroid/content/ContentResolver;";
const STR: &str = "Ljava/lang/String;";
const SPY: &str = "Lcom/example/Spy;";

/// A class with three methods exercising every matched instruction form.
fn sample() -> DexBuilder {
    let mut b = DexBuilder::default();
    let obj = b.t("Ljava/lang/Object;");
    let spy = b.t(SPY);
    let get_device_id = b.m(TM, "getDeviceId", STR, &[]);
    let get_device_id_i = b.m(TM, "getDeviceId", STR, &["I"]);
    let get_string = b.m(SECURE, "getString", STR, &[CR, STR]);
    let mh_invoke = b.m(
        "Ljava/lang/invoke/MethodHandle;",
        "invoke",
        "Ljava/lang/Object;",
        &["[Ljava/lang/Object;"],
    );
    let _unused_rule_api = b.m(
        "Ljava/net/NetworkInterface;",
        "getHardwareAddress",
        "[B",
        &[],
    );
    let serial = b.f("Landroid/os/Build;", "SERIAL", STR);
    let x = b.f(SPY, "x", "I");
    let m_a = b.m(SPY, "a", "V", &[]);
    let m_b = b.m(SPY, "b", "V", &[]);
    let m_c = b.m(SPY, "c", "V", &["I"]);
    let m_abs = b.m(SPY, "abs", "V", &[]);
    let android_id = b.s("android_id");
    let other = b.s("other");
    b.s("h\u{e9}llo \u{1F600} nul\u{0}inside");

    // a(): const-string, getString via /range, getDeviceId() twice, getDeviceId(I) via /range,
    // sget-object SERIAL, a packed-switch payload and a fill-array-data payload whose data looks
    // like invoke-virtual (must be skipped).
    let mut a: Vec<u16> = Vec::new();
    a.extend(const_string(android_id)); // pc 0
    a.extend(invoke_range(0x77, get_string, 2)); // pc 2
    a.extend(invoke(0x6e, get_device_id, 1)); // pc 5
    a.extend(invoke(0x6e, get_device_id, 1)); // pc 8
    a.extend(invoke_range(0x74, get_device_id_i, 2)); // pc 11
    a.extend(field_op(0x62, serial)); // pc 14
    a.push(RETURN_VOID); // pc 16
    a.push(NOP); // pc 17 (alignment)
    a.extend([0x0100, 1, 0, 0, 3, 0]); // pc 18 packed-switch-payload
    a.extend([0x0300, 2, 2, 0, 0x006e, get_device_id as u16]); // pc 24 fill-array-data-payload

    // b(): getString without "android_id" (not an identifier read), invoke-custom with an index
    // that is not a method, invoke-polymorphic.
    let mut bb: Vec<u16> = Vec::new();
    bb.extend(const_string(other));
    bb.extend(invoke(0x71, get_string, 2));
    bb.extend([0x10fc, 0x7777, 0x0000]); // invoke-custom call_site@0x7777
    bb.extend([0x20fa, mh_invoke as u16, 0x0010, 0x0000]); // invoke-polymorphic
    bb.push(RETURN_VOID);

    // c(I): const-string/jumbo "android_id" after the call (same method is enough), iget.
    let mut c: Vec<u16> = Vec::new();
    c.extend(invoke(0x71, get_string, 2));
    c.extend(const_string_jumbo(android_id));
    c.extend([0x0054 | (1 << 12), x as u16]); // iget-object v0, v1, Spy.x
    c.push(RETURN_VOID);

    b.classes.push(ClassSpec {
        ty: spy,
        superclass: Some(obj),
        access: 1,
        methods: vec![
            MethodSpec {
                method: m_a,
                access: 1,
                direct: false,
                code: Some(a),
            },
            MethodSpec {
                method: m_b,
                access: 1,
                direct: false,
                code: Some(bb),
            },
            MethodSpec {
                method: m_c,
                access: 9,
                direct: true,
                code: Some(c),
            },
            MethodSpec {
                method: m_abs,
                access: 0x401,
                direct: false,
                code: None,
            },
        ],
    });
    b
}

/// A second, unrelated dex (no identifier APIs), for containers.
fn plain() -> DexBuilder {
    let mut b = DexBuilder::default();
    let obj = b.t("Ljava/lang/Object;");
    let ty = b.t("Lcom/example/Plain;");
    let to_string = b.m("Ljava/lang/Object;", "toString", STR, &[]);
    let run = b.m("Lcom/example/Plain;", "run", "V", &[]);
    let mut code = Vec::new();
    code.extend(invoke(0x6e, to_string, 1));
    code.push(RETURN_VOID);
    b.push_public_class(ty, obj, run, Some(code));
    b
}

type Row = (String, String, String, &'static str, u32, String);

fn calls(dex: &Dex, name: &str) -> Vec<Row> {
    find_calls(dex, name, &RuleSet::embedded())
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.caller,
                c.api,
                c.callee_proto,
                c.opcode,
                c.count,
                c.rule_id,
            )
        })
        .collect()
}

fn expected() -> Vec<Row> {
    let r = |caller: &str, api: &str, proto: &str, op: &'static str, n: u32, rule: &str| {
        (
            caller.to_string(),
            api.to_string(),
            proto.to_string(),
            op,
            n,
            rule.to_string(),
        )
    };
    let gs = "(Landroid/content/ContentResolver;Ljava/lang/String;)Ljava/lang/String;";
    vec![
        r(
            "Lcom/example/Spy;->a()V",
            "Landroid/os/Build;->SERIAL",
            STR,
            "sget-object",
            1,
            "build-serial-field",
        ),
        r(
            "Lcom/example/Spy;->a()V",
            "Landroid/provider/Settings$Secure;->getString",
            gs,
            "invoke-static/range",
            1,
            "settings-secure-android-id",
        ),
        r(
            "Lcom/example/Spy;->a()V",
            "Landroid/telephony/TelephonyManager;->getDeviceId",
            "()Ljava/lang/String;",
            "invoke-virtual",
            2,
            "telephony-device-id",
        ),
        r(
            "Lcom/example/Spy;->a()V",
            "Landroid/telephony/TelephonyManager;->getDeviceId",
            "(I)Ljava/lang/String;",
            "invoke-virtual/range",
            1,
            "telephony-device-id",
        ),
        r(
            "Lcom/example/Spy;->c(I)V",
            "Landroid/provider/Settings$Secure;->getString",
            gs,
            "invoke-static",
            1,
            "settings-secure-android-id",
        ),
    ]
}

#[test]
fn every_version_standalone() {
    for v in [35u16, 37, 38, 39, 40, 41] {
        let bytes = sample().build(v, 0);
        let dex = Dex::parse(&bytes).unwrap_or_else(|e| panic!("v{v}: {e}"));
        assert_eq!(dex.version(), v);
        assert_eq!(dex.class_count(), 1);
        assert_eq!(calls(&dex, "classes.dex"), expected(), "v{v}");
        assert_eq!(dex_sections(&bytes), vec![(0, bytes.len())]);
    }
}

#[test]
fn call_sites_and_classes() {
    let bytes = sample().build(39, 0);
    let dex = Dex::parse(&bytes).unwrap();
    let c = dex.classes().next().unwrap().unwrap();
    assert_eq!(c.descriptor, SPY);
    assert_eq!(c.superclass.as_deref(), Some("Ljava/lang/Object;"));
    let methods = c.methods().unwrap();
    assert_eq!(methods.len(), 4);
    assert_eq!(methods.iter().filter(|m| m.has_code()).count(), 3);
    assert!(methods[0].direct, "direct methods come first");

    let sites = dex.call_sites().unwrap();
    let brief: Vec<(String, String, &str, u32)> = sites
        .iter()
        .map(|s| {
            (
                s.caller_method.to_string(),
                s.callee_name.to_string(),
                s.opcode,
                s.code_offset,
            )
        })
        .collect();
    assert_eq!(
        brief,
        vec![
            ("c".into(), "getString".into(), "invoke-static", 0),
            ("c".into(), "x".into(), "iget-object", 6),
            ("a".into(), "getString".into(), "invoke-static/range", 2),
            ("a".into(), "getDeviceId".into(), "invoke-virtual", 5),
            ("a".into(), "getDeviceId".into(), "invoke-virtual", 8),
            ("a".into(), "getDeviceId".into(), "invoke-virtual/range", 11),
            ("a".into(), "SERIAL".into(), "sget-object", 14),
            ("b".into(), "getString".into(), "invoke-static", 2),
            ("b".into(), "invoke".into(), "invoke-polymorphic", 8),
        ]
    );
    let poly = sites
        .iter()
        .find(|s| s.opcode == "invoke-polymorphic")
        .unwrap();
    assert_eq!(poly.callee_class, "Ljava/lang/invoke/MethodHandle;");
    assert_eq!(poly.callee_proto, "([Ljava/lang/Object;)Ljava/lang/Object;");
    assert_eq!(sites[0].caller_proto, "(I)V");

    // Instruction names and payloads from the iterator.
    let a = methods
        .iter()
        .find(|m| dex.method_ref(m.method_idx).unwrap().name == "a")
        .unwrap();
    let names: Vec<&str> = dex
        .code_item(a.code_off)
        .unwrap()
        .instructions()
        .map(|i| i.unwrap().name())
        .collect();
    assert_eq!(
        names,
        [
            "const-string",
            "invoke-static/range",
            "invoke-virtual",
            "invoke-virtual",
            "invoke-virtual/range",
            "sget-object",
            "return-void",
            "nop",
            "packed-switch-payload",
            "fill-array-data-payload"
        ]
    );
}

#[test]
fn strings_types_and_refs() {
    let b = sample();
    let bytes = b.build(38, 0);
    let dex = Dex::parse(&bytes).unwrap();
    let all: Vec<String> = dex.strings().map(|s| s.unwrap().into_owned()).collect();
    assert_eq!(all, b.strings);
    assert!(all.contains(&"h\u{e9}llo \u{1F600} nul\u{0}inside".to_string()));
    assert_eq!(dex.string_ids_count() as usize, b.strings.len());
    let m = dex.method_ref(1).unwrap();
    assert_eq!(
        (m.class.as_ref(), m.name.as_ref(), m.proto.as_str()),
        (TM, "getDeviceId", "(I)Ljava/lang/String;")
    );
    assert_eq!(m.shorty, "LI");
    let f = dex.field_ref(0).unwrap();
    assert_eq!(
        (
            f.class.as_ref(),
            f.name.as_ref(),
            f.type_descriptor.as_ref()
        ),
        ("Landroid/os/Build;", "SERIAL", STR)
    );
    assert_eq!(dex.type_descriptor(0).unwrap(), "Ljava/lang/Object;");
    assert!(matches!(
        dex.string(dex.string_ids_count()),
        Err(DexError::IndexOutOfRange { what: "string", .. })
    ));
    assert!(matches!(
        dex.method_ref(10_000),
        Err(DexError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        dex.field_ref(dex.field_ids_count()),
        Err(DexError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        dex.type_descriptor(dex.type_ids_count()),
        Err(DexError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        dex.class_def(1),
        Err(DexError::IndexOutOfRange { .. })
    ));
}

#[test]
fn v41_container_with_two_sections() {
    let first = plain().build(41, 0);
    let second = sample().build(41, first.len());
    let data = container(&[first.clone(), second.clone()]);
    assert_eq!(
        dex_sections(&data),
        vec![(0, first.len()), (first.len(), second.len())]
    );
    let all = Dex::parse_all(&data).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].header().header_offset, 0);
    assert_eq!(all[1].header().header_offset as usize, first.len());
    assert_eq!(all[1].header().container_size as usize, data.len());
    assert!(calls(&all[0], "classes.dex").is_empty());
    assert_eq!(calls(&all[1], "classes.dex"), expected());
    assert_eq!(
        all[0].classes().next().unwrap().unwrap().descriptor,
        "Lcom/example/Plain;"
    );
    // Dex::parse reads the first section.
    assert_eq!(Dex::parse(&data).unwrap().class_count(), 1);
    assert_eq!(
        Dex::parse(&data)
            .unwrap()
            .classes()
            .next()
            .unwrap()
            .unwrap()
            .descriptor,
        "Lcom/example/Plain;"
    );
    // A header_offset that lies about its position is rejected.
    let mut bad = data.clone();
    bad[first.len() + 0x74..first.len() + 0x78].copy_from_slice(&0u32.to_le_bytes());
    assert!(matches!(
        Dex::parse_at(&bad, first.len()),
        Err(DexError::Malformed { .. })
    ));
    // A container_size beyond the data is rejected.
    let mut bad = data.clone();
    bad[0x70..0x74].copy_from_slice(&((data.len() + 1) as u32).to_le_bytes());
    assert!(matches!(Dex::parse(&bad), Err(DexError::Truncated { .. })));
}

#[test]
fn no_matching_ids_skips_bytecode() {
    // Same ids as `sample` but code that is garbage: with an empty rule set (or rules that match
    // nothing) the code is never read, so no error.
    let mut b = plain();
    b.classes[0].methods[0].code = Some(vec![0x006e]); // invoke-virtual cut short
    let bytes = b.build(35, 0);
    let dex = Dex::parse(&bytes).unwrap();
    assert!(
        find_calls(&dex, "classes.dex", &RuleSet::embedded())
            .unwrap()
            .is_empty()
    );
    // The general walk does read it and reports the truncation.
    assert!(matches!(dex.call_sites(), Err(DexError::Truncated { .. })));
}

#[test]
fn const_string_condition_needs_the_string_in_the_dex() {
    // b() alone: getString without "android_id" anywhere in the dex.
    let mut b = DexBuilder::default();
    let obj = b.t("Ljava/lang/Object;");
    let spy = b.t(SPY);
    let gs = b.m(SECURE, "getString", STR, &[CR, STR]);
    let m = b.m(SPY, "b", "V", &[]);
    let other = b.s("bluetooth_name");
    let mut code = Vec::new();
    code.extend(const_string(other));
    code.extend(invoke(0x71, gs, 2));
    code.push(RETURN_VOID);
    b.push_public_class(spy, obj, m, Some(code));
    let bytes = b.build(35, 0);
    let dex = Dex::parse(&bytes).unwrap();
    assert!(calls(&dex, "classes.dex").is_empty());
    assert_eq!(dex.call_sites().unwrap().len(), 1);
}
