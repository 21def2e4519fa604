// Real Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the demo
// page's tests. Every browser gets a fresh profile, and every request that is not for
// 127.0.0.1 is aborted: the tests never send traffic anywhere else.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT } from "../worker/harness.mjs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.join(ROOT, "test-results", "screenshots");

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Desktop and phone-sized viewports. */
export const DESKTOP = { width: 1440, height: 1000 };
export const PHONE = { width: 390, height: 844 };

/**
 * Starts Chromium with a fresh `--user-data-dir` (a persistent context over a new
 * temporary directory). Returns `{ context, close }`.
 */
export async function launch() {
  const profile = mkdtempSync(path.join(tmpdir(), "otp-demo-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: DESKTOP,
    locale: "en-GB",
    timezoneId: "UTC",
    colorScheme: "light",
    reducedMotion: "reduce",
  });
  await context.route("**/*", (route) => {
    const { hostname, protocol } = new URL(route.request().url());
    if (hostname === "127.0.0.1" || protocol === "data:") return route.continue();
    return route.abort("blockedbyclient");
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A new page that records what went wrong in it: uncaught errors, console errors
 * (except the browser's own line for an HTTP error status, which the flow expects)
 * and CSP violations.
 */
export async function openPage(context) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error" && msg.type() !== "warning") return;
    const text = msg.text();
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    problems.push(`console.${msg.type()}: ${text}`);
  });
  return { page, problems };
}

/** Saves a screenshot of the whole page as test-results/screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  // From the top (sticky columns follow the scroll), once the countdown bar has settled.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
