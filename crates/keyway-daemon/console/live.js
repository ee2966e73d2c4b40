// Follows the daemon's event stream (/api/stream) and says whether the page is live.
//
// States: "live" (the stream is open), "reconnecting" (it ended; trying again at once),
// "disconnected" (the daemon does not answer; tried every second, with the time the link
// was lost). On every reconnect the daemon first sends what was missed (Last-Event-ID), so
// the feed has no gap. A stream silent for longer than three of the daemon's keep-alives
// (15 s each) is taken as lost, so that a cable pulled without a word is noticed too.

import { api } from "./api.js";

const SILENCE_MS = 45_000;
const RETRY_MS = 1_000;

/**
 * `handlers.event(e)` for each stored event, `handlers.lagged()` when the stream fell behind
 * (the caller pages through /api/events), `handlers.state(name, since)` on each change.
 * `lastSeq()` is the newest event the page has.
 */
export function follow(handlers, lastSeq) {
  let state = null;
  let lostAt = null;
  const set = (name) => {
    if (name === state) return;
    state = name;
    if (name === "live") lostAt = null;
    else lostAt ??= new Date();
    handlers.state(name, lostAt);
  };

  async function once(opened) {
    const controller = new AbortController();
    let watchdog = setTimeout(() => controller.abort(), SILENCE_MS);
    const headers = {};
    if (lastSeq() > 0) headers["Last-Event-ID"] = String(lastSeq());
    const response = await fetch("/api/stream", { headers, credentials: "same-origin", signal: controller.signal });
    if (response.status === 401) {
      // The session has ended: the sign-in form takes over.
      await api("/api/whoami").catch(() => {});
      return false;
    }
    if (!response.ok || !response.body) throw new Error("stream refused: " + response.status);
    opened();
    set("live");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(), SILENCE_MS);
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
        if (data && block.includes("event: event")) handlers.event(JSON.parse(data));
        else if (block.includes("event: lagged")) await handlers.lagged();
      }
    }
    clearTimeout(watchdog);
    return true;
  }

  // Failed tries since the stream was last open: the first is retried at once
  // ("reconnecting"), from the second on the page says "disconnected" and tries every second.
  let failures = 0;
  (async () => {
    for (;;) {
      try {
        if (!(await once(() => (failures = 0)))) return;
        set("reconnecting");
      } catch {
        failures += 1;
        set(failures === 1 ? "reconnecting" : "disconnected");
        if (failures > 1) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  })();
}
