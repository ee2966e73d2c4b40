// Access levels: listed for operators; added, edited and removed by admins (the daemon
// checks each as the site file would be, and refuses to remove one a credential holds).
// `onChange` tells the credential form which levels there are.

import { api } from "./api.js";
import { text } from "./format.js";
import { act, confirmAction } from "./controls.js";

const $ = (id) => document.getElementById(id);
let site = null;
let admin = false;
let levels = [];
let editing = null;
let changed = () => {};

const doorName = (id) => (id === "*" ? "every door" : site.doors.find((d) => d.id === id)?.name || id);

export function setup(theSite, role, onChange) {
  site = theSite;
  admin = role === "admin";
  changed = onChange;
  $("level-doors").insertAdjacentHTML(
    "beforeend",
    `<label class="check"><input type="checkbox" value="*" data-level-door> Every door</label>` +
      site.doors.map((d) => `<label class="check"><input type="checkbox" value="${text(d.id)}" data-level-door> ${text(d.name)}</label>`).join(""),
  );
  $("level-schedule").innerHTML = `<option value="">none (any time)</option>` + site.schedules.map((s) => `<option>${text(s.id)}</option>`).join("");
}

export async function load() {
  levels = await api("/api/levels");
  $("levels").querySelector("tbody").innerHTML = levels.length
    ? levels
        .map((l) => `
    <tr data-level="${text(l.id)}">
      <th scope="row" data-label="Level">${text(l.id)}</th>
      <td data-label="Doors">${text(l.doors.map(doorName).join(", "))}</td>
      <td data-label="Schedule">${text(l.schedule || "any time")}</td>
      ${admin ? `<td data-label="Actions">
        <button type="button" data-level-action="edit" aria-label="Edit the level ${text(l.id)}">Edit</button>
        <button type="button" class="danger" data-level-action="delete" aria-label="Remove the level ${text(l.id)}">Remove</button>
      </td>` : ""}
    </tr>`)
        .join("")
    : `<tr><td colspan="4" class="muted">No access levels yet.</td></tr>`;
  changed(levels);
}

function edit(level) {
  editing = level;
  $("level-form-title").textContent = `Edit ${level.id}`;
  $("level-id").value = level.id;
  $("level-id").readOnly = true;
  for (const input of document.querySelectorAll("input[data-level-door]")) input.checked = level.doors.includes(input.value);
  $("level-schedule").value = level.schedule || "";
  $("level-save").textContent = "Save";
  $("level-cancel").classList.remove("hidden");
}

function endEdit() {
  editing = null;
  $("level-form").reset();
  $("level-id").readOnly = false;
  $("level-form-title").textContent = "Add a level";
  $("level-save").textContent = "Add";
  $("level-cancel").classList.add("hidden");
}

export function wire() {
  if (!admin) return;
  const feedback = $("levels-feedback");
  $("level-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const doors = [...document.querySelectorAll("input[data-level-door]:checked")].map((i) => i.value);
    const body = { id: $("level-id").value.trim(), doors: doors.includes("*") ? ["*"] : doors, schedule: $("level-schedule").value || null };
    const saved = await act(() => api("/api/levels", { method: "POST", body }), feedback, (l) => `${editing ? "saved" : "added"} ${l.id}`);
    if (!saved) return;
    endEdit();
    await load();
  });
  $("level-cancel").addEventListener("click", endEdit);
  $("levels").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-level-action]");
    if (!button) return;
    const level = levels.find((l) => l.id === button.closest("tr").dataset.level);
    if (button.dataset.levelAction === "edit") return edit(level);
    if (!(await confirmAction(`Remove the access level ${level.id}?`, "Remove"))) return;
    const done = await act(async () => (await api("/api/levels/" + encodeURIComponent(level.id), { method: "DELETE" })) ?? true, feedback, () => `removed ${level.id}`);
    if (done) await load();
  });
}

/** The schedules there are, as choices (the one chosen stays chosen). */
export function setSchedules(schedules) {
  const select = $("level-schedule");
  const chosen = select.value;
  select.innerHTML = `<option value="">none (any time)</option>` + schedules.map((s) => `<option>${text(s.id)}</option>`).join("");
  select.value = schedules.some((s) => s.id === chosen) ? chosen : "";
}
