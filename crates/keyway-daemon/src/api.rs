//! The HTTP API (axum). The only module that knows HTTP: handlers check the token, parse the
//! request, call the service, and shape the answer. Errors are JSON `{"error": "…"}` with
//! 400 (bad body), 401 (no or bad token), 403 (role too weak), 404 (unknown door, circuit or
//! credential), 413 (body too large), 503 (the controller has stopped, storage fails, or a
//! command's events are not durable: then the answer carries `"durable": false` and the
//! decision, since the doors have moved already). `service_error` is the one place a
//! service error becomes a status.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures_util::Stream;
use keyway_core::controller::{EventKind, Input};
use keyway_core::physics::Command;
use keyway_core::site::{CircuitIdx, DoorIdx, Side};
use keyway_store::{CredentialRow, Store, StoredEvent};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::auth::{Role, TokenInfo, check_name, hash_token, new_token, token_id};
use crate::real_devices::{self, SimAtDoor};
use crate::service::{Origin, Service, ServiceError, Source};
use crate::writer::Job;

mod accounts;
mod alarms;
mod levels;
mod people;
mod schedules;
mod webhooks;

/// Everything a handler needs.
#[derive(Clone, Debug)]
pub struct AppState {
    pub service: Service,
    /// A second connection for reads, so that reads never wait behind the writer.
    pub reader: Arc<Mutex<Store>>,
    /// Token hash to role.
    pub tokens: Arc<RwLock<HashMap<String, TokenInfo>>>,
    pub live: broadcast::Sender<StoredEvent>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Becomes true when the daemon stops: every live stream ends, so that the graceful
    /// shutdown does not wait for clients that never leave.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Stored state that refers to what the site no longer has, found at start.
    pub stale: Arc<Mutex<crate::stale::StaleState>>,
    /// The console's users and sessions.
    pub accounts: Arc<RwLock<crate::accounts::Accounts>>,
    /// The alarms an operator handles, fed from every stored event.
    pub alarms: Arc<RwLock<crate::alarms::AlarmBook>>,
    /// The site file's schedules, as the file has them (before the console's changes).
    pub file_schedules: Arc<Vec<keyway_core::site::Schedule>>,
    /// The webhook endpoints' delivery tasks.
    pub webhooks: crate::webhooks::Webhooks,
    /// With `--mqtt`: whether the broker is connected.
    pub mqtt_connected: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// An API error: a status and a message for the person reading it.
#[derive(Debug)]
pub enum ApiError {
    Plain(StatusCode, String),
    /// The command acted (these are its events) but its events are not durable yet.
    NotDurable {
        events: Vec<Value>,
        reason: String,
    },
}

/// Maps a service error to its answer: the one place that decides the status.
fn service_error(state: &AppState, error: ServiceError) -> ApiError {
    match error {
        ServiceError::NotDurable { events, reason } => ApiError::NotDurable {
            events: events
                .iter()
                .map(|event| new_event_json(state, event))
                .collect(),
            reason: reason.reason,
        },
        ServiceError::Credential(message) => ApiError::bad_request(message),
        error @ (ServiceError::Stopped | ServiceError::Store(_)) => {
            ApiError::unavailable(error.to_string())
        }
    }
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        ApiError::Plain(StatusCode::BAD_REQUEST, message.into())
    }

    fn not_found(message: impl Into<String>) -> Self {
        ApiError::Plain(StatusCode::NOT_FOUND, message.into())
    }

    fn unavailable(message: impl Into<String>) -> Self {
        ApiError::Plain(StatusCode::SERVICE_UNAVAILABLE, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Plain(status, message) => {
                (status, Json(json!({ "error": message }))).into_response()
            }
            ApiError::NotDurable { events, reason } => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": reason, "durable": false, "events": events })),
            )
                .into_response(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::Plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large".to_string(),
            ),
            _ => ApiError::bad_request(format!("bad request body: {}", rejection.body_text())),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The largest body most endpoints take; a CSV import may be larger.
const BODY_LIMIT: usize = 64 * 1024;
const IMPORT_LIMIT: usize = 256 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/doors", get(doors))
        .route("/api/status", get(status))
        .route("/api/events", get(events))
        .route("/api/events.csv", get(events_csv))
        .route("/api/stream", get(stream))
        .route("/api/doors/{id}/unlock", post(door_unlock))
        .route("/api/doors/{id}/lock", post(door_lock))
        .route("/api/doors/{id}/release", post(door_release))
        .route("/api/doors/{id}/momentary", post(door_momentary))
        .route("/api/lockdown", post(lockdown))
        .route("/api/emergency", post(people::emergency))
        .route("/api/fire-alarm/reset", post(fire_alarm_reset))
        .route(
            "/api/credentials",
            get(list_credentials).post(put_credential),
        )
        .route("/api/credentials/search", get(search_credentials))
        .route("/api/credentials/{number}", delete(delete_credential))
        .route("/api/sim/badge", post(sim_badge))
        .route("/api/sim/muster", post(people::sim_muster))
        .route("/api/sim/pin", post(people::sim_pin))
        .route("/api/occupancy", get(people::occupancy))
        .route("/api/muster", get(people::muster))
        .route("/api/anti-passback/forgive", post(people::forgive))
        .route("/api/sim/rex/{door}", post(sim_rex))
        .route("/api/sim/door/{door}", post(sim_door))
        .route("/api/sim/power/{circuit}", post(sim_power))
        .route("/api/sim/fire-alarm", post(sim_fire_alarm))
        .route("/api/sim/clock", post(sim_clock))
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
        .route("/api/stale", get(list_stale))
        .route("/api/readers", get(list_readers))
        .route("/api/stale/clear", post(clear_stale))
        .route("/api/whoami", get(whoami))
        .route("/api/site", get(site))
        .route("/api/simulate", get(simulate))
        .route("/api/check", get(check_site))
        .route(
            "/api/session",
            get(accounts::current_session).delete(accounts::sign_out),
        )
        .route("/api/session/password", post(accounts::change_own_password))
        .route(
            "/api/users",
            get(accounts::list_users).post(accounts::create_user),
        )
        .route("/api/levels", get(levels::list).post(levels::put))
        .route("/api/levels/{id}", delete(levels::delete))
        .route("/api/schedules", get(schedules::list).post(schedules::put))
        .route("/api/schedules/{id}", delete(schedules::delete))
        .route("/api/webhooks", get(webhooks::list).post(webhooks::add))
        .route(
            "/api/webhooks/{id}",
            get(webhooks::get_one).delete(webhooks::delete),
        )
        .route("/api/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/api/alarms", get(alarms::list))
        .route("/api/alarms/{seq}/acknowledge", post(alarms::acknowledge))
        .route(
            "/api/users/{name}",
            axum::routing::patch(accounts::change_user).delete(accounts::delete_user),
        )
        // The token before the body: a request without a valid one is refused from its
        // headers, and its body is never read.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_viewer,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let import = Router::new()
        .route("/api/credentials/import", post(import_credentials))
        // 256 MiB are read only for an admin.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_admin,
        ))
        .layer(DefaultBodyLimit::max(IMPORT_LIMIT));
    // Signing in and setting up: no token or session yet.
    let public = Router::new()
        .route("/api/session", post(accounts::sign_in))
        .route(
            "/api/setup",
            get(accounts::setup_status).post(accounts::setup),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new()
        .route("/", get(console_page))
        .route("/console/{file}", get(console_file))
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .merge(public)
        .merge(api)
        .merge(import)
        .fallback(|| async { ApiError::not_found("no such path") })
        .method_not_allowed_fallback(|| async {
            ApiError::Plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "this path does not take that method".to_string(),
            )
        })
        .with_state(state)
}

