//! Human output: progress bars and plain-text tables.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pc_traffic::TrafficReport;
use std::io::{self, Write};

/// A byte progress bar on stderr; indicatif hides it when stderr is not a terminal.
pub fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Left-aligned columns sized to their widest cell.
fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(
        out,
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    )?;
    for r in rows {
        line(out, r)?;
    }
    Ok(())
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

/// The traffic summary: identifiers per destination, then every destination, then inputs.
pub fn write_traffic(out: &mut dyn Write, r: &TrafficReport) -> io::Result<()> {
    writeln!(out, "IDENTIFIERS SENT ({} findings)", r.findings.len())?;
    if r.findings.is_empty() {
        writeln!(
            out,
            "  none of the {} identifiers was found",
            r.search.identifiers.len()
        )?;
    } else {
        let rows: Vec<Vec<String>> = r
            .findings
            .iter()
            .map(|f| {
                vec![
                    f.phase.clone(),
                    f.consent.to_string(),
                    f.identifier_name.clone(),
                    f.encoding.join(">"),
                    f.location.clone(),
                    opt(&f.host),
                    opt(&f.country),
                    f.protocol.to_string(),
                    if f.encrypted_on_wire {
                        "encrypted".into()
                    } else {
                        "CLEAR".into()
                    },
                    f.count.to_string(),
                    opt(&f.app),
                ]
            })
            .collect();
        table(
            out,
            &[
                "PHASE",
                "CONSENT",
                "IDENTIFIER",
                "FORM",
                "WHERE",
                "HOST",
                "CC",
                "PROTO",
                "WIRE",
                "COUNT",
                "APP",
            ],
            &rows,
        )?;
    }
    writeln!(out)?;
    writeln!(out, "DESTINATIONS ({})", r.destinations.len())?;
    let rows: Vec<Vec<String>> = r
        .destinations
        .iter()
        .map(|d| {
            vec![
                opt(&d.host),
                d.ips.first().cloned().unwrap_or_default()
                    + &if d.ips.len() > 1 {
                        format!(" +{}", d.ips.len() - 1)
                    } else {
                        String::new()
                    },
                d.port.to_string(),
                d.protocol.to_string(),
                opt(&d.country),
                d.asn
                    .map(|a| format!("AS{a}"))
                    .unwrap_or_else(|| "-".into()),
                opt(&d.org).chars().take(28).collect(),
                d.flows.to_string(),
                d.bytes_sent.to_string(),
                d.bytes_received.to_string(),
                if d.cleartext_data_sent {
                    "yes".into()
                } else {
                    "no".into()
                },
                if d.tracker_network.is_empty() {
                    "-".into()
                } else {
                    d.tracker_network.join(", ")
                },
            ]
        })
        .collect();
    table(
        out,
        &[
            "HOST",
            "IP",
            "PORT",
            "PROTO",
            "CC",
            "ASN",
            "ORG",
            "FLOWS",
            "SENT",
            "RECEIVED",
            "CLEARTEXT",
            "TRACKER",
        ],
        &rows,
    )?;
    writeln!(out)?;
    writeln!(out, "INPUTS")?;
    let rows: Vec<Vec<String>> = r
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.path.clone(),
                i.phase.clone(),
                i.format.clone(),
                if i.format == "har" {
                    format!("{} entries", i.har_entries)
                } else {
                    format!("{} packets", i.packets)
                },
                i.bytes.to_string(),
                // The share of encrypted bytes the key material given let us inspect.
                if i.tls_bytes == 0 {
                    "-".into()
                } else {
                    format!(
                        "{:.0}% of {}",
                        100.0 * i.tls_bytes_decrypted as f64 / i.tls_bytes as f64,
                        i.tls_bytes
                    )
                },
                if i.errors.is_empty() {
                    "ok".into()
                } else {
                    i.errors.join("; ")
                },
            ]
        })
        .collect();
    table(
        out,
        &[
            "FILE",
            "PHASE",
            "FORMAT",
            "READ",
            "BYTES",
            "TLS/QUIC DECRYPTED",
            "STATUS",
        ],
        &rows,
    )?;
    Ok(())
}

/// A counting progress bar (apps, files) on stderr; hidden when stderr is not a terminal.
pub fn count_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn app_row(a: &pc_firmware::AppFacts) -> Vec<String> {
    let signing = match &a.signing {
        Some(s) if s.verified => {
            let schemes: Vec<_> = s
                .schemes
                .iter()
                .filter(|(_, ok)| *ok)
                .map(|(n, _)| n.as_str())
                .collect();
            let mut t = format!("ok {}", schemes.join("+"));
            if s.platform_signed {
                t.push_str(" PLATFORM");
            }
            if let Some(k) = &s.test_key {
                t.push_str(&format!(" TESTKEY:{k}"));
            }
            if s.debug_cert {
                t.push_str(" DEBUG");
            }
            t
        }
        Some(_) => "NOT VERIFIED".into(),
        None => "-".into(),
    };
    let readers: std::collections::BTreeSet<&str> = a
        .identifier_calls
        .iter()
        .flat_map(|c| c.identifiers.iter().map(String::as_str))
        .collect();
    vec![
        if a.package.is_empty() {
            a.path.clone()
        } else {
            a.package.clone()
        },
        a.version_name.clone().unwrap_or_else(|| "-".into()),
        a.partition.clone(),
        if a.privileged {
            "priv".into()
        } else {
            "-".into()
        },
        signing,
        a.permissions.len().to_string(),
        if readers.is_empty() {
            "-".into()
        } else {
            readers.into_iter().collect::<Vec<_>>().join(",")
        },
        a.trackers.len().to_string(),
        a.endpoints.len().to_string(),
        if a.uses_cleartext_traffic {
            "yes".into()
        } else {
            "no".into()
        },
        a.error.clone().unwrap_or_else(|| "ok".into()),
    ]
}

