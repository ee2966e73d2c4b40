//! Webhooks after the Standard Webhooks specification: each durable event, as its JSON, POSTed
//! to every endpoint that asked for its kind, signed (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).
//!
//! The outbox is the audit log (`keyway_store::webhooks`): each endpoint has a cursor, and
//! one task per endpoint delivers the events after it, in order, one at a time, retrying with
//! backoff on the daemon's clock. So an endpoint is owed every event from the commit that
//! stores it, through restarts and crashes (at least once: a delivery whose record a crash
//! lost is made again), and a receiver that is slow or down delays only itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hmac::{KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use keyway_core::physics::Millis;
use keyway_store::{Attempt, DeliveryRow, Store, StoredEvent, WebhookChange, WebhookRow};
use tokio::sync::{broadcast, oneshot, watch};

use crate::clock::Clock;
use crate::writer::{Job, Writer};

/// Where deliveries go: an `http://` or `https://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The path and query, `/` at least.
    pub path: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("url {url:?}: {problem}")]
pub struct TargetError {
    pub url: String,
    pub problem: &'static str,
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(url: &str) -> Result<Target, TargetError> {
        let bad = |problem| TargetError {
            url: url.to_string(),
            problem,
        };
        let uri: hyper::Uri = url
            .parse()
            .map_err(|_| bad("not a URL (http://host[:port]/path or https://…)"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(bad("it must start with http:// or https://")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "a user or password in the URL is not sent; the signature proves the sender",
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if url.contains('#') {
            return Err(bad("a fragment is never sent"));
        }
        Ok(Target {
            tls,
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            path: uri
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string()),
        })
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    format!("whsec_{}", BASE64.encode(crate::auth::random_bytes::<32>()))
}

/// The key a secret stands for: the base64 after `whsec_`.
fn secret_key(secret: &str) -> Option<Vec<u8>> {
    BASE64.decode(secret.strip_prefix("whsec_")?).ok()
}

/// `v1,<base64 of HMAC-SHA256(key, "id.timestamp.body")>`.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret_key(secret)?).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// A message's id, the same at every attempt: the event's sequence number and the start of
/// its hash (unique across controllers too).
pub fn message_id(event: &StoredEvent) -> String {
    format!(
        "evt_{}_{}",
        event.seq,
        event.hash.get(..16).unwrap_or(&event.hash)
    )
}

/// Whether an endpoint asked for this kind.
pub fn wants(kinds: &[String], kind: &str) -> bool {
    kinds.iter().any(|k| k == "*" || k == kind)
}

/// The first wait after a failed attempt, and the longest.
pub const BACKOFF_MILLIS: (Millis, Millis) = (1_000, 600_000);
/// How long one event is retried, from its first attempt, before it is marked failed and
/// the endpoint moves on to the next.
pub const RETRY_FOR_MILLIS: Millis = 24 * 3_600_000;
/// How long a receiver has to answer one delivery.
pub const ANSWER_WITHIN_MILLIS: Millis = 10_000;
/// The outcomes of every endpoint's attempts are recorded together, in one transaction,
/// this often (on the daemon's clock), so that the audit log's writer pays one commit a
/// second for them however many endpoints and events there are.
pub const RECORD_EVERY_MILLIS: Millis = 1_000;
/// Sooner when this many wait.
const RECORD_AT_MOST: usize = 10_000;

/// What a running endpoint shows: its cursor as far as it has delivered, and its counts.
#[derive(Debug, Default)]
pub struct Progress {
    pub delivered_to: AtomicU64,
    pub deliveries: AtomicU64,
    pub failures: AtomicU64,
    pub given_up: AtomicU64,
    /// The newest outcomes since the daemon started, newest first, one per event (the
    /// database keeps only the failures).
    recent: Mutex<std::collections::VecDeque<DeliveryRow>>,
}

impl Progress {
    fn remember(&self, row: DeliveryRow) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.front().is_some_and(|newest| newest.seq == row.seq) {
            recent.pop_front();
        }
        recent.push_front(row);
        recent.truncate(keyway_store::DELIVERIES_KEPT as usize);
    }

    /// The newest `limit` outcomes since the daemon started, newest first.
    pub fn recent(&self, limit: usize) -> Vec<DeliveryRow> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .take(limit)
            .cloned()
            .collect()
    }
}

struct Running {
    stop: watch::Sender<bool>,
    progress: Arc<Progress>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("progress", &self.progress)
            .finish()
    }
}

