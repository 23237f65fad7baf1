//! The accept loop and the life of each connection: caps on open connections (in all and per
//! client address, enforced by closing at accept), the time a client has to send a request head,
//! the time an idle keep-alive connection is kept, and a stop in which requests in flight finish.
//! `axum::serve` bounds none of these, so one client holding silent connections could use up the
//! process's file descriptors and take the server off the air.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::CONNECTION;
use castellan_core::net::Cidr;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::metrics::Metrics;

/// How connections are bounded.
#[derive(Clone)]
pub struct Limits {
    /// Open connections at most; 0: no cap.
    pub max_connections: usize,
    /// Open connections per client address (IPv6: per /64) at most; 0: no cap.
    pub max_per_ip: usize,
    /// Peers the per-address cap does not apply to: trusted proxies carry many clients.
    pub exempt: Vec<Cidr>,
    /// From accepting, or from the first byte after an idle spell, to a complete request head.
    pub header_read_timeout: Duration,
    /// From an answer to the first byte of the next request.
    pub keep_alive_timeout: Duration,
}

/// Accepts and serves connections until `stop` turns true, then stops accepting, lets requests
/// in flight finish, closes idle connections and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = Arc::new(limits);
    let total =
        Arc::new(Semaphore::new(if limits.max_connections == 0 { Semaphore::MAX_PERMITS } else { limits.max_connections }));
    let per_ip = Arc::new(PerIp { max: limits.max_per_ip, open: Mutex::new(HashMap::new()) });
    // Every connection task holds a receiver; the sender sees all of them gone when the last
    // connection has closed.
    let (open_tx, open_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            metrics.connection_refused("max_connections");
            tracing::debug!(%peer, "connection closed at accept: max_connections reached");
            continue;
        };
        let capped = limits.max_per_ip > 0 && !limits.exempt.iter().any(|c| c.contains(peer.ip()));
        let slot = if capped {
            let Some(slot) = per_ip.enter(peer.ip()) else {
                metrics.connection_refused("max_connections_per_ip");
                tracing::debug!(%peer, "connection closed at accept: max_connections_per_ip reached");
                continue;
            };
            Some(slot)
        } else {
            None
        };
        let _ = stream.set_nodelay(true);
        let open = Open { _permit: permit, _slot: slot, _tasks: open_rx.clone(), metrics: metrics.clone() };
        metrics.connection_opened();
        tokio::spawn(connection(stream, peer, router.clone(), limits.clone(), stop.clone(), open));
    }
    drop(listener);
    drop(open_rx);
    open_tx.closed().await;
}

/// Errors of one connection (the peer gave up) are no reason to pause; others (out of file
/// descriptors) are, or the loop would spin.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind as K;
    if matches!(e.kind(), K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset) {
        return;
    }
    tracing::warn!(error = %e, "accept failed; pausing briefly");
    tokio::time::sleep(Duration::from_millis(250)).await;
}

