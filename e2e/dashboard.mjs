// End-to-end test of the dashboard in headless Chromium (Debian's chromium, driven by
// playwright-core). Run by crates/keyway/tests/dashboard.rs when KEYWAY_E2E=1, which starts
// `keyway serve` and passes its address and admin token.
//
//   KEYWAY_URL=http://127.0.0.1:PORT KEYWAY_TOKEN=... node e2e/dashboard.mjs
//
// Signs in, badges a card at the server-room door through the simulated reader and sees the
// door unlock, cuts the mains and sees the circuits go on battery and the event arrive, raises
// the fire alarm and sees the banner and the office maglock unlock, and plans an outage.

import { chromium } from "playwright-core";

const url = process.env.KEYWAY_URL;
const token = process.env.KEYWAY_TOKEN;
const screenshot = process.env.KEYWAY_SCREENSHOT;
if (!url || !token) throw new Error("KEYWAY_URL and KEYWAY_TOKEN are required");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const page = await browser.newPage();
  page.on("console", (message) => message.type() === "error" && console.log("browser:", message.text()));
  const step = async (name, check) => {
    process.stdout.write(`- ${name} … `);
    await check();
    console.log("ok");
  };
  // `expected` as a whole word, so that "locked" does not match "unlocked".
  const expectText = async (locator, expected) => {
    const word = new RegExp(`(^|[^a-z_])${expected}($|[^a-z_])`);
    await locator.filter({ hasText: word }).first().waitFor({ timeout: 10_000 });
  };

  // A credential to badge with, through the API.
  const response = await fetch(url + "/api/credentials", {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ number: "1001", holder: "Alice", doors: ["server"] }),
  });
  if (response.status !== 201) throw new Error("credential not created: " + response.status);

  // A log longer than one page of /api/events (10,000): REX at the office door, 50 at a time
  // (the daemon commits them in groups).
  const post = (path, body) => fetch(url + path, {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const newestSeq = async () => {
    const r = await fetch(url + "/api/events?order=newest&limit=1", { headers: { Authorization: "Bearer " + token } });
    return (await r.json())[0].seq;
  };
  while ((await newestSeq()) < 10_050) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => post("/api/sim/rex/office-entry", {})));
    if (batch.some((r) => r.status !== 200)) throw new Error("REX refused: " + batch.map((r) => r.status).join(","));
  }
  const newest = await newestSeq();

  await page.goto(url + "/");
  await step("a wrong token is refused", async () => {
    await page.fill("#token", "not-a-token");
    await page.click("#signin-button");
    await expectText(page.locator("#signin-error"), "unknown token");
  });
  await step("sign in with the admin token", async () => {
    await page.fill("#token", token);
    await page.click("#signin-button");
    await expectText(page.locator("#who"), "signed in as admin");
    await expectText(page.locator('#doors tr[data-door="server"] [data-field="lock"]'), "locked");
    await page.locator('#diagram g[data-door="server"][data-lock="locked"]').waitFor();
  });
  await step(`the feed starts at the newest of ${newest} events`, async () => {
    await page.locator("#feed div").first().waitFor();
    const first = await page.locator("#feed div").first().textContent();
    if (!first.startsWith(`#${newest} `)) throw new Error(`the feed starts with ${first}`);
  });
  await step("badge at the server room: the door unlocks", async () => {
    await page.selectOption("#sim-door", "server");
    await page.fill("#sim-credential", "1001");
    await page.click("#sim-badge");
    await expectText(page.locator("#sim-result"), "access_granted");
    await expectText(page.locator('#doors tr[data-door="server"] [data-field="lock"]'), "unlocked");
    await expectText(page.locator('#doors tr[data-door="server"] [data-field="reason"]'), "access granted");
    await page.locator('#diagram g[data-door="server"][data-lock="unlocked"]').waitFor();
    await expectText(page.locator("#feed div"), "access_granted server");
  });
  await step("and relocks after its 4 seconds", async () => {
    // The daemon runs on a virtual clock: the 4 seconds pass when the test says so.
    const advanced = await fetch(url + "/api/sim/clock", {
      method: "POST",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ advance_seconds: 4 }),
    });
    if (advanced.status !== 200) throw new Error("clock not advanced: " + advanced.status);
    await expectText(page.locator('#doors tr[data-door="server"] [data-field="lock"]'), "locked");
  });
  await step("a refused badge says why", async () => {
    await page.selectOption("#sim-door", "front");
    await page.click("#sim-badge");
    await expectText(page.locator("#sim-result"), "not_permitted");
  });
  await step("cut the mains: circuits on battery, the event in the feed", async () => {
    await page.locator('#circuits tr[data-circuit="mains"] button[data-power="off"]').click();
    await expectText(page.locator('#circuits tr[data-circuit="mains"] [data-field="power"]'), "down");
    await expectText(page.locator('#circuits tr[data-circuit="lock-psu"] [data-field="power"]'), "on battery");
    await expectText(page.locator("#feed div"), "power_lost");
  });
  await step("fire alarm: banner, the office maglock unlocks", async () => {
    await page.click("#sim-fire");
    await expectText(page.locator("#banners"), "FIRE ALARM");
    await expectText(page.locator('#doors tr[data-door="office-entry"] [data-field="lock"]'), "unlocked");
  });
  await step("the outage planner shows a planned moment", async () => {
    await page.selectOption("#scenario", "outage");
    await page.click("#plan");
    await expectText(page.locator("#diagram-caption"), "planned: outage");
    await page.click("#live");
    await expectText(page.locator("#diagram-caption"), "live");
  });
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} catch (error) {
  failed = true;
  console.log("\nFAILED:", error.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
