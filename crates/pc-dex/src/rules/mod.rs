//! Identifier-reading API rules and the fast matcher over a [`Dex`](crate::Dex).
//!
//! Rules live in `data/rules/identifier-apis.toml` (embedded at build time so fresh clones work;
//! a different file can be loaded with [`RuleSet::from_path`]). [`find_calls`] first matches the
//! dex's type, method and field id tables against the rules — one pass each, comparing raw
//! MUTF-8 bytes, no decoding — and walks the bytecode only if some id matched (or the dex calls
//! a method by name through reflection: `find.rs`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod find;
pub use find::{ApiCall, REFLECTION_APIS, find_calls};

/// The rule file shipped with phonecert.
const EMBEDDED: &str = include_str!("../../../../data/rules/identifier-apis.toml");

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
