//! The evidence the checks decide on, in this crate's own terms.
//!
//! This is the ONLY module that reads pc-traffic and pc-firmware types: when their reports
//! change shape, only the conversions here need to follow.

use pc_case::{Case, Consent};
use pc_firmware::FirmwareReport;
use pc_traffic::TrafficReport;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// One identifier transmission (a pc-traffic finding), with its index in the traffic report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingFact {
    /// Index in the traffic report's `findings`.
    pub index: usize,
    /// Identifier kind (`imei`, …).
    pub identifier: String,
    /// Identifier name in the case (`imei2`, custom names).
    pub name: String,
    /// Encoding chain, outermost first.
    pub encoding: Vec<String>,
    /// Field (`url`, `header:x`, `body`, `sni`, …).
    #[serde(rename = "where")]
    pub location: String,
    pub protocol: String,
    /// Readable on the wire (not protected by TLS/QUIC).
    pub cleartext: bool,
    pub host: Option<String>,
    pub ip: Option<String>,
    pub port: Option<u16>,
    pub country: Option<String>,
    pub phase: String,
    pub consent: Option<Consent>,
    pub app: Option<String>,
    pub capture: String,
    pub frames: Vec<u64>,
    pub entries: Vec<u64>,
    pub count: u64,
    /// Unix nanoseconds; RFC 3339 text in the audit, as in the traffic report.
    #[serde(with = "pc_traffic::model::rfc3339_opt")]
    pub first_seen: Option<i64>,
    #[serde(with = "pc_traffic::model::rfc3339_opt")]
    pub last_seen: Option<i64>,
    /// Masked context (masked by pc-traffic unless `--reveal`).
    pub snippet: String,
}

impl FindingFact {
    /// Host, else IP, else `?`.
    pub fn target(&self) -> &str {
        self.host.as_deref().or(self.ip.as_deref()).unwrap_or("?")
    }

    /// A one-line description for evidence lists.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}) via {} {} to {}{} [{}], phase {}{}",
            self.name,
            self.encoding.join("/"),
            self.protocol,
            self.location,
            self.target(),
            self.country
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default(),
            if self.cleartext {
                "cleartext"
            } else {
                "encrypted"
            },
            self.phase,
            self.app
                .as_deref()
                .map(|a| format!(", app {a}"))
                .unwrap_or_default(),
        )
    }
}

/// A contacted destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestFact {
    pub index: usize,
    pub host: Option<String>,
    pub ips: Vec<String>,
    pub port: u16,
    pub protocol: String,
    pub country: Option<String>,
    pub countries: Vec<String>,
    pub bytes_sent: u64,
    /// Of `bytes_sent`, what the traffic analysis could read.
    #[serde(default)]
    pub bytes_sent_inspected: u64,
    pub cleartext_data_sent: bool,
    pub tls_versions: Vec<String>,
    pub phases: Vec<String>,
    pub apps: Vec<String>,
    /// Trackers the destination belongs to (its host or SNI matches their Exodus network
    /// signature).
    #[serde(default)]
    pub tracker_network: Vec<String>,
}

impl DestFact {
    /// Host, else first IP.
    pub fn name(&self) -> String {
        self.host
            .clone()
            .or_else(|| self.ips.first().cloned())
            .unwrap_or_else(|| "?".into())
    }

    /// Bytes sent there that the analysis could not read (TLS/QUIC without keys; TLS whose
    /// key log covered only part of it).
    pub fn uninspected_bytes(&self) -> u64 {
        self.bytes_sent.saturating_sub(self.bytes_sent_inspected)
    }
}

/// A TLS/QUIC handshake seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsConn {
    pub capture: String,
    pub frame: u64,
    pub protocol: String,
    pub server: String,
    pub sni: Option<String>,
    /// Negotiated version, when the server's answer was seen.
    pub version: Option<String>,
}