const APP_HEADER: [&str; 11] = [
    "APP",
    "VERSION",
    "PARTITION",
    "PRIV",
    "SIGNING",
    "PERMS",
    "READS",
    "TRACKERS",
    "ENDPOINTS",
    "CLEARTEXT",
    "STATUS",
];

/// One line per app.
pub fn write_apps(out: &mut dyn Write, apps: &[pc_firmware::AppFacts]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = apps.iter().map(app_row).collect();
    table(out, &APP_HEADER, &rows)
}

/// Apps, then the risk score and the identifier readers.
pub fn write_firmware(out: &mut dyn Write, r: &pc_firmware::FirmwareReport) -> io::Result<()> {
    writeln!(out, "APPS ({})", r.apps.len())?;
    write_apps(out, &r.apps)?;
    writeln!(out)?;
    let u = &r.risk.uraniborg;
    writeln!(
        out,
        "DEVICE RISK (Uraniborg-compatible): {:.2} of {:.0}  [platform signature {:.2}, risky permissions {:.2}, cleartext {:.2}; baseline {}{}]",
        u.total,
        u.max,
        u.platform_signature.score,
        u.risky_permissions.score,
        u.cleartext_traffic.score,
        u.baseline,
        if u.baseline_exact { "" } else { ", nearest" }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "APPS THAT READ PHONE IDENTIFIERS AND MAY SEND THEM ({})",
        r.risk.identifiers.readers.len()
    )?;
    for reader in &r.risk.identifiers.readers {
        writeln!(
            out,
            "  {}",
            serde_json::to_string(reader).unwrap_or_default()
        )?;
    }
    if !r.errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "ERRORS")?;
        for e in &r.errors {
            writeln!(out, "  {e}")?;
        }
    }
    Ok(())
}

/// The audit's decision and one line per requirement.
pub fn write_audit(
    out: &mut dyn Write,
    r: &pc_certify::AuditReport,
    files: &[std::path::PathBuf],
) -> io::Result<()> {
    writeln!(out, "DECISION: {}", r.summary.decision.as_str())?;
    if !r.summary.blocking.is_empty() {
        writeln!(out, "  blocking: {}", r.summary.blocking.join(", "))?;
    }
    writeln!(out)?;
    let rows: Vec<Vec<String>> = r
        .results
        .iter()
        .map(|x| {
            let reviewed = match &x.review {
                Some(_) => format!(" (reviewed; automatic {})", x.automatic.verdict),
                None => String::new(),
            };
            vec![
                x.requirement.clone(),
                format!("{:?}", x.level).to_lowercase(),
                format!("{}{}", x.verdict, reviewed),
                x.automatic.summary.chars().take(100).collect(),
            ]
        })
        .collect();
    table(out, &["REQUIREMENT", "LEVEL", "VERDICT", "WHY"], &rows)?;
    writeln!(out)?;
    for f in files {
        writeln!(out, "wrote {}", f.display())?;
    }
    Ok(())
}

/// What changed between two audits.
pub fn write_diff(out: &mut dyn Write, d: &pc_certify::DiffReport) -> io::Result<()> {
    if d.is_empty() {
        return writeln!(out, "no change");
    }
    writeln!(
        out,
        "firmware digest: {} -> {}",
        opt(&d.firmware_digest.0),
        opt(&d.firmware_digest.1)
    )?;
    for a in &d.apps_added {
        writeln!(out, "+ app {a}")?;
    }
    for a in &d.apps_removed {
        writeln!(out, "- app {a}")?;
    }
    for c in &d.apps_changed {
        let kinds: Vec<String> = c
            .changes
            .iter()
            .map(|f| match (&f.old, &f.new) {
                (Some(o), Some(n)) => format!("{} {o} -> {n}", f.kind),
                _ => f.kind.clone(),
            })
            .collect();
        writeln!(out, "~ app {}: {}", c.package, kinds.join("; "))?;
    }
    for dst in &d.new_destinations {
        writeln!(out, "+ destination {dst}")?;
    }
    writeln!(out)?;
    writeln!(out, "RE-TEST")?;
    for r in &d.retest {
        writeln!(out, "  {}: {}", r.requirement, r.because.join("; "))?;
    }
    Ok(())
}
