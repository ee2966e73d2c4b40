// Talks to the daemon: the session cookie goes by itself (same origin), the CSRF token is
// added to every request that changes something, and an answer that is not 2xx becomes an
// ApiError with the daemon's own message.

let csrf = null;
const ended = new Set();

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The session's CSRF token, from the sign-in's answer or GET /api/session. */
export function setCsrf(token) {
  csrf = token;
}

/** `callback(error)` when the session has ended (any 401 but a sign-in's). */
export function onSessionEnded(callback) {
  ended.add(callback);
}

/** `body` goes as JSON; `csv`, a text, goes as it is (an import). */
export async function api(path, { method = "GET", body, csv, signal } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csv !== undefined) headers["Content-Type"] = "text/csv";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: csv !== undefined ? csv : body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "the controller does not answer (" + error.message + ")");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, (data && data.error) || response.statusText);
    // A refused sign-in or setup code is not the end of a session.
    if (response.status === 401 && path !== "/api/session" && path !== "/api/setup") ended.forEach((f) => f(error));
    throw error;
  }
  return data;
}