/// How much a phase's captures show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseCoverage {
    pub phase: String,
    pub consent: Option<Consent>,
    /// Captures the case lists for the phase.
    pub captures_declared: usize,
    /// Inputs the traffic analysis read for the phase.
    pub inputs: usize,
    /// Inputs that could be read and held packets or HAR entries.
    pub usable_inputs: usize,
    pub packets: u64,
    pub har_entries: u64,
    pub tls_key_log_blocks: u64,
    /// Bytes sent to destinations seen in the phase.
    pub bytes_sent: u64,
    /// Of which TLS/QUIC that could not be inspected.
    pub uninspected_bytes: u64,
    /// Read errors.
    pub errors: Vec<String>,
    /// Inputs that stopped part-way (a bad record, a cut file): what follows the offset was
    /// never analysed, so they are only partly usable.
    #[serde(default)]
    pub partly_usable_inputs: usize,
    /// Where each of them stopped: `capture: stopped at byte N (reason)`.
    #[serde(default)]
    pub stops: Vec<String>,
    /// Pieces of what the phone sent that were cut by a limit or could not be decoded whole.
    #[serde(default)]
    pub cuts: u64,
    /// Bytes known not to have been searched because of those cuts (a lower bound).
    #[serde(default)]
    pub bytes_not_searched: u64,
    /// Bytes the phone sent that the capture lost (TCP gaps); counted as uninspected.
    #[serde(default)]
    pub gap_bytes_sent: u64,
    /// The first cuts, each with capture, frame or entry, connection and what was cut.
    #[serde(default)]
    pub first_cuts: Vec<String>,
}

/// Cuts listed by place per phase; the rest are counted.
pub const MAX_CUTS_LISTED: usize = 20;

impl PhaseCoverage {
    /// Whether some of what the phone sent in this phase was not searched whole, or some input
    /// stopped part-way: absence of a finding then proves nothing about the unread part.
    pub fn has_cuts(&self) -> bool {
        self.cuts > 0 || self.partly_usable_inputs > 0
    }

    /// Share of sent bytes that could not be inspected (0 when nothing was sent).
    pub fn uninspected_ratio(&self) -> f64 {
        if self.bytes_sent == 0 {
            0.0
        } else {
            self.uninspected_bytes as f64 / self.bytes_sent as f64
        }
    }
}

/// Everything the traffic checks use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficEvidence {
    pub findings: Vec<FindingFact>,
    pub destinations: Vec<DestFact>,
    pub connections: Vec<TlsConn>,
    /// Keyed by phase name.
    pub phases: BTreeMap<String, PhaseCoverage>,
}

/// One identifier-reading call site summary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallFact {
    pub api: String,
    pub identifiers: Vec<String>,
    pub count: u32,
    /// Called by name through reflection (`const-string` of the method name near
    /// `Method.invoke`), as obfuscated preloads do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub indirect: bool,
}

/// Everything the firmware checks (and diffs) use about one app.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppFact {
    pub package: String,
    pub path: String,
    pub partition: String,
    pub privileged: bool,
    pub version_code: Option<u64>,
    pub version_name: Option<String>,
    /// SHA-256 of the APK file, when known.
    pub apk_sha256: Option<String>,
    /// Requested permissions.
    pub permissions: Vec<String>,
    /// Permissions granted without asking (privapp allowlist, default grants, first boot).
    pub pre_granted: Vec<String>,
    pub debuggable: bool,
    /// Base cleartext policy (manifest or network security config base-config).
    pub allows_cleartext: bool,
    /// Domains the network security config permits cleartext for.
    pub cleartext_domains: Vec<String>,
    /// Whether signing was analysed.
    pub signing_known: bool,
    pub signature_verified: bool,
    /// SHA-256 of the first signer certificate.
    pub signer: Option<String>,
    pub platform_signed: bool,
    pub test_key: Option<String>,
    pub debug_cert: bool,
    pub identifier_calls: Vec<CallFact>,
    /// Whether its code was analysed: `Some(true)` DEX analysed, `Some(false)` it has code
    /// that was not analysed (odex only, unreadable), `None` no code.
    pub code_analysed: Option<bool>,
    /// Names of the trackers the app embeds (code signatures, as exodus-core decides them).
    pub trackers: Vec<String>,
    /// Endpoint values (URLs, hosts, addresses).
    pub endpoints: Vec<String>,
    /// Why the app could not be analysed.
    pub error: Option<String>,
    /// Shown by the launcher (a user-facing app).
    #[serde(default)]
    pub launcher: bool,
    /// Basic functions of the phone it provides, each with what shows it.
    #[serde(default)]
    pub functions: Vec<FunctionFact>,
    /// Dangerous (runtime) permissions granted to it by the image's `default-permissions`
    /// files, without the user being asked.
    #[serde(default)]
    pub default_granted_dangerous: Vec<String>,
}

