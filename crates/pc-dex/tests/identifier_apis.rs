//! The identifier APIs no corpus APK calls (cell location, Wi-Fi networks, IMEISV, TAC, carrier)
//! and calls by name through reflection, on a DEX assembled with smali from
//! tests/data/synthetic/identifier-apis/*.smali, against dexdump's listing of it
//! (identifier-apis.dexdump.txt; both made by scripts/make-identifier-api-dex.sh).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use pc_dex::Dex;
use pc_dex::rules::{ApiCall, MemberKind, REFLECTION_APIS, RuleSet, find_calls};

/// One method as dexdump lists it.
#[derive(Default, Debug)]
struct Method {
    class: String,
    name: String,
    proto: String,
    /// (mnemonic, `Lclass;->name`, proto) of every invoke / field read.
    refs: Vec<(String, String, String)>,
    strings: Vec<String>,
    classes: Vec<String>,
}

impl Method {
    fn caller(&self) -> String {
        format!("{}->{}{}", self.class, self.name, self.proto)
    }
}

fn quoted(line: &str) -> String {
    let a = line.find('\'').expect("quote") + 1;
    let b = line.rfind('\'').expect("quote");
    line[a..b].to_string()
}

/// Parses `dexdump -d` output: methods with their references, strings and classes.
fn dexdump_methods(text: &str) -> Vec<Method> {
    let mut out: Vec<Method> = Vec::new();
    let mut cur: Option<Method> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('#')
            && let Some(i) = rest.find("(in ")
        {
            out.extend(cur.take());
            let class = rest[i + 4..].trim_end_matches(')').to_string();
            cur = Some(Method {
                class,
                ..Method::default()
            });
            continue;
        }
        let Some(m) = cur.as_mut() else { continue };
        if t.starts_with("name          :") && m.name.is_empty() {
            m.name = quoted(t);
        } else if t.starts_with("type          :") && m.proto.is_empty() {
            m.proto = quoted(t);
        } else if line.contains('|') {
            // `0008cc: 6e10 ... |0000: invoke-virtual {v1}, La/B;.m:()V // method@000d`
            let Some(bar) = line.find('|') else { continue };
            let insn = &line[bar..];
            let Some(colon) = insn.find(": ") else {
                continue;
            };
            let insn = &insn[colon + 2..];
            let mnemonic = insn.split_whitespace().next().unwrap_or_default();
            let operand = insn.rsplit_once(", ").map(|(_, o)| o).unwrap_or_default();
            let operand = operand.split(" // ").next().unwrap_or_default();
            if mnemonic.starts_with("invoke-")
                || mnemonic.starts_with("iget")
                || mnemonic.starts_with("sget")
            {
                let (cls, rest) = operand.split_once(";.").expect("member ref");
                let (name, proto) = rest.split_once(':').expect("proto");
                m.refs.push((
                    mnemonic.to_string(),
                    format!("{cls};->{name}"),
                    proto.to_string(),
                ));
            } else if mnemonic.starts_with("const-string") {
                let s = insn.split_once('"').expect("string").1;
                let s = s.rsplit_once('"').expect("string").0;
                m.strings.push(s.to_string());
            } else if mnemonic == "const-class" {
                m.classes.push(operand.to_string());
            }
        }
    }
    out.extend(cur);
    out
}

fn fixture() -> (Vec<u8>, String) {
    let d = common::data_dir().join("synthetic");
    (
        std::fs::read(d.join("identifier-apis.dex")).expect("fixture dex"),
        std::fs::read_to_string(d.join("identifier-apis.dexdump.txt")).expect("dexdump listing"),
    )
}

/// (caller, api, proto, opcode, rule) -> count
type Calls = BTreeMap<(String, String, String, String, String), u32>;

fn ours(calls: &[ApiCall], indirect: bool) -> Calls {
    let mut m = Calls::new();
    for c in calls.iter().filter(|c| c.indirect == indirect) {
        *m.entry((
            c.caller.clone(),
            c.api.clone(),
            c.callee_proto.clone(),
            c.opcode.to_string(),
            c.rule_id.clone(),
        ))
        .or_default() += c.count;
    }
    m
}

fn analyse() -> (Vec<ApiCall>, Vec<Method>, RuleSet) {
    let (dex, listing) = fixture();
    let rules = RuleSet::embedded();
    let dex = Dex::parse(&dex).expect("fixture parses");
    let calls = find_calls(&dex, "identifier-apis.dex", &rules).expect("find_calls");
    let methods = dexdump_methods(&listing);
    assert_eq!(methods.len(), 11, "dexdump lists the fixture's methods");
    (calls, methods, rules)
}

