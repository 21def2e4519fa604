// The demo page in real Chromium against the built worker (Miniflare, development
// bindings, real HTTP on 127.0.0.1): the whole flow to VERIFIED, a wrong PIN then
// FAILED, resend and CANCELLED, EXPIRED (the page's clock moved, and the worker's with
// it through X-Dev-Now), the offline mode (the npm package in the page), keyboard use,
// and a production worker. A screenshot of each final state goes to
// test-results/screenshots/.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApi } from "../support/api.mjs";
import { launch, openPage, PHONE, screenshot } from "./browser.mjs";

/** A PIN in an SMS text: the last run of `length` symbols of the type's alphabet. */
function pinIn(text, length, cls = "0-9") {
  const m = [...text.matchAll(new RegExp(`(?<![${cls}])[${cls}]{${length}}(?![${cls}])`, "g"))];
  assert.ok(m.length, `no PIN in ${JSON.stringify(text)}`);
  return m.at(-1)[0];
}

/** Another PIN of the same shape (each digit moved by one). */
function wrongPin(pin) {
  return [...pin].map((c) => String((Number(c) + 1) % 10)).join("");
}

/** The summaries of the API panel, e.g. "POST /otp 201". */
async function logLines(page) {
  return page.$$eval("#log .entry summary", (items) =>
    items.map((s) =>
      [s.querySelector(".verb").textContent, s.querySelector(".entry-title").textContent, s.querySelector(".entry-code").textContent].join(" "),
    ),
  );
}

/** Waits for the newest SMS on the phone and returns its text. */
async function newestSms(page, count = 1) {
  await page.waitForFunction((n) => document.querySelectorAll("#thread .msg:not(.typing):not(.system) .bubble").length >= n, count);
  return page.locator("#thread .msg:not(.typing):not(.system) .bubble").last().textContent();
}

async function open(context, query = "") {
  const { page, problems } = await openPage(context);
  await page.goto(`${baseUrl}demo${query}`);
  return { page, problems };
}

let worker, baseUrl, browser;

before(async () => {
  worker = await startApi();
  baseUrl = worker.url.href;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await worker?.dispose();
});

