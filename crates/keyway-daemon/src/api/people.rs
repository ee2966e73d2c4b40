//! Who is in the building: `GET /api/occupancy`, `GET /api/muster` (during a fire alarm or
//! an evacuation, everyone still to muster), `POST /api/anti-passback/forgive` (an operator's
//! reset, logged with who made it), the simulated muster station reader
//! `POST /api/sim/muster`, the simulated keypad `POST /api/sim/pin`, and the emergency modes,
//! `POST /api/emergency`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use keyway_core::controller::Input;
use keyway_core::emergency::Mode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState, authorize, door_index, event_json, events_json, refuse_real,
    run_input, service_error, side_of,
};
use crate::auth::Role;
use crate::real_devices;
use crate::service::Source;

async fn people(state: &AppState) -> ApiResult<crate::people::PeopleSnapshot> {
    state
        .service
        .people()
        .await
        .map_err(|error| service_error(state, error))
}

/// Per area that is not exterior: the count and who (credential and holder); and who was
/// last seen inside but may have left unseen.
pub async fn occupancy(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let people = people(&state).await?;
    Ok(Json(json!({
        "areas": people.areas,
        "unknown": people.unknown,
    })))
}

/// `{"active", "since", "count", "to_muster": [...]}`: while a fire alarm is active, everyone
/// last seen inside who has not badged at a muster station since, with where they were seen.
pub async fn muster(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Viewer)?;
    let people = people(&state).await?;
    Ok(Json(json!({
        "active": people.muster_active,
        "since": people.muster_since,
        "count": people.to_muster.len(),
        "to_muster": people.to_muster,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgiveBody {
    /// One holder's credential (forgiven in every zone).
    credential: Option<String>,
    /// One zone.
    zone: Option<String>,
}

/// Forgives anti-passback: one holder, one zone, or (with neither) everyone.
pub async fn forgive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ForgiveBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let Json(body) = body?;
    let site = state.service.site();
    let zone = match &body.zone {
        Some(id) => Some(
            site.find_zone(id)
                .ok_or_else(|| ApiError::not_found(format!("no zone {id:?} in the site")))?,
        ),
        None => None,
    };
    if body
        .credential
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.len() > 64)
    {
        return Err(ApiError::bad_request(
            "field `credential`: expected 1 to 64 characters",
        ));
    }
    let events = run_input(
        &state,
        Input::ForgivePassback {
            credential: body.credential,
            zone,
        },
        caller.origin(Source::Api),
    )
    .await?;
    Ok(events_json(&state, &events))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MusterBody {
    station: String,
    credential: String,
}

/// A simulated badge at a muster station's reader.
pub async fn sim_muster(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<MusterBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let Json(body) = body?;
    let site = state.service.site();
    let station = site.find_station(&body.station).ok_or_else(|| {
        ApiError::not_found(format!("no muster station {:?} in the site", body.station))
    })?;
    refuse_real(real_devices::at_station(site, station))?;
    let events = run_input(
        &state,
        Input::Muster {
            station,
            credential: body.credential,
        },
        caller.origin(Source::Sim),
    )
    .await?;
    let mustered = events
        .iter()
        .find(|e| e.event.kind == "mustered")
        .ok_or_else(|| {
            ApiError::unavailable(
                "the controller has no power: the reader is dark and nothing was recorded",
            )
        })?;
    Ok(Json(event_json(&state, mustered)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyBody {
    mode: String,
    /// Area ids; absent for the whole site.
    areas: Option<Vec<String>>,
}

/// Puts an emergency mode in force (`none` ends the one in force).
pub async fn emergency(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<EmergencyBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let Json(body) = body?;
    let mode = Mode::from_name(&body.mode).ok_or_else(|| {
        let names: Vec<String> = Mode::ALL.iter().map(|(n, _)| format!("{n:?}")).collect();
        ApiError::bad_request(format!(
            "field `mode` = {:?}: expected one of {}",
            body.mode,
            names.join(", ")
        ))
    })?;
    let site = state.service.site();
    let areas = match body.areas {
        None => None,
        Some(ids) if ids.is_empty() => {
            return Err(ApiError::bad_request(
                "field `areas`: name at least one area, or leave it out for the whole site",
            ));
        }
        Some(ids) => Some(
            ids.iter()
                .map(|id| {
                    site.find_area(id).ok_or_else(|| {
                        ApiError::bad_request(format!("field `areas`: the site has no area {id:?}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let events = run_input(
        &state,
        Input::Emergency { mode, areas },
        caller.origin(Source::Api),
    )
    .await?;
    Ok(events_json(&state, &events))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinBody {
    door: String,
    /// `entry` (the default) or `exit`.
    #[serde(default)]
    side: Option<String>,
    pin: String,
}

/// A simulated keypad: digits entered at a `card_and_pin` door, after its card.
pub async fn sim_pin(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<PinBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Operator)?;
    let Json(body) = body?;
    let site = state.service.site();
    let door = door_index(&state, &body.door)?;
    if !site.door(door).access.card_and_pin {
        return Err(ApiError::bad_request(format!(
            "door {:?} does not ask for a PIN (`access.card_and_pin`)",
            body.door
        )));
    }
    let side = side_of(body.side.as_deref())?;
    if body.pin.is_empty() || body.pin.len() > 12 || !body.pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "field `pin`: expected 1 to 12 digits",
        ));
    }
    refuse_real(real_devices::at_door(
        site,
        door,
        real_devices::SimAtDoor::Badge,
    ))?;
    let events = run_input(
        &state,
        Input::Pin {
            door,
            side,
            pin: body.pin,
        },
        caller.origin(Source::Sim),
    )
    .await?;
    Ok(events_json(&state, &events))
}