/// Direct calls equal what dexdump's listing gives when the rules are applied to it.
#[test]
fn direct_calls_match_dexdump() {
    let (calls, methods, rules) = analyse();
    let mut want = Calls::new();
    for m in &methods {
        for (op, api, proto) in &m.refs {
            for r in rules.rules() {
                let is_field = !op.starts_with("invoke");
                let kind_ok = (r.kind == MemberKind::Field) == is_field;
                if kind_ok
                    && format!("{}->{}", r.class, r.member) == *api
                    && r.proto.as_deref().is_none_or(|p| p == proto)
                    && r.const_string
                        .as_ref()
                        .is_none_or(|c| m.strings.contains(c))
                {
                    *want
                        .entry((
                            m.caller(),
                            api.clone(),
                            proto.clone(),
                            op.clone(),
                            r.id.clone(),
                        ))
                        .or_default() += 1;
                }
            }
        }
    }
    assert_eq!(ours(&calls, false), want);
    // Every new rule but the reflected ones is exercised, each by the kind it reads.
    let rules_hit: BTreeSet<&str> = want.keys().map(|k| k.4.as_str()).collect();
    for id in [
        "telephony-cell-location",
        "telephony-all-cell-info",
        "telephony-request-cell-info-update",
        "telephony-neighboring-cell-info",
        "telephony-device-software-version",
        "telephony-type-allocation-code",
        "telephony-manufacturer-code",
        "telephony-sim-operator",
        "telephony-sim-operator-name",
        "telephony-network-operator",
        "telephony-network-operator-name",
        "wifi-info-bssid",
        "wifi-info-ssid",
        "wifi-manager-scan-results",
        "wifi-manager-configured-networks",
        "subscription-manager-phone-number",
    ] {
        assert!(rules_hit.contains(id), "{id} not exercised");
    }
    let kinds: BTreeSet<&str> = calls
        .iter()
        .flat_map(|c| c.identifiers.iter().map(String::as_str))
        .collect();
    for k in ["cell_location", "wifi_network", "carrier", "imeisv", "tac"] {
        assert!(kinds.contains(k), "{k}");
    }
    // The fixture also holds calls no rule names: the per-subscription getSimOperator(I) and
    // getConnectionInfo. dexdump sees them; we do not report them.
    let seen = |api: &str, proto: &str| {
        methods
            .iter()
            .flat_map(|m| &m.refs)
            .any(|(_, a, p)| a == api && p == proto)
    };
    assert!(seen(
        "Landroid/telephony/TelephonyManager;->getSimOperator",
        "(I)Ljava/lang/String;"
    ));
    assert!(seen(
        "Landroid/net/wifi/WifiManager;->getConnectionInfo",
        "()Landroid/net/wifi/WifiInfo;"
    ));
    assert!(!calls.iter().any(|c| c.callee_proto == "(I)Ljava/lang/String;"
        && c.api.ends_with("getSimOperator")));
    assert!(!calls.iter().any(|c| c.api.ends_with("getConnectionInfo")));
    // getAllCellInfo is called twice from one method: one entry, counted twice.
    let cells = calls
        .iter()
        .find(|c| c.rule_id == "telephony-all-cell-info")
        .unwrap();
    assert_eq!(cells.count, 2);
}

/// Indirect calls: the methods dexdump shows loading a rule's member name with const-string
/// and calling a reflection API, attributed to the rules whose class the method names (by
/// const-class or by its Java name), else to every rule with that name.
#[test]
fn indirect_calls_match_dexdump() {
    let (calls, methods, rules) = analyse();
    let reflection: BTreeSet<String> = REFLECTION_APIS
        .iter()
        .map(|(c, m)| format!("{c}->{m}"))
        .collect();
    let mut want = Calls::new();
    for m in &methods {
        if !m.refs.iter().any(|(_, api, _)| reflection.contains(api)) {
            continue;
        }
        for s in &m.strings {
            let named: Vec<_> = rules
                .rules()
                .iter()
                .filter(|r| r.kind == MemberKind::Method && &r.member == s)
                .filter(|r| {
                    r.const_string
                        .as_ref()
                        .is_none_or(|c| m.strings.contains(c))
                })
                .collect();
            let java = |d: &str| d[1..d.len() - 1].replace('/', ".");
            let on_class: Vec<_> = named
                .iter()
                .filter(|r| m.classes.contains(&r.class) || m.strings.contains(&java(&r.class)))
                .copied()
                .collect();
            for r in if on_class.is_empty() { named } else { on_class } {
                *want
                    .entry((
                        m.caller(),
                        format!("{}->{}", r.class, r.member),
                        r.proto.clone().unwrap_or_default(),
                        "const-string".to_string(),
                        r.id.clone(),
                    ))
                    .or_default() += 1;
            }
        }
    }
    let got = ours(&calls, true);
    assert_eq!(got, want);
    // What the fixture's comments promise.
    let rules_of = |method: &str| -> BTreeSet<String> {
        got.keys()
            .filter(|k| {
                k.0.starts_with(&format!("Lcom/phonecert/fixture/Reflect;->{method}("))
            })
            .map(|k| k.4.clone())
            .collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(rules_of("byClassName"), set(&["telephony-device-id"]));
    assert_eq!(
        rules_of("byConstClass"),
        set(&["wifi-info-bssid", "wifi-info-ssid"])
    );
    assert_eq!(
        rules_of("byNameOnly"),
        set(&["fused-location-api-last", "fused-location-last"])
    );
    assert_eq!(rules_of("androidId"), set(&["settings-secure-android-id"]));
    assert!(rules_of("otherSetting").is_empty());
    assert!(rules_of("logOnly").is_empty());
    let c = calls
        .iter()
        .find(|c| c.indirect && c.rule_id == "telephony-device-id")
        .unwrap();
    assert_eq!(c.identifiers, ["imei", "meid"]);
    assert_eq!(c.api, "Landroid/telephony/TelephonyManager;->getDeviceId");
}

/// Without the reflection rules' names in the dex, nothing indirect is reported, and an empty
/// rule set finds nothing at all.
#[test]
fn indirect_needs_rules() {
    let (dex, _) = fixture();
    let dex = Dex::parse(&dex).unwrap();
    assert!(find_calls(&dex, "x", &RuleSet::empty()).unwrap().is_empty());
    let one = RuleSet::from_toml(
        "version = \"t\"\nsource = \"t\"\n[[rule]]\nid = \"x\"\nidentifiers = [\"imei\"]\nclass = \"La/B;\"\nmember = \"notInTheDex\"\nkind = \"method\"\n",
    )
    .unwrap();
    assert!(find_calls(&dex, "x", &one).unwrap().is_empty());
}