/// A basic function an app provides (`settings`, `camera`, `phone`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionFact {
    pub name: String,
    /// The component and intent that show it.
    pub because: String,
}

impl AppFact {
    /// Package, or path when the package is unknown.
    pub fn key(&self) -> &str {
        if self.package.is_empty() {
            &self.path
        } else {
            &self.package
        }
    }
}

/// One input file of the firmware and its SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDigest {
    /// File name as given (without its folder: the digest, not the lab's disk layout, is
    /// what identifies it).
    pub name: String,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// Everything the firmware checks use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FirmwareEvidence {
    pub apps: Vec<AppFact>,
    /// The build's own facts (build.prop, verified boot).
    #[serde(default)]
    pub build: pc_firmware::buildinfo::BuildFacts,
    /// The image and package files the firmware was read from, with their digests (none for
    /// an extracted folder).
    #[serde(default)]
    pub images: Vec<ImageDigest>,
    /// Uraniborg-compatible score (0..=max) and its maximum.
    pub risk_total: Option<f64>,
    pub risk_max: Option<f64>,
    pub errors: Vec<String>,
}

/// Converts a traffic report; `case` supplies the phases' consent and declared captures.
pub fn from_traffic(t: &TrafficReport, case: &Case) -> TrafficEvidence {
    // The case decides a phase's consent; the report's own is for phases the case lacks.
    let consent_of = |phase: &str, reported: Consent| -> Option<Consent> {
        Some(
            case.phases
                .iter()
                .find(|p| p.name == phase)
                .map_or(reported, |p| p.consent),
        )
    };
    let findings = t
        .findings
        .iter()
        .enumerate()
        .map(|(index, f)| FindingFact {
            index,
            identifier: f.identifier.clone(),
            name: f.identifier_name.clone(),
            encoding: f.encoding.clone(),
            location: f.location.clone(),
            protocol: f.protocol.to_string(),
            // The SNI of a TLS handshake is readable on the wire too: pc-traffic marks it
            // `encrypted_on_wire = false`, like HTTP and DNS.
            cleartext: !f.encrypted_on_wire,
            host: f.host.clone(),
            ip: f.ip.clone(),
            port: f.port,
            country: f.country.clone(),
            phase: f.phase.clone(),
            consent: consent_of(&f.phase, f.consent),
            app: f.app.clone(),
            capture: f.capture.clone(),
            frames: f.evidence.frames.clone(),
            entries: f.evidence.entries.clone(),
            count: f.count,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            snippet: f.evidence.snippet.clone(),
        })
        .collect();
    let destinations: Vec<DestFact> = t
        .destinations
        .iter()
        .enumerate()
        .map(|(index, d)| DestFact {
            index,
            host: d.host.clone(),
            ips: d.ips.clone(),
            port: d.port,
            protocol: d.protocol.to_string(),
            country: d.country.clone(),
            countries: d.countries.clone(),
            bytes_sent: d.bytes_sent,
            bytes_sent_inspected: d.bytes_sent_inspected,
            cleartext_data_sent: d.cleartext_data_sent,
            tls_versions: d.tls_versions.clone(),
            phases: d.phases.clone(),
            apps: d.apps.clone(),
            tracker_network: d.tracker_network.clone(),
        })
        .collect();
    let connections = t
        .handshakes
        .iter()
        .map(|h| TlsConn {
            capture: h.capture.clone(),
            frame: h.frame,
            protocol: h.protocol.to_string(),
            server: format!("{}:{}", h.server_ip, h.server_port),
            sni: h.sni.clone(),
            version: h.version_chosen.clone(),
        })
        .collect();
    let mut phases: BTreeMap<String, PhaseCoverage> = BTreeMap::new();
    for p in &case.phases {
        let e = phases.entry(p.name.clone()).or_default();
        e.phase = p.name.clone();
        e.consent = Some(p.consent);
        e.captures_declared = p.captures.len();
    }
    for i in &t.inputs {
        let e = phases.entry(i.phase.clone()).or_default();
        if e.phase.is_empty() {
            e.phase = i.phase.clone();
            e.consent = consent_of(&i.phase, i.consent);
        }
        e.inputs += 1;
        if !i.failed && (i.packets > 0 || i.har_entries > 0) {
            e.usable_inputs += 1;
        }
        e.packets = e.packets.saturating_add(i.packets);
        e.har_entries = e.har_entries.saturating_add(i.har_entries);
        e.tls_key_log_blocks = e.tls_key_log_blocks.saturating_add(i.tls_key_log_blocks);
        e.errors.extend(i.errors.iter().take(20).cloned());
        if let Some(at) = i.stopped_at {
            e.partly_usable_inputs += 1;
            let why = i.errors.last().map_or(String::new(), |r| format!(" ({r})"));
            e.stops
                .push(format!("{}: stopped at byte {at}{why}", i.path));
        }
        let c = &i.coverage;
        e.cuts = e.cuts.saturating_add(c.cuts);
        e.bytes_not_searched = e.bytes_not_searched.saturating_add(c.bytes_not_searched);
        e.gap_bytes_sent = e.gap_bytes_sent.saturating_add(c.gap_bytes_sent);
        for cut in &c.first_cuts {
            if e.first_cuts.len() >= MAX_CUTS_LISTED {
                break;
            }
            e.first_cuts.push(describe_cut(&i.path, cut));
        }
    }
    // A destination seen in several phases has its bytes counted in each: ratios stay
    // meaningful per phase even though pc-traffic does not split bytes by phase.
    for d in &destinations {
        for ph in &d.phases {
            if let Some(e) = phases.get_mut(ph) {
                e.bytes_sent = e.bytes_sent.saturating_add(d.bytes_sent);
                e.uninspected_bytes = e.uninspected_bytes.saturating_add(d.uninspected_bytes());
            }
        }
    }
    // Bytes the capture lost on the way to a server are bytes nobody searched: they count
    // against the phase like TLS without keys (a capture started mid-connection loses some;
    // the coverage threshold decides whether that is too much).
    for e in phases.values_mut() {
        e.bytes_sent = e.bytes_sent.saturating_add(e.gap_bytes_sent);
        e.uninspected_bytes = e.uninspected_bytes.saturating_add(e.gap_bytes_sent);
    }
    TrafficEvidence {
        findings,
        destinations,
        connections,
        phases,
    }
}

