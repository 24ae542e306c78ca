// Debian's Chromium driven by playwright-core (no browser download): the browser tests' launcher.
import { chromium } from "playwright-core";

// A desktop Chrome user agent: headless Chromium's own one says "HeadlessChrome", which
// edgesplit's default bot patterns rightly treat as a bot (control, no cookie).
export const USER_AGENT =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-features=Translate,MediaRouter"],
  });
}

/** Run `body(browser)` and print its JSON result on stdout; any failure exits 1 with the stack. */
export async function run(body) {
  const browser = await launch();
  const timer = setTimeout(() => { console.error("browser script timed out"); process.exit(2); }, 90_000);
  try {
    const result = await body(browser);
    process.stdout.write(JSON.stringify(result) + "\n");
  } catch (error) {
    console.error(error?.stack || String(error));
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
}
