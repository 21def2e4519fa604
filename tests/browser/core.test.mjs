// The npm package's core calls in real headless Chromium: a tiny static server on
// 127.0.0.1 serves the built package (pkg/dist + pkg/wasm) and a page that imports its
// browser entry through an import map (as pkg/README.md shows), calls init(), then the
// core functions, an OtpService + MemoryStore flow to VERIFIED and a typed OtpError;
// OtpClient runs there too against a same-origin stub. Results are asserted here in
// Node, and compared with the same calls in Node where they are deterministic.
// (The same calls inside workerd: tests/pkg/workerd.test.mjs.)

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, test } from "node:test";
import * as node from "otp-sms-verify";
import { ROOT } from "../worker/harness.mjs";
import { launch, openPage } from "./browser.mjs";

const PKG = path.join(ROOT, "pkg");
for (const file of ["dist/index.js", "dist/load-browser.js", "wasm/otp_core.js", "wasm/otp_core_bg.wasm"]) {
  if (!existsSync(path.join(PKG, file))) throw new Error(`pkg/${file} is missing: run scripts/build-pkg.sh first`);
}

const TYPES = { ".js": "text/javascript; charset=utf-8", ".wasm": "application/wasm" };
const KEY = "browser-test-key-0123456789abcdef";

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>otp-sms-verify in the browser</title>
  <script type="importmap">
    { "imports": { "otp-sms-verify": "/pkg/dist/index.js", "#wasm": "/pkg/dist/load-browser.js" } }
  </script>
  <script type="module">
    import * as pkg from "otp-sms-verify";
    window.pkg = pkg;
  </script>
</head>
<body></body>
</html>`;

/** Serves the page, `/pkg/dist/*.js` and `/pkg/wasm/*` (nothing else), and an API stub. */
function staticServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    requests.push(`${req.method} ${url.pathname}`);
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(PAGE);
    }
    const file = url.pathname.match(/^\/pkg\/(dist\/[\w-]+\.js|wasm\/otp_core(?:\.js|_bg\.wasm))$/)?.[1];
    if (req.method === "GET" && file && existsSync(path.join(PKG, file))) {
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] });
      return res.end(readFileSync(path.join(PKG, file)));
    }
    if (url.pathname.startsWith("/otp/")) {
      // What the worker answers for an unknown OTP, for OtpClient in the page.
      res.writeHead(404, { "content-type": "application/json", "x-request-id": "req-1" });
      return res.end(JSON.stringify({ error: { type: "not_found", message: "OTP not found", uri: url.pathname, code: 2021 } }));
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, requests, base: `http://127.0.0.1:${server.address().port}/` })),
  );
}

let site, browser, page, problems;

before(async () => {
  site = await staticServer();
  browser = await launch();
  ({ page, problems } = await openPage(browser.context));
  await page.goto(site.base);
  await page.waitForFunction(() => window.pkg !== undefined);
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.server.close(resolve) ?? resolve());
});

test("the page loads the browser entry through the import map; calls before init() say so", async () => {
  const before = await page.evaluate(() => {
    try {
      window.pkg.generatePin();
      return "no error";
    } catch (e) {
      return e.message;
    }
  });
  assert.match(before, /call `await init\(\)` once/);
  assert.deepEqual(await page.evaluate(() => Object.keys(window.pkg).sort()), Object.keys(node).sort());
  assert.equal(await page.evaluate(() => window.pkg.init()), undefined);
  assert.equal(await page.evaluate(() => window.pkg.init().then(() => "again")), "again", "init() is idempotent");
  assert.ok(site.requests.includes("GET /pkg/dist/load-browser.js"), site.requests.join("\n"));
  assert.ok(site.requests.includes("GET /pkg/wasm/otp_core_bg.wasm"), "init() fetched the wasm next to the glue");
});

