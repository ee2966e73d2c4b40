// The live overview: banners, the diagram, doors, power, readers and the event feed. Rows
// are made once per site and updated in place, so a button under the pointer stays the
// same element while events stream (no click is lost to a table being rebuilt).

import { text, reasonWords, duration, when } from "./format.js";
import { draw, legend } from "./diagram.js";
import { act, confirmAction, summary } from "./controls.js";
import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
let site = null;
let role = "viewer";
let last = { status: null, readers: [], health: null };
let doorRows = new Map();

const tag = (kind, words) => `<span class="tag ${kind}">${text(words)}</span>`;

/** Builds the rows for `theSite`; `theRole` decides which controls exist at all. */
export function setup(theSite, theRole) {
  site = theSite;
  role = theRole;
  const operator = role !== "viewer";
  $("site-name").textContent = site.name;
  $("sim-door").innerHTML = site.doors.map((d) => `<option value="${text(d.id)}">${text(d.name)}</option>`).join("");
  $("doors").querySelector("tbody").innerHTML = site.doors
    .map((d) => `
    <tr data-door="${text(d.id)}">
      <th scope="row" data-label="Door">${text(d.name)}</th>
      <td data-label="Lock" data-field="lock"></td>
      <td data-label="Open" data-field="open"></td>
      <td data-label="Why" data-field="reason"></td>
      <td data-label="Attention" data-field="attention"></td>
      ${operator ? `<td data-label="Controls">${d.lock
        ? `<label class="check"><input type="checkbox" data-select aria-label="Select ${text(d.name)}"> select</label>
           <button type="button" data-action="momentary" aria-label="Unlock ${text(d.name)} for ${d.unlock_seconds} seconds">Unlock briefly</button>
           <button type="button" data-action="unlock" aria-label="Hold ${text(d.name)} unlocked">Hold unlocked</button>
           <button type="button" data-action="lock" aria-label="Hold ${text(d.name)} locked">Hold locked</button>
           <button type="button" data-action="release" aria-label="Release ${text(d.name)} to normal operation">Release</button>
           <span class="feedback" aria-live="polite"></span>`
        : '<span class="muted">no lock</span>'}</td>` : ""}
    </tr>`)
    .join("");
  $("circuits").querySelector("tbody").innerHTML = site.circuits
    .map((c) => `
    <tr data-circuit="${text(c.id)}">
      <th scope="row" data-label="Circuit">${text(c.name)}</th>
      <td data-label="Power" data-field="power"></td>
      <td data-label="Battery left" data-field="battery"></td>
      ${operator ? `<td data-label="Feed"><button type="button" data-power="off" aria-label="Cut ${text(c.name)}">Cut</button>
        <button type="button" data-power="on" aria-label="Restore ${text(c.name)}">Restore</button>
        <span class="feedback" aria-live="polite"></span></td>` : ""}
    </tr>`)
    .join("");
  doorRows = new Map([...$("doors").querySelectorAll("tr[data-door]")].map((row) => [row.dataset.door, row]));
  for (const element of document.querySelectorAll(".operator-only")) element.classList.toggle("hidden", !operator);
  legend($("legend"));
}

/** A door's look in the diagram and its attention tags, from the status and the readers. */
function assess(d, readers, circuits) {
  const tags = [];
  if (d.alarm === "forced") tags.push(["alarm", "forced open"]);
  if (d.alarm === "held_open") tags.push(["alarm", "held open"]);
  if (d.lock_fault) tags.push(["alarm", "lock fault"]);
  if (d.reason === "no_power" || d.reason === "power_cut") tags.push(["alarm", "no power"]);
  if (d.reason === "controller_dead") tags.push(["alarm", "controller off"]);
  if (d.reason === "operator_hold" && d.lock === "unlocked") tags.push(["attention", "held unlocked by an operator"]);
  for (const r of readers.filter((r) => r.doors.includes(d.id))) {
    if (!r.online) tags.push(["attention", "reader off-line"]);
    if (r.tamper) tags.push(["alarm", "reader tamper"]);
    if (r.power_fault) tags.push(["attention", "reader power fault"]);
  }
  const door = site.doors.find((s) => s.id === d.id);
  const circuit = door && door.lock && circuits.find((c) => c.id === door.lock.power);
  if (circuit && circuit.on_battery) tags.push(["attention", "on battery"]);
  const key = tags.some((t) => t[0] === "alarm") ? "alarm" : tags.length ? "attention" : d.lock === "unlocked" ? "open" : "calm";
  return { key, tags };
}

