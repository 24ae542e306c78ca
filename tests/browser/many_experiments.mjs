// Issue 19 in a real browser: a page that 500 experiments apply to.
//   node many_experiments.mjs <proxy url>
// Two views of the page in one session (the first fetches the manifest, the second decodes from
// sessionStorage before paint); prints the cookies Chromium kept and what the page's client read.
import { run, USER_AGENT } from "./chromium.mjs";

const [proxy] = process.argv.slice(2);

await run(async (browser) => {
  const context = await browser.newContext({ userAgent: USER_AGENT });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  const manifestFetches = [];
  context.on("request", (request) => {
    if (request.url().includes("/__edgesplit/manifest/")) manifestFetches.push(request.url());
  });
  const views = [];
  for (let i = 0; i < 2; i++) {
    await page.goto(proxy + "/", { waitUntil: "load" });
    const api = await page.evaluate(async () => {
      const es = await window.edgesplit.ready;
      return { assignments: es.assignments, verified: es.verified, drift: es.drift };
    });
    const readable = await page.evaluate(() => document.cookie.includes("edgesplit_decision=es2."));
    views.push({ api, readable });
  }
  const cookies = (await context.cookies()).map((c) => ({ name: c.name, value: c.value }));
  return { views, cookies, errors, manifestFetches };
});