async fn require_viewer(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match authorize_request(&state, &request, Role::Viewer) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn require_admin(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match authorize_request(&state, &request, Role::Admin) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// The caller's token or session, and for a session's request that changes anything, its
/// CSRF token: a page of another site can make the browser send the cookie (SameSite=Strict
/// aside), never the header.
fn authorize_request(
    state: &AppState,
    request: &axum::extract::Request,
    needed: Role,
) -> ApiResult<()> {
    let caller = authorize(state, request.headers(), needed)?;
    let safe = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if let (Some(session), false) = (&caller.session, safe) {
        let given = request
            .headers()
            .get(crate::accounts::CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !crate::accounts::constant_time_eq(given, session.csrf.as_bytes()) {
            return Err(ApiError::Plain(
                StatusCode::FORBIDDEN,
                "this request changes something and lacks the session's X-CSRF-Token header (from POST or GET /api/session)".to_string(),
            ));
        }
    }
    Ok(())
}

/// Whether a token or a user has this name (names are the log's actors, so unique).
fn name_taken(state: &AppState, name: &str) -> ApiResult<bool> {
    let token = state
        .tokens
        .read()
        .map_err(|_| ApiError::unavailable("token table unavailable"))?
        .values()
        .any(|t| t.name == name);
    let user = state
        .accounts
        .read()
        .map_err(|_| ApiError::unavailable("account table unavailable"))?
        .user(name)
        .is_some();
    Ok(token || user)
}

/// Who is asking: the role, the name its events carry as actor, and the session if it is
/// one (not a token).
#[derive(Clone, Debug)]
struct Caller {
    role: Role,
    actor: String,
    session: Option<crate::accounts::SessionCaller>,
}

impl Caller {
    fn origin(&self, source: Source) -> Origin {
        Origin::by(source, self.actor.clone())
    }
}

/// The value of the session cookie, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == crate::accounts::SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Checks the bearer token (machines) or the session cookie (the console), and that the
/// role is at least `needed`. A bearer token wins over a cookie.
fn authorize(state: &AppState, headers: &HeaderMap, needed: Role) -> ApiResult<Caller> {
    let unauthorized =
        |message: &str| ApiError::Plain(StatusCode::UNAUTHORIZED, message.to_string());
    let caller = if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("the Authorization header must be \"Bearer <token>\""))?;
        let TokenInfo { role, name } = state
            .tokens
            .read()
            .map_err(|_| ApiError::unavailable("token table unavailable"))?
            .get(&hash_token(token))
            .cloned()
            .ok_or_else(|| unauthorized("unknown token"))?;
        // The actor its events carry: the token's name.
        Caller {
            role,
            actor: name,
            session: None,
        }
    } else if let Some(cookie) = session_cookie(headers) {
        let now = state.service.clock().wall();
        let session = state
            .accounts
            .read()
            .map_err(|_| ApiError::unavailable("account table unavailable"))?
            .session(cookie, now)
            .ok_or_else(|| unauthorized("the session has ended; sign in again"))?;
        Caller {
            role: session.role,
            actor: session.user.clone(),
            session: Some(session),
        }
    } else {
        return Err(unauthorized(
            "sign in (POST /api/session), or give a bearer token",
        ));
    };
    if caller.role < needed {
        return Err(ApiError::Plain(
            StatusCode::FORBIDDEN,
            format!(
                "this needs the {} role; {} is {}",
                needed.name(),
                caller.actor,
                caller.role.name()
            ),
        ));
    }
    Ok(caller)
}

fn door_index(state: &AppState, id: &str) -> ApiResult<DoorIdx> {
    state
        .service
        .site()
        .find_door(id)
        .ok_or_else(|| ApiError::not_found(format!("no door {id:?}")))
}

/// 409 when the simulated hardware would drive a real device.
fn refuse_real(device: Option<String>) -> ApiResult<()> {
    match device {
        None => Ok(()),
        Some(device) => Err(ApiError::Plain(
            StatusCode::CONFLICT,
            format!("{device}: the simulated hardware does not drive real devices"),
        )),
    }
}

fn circuit_index(state: &AppState, id: &str) -> ApiResult<CircuitIdx> {
    state
        .service
        .site()
        .find_circuit(id)
        .ok_or_else(|| ApiError::not_found(format!("no circuit {id:?}")))
}

/// An event as the API shows it: local time with its offset in the site's zone.
pub fn event_json(state: &AppState, event: &StoredEvent) -> Value {
    stored_event_json(&state.service.site().info.timezone, event)
}

/// A stored event as the API (and MQTT, and webhooks) show it, its time in `zone`.
pub fn stored_event_json(zone: &jiff::tz::TimeZone, event: &StoredEvent) -> Value {
    let mut json = event_in_zone(zone, &event.event);
    json["seq"] = json!(event.seq);
    json["hash"] = json!(event.hash);
    json
}

/// An instant (ms since the epoch) as the API shows it: local time with its offset in the
/// site's zone, to the millisecond.
fn local_time(state: &AppState, millis: i64) -> String {
    crate::clock::time_in(&state.service.site().info.timezone, millis)
}

/// An event not (yet) stored: no sequence number, no hash.
fn new_event_json(state: &AppState, event: &keyway_store::NewEvent) -> Value {
    event_in_zone(&state.service.site().info.timezone, event)
}

fn event_in_zone(zone: &jiff::tz::TimeZone, event: &keyway_store::NewEvent) -> Value {
    json!({
        "seq": null,
        "at": crate::clock::time_in(zone, event.at),
        "kind": event.kind,
        "door": event.door,
        "credential": event.credential,
        "reason": event.reason,
        "circuit": event.circuit,
        "source": event.source,
        "actor": event.actor,
        "detail": event.detail,
        "hash": null,
    })
}

/// `{"events": [...]}`: what a command caused, once durable.
fn events_json(state: &AppState, events: &[StoredEvent]) -> Json<Value> {
    Json(json!({ "events": events.iter().map(|e| event_json(state, e)).collect::<Vec<_>>() }))
}

async fn run_input(state: &AppState, input: Input, origin: Origin) -> ApiResult<Vec<StoredEvent>> {
    state.metrics.count_input();
    state
        .service
        .input(input, origin)
        .await
        .map_err(|error| service_error(state, error))
}

async fn doors(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let snapshot = state
        .service
        .snapshot()
        .await
        .map_err(|error| service_error(&state, error))?;
    Ok(Json(
        serde_json::to_value(snapshot.doors).unwrap_or(Value::Null),
    ))
}

async fn status(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let snapshot = state
        .service
        .snapshot()
        .await
        .map_err(|error| service_error(&state, error))?;
    Ok(Json(serde_json::to_value(snapshot).unwrap_or(Value::Null)))
}

#[derive(Deserialize)]
struct EventsQuery {
    after: Option<u64>,
    /// With `order=newest`: only events below this sequence number (the next page back).
    before: Option<u64>,
    /// `oldest` (the default: from `after` on, in order) or `newest` (the newest first,
    /// paging back with `before`).
    order: Option<String>,
    limit: Option<usize>,
    // What `order=newest` and `/api/events.csv` look for; each one given must match.
    // (Not a flattened struct: the query parser then takes numbers as strings.)
    door: Option<String>,
    kind: Option<String>,
    credential: Option<String>,
    /// Words that start words of a holder's name: the events of their credentials.
    holder: Option<String>,
    actor: Option<String>,
    source: Option<String>,
    /// From (inclusive) and until (exclusive): an instant with its offset, or a local time
    /// in the site's zone.
    since: Option<String>,
    until: Option<String>,
}

impl EventsQuery {
    /// Whether any filter is given.
    fn searches(&self) -> bool {
        ![
            &self.door,
            &self.kind,
            &self.credential,
            &self.holder,
            &self.actor,
            &self.source,
            &self.since,
            &self.until,
        ]
        .iter()
        .all(|v| v.as_deref().is_none_or(str::is_empty))
    }
}

/// The most events one CSV export holds (about 40 MB); the next ones with `before`.
const CSV_MAX: usize = 200_000;

/// `GET /api/events.csv`: the events a search finds, newest first, as CSV with times in the
/// site's zone; `limit` (default and most: 200,000) and `before` as for `/api/events`.
async fn events_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    authorize(&state, &headers, Role::Viewer)?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let limit = query.limit.unwrap_or(CSV_MAX);
    if limit == 0 || limit > CSV_MAX {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {CSV_MAX}; export further back with before"
        )));
    }
    let before = query.before.unwrap_or(i64::MAX as u64);
    let filter = event_filter(&state, query).await?;
    let reader = Arc::clone(&state.reader);
    let zone = state.service.site().info.timezone.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let mut out = csv::Writer::from_writer(Vec::new());
        let header = [
            "seq",
            "at",
            "kind",
            "door",
            "credential",
            "reason",
            "circuit",
            "source",
            "actor",
            "detail",
            "hash",
        ];
        out.write_record(header).map_err(|e| e.to_string())?;
        let (mut before, mut left) = (before, limit);
        while left > 0 {
            let want = left.min(10_000);
            let page = reader
                .lock()
                .map_err(|_| "reader poisoned".to_string())?
                .events_matching(&filter, before, want)
                .map_err(|e| e.to_string())?;
            for stored in &page {
                let event = &stored.event;
                let at = crate::clock::time_in(&zone, event.at);
                let field = |v: &Option<String>| v.clone().unwrap_or_default();
                out.write_record([
                    stored.seq.to_string(),
                    at,
                    event.kind.clone(),
                    field(&event.door),
                    field(&event.credential),
                    field(&event.reason),
                    field(&event.circuit),
                    field(&event.source),
                    field(&event.actor),
                    field(&event.detail),
                    stored.hash.clone(),
                ])
                .map_err(|e| e.to_string())?;
            }
            left -= page.len();
            match page.last() {
                // A full page: there may be more below it.
                Some(last) if page.len() == want => before = last.seq,
                _ => break,
            }
        }
        out.into_inner().map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?
    .map_err(ApiError::unavailable)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"keyway-events.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// An instant from a query: RFC 3339 with an offset, or a local date and time in the site's