/** Shows `status` (GET /api/status), `readers` and `health` (from /healthz) in place. */
export function update(status, readers, health) {
  last = { status, readers, health };
  const assessed = {};
  for (const d of status.doors) {
    const row = doorRows.get(d.id);
    if (!row) continue;
    const { key, tags } = (assessed[d.id] = assess(d, readers, status.circuits));
    const cell = (field) => row.querySelector(`[data-field="${field}"]`);
    setHtml(cell("lock"), tag(d.lock === "unlocked" ? (key === "attention" ? "attention" : "open") : "calm", d.lock));
    setHtml(cell("open"), d.open ? tag(d.alarm ? "alarm" : "open", "open") : "closed");
    setHtml(cell("reason"), text(why(d)));
    setHtml(cell("attention"), tags.map(([kind, words]) => tag(kind, words)).join(""));
  }
  for (const c of status.circuits) {
    const row = $("circuits").querySelector(`tr[data-circuit="${CSS.escape(c.id)}"]`);
    if (!row) continue;
    const power = !c.live ? tag("alarm", "down") : c.on_battery ? tag("attention", "on battery") : tag("calm", "mains");
    setHtml(row.querySelector('[data-field="power"]'), power);
    setHtml(row.querySelector('[data-field="battery"]'), c.battery_seconds_left == null ? "" : duration(c.battery_seconds_left));
  }
  banners(status, health);
  const byId = new Map(status.doors.map((d) => [d.id, d]));
  draw($("diagram"), site, (id) => {
    const d = byId.get(id) || {};
    const a = assessed[id] || { key: "calm", tags: [] };
    return { key: a.key, words: { lock: d.lock, all: [d.lock, reasonWords(d.reason), ...a.tags.map((t) => t[1])].join(", ") } };
  }, null);
  $("readers-panel").classList.toggle("hidden", readers.length === 0);
  $("readers").querySelector("tbody").innerHTML = readers
    .map((r) => `
    <tr data-reader="${text(r.bus)}:${r.address}">
      <th scope="row" data-label="Reader">${text(r.doors.map((id) => site.doors.find((d) => d.id === id)?.name || id).join(", "))} <span class="muted">${text(r.bus)} #${r.address}</span></th>
      <td data-label="Link" data-field="state">${tag(r.online ? "calm" : "attention", r.state)}${r.security ? ` <span class="muted">${text(r.security)}</span>` : ""}</td>
      <td data-label="Identity">${r.identity ? `vendor ${text(r.identity.vendor)}, model ${r.identity.model}, serial ${r.identity.serial}, firmware ${text(r.identity.firmware)}` : ""}</td>
      <td data-label="Status">${r.tamper ? tag("alarm", "tamper") : ""}${r.power_fault ? tag("attention", "power fault") : ""}${!r.online && r.last_problem ? ` <span class="muted">${text(r.last_problem)}</span>` : ""}</td>
    </tr>`)
    .join("");
}

/** Why the door is where it is, with a hold's end, or the hold a higher rule outranks. */
function why(d) {
  const until = d.hold_until ? ` until ${d.hold_until.slice(0, 10)} ${d.hold_until.slice(11, 16)}` : "";
  if (d.reason === "operator_hold") return `${reasonWords(d.reason)} (${d.hold})${until}`;
  if (d.hold) return `${reasonWords(d.reason)}; held ${d.hold}${until} underneath`;
  return reasonWords(d.reason);
}

/** Only when it changed: an element under the pointer is left alone otherwise. */
function setHtml(element, html) {
  if (element && element.innerHTML !== html) element.innerHTML = html;
}

let connection = { name: "live", since: null };
let checkSummary = null;

/** The running site's check counts, for the banner that sends to Site health. */
export function setCheck(summary) {
  checkSummary = summary;
}