test("core functions give the same results as in Node", async () => {
  const calls = (p) => ({
    seeded: p.generatePin({ type: "alphanumeric", length: 10, seed: 42 }),
    parts: ["x".repeat(160), "x".repeat(161), "€".repeat(80), "ж".repeat(71)].map((t) => p.countSmsParts(t)),
    phone: p.parsePhone("06 12 42 41 11", "FR"),
    e164: p.parsePhone("+14155552671"),
    text: p.renderTemplate("{{brand}}: your code is {{pin}}, valid {{ttl}} min", {
      pin: "012345",
      ttlSeconds: 300,
      brand: "Acme",
      webotpDomain: "acme.example",
    }),
    settings: p.validateSettings({ brand: "Acme", ttl: 300, maxAttempts: 3 }),
    date: p.formatUtc(1_700_000_000),
    catalogSize: p.errorCatalog().length,
    planned: p.planOtp({ brand: "Acme", prices: { default: 0.05 } }, { phoneNumber: "+33612424111" }, 1_700_000_000, ["browser-key-0123456789abcdef"], { seed: 3 }),
    engine: (() => {
      const engine = new p.OtpEngine({ brand: "Acme", prices: { default: 0.05 } }, ["browser-key-0123456789abcdef"]);
      const planned = engine.plan({ phoneNumber: "+33612424111" }, 1_700_000_000, { seed: 3 });
      const pin = planned.message.text.match(/\d{6}/)[0];
      const verified = engine.verify(planned.record, pin, 1_700_000_001);
      const wrong = engine.verify(verified.record, pin, 1_700_000_002);
      engine.free();
      return { planned, verified: { ...verified, error: null }, wrong: wrong.error.code };
    })(),
  });
  await page.evaluate(() => window.pkg.init());
  const inBrowser = await page.evaluate(`(${calls})(window.pkg)`);
  const random = await page.evaluate(() => ({
    letters: window.pkg.generatePin({ type: "letters", length: 8 }),
    numbers: window.pkg.generatePin(),
    id: window.pkg.newOtpId(),
  }));

  assert.match(random.letters, /^[A-Z]{8}$/);
  assert.match(random.numbers, /^\d{6}$/);
  assert.match(random.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(inBrowser.seeded, /^[A-Z0-9]{10}$/);
  assert.deepEqual(inBrowser.parts, [
    { encoding: "GSM-7", units: 160, parts: 1 },
    { encoding: "GSM-7", units: 161, parts: 2 },
    { encoding: "GSM-7", units: 160, parts: 1 }, // € is in the extension table: 2 units
    { encoding: "UCS-2", units: 71, parts: 2 },
  ]);
  assert.deepEqual(inBrowser.phone, {
    e164: "+33612424111",
    digits: "33612424111",
    callingCode: 33,
    countryIso: "FR",
    masked: "+3361242****",
    type: "mobile",
    valid: true,
  });
  assert.equal(inBrowser.e164.countryIso, "US");
  assert.equal(inBrowser.text, "Acme: your code is 012345, valid 5 min\n\n@acme.example #012345");
  assert.equal(inBrowser.settings.ttl, 300);
  assert.equal(inBrowser.settings.maxAttempts, 3);
  assert.equal(inBrowser.settings.pinLength, 6, "defaults filled in");
  assert.equal(inBrowser.date, "2023-11-14 22:13:20");
  assert.deepEqual(inBrowser.engine.planned, inBrowser.planned, "OtpEngine.plan is planOtp");
  assert.equal(inBrowser.engine.verified.record.status, "VERIFIED");
  assert.equal(inBrowser.engine.wrong, 2023);
  assert.deepEqual(inBrowser, calls(node), "Chromium and Node agree, seeded PIN included");
});

test("OtpService + MemoryStore: a wrong PIN is OtpError 2029, the right one VERIFIED", async () => {
  const result = await page.evaluate(async (key) => {
    const { OtpService, MemoryStore, OtpError } = window.pkg;
    await window.pkg.init();
    const outbox = [];
    const changes = [];
    const otp = new OtpService({
      store: new MemoryStore(),
      sender: { send: async (sms) => void outbox.push(sms) },
      keys: [key],
      settings: { brand: "Acme", template: "{{brand}} code {{pin}}", maxAttempts: 3 },
      onStatusChange: (view) => void changes.push(view.status),
    });
    const sent = await otp.send({ phoneNumber: "+33612424111" });
    const pin = outbox[0].text.split(" ").at(-1);
    let wrong;
    try {
      await otp.verify(sent.otpId, pin === "000000" ? "111111" : "000000");
    } catch (e) {
      wrong = { isOtpError: e instanceof OtpError, name: e.name, code: e.code, reason: e.reason, httpStatus: e.httpStatus, json: e.toJSON() };
    }
    const verified = await otp.verify(sent.otpId, pin);
    const status = await otp.status(sent.otpId);
    return { sent, sms: outbox[0], pin, wrong, verified, status, changes };
  }, KEY);

  assert.equal(result.sent.status, "PENDING");
  assert.equal(result.sent.phoneNumber, "+33612424111");
  assert.equal(result.sms.to, "+33612424111");
  assert.equal(result.sms.text, `Acme code ${result.pin}`);
  assert.match(result.pin, /^\d{6}$/);
  assert.deepEqual(result.wrong, {
    isOtpError: true,
    name: "OtpError",
    code: 2029,
    reason: "invalid_pin",
    httpStatus: 400,
    json: { code: 2029, reason: "invalid_pin", type: "invalid_pin", httpStatus: 400, message: "invalid PIN" },
  });
  assert.equal(result.verified.status, "VERIFIED");
  assert.equal(result.verified.attempts, 1, "the wrong PIN was counted");
  assert.equal(result.status.status, "VERIFIED");
  assert.equal(result.status.phoneNumber, "+3361242****");
  assert.deepEqual(result.changes, ["VERIFIED"]);
});

test("core rule violations throw OtpError with their stable codes", async () => {
  const codes = await page.evaluate(() => {
    const { OtpError, parsePhone, validateSettings, validateTemplate, generatePin } = window.pkg;
    const code = (f) => {
      try {
        f();
        return null;
      } catch (e) {
        return e instanceof OtpError ? [e.code, e.reason, e.httpStatus] : String(e);
      }
    };
    return {
      phone: code(() => parsePhone("not a phone")),
      ttl: code(() => validateSettings({ ttl: 10 })),
      template: code(() => validateTemplate("no placeholder")),
      pinLength: code(() => generatePin({ length: 3 })),
      bigint: code(() => validateSettings({ ttl: 300n })),
      nan: code(() => validateSettings({ ttl: Number.NaN })),
      unknownKey: code(() => validateSettings({ tll: 300 })),
    };
  });
  const expected = (f) => {
    try {
      f();
    } catch (e) {
      return [e.code, e.reason, e.httpStatus];
    }
    return null;
  };
  assert.deepEqual(codes, {
    phone: expected(() => node.parsePhone("not a phone")),
    ttl: expected(() => node.validateSettings({ ttl: 10 })),
    template: expected(() => node.validateTemplate("no placeholder")),
    pinLength: expected(() => node.generatePin({ length: 3 })),
    bigint: expected(() => node.validateSettings({ ttl: 300n })),
    nan: expected(() => node.validateSettings({ ttl: Number.NaN })),
    unknownKey: expected(() => node.validateSettings({ tll: 300 })),
  });
  assert.deepEqual([codes.bigint[0], codes.nan[0], codes.unknownKey[0]], [2114, 2114, 2114]);
  assert.equal(codes.phone[0], 2020);
  assert.equal(codes.ttl[0], 2008);
  assert.equal(codes.template[0], 2006);
  assert.ok(codes.pinLength[0] >= 2014 && codes.pinLength[0] <= 2017, String(codes.pinLength));
});

test("OtpClient runs in the page: fetch, AbortSignal.timeout and a typed OtpApiError", async () => {
  const error = await page.evaluate(async () => {
    const { OtpClient, OtpApiError } = window.pkg;
    const client = new OtpClient({ baseUrl: location.origin, apiKey: "otpk_page", timeoutMs: 5000 });
    try {
      await client.status("123e4567-e89b-42d3-a456-426614174000");
      return null;
    } catch (e) {
      return { isApiError: e instanceof OtpApiError, ...e.toJSON() };
    }
  });
  assert.deepEqual(error, {
    isApiError: true,
    httpStatus: 404,
    code: 2021,
    type: "not_found",
    message: "OTP not found",
    uri: "/otp/123e4567-e89b-42d3-a456-426614174000",
    retryAfter: null,
    requestId: "req-1",
  });
  assert.deepEqual(problems, [], "no uncaught error or console error in the page");
});