describe("demo page, live API (development worker)", () => {
  test("/ leads to the demo, which gets a session and is ready without typing", async () => {
    const { page, problems } = await openPage(browser.context);
    await page.goto(baseUrl);
    assert.equal(new URL(page.url()).pathname, "/demo");
    await page.waitForSelector('body[data-ready="live"]');
    assert.match(await page.textContent("#mode-note"), /demo application/);
    assert.deepEqual(await logLines(page), ["POST /demo/session 200"]);
    assert.equal(await page.isEnabled("#send-btn"), true);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("the full flow reaches VERIFIED: SMS on the phone, PIN typed box by box", async () => {
    const { page, problems } = await open(browser.context);
    await page.waitForSelector('body[data-ready="live"]');
    await page.click("#send-btn");
    const text = await newestSms(page);
    const pin = pinIn(text, 6);
    assert.match(text, /^Demo: your verification code is \d{6}\. It expires in 5 minutes\.$/);
    // Sender, encoding and parts are shown with the SMS; status, attempts and countdown beside it.
    assert.equal(await page.textContent("#phone-sender"), "Verify");
    assert.match(await page.textContent("#phone-number"), /^SMS to \+447400123123$/);
    const chips = await page.locator("#thread .msg:last-child .chip").allTextContents();
    assert.deepEqual(chips.slice(0, 2), ["GSM-7", "1 part"]);
    assert.equal(await page.textContent("#status-badge"), "PENDING");
    assert.equal(await page.textContent("#attempts-text"), "3 of 3");
    assert.match(await page.textContent("#countdown"), /^[45]:\d\d$/);
    assert.equal(await page.getAttribute(".pin-box >> nth=0", "autocomplete"), "one-time-code");
    assert.equal(await page.locator(".pin-box").count(), 6);
    // The first box has the focus once the SMS is there.
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.index), "0");
    await page.keyboard.type(pin, { delay: 30 });
    await page.waitForSelector('body[data-final="VERIFIED"]');
    assert.equal(await page.textContent("#status-badge"), "VERIFIED");
    assert.equal(await page.textContent("#result-title"), "Verified");
    assert.equal(await page.textContent("#countdown"), "Stopped");
    assert.equal(await page.isDisabled(".pin-box >> nth=0"), true);
    const lines = await logLines(page);
    const id = await page.textContent("#otp-id");
    assert.deepEqual(lines, [
      "POST /demo/session 200",
      "POST /otp 201",
      `GET /demo/outbox?phoneNumber=%2B447400123123&otpId=${id} 200`,
      `POST /otp/${id} 200`,
      `GET /otp/${id} 200`,
    ]);
    // The panel shows the real request and response bodies.
    const last = await page.locator("#log .entry").nth(3).textContent();
    assert.match(last, /"pin": "\d{6}"/);
    assert.match(last, /"status": "VERIFIED"/);
    await screenshot(page, "live-verified");
    await page.setViewportSize(PHONE);
    await screenshot(page, "live-verified-phone");
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("a wrong PIN shows the attempts left, and the last wrong one FAILS the OTP", async () => {
    const { page, problems } = await open(browser.context);
    await page.waitForSelector('body[data-ready="live"]');
    await page.selectOption("#max-attempts", "2");
    await page.fill("#phone", "07400 123124");
    await page.click("#send-btn");
    const pin = pinIn(await newestSms(page), 6);
    await page.keyboard.type(wrongPin(pin));
    await page.waitForSelector('#result[data-kind="wrong"]');
    assert.equal(await page.textContent("#result-title"), "Wrong code");
    assert.equal(await page.textContent("#result-text"), "1 attempt left.");
    assert.equal(await page.textContent("#attempts-text"), "1 of 2");
    assert.equal(await page.textContent("#status-badge"), "PENDING");
    assert.equal(await page.inputValue(".pin-box >> nth=0"), "", "the boxes are cleared for another try");
    await screenshot(page, "live-wrong-pin");
    await page.keyboard.type(wrongPin(wrongPin(pin)));
    await page.waitForSelector('body[data-final="FAILED"]');
    assert.equal(await page.textContent("#status-badge"), "FAILED");
    assert.equal(await page.textContent("#result-title"), "Failed");
    assert.match(await page.textContent("#result-text"), /last attempt/);
    assert.equal(await page.textContent("#attempts-text"), "0 of 2");
    const lines = await logLines(page);
    const id = await page.textContent("#otp-id");
    assert.deepEqual(lines.filter((l) => l.startsWith(`POST /otp/${id}`)), [`POST /otp/${id} 400`, `POST /otp/${id} 400`]);
    await screenshot(page, "live-failed");
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("resend waits out the rate limit, then replaces the code (the old one is cancelled); Cancel ends in CANCELLED", async () => {
    const { page, problems } = await openPage(browser.context);
    await page.clock.install();
    await page.goto(`${baseUrl}demo?devClock`);
    await page.waitForSelector('body[data-ready="live"]');
    await page.fill("#phone", "07400 123125");
    await page.click("#send-btn");
    await newestSms(page, 1);
    const firstId = await page.textContent("#otp-id");
    // A resend at once meets the per-number cooldown: a 429, and the button counts down.
    await page.click("#resend-btn");
    await page.waitForSelector('#result[data-kind="error"]');
    assert.match(await page.textContent("#result-text"), /try again in (29|30) s/);
    assert.match(await page.textContent("#resend-btn"), /^Resend in 0:(29|30)$/);
    assert.equal(await page.isDisabled("#resend-btn"), true);
    assert.equal(await page.textContent("#status-badge"), "PENDING", "the first code still works");
    assert.ok((await logLines(page)).includes("POST /otp 429"));
    await screenshot(page, "live-rate-limited");
    await page.clock.fastForward("00:31");
    await page.waitForSelector("#resend-btn:not([disabled])");
    assert.equal(await page.textContent("#resend-btn"), "Resend code");
    await page.click("#resend-btn");
    await newestSms(page, 2);
    const secondId = await page.textContent("#otp-id");
    assert.notEqual(secondId, firstId);
    assert.equal(await page.locator("#thread .msg.old").count(), 1, "the first SMS is marked as replaced");
    assert.ok((await logLines(page)).includes(`DELETE /otp/${firstId} 200`), "the replaced OTP was cancelled");
    await page.click("#cancel-btn");
    await page.waitForSelector('body[data-final="CANCELLED"]');
    assert.equal(await page.textContent("#status-badge"), "CANCELLED");
    assert.equal(await page.textContent("#result-title"), "Cancelled");
    assert.equal(await page.textContent("#resend-btn"), "Send a new code");
    const lines = await logLines(page);
    assert.deepEqual(lines.slice(-2), [`DELETE /otp/${secondId} 200`, `GET /otp/${secondId} 200`]);
    await screenshot(page, "live-cancelled");
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("the countdown reaches zero and the API says EXPIRED (page clock moved, X-Dev-Now)", async () => {
    const { page, problems } = await openPage(browser.context);
    await page.clock.install();
    await page.goto(`${baseUrl}demo?devClock`);
    await page.waitForSelector('body[data-ready="live"]');
    await page.selectOption("#ttl", "60");
    await page.fill("#phone", "07400 123126");
    await page.click("#send-btn");
    const pin = pinIn(await newestSms(page), 6);
    assert.match(await page.textContent("#countdown"), /^(1:00|0:59)$/);
    await page.clock.fastForward("01:01");
    await page.waitForSelector('body[data-final="EXPIRED"]');
    assert.equal(await page.textContent("#status-badge"), "EXPIRED");
    assert.equal(await page.textContent("#countdown"), "0:00");
    assert.equal(await page.textContent("#result-title"), "Expired");
    const id = await page.textContent("#otp-id");
    const status = page.locator("#log .entry").last();
    assert.match(await status.locator("summary").textContent(), new RegExp(`GET/otp/${id}`));
    assert.match(await status.textContent(), /"status": "EXPIRED"/);
    // The PIN cannot be entered any more; the API agrees that it is too late.
    assert.equal(await page.isDisabled(".pin-box >> nth=0"), true);
    const res = await worker.api.call("POST", `/otp/${id}`, {
      body: { pin },
      headers: { authorization: `Bearer ${await sessionToken(page)}` },
      now: Math.floor((await page.evaluate(() => Date.now())) / 1000),
    });
    assert.equal(res.body.error.code, 2025);
    await screenshot(page, "live-expired");
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("keyboard only: Enter sends, the focus lands in the PIN boxes, typing verifies", async () => {
    const { page, problems } = await open(browser.context);
    await page.waitForSelector('body[data-ready="live"]');
    await page.fill("#phone", "07400 123127");
    await page.keyboard.press("Enter");
    const pin = pinIn(await newestSms(page), 6);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.index), "0");
    await page.keyboard.type(pin.slice(0, 3));
    // The focus is in the empty 4th box: Backspace clears the 3rd, then the 2nd.
    await page.keyboard.press("Backspace");
    await page.keyboard.press("Backspace");
    assert.equal(await page.evaluate(() => [...document.querySelectorAll(".pin-box")].map((b) => b.value).join("")), pin.slice(0, 1));
    await page.keyboard.type(pin.slice(1));
    await page.waitForSelector('body[data-final="VERIFIED"]');
    assert.equal(await page.evaluate(() => document.activeElement?.id), "resend-btn");
    assert.deepEqual(problems, []);
    await page.close();
  });
});

/** The page's bearer token, read back from its last request (the panel keeps curl text only). */
async function sessionToken(page) {
  const res = await page.evaluate(async () => (await fetch("/demo/session", { method: "POST" })).json());
  return res.access_token;
}

describe("demo page, offline mode (the npm package in the browser)", () => {
  test("the same flow runs in the page: autofill of a wrong code, then a pasted right one, VERIFIED", async () => {
    const { page, problems } = await open(browser.context, "?mode=offline");
    await page.waitForSelector('body[data-ready="offline"]');
    const requests = [];
    page.on("request", (r) => requests.push(new URL(r.url()).pathname));
    await page.check('input[name="pinType"][value="letters"]', { force: true });
    await page.selectOption("#pin-length", "8");
    await page.fill("#phone", "+33612424111");
    await page.selectOption("#language", "ru");
    await page.click("#send-btn");
    const text = await newestSms(page);
    assert.match(text, /^Demo: код подтверждения [A-Z]{8}\. Действует 5 мин\.$/);
    const pin = pinIn(text, 8, "A-Z");
    const chips = await page.locator("#thread .msg:last-child .chip").allTextContents();
    assert.deepEqual(chips.slice(0, 2), ["UCS-2", "1 part"], "Cyrillic needs UCS-2");
    assert.equal(await page.locator(".pin-box").count(), 8);
    assert.equal(await page.getAttribute(".pin-box >> nth=0", "inputmode"), "text");
    // Autofill puts the whole code into the first box at once.
    const wrong = pin.startsWith("A") ? `B${pin.slice(1)}` : `A${pin.slice(1)}`;
    await page.fill(".pin-box >> nth=0", wrong.toLowerCase());
    await page.waitForSelector('#result[data-kind="wrong"]');
    assert.equal(await page.textContent("#result-text"), "2 attempts left.");
    // A paste anywhere fills every box.
    await page.locator(".pin-box").nth(3).evaluate((box, code) => {
      const data = new DataTransfer();
      data.setData("text/plain", ` ${code.slice(0, 4)}-${code.slice(4)} `);
      box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }, pin);
    await page.waitForSelector('body[data-final="VERIFIED"]');
    assert.equal(await page.textContent("#status-badge"), "VERIFIED");
    const lines = await logLines(page);
    assert.deepEqual(
      lines.map((l) => l.replace(/\s+\S+$/, "")),
      ["CALL init(…)", "CALL new OtpService(…)", "CALL otp.send(…)", "CALL sender.send(…)", "CALL otp.verify(…)", "CALL otp.status(…)", "CALL otp.verify(…)", "CALL otp.status(…)"],
    );
    assert.deepEqual(requests, [], "no request leaves the page in offline mode");
    await screenshot(page, "offline-verified");
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe("demo page on a production worker", () => {
  let prod;
  before(async () => {
    prod = await startApi({ bindings: { ENVIRONMENT: "production" } });
  });
  after(async () => {
    await prod?.dispose();
  });

  test("no session or outbox: the live mode asks for an API key, the offline mode works", async () => {
    const { page, problems } = await openPage(browser.context);
    await page.goto(`${prod.url.href}demo`);
    await page.waitForSelector("#key-form:not([hidden])");
    assert.match(await page.textContent("#mode-note"), /paste an API key/);
    assert.deepEqual(await logLines(page), ["POST /demo/session 404"]);
    assert.equal(await page.isDisabled("#send-btn"), true);
    await page.click('label:has(input[value="offline"])');
    await page.waitForSelector('body[data-ready="offline"]');
    assert.equal(await page.isHidden("#key-form"), true);
    await page.click("#send-btn");
    const pin = pinIn(await newestSms(page), 6);
    await page.click("#suggest-btn");
    await page.waitForSelector('body[data-final="VERIFIED"]');
    assert.equal(pin.length, 6);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
