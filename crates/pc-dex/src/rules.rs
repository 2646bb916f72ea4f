//! Identifier-reading API rules and the fast matcher over a [`Dex`].
//!
//! Rules live in `data/rules/identifier-apis.toml` (embedded at build time so fresh clones work;
//! a different file can be loaded with [`RuleSet::from_path`]). [`find_calls`] first matches the
//! dex's type, method and field id tables against the rules — one pass each, comparing raw
//! MUTF-8 bytes, no decoding — and walks the bytecode only if some id matched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{CodeRef, CodeVisitor, Dex, DexError, OPCODE_NAMES, OpKind};

/// The rule file shipped with phonecert.
const EMBEDDED: &str = include_str!("../../../data/rules/identifier-apis.toml");

/// Identifier kinds a rule may name.
pub const IDENTIFIER_KINDS: [&str; 16] = [
    "imei",
    "meid",
    "imsi",
    "iccid",
    "msisdn",
    "serial",
    "wifi_mac",
    "bt_mac",
    "android_id",
    "advertising_id",
    "location",
    // API kinds: read by code, not searched in traffic (no value form of their own).
    "cell_location",
    "wifi_network",
    "carrier",
    "imeisv",
    "tac",
];

/// Max rules in one file (the file is ours, but may be edited by hand).
const MAX_RULES: usize = 10_000;
/// Max size of a rule file.
const MAX_RULE_FILE_BYTES: u64 = 4 << 20;

/// Errors loading a rule file.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// Not valid TOML, or not the expected shape.
    #[error("rule file is not valid (at byte {at}): {message}")]
    Toml { at: u64, message: String },
    /// A rule breaks a constraint.
    #[error("invalid rule {rule:?} (at byte {at}): {what}")]
    Invalid {
        at: u64,
        rule: String,
        what: &'static str,
    },
    /// The file could not be read.
    #[error("cannot read rule file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether a rule matches a method call or a field read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    /// Matched on `invoke-*`.
    Method,
    /// Matched on `iget*` / `sget*`.
    Field,
}

/// One identifier-reading API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Unique, stable rule name.
    pub id: String,
    /// Identifier kinds the API reads (see [`IDENTIFIER_KINDS`]).
    pub identifiers: Vec<String>,
    /// Declaring class descriptor, e.g. `Landroid/telephony/TelephonyManager;`.
    pub class: String,
    /// Method or field name.
    pub member: String,
    /// Method or field.
    pub kind: MemberKind,
    /// Method prototype `(...)R` or field type descriptor; `None` matches every overload.
    pub proto: Option<String>,
    /// Permissions the API requires.
    pub permissions: Vec<String>,
    /// Only count calls in methods that also `const-string` this value.
    pub const_string: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: String,
    source: String,
    #[serde(rename = "rule", default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: toml::Spanned<String>,
    identifiers: Vec<String>,
    class: String,
    member: String,
    kind: MemberKind,
    #[serde(default)]
    proto: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    const_string: Option<String>,
}

/// A validated set of rules, indexed for matching.
#[derive(Debug, Clone)]
pub struct RuleSet {
    version: String,
    source: String,
    rules: Vec<Rule>,
    /// Class descriptor bytes -> indices of rules on that class.
    by_class: HashMap<Vec<u8>, Vec<usize>>,
    /// Lengths of the class descriptors, to skip hashing most types.
    class_len: [bool; 256],
}

impl RuleSet {
    /// The rules shipped with phonecert (`data/rules/identifier-apis.toml`). The embedded file
    /// is validated by this crate's tests; should it ever fail to load, the set is empty and
    /// [`RuleSet::try_embedded`] reports why.
    pub fn embedded() -> RuleSet {
        Self::try_embedded().unwrap_or_else(|_| RuleSet::empty())
    }

    /// The embedded rules, or why they failed to load.
    pub fn try_embedded() -> Result<RuleSet, RuleError> {
        Self::from_toml(EMBEDDED)
    }

    /// A set without rules.
    pub fn empty() -> RuleSet {
        RuleSet {
            version: String::new(),
            source: String::new(),
            rules: Vec::new(),
            by_class: HashMap::new(),
            class_len: [false; 256],
        }
    }

