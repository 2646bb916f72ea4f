//! The frames of decrypted QUIC payloads (RFC 9000 §19): CRYPTO data reassembled into TLS
//! handshake messages (read with pc-proto's hello parser), STREAM data reassembled and handed to
//! the application layer (HTTP/3 or raw streams), the rest skipped by its length.

use super::header::{take, varint};
use super::{App, Connection, Level};
use crate::Event;
use crate::h3;
use crate::reasm::{Piece, ReasmLimits};
use pc_proto::tls::handshake_type as hs;
use pc_tlsdec::crypto::suite;

impl Connection {
    /// Walk the frames of a decrypted payload sent in direction `dir`.
    pub(super) fn frames(&mut self, dir: usize, level: Level, p: &[u8], out: &mut Vec<Event>) {
        let mut pos = 0;
        while pos < p.len() {
            if self.frame(dir, level, p, &mut pos, out).is_none() {
                // Unknown or malformed frame: its length is unknown, the rest is lost.
                return;
            }
        }
    }

    fn frame(
        &mut self,
        dir: usize,
        level: Level,
        p: &[u8],
        pos: &mut usize,
        out: &mut Vec<Event>,
    ) -> Option<()> {
        let t = varint(p, pos)?;
        match t {
            0x00 => {
                let n = p.get(*pos..)?.iter().take_while(|b| **b == 0).count();
                *pos += n;
            }
            0x01 | 0x1e => {}
            0x02 | 0x03 => {
                varint(p, pos)?;
                varint(p, pos)?;
                let count = varint(p, pos)?;
                varint(p, pos)?;
                // Each range takes at least two bytes.
                if count > p.len() as u64 {
                    return None;
                }
                for _ in 0..count {
                    varint(p, pos)?;
                    varint(p, pos)?;
                }
                if t == 0x03 {
                    for _ in 0..3 {
                        varint(p, pos)?;
                    }
                }
            }
            0x04 => {
                let sid = varint(p, pos)?;
                varint(p, pos)?;
                varint(p, pos)?;
                self.stream_end(sid, dir, true, out);
            }
            0x05 | 0x11 | 0x15 => {
                varint(p, pos)?;
                varint(p, pos)?;
            }
            0x06 => {
                let off = varint(p, pos)?;
                let len = varint(p, pos)?;
                let data = take(p, pos, len)?;
                self.crypto_data(dir, level, off, data);
            }
            0x07 => {
                let len = varint(p, pos)?;
                take(p, pos, len)?;
            }
            0x08..=0x0f => {
                let sid = varint(p, pos)?;
                let off = if t & 0x04 != 0 { varint(p, pos)? } else { 0 };
                let data = if t & 0x02 != 0 {
                    let len = varint(p, pos)?;
                    take(p, pos, len)?
                } else {
                    let d = p.get(*pos..)?;
                    *pos = p.len();
                    d
                };
                self.stream_data(sid, dir, off, data, t & 0x01 != 0, out);
            }
            0x10 | 0x12 | 0x13 | 0x14 | 0x16 | 0x17 | 0x19 => {
                varint(p, pos)?;
            }
            0x18 => {
                varint(p, pos)?;
                varint(p, pos)?;
                let len = *p.get(*pos)?;
                *pos += 1;
                if !(1..=20).contains(&len) {
                    return None;
                }
                let cid = take(p, pos, u64::from(len))?;
                take(p, pos, 16)?;
                self.remember_cid(1 - dir, cid);
            }
            0x1a | 0x1b => {
                take(p, pos, 8)?;
            }
            0x1c | 0x1d => {
                varint(p, pos)?;
                if t == 0x1c {
                    varint(p, pos)?;
                }
                let len = varint(p, pos)?;
                take(p, pos, len)?;
            }
            0x30 => *pos = p.len(),
            0x31 => {
                let len = varint(p, pos)?;
                take(p, pos, len)?;
            }
            _ => return None,
        }
        Some(())
    }

    fn crypto_data(&mut self, dir: usize, level: Level, off: u64, data: &[u8]) {
        let li = match level {
            Level::Initial => 0,
            Level::Handshake => 1,
            // Post-handshake messages (tickets) carry nothing needed here.
            _ => return,
        };
        let max = self.limits.max_crypto;
        let c = &mut self.crypto[dir][li];
        if c.done {
            return;
        }
        let lim = ReasmLimits {
            per_stream: max,
            max_ahead: max as u64,
        };
        let mut budget = max.saturating_sub(c.reasm.pending_bytes());
        let (reasm, buf) = (&mut c.reasm, &mut c.buf);
        let mut lost = false;
        reasm.push(
            off,
            data,
            false,
            lim,
            &mut budget,
            &mut |piece| match piece {
                Piece::Data(d) if buf.len().saturating_add(d.len()) <= max => {
                    buf.extend_from_slice(d)
                }
                _ => lost = true,
            },
        );
        if lost {
            c.done = true;
        }
        self.handshake_messages(dir, li);
    }