/** The connection's state, for the banner that says the page is out of date. */
export function setConnection(name, since) {
  connection = { name, since };
  document.body.classList.toggle("stale", name === "disconnected");
  if (last.status) banners(last.status, last.health);
}

/** The emergency modes other than lockdown, as their banner says them. */
const MODE_BANNERS = {
  hold: ["HOLD", "interior doors locked, staff and responders admitted; exits still release."],
  secure: ["SECURE", "doors to the outside locked, responders admitted; exits still release."],
  evacuate: ["EVACUATE", "exits released, entry from outside for responders only; see Who is inside for the muster."],
  shelter: ["SHELTER", "shelter rooms unlocked."],
};

const where = (status) => (status.mode_areas ? ` (${status.mode_areas.join(", ")})` : "");

function banners(status, health) {
  const out = [];
  if (connection.name === "disconnected") out.push(["stale", `Not connected to the controller since ${connection.since.toTimeString().slice(0, 8)}: what this page shows may be out of date.`]);
  if (status.fire_alarm) out.push(["fire", "FIRE ALARM: doors with a fire release are unlocked until the alarm is reset by hand."]);
  if (status.lockdown) out.push(["lockdown", `LOCKDOWN${where(status)}: badges refused except responders; exits still release.`]);
  const mode = MODE_BANNERS[status.mode];
  if (mode) out.push(["lockdown", `${mode[0]}${where(status)}: ${mode[1]}`]);
  if (!status.controller_alive) out.push(["dead", "The controller has no power: relays at rest, readers dark."]);
  const mains = status.circuits.filter((c) => !c.fed_by && !c.live);
  if (mains.length) {
    const battery = status.circuits.filter((c) => c.on_battery && c.battery_seconds_left != null);
    const least = battery.length ? Math.min(...battery.map((c) => c.battery_seconds_left)) : null;
    out.push(["mains", `MAINS LOST: ${mains.map((c) => c.name).join(", ")}${least != null ? `; the first battery runs out in ${duration(least)}` : ""}.`]);
  }
  if (checkSummary && checkSummary.errors > 0) {
    out.push(["findings", `This site has ${checkSummary.errors} error${checkSummary.errors === 1 ? "" : "s"} against the life-safety codes: see Site health.`]);
  }
  const storage = health && health.reasons && health.reasons.find((r) => r.component === "storage");
  if (storage) out.push(["storage", `STORAGE TROUBLE: ${storage.problem}; ${storage.buffered_events} events wait to be recorded. The doors keep working.`]);
  setHtml($("banners"), out.map(([kind, words]) => `<div class="banner ${kind}" role="alert">${text(words)}</div>`).join(""));
}

let newest = 0;

/** The newest event the feed has. */
export const lastSeq = () => newest;

/** Adds an event to the feed (older or repeated ones are skipped). */
export function addEvent(event) {
  if (event.seq <= newest) return;
  newest = event.seq;
  const line = document.createElement("div");
  const details = [event.door, event.credential && "credential " + event.credential, event.reason, event.circuit, event.actor && "by " + event.actor, event.detail]
    .filter(Boolean)
    .join(" · ");
  line.textContent = `#${event.seq} ${event.at.slice(11, 19)} ${event.kind} ${details}`;
  line.title = when(event.at);
  line.dataset.kind = event.kind;
  $("feed").prepend(line);
  // The feed keeps the newest 200; the log itself is in /api/events.
  while ($("feed").childElementCount > 200) $("feed").lastElementChild.remove();
}

/** One door's command; a hold ends at the time given above the table, if any. */
function doorCommand(door, action) {
  const until = $("hold-until").value;
  const body = until && (action === "unlock" || action === "lock") ? { until } : undefined;
  return api(`/api/doors/${encodeURIComponent(door)}/${action}`, { method: "POST", body });
}

