// Signing in, the first visit's setup, and signing out. The session is a cookie the page
// never sees (HttpOnly); what the page keeps is the CSRF token, in memory only.

import { api, setCsrf, onSessionEnded } from "./api.js";

const $ = (id) => document.getElementById(id);

function show(which) {
  for (const id of ["signin", "setup"]) $(id).classList.toggle("hidden", id !== which);
  if (which) {
    for (const id of ["screens", "nav", "sign-out", "connection"]) $(id).classList.add("hidden");
    $("who").textContent = "";
    $("banners").innerHTML = "";
    $(which === "setup" ? "setup-code" : "signin-name").focus();
  }
}

/**
 * Finds out who this is; shows the sign-in or the setup form until someone signs in, then
 * calls `signedIn({name, role})` (again after each new sign-in).
 */
export async function start(signedIn) {
  const enter = (session) => {
    setCsrf(session.csrf);
    show(null);
    $("who").textContent = `${session.name} (${session.role})`;
    $("sign-out").classList.remove("hidden");
    signedIn(session);
  };
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    try {
      const session = await api("/api/session", {
        method: "POST",
        body: { name: $("signin-name").value, password: $("signin-password").value },
      });
      $("signin-password").value = "";
      enter(session);
    } catch (error) {
      $("signin-error").textContent = error.message;
    }
  });
  $("setup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("setup-error").textContent = "";
    try {
      const session = await api("/api/setup", {
        method: "POST",
        body: { code: $("setup-code").value, name: $("setup-name").value, password: $("setup-password").value },
      });
      enter(session);
    } catch (error) {
      $("setup-error").textContent = error.message;
    }
  });
  $("sign-out").addEventListener("click", async () => {
    try {
      await api("/api/session", { method: "DELETE" });
    } finally {
      setCsrf(null);
      window.location.reload();
    }
  });
  onSessionEnded((error) => {
    setCsrf(null);
    show("signin");
    $("signin-error").textContent = error.message;
  });
  try {
    enter(await api("/api/session"));
  } catch {
    const setup = await api("/api/setup").catch(() => ({ pending: false }));
    show(setup.pending ? "setup" : "signin");
    $("signin-error").textContent = "";
  }
}