    /// Parse the complete TLS handshake messages at the front of a CRYPTO buffer.
    fn handshake_messages(&mut self, dir: usize, li: usize) {
        loop {
            let c = &self.crypto[dir][li];
            let Some(h) = c.buf.get(..4) else { return };
            let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize + 4;
            let ty = h[0];
            if len > self.limits.max_crypto {
                self.crypto[dir][li].done = true;
                return;
            }
            let Some(msg) = c.buf.get(..len) else { return };
            let msg = msg.to_vec();
            self.crypto[dir][li].buf.drain(..len);
            let done = match (dir, li, ty) {
                (0, 0, hs::CLIENT_HELLO) => {
                    if let Ok(ch) = pc_proto::tls::parse_client_hello(&msg) {
                        self.client_random.get_or_insert(ch.random);
                        if self.sni.is_none() {
                            self.sni = ch.sni;
                        }
                        if self.offered_alpn.is_empty() {
                            self.offered_alpn = ch.alpn;
                        }
                    }
                    true
                }
                (1, 0, hs::SERVER_HELLO) => {
                    if let Ok(sh) = pc_proto::tls::parse_server_hello(&msg) {
                        // QUIC carries TLS 1.3 suites only.
                        let s = suite(sh.cipher_suite).filter(|s| s.tls13);
                        self.suite = self.suite.or(s);
                        if sh.alpn.is_some() {
                            self.alpn = sh.alpn;
                        }
                        !sh.hello_retry
                    } else {
                        true
                    }
                }
                (1, 1, hs::ENCRYPTED_EXTENSIONS) => {
                    if let Some(a) = pc_proto::tls::parse_encrypted_extensions(&msg).0.alpn {
                        self.alpn = Some(a);
                    }
                    true
                }
                _ => false,
            };
            if done {
                let c = &mut self.crypto[dir][li];
                c.done = true;
                c.buf = Vec::new();
                return;
            }
        }
    }

    fn app_layer(&mut self) -> &mut App {
        let lim = &self.limits;
        let h3 = {
            let negotiated = self.alpn.as_deref();
            let is_h3 = |a: &str| a == "h3" || a.starts_with("h3-");
            match negotiated {
                Some(a) => is_h3(a),
                None => !self.offered_alpn.is_empty() && self.offered_alpn.iter().all(|a| is_h3(a)),
            }
        };
        self.app.get_or_insert_with(|| {
            if h3 {
                App::H3(Box::new(h3::H3::new(lim)))
            } else {
                App::Raw(h3::Raw::new(lim))
            }
        })
    }

    fn stream_data(
        &mut self,
        sid: u64,
        dir: usize,
        off: u64,
        data: &[u8],
        fin: bool,
        out: &mut Vec<Event>,
    ) {
        let key = (sid, dir);
        if self.closed.contains(&key) {
            return;
        }
        if !self.streams.contains_key(&key) && self.streams.len() >= self.limits.max_streams {
            self.stats.frames_dropped += 1;
            return;
        }
        self.app_layer();
        let lim = ReasmLimits {
            per_stream: self.limits.max_stream_pending,
            max_ahead: self.limits.max_stream_ahead,
        };
        let Connection {
            streams,
            app,
            budget,
            stats,
            ..
        } = self;
        let r = streams.entry(key).or_default();
        let before = r.dropped;
        r.push(off, data, fin, lim, budget, &mut |piece| match app {
            Some(App::H3(h)) => h.piece(sid, dir, piece, out),
            Some(App::Raw(raw)) => raw.piece(sid, dir, piece, out),
            None => {}
        });
        stats.frames_dropped += r.dropped - before;
        if r.complete() {
            self.stream_end(sid, dir, false, out);
        }
    }

    /// A stream direction is complete (FIN delivered) or was reset.
    fn stream_end(&mut self, sid: u64, dir: usize, reset: bool, out: &mut Vec<Event>) {
        let key = (sid, dir);
        if let Some(mut r) = self.streams.remove(&key) {
            if let Some(app) = &mut self.app {
                r.flush(&mut self.budget, &mut |piece| match app {
                    App::H3(h) => h.piece(sid, dir, piece, out),
                    App::Raw(raw) => raw.piece(sid, dir, piece, out),
                });
            }
            self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(r.gap_bytes);
        } else if self.closed.contains(&key) {
            return;
        }
        match &mut self.app {
            Some(App::H3(h)) => h.fin(sid, dir, reset, out),
            Some(App::Raw(raw)) => raw.fin(sid, dir, out),
            None => {}
        }
        if self.closed.len() >= self.limits.max_closed_streams {
            self.closed.pop_first();
        }
        self.closed.insert(key);
    }

    /// End of capture: deliver what is buffered (noting holes) and report unfinished messages.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let keys: Vec<(u64, usize)> = self.streams.keys().copied().collect();
        for (sid, dir) in keys {
            if let Some(mut r) = self.streams.remove(&(sid, dir)) {
                if let Some(app) = &mut self.app {
                    r.flush(&mut self.budget, &mut |piece| match app {
                        App::H3(h) => h.piece(sid, dir, piece, out),
                        App::Raw(raw) => raw.piece(sid, dir, piece, out),
                    });
                }
                self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(r.gap_bytes);
            }
        }
        match &mut self.app {
            Some(App::H3(h)) => h.finish(out),
            Some(App::Raw(raw)) => raw.finish(out),
            None => {}
        }
    }
}
