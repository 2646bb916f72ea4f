//! NSS key log files (the `SSLKEYLOGFILE` format), as written by browsers, curl, OpenSSL-based
//! tools and Android test builds, and as embedded in pcapng Decryption Secrets Blocks.
//!
//! Lines look like `LABEL <client random hex> <secret hex>`; the old
//! `RSA Session-ID:<hex> Master-Key:<hex>` form and the `RSA <8 bytes hex> <premaster hex>` form
//! are read too. Anything else (comments, blank lines, garbage) is skipped and counted.

use std::collections::BTreeMap;

/// Bounds applied while parsing a key log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of key log text read; the rest is ignored (and counted as truncated).
    pub max_bytes: usize,
    /// Lines read.
    pub max_lines: usize,
    /// Distinct client randoms / session ids kept.
    pub max_entries: usize,
    /// Longest line considered (longer ones are garbage).
    pub max_line_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024 * 1024,
            max_lines: 4_000_000,
            max_entries: 1_000_000,
            max_line_len: 1024,
        }
    }
}

/// Largest secret accepted (TLS 1.3 secrets are a hash length: 32 or 48 bytes).
pub const MAX_SECRET_LEN: usize = 64;

/// The secrets logged for one client random.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS ≤ 1.2 master secret (`CLIENT_RANDOM`).
    pub master_secret: Option<[u8; 48]>,
    /// TLS 1.3 `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Vec<u8>>,
    /// TLS 1.3 `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic_0: Option<Vec<u8>>,
    /// TLS 1.3 `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic_0: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_EARLY_TRAFFIC_SECRET` (0-RTT).
    pub client_early: Option<Vec<u8>>,
    /// TLS 1.3 `EXPORTER_SECRET` (kept for completeness; not needed to decrypt).
    pub exporter: Option<Vec<u8>>,
    /// TLS 1.3 `EARLY_EXPORTER_SECRET` (kept for completeness; not needed to decrypt).
    pub early_exporter: Option<Vec<u8>>,
}

/// Counters describing what a parse read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Lines that gave a secret.
    pub secret_lines: u64,
    /// Comment lines (`#`).
    pub comment_lines: u64,
    /// Blank lines.
    pub blank_lines: u64,
    /// Lines that were not understood (unknown label, bad hex, wrong lengths, too long).
    pub ignored_lines: u64,
    /// Entries dropped because [`Limits::max_entries`] was reached.
    pub dropped_entries: u64,
    /// Input beyond [`Limits::max_bytes`] or [`Limits::max_lines`] was not read.
    pub truncated: bool,
}

/// Parsed key log: secrets by client random, master secrets by session id, and RSA
/// pre-master secrets by the first 8 bytes of the encrypted pre-master secret.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    by_random: BTreeMap<[u8; 32], Secrets>,
    by_session: BTreeMap<Vec<u8>, [u8; 48]>,
    rsa_premaster: BTreeMap<[u8; 8], Vec<u8>>,
    stats: KeyLogStats,
    max_entries: usize,
}

impl KeyLog {
    /// Parse key log text with default [`Limits`]. Never fails: what is not understood is
    /// counted in [`KeyLog::stats`].
    pub fn parse(text: &[u8]) -> KeyLog {
        Self::parse_with(text, Limits::default())
    }

    /// Parse key log text with explicit limits.
    pub fn parse_with(text: &[u8], limits: Limits) -> KeyLog {
        let mut log = KeyLog {
            max_entries: limits.max_entries,
            ..KeyLog::default()
        };
        let text = match text.get(..limits.max_bytes) {
            Some(t) if t.len() < text.len() => {
                log.stats.truncated = true;
                t
            }
            _ => text,
        };
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            if n >= limits.max_lines {
                log.stats.truncated = true;
                break;
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = line.trim_ascii();
            // Some tools write each line with a trailing backslash (as in Wireshark's
            // quic_follow_multistream secrets block); tshark accepts it, so do we.
            let line = line.strip_suffix(b"\\").map_or(line, <[u8]>::trim_ascii);
            if line.is_empty() {
                log.stats.blank_lines += 1;
            } else if line.starts_with(b"#") {
                log.stats.comment_lines += 1;
            } else if line.len() > limits.max_line_len || !log.parse_line(line) {
                log.stats.ignored_lines += 1;
            } else {
                log.stats.secret_lines += 1;
            }
        }
        log
    }

