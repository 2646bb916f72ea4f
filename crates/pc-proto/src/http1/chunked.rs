//! Chunked transfer coding (RFC 9112 §7.1): chunk sizes, data and trailer fields, read
//! incrementally as stream bytes arrive.

use super::head::{add_field, trim};
use super::{Chunk, Parser, Sink, State};
use crate::ProtoError;

impl Parser {
    /// Append to `line` up to and including a '\n'; `Some(consumed)` with the line complete.
    fn take_line(
        &mut self,
        data: &[u8],
        max: usize,
        what: &'static str,
    ) -> Result<(usize, bool), (usize, ProtoError)> {
        let (n, done) = match memchr::memchr(b'\n', data) {
            Some(i) => (i + 1, true),
            None => (data.len(), false),
        };
        if self.line.len() + n > max {
            return Err((
                n,
                ProtoError::TooLarge {
                    at: self.offset,
                    what,
                    len: (self.line.len() + n) as u64,
                    max: max as u64,
                },
            ));
        }
        self.line.extend_from_slice(&data[..n]);
        Ok((n, done))
    }

    pub(super) fn chunked(
        &mut self,
        data: &[u8],
        c: Chunk,
        sink: &mut dyn Sink,
    ) -> Result<usize, (usize, ProtoError)> {
        match c {
            Chunk::Size => {
                let (n, done) =
                    self.take_line(data, self.limits.max_chunk_line, "HTTP chunk-size line")?;
                if !done {
                    return Ok(n);
                }
                let size = parse_chunk_size(&self.line).ok_or((
                    n,
                    ProtoError::Malformed {
                        at: self.offset,
                        what: "HTTP chunk size",
                    },
                ))?;
                self.line.clear();
                self.state = State::Chunked(if size == 0 {
                    self.trailer_bytes = 0;
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                });
                Ok(n)
            }
            Chunk::Data(rem) => {
                let take = rem.min(data.len() as u64) as usize;
                self.body_bytes(&data[..take], sink);
                let rem = rem - take as u64;
                self.state = State::Chunked(if rem == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(rem)
                });
                Ok(take)
            }
            Chunk::DataEnd => match data.first() {
                Some(b'\r') => Ok(1),
                Some(b'\n') => {
                    self.state = State::Chunked(Chunk::Size);
                    Ok(1)
                }
                _ => Err((
                    0,
                    ProtoError::Malformed {
                        at: self.offset,
                        what: "HTTP chunk data not followed by CRLF",
                    },
                )),
            },
            Chunk::Trailers => {
                let (n, done) =
                    self.take_line(data, self.limits.max_header_bytes, "HTTP trailer line")?;
                self.trailer_bytes += n;
                if self.trailer_bytes > self.limits.max_header_bytes {
                    return Err((
                        n,
                        ProtoError::TooLarge {
                            at: self.offset,
                            what: "HTTP trailer section",
                            len: self.trailer_bytes as u64,
                            max: self.limits.max_header_bytes as u64,
                        },
                    ));
                }
                if !done {
                    return Ok(n);
                }
                let line = std::mem::take(&mut self.line);
                let l = line.strip_suffix(b"\n").unwrap_or(&line);
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                if l.is_empty() {
                    self.complete(sink);
                } else if let Some(p) = &mut self.pending {
                    let room = self.limits.max_headers.saturating_sub(p.head_fields);
                    let r = add_field(&mut p.trailers, l, room, self.offset);
                    if let Err(e) = r {
                        self.line = line;
                        self.line.clear();
                        return Err((n, e));
                    }
                }
                self.line = line;
                self.line.clear();
                Ok(n)
            }
        }
    }
}

/// Parse "1a;ext=1\r\n" (hex size, extensions ignored).
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let l = trim(line.strip_suffix(b"\n").unwrap_or(line));
    let l = trim(l.strip_suffix(b"\r").unwrap_or(l));
    let digits = l.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let rest = trim(&l[digits..]);
    if !(rest.is_empty() || rest.starts_with(b";")) {
        return None;
    }
    let mut n = 0u64;
    for &b in &l[..digits] {
        let d = (b as char).to_digit(16)? as u64;
        n = n * 16 + d;
    }
    Some(n)
}
