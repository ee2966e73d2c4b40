//! The HTTP server's connection handling: a cap on concurrent connections (the next one
//! waits in the kernel's backlog until one closes) and a header-read timeout (a client that
//! opens a connection and sends nothing, or sends its headers byte by byte, is cut off), on
//! the daemon's clock so that the tests run it on virtual time. On shutdown every live
//! stream ends first (the `stopping` signal), then every connection is closed gracefully.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use keyway_core::physics::Millis;
use tokio::sync::{Semaphore, watch};

use crate::clock::{Clock, Sleep as ClockSleep};

/// The edge's limits (`keyway serve --max-connections`, `--header-timeout-seconds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a client has to send its request's headers.
    pub header_read_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// hyper's timer on the daemon's clock.
#[derive(Clone, Debug)]
struct ClockTimer {
    clock: Arc<dyn Clock>,
    /// The `Instant` that stands for the clock's monotonic 0.
    origin: Instant,
}

impl ClockTimer {
    fn new(clock: Arc<dyn Clock>) -> ClockTimer {
        let origin = crate::clock::instant_of_zero(&*clock);
        ClockTimer { clock, origin }
    }

    fn sleep_to(&self, at: Millis) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TimerSleep {
            clock: Arc::clone(&self.clock),
            at,
            wait: Mutex::new(self.clock.sleep_until(at)),
        })
    }
}

impl hyper::rt::Timer for ClockTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let at = self
            .clock
            .monotonic()
            .saturating_add(duration.as_millis().min(i64::MAX as u128) as Millis);
        self.sleep_to(at)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let at = deadline.saturating_duration_since(self.origin).as_millis() as Millis;
        self.sleep_to(at)
    }

    fn now(&self) -> Instant {
        self.origin + Duration::from_millis(self.clock.monotonic().max(0) as u64)
    }
}

/// A sleep until `at` on the clock: the clock's own sleep may end early (a virtual clock
/// wakes its sleepers on any change), so it is taken again until `at` is reached.
struct TimerSleep {
    clock: Arc<dyn Clock>,
    at: Millis,
    wait: Mutex<ClockSleep>,
}

impl Future for TimerSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut wait = this.wait.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if this.clock.monotonic() >= this.at {
                return Poll::Ready(());
            }
            match wait.as_mut().poll(context) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => *wait = this.clock.sleep_until(this.at),
            }
        }
    }
}

impl hyper::rt::Sleep for TimerSleep {}

/// Serves `router` on `listener` until `shutdown` completes; then signals `stopping` (live
/// streams end) and closes every connection gracefully.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: HttpLimits,
    clock: Arc<dyn Clock>,
    stopping: watch::Sender<bool>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(ClockTimer::new(clock))
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the connection: past the cap, clients wait in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, for instance: the listener stays, and the
                    // next accept is tried when a connection has closed.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::task::yield_now().await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // No Nagle delay: a badge's answer is small and must not wait for the client's ACK.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY");
        }
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let mut stopping = stopping.subscribe();
        connections.spawn(async move {
            let _slot = slot;
            tokio::pin!(connection);
            let stop = async move {
                let _ = stopping.wait_for(|stopping| *stopping).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        // Reap what has finished, so the set does not grow with every connection.
        while connections.try_join_next().is_some() {}
    }
    let _ = stopping.send(true);
    while connections.join_next().await.is_some() {}
}
