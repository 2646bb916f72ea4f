//! The traffic report as NDJSON: one JSON object per line, each with a `type` field (`input`,
//! `finding`, `destination`, `request`, `dns`, `handshake`), so a report too large for one JSON
//! document can be read line by line (`jq -c 'select(.type == "finding")'`). It lives beside the
//! report's types, as ripgrep keeps its printers in `grep-printer`, so every front end (the CLI,
//! the registry) writes the same lines.

use crate::TrafficReport;
use serde::Serialize;
use std::io::Write;

/// Writes `r` as NDJSON: inputs, then findings, destinations, requests, DNS queries and
/// handshakes, each in the report's (sorted) order.
pub fn write_ndjson(out: &mut impl Write, r: &TrafficReport) -> std::io::Result<()> {
    fn line<T: Serialize>(out: &mut impl Write, kind: &str, v: &T) -> std::io::Result<()> {
        let mut value = serde_json::to_value(v)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("type".into(), kind.into());
        }
        serde_json::to_writer(&mut *out, &value)?;
        out.write_all(b"\n")
    }
    for i in &r.inputs {
        line(out, "input", i)?;
    }
    for f in &r.findings {
        line(out, "finding", f)?;
    }
    for d in &r.destinations {
        line(out, "destination", d)?;
    }
    for q in &r.requests {
        line(out, "request", q)?;
    }
    for q in &r.dns {
        line(out, "dns", q)?;
    }
    for h in &r.handshakes {
        line(out, "handshake", h)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, Options, analyze};
    use serde_json::Value;

    fn example() -> TrafficReport {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/acme-a1/case.toml");
        let case = pc_case::Case::load(&path).unwrap();
        let inputs = Input::from_case(&case);
        analyze(&inputs, &case.identifiers(), &Options::default(), &|_| {}).unwrap()
    }

    /// Every record of the example's report comes back, once, in order, with its type added and
    /// nothing else changed.
    #[test]
    fn one_typed_line_per_record_in_report_order() {
        let r = example();
        assert!(!r.findings.is_empty() && !r.dns.is_empty() && !r.requests.is_empty());
        let mut out = Vec::new();
        write_ndjson(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'));
        let mut want = Vec::new();
        fn push<T: Serialize>(want: &mut Vec<(String, Value)>, kind: &str, items: &[T]) {
            for i in items {
                want.push((kind.to_string(), serde_json::to_value(i).unwrap()));
            }
        }
        push(&mut want, "input", &r.inputs);
        push(&mut want, "finding", &r.findings);
        push(&mut want, "destination", &r.destinations);
        push(&mut want, "request", &r.requests);
        push(&mut want, "dns", &r.dns);
        push(&mut want, "handshake", &r.handshakes);
        let got: Vec<(String, Value)> = text
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                let kind = v.as_object_mut().unwrap().remove("type").unwrap();
                (kind.as_str().unwrap().to_string(), v)
            })
            .collect();
        assert_eq!(got, want);
    }

    /// A writer that fails reports the error instead of dropping lines silently.
    #[test]
    fn write_errors_are_returned() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = write_ndjson(&mut Full, &example()).unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
    }
}
