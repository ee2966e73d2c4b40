// Schedules and their holidays: listed for operators with where each comes from and the
// doors it unlocks; changed, added, reset to the site file's, or removed by admins (the
// daemon checks each as the site file would be and applies it at once). `onChange` tells
// the credential and level forms which schedules there are.

import { api } from "./api.js";
import { text } from "./format.js";
import { act, confirmAction } from "./controls.js";

const $ = (id) => document.getElementById(id);
const FROM = { site: "site file", "site, changed": "site file, changed here", console: "this console" };
let site = null;
let admin = false;
let schedules = [];
let editing = null;
let changed = () => {};

const lines = (id) => $(id).value.split("\n").map((l) => l.trim()).filter(Boolean);
const doorName = (id) => site.doors.find((d) => d.id === id)?.name || id;

export function setup(theSite, role, onChange) {
  site = theSite;
  admin = role === "admin";
  changed = onChange;
}

export async function load() {
  schedules = await api("/api/schedules");
  $("schedules").querySelector("tbody").innerHTML = schedules
    .map((s) => `
    <tr data-schedule="${text(s.id)}">
      <th scope="row" data-label="Schedule">${text(s.id)}</th>
      <td data-label="Active">${text(s.weekly.join(", ") || "never")}</td>
      <td data-label="Holidays">${text(s.holidays.join(", ") || "none")}</td>
      <td data-label="From">${text(FROM[s.origin] || s.origin)}</td>
      <td data-label="Unlocks">${text(s.doors.map(doorName).join(", "))}</td>
      ${admin ? `<td data-label="Actions">
        <button type="button" data-schedule-action="edit" aria-label="Change the schedule ${text(s.id)} and its holidays">Change</button>
        ${s.origin === "site, changed" ? `<button type="button" data-schedule-action="reset" aria-label="Set ${text(s.id)} back to the site file's">Back to the file's</button>` : ""}
        ${s.origin === "console" ? `<button type="button" class="danger" data-schedule-action="delete" aria-label="Remove the schedule ${text(s.id)}">Remove</button>` : ""}
      </td>` : ""}
    </tr>`)
    .join("");
  changed(schedules);
}

function edit(s) {
  editing = s;
  $("schedule-form-title").textContent = `Change ${s.id}`;
  $("schedule-id").value = s.id;
  $("schedule-id").readOnly = true;
  $("schedule-weekly").value = s.weekly.join("\n");
  $("schedule-holidays").value = s.holidays.join("\n");
  $("schedule-save").textContent = "Save";
  $("schedule-cancel").classList.remove("hidden");
  $("schedule-holidays").focus();
}

function endEdit() {
  editing = null;
  $("schedule-form").reset();
  $("schedule-id").readOnly = false;
  $("schedule-form-title").textContent = "Add a schedule";
  $("schedule-save").textContent = "Add";
  $("schedule-cancel").classList.add("hidden");
}

export function wire() {
  if (!admin) return;
  const feedback = $("schedules-feedback");
  $("schedule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { id: $("schedule-id").value.trim(), weekly: lines("schedule-weekly"), holidays: lines("schedule-holidays") };
    const doors = editing && editing.doors.length ? ` (it unlocks ${editing.doors.map(doorName).join(", ")}: they follow it now)` : "";
    const saved = await act(() => api("/api/schedules", { method: "POST", body }), feedback, (s) => `${editing ? "changed" : "added"} ${s.id}${doors}`);
    if (!saved) return;
    endEdit();
    await load();
  });
  $("schedule-cancel").addEventListener("click", endEdit);
  $("schedules").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-schedule-action]");
    if (!button) return;
    const s = schedules.find((x) => x.id === button.closest("tr").dataset.schedule);
    const action = button.dataset.scheduleAction;
    if (action === "edit") return edit(s);
    const question = action === "reset"
      ? `Set ${s.id} back to the site file's spans and holidays? The doors it unlocks follow at once.`
      : `Remove the schedule ${s.id}?`;
    if (!(await confirmAction(question, action === "reset" ? "Back to the file's" : "Remove"))) return;
    const done = await act(async () => (await api("/api/schedules/" + encodeURIComponent(s.id), { method: "DELETE" })) ?? true, feedback, () => (action === "reset" ? `${s.id} is the site file's again` : `removed ${s.id}`));
    if (done) await load();
  });
}
