// The planner, a mode of its own: one scenario of `keyway simulate` at one moment (a slider
// over its moments), with each door's lock, power, way out and way in, the areas that cannot
// exit or are open to the outside, and the scenario's findings. Nothing here is live.

import { api } from "./api.js";
import { text, duration } from "./format.js";
import { draw } from "./diagram.js";

const $ = (id) => document.getElementById(id);
let site = null;
let plan = null;

const LOOK = { locked: "calm", unlocked: "open" };

export function setup(theSite) {
  site = theSite;
  $("scenario").addEventListener("change", load);
  $("moment").addEventListener("input", show);
}

/** Loads the chosen scenario and shows its first moment. */
export async function load() {
  $("plan-caption").textContent = "loading…";
  plan = await api("/api/simulate?scenario=" + encodeURIComponent($("scenario").value));
  $("moment").max = String(plan.moments.length - 1);
  $("moment").value = "0";
  show();
}

function show() {
  if (!plan) return;
  const moment = plan.moments[Number($("moment").value) || 0];
  const label = `${duration(moment.at_seconds)}: ${moment.cause}`;
  $("moment-label").textContent = label;
  $("moment").setAttribute("aria-valuetext", label);
  $("plan-caption").textContent = `planned: ${plan.scenario} at ${label}`;
  draw($("plan-diagram"), site, (id) => {
    const d = moment.doors[id] || {};
    const key = d.egress === "blocked" ? "alarm" : d.egress === "key" ? "attention" : LOOK[d.lock] || "calm";
    return { key, words: { lock: d.lock, all: `${d.lock}, way out ${d.egress}, way in ${d.entry}` } };
  }, moment.areas);
  $("plan-doors").querySelector("tbody").innerHTML = site.doors
    .map((door) => {
      const d = moment.doors[door.id] || {};
      return `<tr data-door="${text(door.id)}">
        <th scope="row" data-label="Door">${text(door.name)}</th>
        <td data-label="Lock" data-field="lock">${text(d.lock ?? "")}</td>
        <td data-label="Power">${d.powered ? "powered" : "unpowered"}</td>
        <td data-label="Way out" data-field="egress">${text(d.egress ?? "")}</td>
        <td data-label="Way in" data-field="entry">${text(d.entry ?? "")}</td>
      </tr>`;
    })
    .join("");
  $("plan-areas").innerHTML = site.areas
    .filter((a) => !a.exterior)
    .map((a) => {
      const state = moment.areas[a.id] || {};
      const words = state.can_exit === false ? '<span class="tag alarm">cannot exit</span>' : '<span class="tag calm">can exit</span>';
      const open = state.open_to_exterior ? ' <span class="tag attention">open to the outside</span>' : "";
      return `<li data-area="${text(a.id)}">${text(a.name)}: ${words}${open}</li>`;
    })
    .join("");
  $("plan-findings").innerHTML = plan.findings.length
    ? plan.findings.map((f) => `<div class="${f.severity === "error" ? "error" : ""}">${text(f.severity)} ${text(f.rule)}: ${text(f.message)}</div>`).join("")
    : "No findings in this scenario.";
}
