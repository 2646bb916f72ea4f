//! The case file: one unit under test, its identifiers and its test phases.
//!
//! A case is written by the lab as `case.toml` (format: `docs/case-format.md`). Paths inside it are
//! relative to the file's own folder. Later stages (firmware, keys, policy) add tables to the same
//! file; unknown tables are rejected so that a typo never silently drops evidence.
#![forbid(unsafe_code)]

use pc_detect::{GeoPoint, Identifier, IdentifierKind, IdentifierValue};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Errors reading or checking a case file.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The user's consent state during a test phase.
///
/// The default is `None`, the strictest state (every consent-gated requirement applies), for
/// records built before their phase is known.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Nothing has been asked or answered yet (first boot, before any dialog).
    #[default]
    None,
    /// The user declined everything offered.
    Declined,
    /// The user opted in.
    Granted,
}

impl Consent {
    /// The name used in case files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::None => "none",
            Consent::Declined => "declined",
            Consent::Granted => "granted",
        }
    }
}

impl fmt::Display for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The device model and build under test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub manufacturer: String,
    pub model: String,
    #[serde(default)]
    pub build_fingerprint: Option<String>,
}

/// One value or several values of an identifier (`imei = "…"` or `imei = ["…", "…"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(v) => vec![v.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// The unit's identifiers as written in the case file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierTable {
    #[serde(default)]
    pub imei: Option<OneOrMany>,
    #[serde(default)]
    pub meid: Option<OneOrMany>,
    #[serde(default)]
    pub imsi: Option<OneOrMany>,
    #[serde(default)]
    pub iccid: Option<OneOrMany>,
    #[serde(default)]
    pub msisdn: Option<OneOrMany>,
    /// Country calling code for national phone-number forms when `msisdn` is not in `+E.164`.
    #[serde(default)]
    pub calling_code: Option<String>,
    #[serde(default)]
    pub serial: Option<OneOrMany>,
    #[serde(default)]
    pub wifi_mac: Option<OneOrMany>,
    #[serde(default)]
    pub bt_mac: Option<OneOrMany>,
    #[serde(default)]
    pub android_id: Option<OneOrMany>,
    #[serde(default)]
    pub advertising_id: Option<OneOrMany>,
    #[serde(default)]
    pub email: Option<OneOrMany>,
    #[serde(default)]
    pub location: Option<GeoPoint>,
    /// Other named values (account ids, vendor device ids …).
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
    /// Search values that fail their kind's check (IMEI Luhn digit, IMSI length, MAC …)
    /// anyway: `force = true` in `[identifiers]`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

impl IdentifierTable {
    /// Flatten into the list the matcher takes. A second value of a kind is named `imei2`, …
    pub fn to_identifiers(&self) -> Vec<Identifier> {
        let mut out = Vec::new();
        let mut push = |kind: IdentifierKind, v: &Option<OneOrMany>| {
            if let Some(v) = v {
                for (i, value) in v.values().into_iter().enumerate() {
                    let name = if i == 0 {
                        kind.as_str().to_string()
                    } else {
                        format!("{}{}", kind.as_str(), i + 1)
                    };
                    out.push(Identifier::text(kind, name, value.trim()));
                }
            }
        };
        push(IdentifierKind::Imei, &self.imei);
        push(IdentifierKind::Meid, &self.meid);
        push(IdentifierKind::Imsi, &self.imsi);
        push(IdentifierKind::Iccid, &self.iccid);
        push(IdentifierKind::Msisdn, &self.msisdn);
        push(IdentifierKind::Serial, &self.serial);
        push(IdentifierKind::WifiMac, &self.wifi_mac);
        push(IdentifierKind::BtMac, &self.bt_mac);
        push(IdentifierKind::AndroidId, &self.android_id);
        push(IdentifierKind::AdvertisingId, &self.advertising_id);
        push(IdentifierKind::Email, &self.email);
        if let Some(cc) = &self.calling_code {
            for id in out.iter_mut().filter(|i| i.kind == IdentifierKind::Msisdn) {
                id.calling_code = Some(cc.trim_start_matches('+').to_string());
            }
        }
        if let Some(p) = self.location {
            out.push(Identifier {
                kind: IdentifierKind::Location,
                name: "location".into(),
                value: IdentifierValue::Location(p),
                calling_code: None,
            });
        }
        for (name, value) in &self.custom {
            out.push(Identifier::text(
                IdentifierKind::Custom,
                name.clone(),
                value.trim(),
            ));
        }
        out
    }
}