/// The endpoints' delivery tasks, on a runtime of their own (one thread): however many
/// endpoints and events there are, delivering them takes at most one core from the
/// controller and the API.
#[derive(Clone, Debug)]
pub struct Webhooks {
    running: Arc<Mutex<HashMap<String, Running>>>,
    context: Arc<Context>,
    runtime: tokio::runtime::Handle,
    /// Ends the runtime's thread, once every task has stopped.
    end: Arc<Mutex<Option<ThreadEnd>>>,
    /// The task recording every endpoint's outcomes, and its stop.
    recorder: Arc<Mutex<Option<TaskStop>>>,
}

/// What ends the delivery thread: a signal to its runtime, and the thread to join.
type ThreadEnd = (oneshot::Sender<()>, std::thread::JoinHandle<()>);
/// What stops a task: its stop signal, and the task to wait for.
type TaskStop = (watch::Sender<bool>, tokio::task::JoinHandle<()>);

/// What every delivery task shares.
pub struct Context {
    pub reader: Mutex<Store>,
    pub writer: Writer,
    pub live: broadcast::Sender<StoredEvent>,
    pub clock: Arc<dyn Clock>,
    pub zone: jiff::tz::TimeZone,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Outcomes waiting to be recorded, each with its endpoint's id.
    unrecorded: Mutex<Vec<(String, Attempt)>>,
    /// Tells the recorder that many wait.
    full: tokio::sync::Notify,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Starts the delivery thread and a task for each stored endpoint. `reader` is a
    /// connection of its own.
    pub fn start(
        rows: Vec<WebhookRow>,
        reader: Store,
        writer: Writer,
        live: broadcast::Sender<StoredEvent>,
        clock: Arc<dyn Clock>,
        zone: jiff::tz::TimeZone,
    ) -> std::io::Result<Webhooks> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (end_tx, end_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("keyway-webhooks".to_string())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => {
                        let _ = handle_tx.send(Ok(runtime.handle().clone()));
                        runtime.block_on(async {
                            let _ = end_rx.await;
                        });
                    }
                    Err(error) => {
                        let _ = handle_tx.send(Err(error));
                    }
                }
            })?;
        let runtime = handle_rx
            .recv()
            .map_err(|_| std::io::Error::other("the webhook thread ended at start"))??;
        // Without roots an https:// endpoint fails each attempt and says why.
        let tls = match crate::tls::client_config(None) {
            Ok(config) => Some(Arc::new(config)),
            Err(error) => {
                tracing::warn!(%error, "webhooks: no TLS roots; https:// endpoints will fail");
                None
            }
        };
        let webhooks = Webhooks {
            running: Arc::default(),
            runtime,
            end: Arc::new(Mutex::new(Some((end_tx, thread)))),
            context: Arc::new(Context {
                reader: Mutex::new(reader),
                writer,
                live,
                clock,
                zone,
                tls,
                unrecorded: Mutex::new(Vec::new()),
                full: tokio::sync::Notify::new(),
            }),
            recorder: Arc::new(Mutex::new(None)),
        };
        let (stop, stopped) = watch::channel(false);
        let task = webhooks
            .runtime
            .spawn(recorder(Arc::clone(&webhooks.context), stopped));
        *webhooks.recorder.lock().unwrap_or_else(|e| e.into_inner()) = Some((stop, task));
        for row in rows {
            webhooks.run(row);
        }
        Ok(webhooks)
    }

    /// Starts delivering to an endpoint just stored.
    pub fn run(&self, row: WebhookRow) {
        let (stop, stopped) = watch::channel(false);
        let progress = Arc::new(Progress::default());
        progress.delivered_to.store(row.cursor, Ordering::Relaxed);
        let id = row.id.clone();
        let task = self.runtime.spawn(deliver(
            row,
            Arc::clone(&self.context),
            Arc::clone(&progress),
            stopped,
        ));
        let old = self.lock().insert(
            id,
            Running {
                stop,
                progress,
                task,
            },
        );
        if let Some(old) = old {
            let _ = old.stop.send(true);
        }
    }

    /// Stops delivering to an endpoint (removed).
    pub fn stop(&self, id: &str) {
        if let Some(running) = self.lock().remove(id) {
            let _ = running.stop.send(true);
        }
    }

    /// Stops every task, waits for them to record what they delivered, then ends the
    /// delivery thread.
    pub async fn stop_all(&self) {
        let running: Vec<Running> = self.lock().drain().map(|(_, r)| r).collect();
        for r in &running {
            let _ = r.stop.send(true);
        }
        for r in running {
            let _ = r.task.await;
        }
        // The last outcomes recorded.
        let recorder = self
            .recorder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((stop, task)) = recorder {
            let _ = stop.send(true);
            let _ = task.await;
        }
        let end = self.end.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((end, thread)) = end {
            let _ = end.send(());
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Each running endpoint's progress, by id.
    pub fn progress(&self) -> Vec<(String, Arc<Progress>)> {
        let mut out: Vec<_> = self
            .lock()
            .iter()
            .map(|(id, r)| (id.clone(), Arc::clone(&r.progress)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Hands a change to the writer and waits for it.
pub async fn record(writer: &Writer, change: WebhookChange) -> Result<bool, String> {
    let (reply, answer) = oneshot::channel();
    writer
        .send(Job::Webhook { change, reply })
        .map_err(|_| "the writer has stopped".to_string())?;
    match answer.await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the writer has stopped".to_string()),
    }
}

/// One endpoint's task: the events after its cursor, in order, each until delivered or
/// given up on.
async fn deliver(
    row: WebhookRow,
    context: Arc<Context>,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) {
    let target: Target = match row.url.parse() {
        Ok(target) => target,
        Err(error) => {
            tracing::error!(id = %row.id, %error, "webhook endpoint not started");
            return;
        }
    };
    let clock = Arc::clone(&context.clock);
    let mut live = context.live.subscribe();
    let mut connection: Option<Connection> = None;
    // Read up to here (the kinds it did not ask for are passed over).
    let mut scanned = row.cursor;
    // Events taken from the live stream while caught up: no read of the log for them.
    let mut fresh: Vec<StoredEvent> = Vec::new();
    'endpoint: loop {
        if *stop.borrow() {
            break;
        }
        let batch = if fresh.is_empty() {
            let read = {
                let reader = context.reader.lock().unwrap_or_else(|e| e.into_inner());
                reader.events_after(scanned, 256)
            };
            match read {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(id = %row.id, %error, "webhook: cannot read the log; trying again");
                    if wait(&*clock, &mut stop, BACKOFF_MILLIS.0).await {
                        break;
                    }
                    continue;
                }
            }
        } else {
            std::mem::take(&mut fresh)
        };
        if batch.is_empty() {
            // Caught up: until an event is stored or the endpoint stops.
            tokio::select! {
                event = live.recv() => {
                    // The next one in the log, and those right after it: delivered from
                    // here. Anything else (a gap, a lag) is read from the log.
                    if let Ok(event) = event && event.seq == scanned + 1 {
                        fresh.push(event);
                        while let Ok(next) = live.try_recv() {
                            if next.seq != fresh[fresh.len() - 1].seq + 1 {
                                fresh.clear();
                                break;
                            }
                            fresh.push(next);
                        }
                    }
                }
                _ = stop.changed() => {}
            }
            continue;
        }
        for event in batch {
            scanned = event.seq;
            if !wants(&row.kinds, &event.event.kind) {
                continue;
            }
            let body =
                Bytes::from(crate::api::stored_event_json(&context.zone, &event).to_string());
            let id = message_id(&event);
            let first = clock.wall();
            let mut attempts = 0u32;
            let mut backoff = BACKOFF_MILLIS.0;
            loop {
                attempts += 1;
                let result = attempt(
                    &context,
                    &target,
                    &mut connection,
                    &row.secret,
                    &id,
                    body.clone(),
                    &mut stop,
                )
                .await;
                let now = clock.wall();
                let outcome = |error, give_up| Attempt {
                    seq: event.seq,
                    kind: event.event.kind.clone(),
                    attempts,
                    error,
                    give_up,
                    at: now,
                };
                match result {
                    Ok(()) => {
                        progress.deliveries.fetch_add(1, Ordering::Relaxed);
                        progress.delivered_to.store(event.seq, Ordering::Relaxed);
                        context.note(&row.id, &progress, outcome(None, false));
                        break;
                    }
                    Err(Failure::Stopped) => break 'endpoint,
                    Err(Failure::Failed(error)) => {
                        progress.failures.fetch_add(1, Ordering::Relaxed);
                        let give_up = now.saturating_sub(first) >= RETRY_FOR_MILLIS;
                        tracing::debug!(id = %row.id, seq = event.seq, attempts, %error, give_up, "webhook delivery failed");
                        context.note(&row.id, &progress, outcome(Some(error), give_up));
                        if give_up {
                            progress.given_up.fetch_add(1, Ordering::Relaxed);
                            progress.delivered_to.store(event.seq, Ordering::Relaxed);
                            tracing::warn!(id = %row.id, seq = event.seq, attempts, "webhook: event given up on after retrying for 24 h");
                            break;
                        }
                        if wait(&*clock, &mut stop, backoff).await {
                            break 'endpoint;
                        }
                        backoff = (backoff * 2).min(BACKOFF_MILLIS.1);
                    }
                }
            }
        }
    }
}

impl Context {
    /// An attempt's outcome: kept in memory for the API, and to be recorded with the others.
    fn note(&self, id: &str, progress: &Progress, attempt: Attempt) {
        progress.remember(DeliveryRow {
            seq: attempt.seq,
            kind: attempt.kind.clone(),
            status: attempt.status().to_string(),
            attempts: attempt.attempts,
            last_error: attempt.error.clone(),
            updated: attempt.at,
        });
        let mut unrecorded = self.unrecorded.lock().unwrap_or_else(|e| e.into_inner());
        unrecorded.push((id.to_string(), attempt));
        if unrecorded.len() >= RECORD_AT_MOST {
            self.full.notify_one();
        }
    }
}

/// Records every endpoint's outcomes together, each `RECORD_EVERY_MILLIS` (or sooner when
/// many wait), and once more when it stops. A record that cannot be written is dropped: the
/// cursors stay where they were, so those events are delivered again (at least once).
async fn recorder(context: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let clock = Arc::clone(&context.clock);
    loop {
        let stopping = *stop.borrow();
        if !stopping {
            let due = clock.monotonic().saturating_add(RECORD_EVERY_MILLIS);
            while clock.monotonic() < due && !*stop.borrow() {
                tokio::select! {
                    _ = clock.sleep_until(due) => {}
                    _ = stop.changed() => {}
                    _ = context.full.notified() => break,
                }
            }
        }
        let attempts =
            std::mem::take(&mut *context.unrecorded.lock().unwrap_or_else(|e| e.into_inner()));
        if !attempts.is_empty()
            && let Err(error) = record(&context.writer, WebhookChange::Attempts { attempts }).await
        {
            tracing::warn!(%error, "webhook deliveries not recorded; they will be made again");
        }
        if stopping {
            return;
        }
    }
}

/// Waits `millis` on the clock; true when the endpoint stops meanwhile.
async fn wait(clock: &dyn Clock, stop: &mut watch::Receiver<bool>, millis: Millis) -> bool {
    let until = clock.monotonic().saturating_add(millis);
    while clock.monotonic() < until {
        if *stop.borrow() {
            return true;
        }
        tokio::select! {
            _ = clock.sleep_until(until) => {}
            _ = stop.changed() => {}
        }
    }
    *stop.borrow()
}

enum Failure {
    Stopped,
    Failed(String),
}

type Connection = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One POST, on the kept connection or a new one, answered within `ANSWER_WITHIN_MILLIS`.
async fn attempt(
    context: &Context,
    target: &Target,
    connection: &mut Option<Connection>,
    secret: &str,
    id: &str,
    body: Bytes,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Failure> {
    let clock = &*context.clock;
    let deadline = clock.monotonic().saturating_add(ANSWER_WITHIN_MILLIS);
    let kept = connection.take();
    let work = async {
        let timestamp = clock.wall().div_euclid(1_000);
        let signature = signature(secret, id, timestamp, &body)
            .ok_or_else(|| "the endpoint's secret is not whsec_ and base64".to_string())?;
        let mut sender = match kept {
            Some(mut sender) => match sender.ready().await {
                Ok(()) => sender,
                Err(_) => connect(context, target).await?,
            },
            None => connect(context, target).await?,
        };
        let request = hyper::Request::post(&target.path)
            .header(hyper::header::HOST, host_header(target))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("Keyway/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status();
        // The body is read (so the connection can be kept) and dropped.
        let _ = response.into_body().collect().await;
        let keep = (!sender.is_closed()).then_some(sender);
        if status.is_success() {
            Ok(keep)
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    };
    tokio::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => {
                return match result {
                    Ok(keep) => {
                        *connection = keep;
                        Ok(())
                    }
                    Err(error) => Err(Failure::Failed(error)),
                };
            }
            _ = clock.sleep_until(deadline) => {
                if clock.monotonic() >= deadline {
                    return Err(Failure::Failed(format!("no answer within {} s", ANSWER_WITHIN_MILLIS / 1_000)));
                }
            }
            _ = stop.changed() => {
                if *stop.borrow() {
                    return Err(Failure::Stopped);
                }
            }
        }
    }
}

fn host_header(target: &Target) -> String {
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    match (target.tls, target.port) {
        (false, 80) | (true, 443) => host,
        (_, port) => format!("{host}:{port}"),
    }
}

async fn connect(context: &Context, target: &Target) -> Result<Connection, String> {
    let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if target.tls {
        let config = context
            .tls
            .clone()
            .ok_or_else(|| "no TLS roots on this machine".to_string())?;
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|e| format!("bad TLS name: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        handshake(hyper_util::rt::TokioIo::new(stream)).await
    } else {
        handshake(hyper_util::rt::TokioIo::new(tcp)).await
    }
}

async fn handshake<T>(io: T) -> Result<Connection, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // Ends when the sender is dropped or the receiver closes.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_bad_ones_say_why() {
        let target: Target = "http://127.0.0.1:8123/api/webhook/x?y=1".parse().unwrap();
        assert_eq!(
            target,
            Target {
                tls: false,
                host: "127.0.0.1".into(),
                port: 8123,
                path: "/api/webhook/x?y=1".into()
            }
        );
        let target: Target = "https://hooks.example".parse().unwrap();
        assert_eq!((target.port, target.path.as_str()), (443, "/"));
        assert_eq!(host_header(&target), "hooks.example");
        for (url, says) in [
            ("ftp://h/", "http:// or https://"),
            ("http://u:p@h/", "user or password"),
            ("hooks.example/x", "not a URL"),
            ("http://h/#x", "fragment"),
        ] {
            let error = url.parse::<Target>().unwrap_err();
            assert!(error.to_string().contains(says), "{url}: {error}");
        }
    }

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, id, 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(signature("not-a-secret", id, 1, body).is_none());
        let fresh = new_secret();
        assert!(fresh.starts_with("whsec_"));
        assert_eq!(secret_key(&fresh).unwrap().len(), 32);
    }

    #[test]
    fn kinds_select_events() {
        let some = vec!["access_granted".to_string(), "door_forced".to_string()];
        assert!(wants(&some, "door_forced"));
        assert!(!wants(&some, "access_denied"));
        assert!(wants(&["*".to_string()], "anything"));
    }
}
