// HTML changes and the bootstrap in a real browser:
//   node page_changes.mjs <proxy url> <path> <visitor id>...
// For each visitor (a fresh browser context holding only its visitor cookie) it loads <path> and
// records, from the first animation frame on, what a person would see of the hero heading and
// the button, every text node the parser ever inserted that shows the control's hero, the
// bootstrap's assignments and the decision cookie's, and the client's own view.
import { run, USER_AGENT } from "./chromium.mjs";

const [proxy, path, ...visitors] = process.argv.slice(2);

await run(async (browser) => {
  const results = [];
  for (const visitor of visitors) {
    const context = await browser.newContext({ userAgent: USER_AGENT });
    await context.addCookies([{ name: "edgesplit_id", value: visitor, url: proxy }]);
    const frames = [];
    await context.exposeBinding("recordFrame", (_source, frame) => frames.push(frame));
    await context.addInitScript(() => {
      window.__controlSeen = [];
      new MutationObserver((records) => {  // anything the parser put into the DOM, shown or not
        for (const record of records) for (const node of record.addedNodes) {
          if ((node.textContent || "").includes("Control hero")) window.__controlSeen.push(node.nodeName);
        }
      }).observe(document, { childList: true, subtree: true, characterData: true });
      function tick() {
        const hero = document.querySelector("h1");
        const button = document.querySelector("button");
        const root = document.documentElement;
        const visible = root && getComputedStyle(root).visibility !== "hidden";
        if (hero && visible) window.recordFrame({ hero: hero.textContent, button: button ? button.className : null });
        requestAnimationFrame(tick);
      }
      requestAnimationFrame(tick);
    });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    const violations = [];
    page.on("console", (message) => { if (/Content Security Policy/i.test(message.text())) violations.push(message.text()); });
    await page.goto(proxy + path, { waitUntil: "load" });
    const client = await page.evaluate(async () => {
      if (!window.edgesplit) return null;  // the bootstrap did not run (a blocked inline script)
      const es = await window.edgesplit.ready;
      return { assignments: es.assignments, verified: es.verified };
    });
    await page.waitForTimeout(200);  // a few more frames of the settled page
    const state = await page.evaluate(() => ({
      bootstrap: window.edgesplitBootstrap ? window.edgesplitBootstrap.assignments : null,
      controlSeen: window.__controlSeen,
    }));
    const token = (await context.cookies()).find((c) => c.name === "edgesplit_decision")?.value;
    results.push({ visitor, frames, client, ...state, token: token ?? null, errors, violations });
    await context.close();
  }
  return { results };
});
