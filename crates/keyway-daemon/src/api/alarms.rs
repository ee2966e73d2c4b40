//! `GET /api/alarms` and `POST /api/alarms/{seq}/acknowledge`: the alarms an operator
//! handles (`alarms.rs`), each acknowledged once, with an optional note, by name. Each
//! request first reads the events stored since the list last looked.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, AppState, authorize, local_time, service_error};
use crate::alarms::{Ack, AckError, Alarm, ack_key};
use crate::auth::Role;
use crate::service::Source;

fn book_unavailable<T>(_: T) -> ApiError {
    ApiError::unavailable("alarm list unavailable")
}

/// Brings the list up to the store: every event committed since it last looked, in pages.
/// After a command's answer its alarm is here, since the answer waits for the commit.
async fn sync(state: &AppState) -> ApiResult<()> {
    const PAGE: usize = 5_000;
    loop {
        let after = state.alarms.read().map_err(book_unavailable)?.last_seq();
        let reader = std::sync::Arc::clone(&state.reader);
        let page = tokio::task::spawn_blocking(move || {
            let reader = reader.lock().map_err(|_| "reader poisoned".to_string())?;
            reader.events_after(after, PAGE).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?
        .map_err(ApiError::unavailable)?;
        let mut book = state.alarms.write().map_err(book_unavailable)?;
        page.iter().for_each(|event| book.observe(event));
        if page.len() < PAGE {
            return Ok(());
        }
    }
}

fn alarm_json(state: &AppState, alarm: &Alarm) -> Value {
    json!({
        "seq": alarm.seq,
        "at": local_time(state, alarm.at),
        "kind": alarm.kind,
        "door": alarm.door,
        "circuit": alarm.circuit,
        "detail": alarm.detail,
        "active": alarm.cleared_by.is_none(),
        "cleared_by": alarm.cleared_by,
        "recorded": true,
        "acknowledged": alarm.ack.as_ref().map(|ack| json!({
            "by": ack.by,
            "at": local_time(state, ack.at),
            "note": ack.note,
        })),
    })
}

/// Every kept alarm, the newest first, with how many are active and how many wait for an
/// acknowledgement.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    sync(&state).await?;
    let book = state.alarms.read().map_err(book_unavailable)?;
    let mut alarms: Vec<Value> = Vec::new();
    // A storage fault cannot wait for its own record, which waits for the disk: while it
    // lasts it is listed from the writer's health, unrecorded (no `seq`), first. It can be
    // acknowledged once its `storage_fault` event is stored.
    let health = state.service.writer().health();
    let live = health.fault().map(|problem| {
        json!({
            "seq": null,
            "at": local_time(&state, health.fault_since().unwrap_or_else(|| state.service.clock().wall())),
            "kind": "storage_fault",
            "door": null,
            "circuit": null,
            "detail": problem,
            "active": true,
            "cleared_by": null,
            "acknowledged": null,
            "recorded": false,
        })
    });
    alarms.extend(live.iter().cloned());
    alarms.extend(book.newest_first().map(|a| alarm_json(&state, a)));
    let live = usize::from(live.is_some());
    let active = live
        + book
            .newest_first()
            .filter(|a| a.cleared_by.is_none())
            .count();
    let unacknowledged = live + book.newest_first().filter(|a| a.ack.is_none()).count();
    Ok(Json(
        json!({ "alarms": alarms, "active": active, "unacknowledged": unacknowledged }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct AckBody {
    #[serde(default)]
    note: String,
}

/// Acknowledges an alarm (operator): stored with an `alarm_acknowledged` event in one
/// transaction, its detail "#SEQ KIND[ DOOR or CIRCUIT][: NOTE]".
pub(super) async fn acknowledge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(seq): Path<u64>,
    body: Result<Json<AckBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let Json(body) = body?;
    sync(&state).await?;
    let note = body.note.trim().to_string();
    let ack = Ack {
        by: caller.actor.clone(),
        at: state.service.clock().wall(),
        note: note.clone(),
    };
    let alarm = {
        let mut book = state.alarms.write().map_err(book_unavailable)?;
        book.check_ack(seq, &note).map_err(|error| match error {
            AckError::NoSuchAlarm(_) => ApiError::not_found(error.to_string()),
            AckError::Already { .. } => ApiError::Plain(StatusCode::CONFLICT, error.to_string()),
            AckError::NoteTooLong(_) => ApiError::bad_request(error.to_string()),
        })?;
        // Shown at once; the record follows (and is retried if the disk fails).
        book.acknowledge(seq, ack.clone());
        book.get(seq)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no alarm #{seq}")))?
    };
    let subject = alarm
        .door
        .as_deref()
        .or(alarm.circuit.as_deref())
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    let detail = format!(
        "#{seq} {}{subject}{}",
        alarm.kind,
        if note.is_empty() {
            String::new()
        } else {
            format!(": {note}")
        }
    );
    let stored = serde_json::to_string(&ack).map_err(|e| ApiError::unavailable(e.to_string()))?;
    state
        .service
        .log_with_state(
            "alarm_acknowledged",
            &caller.origin(Source::Api),
            None,
            Some(detail),
            vec![(ack_key(seq), Some(stored))],
        )
        .await
        .map_err(|error| service_error(&state, error))?;
    Ok(Json(alarm_json(&state, &alarm)))
}
