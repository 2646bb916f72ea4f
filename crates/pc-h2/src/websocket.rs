//! WebSocket framing (RFC 6455): masking, fragmentation, control frames, and permessage-deflate
//! (RFC 7692) payloads inflated. Used for HTTP/1.1 `Upgrade: websocket` streams and for RFC 8441
//! extended CONNECT over HTTP/2 (frames inside DATA).

use crate::H2Error;
use flate2::{Decompress, FlushDecompress, Status};

/// Default cap on one frame's payload (before and after inflating).
pub const DEFAULT_MAX_PAYLOAD: usize = 16 * 1024 * 1024;
/// Inflate output granularity.
const INFLATE_CHUNK: usize = 32 * 1024;
/// permessage-deflate strips this trailer from each message (RFC 7692 §7.2.1).
const DEFLATE_TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsFrame {
    /// Last frame of a message.
    pub fin: bool,
    /// 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong.
    pub opcode: u8,
    /// Payload, unmasked (and inflated when the message was compressed and inflating worked).
    pub payload: Vec<u8>,
    /// RSV1 was set on the message: permessage-deflate compressed.
    pub compressed: bool,
    /// The payload was cut at the payload cap (only when inflating).
    pub truncated: bool,
}

/// Parser for one direction of a WebSocket connection.
pub struct WsStream {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    offset: u64,
    max_payload: usize,
    /// A fragmented data message is in progress.
    in_message: bool,
    /// The message in progress is compressed.
    message_compressed: bool,
    /// Shared window across messages: context takeover is the default, and decoding a
    /// no-takeover stream with extra history is harmless.
    inflater: Decompress,
    /// Inflating failed once; the window is lost, later compressed payloads are kept raw.
    inflate_broken: bool,
    dead: bool,
}

impl std::fmt::Debug for WsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsStream")
            .field("offset", &self.offset)
            .field("buffered", &self.buf.len())
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

impl Default for WsStream {
    fn default() -> Self {
        WsStream::new()
    }
}

impl WsStream {
    /// A parser with the default payload cap.
    #[must_use]
    pub fn new() -> Self {
        WsStream::with_max_payload(DEFAULT_MAX_PAYLOAD)
    }

    /// A parser rejecting frames whose payload exceeds `max_payload`.
    #[must_use]
    pub fn with_max_payload(max_payload: usize) -> Self {
        WsStream {
            buf: Vec::new(),
            offset: 0,
            max_payload,
            in_message: false,
            message_compressed: false,
            inflater: Decompress::new(false),
            inflate_broken: false,
            dead: false,
        }
    }

