//! System logs as evidence: each phase's `logs` (a saved logcat) searched for the unit's
//! identifiers with the one matcher the traffic engine uses, line by line
//! ([`pc_detect::lines`]). An app that writes the IMEI to the system log hands it to every
//! reader of the log; the check `no_identifier_in_logs` decides on what is found here.

use pc_case::Case;
use pc_detect::lines::{LineScan, scan_lines};
use pc_detect::{Matcher, ScanOptions};
use serde::{Deserialize, Serialize};

/// Most hits kept per log file (the rest counted).
pub const MAX_HITS_PER_LOG: usize = 200;

/// One log file searched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogFile {
    pub phase: String,
    /// As the case names it.
    pub path: String,
    pub bytes: u64,
    pub lines: u64,
    pub hits: Vec<LogHit>,
    /// Hits beyond those listed.
    pub more_hits: u64,
    /// Lines too long to search whole, or whose decoded layers were not all searched.
    pub lines_not_searched_whole: u64,
    /// Why the file could not be read (whole or from some byte on).
    pub error: Option<String>,
}

/// An identifier found in a log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHit {
    /// Identifier kind (`imei`, ...).
    pub identifier: String,
    /// The case's name for it (`imei2`, ...).
    pub name: String,
    pub line: u64,
    /// Byte offset in the file.
    pub offset: u64,
    pub encoding: Vec<String>,
    pub snippet: String,
}

/// Every log of a case, in case order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEvidence {
    pub files: Vec<LogFile>,
}

/// Searches every phase's logs; `None` when the case names none.
pub fn scan_case_logs(case: &Case, reveal: bool) -> Option<LogEvidence> {
    if case.phases.iter().all(|p| p.logs.is_empty()) {
        return None;
    }
    let ids = case.identifiers();
    let m = Matcher::new(&ids);
    let mut files = Vec::new();
    for p in &case.phases {
        for l in &p.logs {
            files.push(scan_file(&p.name, l, &case.resolve(l), &m, reveal));
        }
    }
    Some(LogEvidence { files })
}

fn scan_file(
    phase: &str,
    named: &std::path::Path,
    path: &std::path::Path,
    m: &Matcher,
    reveal: bool,
) -> LogFile {
    let mut f = LogFile {
        phase: phase.to_string(),
        path: named.display().to_string(),
        bytes: 0,
        lines: 0,
        hits: Vec::new(),
        more_hits: 0,
        lines_not_searched_whole: 0,
        error: None,
    };
    let file = match std::fs::File::open(path) {
        Ok(x) => x,
        Err(e) => {
            f.error = Some(format!("{}: cannot open: {e}", path.display()));
            return f;
        }
    };
    let scanned: Result<LineScan, _> = scan_lines(
        std::io::BufReader::new(file),
        m,
        &ScanOptions::default(),
        reveal,
        MAX_HITS_PER_LOG,
    );
    match scanned {
        Ok(s) => {
            f.bytes = s.bytes;
            f.lines = s.lines;
            f.more_hits = s.more_hits;
            f.lines_not_searched_whole = s.long_lines + s.incomplete_lines;
            f.hits = s
                .hits
                .into_iter()
                .map(|h| {
                    let id = &m.identifiers()[h.ident];
                    LogHit {
                        identifier: id.kind.as_str().to_string(),
                        name: id.name.clone(),
                        line: h.line,
                        offset: h.offset,
                        encoding: h.encoding.iter().map(|e| e.to_string()).collect(),
                        snippet: h.snippet,
                    }
                })
                .collect();
        }
        Err((at, e)) => {
            f.error = Some(format!("{}, byte {at}: cannot read: {e}", path.display()));
        }
    }
    f
}
