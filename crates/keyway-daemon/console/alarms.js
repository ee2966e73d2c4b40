// Alarms: what needs a person, active or not yet acknowledged, first; an operator
// acknowledges each with an optional note. A new alarm can ring (Web Audio, no file) and
// raise a desktop notification, each switched on by the operator (the browser allows
// sound only after a click, and asks before notifications).

import { api } from "./api.js";
import { text, when } from "./format.js";
import { act } from "./controls.js";

const $ = (id) => document.getElementById(id);
let site = null;
let operator = false;
let newestSeen = null;
let pendingKey = null;
let liveSeen = false;

const WORDS = {
  door_forced: "forced open",
  door_held_open: "held open",
  lock_fault: "lock fault",
  reader_offline: "reader off-line",
  reader_tamper: "reader tamper",
  reader_power_fault: "reader power fault",
  power_lost: "power lost",
  battery_low: "battery low",
  battery_depleted: "battery empty",
  storage_fault: "storage failing",
  fire_alarm: "FIRE ALARM",
};

function subject(alarm) {
  if (alarm.door) return site.doors.find((d) => d.id === alarm.door)?.name || alarm.door;
  if (alarm.circuit) return site.circuits.find((c) => c.id === alarm.circuit)?.name || alarm.circuit;
  return "";
}

export function setup(theSite, role) {
  site = theSite;
  operator = role !== "viewer";
  for (const id of ["alarm-sound", "alarm-desktop"]) {
    const box = $(id);
    box.checked = localStorage.getItem("keyway-" + id) === "on";
    box.addEventListener("change", async () => {
      if (id === "alarm-desktop" && box.checked && "Notification" in window && Notification.permission !== "granted") {
        box.checked = (await Notification.requestPermission()) === "granted";
      }
      if (id === "alarm-sound" && box.checked) ring();
      localStorage.setItem("keyway-" + id, box.checked ? "on" : "off");
    });
  }
  $("alarms").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const seq = form.closest("li").dataset.alarm;
    const done = await act(
      () => api(`/api/alarms/${seq}/acknowledge`, { method: "POST", body: { note: form.elements.note.value } }),
      form.querySelector(".feedback"),
      (a) => `acknowledged by ${a.acknowledged.by}`,
    );
    if (done) load();
  });
}

let audio = null;
function ring() {
  audio ||= new AudioContext();
  for (const start of [0, 0.35]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.2;
    tone.connect(gain).connect(audio.destination);
    tone.start(audio.currentTime + start);
    tone.stop(audio.currentTime + start + 0.25);
  }
}

function line(alarm, pending) {
  const state = alarm.active ? '<span class="tag alarm">active</span>' : '<span class="tag calm">cleared</span>';
  if (alarm.seq === null) {
    // A storage fault whose record waits for the disk: shown now, acknowledged once stored.
    return `<li data-alarm="live" data-kind="${text(alarm.kind)}" data-active="true">
    <span class="what"><strong>${text(WORDS[alarm.kind] || alarm.kind)}</strong> ${text(subject(alarm))}
      <span class="muted" title="${text(when(alarm.at))}">since ${text(alarm.at.slice(11, 19))}</span></span>
    ${state} <span class="muted">not recorded yet (the disk takes no writes): it can be acknowledged once it is</span></li>`;
  }
  const ack = alarm.acknowledged
    ? `<span class="muted">acknowledged by ${text(alarm.acknowledged.by)} ${text(when(alarm.acknowledged.at).slice(11, 19))}${alarm.acknowledged.note ? `: ${text(alarm.acknowledged.note)}` : ""}</span>`
    : operator && pending
      ? `<form><label>Note <input name="note" maxlength="500" aria-label="Note for alarm ${alarm.seq}"></label><button type="submit">Acknowledge</button><span class="feedback" aria-live="polite"></span></form>`
      : '<span class="tag attention">not acknowledged</span>';
  return `<li data-alarm="${alarm.seq}" data-kind="${text(alarm.kind)}" data-active="${alarm.active}">
    <span class="what"><strong>${text(WORDS[alarm.kind] || alarm.kind)}</strong> ${text(subject(alarm))}
      <span class="muted" title="${text(when(alarm.at))}">#${alarm.seq} ${text(alarm.at.slice(11, 19))}</span></span>
    ${state} ${ack}</li>`;
}

/** Reads the alarms; rings and notifies for one newer than any seen before. */
export async function load() {
  const list = await api("/api/alarms");
  const pending = list.alarms.filter((a) => a.active || !a.acknowledged);
  const handled = list.alarms.filter((a) => !(a.active || !a.acknowledged)).slice(0, 20);
  // Drawn again only when what waits changed: a note being typed is not lost.
  const key = pending.map((a) => `${a.seq}:${a.active}:${!!a.acknowledged}`).join(",");
  if (key !== pendingKey) {
    pendingKey = key;
    $("alarms").innerHTML = pending.map((a) => line(a, true)).join("") || '<li class="muted">No alarm needs attention.</li>';
  }
  $("alarms-handled").innerHTML = handled.map((a) => line(a, false)).join("");
  $("alarms-handled-box").classList.toggle("hidden", handled.length === 0);
  $("alarm-count").textContent = `${list.active} active, ${list.unacknowledged} to acknowledge`;
  const recorded = list.alarms.filter((a) => a.seq !== null);
  const newest = recorded.length ? recorded[0].seq : 0;
  const live = list.alarms.find((a) => a.seq === null);
  const fresh = live && !liveSeen ? live : newestSeen !== null && newest > newestSeen ? recorded[0] : null;
  liveSeen = !!live;
  if (fresh && newestSeen !== null) {
    const alarm = fresh;
    const words = `${WORDS[alarm.kind] || alarm.kind} ${subject(alarm)}`;
    if ($("alarm-sound").checked) ring();
    if ($("alarm-desktop").checked && "Notification" in window && Notification.permission === "granted") new Notification("Keyway: " + words);
  }
  newestSeen = newest;
}
