// Who is inside: occupancy per area (GET /api/occupancy) and, during a fire alarm or an
// evacuation, the muster list (GET /api/muster), read again on every event while the screen
// is shown; printable as it stands.

import { api } from "./api.js";
import { text } from "./format.js";

const $ = (id) => document.getElementById(id);
let shown = false;
let loading = null;
let again = false;

/** The screen is shown or hidden; shown, it is read at once. */
export function setShown(on) {
  shown = on;
  if (on) load();
}

/** Reads both lists, once at a time (a call while one runs asks for one more). */
export function load() {
  if (!shown) return Promise.resolve();
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    try {
      const [occupancy, muster] = await Promise.all([api("/api/occupancy"), api("/api/muster")]);
      show(occupancy, muster);
      $("muster-feedback").textContent = "";
    } catch (error) {
      $("muster-feedback").textContent = error.message;
    } finally {
      loading = null;
      if (again) {
        again = false;
        load();
      }
    }
  })();
  return loading;
}

function show(occupancy, muster) {
  $("muster-state").textContent = muster.active
    ? `since ${muster.since.slice(11, 19)}: ${muster.count} still to account for`
    : "no fire alarm or evacuation: nobody is mustering";
  $("muster").querySelector("tbody").innerHTML = muster.active
    ? muster.to_muster.length
      ? muster.to_muster.map((p) => `
    <tr data-credential="${text(p.credential)}">
      <th scope="row" data-label="Credential">${text(p.credential)}</th>
      <td data-label="Holder">${text(p.holder)}</td>
      <td data-label="Last seen in">${text(p.area_name)}</td>
      <td data-label="At">${text(p.seen_at.slice(11, 19))}</td>
      <td data-label="Note">${p.maybe_left ? "may have left by a door without an exit reader" : ""}</td>
    </tr>`).join("")
      : '<tr><td colspan="5">Everyone last seen inside has mustered.</td></tr>'
    : '<tr><td colspan="5">No muster now.</td></tr>';
  $("occupancy").querySelector("tbody").innerHTML = occupancy.areas.map((a) => `
    <tr data-area="${text(a.id)}">
      <th scope="row" data-label="Area">${text(a.name)}</th>
      <td data-label="Count">${a.count}</td>
      <td data-label="Who">${a.occupants.map((p) => text(p.holder || p.credential)).join(", ")}</td>
    </tr>`).join("");
  $("occupancy-unknown").textContent = occupancy.unknown.length
    ? `Last seen inside, may have left: ${occupancy.unknown.map((p) => p.holder || p.credential).join(", ")}.`
    : "";
}

export function wire() {
  $("muster-print").addEventListener("click", () => window.print());
}