    /// One non-comment line; false if it is not understood.
    fn parse_line(&mut self, line: &[u8]) -> bool {
        let Ok(line) = std::str::from_utf8(line) else {
            return false;
        };
        let mut parts = line.split_ascii_whitespace();
        let (Some(label), Some(a), Some(b), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        if label == "RSA" {
            if let (Some(sid), Some(mk)) =
                (a.strip_prefix("Session-ID:"), b.strip_prefix("Master-Key:"))
            {
                let (Some(sid), Some(mk)) = (hex_vec(sid, 32), hex_array::<48>(mk)) else {
                    return false;
                };
                if sid.is_empty() {
                    return false;
                }
                return self.insert_session(sid, mk);
            }
            // `RSA <first 8 bytes of the encrypted pre-master secret> <pre-master secret>`.
            let (Some(prefix), Some(pms)) = (hex_array::<8>(a), hex_vec(b, MAX_SECRET_LEN)) else {
                return false;
            };
            if pms.len() != 48 {
                return false;
            }
            if !self.rsa_premaster.contains_key(&prefix) && self.full() {
                self.stats.dropped_entries += 1;
                return true;
            }
            self.rsa_premaster.insert(prefix, pms);
            return true;
        }
        let Some(random) = hex_array::<32>(a) else {
            return false;
        };
        let Some(secret) = hex_vec(b, MAX_SECRET_LEN) else {
            return false;
        };
        if secret.is_empty() {
            return false;
        }
        let tls13_len_ok = matches!(secret.len(), 32 | 48 | 64);
        if !self.by_random.contains_key(&random) && self.full() {
            // Recognise the line but keep memory bounded.
            let known = matches!(
                label,
                "CLIENT_RANDOM"
                    | "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
                    | "SERVER_HANDSHAKE_TRAFFIC_SECRET"
                    | "CLIENT_TRAFFIC_SECRET_0"
                    | "SERVER_TRAFFIC_SECRET_0"
                    | "CLIENT_EARLY_TRAFFIC_SECRET"
                    | "EXPORTER_SECRET"
                    | "EARLY_EXPORTER_SECRET"
            );
            if known {
                self.stats.dropped_entries += 1;
            }
            return known;
        }
        if label == "CLIENT_RANDOM" {
            let Ok(ms) = <[u8; 48]>::try_from(secret.as_slice()) else {
                return false;
            };
            self.by_random.entry(random).or_default().master_secret = Some(ms);
            return true;
        }
        if !tls13_len_ok {
            return false;
        }
        let mut probe = Secrets::default();
        if slot(&mut probe, label).is_none() {
            return false;
        }
        let entry = self.by_random.entry(random).or_default();
        if let Some(s) = slot(entry, label) {
            *s = Some(secret);
        }
        true
    }

    fn full(&self) -> bool {
        self.by_random.len() + self.by_session.len() + self.rsa_premaster.len() >= self.max_entries
    }

    fn insert_session(&mut self, sid: Vec<u8>, mk: [u8; 48]) -> bool {
        if !self.by_session.contains_key(&sid) && self.full() {
            self.stats.dropped_entries += 1;
            return true;
        }
        self.by_session.insert(sid, mk);
        true
    }

    /// Add another key log's entries (its secrets win on conflicts) and counters.
    pub fn merge(&mut self, other: KeyLog) {
        if self.max_entries == 0 {
            self.max_entries = Limits::default().max_entries;
        }
        for (random, s) in other.by_random {
            if !self.by_random.contains_key(&random) && self.full() {
                self.stats.dropped_entries += 1;
                continue;
            }
            let e = self.by_random.entry(random).or_default();
            macro_rules! take {
                ($($f:ident),*) => { $( if s.$f.is_some() { e.$f = s.$f; } )* };
            }
            take!(
                master_secret,
                client_handshake,
                server_handshake,
                client_traffic_0,
                server_traffic_0,
                client_early,
                exporter,
                early_exporter
            );
        }
        for (sid, mk) in other.by_session {
            self.insert_session(sid, mk);
        }
        for (p, pms) in other.rsa_premaster {
            if !self.rsa_premaster.contains_key(&p) && self.full() {
                self.stats.dropped_entries += 1;
                continue;
            }
            self.rsa_premaster.insert(p, pms);
        }
        let o = other.stats;
        let s = &mut self.stats;
        s.secret_lines += o.secret_lines;
        s.comment_lines += o.comment_lines;
        s.blank_lines += o.blank_lines;
        s.ignored_lines += o.ignored_lines;
        s.dropped_entries += o.dropped_entries;
        s.truncated |= o.truncated;
    }

    /// Number of entries (client randoms, session ids and RSA pre-master secrets).
    pub fn len(&self) -> usize {
        self.by_random.len() + self.by_session.len() + self.rsa_premaster.len()
    }

    /// No entries at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Secrets logged for a client random.
    pub fn lookup(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.by_random.get(client_random)
    }

    /// Master secret logged in the `RSA Session-ID:… Master-Key:…` form.
    pub fn by_session_id(&self, id: &[u8]) -> Option<&[u8; 48]> {
        self.by_session.get(id)
    }

    /// RSA pre-master secret logged by the first 8 bytes of its encrypted form.
    pub fn rsa_premaster(&self, encrypted_prefix: &[u8; 8]) -> Option<&[u8]> {
        self.rsa_premaster.get(encrypted_prefix).map(Vec::as_slice)
    }

    /// No `RSA <encrypted prefix> <pre-master>` entries.
    pub fn rsa_premaster_is_empty(&self) -> bool {
        self.rsa_premaster.is_empty()
    }

    /// What the parse(s) read and skipped.
    pub fn stats(&self) -> KeyLogStats {
        self.stats
    }
}

/// The TLS 1.3 secret field named by a key log label.
fn slot<'a>(s: &'a mut Secrets, label: &str) -> Option<&'a mut Option<Vec<u8>>> {
    Some(match label {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut s.client_handshake,
        "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut s.server_handshake,
        "CLIENT_TRAFFIC_SECRET_0" => &mut s.client_traffic_0,
        "SERVER_TRAFFIC_SECRET_0" => &mut s.server_traffic_0,
        "CLIENT_EARLY_TRAFFIC_SECRET" => &mut s.client_early,
        "EXPORTER_SECRET" => &mut s.exporter,
        "EARLY_EXPORTER_SECRET" => &mut s.early_exporter,
        _ => return None,
    })
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decode hex of at most `max` bytes.
fn hex_vec(s: &str, max: usize) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) || b.len() / 2 > max {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| Some(hex_nibble(p[0])? << 4 | hex_nibble(p[1])?))
        .collect()
}

fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    hex_vec(s, N)?.try_into().ok()
}
