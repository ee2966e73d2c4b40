//! Sign-in, sign-out, the setup code and the users (`/api/session`, `/api/setup`,
//! `/api/users`). A session is a cookie (HttpOnly, SameSite=Strict) and a CSRF token the
//! console sends as `X-CSRF-Token` with every request that changes something
//! (`authorize_request` checks it).
//!
//! Storage comes after the person: a sign-in or a sign-out acts in memory even when the disk
//! fails (an operator must be able to sign in to handle a fire alarm on a full disk); the
//! session then does not survive a restart, and the answer says `"stored": false`. Changes
//! to users are stored first, since a user that vanishes at the next start would surprise.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_store::AccountChange;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState, Caller, authorize, local_time, log_change, name_taken, write,
};
use crate::accounts::{
    Accounts, SESSION_COOKIE, SESSION_LIFETIME, SetupRefusal, User, check_password, hash_password,
    verify_password,
};
use crate::auth::{Role, check_name};
use crate::service::{Origin, Source};
use crate::writer::Job;

fn accounts_unavailable<T>(_: T) -> ApiError {
    ApiError::unavailable("account table unavailable")
}

fn role_named(name: &str) -> ApiResult<Role> {
    Role::from_name(name).ok_or_else(|| {
        ApiError::bad_request(format!("role {name:?}: expected viewer, operator or admin"))
    })
}

/// A name as the log shows it: at most 64 characters (a sign-in's name may be anything).
fn shown(name: &str) -> String {
    let cut: String = name.chars().take(64).collect();
    format!("{cut:?}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    name: String,
    password: String,
}

/// `POST /api/session`: a name and a password; the answer sets the session cookie and
/// carries the CSRF token. Five failures in a row pause the name for a minute (429).
pub(super) async fn sign_in(
    State(state): State<AppState>,
    body: Result<Json<SignIn>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(body) = body?;
    let now = state.service.clock().monotonic();
    let (phc, exists) = {
        let accounts = state.accounts.read().map_err(accounts_unavailable)?;
        if let Some(paused) = accounts.paused(&body.name, now) {
            return Err(ApiError::Plain(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed sign-ins for {}; try again in {} s",
                    shown(&body.name),
                    paused.seconds_left
                ),
            ));
        }
        accounts.password_to_check(&body.name)
    };
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&phc, &password))
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    if !(matches && exists) {
        state
            .accounts
            .write()
            .map_err(accounts_unavailable)?
            .failed(&body.name, now);
        let detail = format!("user {}", shown(&body.name));
        if let Err(error) = state
            .service
            .log(
                "sign_in_failed",
                &Origin::new(Source::Api),
                None,
                Some(detail),
            )
            .await
        {
            tracing::warn!(%error, "sign_in_failed was not logged durably");
        }
        return Err(ApiError::Plain(
            StatusCode::UNAUTHORIZED,
            "wrong name or password".to_string(),
        ));
    }
    state
        .accounts
        .write()
        .map_err(accounts_unavailable)?
        .succeeded(&body.name);
    start_session(&state, &body.name).await
}

/// Opens a session for `name`, logs `signed_in`, and answers with the cookie.
async fn start_session(state: &AppState, name: &str) -> ApiResult<Response> {
    let wall = state.service.clock().wall();
    let new = Accounts::new_session(name, wall);
    let expired = {
        let mut accounts = state.accounts.write().map_err(accounts_unavailable)?;
        accounts.open(&new.row);
        accounts.close_expired(wall)
    };
    let mut stored = true;
    if expired {
        let change = AccountChange::DeleteExpiredSessions(wall);
        stored &= write(state, |reply| Job::Accounts { change, reply })
            .await
            .is_ok();
    }
    let change = AccountChange::PutSession(new.row.clone());
    if let Err(error) = write(state, |reply| Job::Accounts { change, reply }).await {
        tracing::warn!(
            ?error,
            "a session was not stored; it ends if the daemon restarts"
        );
        stored = false;
    }
    let origin = Origin::by(Source::Api, name);
    if let Err(error) = state.service.log("signed_in", &origin, None, None).await {
        tracing::warn!(%error, "signed_in was not logged durably");
    }
    let role = state
        .accounts
        .read()
        .map_err(accounts_unavailable)?
        .user(name)
        .map_or(Role::Viewer, |u| u.role);
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        new.cookie,
        SESSION_LIFETIME / 1000
    );
    let mut body = session_json(state, name, role, Some(&new.row.csrf), new.row.expires);
    body["stored"] = json!(stored);
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::unavailable(e.to_string()))?,
    );
    Ok(response)
}

fn session_json(
    state: &AppState,
    name: &str,
    role: Role,
    csrf: Option<&str>,
    expires: i64,
) -> Value {
    json!({
        "name": name,
        "role": role.name(),
        "csrf": csrf,
        "expires": local_time(state, expires),
    })
}

/// `GET /api/session`: who this is, and the CSRF token a reloaded page needs.
pub(super) async fn current_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Viewer)?;
    let session = own_session(&caller)?;
    Ok(Json(session_json(
        &state,
        &caller.actor,
        caller.role,
        Some(&session.csrf),
        session.expires,
    )))
}