/// zone (what a date-time field in a browser gives).
fn parse_instant(state: &AppState, name: &str, value: &str) -> ApiResult<i64> {
    if let Ok(timestamp) = value.parse::<jiff::Timestamp>() {
        return Ok(timestamp.as_millisecond());
    }
    value
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|local| local.to_zoned_datetime(state.service.site().info.timezone.clone()).ok())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name} {value:?}: expected an instant such as 2026-12-06T08:00:00-06:00, or a local time in the site's zone such as 2026-12-06T08:00"
            ))
        })
}

/// A hold's end: a time of day (`17:00`, its next occurrence in the site's zone), or an
/// instant as `parse_instant` takes it.
fn hold_end(state: &AppState, value: &str) -> ApiResult<i64> {
    // jiff reads the time out of a full date and time too: only `HH:MM[:SS]` is a time of day.
    let time_of_day = value
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b':' || b == b'.');
    let Some(time) = time_of_day
        .then(|| value.parse::<jiff::civil::Time>().ok())
        .flatten()
    else {
        return parse_instant(state, "until", value);
    };
    let zone = state.service.site().info.timezone.clone();
    let now = state.service.clock().wall();
    let today = jiff::Timestamp::from_millisecond(now)
        .map_err(|error| ApiError::bad_request(format!("the clock: {error}")))?
        .to_zoned_datetime(zone.clone())
        .date();
    // Today at that time, or tomorrow if it has passed (a time skipped by a change to
    // daylight saving time is taken as the next one that exists).
    [today, today.tomorrow().unwrap_or(today)]
        .into_iter()
        .filter_map(|day| day.to_datetime(time).to_zoned_datetime(zone.clone()).ok())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .find(|at| *at > now)
        .ok_or_else(|| ApiError::bad_request(format!("until {value:?}: no such time ahead")))
}

