// The console's first load, measured (a benchmark, run on demand; see BENCHMARKS.md): a
// real `keyway serve` on the demo site or on the site file KEYWAY_SITE, Debian's Chromium
// signed in as an admin, then RUNS reloads, each timed from the start of the navigation until
// every door of the site shows its lock state, with the bytes of every response until then.
//
//   KEYWAY_BIN=target/release/keyway [KEYWAY_SITE=site.toml] [RUNS=5] node e2e/first-load.mjs

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const bin = process.env.KEYWAY_BIN || "target/release/keyway";
const runs = Number(process.env.RUNS || 5);
const token = "first-load-bench-admin-token-Qx73";
const password = "first load bench password";
const data = mkdtempSync(join(tmpdir(), "keyway-first-load-"));
const extra = process.env.KEYWAY_SITE ? ["--site", process.env.KEYWAY_SITE] : [];

const child = spawn(bin, ["serve", "--data", data, "--listen", "127.0.0.1:0", "--virtual-clock", "--clock-start", "2026-12-07T16:00:00Z", ...extra], {
  env: { ...process.env, KEYWAY_ADMIN_TOKEN: token, RUST_LOG: "warn" },
  stdio: ["ignore", "pipe", "inherit"],
});
const url = await new Promise((resolve, reject) => {
  createInterface({ input: child.stdout }).once("line", (line) => resolve(line.trim().split(" on ").pop()));
  child.on("exit", (code) => reject(new Error("keyway serve exited with " + code)));
});
const made = await fetch(url + "/api/users", {
  method: "POST",
  headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
  body: JSON.stringify({ name: "bench", role: "admin", password }),
});
if (made.status !== 201) throw new Error("user not made: " + made.status);
const doors = (await (await fetch(url + "/api/site", { headers: { Authorization: "Bearer " + token } })).json()).doors.length;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const signedIn = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const first = await signedIn.newPage();
  await first.goto(url + "/");
  await first.fill("#signin-name", "bench");
  await first.fill("#signin-password", password);
  await first.click("#signin-button");
  await first.locator("#who").filter({ hasText: "bench" }).waitFor();
  const session = await signedIn.storageState();
  await signedIn.close();
  const times = [];
  let bytes = 0;
  let requests = 0;
  for (let run = 0; run < runs; run++) {
    // A browser that has not seen the console: nothing cached, only the session cookie.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: session });
    const page = await context.newPage();
    if (process.env.DEBUG_TIMES) page.on("console", (m) => console.log("page:", m.text()));
    let counting = true;
    const sizes = [];
    page.on("response", (response) => {
      if (!counting) return;
      // The stream never ends: its body is not waited for.
      sizes.push(response.url().endsWith("/api/stream") ? Promise.resolve(0) : response.body().then((b) => b.length, () => 0));
    });
    await page.goto(url + "/");
    await page.waitForFunction(
      (n) => document.querySelectorAll('#doors tr[data-door] [data-field="lock"] .tag').length === n,
      doors,
      { timeout: 60_000, polling: 10 },
    );
    const shown = await page.evaluate(() => performance.now());
    counting = false;
    times.push(shown);
    requests = sizes.length;
    bytes = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
    if (process.env.DEBUG_TIMES) {
      const entries = await page.evaluate(() => performance.getEntriesByType("resource").map((e) => `${e.startTime.toFixed(0)}-${e.responseEnd.toFixed(0)} ${e.name.replace(location.origin, "")}`));
      console.log(entries.join("\n"));
    }
    await context.close();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`${doors} doors: doors shown ${median.toFixed(0)} ms median, ${times[times.length - 1].toFixed(0)} ms slowest of ${runs}; ${requests} requests, ${(bytes / 1024).toFixed(0)} KB of bodies`);
} finally {
  await browser.close();
  await new Promise((resolve) => { child.on("exit", resolve); child.kill("SIGTERM"); });
  rmSync(data, { recursive: true, force: true });
}
