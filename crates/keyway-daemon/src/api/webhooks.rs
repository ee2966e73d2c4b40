//! `POST /api/webhooks`, `GET /api/webhooks`, `GET` and `DELETE /api/webhooks/{id}`,
//! `GET /api/webhooks/{id}/deliveries` (admin): the endpoints events are pushed to, signed
//! (`crate::webhooks`). The secret is shown once, when the endpoint is made.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use keyway_store::{WebhookChange, WebhookRow};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, AppState, authorize, log_change, read_store};
use crate::auth::Role;
use crate::webhooks::{Target, new_secret, record};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    url: String,
    /// Event kinds, or `["*"]` for every kind.
    kinds: Vec<String>,
}

/// The most endpoints one daemon delivers to.
const MOST: usize = 64;

/// Checks an endpoint as given and says what is wrong, naming the field.
fn check(body: &WebhookBody) -> Result<(), String> {
    body.url
        .parse::<Target>()
        .map_err(|e| format!("url: {e}"))?;
    if body.kinds.is_empty() {
        return Err("kinds: name at least one event kind, or \"*\" for every kind".to_string());
    }
    for kind in &body.kinds {
        let word = !kind.is_empty()
            && kind.len() <= 64
            && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if kind != "*" && !word {
            return Err(format!(
                "kinds: {kind:?} is not an event kind (lower case letters and _, such as access_granted), nor \"*\""
            ));
        }
    }
    if body.kinds.len() > 1 && body.kinds.iter().any(|k| k == "*") {
        return Err("kinds: \"*\" is every kind already; give it alone".to_string());
    }
    Ok(())
}

fn row_json(row: &WebhookRow, state: &AppState) -> Value {
    let progress = state
        .webhooks
        .progress()
        .into_iter()
        .find(|(id, _)| *id == row.id)
        .map(|(_, p)| p);
    let delivered_to = progress.as_ref().map_or(row.cursor, |p| {
        p.delivered_to
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(row.cursor)
    });
    json!({
        "id": row.id,
        "url": row.url,
        "kinds": row.kinds,
        "created": super::local_time(state, row.created),
        "delivered_to": delivered_to,
        "backlog": state.service.writer().health().last_seq().saturating_sub(delivered_to),
    })
}

/// `POST /api/webhooks`: a new endpoint, owed every event from now on; the answer holds
/// its secret, shown only here.
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<WebhookBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let Json(body) = body?;
    check(&body).map_err(ApiError::bad_request)?;
    let existing = read_store(&state, |reader| reader.webhooks()).await?;
    if existing.len() >= MOST {
        return Err(ApiError::Plain(
            StatusCode::CONFLICT,
            format!("{MOST} webhook endpoints already: remove one first"),
        ));
    }
    let row = WebhookRow {
        id: format!("wh_{}", crate::auth::random_hex::<8>()),
        url: body.url,
        kinds: body.kinds,
        secret: new_secret(),
        created: state.service.clock().wall(),
        cursor: 0,
    };
    record(
        state.service.writer(),
        WebhookChange::Add { row: row.clone() },
    )
    .await
    .map_err(|e| ApiError::unavailable(format!("the endpoint was not stored: {e}")))?;
    // As stored: the cursor is the log's end at that moment.
    let stored = read_store(&state, |reader| reader.webhooks())
        .await?
        .into_iter()
        .find(|r| r.id == row.id)
        .ok_or_else(|| ApiError::unavailable("the endpoint was not stored"))?;
    state.webhooks.run(stored.clone());
    log_change(
        &state,
        &caller,
        "webhook_added",
        None,
        format!(
            "webhook {} {} kinds {}",
            row.id,
            row.url,
            row.kinds.join(",")
        ),
    )
    .await?;
    let mut answer = row_json(&stored, &state);
    answer["secret"] = json!(row.secret);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /api/webhooks`: every endpoint, without its secret.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Admin)?;
    let rows = read_store(&state, |reader| reader.webhooks()).await?;
    Ok(Json(Value::Array(
        rows.iter().map(|r| row_json(r, &state)).collect(),
    )))
}

async fn find(state: &AppState, id: &str) -> ApiResult<WebhookRow> {
    read_store(state, |reader| reader.webhooks())
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no webhook {id:?}")))
}

/// `GET /api/webhooks/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Admin)?;
    let row = find(&state, &id).await?;
    Ok(Json(row_json(&row, &state)))
}

/// `DELETE /api/webhooks/{id}`: no more deliveries; what it was owed is dropped.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let row = find(&state, &id).await?;
    state.webhooks.stop(&id);
    record(
        state.service.writer(),
        WebhookChange::Delete { id: id.clone() },
    )
    .await
    .map_err(|e| ApiError::unavailable(format!("the endpoint was not removed: {e}")))?;
    log_change(
        &state,
        &caller,
        "webhook_removed",
        None,
        format!("webhook {id} {}", row.url),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    limit: Option<usize>,
}

/// `GET /api/webhooks/{id}/deliveries?limit=N`: the newest outcomes, newest first, one per
/// event: its status (`delivered`, `retrying`, `failed`), attempts and last error. Those
/// since the daemon started (the newest 1,000), then the failures stored before.
pub async fn deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Admin)?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit as u64 > keyway_store::DELIVERIES_KEPT {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {}",
            keyway_store::DELIVERIES_KEPT
        )));
    }
    find(&state, &id).await?;
    // Since the start, from memory; before it, the failures the database kept.
    let mut rows = state
        .webhooks
        .progress()
        .into_iter()
        .find(|(running, _)| *running == id)
        .map_or_else(Vec::new, |(_, progress)| progress.recent(limit));
    if rows.len() < limit {
        let oldest = rows.last().map(|r| r.seq);
        let stored =
            read_store(&state, move |reader| reader.webhook_deliveries(&id, limit)).await?;
        let missing = limit - rows.len();
        rows.extend(
            stored
                .into_iter()
                .filter(|r| oldest.is_none_or(|oldest| r.seq < oldest))
                .take(missing),
        );
    }
    Ok(Json(Value::Array(
        rows.iter()
            .map(|d| {
                json!({
                    "seq": d.seq,
                    "kind": d.kind,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "at": super::local_time(&state, d.updated),
                })
            })
            .collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(url: &str, kinds: &[&str]) -> WebhookBody {
        WebhookBody {
            url: url.to_string(),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
        }
    }

    #[test]
    fn a_bad_endpoint_names_its_field() {
        assert!(check(&body("http://127.0.0.1:9/x", &["access_granted"])).is_ok());
        assert!(check(&body("https://h", &["*"])).is_ok());
        for (b, says) in [
            (body("ftp://h", &["*"]), "url:"),
            (body("http://h", &[]), "kinds: name at least one"),
            (body("http://h", &["Access-Granted"]), "\"Access-Granted\""),
            (body("http://h", &["*", "door_forced"]), "give it alone"),
        ] {
            let error = check(&b).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }
}