/// The store's filter for a query; a holder becomes the numbers of their credentials.
async fn event_filter(
    state: &AppState,
    query: EventsQuery,
) -> ApiResult<keyway_store::EventFilter> {
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    let since = given(query.since)
        .map(|v| parse_instant(state, "since", &v))
        .transpose()?;
    let until = given(query.until)
        .map(|v| parse_instant(state, "until", &v))
        .transpose()?;
    let mut credentials = given(query.credential).map(|c| vec![c]);
    if let Some(holder) = given(query.holder) {
        let numbers = read_store(state, move |reader| {
            reader.credentials_of_holder(&holder, 1_000)
        })
        .await?;
        // With a credential too, only that one if it is the holder's.
        credentials = Some(match credentials {
            Some(one) => one.into_iter().filter(|n| numbers.contains(n)).collect(),
            None => numbers,
        });
    }
    Ok(keyway_store::EventFilter {
        door: given(query.door),
        kind: given(query.kind),
        credentials,
        actor: given(query.actor),
        source: given(query.source),
        since,
        until,
    })
}

async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::bad_request("limit must be from 1 to 10000"));
    }
    let newest = match query.order.as_deref() {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order {other:?}: expected \"oldest\" or \"newest\""
            )));
        }
    };
    let after = query.after.unwrap_or(0);
    let before = query.before.unwrap_or(i64::MAX as u64);
    for (name, value) in [("after", after), ("before", before)] {
        if value > i64::MAX as u64 {
            return Err(ApiError::bad_request(format!(
                "{name} {value}: expected a sequence number up to {}",
                i64::MAX
            )));
        }
    }
    if newest && query.after.is_some() {
        return Err(ApiError::bad_request(
            "after goes with order=oldest; page back from the newest with before",
        ));
    }
    if !newest && query.before.is_some() {
        return Err(ApiError::bad_request(
            "before goes with order=newest; page on from the oldest with after",
        ));
    }
    if !newest && query.searches() {
        return Err(ApiError::bad_request(
            "a search goes with order=newest (the newest matches first, paging back with before)",
        ));
    }
    let filter = event_filter(&state, query).await?;
    let reader = Arc::clone(&state.reader);
    let stored = tokio::task::spawn_blocking(move || {
        let reader = reader.lock().map_err(|_| "reader poisoned".to_string())?;
        if newest {
            reader.events_matching(&filter, before, limit)
        } else {
            reader.events_after(after, limit)
        }
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?
    .map_err(ApiError::unavailable)?;
    Ok(Json(Value::Array(
        stored.iter().map(|e| event_json(&state, e)).collect(),
    )))
}

/// The live stream. A client that reconnects with `Last-Event-ID: N` first gets every stored
/// event after N, then the live ones, without a gap or a repeat.
async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    authorize(&state, &headers, Role::Viewer)?;
    let last_seen = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|v| *v <= i64::MAX as u64)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Last-Event-ID {value:?}: expected the sequence number of an event"
                    ))
                })?,
        ),
    };
    // Subscribed before the backlog is read, so that nothing falls between the two.
    let receiver = state.live.subscribe();
    let mut backlog = std::collections::VecDeque::new();
    if let Some(after) = last_seen {
        let stored = read_store(&state, move |reader| reader.events_after(after, 100_000)).await?;
        backlog.extend(stored);
    }
    let sent = backlog.back().map(|e| e.seq).or(last_seen).unwrap_or(0);
    let stopping = state.stopping.clone();
    let sse_of = |state: &AppState, event: &StoredEvent| {
        SseEvent::default()
            .id(event.seq.to_string())
            .event("event")
            .data(event_json(state, event).to_string())
    };
    // Who asked is asked again before each event is sent: a stream ends when its session
    // does (sign-out, expiry, its user changed) or its token is revoked, before it sends
    // anything more.
    let stream = futures_util::stream::unfold(
        (receiver, state, backlog, sent, stopping, headers),
        move |(mut receiver, state, mut backlog, mut sent, mut stopping, headers)| async move {
            if let Some(event) = backlog.pop_front() {
                authorize(&state, &headers, Role::Viewer).ok()?;
                let sse = sse_of(&state, &event);
                return Some((Ok(sse), (receiver, state, backlog, sent, stopping, headers)));
            }
            loop {
                if *stopping.borrow() {
                    return None;
                }
                let received = tokio::select! {
                    received = receiver.recv() => received,
                    _ = stopping.changed() => continue,
                };
                let sse = match received {
                    // Already sent from the backlog.
                    Ok(event) if event.seq <= sent => continue,
                    Ok(event) => {
                        sent = event.seq;
                        sse_of(&state, &event)
                    }
                    // A slow subscriber missed events: it can fetch them from /api/events.
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        SseEvent::default().event("lagged").data(missed.to_string())
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                authorize(&state, &headers, Role::Viewer).ok()?;
                return Some((Ok(sse), (receiver, state, backlog, sent, stopping, headers)));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The body a hold may have: `{"until": "2026-12-02T17:00"}` ends it by itself then (an
/// instant with its offset, or a local time in the site's zone). No body: held until
/// released.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    until: Option<String>,
}

async fn hold(
    state: AppState,
    headers: HeaderMap,
    id: String,
    command: Option<Command>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let door = door_index(&state, &id)?;
    let until = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let body: HoldBody = serde_json::from_slice(&body)
            .map_err(|error| ApiError::bad_request(format!("bad request body: {error}")))?;
        body.until
            .map(|until| hold_end(&state, &until))
            .transpose()?
    };
    let input = match (command, until) {
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "a release takes no `until`: it ends the hold now".to_string(),
            ));
        }
        (None, None) => Input::Release { door },
        (Some(Command::Unlock), None) => Input::Unlock { door },
        (Some(Command::Lock), None) => Input::Lock { door },
        (Some(command), Some(until)) => {
            let now = state.service.clock().wall();
            if until <= now {
                return Err(ApiError::bad_request(format!(
                    "until {}: that is not in the future (now {})",
                    local_time(&state, until),
                    local_time(&state, now)
                )));
            }
            Input::HoldUntil {
                door,
                command,
                until,
            }
        }
    };
    // The door first; the hold is stored with its events (the service latches it).
    let events = run_input(&state, input, caller.origin(Source::Api)).await?;
    Ok(events_json(&state, &events))
}

async fn door_unlock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    hold(state, headers, id, Some(Command::Unlock), body).await
}