/// One cut, said so that a reviewer can open the capture at the place.
fn describe_cut(capture: &str, c: &pc_traffic::model::Cut) -> String {
    let mut at = String::from(capture);
    if let Some(f) = c.frame {
        at.push_str(&format!(" frame {f}"));
    }
    if let Some(e) = c.entry {
        at.push_str(&format!(" entry {e}"));
    }
    if let Some(flow) = &c.flow {
        at.push_str(&format!(" ({flow})"));
    }
    let bytes = if c.bytes > 0 {
        format!(", {} bytes not searched", c.bytes)
    } else {
        String::new()
    };
    format!("{at}: {}{bytes}", c.what)
}

/// Converts a firmware report; `apk_sha256` maps app paths to their APK digests.
pub fn from_firmware(
    fw: &FirmwareReport,
    apk_sha256: &BTreeMap<String, String>,
) -> FirmwareEvidence {
    let apps = fw
        .apps
        .iter()
        .map(|a| {
            let s = a.signing.as_ref();
            let mut pre: BTreeSet<String> = a.privileged_granted.iter().cloned().collect();
            pre.extend(a.default_granted.iter().map(|(p, _)| p.clone()));
            pre.extend(a.granted_at_boot.iter().cloned());
            let table = pc_firmware::perms::PermissionTable::embedded();
            let mut dangerous: Vec<String> = a
                .default_granted
                .iter()
                .map(|(p, _)| p)
                .filter(|p| {
                    table
                        .protection(p)
                        .is_some_and(|x| x.base == pc_firmware::perms::Base::Dangerous)
                })
                .cloned()
                .collect();
            dangerous.sort();
            dangerous.dedup();
            let mut trackers: Vec<String> = a.trackers.iter().map(|t| t.name.clone()).collect();
            trackers.sort();
            trackers.dedup();
            AppFact {
                package: a.package.clone(),
                path: a.path.clone(),
                partition: a.partition.clone(),
                privileged: a.privileged,
                version_code: a.version_code,
                version_name: a.version_name.clone(),
                apk_sha256: apk_sha256
                    .get(&a.path)
                    .cloned()
                    .or_else(|| a.sha256.clone()),
                permissions: a.permissions.clone(),
                pre_granted: pre.into_iter().collect(),
                debuggable: a.debuggable,
                allows_cleartext: a.uses_cleartext_traffic,
                cleartext_domains: a.cleartext_domains.clone(),
                signing_known: s.is_some_and(|s| !s.certificates.is_empty() || s.verified),
                signature_verified: s.is_some_and(|s| s.verified),
                signer: s.and_then(|s| s.certificates.first().cloned()),
                platform_signed: s.is_some_and(|s| s.platform_signed),
                test_key: s.and_then(|s| s.test_key.clone()),
                debug_cert: s.is_some_and(|s| s.debug_cert),
                identifier_calls: a
                    .identifier_calls
                    .iter()
                    .map(|c| CallFact {
                        api: c.api.clone(),
                        identifiers: c.identifiers.clone(),
                        count: c.count,
                        indirect: c.indirect,
                    })
                    .collect(),
                code_analysed: if !a.has_code {
                    None
                } else {
                    Some(!a.dex_files.is_empty() && a.error.is_none())
                },
                trackers,
                endpoints: a.endpoints.iter().map(|e| e.value.clone()).collect(),
                error: a.error.clone(),
                launcher: a.launcher,
                functions: a
                    .functions
                    .iter()
                    .map(|f| FunctionFact {
                        name: f.name.clone(),
                        because: f.because.clone(),
                    })
                    .collect(),
                default_granted_dangerous: dangerous,
            }
        })
        .collect();
    let u = &fw.risk.uraniborg;
    // An empty score (no baseline/config) is "not scored", not a perfect 0.
    let scored = !u.config_version.is_empty() || u.max > 0.0;
    FirmwareEvidence {
        apps,
        build: fw.build.clone(),
        images: fw
            .inputs
            .iter()
            .filter_map(|i| {
                let name = Path::new(&i.path)
                    .file_name()?
                    .to_string_lossy()
                    .into_owned();
                Some(ImageDigest {
                    name,
                    sha256: i.sha256.clone()?,
                })
            })
            .collect(),
        risk_total: scored.then_some(u.total),
        risk_max: scored.then_some(u.max),
        errors: fw.errors.clone(),
    }
}

