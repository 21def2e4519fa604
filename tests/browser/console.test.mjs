// The operator console in real Chromium against the built worker (Miniflare,
// development bindings, real HTTP on 127.0.0.1): sign in, create an app, change
// every OTP-tab field and read it back through the admin API, a bad value's error
// beside its field, a test OTP found in Insights and the log (its chart resized to
// a phone's width), the Webhooks tab (callback URL, a test event to a local
// receiver found in the deliveries table, the secret rotated), the Gateway tab
// (each gateway's secrets set or missing, a test SMS refused beside its field,
// one sent through the outbox, one through a gateway without its secrets), blocks of the
// applications on the overview, a key rotated, sign out and be refused. An axe-core
// scan of every page (no serious or critical violation) and screenshots at 1440
// and 390 px in test-results/console/.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { DEV_BINDINGS, startApi } from "../support/api.mjs";
import { startFakeProvider, verifyStandardWebhook } from "../support/fake-provider.mjs";
import { ROOT } from "../worker/harness.mjs";
import { DESKTOP, launch, openPage, PHONE } from "./browser.mjs";

const SHOTS = path.join(ROOT, "test-results", "console");
const AXE = readFileSync(path.join(ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");
const TABS = ["otp", "languages", "templates", "senders", "gateway", "limits", "webhooks", "insights"];

let worker, baseUrl, browser, receiver;

before(async () => {
  // The webhook receiver: a local HTTP server on 127.0.0.1.
  receiver = await startFakeProvider();
  worker = await startApi();
  baseUrl = worker.url.href;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await worker?.dispose();
  await receiver?.close();
});

/** axe-core's serious and critical violations on the page as it is now. */
async function axeViolations(page) {
  // Evaluated through DevTools: the page's CSP allows no inline script.
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

/** Scans the page with axe and saves it at both widths. */
async function check(page, name) {
  await page.waitForLoadState("networkidle");
  assert.deepEqual(await axeViolations(page), [], `axe on ${name}`);
  mkdirSync(SHOTS, { recursive: true });
  for (const [label, viewport] of [["1440", DESKTOP], ["390", PHONE]]) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

describe("operator console", () => {
  test("the whole flow, every page scanned and photographed", async () => {
    const { page, problems } = await openPage(browser.context);
    const admin = worker.api.admin;
    await page.goto(`${baseUrl}console`);

    // Sign-in: a wrong token is refused beside the field; the right one opens the console.
    await page.getByLabel("Admin token").fill("wrong-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#sign-in-error", { hasText: "1012" }).waitFor();
    await check(page, "sign-in");
    await page.getByLabel("Admin token").fill(DEV_BINDINGS.ADMIN_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    const cookies = await browser.context.cookies(baseUrl);
    const session = cookies.find((c) => c.name === "otp_console");
    assert.ok(session?.httpOnly && session.sameSite === "Strict");
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0, "nothing kept in storage");
    assert.ok(!page.url().includes(DEV_BINDINGS.ADMIN_TOKEN));
    await check(page, "overview");

    // Create an app: credentials shown once, with copy buttons.
    await page.getByRole("link", { name: "Applications" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Console shop");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("heading", { name: "Application created" }).waitFor();
    const apiKey = await page.locator(".secret", { hasText: /^otpk_/ }).textContent();
    assert.match(apiKey, /^otpk_/);
    assert.ok(await page.getByRole("button", { name: "Copy API key" }).isVisible());
    const webhookSecret = await page.locator(".secret", { hasText: /^whsec_/ }).textContent();
    await page.getByRole("link", { name: "Console shop" }).waitFor();
    await check(page, "applications");
    const appId = (await page.getByRole("link", { name: "Console shop" }).getAttribute("href")).split("/")[2];
    // Turn the fraud guard and limits off for the test sends, as createApp does.
    await admin("PATCH", `/admin/apps/${appId}`, { fraudGuard: { enabled: false } });

    // OTP tab: every field changed and read back through the admin API.
    await page.getByRole("link", { name: "Console shop" }).click();
    await page.getByLabel("Template").waitFor();
    await page.getByLabel("Template").fill("{{brand}}: your code is {{pin}}, valid {{ttl}} min");
    await page.getByLabel("Sender (from)").fill("ConsoleCo");
    await page.getByLabel("Brand").fill("Console Co");
    await page.getByLabel("PIN type").selectOption("alphanumeric");
    await page.getByLabel("PIN length").fill("8");
    await page.getByLabel("Life (seconds)").fill("900");
    await page.getByLabel("Attempts").fill("5");
    await page.getByLabel("Callback URL").fill("https://example.com/otp-callback");
    await page.getByLabel("WebOTP domain").fill("shop.example.com");
    await page.getByLabel("Allowed number types").fill("mobile, fixedLineOrMobile");
    // The live preview, by the wasm core in the page.
    await page.locator("#preview-text", { hasText: "Console Co: your code is A1B2C3D4, valid 15 min" }).waitFor();
    assert.match(await page.locator("#preview-text").textContent(), /@shop\.example\.com #A1B2C3D4$/);
    assert.match(await page.locator("#preview-meta").textContent(), /GSM-7|gsm/i);
    await check(page, "app-otp");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.locator(".form-level-error", { hasText: "Saved." }).first().waitFor();
    const saved = (await admin("GET", `/admin/apps/${appId}`)).body.otp;
    assert.equal(saved.template, "{{brand}}: your code is {{pin}}, valid {{ttl}} min");
    assert.equal(saved.originator, "ConsoleCo");
    assert.equal(saved.brand, "Console Co");
    assert.equal(saved.pinType, "alphanumeric");
    assert.equal(saved.pinLength, 8);
    assert.equal(saved.ttl, 900);
    assert.equal(saved.maxAttempts, 5);
    assert.equal(saved.callbackUrl, "https://example.com/otp-callback");
    assert.equal(saved.webotpDomain, "shop.example.com");
    assert.deepEqual(saved.allowedNumberTypes, ["mobile", "fixedLineOrMobile"]);

    // A bad value: the API's code and message beside its field.
    await page.getByLabel("Life (seconds)").fill("10");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const ttlError = page.locator("#f-ttl-error");
    await ttlError.filter({ hasText: "2008" }).waitFor();
    assert.equal(await page.getByLabel("Life (seconds)").getAttribute("aria-invalid"), "true");
    assert.equal((await admin("GET", `/admin/apps/${appId}`)).body.otp.ttl, 900, "nothing saved");
    await page.getByLabel("Life (seconds)").fill("900");
    await page.getByLabel("Allowed number types").fill("mobile");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.locator(".form-level-error", { hasText: "Saved." }).first().waitFor();

    // A test OTP through the outbox, then found in Insights and the log.
    await page.getByLabel("Phone number").fill("+33 6 12 34 56 78");
    await page.getByRole("button", { name: "Send test OTP" }).click();
    await page.locator("#test-result", { hasText: "PENDING" }).waitFor();
    const otpId = (await page.locator("#test-result").textContent()).match(/[0-9a-f-]{36}/)[0];
    const sms = (await worker.api.outbox("+33612345678")).find((m) => m.otpId === otpId);
    assert.match(sms.text, /^Console Co: your code is [A-Z0-9]{8}, valid 15 min\n+@shop\.example\.com #[A-Z0-9]{8}$/);
    await worker.api.sweep({ appId });
    await page.getByRole("link", { name: "Insights" }).click();
    await page.locator("#log td", { hasText: otpId }).waitFor();
    assert.ok(await page.locator("#chart canvas").count(), "uPlot drew the chart");
    assert.match(await page.locator("section", { hasText: "By country" }).locator("tbody").textContent(), /FR/);
    await page.getByLabel("Status").selectOption("VERIFIED");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator("#log", { hasText: "No verification matches" }).waitFor();
    const csv = await page.locator("#csv").getAttribute("href");
    assert.match(csv, /verifications\.csv\?.*status=VERIFIED/);
    await page.getByLabel("Status").selectOption("");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator("#log td", { hasText: otpId }).waitFor();
    await check(page, "app-insights");

    // The chart follows its container: at 390 px it fits the phone, back at 1440 it widens.
    const canvasWidth = () => page.locator("#chart canvas").first().evaluate((c) => c.getBoundingClientRect().width);
    const chartBox = () => page.locator("#chart").evaluate((c) => c.clientWidth);
    await page.setViewportSize(PHONE);
    await page.waitForFunction(() => {
      const c = document.querySelector("#chart canvas");
      return c && c.getBoundingClientRect().width <= document.querySelector("#chart").clientWidth;
    });
    assert.ok((await canvasWidth()) <= (await chartBox()), "the chart fits its box at 390 px");
    assert.ok((await canvasWidth()) < PHONE.width);
    await page.setViewportSize(DESKTOP);
    await page.waitForFunction(() => document.querySelector("#chart canvas").getBoundingClientRect().width > 600);

    // Webhooks: a bad URL's error beside its field; the URL set to a local receiver;
    // a test event delivered, signed with the app's secret, and found in the table.
    await page.goto(`${baseUrl}console#/apps/${appId}/webhooks`);
    const hookUrl = page.getByLabel("Callback URL");
    await hookUrl.waitFor();
    assert.equal(await hookUrl.inputValue(), "https://example.com/otp-callback");
    await hookUrl.fill("ftp://hooks.example.com/otp");
    await page.getByRole("button", { name: "Save URL" }).click();
    await page.locator("#f-hookUrl-error", { hasText: "2019" }).waitFor();
    assert.equal(await hookUrl.getAttribute("aria-invalid"), "true");
    assert.equal((await admin("GET", `/admin/apps/${appId}`)).body.otp.callbackUrl, "https://example.com/otp-callback", "nothing saved");
    await hookUrl.fill(`${receiver.url}/console-hook`);
    await page.getByRole("button", { name: "Save URL" }).click();
    await page.locator("#hook-url-saved", { hasText: "saved" }).waitFor();
    assert.equal((await admin("GET", `/admin/apps/${appId}`)).body.otp.callbackUrl, `${receiver.url}/console-hook`);
    await page.getByRole("button", { name: "Send test event" }).click();
    await page.locator("#hook-test-result", { hasText: "Delivered: HTTP 200" }).waitFor();
    const [first] = receiver.requestsTo("/console-hook");
    assert.equal(JSON.parse(first.body).event, "test");
    assert.ok(verifyStandardWebhook(webhookSecret, first.headers, first.body), "signed with the app's webhook secret");
    const rows = page.locator("#deliveries-table tbody tr");
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    const rowText = await rows.first().textContent();
    for (const part of ["test", new URL(receiver.url).host, "Delivered: HTTP 200"]) assert.ok(rowText.includes(part), `${part} in ${rowText}`);
    // A URL the policy refuses: its error beside the test URL field, nothing sent.
    await page.getByLabel("URL (optional)").fill("https://2130706433/otp");
    await page.getByRole("button", { name: "Send test event" }).click();
    await page.locator("#f-hookTestUrl-error", { hasText: "2019" }).waitFor();
    assert.equal(receiver.requestsTo("/console-hook").length, 1);
    await page.getByLabel("URL (optional)").fill("");
    // Rotate the secret here: the next test event is signed with the new one.
    await page.getByRole("button", { name: "Rotate webhook secret" }).last().click();
    const newSecret = await page.locator("#hook-secret .secret").textContent();
    assert.match(newSecret, /^whsec_/);
    assert.notEqual(newSecret, webhookSecret);
    receiver.setPlan({ mode: "status", status: 503 }, "/console-hook");
    await page.getByRole("button", { name: "Send test event" }).click();
    await page.locator("#hook-test-result", { hasText: "Failed: HTTP 503" }).waitFor();
    const second = receiver.requestsTo("/console-hook")[1];
    assert.ok(verifyStandardWebhook(newSecret, second.headers, second.body), "the new secret signs");
    await page.locator("#deliveries-table tbody tr").nth(1).waitFor();
    assert.match(await rows.first().textContent(), /Failed: HTTP 503/, "newest first");
    await check(page, "app-webhooks");

    // Gateway and routes: each gateway with its secrets set or not (never a value);
    // a test SMS refused beside its field, then one sent through the outbox, then
    // one through a gateway whose secrets are missing.
    await page.goto(`${baseUrl}console#/apps/${appId}/gateway`);
    const gatewayItem = page.locator("#gateways .gateway-item").first();
    await gatewayItem.waitFor();
    assert.match(await gatewayItem.textContent(), /outbox\s+ready/);
    const smsPhone = page.getByLabel("Phone number");
    await smsPhone.fill("+442079460958");
    await page.getByRole("button", { name: "Send test SMS" }).click();
    await page.locator("#f-smsPhone-error", { hasText: "2118" }).waitFor();
    assert.equal(await smsPhone.getAttribute("aria-invalid"), "true");
    assert.equal((await worker.api.outbox("+442079460958")).length, 0, "a landline gets nothing");
    await smsPhone.fill("+33698765432");
    await page.getByLabel("Text (optional)").fill("Hello from the gateway tab");
    await page.getByRole("button", { name: "Send test SMS" }).click();
    await page.locator("#sms-test-result", { hasText: "Accepted by outbox" }).waitFor();
    assert.equal(await page.locator("#sms-attempts tbody tr").count(), 1);
    assert.equal((await worker.api.outbox("+33698765432"))[0].text, "Hello from the gateway tab");
    await check(page, "app-gateway");
    const gatewayJson = page.getByLabel("gateway (JSON)");
    await gatewayJson.fill(JSON.stringify({ type: "twilio", credentials: "SHOP" }));
    await page.getByRole("button", { name: "Save gateway" }).click();
    await page.locator("#gateways .gateway-item", { hasText: "TWILIO_AUTH_TOKEN_SHOP" }).waitFor();
    const twilioItem = await page.locator("#gateways .gateway-item").first().textContent();
    assert.match(twilioItem, /twilio\s+not ready/);
    assert.match(twilioItem, /TWILIO_ACCOUNT_SID_SHOP\s+not set/);
    // The same number again: the per-number cooldown of sends refuses it.
    await page.getByRole("button", { name: "Send test SMS" }).click();
    await page.locator("#sms-test-form .form-level-error", { hasText: "1007" }).waitFor();
    await smsPhone.fill("+33698765433");
    await page.getByRole("button", { name: "Send test SMS" }).click();
    await page.locator("#sms-test-result", { hasText: "Not sent: 3005" }).waitFor();
    assert.match(await page.locator("#sms-attempts tbody").textContent(), /twilio \(SHOP\).*not accepted \(3005\)/s);
    await check(page, "app-gateway-missing-secrets");
    assert.equal((await admin("PATCH", `/admin/apps/${appId}`, { gateway: { type: "outbox" } })).status, 200);

    // Every other tab renders and passes axe.
    for (const tab of TABS.filter((t) => !["otp", "insights", "webhooks", "gateway"].includes(t))) {
      await page.goto(`${baseUrl}console#/apps/${appId}/${tab}`);
      await page.locator(".tabs [aria-current=page]").waitFor();
      await page.locator("#tab > *").first().waitFor();
      await check(page, `app-${tab}`);
    }

    // Rotate the API key: the old one stops working, the new one is shown once.
    await page.goto(`${baseUrl}console#/apps/${appId}/otp`);
    await page.getByRole("button", { name: "Rotate API key" }).click();
    const newKey = await page.locator(".secret", { hasText: /^otpk_/ }).textContent();
    assert.notEqual(newKey, apiKey);
    const oldKey = await worker.api.call("POST", "/otp", { body: { phoneNumber: "+447400123456" }, headers: { "x-api-key": apiKey } });
    assert.equal(oldKey.status, 401);

    // The overview: blocks in force across applications, with a link to each one.
    const other = await worker.api.createApp({ name: "Other shop" });
    assert.equal((await admin("POST", `/admin/apps/${appId}/fraud/blocks`, { scope: "range", key: "3361242", seconds: 3600 })).status, 204);
    assert.equal((await admin("POST", `/admin/apps/${other.appId}/fraud/blocks`, { scope: "country", key: "BE", seconds: 3600 })).status, 204);
    await page.goto(`${baseUrl}console#/`);
    await page.locator("#overview-blocks").waitFor();
    const blockRows = await page.locator("#overview-blocks tbody tr").allTextContents();
    assert.equal(blockRows.length, 2);
    assert.ok(blockRows.some((r) => r.includes("Console shop") && r.includes("3361242")));
    assert.ok(blockRows.some((r) => r.includes("Other shop") && r.includes("BE")));
    assert.match(await page.locator(".lede").textContent(), /Across 2 applications; figures of \d{4}-\d\d-\d\d \(UTC\)/);
    // Today's and this month's figures count the test OTP sent above.
    for (const heading of ["#today-h", "#month-h"]) {
      const values = await page.locator("section", { has: page.locator(heading) }).locator(".kpi-value").allTextContents();
      assert.deepEqual(values.slice(0, 2), ["1", "0"], `${heading}: sent 1, verified 0`);
    }
    assert.match(await page.locator("section", { has: page.locator("#countries-h") }).locator("tbody").textContent(), /FR/);
    await check(page, "overview-blocks");

    // Delete with confirmation.
    await page.goto(`${baseUrl}console#/apps`);
    await page.getByRole("button", { name: "Delete Console shop" }).click();
    await page.getByRole("dialog").waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    assert.equal((await admin("GET", `/admin/apps/${appId}`)).status, 200, "cancel keeps it");

    // Sign out: the console and the API refuse the old cookie at once.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Admin token").waitFor();
    const refused = await worker.api.call("GET", "/admin/stats", { headers: { cookie: `otp_console=${session.value}` } });
    assert.equal(refused.status, 401);
    await page.goto(`${baseUrl}console#/apps`);
    await page.getByLabel("Admin token").waitFor();

    assert.deepEqual(problems, []);
  });
});