async fn door_lock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    hold(state, headers, id, Some(Command::Lock), body).await
}

async fn door_release(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    hold(state, headers, id, None, body).await
}

/// `POST /api/doors/{id}/momentary`: unlocked for the door's `unlock_seconds`, as a granted
/// access is (lockdown and a lock hold outrank it).
async fn door_momentary(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let door = door_index(&state, &id)?;
    let events = run_input(
        &state,
        Input::MomentaryUnlock { door },
        caller.origin(Source::Api),
    )
    .await?;
    Ok(events_json(&state, &events))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Active {
    active: bool,
}

async fn lockdown(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Active>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let Json(body) = body?;
    let events = run_input(
        &state,
        if body.active {
            Input::Lockdown
        } else {
            Input::LockdownEnd
        },
        caller.origin(Source::Api),
    )
    .await?;
    Ok(events_json(&state, &events))
}

async fn fire_alarm_reset(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let events = run_input(&state, Input::FireAlarmReset, caller.origin(Source::Api)).await?;
    if events
        .iter()
        .any(|e| e.event.kind == EventKind::FireAlarmResetRefused.name())
    {
        return Err(ApiError::Plain(
            StatusCode::CONFLICT,
            "the fire alarm input is still active: the panel must be reset first; the alarm stays"
                .to_string(),
        ));
    }
    Ok(events_json(&state, &events))
}

/// A credential as the API takes and gives it.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialBody {
    pub number: String,
    #[serde(default)]
    pub holder: String,
    /// Door ids, or `["*"]` for every door.
    #[serde(default)]
    pub doors: Vec<String>,
    #[serde(default)]
    pub levels: Vec<String>,
    pub schedule: Option<String>,
    /// RFC 3339, or a local date-time in the site's zone.
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    #[serde(default)]
    pub responder: bool,
    /// Kept, but refused everywhere (`disabled`).
    #[serde(default)]
    pub disabled: bool,
    /// Admitted through the doors hold mode locks.
    #[serde(default)]
    pub staff: bool,
    /// 1 to 12 digits: the PIN a `card_and_pin` door asks for after the card.
    pub pin: Option<String>,
    /// 1 to 12 digits: grants as the PIN does, and raises a `duress` alarm.
    pub duress_pin: Option<String>,
    /// A pass good for this many grants (1 or more).
    pub uses: Option<u32>,
}

/// A list of door ids as stored: `None` for `["*"]` (every door), else the ids, each a door
/// of the site; `"*"` mixed with ids, or an unknown door, is said.
pub(super) fn door_list(
    site: &keyway_core::Site,
    doors: Vec<String>,
) -> Result<Option<Vec<String>>, String> {
    if doors.iter().any(|d| d == "*") {
        if doors.len() > 1 {
            return Err(format!(
                "doors {doors:?}: \"*\" (every door) cannot be mixed with door ids"
            ));
        }
        return Ok(None);
    }
    if let Some(door) = doors.iter().find(|d| site.find_door(d).is_none()) {
        return Err(format!("doors: the site has no door {door:?}"));
    }
    Ok(Some(doors))
}

/// Checks a credential against the site and turns it into a stored row, or says what is wrong.
pub fn credential_row(
    site: &keyway_core::Site,
    has_schedule: &dyn Fn(&str) -> bool,
    body: CredentialBody,
) -> Result<CredentialRow, String> {
    if body.number.is_empty() || body.number.len() > 64 || body.number.contains(char::is_control) {
        return Err(format!(
            "number {:?}: expected 1 to 64 printable characters",
            body.number
        ));
    }
    if body.holder.chars().count() > 128 || body.holder.contains(char::is_control) {
        return Err(format!(
            "holder {:?}: expected at most 128 printable characters",
            body.holder
        ));
    }
    let doors = door_list(site, body.doors)?;
    if let Some(schedule) = &body.schedule
        && !has_schedule(schedule)
    {
        return Err(format!("schedule: the site has no schedule {schedule:?}"));
    }
    let time = |field: &str, text: &Option<String>| -> Result<Option<i64>, String> {
        let Some(text) = text.as_deref().filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
            return Ok(Some(timestamp.as_millisecond()));
        }
        text.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|local| local.to_zoned_datetime(site.info.timezone.clone()).ok())
            .map(|zoned| Some(zoned.timestamp().as_millisecond()))
            .ok_or_else(|| {
                format!("{field} {text:?}: expected a date-time such as 2027-01-01T00:00:00")
            })
    };
    let pin_of = |field: &str, pin: &Option<String>| -> Result<Option<String>, String> {
        match pin.as_deref().filter(|p| !p.is_empty()) {
            None => Ok(None),
            Some(pin) if pin.len() <= 12 && pin.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Some(pin.to_string()))
            }
            Some(pin) => Err(format!("{field} {pin:?}: expected 1 to 12 digits")),
        }
    };
    let pin = pin_of("pin", &body.pin)?;
    let duress_pin = pin_of("duress_pin", &body.duress_pin)?;
    if duress_pin.is_some() && duress_pin == pin {
        return Err("duress_pin: it must differ from the pin".to_string());
    }
    if body.uses == Some(0) {
        return Err(
            "uses 0: a pass is good for at least one use (leave it out for any number)".to_string(),
        );
    }
    let valid_from = time("valid_from", &body.valid_from)?;
    let valid_until = time("valid_until", &body.valid_until)?;
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && until < from
    {
        return Err(format!(
            "valid_until {:?} is before valid_from {:?}",
            body.valid_until.unwrap_or_default(),
            body.valid_from.unwrap_or_default()
        ));
    }
    Ok(CredentialRow {
        valid_from,
        valid_until,
        number: body.number,
        holder: body.holder,
        doors,
        levels: body.levels,
        schedule: body.schedule,
        responder: body.responder,
        disabled: body.disabled,
        staff: body.staff,
        pin,
        duress_pin,
        uses: body.uses,
    })
}

