// The log, searched: by door, kind, credential, holder, who and source, over a time range
// (local times in the site's zone), newest first, paging back; the same search as CSV.

import { api } from "./api.js";
import { text, when } from "./format.js";

const $ = (id) => document.getElementById(id);
const PAGE = 100;
const KINDS = [
  "access_granted", "access_denied", "door_unlocked", "door_locked", "door_opened", "door_closed",
  "door_forced", "door_held_open", "alarm_cleared", "rex", "key_override", "power_lost", "power_restored",
  "battery_low", "battery_depleted", "fire_alarm", "fire_alarm_reset", "fire_alarm_reset_refused",
  "lockdown_started", "lockdown_ended", "reader_offline", "reader_online", "reader_tamper",
  "reader_tamper_cleared", "reader_power_fault", "reader_power_restored", "lock_fault", "lock_fault_cleared",
  "operator_hold", "alarm_acknowledged", "controller_started", "storage_fault", "storage_restored",
  "credential_added", "credential_replaced", "credential_removed", "credentials_imported",
  "token_created", "token_revoked", "user_created", "user_changed", "user_deleted",
  "signed_in", "signed_out", "sign_in_failed", "clock_advanced", "reader_provisioned",
];
const SOURCES = ["reader", "contact", "api", "sim", "schedule", "timer", "boot", "storage", "cli"];
let oldest = null;

export function setup(site) {
  const options = (values, label = (v) => v) => values.map((v) => `<option value="${text(v)}">${text(label(v))}</option>`).join("");
  $("ev-door").insertAdjacentHTML("beforeend", options(site.doors.map((d) => d.id), (id) => site.doors.find((d) => d.id === id).name));
  $("ev-kind").insertAdjacentHTML("beforeend", options(KINDS, (k) => k.replaceAll("_", " ")));
  $("ev-source").insertAdjacentHTML("beforeend", options(SOURCES));
  $("ev-zone").textContent = `Times are in the site's zone, ${site.timezone}.`;
  $("events-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search(false);
  });
  $("events-form").addEventListener("input", () => ($("ev-export").href = "/api/events.csv?" + query()));
  $("ev-older").addEventListener("click", () => search(true));
}

function query() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($("events-form"))) if (value) params.set(name, value);
  return params.toString();
}

/** The newest matches, or with `older` the page below the last one shown. */
export async function search(older = false) {
  const params = query();
  const before = older && oldest ? `&before=${oldest}` : "";
  $("ev-status").textContent = "…";
  $("ev-export").href = "/api/events.csv?" + params;
  try {
    const events = await api(`/api/events?order=newest&limit=${PAGE}${params ? "&" + params : ""}${before}`);
    const rows = events.map((e) => `
      <tr data-seq="${e.seq}" data-kind="${text(e.kind)}">
        <td data-label="#">${e.seq}</td>
        <td data-label="When">${text(when(e.at))}</td>
        <th scope="row" data-label="What">${text(e.kind.replaceAll("_", " "))}${e.reason ? ` <span class="muted">${text(e.reason.replaceAll("_", " "))}</span>` : ""}</th>
        <td data-label="Door">${text(e.door)}</td>
        <td data-label="Credential">${text(e.credential)}</td>
        <td data-label="Who">${text(e.actor)}</td>
        <td data-label="Source">${text(e.source)}</td>
        <td data-label="Detail">${text(e.detail)}</td>
      </tr>`).join("");
    const body = $("events").querySelector("tbody");
    if (older) body.insertAdjacentHTML("beforeend", rows);
    else body.innerHTML = rows;
    if (events.length) oldest = events[events.length - 1].seq;
    $("ev-older").disabled = events.length < PAGE;
    $("ev-status").textContent = `${body.childElementCount} shown${events.length < PAGE ? ", no older ones" : ""}`;
  } catch (error) {
    $("ev-status").textContent = "Refused: " + error.message;
  }
}
