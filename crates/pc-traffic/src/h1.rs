//! HTTP/1.x requests as they stream: the head is kept until the request ends, the body is
//! decoded and searched piece by piece as it arrives, and nothing of it is kept.
//!
//! The phone's side is all that is parsed: identifiers leave in requests. Responses are not
//! parsed (a `101 Switching Protocols` is recognised on the raw bytes, see `packets/http.rs`).

use crate::agg::LocalHits;
use crate::ctx::{Ctx, HitField};
use crate::seam::{BODY_OVERLAP, Seam};
use pc_proto::decode::{Outcome, StreamDecoder};
use pc_proto::http1::{End, Head, Sink};

/// Decoded bytes searched per body with a known length, at least (bodies that decode to more
/// than [`MAX_RATIO`] times their size are cut past this).
pub const BODY_FREE_DECODED: u64 = 64 << 20;
/// Largest decoded/encoded ratio searched beyond [`BODY_FREE_DECODED`]; deflate cannot exceed
/// 1032, so only brotli/zstd bombs and stacked codings are cut by it.
pub const MAX_RATIO: u64 = 1100;
/// Decoded bytes searched per body, whatever its size.
pub const MAX_BODY_DECODED: u64 = 1 << 30;

/// The decoded-size budget of one body.
fn budget(head: &Head, identity: bool) -> u64 {
    if identity {
        // Searching costs what the capture holds: no cut needed.
        return u64::MAX;
    }
    let length = head
        .header("content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(n) => n
            .saturating_mul(MAX_RATIO)
            .clamp(BODY_FREE_DECODED, MAX_BODY_DECODED),
        // Chunked: the length is not known in advance.
        None => 4 * BODY_FREE_DECODED,
    }
}

/// The request being read on one connection.
#[derive(Default)]
pub struct ReqBody {
    head: Option<Head>,
    decoder: Option<StreamDecoder>,
    seam: Seam,
    /// A search of this body stopped short.
    incomplete: bool,
}

/// A request that ended.
pub struct Done {
    pub head: Head,
    pub end: End,
    pub decode: Outcome,
    /// A search of the body stopped short (decoding budget of the matcher, hit cap).
    pub incomplete: bool,
}

/// The parser's [`Sink`] for one push: searches body pieces into `hits`, and hands ended
/// requests to `done`.
pub struct ReqSink<'a> {
    pub ctx: &'a Ctx,
    pub hits: &'a mut LocalHits,
    pub body: &'a mut ReqBody,
    pub done: &'a mut Vec<Done>,
    pub field: HitField<'a>,
    pub ts: Option<i64>,
    pub frame: Option<u64>,
}

impl Sink for ReqSink<'_> {
    fn head(&mut self, head: Head) {
        let identity = head
            .codings()
            .all(|c| c.trim().is_empty() || c.trim().eq_ignore_ascii_case("identity"));
        let d = StreamDecoder::new(head.codings(), budget(&head, identity));
        self.body.decoder = Some(d);
        self.body.head = Some(head);
        self.body.seam.reset();
        self.body.incomplete = false;
    }

    fn body(&mut self, data: &[u8]) {
        let Some(d) = &mut self.body.decoder else {
            return;
        };
        let (ctx, hits, seam, field) =
            (self.ctx, &mut *self.hits, &mut self.body.seam, &self.field);
        let (ts, frame) = (self.ts, self.frame);
        let mut incomplete = false;
        d.push(data, &mut |piece| {
            incomplete |= seam.scan(ctx, hits, piece, BODY_OVERLAP, field, ts, frame, None);
        });
        self.body.incomplete |= incomplete;
    }

    fn end(&mut self, end: End) {
        let Some(head) = self.body.head.take() else {
            return;
        };
        let decode = self
            .body
            .decoder
            .take()
            .map(|d| d.finish(!end.truncated))
            .unwrap_or_default();
        self.done.push(Done {
            head,
            end,
            decode,
            incomplete: std::mem::take(&mut self.body.incomplete),
        });
    }
}