/// A credential as the API shows it: times in the site's zone with their offset (which the
/// API takes back as they are).
fn row_json(state: &AppState, row: &CredentialRow) -> Value {
    json!({
        "number": row.number,
        "holder": row.holder,
        "doors": row.doors.clone().unwrap_or_else(|| vec!["*".to_string()]),
        "levels": row.levels,
        "schedule": row.schedule,
        "valid_from": row.valid_from.map(|t| local_time(state, t)),
        "valid_until": row.valid_until.map(|t| local_time(state, t)),
        "responder": row.responder,
        "disabled": row.disabled,
        "staff": row.staff,
        "pin": row.pin,
        "duress_pin": row.duress_pin,
        "uses": row.uses,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialSearch {
    /// Words: each must start a word of the holder's name or the number.
    q: Option<String>,
    /// The `next` of the page before.
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/credentials/search`: one page (default 50, at most 1,000) of the credentials a
/// search finds, or of all of them by number; `next` pages on.
async fn search_credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<CredentialSearch>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Operator)?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > 1_000 {
        return Err(ApiError::bad_request("limit must be from 1 to 1000"));
    }
    let (rows, next) = read_store(&state, move |reader| {
        reader.credentials_page(query.q.as_deref(), query.after.as_deref(), limit)
    })
    .await?;
    Ok(Json(json!({
        "credentials": rows.iter().map(|row| row_json(&state, row)).collect::<Vec<_>>(),
        "next": next,
    })))
}

async fn list_credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Operator)?;
    let rows = read_store(&state, move |reader| reader.credentials()).await?;
    Ok(Json(Value::Array(
        rows.iter().map(|row| row_json(&state, row)).collect(),
    )))
}

async fn put_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CredentialBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let Json(body) = body?;
    let has_schedule = |id: &str| state.service.has_schedule(id);
    let row =
        credential_row(state.service.site(), &has_schedule, body).map_err(ApiError::bad_request)?;
    if let Some(level) = row.levels.iter().find(|l| !state.service.has_level(l)) {
        return Err(ApiError::bad_request(format!(
            "levels: there is no access level {level:?}"
        )));
    }
    let answer = row_json(&state, &row);
    let number = row.number.clone();
    let detail = format!(
        "holder {:?}{}",
        row.holder,
        if row.disabled { ", disabled" } else { "" }
    );
    let replaced = state
        .service
        .put_credentials(vec![row])
        .await
        .map_err(|error| service_error(&state, error))?;
    let kind = if replaced {
        "credential_replaced"
    } else {
        "credential_added"
    };
    log_change(&state, &caller, kind, Some(number), detail).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn delete_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    if state
        .service
        .delete_credential(number.clone())
        .await
        .map_err(|error| service_error(&state, error))?
    {
        log_change(
            &state,
            &caller,
            "credential_removed",
            Some(number),
            String::new(),
        )
        .await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no credential {number:?}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// Check every line and say what is wrong, storing nothing.
    #[serde(default)]
    preview: bool,
}

/// `POST /api/credentials/import`: a CSV (see `import.rs`), all or nothing; with
/// `?preview=true` every line is checked and nothing is stored.
async fn import_credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::Plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the CSV is larger than {} MiB", IMPORT_LIMIT >> 20),
        ),
        _ => ApiError::bad_request(format!("bad request body: {}", rejection.body_text())),
    })?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the CSV is not UTF-8"))?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let has_schedule = |id: &str| state.service.has_schedule(id);
    let check = crate::import::check_csv(state.service.site(), &has_schedule, text);
    if query.preview {
        return Ok(Json(json!({
            "preview": true,
            "rows": check.rows.len(),
            "bad_lines": check.bad_lines,
            "problems": check.problems,
        })));
    }
    let rows = check
        .into_result()
        .map_err(|errors| ApiError::bad_request(errors.join("\n")))?;
    let count = rows.len();
    // All or nothing: the rows were all checked, and the store writes them in one transaction.
    state
        .service
        .put_credentials(rows)
        .await
        .map_err(|error| service_error(&state, error))?;
    log_change(
        &state,
        &caller,
        "credentials_imported",
        None,
        format!("{count} credentials"),
    )
    .await?;
    Ok(Json(json!({ "imported": count })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BadgeBody {
    door: String,
    /// `entry` (the default) or `exit`: which of the door's readers.
    #[serde(default)]
    side: Option<String>,
    credential: String,
}

/// A reader's side as a request names it: `entry` (the default) or `exit`.
pub(super) fn side_of(side: Option<&str>) -> ApiResult<Side> {
    match side {
        None | Some("entry") => Ok(Side::Entry),
        Some("exit") => Ok(Side::Exit),
        Some(other) => Err(ApiError::bad_request(format!(
            "field `side` = {other:?}: expected \"entry\" or \"exit\""
        ))),
    }
}

async fn sim_badge(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<BadgeBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let Json(body) = body?;
    let door = door_index(&state, &body.door)?;
    let side = side_of(body.side.as_deref())?;
    let site_door = state.service.site().door(door);
    let has_reader = match side {
        Side::Entry => site_door.reader.is_some(),
        Side::Exit => site_door.exit_reader.is_some(),
    };
    if !has_reader {
        return Err(ApiError::bad_request(format!(
            "door {:?} has no {} reader",
            site_door.id,
            side.name()
        )));
    }
    refuse_real(real_devices::at_door(
        state.service.site(),
        door,
        SimAtDoor::Badge,
    ))?;
    let events = run_input(
        &state,
        Input::Badge {
            door,
            side,
            credential: body.credential,
        },
        caller.origin(Source::Sim),
    )
    .await?;
    let decision = events
        .iter()
        .find(|e| {
            matches!(
                e.event.kind.as_str(),
                "access_granted" | "access_denied" | "access_pending"
            )
        })
        .ok_or_else(|| {
            ApiError::unavailable(
                "the controller has no power: the reader is dark and nothing was decided",
            )
        })?;
    Ok(Json(event_json(&state, decision)))
}

async fn sim_rex(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let door = door_index(&state, &id)?;
    refuse_real(real_devices::at_door(
        state.service.site(),
        door,
        SimAtDoor::Rex,
    ))?;
    let events = run_input(&state, Input::Rex { door }, caller.origin(Source::Sim)).await?;
    Ok(events_json(&state, &events))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    open: bool,
}

async fn sim_door(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let door = door_index(&state, &id)?;
    refuse_real(real_devices::at_door(
        state.service.site(),
        door,
        SimAtDoor::DoorContact,
    ))?;
    let Json(body) = body?;
    let input = if body.open {
        Input::DoorOpen { door }
    } else {
        Input::DoorClose { door }
    };
    let events = run_input(&state, input, caller.origin(Source::Sim)).await?;
    Ok(events_json(&state, &events))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveBody {
    live: bool,
}

async fn sim_power(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<LiveBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let circuit = circuit_index(&state, &id)?;
    refuse_real(real_devices::on_circuit(state.service.site(), circuit))?;
    let Json(body) = body?;
    let input = if body.live {
        Input::PowerOn { circuit }
    } else {
        Input::PowerOff { circuit }
    };
    let events = run_input(&state, input, caller.origin(Source::Sim)).await?;
    Ok(events_json(&state, &events))
}

async fn sim_fire_alarm(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Active>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    refuse_real(real_devices::for_fire_alarm(state.service.site()))?;
    let Json(body) = body?;
    // The simulated panel's input level: active latches the alarm; inactive ends nothing, it
    // only lets a reset by hand through.
    let input = Input::FireAlarmInput {
        active: body.active,
    };
    let events = run_input(&state, input, caller.origin(Source::Sim)).await?;
    Ok(events_json(&state, &events))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    advance_seconds: f64,
}

/// The longest step of a virtual clock at once: the site file's own bound on durations.
const MAX_ADVANCE_SECONDS: f64 = keyway_core::load::MAX_DURATION_SECONDS;

/// Moves a virtual clock on (`keyway serve --virtual-clock`): timers that fall due run, the
/// schedule is read at the new time. For demos, training and the browser test, which then
/// never wait for a timer. Refused on the machine's clock, and on a site with real devices.
async fn sim_clock(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<AdvanceBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    refuse_real(real_devices::any(state.service.site()))?;
    let Json(body) = body?;
    let Some(clock) = state.service.clock().as_virtual() else {
        return Err(ApiError::Plain(
            StatusCode::CONFLICT,
            "the daemon runs on the machine's clock: start it with --clock-start and --virtual-clock to move time by hand".into(),
        ));
    };
    let seconds = body.advance_seconds;
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_ADVANCE_SECONDS) {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            format!(
                "advance_seconds: {seconds} is not a step forward of at most {MAX_ADVANCE_SECONDS} seconds"
            ),
        ));
    }
    clock.advance((seconds * 1000.0).round() as keyway_core::physics::Millis);
    state
        .service
        .log(
            "clock_advanced",
            &caller.origin(Source::Sim),
            None,
            Some(format!("{seconds} s")),
        )
        .await
        .map_err(|error| service_error(&state, error))?;
    Ok(Json(json!({
        "wall": crate::clock::Clock::wall(clock),
        "monotonic": crate::clock::Clock::monotonic(clock),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    role: String,
    name: String,
}

/// Sends a job to the writer and waits for its answer.
async fn write<T>(
    state: &AppState,
    job: impl FnOnce(tokio::sync::oneshot::Sender<Result<T, keyway_store::StoreError>>) -> Job,
) -> ApiResult<T> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    state
        .service
        .writer()
        .send(job(reply))
        .map_err(|error| ApiError::unavailable(error.to_string()))?;
    answer
        .await
        .map_err(|_| ApiError::unavailable("the writer has stopped"))?
        .map_err(|error| service_error(state, error.into()))
}

async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let Json(body) = body?;
    let role = Role::from_name(&body.role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "role {:?}: expected viewer, operator or admin",
            body.role
        ))
    })?;
    check_name("token", &body.name).map_err(ApiError::bad_request)?;
    if name_taken(&state, &body.name)? {
        return Err(ApiError::Plain(
            StatusCode::CONFLICT,
            format!(
                "a token or a user is already named {:?}: names say who did what, so they are unique",
                body.name
            ),
        ));
    }
    let token = new_token();
    let hash = hash_token(&token);
    let row = keyway_store::TokenRow {
        hash: hash.clone(),
        role: role.name().to_string(),
        created: state.service.clock().wall(),
        name: body.name.clone(),
        from_env: false,
    };
    write(&state, |reply| Job::PutToken { token: row, reply }).await?;
    state
        .tokens
        .write()
        .map_err(|_| ApiError::unavailable("token table unavailable"))?
        .insert(
            hash.clone(),
            TokenInfo {
                role,
                name: body.name.clone(),
            },
        );
    let id = token_id(&hash).to_string();
    log_change(
        &state,
        &caller,
        "token_created",
        None,
        format!("token {id} {:?}, {}", body.name, role.name()),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "name": body.name, "role": role.name(), "token": token })),
    ))
}

/// Every token, without its secret.
async fn list_tokens(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Admin)?;
    let rows = read_store(&state, move |reader| reader.tokens()).await?;
    Ok(Json(Value::Array(
        rows.iter()
            .map(|t| {
                json!({
                    "id": token_id(&t.hash),
                    "name": t.name,
                    "role": t.role,
                    "created": local_time(&state, t.created),
                    "from_env": t.from_env,
                })
            })
            .collect(),
    )))
}

/// Revokes a token at once: its next request is refused.
async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let found = state
        .tokens
        .read()
        .map_err(|_| ApiError::unavailable("token table unavailable"))?
        .iter()
        .find(|(hash, _)| token_id(hash) == id && id.len() == 12)
        .map(|(hash, info)| (hash.clone(), info.name.clone()));
    let Some((hash, name)) = found else {
        return Err(ApiError::not_found(format!("no token {id:?}")));
    };
    // Out of the table first: refused from this moment, even if storing it fails.
    state
        .tokens
        .write()
        .map_err(|_| ApiError::unavailable("token table unavailable"))?
        .remove(&hash);
    write(&state, |reply| Job::DeleteToken { hash, reply }).await?;
    log_change(
        &state,
        &caller,
        "token_revoked",
        None,
        format!("token {id} {name:?}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What stored state refers to elements the site no longer has.
async fn list_stale(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let stale = state
        .stale
        .lock()
        .map_err(|_| ApiError::unavailable("stale state unavailable"))?
        .clone();
    Ok(Json(json!(stale)))
}

/// The real OSDP readers: link, identification, capabilities, tamper and power.
async fn list_readers(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    Ok(Json(json!(state.service.reader_registry().all())))
}

/// Clears what can be cleared: the holds on removed doors are deleted, and the credentials
/// naming removed doors are stored without them. A credential that does not load at all
/// (its schedule or access level is gone) stays listed: replace or delete it.
async fn clear_stale(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let stale = state
        .stale
        .lock()
        .map_err(|_| ApiError::unavailable("stale state unavailable"))?
        .clone();
    let rows: Vec<CredentialRow> = stale
        .credentials
        .iter()
        .filter_map(|c| c.without_missing.clone())
        .collect();
    let fixed: Vec<String> = rows.iter().map(|r| r.number.clone()).collect();
    if !rows.is_empty() {
        state
            .service
            .put_credentials(rows)
            .await
            .map_err(|error| service_error(&state, error))?;
    }
    let holds: Vec<(String, Option<String>)> = stale
        .holds
        .iter()
        .map(|h| (format!("hold:{}", h.door), None))
        .collect();
    let detail = format!(
        "{} holds on removed doors deleted; {} credentials stored without their removed doors",
        holds.len(),
        fixed.len()
    );
    state
        .service
        .log_with_state(
            "stale_state_cleared",
            &caller.origin(Source::Api),
            None,
            Some(detail.clone()),
            holds,
        )
        .await
        .map_err(|error| service_error(&state, error))?;
    let mut now = state
        .stale
        .lock()
        .map_err(|_| ApiError::unavailable("stale state unavailable"))?;
    now.holds.clear();
    now.credentials.retain(|c| !fixed.contains(&c.number));
    now.credentials_total -= fixed.len();
    Ok(Json(json!({ "cleared": detail, "left": *now })))
}

/// Logs who changed a credential or a token.
/// Runs `read` on the reader connection, off the async threads; a failure is a 503.
pub(super) async fn read_store<T: Send + 'static>(
    state: &AppState,
    read: impl FnOnce(&Store) -> Result<T, keyway_store::StoreError> + Send + 'static,
) -> ApiResult<T> {
    let reader = Arc::clone(&state.reader);
    tokio::task::spawn_blocking(move || {
        let reader = reader.lock().map_err(|_| "reader poisoned".to_string())?;
        read(&reader).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?
    .map_err(ApiError::unavailable)
}

async fn log_change(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    credential: Option<String>,
    detail: String,
) -> ApiResult<()> {
    state
        .service
        .log(
            kind,
            &caller.origin(Source::Api),
            credential,
            Some(detail).filter(|d| !d.is_empty()),
        )
        .await
        .map_err(|error| service_error(state, error))?;
    Ok(())
}

/// The console's page: its own files only (the content security policy), never framed.
async fn console_page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, crate::console::CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        crate::console::PAGE,
    )
}

/// One of the console's scripts or its styles.
async fn console_file(Path(name): Path<String>) -> ApiResult<Response> {
    let file = crate::console::find(&name)
        .ok_or_else(|| ApiError::not_found(format!("the console has no file {name:?}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        file.body,
    )
        .into_response())
}

async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Viewer)?;
    Ok(Json(
        json!({ "role": caller.role.name(), "actor": caller.actor }),
    ))
}

/// The site's layout for the dashboard's diagram: areas, doors between them, circuits.
async fn site(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let site = state.service.site();
    let areas: Vec<Value> = site
        .areas
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "name": a.name,
                "exterior": a.is_exterior(),
                "stair": a.kind == keyway_core::site::AreaKind::Stair,
                "occupants": a.occupants,
            })
        })
        .collect();
    let doors: Vec<Value> = site
        .doors
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "name": d.name,
                "inside": site.area(d.inside).id,
                "outside": site.area(d.outside).id,
                "lock": d.lock.as_ref().map(|l| json!({ "type": l.kind.describe(), "fail": l.fail.describe(), "power": site.circuit(l.power).id })),
                "reader": d.reader.is_some(),
                "rex": d.release.rex_sensor,
                "dps": d.dps,
                "unlock_seconds": d.unlock_seconds,
            })
        })
        .collect();
    let schedules: Vec<Value> = schedules::in_effect(&state)
        .await?
        .iter()
        .map(|(row, _)| json!({ "id": row.id }))
        .collect();
    let circuits: Vec<Value> = site
        .circuits
        .iter()
        .map(|c| json!({ "id": c.id, "name": c.name, "fed_by": c.fed_by.map(|f| site.circuit(f).id.clone()), "battery_minutes": c.battery_minutes }))
        .collect();
    Ok(Json(
        json!({ "name": site.info.name, "timezone": site.info.timezone_name, "areas": areas, "doors": doors, "circuits": circuits, "schedules": schedules }),
    ))
}

#[derive(Deserialize)]
struct SimulateQuery {
    scenario: String,
}

/// `keyway simulate` for the outage planner: the same JSON as the command.
async fn simulate(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<SimulateQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let scenario =
        keyway_core::scenario::Scenario::from_name(&query.scenario).ok_or_else(|| {
            ApiError::bad_request(format!(
                "scenario {:?}: expected normal, outage, fire, outage-fire or lockdown",
                query.scenario
            ))
        })?;
    let site = state.service.site();
    let run = keyway_core::scenario::run(site, scenario);
    let findings = keyway_core::check::scenario_findings(site, std::slice::from_ref(&run));
    let report = keyway_core::report::SimulateJson {
        site,
        run: &run,
        findings: &findings,
    };
    Ok(Json(serde_json::to_value(&report).unwrap_or(Value::Null)))
}

/// 200 `ok` while everything is healthy; 503 with the list of what is not.
/// `keyway check` of the running site: every finding with its rule, severity, door or area,
/// message and citation, and the counts.
async fn check_site(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let site = state.service.site();
    let findings = keyway_core::check::check(site);
    let report = keyway_core::report::CheckJson {
        site,
        findings: &findings,
    };
    Ok(Json(serde_json::to_value(&report).unwrap_or(Value::Null)))
}

async fn healthz(State(state): State<AppState>) -> Response {
    let mut reasons = Vec::new();
    if let Some(error) = state.service.writer().health().fault() {
        reasons.push(json!({
            "component": "storage",
            "problem": error,
            "buffered_events": state.service.writer().health().buffered(),
        }));
    }
    if state.service.snapshot().await.is_err() {
        reasons.push(json!({ "component": "controller", "problem": "the controller has stopped" }));
    }
    for (device, problem) in state.service.devices().problems() {
        reasons.push(json!({ "component": device, "problem": problem }));
    }
    if reasons.is_empty() {
        "ok".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unhealthy", "reasons": reasons })),
        )
            .into_response()
    }
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI)
}

/// Prometheus metrics. They tell whether the building is in lockdown or in alarm, so they
/// need a token (a viewer's; Prometheus sends it with `authorization: { credentials: … }`).
async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    authorize(&state, &headers, Role::Viewer)?;
    let snapshot = state.service.snapshot().await.ok();
    let readers = state.service.reader_registry().all();
    let webhooks = state.webhooks.progress();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&crate::metrics::Scrape {
            site: state.service.site(),
            snapshot: snapshot.as_ref(),
            stream_subscribers: state.live.receiver_count(),
            storage: state.service.writer().health(),
            readers: &readers,
            webhooks: &webhooks,
            mqtt_connected: state
                .mqtt_connected
                .as_ref()
                .map(|c| c.load(std::sync::atomic::Ordering::Relaxed)),
        }),
    ))
}