    /// Bytes waiting for the rest of a frame.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feed in-order bytes; complete frames are appended to `out`. After an error the stream
    /// is abandoned and later calls return [`H2Error::Abandoned`].
    pub fn push(&mut self, data: &[u8], out: &mut Vec<WsFrame>) -> Result<(), H2Error> {
        if self.dead {
            return Err(H2Error::Abandoned {
                at: self.offset,
                what: "WebSocket stream after an error",
            });
        }
        self.buf.extend_from_slice(data);
        let mut pos = 0usize;
        let r = loop {
            match self.frame(pos) {
                Ok(Some((frame, used))) => {
                    pos += used;
                    out.push(frame);
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.buf.drain(..pos);
        self.offset += pos as u64;
        if r.is_err() {
            self.dead = true;
            self.buf = Vec::new();
        }
        r
    }

    /// Parse one frame at `pos` in the buffer: `None` if incomplete.
    fn frame(&mut self, pos: usize) -> Result<Option<(WsFrame, usize)>, H2Error> {
        let b = self.buf.get(pos..).unwrap_or_default();
        let at = self.offset + pos as u64;
        let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv1 = b0 & 0x40 != 0;
        let opcode = b0 & 0x0f;
        if b0 & 0x30 != 0 {
            return Err(H2Error::Malformed {
                at,
                what: "WebSocket RSV2/RSV3 set",
            });
        }
        let control = opcode >= 8;
        if !matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10) {
            return Err(H2Error::Malformed {
                at,
                what: "WebSocket reserved opcode",
            });
        }
        let masked = b1 & 0x80 != 0;
        let (len, mut hdr) = match b1 & 0x7f {
            126 => match b.get(2..4) {
                Some(x) => (u64::from(u16::from_be_bytes([x[0], x[1]])), 4usize),
                None => return Ok(None),
            },
            127 => match b.get(2..10).and_then(|x| <[u8; 8]>::try_from(x).ok()) {
                Some(x) => {
                    let l = u64::from_be_bytes(x);
                    if l >> 63 != 0 {
                        return Err(H2Error::Malformed {
                            at,
                            what: "WebSocket 64-bit length with high bit set",
                        });
                    }
                    (l, 10)
                }
                None => return Ok(None),
            },
            l => (u64::from(l), 2),
        };
        if control && (!fin || len > 125) {
            return Err(H2Error::Malformed {
                at,
                what: "WebSocket control frame fragmented or longer than 125",
            });
        }
        if len > self.max_payload as u64 {
            return Err(H2Error::TooLarge {
                at,
                what: "WebSocket frame payload",
                len,
                max: self.max_payload as u64,
            });
        }
        let mut key = [0u8; 4];
        if masked {
            match b.get(hdr..hdr + 4) {
                Some(k) => key.copy_from_slice(k),
                None => return Ok(None),
            }
            hdr += 4;
        }
        let len = len as usize;
        let Some(raw) = hdr.checked_add(len).and_then(|end| b.get(hdr..end)) else {
            return Ok(None);
        };
        let mut payload = raw.to_vec();
        if masked {
            for (i, p) in payload.iter_mut().enumerate() {
                *p ^= key[i % 4];
            }
        }
        // Fragmentation rules (§5.4): control frames may interleave with a data message.
        if !control {
            if opcode == 0 && !self.in_message {
                return Err(H2Error::Malformed {
                    at,
                    what: "WebSocket continuation without a message",
                });
            }
            if opcode != 0 {
                if self.in_message {
                    return Err(H2Error::Malformed {
                        at,
                        what: "WebSocket new message inside a fragmented one",
                    });
                }
                self.message_compressed = rsv1;
            } else if rsv1 {
                return Err(H2Error::Malformed {
                    at,
                    what: "WebSocket RSV1 on a continuation frame",
                });
            }
            self.in_message = !fin;
        }
        let compressed = !control && self.message_compressed;
        let mut truncated = false;
        if compressed && !self.inflate_broken {
            match self.inflate(&payload, fin) {
                Some((p, t)) => {
                    payload = p;
                    truncated = t;
                    // Unconsumed input leaves the shared window incomplete.
                    self.inflate_broken |= t;
                }
                None => self.inflate_broken = true,
            }
        }
        Ok(Some((
            WsFrame {
                fin,
                opcode,
                payload,
                compressed,
                truncated,
            },
            hdr + len,
        )))
    }

    /// Inflate one fragment of a compressed message; `None` if the data is not valid deflate.
    fn inflate(&mut self, input: &[u8], last: bool) -> Option<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        let mut truncated = false;
        let tail: &[u8] = if last { &DEFLATE_TAIL } else { &[] };
        for part in [input, tail] {
            let mut consumed = 0usize;
            while consumed < part.len() {
                if out.len() >= self.max_payload {
                    truncated = true;
                    break;
                }
                let room = (self.max_payload - out.len()).min(INFLATE_CHUNK);
                out.reserve(room);
                let before_in = self.inflater.total_in();
                let before_out = out.len();
                let st = self
                    .inflater
                    .decompress_vec(&part[consumed..], &mut out, FlushDecompress::Sync)
                    .ok()?;
                let used = (self.inflater.total_in() - before_in) as usize;
                consumed += used;
                if used == 0 && out.len() == before_out {
                    break;
                }
                if st == Status::StreamEnd {
                    // A final block (BFINAL) ends the raw stream; later messages start anew.
                    self.inflater.reset(false);
                    break;
                }
            }
        }
        if out.len() > self.max_payload {
            out.truncate(self.max_payload);
            truncated = true;
        }
        Some((out, truncated))
    }
}