/// Streams a file through SHA-256 (lower-case hex); errors when larger than `max`.
pub fn sha256_file(path: &Path, max: u64) -> std::io::Result<String> {
    let f = std::fs::File::open(path)?;
    let mut r = f.take(max.saturating_add(1));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total = total.saturating_add(n as u64);
        if total > max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "file larger than the hashing limit",
            ));
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(h.finalize()))
}

/// The firmware digest a certificate names: SHA-256 over the sorted lines
/// `package TAB version_code TAB version_name TAB apk_sha256 TAB signer LF` of every app
/// (`-` for unknown values), and `image TAB file name TAB sha256 LF` of every image or package
/// the firmware was read from, as `sha256:<hex>`.
pub fn firmware_digest(apps: &[AppFact], images: &[ImageDigest]) -> String {
    let dash = |s: Option<&str>| s.unwrap_or("-").replace(['\t', '\n'], " ");
    let mut lines: Vec<String> = apps
        .iter()
        .map(|a| {
            format!(
                "{}\t{}\t{}\t{}\t{}\n",
                dash(Some(a.key())),
                a.version_code.map_or("-".into(), |v| v.to_string()),
                dash(a.version_name.as_deref()),
                dash(a.apk_sha256.as_deref()),
                dash(a.signer.as_deref()),
            )
        })
        .collect();
    // Images add `image TAB name TAB sha256 LF` lines; a firmware read from a folder has
    // none, so its digest is what it always was.
    lines.extend(
        images
            .iter()
            .map(|i| format!("image\t{}\t{}\n", dash(Some(&i.name)), i.sha256)),
    );
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}
