// The console's start: sign in, then the screens, the live stream and the refresh of the
// state. See index.html for which file does what.

import { api, ApiError } from "./api.js";
import { start } from "./session.js";
import { follow } from "./live.js";
import * as overview from "./overview.js";
import * as planner from "./planner.js";
import * as admin from "./admin.js";
import * as people from "./people.js";
import * as levels from "./levels.js";
import * as schedules from "./schedules.js";
import * as alarms from "./alarms.js";
import * as health from "./health.js";
import * as eventsScreen from "./events.js";
import * as muster from "./muster.js";
import { clockTime } from "./format.js";

const $ = (id) => document.getElementById(id);
let started = false;

function showScreen(name) {
  for (const button of $("nav").querySelectorAll("button[data-screen]")) {
    if (button.dataset.screen === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const screen of document.querySelectorAll(".screen")) screen.classList.toggle("hidden", screen.id !== "screen-" + name);
  if (name === "planner") planner.load().catch((error) => ($("plan-caption").textContent = error.message));
  if (name === "events") eventsScreen.search(false);
  muster.setShown(name === "muster");
  if (name === "people") {
    people.load().catch((error) => ($("people-feedback").textContent = error.message));
    levels.load().catch((error) => ($("levels-feedback").textContent = error.message));
    schedules.load().catch((error) => ($("schedules-feedback").textContent = error.message));
  }
  if (name === "admin") admin.load().catch((error) => ($("users-feedback").textContent = error.message));
}

let refreshing = null;
let again = false;
// The alarm list is read again after an event, and every 10 s.
let alarmsRead = 0;
let alarmsDirty = true;

/** Reads the state once; a call while one runs asks for one more after it. */
function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      const [status, readers, health] = await Promise.all([
        api("/api/status"),
        api("/api/readers").catch(() => []),
        fetch("/healthz").then((r) => (r.ok ? null : r.json())).catch(() => null),
      ]);
      overview.update(status, readers, health);
      if (alarmsDirty || Date.now() - alarmsRead > 10_000) {
        alarmsDirty = false;
        alarmsRead = Date.now();
        await alarms.load();
      }
    } catch (error) {
      // Not answering: the connection indicator says so. Anything else is a bug to show.
      if (!(error instanceof ApiError)) console.error("refresh failed:", error);
    } finally {
      refreshing = null;
      if (again) {
        again = false;
        refresh();
      }
    }
  })();
  return refreshing;
}

async function catchUp() {
  for (;;) {
    const missed = await api(`/api/events?after=${overview.lastSeq()}&limit=1000`);
    missed.forEach(overview.addEvent);
    if (missed.length < 1000) return;
  }
}

function indicate(name, since) {
  const element = $("connection");
  element.className = "connection " + name;
  element.textContent = name === "disconnected" ? `disconnected since ${clockTime(since)}` : name === "reconnecting" ? "reconnecting…" : "live";
  overview.setConnection(name, since);
  if (name === "live") refresh();
}

start(async (session) => {
  if (started) {
    // A new sign-in after the session ended: start afresh.
    window.location.reload();
    return;
  }
  started = true;
  for (const id of ["screens", "nav", "connection"]) $(id).classList.remove("hidden");
  for (const element of document.querySelectorAll(".admin-only")) element.classList.toggle("hidden", session.role !== "admin");
  $("nav").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-screen]");
    if (button) showScreen(button.dataset.screen);
  });
  // The site's layout does not change while the daemon runs: it and its check are read once, with
  // the newest events, all at once.
  const [site, check, newest] = await Promise.all([
    api("/api/site"),
    api("/api/check"),
    api("/api/events?order=newest&limit=50"),
  ]);
  overview.setup(site, session.role);
  health.show(check, site);
  overview.setCheck(check.summary);
  overview.wire(refresh);
  planner.setup(site);
  alarms.setup(site, session.role);
  eventsScreen.setup(site);
  muster.wire();
  if (session.role !== "viewer") {
    people.setup(site, session.role);
    people.wire();
    levels.setup(site, session.role, people.setLevels);
    levels.wire();
    schedules.setup(site, session.role, (list) => {
      people.setSchedules(list);
      levels.setSchedules(list);
    });
    schedules.wire();
  }
  if (session.role === "admin") admin.wire();
  // The newest 50 events, whatever the length of the log; the stream follows from there.
  newest.reverse().forEach(overview.addEvent);
  await refresh();
  const onEvent = (event) => {
    overview.addEvent(event);
    alarmsDirty = true;
    refresh();
    muster.load();
  };
  follow({ event: onEvent, lagged: catchUp, state: indicate }, overview.lastSeq);
  setInterval(refresh, 1000);
});
