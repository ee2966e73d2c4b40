// Cardholders and credentials: found a page at a time by holder or number (the daemon's
// full-text index, fast with a million), added and edited in one form, disabled, enabled and
// removed (after asking), and imported from a CSV only after a check of every line. Every
// change is audited by the daemon with the admin's name.

import { api } from "./api.js";
import { text, when } from "./format.js";
import { act, confirmAction } from "./controls.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
let site = null;
let admin = false;
let query = "";
let next = null;
let shown = new Map();
let editing = null;
let csvText = null;

export function setup(theSite, role) {
  site = theSite;
  admin = role === "admin";
  $("credential-doors").insertAdjacentHTML(
    "beforeend",
    `<label class="check"><input type="checkbox" value="*" data-door-choice> Every door</label>` +
      site.doors.map((d) => `<label class="check"><input type="checkbox" value="${text(d.id)}" data-door-choice> ${text(d.name)}</label>`).join(""),
  );
  $("credential-schedule").innerHTML = `<option value="">none (any time)</option>` + site.schedules.map((s) => `<option>${text(s.id)}</option>`).join("");
}

/** The first page of what the search box says. */
export async function load() {
  query = $("people-q").value.trim();
  next = null;
  shown = new Map();
  $("people").querySelector("tbody").innerHTML = "";
  await more();
}

async function more() {
  const params = new URLSearchParams({ limit: PAGE });
  if (query) params.set("q", query);
  if (next) params.set("after", next);
  const page = await api("/api/credentials/search?" + params);
  next = page.next;
  const body = $("people").querySelector("tbody");
  for (const c of page.credentials) {
    shown.set(c.number, c);
    body.insertAdjacentHTML("beforeend", row(c));
  }
  $("people-more").classList.toggle("hidden", !next);
  count();
}

function count() {
  $("people-count").textContent = shown.size ? `${shown.size}${next ? "+" : ""} shown` : query ? "nothing found" : "no credentials yet";
}

const doorName = (id) => (id === "*" ? "every door" : site.doors.find((d) => d.id === id)?.name || id);

function row(c) {
  const valid = [c.valid_from && "from " + when(c.valid_from).slice(0, 16), c.valid_until && "until " + when(c.valid_until).slice(0, 16)].filter(Boolean).join(", ");
  return `
    <tr data-number="${text(c.number)}">
      <th scope="row" data-label="Number">${text(c.number)}</th>
      <td data-label="Holder">${text(c.holder)}</td>
      <td data-label="Doors">${text(c.doors.map(doorName).join(", "))}${c.levels.length ? ` <span class="muted">levels ${text(c.levels.join(", "))}</span>` : ""}</td>
      <td data-label="Schedule">${text(c.schedule || "")}</td>
      <td data-label="Valid">${text(valid)}</td>
      <td data-label="State">${c.disabled ? '<span class="tag attention">disabled</span>' : '<span class="tag calm">active</span>'}${c.responder ? ' <span class="tag calm">responder</span>' : ""}</td>
      ${admin ? `<td data-label="Actions">
        <button type="button" data-credential-action="edit" aria-label="Edit ${text(c.number)} (${text(c.holder)})">Edit</button>
        <button type="button" data-credential-action="${c.disabled ? "enable" : "disable"}" aria-label="${c.disabled ? "Enable" : "Disable"} ${text(c.number)} (${text(c.holder)})">${c.disabled ? "Enable" : "Disable"}</button>
        <button type="button" class="danger" data-credential-action="delete" aria-label="Delete ${text(c.number)} (${text(c.holder)})">Delete</button>
      </td>` : ""}
    </tr>`;
}

/** A shown credential changed: its row again, in its place. */
function replaceRow(c) {
  shown.set(c.number, c);
  const old = $("people").querySelector(`tr[data-number="${CSS.escape(c.number)}"]`);
  if (old) old.outerHTML = row(c);
}

/** The levels there are, as choices in the form (what was ticked stays ticked). */
export function setLevels(levels) {
  const ticked = new Set([...document.querySelectorAll("input[data-level-choice]:checked")].map((i) => i.value));
  const box = $("credential-levels");
  box.innerHTML = "<legend>Access levels</legend>" + (levels.length
    ? levels.map((l) => `<label class="check"><input type="checkbox" value="${text(l.id)}" data-level-choice${ticked.has(l.id) ? " checked" : ""}> ${text(l.id)}</label>`).join("")
    : '<span class="muted">none yet</span>');
}

/** The form's credential, as the API takes it. */
function fromForm() {
  const doors = [...document.querySelectorAll("input[data-door-choice]:checked")].map((i) => i.value);
  return {
    number: $("credential-number").value.trim(),
    holder: $("credential-holder").value.trim(),
    doors: doors.includes("*") ? ["*"] : doors,
    levels: [...document.querySelectorAll("input[data-level-choice]:checked")].map((i) => i.value),
    schedule: $("credential-schedule").value || null,
    valid_from: $("credential-from").value || null,
    valid_until: $("credential-until").value || null,
    responder: $("credential-responder").checked,
    staff: $("credential-staff").checked,
    disabled: $("credential-disabled").checked,
    pin: $("credential-pin").value || null,
    duress_pin: $("credential-duress").value || null,
    uses: $("credential-uses").value ? Number($("credential-uses").value) : null,
  };
}