/// One test phase: what the phone sent while the user was in one consent state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: String,
    pub consent: Consent,
    #[serde(default)]
    pub description: Option<String>,
    /// Capture files (pcap, pcapng, HAR; optionally gzip-compressed), relative to the case file.
    #[serde(default)]
    pub captures: Vec<PathBuf>,
    /// NSS key log files (`SSLKEYLOGFILE`) for TLS decryption, relative to the case file.
    #[serde(default)]
    pub keylogs: Vec<PathBuf>,
    /// System logs saved during the phase (text, e.g. `adb logcat -d`), relative to the case
    /// file: searched for identifiers.
    #[serde(default)]
    pub logs: Vec<PathBuf>,
}

/// Optional header of the case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub lab: Option<String>,
}

/// The firmware under test: the folder of its extracted partitions, or what the manufacturer
/// shipped (images, a factory or OTA package), one path or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareSpec {
    /// `path = "firmware/"` (a folder with `system/`, `product/`, `vendor/` …),
    /// `path = "factory.tgz"`, or `path = ["super.img", "vbmeta.img"]` (relative to the case
    /// file).
    pub path: FirmwarePaths,
    /// The firmware version as the manufacturer names it.
    #[serde(default)]
    pub version: Option<String>,
}

/// One path or several (`path = "x"` or `path = ["x", "y"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwarePaths(pub Vec<PathBuf>);

impl FirmwarePaths {
    /// The paths, in the order given.
    pub fn paths(&self) -> &[PathBuf] {
        &self.0
    }
}

impl Serialize for FirmwarePaths {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FirmwarePaths {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(PathBuf),
            Many(Vec<PathBuf>),
        }
        let v = match OneOrMany::deserialize(d)? {
            OneOrMany::One(p) => vec![p],
            OneOrMany::Many(v) => v,
        };
        if v.is_empty() {
            return Err(serde::de::Error::custom(
                "[firmware] path: the list is empty",
            ));
        }
        Ok(FirmwarePaths(v))
    }
}

