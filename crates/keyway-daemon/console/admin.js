// Users and API tokens (admin): add, change role, disable, remove; tokens created (shown
// once), listed and revoked. Every change is audited by the daemon with the admin's name.

import { api } from "./api.js";
import { text, when } from "./format.js";
import { act, confirmAction } from "./controls.js";

const $ = (id) => document.getElementById(id);
const ROLES = ["viewer", "operator", "admin"];

export async function load() {
  const [users, tokens] = await Promise.all([api("/api/users"), api("/api/tokens")]);
  $("users").querySelector("tbody").innerHTML = users
    .map((u) => `
    <tr data-user="${text(u.name)}">
      <th scope="row" data-label="Name">${text(u.name)}${u.disabled ? ' <span class="tag attention">disabled</span>' : ""}</th>
      <td data-label="Role"><select data-field="role" aria-label="Role of ${text(u.name)}">${ROLES.map((r) => `<option${r === u.role ? " selected" : ""}>${r}</option>`).join("")}</select></td>
      <td data-label="Sessions">${u.sessions}</td>
      <td data-label="Actions">
        <button type="button" data-user-action="${u.disabled ? "enable" : "disable"}" aria-label="${u.disabled ? "Enable" : "Disable"} ${text(u.name)}">${u.disabled ? "Enable" : "Disable"}</button>
        <button type="button" class="danger" data-user-action="delete" aria-label="Remove ${text(u.name)}">Remove</button>
      </td>
    </tr>`)
    .join("");
  $("tokens").querySelector("tbody").innerHTML = tokens
    .map((t) => `
    <tr data-token="${text(t.id)}">
      <th scope="row" data-label="Name">${text(t.name)}</th>
      <td data-label="Role">${text(t.role)}</td>
      <td data-label="Created">${text(when(t.created))}</td>
      <td data-label="Actions"><button type="button" class="danger" data-token-action="revoke" aria-label="Revoke the token ${text(t.name)}">Revoke</button></td>
    </tr>`)
    .join("");
}

export function wire() {
  const usersFeedback = $("users-feedback");
  const tokensFeedback = $("tokens-feedback");
  $("user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("user-name").value;
    const done = await act(
      () => api("/api/users", { method: "POST", body: { name, role: $("user-role").value, password: $("user-password").value } }),
      usersFeedback,
      (u) => `added ${u.name} (${u.role})`,
    );
    if (done) {
      $("user-form").reset();
      await load();
    }
  });
  $("users").addEventListener("change", async (event) => {
    const select = event.target.closest('select[data-field="role"]');
    if (!select) return;
    const name = select.closest("tr").dataset.user;
    await act(() => api("/api/users/" + encodeURIComponent(name), { method: "PATCH", body: { role: select.value } }), usersFeedback, (u) => `${u.name} is now ${u.role}; their sessions ended`);
    await load();
  });
  $("users").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-user-action]");
    if (!button) return;
    const name = button.closest("tr").dataset.user;
    const action = button.dataset.userAction;
    if (action === "delete") {
      if (!(await confirmAction(`Remove the user ${name}? Their sessions end; the log keeps their name.`, "Remove"))) return;
      await act(() => api("/api/users/" + encodeURIComponent(name), { method: "DELETE" }), usersFeedback, () => `removed ${name}`);
    } else {
      const disabled = action === "disable";
      await act(() => api("/api/users/" + encodeURIComponent(name), { method: "PATCH", body: { disabled } }), usersFeedback, () => `${name} ${disabled ? "disabled" : "enabled"}`);
    }
    await load();
  });
  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await act(
      () => api("/api/tokens", { method: "POST", body: { name: $("token-name").value, role: $("token-role").value } }),
      tokensFeedback,
      (t) => `token for ${t.name} (shown once, copy it now): ${t.token}`,
    );
    if (done) {
      $("token-form").reset();
      await load();
    }
  });
  $("tokens").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-token-action]");
    if (!button) return;
    const row = button.closest("tr");
    const name = row.querySelector("th").textContent;
    if (!(await confirmAction(`Revoke the token ${name}? Its next request is refused.`, "Revoke"))) return;
    await act(() => api("/api/tokens/" + encodeURIComponent(row.dataset.token), { method: "DELETE" }), tokensFeedback, () => `revoked ${name}`);
    await load();
  });
}
