// The status page as a person meets it: sign in with the admin token, read the numbers,
// take screenshots.   node status_page.mjs <proxy url> <admin token> <screenshot dir>
import { run, USER_AGENT } from "./chromium.mjs";

const [proxy, token, dir] = process.argv.slice(2);

await run(async (browser) => {
  const context = await browser.newContext({ userAgent: USER_AGENT, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const external = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(proxy)) external.push(request.url());
  });
  const denied = await page.goto(`${proxy}/__edgesplit/status`);
  const signInStatus = denied.status();
  await page.fill('input[name="token"]', "not-the-token");
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  const wrongTokenStatus = (await page.textContent("body")).includes("not the admin token") ? 401 : 200;
  await page.fill('input[name="token"]', token);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  const statusCode = response.status();
  const report = await page.evaluate(() => {
    const metric = (scope, name) => {
      const el = scope.querySelector(`[data-metric="${name}"]`);
      return el ? Number(el.dataset.value) : null;
    };
    const experiments = {};
    for (const section of document.querySelectorAll("section[data-experiment]")) {
      const variants = {};
      for (const row of section.querySelectorAll("tr[data-variant]")) {
        variants[row.dataset.variant] = {
          exposures: metric(row, "exposures"),
          conversions: metric(row, "conversions"),
          weight: metric(row, "weight"),
          exposuresText: row.querySelector('[data-metric="exposures"]').textContent,
        };
      }
      experiments[section.dataset.experiment] = {
        status: section.querySelector("h2 .badge").textContent,
        srm: metric(section, "srm_p_value"),
        variants,
        history: [...section.querySelectorAll("ul.history li")].map((li) => li.textContent),
        charts: section.querySelectorAll("svg").length,
      };
    }
    const queue = document.querySelector("section.queue");
    return {
      configVersion: document.querySelector('[data-metric="config_version"]').textContent,
      queueDepth: queue ? metric(queue, "queue_depth") : null,
      experiments,
      scripts: document.scripts.length,
    };
  });
  await page.screenshot({ path: `${dir}/status.png`, fullPage: true });
  const bars = {};
  for (const key of Object.keys(report.experiments)) {
    const path = `${dir}/bars-${key}.png`;
    await page.locator(`section[data-experiment="${key}"] svg.bars`).screenshot({ path });
    bars[key] = path;
  }
  return { signInStatus, wrongTokenStatus, statusCode, report, bars, external };
});