/// A whole case file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default)]
    pub case: CaseInfo,
    pub device: Device,
    #[serde(default)]
    pub identifiers: IdentifierTable,
    #[serde(default, rename = "phase")]
    pub phases: Vec<Phase>,
    /// The firmware to analyse (`phonecert firmware` / `audit`).
    #[serde(default)]
    pub firmware: Option<FirmwareSpec>,
    /// Certification policy (declared recipients, allowed countries …), read by the
    /// certification stage; kept as TOML here so this crate does not depend on it.
    #[serde(default)]
    pub policy: Option<toml::Table>,
    /// The folder the case file is in; capture paths are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Case {
    /// Read and check a case file.
    pub fn load(path: &Path) -> Result<Case, CaseError> {
        let text = std::fs::read_to_string(path).map_err(|source| CaseError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        Case::parse(&text, path, base)
    }

    /// Parse case text; `path` is used in messages, `base_dir` to resolve relative paths.
    pub fn parse(text: &str, path: &Path, base_dir: PathBuf) -> Result<Case, CaseError> {
        let mut case: Case = toml::from_str(text).map_err(|e| CaseError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        case.base_dir = base_dir;
        case.check().map_err(|message| CaseError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(case)
    }

    fn check(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for p in &self.phases {
            if p.name.trim().is_empty() {
                return Err("a phase has an empty name".into());
            }
            if !names.insert(p.name.as_str()) {
                return Err(format!("phase `{}` is defined twice", p.name));
            }
        }
        for id in self.identifiers.to_identifiers() {
            if let IdentifierValue::Text(v) = &id.value {
                if v.is_empty() {
                    return Err(format!("identifier `{}` is empty", id.name));
                }
                if !self.identifiers.force
                    && let Err(e) = pc_detect::validate(id.kind, v)
                {
                    return Err(format!(
                        "identifier `{}`: {e} (set `force = true` in [identifiers] to search it anyway)",
                        id.name
                    ));
                }
            }
        }
        if let Some(p) = self.identifiers.location
            && (!(-90.0..=90.0).contains(&p.lat) || !(-180.0..=180.0).contains(&p.lon))
        {
            return Err("location: lat must be in [-90, 90] and lon in [-180, 180]".into());
        }
        Ok(())
    }

    /// The unit's identifiers, flattened.
    pub fn identifiers(&self) -> Vec<Identifier> {
        self.identifiers.to_identifiers()
    }

    /// A path from the case file, resolved against the case file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[case]
id = "LAB-2026-0042"

[device]
manufacturer = "Acme"
model = "A1"
build_fingerprint = "acme/a1/a1:14/UP1A/1:user/release-keys"

[identifiers]
imei = ["356938035643809", "356938035643817"]
msisdn = "+33612345678"
wifi_mac = "02:00:5e:10:00:01"
email = ["owner@example.org"]
location = { lat = 48.8566, lon = 2.3522, radius_m = 500.0 }
custom = { vendor_id = "VX-0099-1234" }

[[phase]]
name = "first-boot"
consent = "none"
captures = ["captures/first-boot.pcapng"]

[[phase]]
name = "declined"
consent = "declined"
captures = ["/abs/declined.har"]
"#;

    #[test]
    fn parses_sample_and_flattens_identifiers() {
        let case =
            Case::parse(SAMPLE, Path::new("case.toml"), PathBuf::from("/lab/case1")).unwrap();
        assert_eq!(case.device.model, "A1");
        assert_eq!(case.phases.len(), 2);
        assert_eq!(case.phases[1].consent, Consent::Declined);
        let ids = case.identifiers();
        let names: Vec<_> = ids.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "imei",
                "imei2",
                "msisdn",
                "wifi_mac",
                "email",
                "location",
                "vendor_id"
            ]
        );
        assert_eq!(ids[6].kind, IdentifierKind::Custom);
        assert_eq!(
            case.resolve(&case.phases[0].captures[0]),
            PathBuf::from("/lab/case1/captures/first-boot.pcapng")
        );
        assert_eq!(
            case.resolve(&case.phases[1].captures[0]),
            PathBuf::from("/abs/declined.har")
        );
    }

    #[test]
    fn rejects_unknown_fields_duplicate_phases_and_bad_consent() {
        let bad_field = SAMPLE.replace("wifi_mac", "wiffi_mac");
        assert!(matches!(
            Case::parse(&bad_field, Path::new("c.toml"), PathBuf::new()),
            Err(CaseError::Syntax { .. })
        ));
        let dup = SAMPLE.replace("name = \"declined\"", "name = \"first-boot\"");
        let err = Case::parse(&dup, Path::new("c.toml"), PathBuf::new()).unwrap_err();
        assert!(err.to_string().contains("defined twice"), "{err}");
        let consent = SAMPLE.replace("consent = \"none\"", "consent = \"maybe\"");
        assert!(Case::parse(&consent, Path::new("c.toml"), PathBuf::new()).is_err());
        let loc = SAMPLE.replace("lat = 48.8566", "lat = 148.8566");
        assert!(Case::parse(&loc, Path::new("c.toml"), PathBuf::new()).is_err());
    }

    #[test]
    fn identifiers_are_validated_unless_forced() {
        let bad = SAMPLE.replace("356938035643817", "356938035643818");
        let err = Case::parse(&bad, Path::new("c.toml"), PathBuf::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: identifier `imei2`: IMEI 356938035643818 fails the Luhn check (set `force = true` in [identifiers] to search it anyway)"
        );
        let forced = bad.replace("[identifiers]\n", "[identifiers]\nforce = true\n");
        let case = Case::parse(&forced, Path::new("c.toml"), PathBuf::new()).unwrap();
        assert_eq!(
            case.identifiers()[1].value,
            IdentifierValue::Text("356938035643818".into())
        );
        let mac = SAMPLE.replace("02:00:5e:10:00:01", "02:00:5e:10:00");
        let err = Case::parse(&mac, Path::new("c.toml"), PathBuf::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("MAC 02:00:5e:10:00 is not 6 hex octets"),
            "{err}"
        );
    }

    #[test]
    fn calling_code_applies_to_msisdn() {
        let text = SAMPLE.replace(
            "msisdn = \"+33612345678\"",
            "msisdn = \"0612345678\"\ncalling_code = \"+33\"",
        );
        let case = Case::parse(&text, Path::new("c.toml"), PathBuf::new()).unwrap();
        let m = case
            .identifiers()
            .into_iter()
            .find(|i| i.kind == IdentifierKind::Msisdn)
            .unwrap();
        assert_eq!(m.calling_code.as_deref(), Some("33"));
    }
}