fn own_session(caller: &Caller) -> ApiResult<&crate::accounts::SessionCaller> {
    caller.session.as_ref().ok_or_else(|| {
        ApiError::bad_request("a token has no session: sessions are the console's sign-ins")
    })
}

/// `DELETE /api/session`: signs out; the cookie is cleared and refused from now on.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, Role::Viewer)?;
    let hash = own_session(&caller)?.hash.clone();
    state
        .accounts
        .write()
        .map_err(accounts_unavailable)?
        .close(&hash);
    let change = AccountChange::DeleteSession(hash);
    if let Err(error) = write(&state, |reply| Job::Accounts { change, reply }).await {
        // Refused from now on all the same: the table in memory is what is checked, and
        // at the next start the stored session is past its end or is ended then.
        tracing::warn!(?error, "a sign-out was not stored");
    }
    if let Err(error) = state
        .service
        .log("signed_out", &caller.origin(Source::Api), None, None)
        .await
    {
        tracing::warn!(%error, "signed_out was not logged durably");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("keyway_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordChange {
    current: String,
    new: String,
}

/// `POST /api/session/password`: a user changes their own password. Every session of theirs
/// ends; this one is replaced by a new one (the answer sets its cookie).
pub(super) async fn change_own_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<PasswordChange>, JsonRejection>,
) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, Role::Viewer)?;
    own_session(&caller)?;
    let Json(body) = body?;
    check_password(&body.new).map_err(ApiError::bad_request)?;
    let user = state
        .accounts
        .read()
        .map_err(accounts_unavailable)?
        .user(&caller.actor)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no user {}", shown(&caller.actor))))?;
    let (phc, current, new) = (user.password.clone(), body.current, body.new);
    let hashed = tokio::task::spawn_blocking(move || {
        verify_password(&phc, &current).then(|| hash_password(&new))
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?
    .ok_or_else(|| {
        ApiError::Plain(
            StatusCode::FORBIDDEN,
            "the current password is wrong".to_string(),
        )
    })?;
    let changed = User {
        password: hashed,
        ..user
    };
    store_user(&state, &caller.actor, changed, false).await?;
    log_change(
        &state,
        &caller,
        "user_changed",
        None,
        format!(
            "user {}: password changed by the user",
            shown(&caller.actor)
        ),
    )
    .await?;
    start_session(&state, &caller.actor).await
}

/// Stores a user, then holds it (its sessions end unless `keep_sessions`).
async fn store_user(
    state: &AppState,
    name: &str,
    user: User,
    keep_sessions: bool,
) -> ApiResult<()> {
    let change = AccountChange::PutUser {
        user: user.row(name),
        keep_sessions,
    };
    write(state, |reply| Job::Accounts { change, reply }).await?;
    state
        .accounts
        .write()
        .map_err(accounts_unavailable)?
        .put_user(name, user, keep_sessions);
    Ok(())
}

/// `GET /api/setup`: whether the console waits for its first admin (no secret in it).
pub(super) async fn setup_status(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let pending = state
        .accounts
        .read()
        .map_err(accounts_unavailable)?
        .setup_pending();
    Ok(Json(json!({ "pending": pending })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Setup {
    code: String,
    name: String,
    password: String,
}

/// `POST /api/setup`: the setup code printed at first start, and the first admin's name and
/// password. The code is used up; the answer signs the new admin in.
pub(super) async fn setup(
    State(state): State<AppState>,
    body: Result<Json<Setup>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(body) = body?;
    check_new_name(&state, &body.name)?;
    check_password(&body.password).map_err(ApiError::bad_request)?;
    let now = state.service.clock().monotonic();
    let taken = state
        .accounts
        .write()
        .map_err(accounts_unavailable)?
        .take_setup_code(&body.code, now);
    match taken {
        Ok(code) => {
            let password = body.password;
            let hashed = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            let user = User {
                role: Role::Admin,
                password: hashed,
                created: state.service.clock().wall(),
                disabled: false,
            };
            if let Err(error) = store_user(&state, &body.name, user, false).await {
                // Nothing was created: the code stays good for another try.
                state
                    .accounts
                    .write()
                    .map_err(accounts_unavailable)?
                    .restore_setup_code(code);
                return Err(error);
            }
            let origin = Origin::by(Source::Api, "setup code");
            let detail = format!("user {}, admin", shown(&body.name));
            if let Err(error) = state
                .service
                .log("user_created", &origin, None, Some(detail))
                .await
            {
                tracing::warn!(%error, "user_created was not logged durably");
            }
            start_session(&state, &body.name).await
        }
        Err(SetupRefusal::Done) => Err(ApiError::Plain(
            StatusCode::CONFLICT,
            "the console is set up: an admin exists; sign in".to_string(),
        )),
        Err(SetupRefusal::Wrong) => Err(ApiError::Plain(
            StatusCode::UNAUTHORIZED,
            "wrong setup code: it is the one `keyway serve` printed when it started".to_string(),
        )),
        Err(SetupRefusal::Paused(paused)) => Err(ApiError::Plain(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many wrong setup codes; try again in {} s",
                paused.seconds_left
            ),
        )),
    }
}

/// A name for a new user: well formed, and no user or token has it (names say who did what).
fn check_new_name(state: &AppState, name: &str) -> ApiResult<()> {
    check_name("user", name).map_err(ApiError::bad_request)?;
    if name_taken(state, name)? {
        return Err(ApiError::Plain(
            StatusCode::CONFLICT,
            format!(
                "a user or a token is already named {}: names say who did what, so they are unique",
                shown(name)
            ),
        ));
    }
    Ok(())
}

fn user_json(state: &AppState, name: &str, user: &User, sessions: usize) -> Value {
    json!({
        "name": name,
        "role": user.role.name(),
        "created": local_time(state, user.created),
        "disabled": user.disabled,
        "sessions": sessions,
    })
}

/// `GET /api/users` (admin): every user, with how many sessions each has open.
pub(super) async fn list_users(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Role::Admin)?;
    let now = state.service.clock().wall();
    let accounts = state.accounts.read().map_err(accounts_unavailable)?;
    Ok(Json(Value::Array(
        accounts
            .users()
            .map(|(name, user)| user_json(&state, name, user, accounts.session_count(name, now)))
            .collect(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUser {
    name: String,
    role: String,
    password: String,
}

/// `POST /api/users` (admin): a new user; logs `user_created`.
pub(super) async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewUser>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let Json(body) = body?;
    let role = role_named(&body.role)?;
    check_new_name(&state, &body.name)?;
    check_password(&body.password).map_err(ApiError::bad_request)?;
    let password = body.password;
    let hashed = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let user = User {
        role,
        password: hashed,
        created: state.service.clock().wall(),
        disabled: false,
    };
    store_user(&state, &body.name, user.clone(), false).await?;
    log_change(
        &state,
        &caller,
        "user_created",
        None,
        format!("user {}, {}", shown(&body.name), role.name()),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(user_json(&state, &body.name, &user, 0)),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserChange {
    role: Option<String>,
    password: Option<String>,
    disabled: Option<bool>,
}

/// `PATCH /api/users/{name}` (admin): a new role, a new password, disabled or enabled. Any
/// change ends the user's sessions; the last enabled admin cannot be demoted or disabled.
/// Logs `user_changed` with what changed.
pub(super) async fn change_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<UserChange>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    let Json(body) = body?;
    let role = body.role.as_deref().map(role_named).transpose()?;
    if let Some(password) = &body.password {
        check_password(password).map_err(ApiError::bad_request)?;
    }
    let (mut user, last_admin) = {
        let accounts = state.accounts.read().map_err(accounts_unavailable)?;
        let user = accounts
            .user(&name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no user {}", shown(&name))))?;
        (user, accounts.is_last_admin(&name))
    };
    let mut changes = Vec::new();
    if let Some(role) = role.filter(|r| *r != user.role) {
        changes.push(format!("role {} -> {}", user.role.name(), role.name()));
        user.role = role;
    }
    if let Some(disabled) = body.disabled.filter(|d| *d != user.disabled) {
        changes.push(if disabled { "disabled" } else { "enabled" }.to_string());
        user.disabled = disabled;
    }
    if last_admin && (user.role != Role::Admin || user.disabled) {
        return Err(ApiError::Plain(
            StatusCode::CONFLICT,
            format!(
                "{} is the only enabled admin: make another admin first, or no one could manage the console",
                shown(&name)
            ),
        ));
    }
    if let Some(password) = body.password {
        changes.push("password changed".to_string());
        user.password = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
    }
    if changes.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: give role, password or disabled with a new value",
        ));
    }
    store_user(&state, &name, user.clone(), false).await?;
    log_change(
        &state,
        &caller,
        "user_changed",
        None,
        format!("user {}: {}", shown(&name), changes.join(", ")),
    )
    .await?;
    Ok(Json(user_json(&state, &name, &user, 0)))
}

/// `DELETE /api/users/{name}` (admin): removes a user and ends their sessions; not the last
/// enabled admin. Logs `user_deleted`.
pub(super) async fn delete_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = authorize(&state, &headers, Role::Admin)?;
    {
        let accounts = state.accounts.read().map_err(accounts_unavailable)?;
        if accounts.user(&name).is_none() {
            return Err(ApiError::not_found(format!("no user {}", shown(&name))));
        }
        if accounts.is_last_admin(&name) {
            return Err(ApiError::Plain(
                StatusCode::CONFLICT,
                format!(
                    "{} is the only enabled admin: make another admin first, or no one could manage the console",
                    shown(&name)
                ),
            ));
        }
    }
    let change = AccountChange::DeleteUser(name.clone());
    write(&state, |reply| Job::Accounts { change, reply }).await?;
    state
        .accounts
        .write()
        .map_err(accounts_unavailable)?
        .delete_user(&name);
    log_change(
        &state,
        &caller,
        "user_deleted",
        None,
        format!("user {}", shown(&name)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
