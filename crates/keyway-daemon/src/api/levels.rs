//! `GET /api/levels`, `POST /api/levels` and `DELETE /api/levels/{id}`: access levels, each
//! a named set of doors with an optional schedule, held by many credentials. A level is
//! checked as the site file would check it (its id, its doors and its schedule must exist),
//! stored, then applied to the running controller; one that a credential holds is not
//! removed. Every change is logged with who made it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use keyway_store::{AccessLevelRow, LevelChange, LevelOutcome};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState, authorize, door_list, log_change, read_store, service_error,
};
use crate::auth::Role;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelBody {
    id: String,
    /// Door ids, or `["*"]` for every door.
    doors: Vec<String>,
    schedule: Option<String>,
}

/// Checks a level against the site, as the site file's loader would, and says what is wrong.
fn level_row(
    site: &keyway_core::Site,
    has_schedule: &dyn Fn(&str) -> bool,
    body: LevelBody,
) -> Result<AccessLevelRow, String> {
    if !keyway_core::site::is_valid_id(&body.id) {
        return Err(format!("id {:?}: {}", body.id, keyway_core::site::ID_RULE));
    }
    let doors = match door_list(site, body.doors)? {
        Some(doors) if doors.is_empty() => {
            return Err("doors: a level opens at least one door (or \"*\", every door)".into());
        }
        Some(mut doors) => {
            doors.sort();
            doors.dedup();
            Some(doors)
        }
        None => None,
    };
    let schedule = body.schedule.filter(|s| !s.is_empty());
    if let Some(schedule) = &schedule
        && !has_schedule(schedule)
    {
        return Err(format!("schedule: the site has no schedule {schedule:?}"));
    }
    Ok(AccessLevelRow {
        id: body.id,
        doors,
        schedule,
    })
}

fn level_json(row: &AccessLevelRow) -> Value {
    json!({
        "id": row.id,
        "doors": row.doors.clone().unwrap_or_else(|| vec!["*".to_string()]),
        "schedule": row.schedule,
    })
}

/// `GET /api/levels`: every stored level, by id.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Operator)?;
    let rows = read_store(&state, move |reader| reader.access_levels()).await?;
    Ok(Json(Value::Array(rows.iter().map(level_json).collect())))
}

/// `POST /api/levels`: adds a level, or replaces the one of the same id (its holders keep it).
pub async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<LevelBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let Json(body) = body?;
    let has_schedule = |id: &str| state.service.has_schedule(id);
    let row =
        level_row(state.service.site(), &has_schedule, body).map_err(ApiError::bad_request)?;
    let answer = level_json(&row);
    let detail = format!(
        "level {}: doors {}{}",
        row.id,
        row.doors.as_ref().map_or("*".to_string(), |d| d.join(", ")),
        row.schedule
            .as_ref()
            .map_or(String::new(), |s| format!(", schedule {s}"))
    );
    let outcome = state
        .service
        .change_level(LevelChange::Put(row))
        .await
        .map_err(|error| service_error(&state, error))?;
    let kind = if outcome == LevelOutcome::Replaced {
        "access_level_replaced"
    } else {
        "access_level_added"
    };
    log_change(&state, &caller, kind, None, detail).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `DELETE /api/levels/{id}`: removes a level no credential holds.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let outcome = state
        .service
        .change_level(LevelChange::Delete(id.clone()))
        .await
        .map_err(|error| service_error(&state, error))?;
    match outcome {
        LevelOutcome::Removed => {
            log_change(
                &state,
                &caller,
                "access_level_removed",
                None,
                format!("level {id}"),
            )
            .await?;
            Ok(StatusCode::NO_CONTENT)
        }
        LevelOutcome::InUse(holders) => Err(ApiError::Plain(
            StatusCode::CONFLICT,
            format!(
                "level {id:?} is held by {holders} credential{}: take it from them first",
                if holders == 1 { "" } else { "s" }
            ),
        )),
        _ => Err(ApiError::not_found(format!("no access level {id:?}"))),
    }
}