/** The door and circuit buttons, by delegation (rows are never rebuilt). */
export function wire(refresh) {
  $("doors").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const door = button.closest("tr").dataset.door;
    await act(() => doorCommand(door, button.dataset.action), button.parentElement.querySelector(".feedback"));
    refresh();
  });
  for (const button of document.querySelectorAll("button[data-bulk]")) {
    button.addEventListener("click", async () => {
      const action = button.dataset.bulk;
      const rows = [...$("doors").querySelectorAll("tr[data-door]")].filter((row) => row.querySelector("input[data-select]")?.checked);
      const feedback = $("bulk-feedback");
      feedback.classList.remove("error");
      if (!rows.length) {
        feedback.textContent = "Select the doors first.";
        return;
      }
      const names = rows.map((row) => row.querySelector("th").textContent);
      const until = $("hold-until").value;
      const what = action === "release" ? "Release" : `Hold ${action === "unlock" ? "unlocked" : "locked"}${until && action !== "release" ? " until " + until : ""}:`;
      if (rows.length > 1 && !(await confirmAction(`${what} ${rows.length} doors (${names.join(", ")})?`, action === "release" ? "Release them" : `Hold ${rows.length} doors`))) return;
      let done = 0;
      for (const row of rows) {
        try {
          await doorCommand(row.dataset.door, action);
          done++;
        } catch (error) {
          feedback.classList.add("error");
          feedback.textContent = `${done} of ${rows.length} done; refused at ${row.querySelector("th").textContent}: ${error.message}`;
          refresh();
          return;
        }
      }
      feedback.textContent = `${done} of ${rows.length} done`;
      for (const row of rows) row.querySelector("input[data-select]").checked = false;
      refresh();
    });
  }
  $("circuits").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-power]");
    if (!button) return;
    const row = button.closest("tr");
    const live = button.dataset.power === "on";
    const name = row.querySelector("th").textContent;
    if (!live && !(await confirmAction(`Cut the power to ${name}? Its locks go to their unpowered position.`, "Cut the power"))) return;
    await act(() => api(`/api/sim/power/${encodeURIComponent(row.dataset.circuit)}`, { method: "POST", body: { live } }), row.querySelector(".feedback"));
    refresh();
  });
  const siteFeedback = $("site-feedback");
  $("lockdown-on").addEventListener("click", async () => {
    if (!(await confirmAction("Start a lockdown? Every badge is refused except responders'; exits still release.", "Start lockdown"))) return;
    await act(() => api("/api/lockdown", { method: "POST", body: { active: true } }), siteFeedback);
    refresh();
  });
  $("lockdown-off").addEventListener("click", async () => {
    await act(() => api("/api/lockdown", { method: "POST", body: { active: false } }), siteFeedback);
    refresh();
  });
  $("mode-on").addEventListener("click", async () => {
    const select = $("mode");
    const words = select.options[select.selectedIndex].textContent;
    if (!(await confirmAction(`Start ${words} for the whole site? ${MODE_BANNERS[select.value]?.[1] || "Every door locked, responders admitted; exits still release."} It lasts until it is ended.`, `Start ${words}`))) return;
    await act(() => api("/api/emergency", { method: "POST", body: { mode: select.value } }), $("mode-feedback"));
    refresh();
  });
  $("mode-off").addEventListener("click", async () => {
    await act(() => api("/api/emergency", { method: "POST", body: { mode: "none" } }), $("mode-feedback"));
    refresh();
  });
  $("fire-reset").addEventListener("click", async () => {
    await act(() => api("/api/fire-alarm/reset", { method: "POST" }), siteFeedback);
    refresh();
  });
  const sim = (path, body) => async () => {
    await act(() => api(path(), { method: "POST", body }), $("sim-result"), summary);
    refresh();
  };
  $("sim-badge").addEventListener("click", () => sim(() => "/api/sim/badge", { door: $("sim-door").value, credential: $("sim-credential").value })());
  $("sim-rex").addEventListener("click", sim(() => "/api/sim/rex/" + encodeURIComponent($("sim-door").value)));
  $("sim-open").addEventListener("click", sim(() => "/api/sim/door/" + encodeURIComponent($("sim-door").value), { open: true }));
  $("sim-close").addEventListener("click", sim(() => "/api/sim/door/" + encodeURIComponent($("sim-door").value), { open: false }));
  $("sim-fire").addEventListener("click", sim(() => "/api/sim/fire-alarm", { active: true }));
  $("sim-fire-clear").addEventListener("click", sim(() => "/api/sim/fire-alarm", { active: false }));
}
