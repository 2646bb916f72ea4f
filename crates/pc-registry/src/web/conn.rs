//! Accepting and serving HTTP connections, bounded against slow and hostile clients.
//!
//! `axum::serve` accepts every connection and waits forever for its request: about 20,000
//! connections that each send half a header exhaust the process's file descriptors, without
//! any login. This loop is hyper's HTTP/1 connection driver (which `axum::serve` uses too) with
//! the bounds `axum::serve` does not offer:
//!
//! * **Connection limit**: a semaphore of [`ConnLimits::max_connections`] permits, one per open
//!   connection; over it a new connection is answered 503 and closed at once (its descriptor
//!   held for microseconds), so the limit holds and clients learn of it instead of hanging.
//! * **Per-client limit**: at most [`ConnLimits::max_per_client`] connections from one client
//!   address (an IPv6 /64 counts as one), so one client cannot take every slot; the excess is
//!   answered 429 and closed at once. Trusted proxies are exempt (every client behind them
//!   shares their address).
//! * **Header timeout**: hyper's `header_read_timeout`: a request's head must arrive whole
//!   within [`ConnLimits::header_timeout`], counted from when the connection (or, kept alive,
//!   its previous response) is ready for it, so idle keep-alive connections close after the
//!   same time.
//! * **Body timeout**: a request body that sends nothing for [`ConnLimits::body_timeout`] fails
//!   (its handler sees a read error, an upload is discarded). It bounds pauses, not durations:
//!   a 16 GiB upload may take hours as long as its bytes keep coming.
//! * **Write timeout**: a response the client stops reading for the same time ends the
//!   connection, so a client cannot hold one by never reading what it asked for.
//!
//! Why not tower-http's timeouts: its `TimeoutLayer` bounds whole requests (uploads and audits'
//! reports legitimately take long) and nothing in tower sees the connection before its head is
//! parsed, which is where the slowloris attack sits. Hyper's own timer covers the head; the
//! body and the writes are wrapped here, per pause.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tower::ServiceExt;

/// Bounds on connections (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one client address (trusted proxies exempt).
    pub max_per_client: usize,
    /// Longest time for a request's head to arrive (and longest keep-alive idle time).
    pub header_timeout: Duration,
    /// Longest pause in a request body, and in the client reading a response.
    pub body_timeout: Duration,
    /// Peers whose connections carry many clients' requests (see `web::origin`).
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 512,
            max_per_client: 64,
            header_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
        }
    }
}

/// What the 429 answer to a client over its connection limit says.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
content-length: 50\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
{\"error\":\"too many connections from your address\"}";

/// What the 503 answer over the server's connection limit says.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
content-length: 44\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
{\"error\":\"the server is at its connections\"}";

/// Open connections per client key.
#[derive(Debug, Default)]
struct PerClient {
    open: Mutex<HashMap<String, usize>>,
}

/// One open connection of a client: counted until dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    key: String,
}

impl PerClient {
    fn take(self: &Arc<Self>, key: String, max: usize) -> Option<ClientSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: Arc::clone(self),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Serves `app` on `listener` until the process ends (accept errors, such as running out of
/// descriptors, pause the loop briefly instead of ending it).
pub async fn serve_connections(listener: TcpListener, app: Router, limits: ConnLimits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(PerClient::default());
    let limits = Arc::new(limits);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("phonecert serve: accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Over a limit, the connection is answered and closed at once, never waiting: the
        // client may not be reading at all, and a held connection is what the limit is against.
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            let _ = stream.try_write(BUSY);
            continue;
        };
        let slot = if limits.trusted_proxies.contains(&peer.ip()) {
            None
        } else {
            let key = crate::login_limit::ip_key(peer.ip());
            match clients.take(key, limits.max_per_client.max(1)) {
                Some(s) => Some(s),
                None => {
                    let _ = stream.try_write(TOO_MANY);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let limits = Arc::clone(&limits);
        tokio::spawn(async move {
            let _held = (permit, slot);
            serve_one(stream, peer, app, &limits).await;
        });
    }
}

async fn serve_one(stream: TcpStream, peer: SocketAddr, app: Router, limits: &ConnLimits) {
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(|b| Body::new(PausedBody::new(b, body_timeout)));
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let io = TokioIo::new(WriteStall::new(stream, body_timeout));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(io, service);
    // Timeouts, resets and malformed requests end the connection; they are the client's
    // business, not the server log's.
    let _ = conn.await;
}

/// The error of a request body that paused too long.
#[derive(Debug, thiserror::Error)]
#[error("the client sent nothing for {0:?}")]
pub struct BodyPaused(Duration);

/// A request body that fails when no data arrives for its limit.
struct PausedBody<B> {
    inner: B,
    limit: Duration,
    waiting: Option<Pin<Box<Sleep>>>,
}

impl<B> PausedBody<B> {
    fn new(inner: B, limit: Duration) -> Self {
        PausedBody {
            inner,
            limit,
            waiting: None,
        }
    }
}

/// Polls the pause timer (armed at the first `Pending`); `true` once it fired.
fn paused_too_long(
    timer: &mut Option<Pin<Box<Sleep>>>,
    limit: Duration,
    cx: &mut Context<'_>,
) -> bool {
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    sleep.as_mut().poll(cx).is_ready()
}

impl<B> http_body::Body for PausedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending if paused_too_long(&mut this.waiting, this.limit, cx) => {
                this.waiting = None;
                Poll::Ready(Some(Err(BodyPaused(this.limit).into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection whose writes fail when the client reads nothing for the limit.
struct WriteStall {
    inner: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteStall {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        WriteStall {
            inner,
            limit,
            stalled: None,
        }
    }

    /// The outcome of a write-side poll: progress disarms the timer, a wait arms it.
    fn outcome<T>(&mut self, p: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match p {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending if paused_too_long(&mut self.stalled, self.limit, cx) => {
                self.stalled = None;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for WriteStall {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteStall {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.outcome(p, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.outcome(p, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_flush(cx);
        this.outcome(p, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.outcome(p, cx)
    }
}