    /// Loads rules from a file.
    pub fn from_path(path: &Path) -> Result<RuleSet, RuleError> {
        let io = |source| RuleError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_RULE_FILE_BYTES {
            return Err(RuleError::Toml {
                at: MAX_RULE_FILE_BYTES,
                message: "rule file too large".into(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::from_toml(&text)
    }

    /// Parses and validates rules from TOML text.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        if text.len() as u64 > MAX_RULE_FILE_BYTES {
            return Err(RuleError::Toml {
                at: MAX_RULE_FILE_BYTES,
                message: "rule file too large".into(),
            });
        }
        let raw: RawFile = toml::from_str(text).map_err(|e| RuleError::Toml {
            at: e.span().map_or(0, |s| s.start as u64),
            message: e.message().to_string(),
        })?;
        if raw.rules.len() > MAX_RULES {
            return Err(RuleError::Toml {
                at: 0,
                message: "too many rules".into(),
            });
        }
        let mut rules = Vec::with_capacity(raw.rules.len());
        let mut ids = BTreeSet::new();
        for r in raw.rules {
            let at = r.id.span().start as u64;
            let id = r.id.into_inner();
            let invalid = |what| RuleError::Invalid {
                at,
                rule: id.clone(),
                what,
            };
            if id.is_empty() {
                return Err(invalid("empty id"));
            }
            if !ids.insert(id.clone()) {
                return Err(invalid("duplicate id"));
            }
            if r.identifiers.is_empty() {
                return Err(invalid("no identifiers"));
            }
            if r.identifiers
                .iter()
                .any(|k| !IDENTIFIER_KINDS.contains(&k.as_str()))
            {
                return Err(invalid("unknown identifier kind"));
            }
            // Matching compares raw MUTF-8 bytes; for ASCII they equal the UTF-8 bytes.
            let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
            if !printable(&r.class)
                || !r.class.starts_with('L')
                || !r.class.ends_with(';')
                || r.class.len() < 3
                || r.class.len() > 255
            {
                return Err(invalid("class must be an ASCII descriptor like La/b/C;"));
            }
            if !printable(&r.member) {
                return Err(invalid("member must be a non-empty ASCII name"));
            }
            if let Some(p) = &r.proto {
                let ok = printable(p)
                    && match r.kind {
                        MemberKind::Method => p.starts_with('(') && p.contains(')'),
                        MemberKind::Field => !p.starts_with('('),
                    };
                if !ok {
                    return Err(invalid(
                        "proto must be a method prototype (...)R or a field type descriptor",
                    ));
                }
            }
            if let Some(c) = &r.const_string {
                if c.is_empty() || !c.is_ascii() || c.contains('\0') {
                    return Err(invalid("const_string must be non-empty ASCII"));
                }
                if r.kind != MemberKind::Method {
                    return Err(invalid("const_string applies to methods only"));
                }
            }
            rules.push(Rule {
                id,
                identifiers: r.identifiers,
                class: r.class,
                member: r.member,
                kind: r.kind,
                proto: r.proto,
                permissions: r.permissions,
                const_string: r.const_string,
            });
        }
        let mut by_class: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        let mut class_len = [false; 256];
        for (i, r) in rules.iter().enumerate() {
            by_class
                .entry(r.class.as_bytes().to_vec())
                .or_default()
                .push(i);
            if let Some(slot) = class_len.get_mut(r.class.len()) {
                *slot = true;
            }
        }
        Ok(RuleSet {
            version: raw.version,
            source: raw.source,
            rules,
            by_class,
            class_len,
        })
    }

    /// The rule file's version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The rule file's source note.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn class_rules(&self, descriptor: &[u8]) -> Option<&[usize]> {
        if !self
            .class_len
            .get(descriptor.len())
            .copied()
            .unwrap_or(false)
        {
            return None;
        }
        self.by_class.get(descriptor).map(Vec::as_slice)
    }
}

/// Calls of one rule's API from one method, with one opcode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ApiCall {
    /// The matching rule.
    pub rule_id: String,
    /// Identifier kinds the API reads.
    pub identifiers: Vec<String>,
    /// Permissions the API needs.
    pub permissions: Vec<String>,
    /// `Lclass;->member`, e.g. `Landroid/telephony/TelephonyManager;->getDeviceId`.
    pub api: String,
    /// The referenced prototype (`(I)Ljava/lang/String;`), or field type for field reads.
    pub callee_proto: String,
    /// `Lcom/foo/Bar;->method(proto)`.
    pub caller: String,
    pub caller_class: String,
    pub caller_method: String,
    pub caller_proto: String,
    /// "invoke-virtual", "invoke-static/range", "sget-object", ...
    pub opcode: &'static str,
    /// Number of such instructions in the caller.
    pub count: u32,
    /// Name of the dex file (as given to [`find_calls`]), e.g. `classes2.dex`.
    pub dex: String,
}