/// What an open connection holds until it closes.
struct Open {
    _permit: OwnedSemaphorePermit,
    _slot: Option<IpSlot>,
    _tasks: watch::Receiver<()>,
    metrics: Arc<Metrics>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.metrics.connection_closed();
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Arc<Limits>,
    mut stop: watch::Receiver<bool>,
    _open: Open,
) {
    let activity = Arc::new(Activity {
        phase: Mutex::new(Phase::Head(Instant::now())),
        changed: Notify::new(),
        linger: AtomicBool::new(false),
    });
    let io = TokioIo::new(Watched { stream, activity: activity.clone() });
    let watch = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| -> Answer {
        let in_flight = watch.begin();
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        Box::pin(async move {
            let response = router.oneshot(req).await;
            if let Ok(r) = &response
                && r.headers().get(CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
            {
                in_flight.0.linger.store(true, Ordering::Relaxed);
            }
            drop(in_flight);
            response
        })
    });
    // The timeouts are kept here rather than by hyper, whose header timer also runs while a
    // keep-alive connection is idle, so the two could not differ.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.header_read_timeout(None);
    let mut conn = builder.serve_connection(io, service);
    let mut stopping = false;
    let finished = loop {
        let deadline = activity.deadline(&limits);
        tokio::select! {
            result = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => {
                if let Err(e) = &result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break result.is_ok();
            }
            () = sleep_until(deadline) => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "closing a connection that sent no complete request in time");
                    break false;
                }
            }
            () = activity.changed.notified() => {}
            () = stopped(&mut stop), if !stopping => {
                // Idle connections close now; one with a request in flight once it is answered.
                stopping = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
        }
    };
    if finished {
        let mut stream = conn.into_parts().io.into_inner().stream;
        let _ = stream.shutdown().await;
        if activity.linger.load(Ordering::Relaxed) {
            linger(&mut stream).await;
        }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send>>;

/// After an answer that closes the connection (a body refused unread), reads and discards what
/// the client still sends until it closes, for a short while: closing a socket with unread data
/// resets it, and a reset can destroy the answer before the client has read it.
async fn linger(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    let drain = async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// How long [`linger`] waits for the client to close.
const LINGER: Duration = Duration::from_secs(2);

/// Resolves once the server is told to stop (or its stop handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; it must not live across an await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Where a connection is between requests.
#[derive(Clone, Copy)]
enum Phase {
    /// Waiting for a request head, since this instant (accept, or the first byte after idling).
    Head(Instant),
    /// This many requests in flight.
    Busy(usize),
    /// Answered everything, since this instant.
    Idle(Instant),
}

struct Activity {
    phase: Mutex<Phase>,
    /// Wakes the connection's loop to compute its deadline again.
    changed: Notify,
    /// An answer closed the connection: the client may still be sending.
    linger: AtomicBool,
}

impl Activity {
    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.phase() = phase;
        self.changed.notify_one();
    }

    fn bytes_arrived(&self) {
        let idle = matches!(*self.phase(), Phase::Idle(_));
        if idle {
            self.set(Phase::Head(Instant::now()));
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        let next = match *self.phase() {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        };
        self.set(next);
        InFlight(self.clone())
    }

    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        match *self.phase() {
            Phase::Head(since) => Some(since + limits.header_read_timeout),
            Phase::Idle(since) => Some(since + limits.keep_alive_timeout),
            Phase::Busy(_) => None,
        }
    }
}

/// A request being handled; its end makes the connection idle.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let next = match *self.0.phase() {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
        self.0.set(next);
    }
}

/// The socket, telling the connection's [`Activity`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Open connections per client address.
struct PerIp {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address.
struct IpSlot {
    table: Arc<PerIp>,
    key: IpAddr,
}

impl PerIp {
    fn open(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for `ip`, or `None` when the address already has its share.
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let key = key(ip);
        let mut open = self.open();
        let n = open.entry(key).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot { table: self.clone(), key })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.table.open();
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The address a cap counts against: IPv4 as is (also when mapped into IPv6), IPv6 by its /64,
/// since one subscriber usually holds a whole /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_share_a_cap_by_ipv4_address_and_ipv6_slash_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(key(ip("2001:db8:1:2:aaaa::1")), key(ip("2001:db8:1:2:bbbb::2")));
        assert_ne!(key(ip("2001:db8:1:2::1")), key(ip("2001:db8:1:3::1")));
        assert_eq!(key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_ne!(key(ip("192.0.2.7")), key(ip("192.0.2.8")));
    }

    #[test]
    fn a_slot_is_given_back_when_its_connection_closes() {
        let table = Arc::new(PerIp { max: 2, open: Mutex::new(HashMap::new()) });
        let ip = IpAddr::from([192, 0, 2, 1]);
        let a = table.enter(ip);
        let b = table.enter(ip);
        assert!(a.is_some() && b.is_some());
        assert!(table.enter(ip).is_none());
        assert!(table.enter(IpAddr::from([192, 0, 2, 2])).is_some());
        drop(a);
        let c = table.enter(ip);
        assert!(c.is_some());
        drop((b, c));
        assert!(table.open().is_empty(), "closed connections leave no entries behind");
    }
}
