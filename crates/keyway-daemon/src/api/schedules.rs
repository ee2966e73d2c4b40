//! `GET /api/schedules`, `POST /api/schedules` and `DELETE /api/schedules/{id}`: the weekly
//! spans and holidays of the site file's schedules, changed from the console, and schedules
//! of the console's own (`schedules.rs`). Each is checked as the site file would be, stored,
//! then applied to the running controller (a door it unlocks moves at once). Every change
//! is logged with who made it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use keyway_store::{LevelOutcome, ScheduleChange, ScheduleRow};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, AppState, authorize, log_change, read_store, service_error};
use crate::auth::Role;
use crate::schedules::{effective, to_row};
use crate::service::ScheduleEffect;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    id: String,
    /// Spans such as `Mon-Fri 08:00-18:00`, local time in the site's zone.
    #[serde(default)]
    weekly: Vec<String>,
    /// Dates (`YYYY-MM-DD`) on which the schedule is not active.
    #[serde(default)]
    holidays: Vec<String>,
}

/// The schedules in effect, with where each comes from.
pub(super) async fn in_effect(state: &AppState) -> ApiResult<Vec<(ScheduleRow, &'static str)>> {
    let rows = read_store(state, move |reader| reader.schedules()).await?;
    Ok(effective(&state.file_schedules, &rows))
}

fn schedule_json(state: &AppState, row: &ScheduleRow, origin: &str) -> Value {
    let site = state.service.site();
    let doors: Vec<&str> = site
        .doors
        .iter()
        .filter(|d| {
            d.schedule
                .is_some_and(|s| site.schedules[s.index()].id == row.id)
        })
        .map(|d| d.id.as_str())
        .collect();
    json!({
        "id": row.id,
        "weekly": row.weekly,
        "holidays": row.holidays,
        "origin": origin,
        "doors": doors,
    })
}

/// `GET /api/schedules`: the site file's (as changed) first, then the console's own.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Operator)?;
    let schedules = in_effect(&state).await?;
    Ok(Json(Value::Array(
        schedules
            .iter()
            .map(|(row, origin)| schedule_json(&state, row, origin))
            .collect(),
    )))
}

fn describe(row: &ScheduleRow) -> String {
    let holidays = if row.holidays.is_empty() {
        "no holidays".to_string()
    } else {
        format!("holidays {}", row.holidays.join(", "))
    };
    let weekly = if row.weekly.is_empty() {
        "never".to_string()
    } else {
        row.weekly.join(", ")
    };
    format!("schedule {}: {weekly}; {holidays}", row.id)
}

/// `POST /api/schedules`: changes a schedule (the site file's, or the console's own) or adds
/// one, checked as the site file would be.
pub async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ScheduleBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let Json(body) = body?;
    let schedule =
        keyway_core::schedule::schedule_from_text(&body.id, &body.weekly, &body.holidays)
            .map_err(|problems| ApiError::bad_request(problems.join("; ")))?;
    let row = to_row(&schedule);
    let existed = state.service.has_schedule(&row.id);
    let detail = describe(&row);
    state
        .service
        .change_schedule(
            ScheduleChange::Put(row.clone()),
            ScheduleEffect::Put(schedule),
        )
        .await
        .map_err(|error| service_error(&state, error))?;
    let kind = if existed {
        "schedule_changed"
    } else {
        "schedule_added"
    };
    log_change(&state, &caller, kind, None, detail).await?;
    let from_file = state.file_schedules.iter().any(|s| s.id == row.id);
    let origin = if from_file {
        "site, changed"
    } else {
        "console"
    };
    Ok((
        StatusCode::CREATED,
        Json(schedule_json(&state, &row, origin)),
    ))
}

/// `DELETE /api/schedules/{id}`: a site file's schedule goes back to the file's; one of the
/// console's own is removed unless a credential or an access level names it.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let file = state.file_schedules.iter().find(|s| s.id == id).cloned();
    let (change, effect) = match &file {
        Some(schedule) => (
            ScheduleChange::Delete {
                id: id.clone(),
                unless_held: false,
            },
            ScheduleEffect::Put(schedule.clone()),
        ),
        None => (
            ScheduleChange::Delete {
                id: id.clone(),
                unless_held: true,
            },
            ScheduleEffect::Remove(id.clone()),
        ),
    };
    let outcome = state
        .service
        .change_schedule(change, effect)
        .await
        .map_err(|error| service_error(&state, error))?;
    match (outcome, &file) {
        (LevelOutcome::Removed, Some(schedule)) => {
            let detail = format!("{}, as the site file has it", describe(&to_row(schedule)));
            log_change(&state, &caller, "schedule_reset", None, detail).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        (LevelOutcome::Removed, None) => {
            let detail = format!("schedule {id}");
            log_change(&state, &caller, "schedule_removed", None, detail).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        (LevelOutcome::Missing, Some(_)) => Err(ApiError::Plain(
            StatusCode::CONFLICT,
            format!("schedule {id:?} is the site file's, unchanged: change the file to remove it"),
        )),
        (LevelOutcome::InUse(holders), _) => Err(ApiError::Plain(
            StatusCode::CONFLICT,
            format!(
                "schedule {id:?} is named by {holders} credential{} or access level{}: take it from them first",
                if holders == 1 { "" } else { "s" },
                if holders == 1 { "" } else { "s" }
            ),
        )),
        _ => Err(ApiError::not_found(format!("no schedule {id:?}"))),
    }
}
