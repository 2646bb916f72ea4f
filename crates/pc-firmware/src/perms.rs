//! The AOSP platform permission table (androguard's extraction of `frameworks/base`
//! `core/res/AndroidManifest.xml`, API 36), and the permissions that give access to phone
//! identifiers.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Embedded copy of `data/permissions/permissions_36.json` (see its SOURCES.md).
const EMBEDDED: &[u8] = include_bytes!("../../../data/permissions/permissions_36.json");
/// API level of the embedded table.
pub const EMBEDDED_API_LEVEL: u32 = 36;

/// Permissions that let an app read phone identifiers (IMEI/MEID, IMSI, ICCID, serial, line
/// number): `TelephonyManager.getImei/getSubscriberId/getSimSerialNumber/getLine1Number`, ...
pub const PHONE_IDENTIFIER_PERMISSIONS: &[&str] = &[
    "android.permission.READ_PHONE_STATE",
    "android.permission.READ_PRIVILEGED_PHONE_STATE",
    "android.permission.READ_PHONE_NUMBERS",
];

/// `android.permission.INTERNET`.
pub const INTERNET: &str = "android.permission.INTERNET";

/// Whether `name` is one of [`PHONE_IDENTIFIER_PERMISSIONS`].
pub fn is_phone_identifier_permission(name: &str) -> bool {
    PHONE_IDENTIFIER_PERMISSIONS.contains(&name)
}

/// The base protection level (the low 4 bits of `protectionLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Base {
    /// Granted at install.
    Normal,
    /// Runtime permission, granted by the user (or pre-granted by the OEM).
    Dangerous,
    /// Granted to apps signed like the declaring package.
    Signature,
    /// Legacy `signatureOrSystem` (= signature|privileged).
    SignatureOrSystem,
    /// Granted only through its flags (role, appop, ...).
    Internal,
    /// Anything else.
    Unknown,
}

/// A protection level string such as `signature|privileged`, split.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Protection {
    /// The base level.
    pub base: Base,
    /// The flags after the base (`privileged`, `development`, `role`, ...).
    pub flags: Vec<String>,
}

impl Protection {
    /// Parses `normal`, `dangerous|instant`, `signature|privileged`, `signatureOrSystem`, and
    /// flag-only forms like `privileged` (base normal, as Android parses it).
    pub fn parse(level: &str) -> Protection {
        let mut base = Base::Normal;
        let mut flags = Vec::new();
        for part in level.split('|').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "normal" => base = Base::Normal,
                "dangerous" => base = Base::Dangerous,
                "signature" => base = Base::Signature,
                "signatureOrSystem" => base = Base::SignatureOrSystem,
                "internal" => base = Base::Internal,
                f if f.starts_with("????") => base = Base::Unknown,
                f => flags.push(f.to_string()),
            }
        }
        Protection { base, flags }
    }

    /// Has the flag `f`.
    pub fn has(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    /// Privileged apps may be granted it (`signature|privileged` or `signatureOrSystem`).
    pub fn privileged(&self) -> bool {
        self.base == Base::SignatureOrSystem || self.has("privileged")
    }
}

/// Errors loading a permission table.
#[derive(Debug, thiserror::Error)]
pub enum PermsError {
    /// Not the androguard JSON shape.
    #[error("bad permission table at {at}: {what}")]
    Format {
        /// Byte offset (0: structural error).
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
}

/// Platform permission name → protection level string.
#[derive(Debug, Clone, Default)]
pub struct PermissionTable {
    levels: BTreeMap<String, String>,
}

impl PermissionTable {
    /// The embedded API 36 table (parsed once).
    pub fn embedded() -> &'static PermissionTable {
        static T: OnceLock<PermissionTable> = OnceLock::new();
        T.get_or_init(|| PermissionTable::from_json(EMBEDDED).unwrap_or_default())
    }

    /// Loads androguard's `permissions_<api>.json` shape: `{"permissions": {name:
    /// {"protectionLevel": "..."}}}`.
    pub fn from_json(bytes: &[u8]) -> Result<PermissionTable, PermsError> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| PermsError::Format {
                at: e.column() as u64,
                what: "not JSON",
            })?;
        let perms = v
            .get("permissions")
            .and_then(|p| p.as_object())
            .ok_or(PermsError::Format {
                at: 0,
                what: "no \"permissions\" object",
            })?;
        let levels = perms
            .iter()
            .map(|(k, p)| {
                let lvl = p
                    .get("protectionLevel")
                    .and_then(|l| l.as_str())
                    .unwrap_or("normal");
                (k.clone(), lvl.to_string())
            })
            .collect();
        Ok(PermissionTable { levels })
    }

    /// The protection level string of a platform permission, e.g. `signature|privileged`.
    pub fn protection_level(&self, name: &str) -> Option<&str> {
        self.levels.get(name).map(String::as_str)
    }

    /// The parsed protection of a platform permission.
    pub fn protection(&self, name: &str) -> Option<Protection> {
        self.protection_level(name).map(Protection::parse)
    }

    /// Number of permissions.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_levels() {
        let t = PermissionTable::embedded();
        assert!(t.len() > 1000);
        assert_eq!(
            t.protection_level("android.permission.READ_PHONE_STATE"),
            Some("dangerous")
        );
        assert_eq!(
            t.protection_level("android.permission.INTERNET"),
            Some("normal|instant")
        );
        let p = t
            .protection("android.permission.READ_PRIVILEGED_PHONE_STATE")
            .unwrap();
        assert_eq!(p.base, Base::Signature);
        assert!(p.privileged());
        assert!(t.protection("com.example.NOPE").is_none());
        assert!(PermissionTable::from_json(b"{}").is_err());
        assert!(PermissionTable::from_json(b"garbage").is_err());
    }
}
