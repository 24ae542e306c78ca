// The drift scenario in a real browser against the demo:
//   node drift.mjs <proxy url> <config file the proxy watches>
// One visitor, one tab (one session): two stable page views, then the config moves this
// visitor to the other variant, then three more page views. Prints what every animation frame
// showed while the page was visible, the track requests, and the client's own view.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { run, USER_AGENT } from "./chromium.mjs";

const [proxy, configPath] = process.argv.slice(2);
const EXPERIMENT = "hero-headline";

async function waitForVersion(version) {
  for (let i = 0; i < 100; i++) {
    const health = await (await fetch(`${proxy}/__edgesplit/health`)).json();
    if (health.config_version === version) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the proxy never loaded config ${version}`);
}

await run(async (browser) => {
  const context = await browser.newContext({ userAgent: USER_AGENT });
  const frames = [];
  await context.exposeBinding("recordFrame", (_source, frame) => frames.push(frame));
  // Every animation frame: what a person would see (nothing while the page is hidden).
  await context.addInitScript(() => {
    const view = performance.timeOrigin;
    function tick() {
      const el = document.getElementById("variant");
      const root = document.documentElement;
      const visible = root && getComputedStyle(root).visibility !== "hidden";
      if (el && visible) window.recordFrame({ view, path: location.pathname, variant: el.textContent });
      requestAnimationFrame(tick);
    }
    requestAnimationFrame(tick);
  });
  const tracks = [];
  context.on("request", (request) => {
    if (request.url().endsWith("/__edgesplit/track")) tracks.push({ body: JSON.parse(request.postData()) });
  });
  const page = await context.newPage();
  const views = [];
  async function view(path) {
    await page.goto(proxy + path, { waitUntil: "load" });
    let api;
    for (let attempt = 0; api === undefined; attempt++) {
      try {
        api = await page.evaluate(async () => {
          const es = await window.edgesplit.ready;
          return { assignments: es.assignments, verified: es.verified, drift: es.drift };
        });
      } catch (error) {
        // The client reloaded the page to undo drift: ask the new page.
        if (attempt > 3 || !/context was destroyed|navigation/i.test(String(error))) throw error;
        await page.waitForLoadState("load");
      }
    }
    await page.waitForTimeout(150); // a few more frames of the settled page
    const shown = await page.textContent("#variant");
    const pin = (await context.cookies()).some((c) => c.name === "edgesplit_pin");
    views.push({ path, shown, api, pin, url: page.url() });
    return shown;
  }

  const first = await view("/");
  await view("/");
  await view("/pricing");
  const document = JSON.parse(readFileSync(configPath, "utf8"));
  const hero = document.experiments.find((e) => e.key === EXPERIMENT);
  hero.variants = hero.variants.map((v) => ({ ...v, weight: v.key === first ? 0 : 1 }));
  document.version = "demo-drift";
  writeFileSync(configPath + ".tmp", JSON.stringify(document));
  renameSync(configPath + ".tmp", configPath);
  await waitForVersion("demo-drift");
  // Without the browser's session, this visitor now gets the other variant:
  const cookie = (await context.cookies()).find((c) => c.name === "edgesplit_id");
  const direct = await fetch(`${proxy}/`, { headers: { cookie: `edgesplit_id=${cookie.value}`, "user-agent": USER_AGENT } });
  const served = /id="variant">([^<]*)</.exec(await direct.text())[1];
  await view("/");
  await view("/");
  await view("/");
  await page.waitForTimeout(300);
  await page.screenshot({ path: process.env.SCREENSHOT || "/dev/null" });

  // Tampered and garbage decision cookies: the client trusts nothing it cannot verify, and the
  // page still shows. The proxy would replace a bad cookie, so the page's own script plants it
  // before the client reads it (as a tampering extension or a broken cache could).
  const token = (await context.cookies()).find((c) => c.name === "edgesplit_decision").value;
  const [version, kid, payload, signature] = token.split(".");
  // A compact (es2) payload ends with the last experiment's code: variant << 3 | flags. Moving
  // it to the neighbouring variant is what a visitor wanting the other variant would try.
  const bytes = Buffer.from(payload, "base64url");
  bytes[bytes.length - 1] ^= 1 << 3;
  const tampered = [version, kid, bytes.toString("base64url"), signature].join(".");
  const untrusted = {};
  for (const [name, value] of [["tampered", tampered], ["garbage", "%%%.not.a.token"], ["empty", ""]]) {
    const other = await browser.newContext({ userAgent: USER_AGENT });
    const probe = await other.newPage();
    await other.addInitScript((planted) => { document.cookie = `edgesplit_decision=${planted}; path=/`; }, value);
    const errors = [];
    probe.on("pageerror", (error) => errors.push(String(error)));
    await probe.goto(proxy + "/", { waitUntil: "load" });
    const api = await probe.evaluate(async () => {
      const es = await window.edgesplit.ready;
      return { assignments: es.assignments, verified: es.verified };
    });
    const hidden = await probe.evaluate(() => getComputedStyle(document.documentElement).visibility === "hidden");
    const cookie = await probe.evaluate(() => document.cookie);
    untrusted[name] = { api, hidden, errors, planted: cookie.includes(`edgesplit_decision=${value}`) };
    await other.close();
  }
  return { first, served, views, frames, tracks, untrusted };
});
