// Words and times as the console shows them.

/** `s` safe inside HTML text and attributes. */
export const text = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/** Why a door's lock is where it is, in words (the `reason` of /api/doors). */
export const REASONS = {
  fire_alarm: "fire alarm",
  egress_release: "egress release",
  emergency_override: "emergency override",
  mode_release: "released by the emergency mode",
  lockdown: "lockdown (emergency mode)",
  operator_hold: "operator hold",
  schedule: "schedule",
  access_granted: "access granted",
  locked: "locked (normal)",
  no_lock: "no lock",
  controller_dead: "controller off",
  no_power: "no power",
  power_cut: "power cut",
};

export const reasonWords = (reason) => REASONS[reason] || String(reason).replaceAll("_", " ");

/** Seconds as "1 h 05 min 00 s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, "0")} min ${String(s % 60).padStart(2, "0")} s`;
}

/** An event's time ("2026-12-06T03:00:00.000-06:00") as "2026-12-06 03:00:00 −06:00". */
export function when(at) {
  if (!at) return "";
  return `${at.slice(0, 10)} ${at.slice(11, 19)} ${at.slice(23)}`;
}

/** The time of day on this browser's clock, for "disconnected since". */
export const clockTime = (date) => date.toTimeString().slice(0, 8);