/// Bit set over a u16-sized id space.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u32) -> Self {
        Bits(vec![0; (n as usize).div_ceil(64)])
    }
    #[inline]
    fn set(&mut self, i: u32) {
        if let Some(w) = self.0.get_mut((i / 64) as usize) {
            *w |= 1 << (i % 64);
        }
    }
    #[inline]
    fn get(&self, i: u32) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// Finds calls of the rules' APIs in `dex`. `dex_name` labels the results.
///
/// Fast path: resolve which method_ids / field_ids match any rule (one pass over the type,
/// method and field id tables, comparing raw bytes); if none match, the bytecode is not read.
/// Otherwise every method's code is walked once, counting per (caller, callee, opcode). A call
/// whose rule has `const_string` counts only when the caller also loads that string.
///
/// Results are sorted (caller, api, proto, opcode, rule).
pub fn find_calls(dex: &Dex, dex_name: &str, rules: &RuleSet) -> Result<Vec<ApiCall>, DexError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    // 1. Types naming a rule class.
    let ntypes = dex.type_ids_count();
    let mut class_rules_of_type: HashMap<u32, &[usize]> = HashMap::new();
    let mut type_bits = Bits::new(ntypes);
    for t in 0..ntypes {
        // Rule class descriptors are at most 255 bytes: longer ones cannot match.
        let Some(desc) = dex.type_bytes_max(t, 255)? else {
            continue;
        };
        if let Some(rs) = rules.class_rules(desc) {
            class_rules_of_type.insert(t, rs);
            type_bits.set(t);
        }
    }
    if class_rules_of_type.is_empty() {
        return Ok(Vec::new());
    }

    // 2. Method and field ids on those classes whose name (and proto) match.
    let mut method_rules: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut field_rules: HashMap<u32, Vec<usize>> = HashMap::new();
    let max_member = rules
        .rules
        .iter()
        .map(|r| r.member.len())
        .max()
        .unwrap_or(0);
    // Many method ids share a proto: compare each (proto, rule) once.
    let mut proto_ok: HashMap<(u32, usize), bool> = HashMap::new();
    for (count, kind) in [
        (dex.method_ids_count(), MemberKind::Method),
        (dex.field_ids_count(), MemberKind::Field),
    ] {
        for i in 0..count {
            let (class_idx, proto_or_type, name_idx) = match kind {
                MemberKind::Method => dex.method_id(i)?,
                MemberKind::Field => dex.field_id(i)?,
            };
            if !type_bits.get(class_idx) {
                continue;
            }
            let Some(candidates) = class_rules_of_type.get(&class_idx) else {
                continue;
            };
            let Some((name, _)) = dex.string_bytes_max(name_idx, max_member)? else {
                continue;
            };
            for &ri in candidates.iter() {
                let Some(rule) = rules.rules.get(ri) else {
                    continue;
                };
                if rule.kind != kind || rule.member.as_bytes() != name {
                    continue;
                }
                if let Some(p) = &rule.proto {
                    let ok = match kind {
                        MemberKind::Method => match proto_ok.get(&(proto_or_type, ri)) {
                            Some(&ok) => ok,
                            None => {
                                let ok = dex.proto_matches(proto_or_type, p)?;
                                proto_ok.insert((proto_or_type, ri), ok);
                                ok
                            }
                        },
                        MemberKind::Field => {
                            dex.type_bytes_max(proto_or_type, p.len())? == Some(p.as_bytes())
                        }
                    };
                    if !ok {
                        continue;
                    }
                }
                let map = match kind {
                    MemberKind::Method => &mut method_rules,
                    MemberKind::Field => &mut field_rules,
                };
                map.entry(i).or_default().push(ri);
            }
        }
    }

    // 3. Strings required by const_string conditions. A condition whose string the dex does not
    //    contain can never hold: drop those rules before walking.
    let wanted: BTreeSet<&str> = method_rules
        .values()
        .flatten()
        .filter_map(|&ri| rules.rules.get(ri)?.const_string.as_deref())
        .collect();
    let mut string_slot: HashMap<u32, usize> = HashMap::new();
    let wanted: Vec<&str> = wanted.into_iter().collect();
    if !wanted.is_empty() {
        let max_wanted = wanted.iter().map(|w| w.len()).max().unwrap_or(0);
        for s in 0..dex.string_ids_count() {
            let Some((bytes, _)) = dex.string_bytes_max(s, max_wanted)? else {
                continue;
            };
            if let Some(slot) = wanted.iter().position(|w| w.as_bytes() == bytes) {
                string_slot.insert(s, slot);
            }
        }
        let present: BTreeSet<usize> = string_slot.values().copied().collect();
        for rs in method_rules.values_mut() {
            rs.retain(|&ri| {
                rules
                    .rules
                    .get(ri)
                    .and_then(|r| r.const_string.as_deref())
                    .is_none_or(|c| {
                        wanted
                            .iter()
                            .position(|w| *w == c)
                            .is_some_and(|slot| present.contains(&slot))
                    })
            });
        }
        method_rules.retain(|_, rs| !rs.is_empty());
    }
    if method_rules.is_empty() && field_rules.is_empty() {
        return Ok(Vec::new());
    }

    // 4. Walk the bytecode.
    let mut v = Matcher {
        rules,
        method_bits: bits_of(&method_rules, dex.method_ids_count()),
        field_bits: bits_of(&field_rules, dex.field_ids_count()),
        method_rules: &method_rules,
        field_rules: &field_rules,
        string_slot: &string_slot,
        wanted: &wanted,
        seen: vec![false; wanted.len()],
        hits: Vec::new(),
        counts: BTreeMap::new(),
    };
    dex.walk_code(&mut v)?;

    // 5. Resolve names.
    let mut out = Vec::with_capacity(v.counts.len());
    // Output strings are charged to a budget: callers may share huge (capped) descriptors.
    let mut budget =
        crate::read::Budget::new(dex.header().file_size as usize, dex.limits().work_factor);
    let mut caller_cache: HashMap<u32, (String, String, String)> = HashMap::new();
    for ((caller_idx, field, callee_idx, opcode, ri), count) in v.counts {
        let Some(rule) = rules.rules.get(ri) else {
            continue;
        };
        let (cc, cm, cp) = match caller_cache.get(&caller_idx) {
            Some(c) => c.clone(),
            None => {
                let m = dex.method_ref(caller_idx)?;
                let c = (m.class.into_owned(), m.name.into_owned(), m.proto);
                caller_cache.insert(caller_idx, c.clone());
                c
            }
        };
        let (api, callee_proto) = if field {
            let f = dex.field_ref(callee_idx)?;
            (
                format!("{}->{}", f.class, f.name),
                f.type_descriptor.into_owned(),
            )
        } else {
            let m = dex.method_ref(callee_idx)?;
            (format!("{}->{}", m.class, m.name), m.proto)
        };
        let size = 2 * (cc.len() + cm.len() + cp.len()) + api.len() + callee_proto.len() + 256;
        budget.spend(size as u64, 0)?;
        out.push(ApiCall {
            rule_id: rule.id.clone(),
            identifiers: rule.identifiers.clone(),
            permissions: rule.permissions.clone(),
            api,
            callee_proto,
            caller: format!("{cc}->{cm}{cp}"),
            caller_class: cc,
            caller_method: cm,
            caller_proto: cp,
            opcode: OPCODE_NAMES
                .get(usize::from(opcode))
                .copied()
                .unwrap_or("unused"),
            count,
            dex: dex_name.to_string(),
        });
    }
    out.sort_by(|a, b| {
        (&a.caller, &a.api, &a.callee_proto, a.opcode, &a.rule_id).cmp(&(
            &b.caller,
            &b.api,
            &b.callee_proto,
            b.opcode,
            &b.rule_id,
        ))
    });
    Ok(out)
}

