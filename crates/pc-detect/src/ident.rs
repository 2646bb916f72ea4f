//! The unit's identifiers: what the lab knows about the phone and SIM under test.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a unit identifier. Serialised in snake_case (`imei`, `wifi_mac`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Imei,
    Meid,
    Imsi,
    Iccid,
    Msisdn,
    Serial,
    WifiMac,
    BtMac,
    AndroidId,
    AdvertisingId,
    Email,
    Location,
    Custom,
}

impl IdentifierKind {
    /// The snake_case name used in case files, JSON output and `--id KIND=VALUE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imei => "imei",
            Self::Meid => "meid",
            Self::Imsi => "imsi",
            Self::Iccid => "iccid",
            Self::Msisdn => "msisdn",
            Self::Serial => "serial",
            Self::WifiMac => "wifi_mac",
            Self::BtMac => "bt_mac",
            Self::AndroidId => "android_id",
            Self::AdvertisingId => "advertising_id",
            Self::Email => "email",
            Self::Location => "location",
            Self::Custom => "custom",
        }
    }

    /// All kinds, in output order.
    pub const ALL: [IdentifierKind; 13] = [
        Self::Imei,
        Self::Meid,
        Self::Imsi,
        Self::Iccid,
        Self::Msisdn,
        Self::Serial,
        Self::WifiMac,
        Self::BtMac,
        Self::AndroidId,
        Self::AdvertisingId,
        Self::Email,
        Self::Location,
        Self::Custom,
    ];

    /// Parse a kind name as written in case files and on the command line.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Persistent identifiers survive a factory reset or identify hardware; the advertising ID
    /// and custom values do not count as persistent.
    pub fn is_persistent(self) -> bool {
        matches!(
            self,
            Self::Imei
                | Self::Meid
                | Self::Imsi
                | Self::Iccid
                | Self::Msisdn
                | Self::Serial
                | Self::WifiMac
                | Self::BtMac
        )
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A geographic position known for the unit, searched as decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
    /// Radius in metres within which a transmitted position counts as the unit's.
    pub radius_m: f64,
}

/// The value of one identifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IdentifierValue {
    Text(String),
    Location(GeoPoint),
}

/// One identifier of the unit under test, as the lab knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identifier {
    pub kind: IdentifierKind,
    /// A name that tells two values of one kind apart: `imei`, `imei2`, `email`, or the custom
    /// name for `custom` values (e.g. `fb_anon_id`).
    pub name: String,
    pub value: IdentifierValue,
    /// For `msisdn`: the country calling code (e.g. `"33"`) used to derive national forms;
    /// taken from an E.164 value when it starts with `+`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_code: Option<String>,
}

impl Identifier {
    /// A text identifier.
    pub fn text(kind: IdentifierKind, name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            value: IdentifierValue::Text(value.into()),
            calling_code: None,
        }
    }
}