function edit(c) {
  editing = c;
  $("credential-title").textContent = `Edit ${c.number}`;
  $("credential-number").value = c.number;
  $("credential-number").readOnly = true;
  $("credential-holder").value = c.holder;
  for (const input of document.querySelectorAll("input[data-door-choice]")) input.checked = c.doors.includes(input.value);
  for (const input of document.querySelectorAll("input[data-level-choice]")) input.checked = c.levels.includes(input.value);
  $("credential-schedule").value = c.schedule || "";
  // Shown in the site's zone: the first 16 characters are its local date and time.
  $("credential-from").value = c.valid_from ? c.valid_from.slice(0, 16) : "";
  $("credential-until").value = c.valid_until ? c.valid_until.slice(0, 16) : "";
  $("credential-responder").checked = c.responder;
  $("credential-staff").checked = !!c.staff;
  $("credential-disabled").checked = c.disabled;
  $("credential-pin").value = c.pin || "";
  $("credential-duress").value = c.duress_pin || "";
  $("credential-uses").value = c.uses ?? "";
  $("credential-save").textContent = "Save";
  $("credential-cancel").classList.remove("hidden");
  $("credential-holder").focus();
}

function endEdit() {
  editing = null;
  $("credential-form").reset();
  $("credential-number").readOnly = false;
  $("credential-title").textContent = "Add a credential";
  $("credential-save").textContent = "Add";
  $("credential-cancel").classList.add("hidden");
}

export function wire() {
  $("people-search").addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch((error) => ($("people-feedback").textContent = error.message));
  });
  $("people-more").addEventListener("click", () => more().catch((error) => ($("people-feedback").textContent = error.message)));
  if (!admin) return;
  const feedback = $("people-feedback");
  $("people").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-credential-action]");
    if (!button) return;
    const c = shown.get(button.closest("tr").dataset.number);
    const action = button.dataset.credentialAction;
    if (action === "edit") return edit(c);
    if (action === "delete") {
      if (!(await confirmAction(`Delete the credential ${c.number} (${c.holder || "no holder"})? It is refused from now on, as unknown.`, "Delete"))) return;
      // 204, no body: `act` is handed `true` once it is done.
      const done = await act(async () => (await api("/api/credentials/" + encodeURIComponent(c.number), { method: "DELETE" })) ?? true, feedback, () => `deleted ${c.number}`);
      if (done) {
        shown.delete(c.number);
        button.closest("tr").remove();
        count();
      }
      return;
    }
    const changed = await act(() => api("/api/credentials", { method: "POST", body: { ...c, disabled: action === "disable" } }), feedback, (saved) => `${saved.number} ${saved.disabled ? "disabled" : "enabled"}`);
    if (changed) replaceRow(changed);
  });
  $("credential-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = fromForm();
    const saved = await act(() => api("/api/credentials", { method: "POST", body }), $("credential-feedback"), (c) => `${editing ? "saved" : "added"} ${c.number}${c.holder ? " (" + c.holder + ")" : ""}`);
    if (!saved) return;
    if (shown.has(saved.number)) replaceRow(saved);
    else {
      shown.set(saved.number, saved);
      $("people").querySelector("tbody").insertAdjacentHTML("afterbegin", row(saved));
      count();
    }
    endEdit();
  });
  $("credential-cancel").addEventListener("click", endEdit);
  $("import-file").addEventListener("change", () => {
    csvText = null;
    $("import-go").disabled = true;
    $("import-problems").classList.add("hidden");
    $("import-feedback").textContent = "";
  });
  $("import-check").addEventListener("click", async () => {
    const file = $("import-file").files[0];
    const out = $("import-feedback");
    if (!file) {
      out.textContent = "Choose a CSV file first.";
      return;
    }
    const csv = await file.text();
    const preview = await act(() => api("/api/credentials/import?preview=true", { method: "POST", csv }), out, (p) =>
      p.bad_lines ? `${p.bad_lines} bad line${p.bad_lines === 1 ? "" : "s"}${p.bad_lines > p.problems.length ? ` (the first ${p.problems.length} listed)` : ""}; ${p.rows} good. Nothing is imported until every line is right.` : `${p.rows} credentials, every line good: ready to import.`);
    if (!preview) return;
    $("import-problems").querySelector("tbody").innerHTML = preview.problems
      .map((p) => `<tr><th scope="row" data-label="Line">${p.line}</th><td data-label="Problem">${text(p.problem)}</td></tr>`)
      .join("");
    $("import-problems").classList.toggle("hidden", !preview.problems.length);
    if (preview.bad_lines) out.classList.add("error");
    csvText = preview.bad_lines === 0 && preview.rows > 0 ? csv : null;
    $("import-go").disabled = !csvText;
    $("import-go").textContent = csvText ? `Import ${preview.rows} credentials` : "Import";
  });
  $("import-go").addEventListener("click", async () => {
    if (!csvText) return;
    const csv = csvText;
    const done = await act(() => api("/api/credentials/import", { method: "POST", csv }), $("import-feedback"), (r) => `imported ${r.imported} credentials`);
    if (done) {
      csvText = null;
      $("import-go").disabled = true;
      $("import-go").textContent = "Import";
      await load();
    }
  });
}

/** The schedules there are, as choices (the one chosen stays chosen). */
export function setSchedules(schedules) {
  const select = $("credential-schedule");
  const chosen = select.value;
  select.innerHTML = `<option value="">none (any time)</option>` + schedules.map((s) => `<option>${text(s.id)}</option>`).join("");
  select.value = schedules.some((s) => s.id === chosen) ? chosen : "";
}