fn bits_of(m: &HashMap<u32, Vec<usize>>, n: u32) -> Bits {
    let mut b = Bits::new(n);
    for &i in m.keys() {
        b.set(i);
    }
    b
}

/// Count key: (caller method idx, is field, callee idx, opcode, rule index).
type CountKey = (u32, bool, u32, u8, usize);

struct Matcher<'r> {
    rules: &'r RuleSet,
    method_bits: Bits,
    field_bits: Bits,
    method_rules: &'r HashMap<u32, Vec<usize>>,
    field_rules: &'r HashMap<u32, Vec<usize>>,
    string_slot: &'r HashMap<u32, usize>,
    wanted: &'r [&'r str],
    /// Which wanted strings the current method loads.
    seen: Vec<bool>,
    /// Matching references in the current method: (is field, callee idx, opcode).
    hits: Vec<(bool, u32, u8)>,
    counts: BTreeMap<CountKey, u32>,
}

impl CodeVisitor for Matcher<'_> {
    #[inline]
    fn on_ref(&mut self, r: CodeRef) {
        match r.kind {
            OpKind::Invoke | OpKind::InvokePolymorphic if self.method_bits.get(r.index) => {
                self.hits.push((false, r.index, r.opcode));
            }
            OpKind::FieldRead if self.field_bits.get(r.index) => {
                self.hits.push((true, r.index, r.opcode));
            }
            OpKind::ConstString | OpKind::ConstStringJumbo if !self.string_slot.is_empty() => {
                if let Some(&slot) = self.string_slot.get(&r.index)
                    && let Some(s) = self.seen.get_mut(slot)
                {
                    *s = true;
                }
            }
            _ => {}
        }
    }

    fn on_method_end(&mut self, caller: u32) {
        for (field, callee, opcode) in self.hits.drain(..) {
            let map = if field {
                self.field_rules
            } else {
                self.method_rules
            };
            for &ri in map.get(&callee).map(Vec::as_slice).unwrap_or(&[]) {
                let cond_ok = match self
                    .rules
                    .rules
                    .get(ri)
                    .and_then(|r| r.const_string.as_deref())
                {
                    None => true,
                    Some(c) => self
                        .wanted
                        .iter()
                        .position(|w| *w == c)
                        .and_then(|slot| self.seen.get(slot).copied())
                        .unwrap_or(false),
                };
                if cond_ok {
                    *self
                        .counts
                        .entry((caller, field, callee, opcode, ri))
                        .or_insert(0) += 1;
                }
            }
        }
        self.seen.iter_mut().for_each(|s| *s = false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_rules_load() {
        let rs = RuleSet::try_embedded().expect("embedded rule file is valid");
        assert!(!rs.version().is_empty());
        assert!(rs.len() >= 25);
        let has = |class: &str, member: &str| {
            rs.rules()
                .iter()
                .any(|r| r.class == class && r.member == member)
        };
        let tm = "Landroid/telephony/TelephonyManager;";
        for m in [
            "getDeviceId",
            "getImei",
            "getMeid",
            "getSubscriberId",
            "getSimSerialNumber",
            "getLine1Number",
            "getVoiceMailNumber",
        ] {
            assert!(has(tm, m), "{m}");
        }
        assert!(has("Landroid/telephony/SubscriptionInfo;", "getIccId"));
        assert!(has("Landroid/telephony/SubscriptionInfo;", "getNumber"));
        assert!(has(
            "Landroid/telephony/SubscriptionManager;",
            "getPhoneNumber"
        ));
        assert!(has("Landroid/os/Build;", "getSerial"));
        assert!(rs.rules().iter().any(|r| r.class == "Landroid/os/Build;"
            && r.member == "SERIAL"
            && r.kind == MemberKind::Field));
        assert!(has("Landroid/net/wifi/WifiInfo;", "getMacAddress"));
        assert!(has("Ljava/net/NetworkInterface;", "getHardwareAddress"));
        assert!(has("Landroid/bluetooth/BluetoothAdapter;", "getAddress"));
        for c in [
            "Landroid/provider/Settings$Secure;",
            "Landroid/provider/Settings$System;",
        ] {
            let r = rs
                .rules()
                .iter()
                .find(|r| r.class == c && r.member == "getString")
                .expect("settings rule");
            assert_eq!(r.const_string.as_deref(), Some("android_id"));
        }
        assert!(has(
            "Lcom/google/android/gms/ads/identifier/AdvertisingIdClient;",
            "getAdvertisingIdInfo"
        ));
        assert!(has(
            "Lcom/google/android/gms/ads/identifier/AdvertisingIdClient$Info;",
            "getId"
        ));
        assert!(has(
            "Landroidx/ads/identifier/AdvertisingIdClient;",
            "getAdvertisingIdInfo"
        ));
        for m in [
            "getLastKnownLocation",
            "requestLocationUpdates",
            "getCurrentLocation",
        ] {
            assert!(has("Landroid/location/LocationManager;", m), "{m}");
        }
        for m in ["getLastLocation", "requestLocationUpdates"] {
            assert!(
                has(
                    "Lcom/google/android/gms/location/FusedLocationProviderClient;",
                    m
                ),
                "{m}"
            );
        }
        assert!(RuleSet::embedded().len() == rs.len());
        // Issue 13: cell and Wi-Fi location proxies, IMEISV, TAC, carrier. Each with the kind
        // it reads and the permission Android documents for it.
        let kind_perm = |class: &str, member: &str| {
            let r = rs
                .rules()
                .iter()
                .find(|r| r.class == class && r.member == member)
                .unwrap_or_else(|| panic!("{class}->{member}"));
            (r.identifiers.join(","), r.permissions.clone())
        };
        let fine = "android.permission.ACCESS_FINE_LOCATION".to_string();
        for m in ["getCellLocation", "getAllCellInfo", "requestCellInfoUpdate"] {
            let (k, p) = kind_perm(tm, m);
            assert_eq!(k, "cell_location", "{m}");
            assert!(p.contains(&fine), "{m}");
        }
        for (c, m) in [
            ("Landroid/net/wifi/WifiInfo;", "getBSSID"),
            ("Landroid/net/wifi/WifiInfo;", "getSSID"),
            ("Landroid/net/wifi/WifiManager;", "getScanResults"),
        ] {
            let (k, p) = kind_perm(c, m);
            assert_eq!(k, "wifi_network", "{m}");
            assert!(p.contains(&fine), "{m}");
        }
        assert_eq!(kind_perm(tm, "getDeviceSoftwareVersion").0, "imeisv");
        for m in ["getTypeAllocationCode", "getManufacturerCode"] {
            assert_eq!(kind_perm(tm, m), ("tac".to_string(), vec![]), "{m}");
        }
        for m in [
            "getSimOperator",
            "getSimOperatorName",
            "getNetworkOperator",
            "getNetworkOperatorName",
        ] {
            assert_eq!(kind_perm(tm, m), ("carrier".to_string(), vec![]), "{m}");
        }
        assert!(
            kind_perm("Landroid/telephony/SubscriptionManager;", "getPhoneNumber")
                .1
                .contains(&"android.permission.READ_PHONE_NUMBERS".to_string())
        );
        // Every kind a rule names is one of IDENTIFIER_KINDS, and every kind is used.
        for k in IDENTIFIER_KINDS {
            assert!(
                rs.rules()
                    .iter()
                    .any(|r| r.identifiers.iter().any(|i| i == k)),
                "{k} unused"
            );
        }
    }

    #[test]
    fn rejects_bad_rules() {
        let base = |extra: &str| {
            format!(
                "version = \"t\"\nsource = \"t\"\n[[rule]]\nid = \"x\"\nidentifiers = [\"imei\"]\nclass = \"La/B;\"\nmember = \"m\"\nkind = \"method\"\n{extra}"
            )
        };
        assert!(RuleSet::from_toml(&base("")).is_ok());
        assert!(matches!(
            RuleSet::from_toml(&base("bogus = 1")),
            Err(RuleError::Toml { .. })
        ));
        assert!(matches!(
            RuleSet::from_toml(&base("proto = \"V\"")),
            Err(RuleError::Invalid { .. })
        ));
        let bad_kind = base("").replace("[\"imei\"]", "[\"shoe_size\"]");
        assert!(matches!(
            RuleSet::from_toml(&bad_kind),
            Err(RuleError::Invalid { .. })
        ));
        let bad_class = base("").replace("La/B;", "a.B");
        match RuleSet::from_toml(&bad_class) {
            Err(RuleError::Invalid { at, .. }) => assert!(at > 0),
            other => panic!("{other:?}"),
        }
        let dup = format!(
            "{}\n[[rule]]\nid = \"x\"\nidentifiers = [\"imei\"]\nclass = \"La/B;\"\nmember = \"n\"\nkind = \"method\"\n",
            base("")
        );
        assert!(matches!(
            RuleSet::from_toml(&dup),
            Err(RuleError::Invalid {
                what: "duplicate id",
                ..
            })
        ));
        assert!(matches!(
            RuleSet::from_toml("not toml ["),
            Err(RuleError::Toml { .. })
        ));
    }
}
