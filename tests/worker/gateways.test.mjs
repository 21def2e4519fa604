// SMS gateways of the built worker, against a fake provider on 127.0.0.1: the
// request each adapter sends (method, path, auth, body), the outbox, and every
// failure mode (error status, timeout, unreadable reply, refused or reset
// connection, missing credentials), which must leave no OTP record behind.

import { NO_LIMITS } from "../support/api.mjs";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { closedPort, startFakeProvider, verifyStandardWebhook } from "../support/fake-provider.mjs";
import { startWorker } from "./harness.mjs";

const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
const SECRETS = {
  ADMIN_TOKEN,
  PIN_KEYS: "test-pin-key-0123456789abcdef",
  TOKEN_KEY: "test-token-key-0123456789abcdef",
  HASH_KEY: "test-hash-key-0123456789abcdef",
};
const TWILIO_SID = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN = "twilio-auth-token-secret";
const CREDENTIALS = {
  TWILIO_ACCOUNT_SID: TWILIO_SID,
  TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
  VONAGE_API_KEY: "vonage-key",
  VONAGE_API_SECRET: "vonage-secret-value",
  SMSCX_API_KEY: "smscx-api-key-value",
  DEXATEL_API_KEY: "dexatel-api-key-value",
};
/** Deadline of one provider request in these tests (GATEWAY_TIMEOUT_MS). */
const TIMEOUT_MS = 600;
const PHONE = "+33612424111";
const DIGITS = "33612424111";
const SENDER = "AcmeCo";
const TEMPLATE = "Your Acme code is {{pin}}";
const PIN_IN_TEXT = /code is ([0-9]{6})$/;
const OTP_OBJECT_KEYS = ["otpId", "phoneNumber", "status", "cost", "parts", "dateCreated", "dateExpires"];

/** Admin helper: creates an app with `gateway`; returns the 201 body. */
async function createApp(worker, gateway, otp = {}) {
  const res = await worker.fetch("/admin/apps", {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      name: `Acme ${gateway.type}`,
      gateway,
      otp: { originator: SENDER, template: TEMPLATE, ...otp },
      limits: NO_LIMITS,
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body;
}

/** `POST /otp` as `app`; returns `{ res, body, ms }`. */
async function sendOtp(worker, app, extra = {}) {
  const started = Date.now();
  const res = await worker.fetch("/otp", {
    method: "POST",
    headers: { "X-API-KEY": app.apiKey, "Content-Type": "application/json" },
    body: JSON.stringify({ phoneNumber: PHONE, ...extra }),
  });
  const body = await res.json();
  return { res, body, ms: Date.now() - started };
}

/** `POST /otp/{id}` with `pin`. */
async function verifyPin(worker, app, otpId, pin) {
  const res = await worker.fetch(`/otp/${otpId}`, {
    method: "POST",
    headers: { "X-API-KEY": app.apiKey, "Content-Type": "application/json" },
    body: JSON.stringify({ pin }),
  });
  return { res, body: await res.json() };
}

/** Keys of OTP records of `app` in OTP_KV. */
/**
 * The app's OTP record copies in KV once they have settled: the shards write them
 * after their replies (a record removed after a refused send goes the same way), so
 * this waits until two reads a short while apart agree (at most about 5 s).
 */
async function otpKeys(worker, app) {
  const read = async () => {
    const { keys } = await (await worker.kv("OTP_KV")).list({ prefix: "otp:" });
    return keys.map((k) => k.name).filter((name) => name.includes(app.appId));
  };
  let last = await read();
  for (let i = 0; i < 25; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await read();
    if (JSON.stringify(next) === JSON.stringify(last) && i >= 2) return next;
    last = next;
  }
  return last;
}

/** The PIN in an SMS text rendered from TEMPLATE. */
function pinOf(text) {
  const match = PIN_IN_TEXT.exec(text);
  assert.ok(match, `no PIN in ${JSON.stringify(text)}`);
  return match[1];
}

/** Asserts a created OTP and returns it. */
function assertCreated({ res, body }) {
  assert.equal(res.status, 201, JSON.stringify(body));
  for (const key of OTP_OBJECT_KEYS) assert.ok(key in body, `${key} in the OTP object`);
  assert.equal(body.status, "PENDING");
  return body;
}

/**
 * Asserts a gateway failure reply: `status`, SMS.CX error shape with `code`, no
 * secret, phone number or SMS text in it.
 */
function assertGatewayError({ res, body }, status, code, leaks = []) {
  assert.equal(res.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, code);
  assert.equal(body.error.uri, "/otp");
  assert.equal(typeof body.error.type, "string");
  assert.equal(typeof body.error.message, "string");
  assert.ok(!("cost" in body), "a failed send shows no cost");
  const text = JSON.stringify(body);
  for (const secret of [...Object.values(CREDENTIALS), PHONE, DIGITS, "Acme code", ...leaks]) {
    assert.ok(!text.includes(secret), `the error reply must not contain ${secret}`);
  }
}

describe("SMS gateways", () => {
  let provider;
  let worker;
  let deadPort;

  before(async () => {
    provider = await startFakeProvider();
    deadPort = await closedPort();
    worker = await startWorker({
      kvNamespaces: ["OTP_KV", "OUTBOX_KV"],
      bindings: {
        ...SECRETS,
        ...CREDENTIALS,
        ENVIRONMENT: "development",
        GATEWAY_TIMEOUT_MS: String(TIMEOUT_MS),
        TWILIO_API_BASE: provider.url,
        VONAGE_API_BASE: provider.url,
        SMSCX_API_BASE: provider.url,
        DEXATEL_API_BASE: `${provider.url}/`,
      },
    });
  });
  after(async () => {
    await worker?.dispose();
    await provider?.close();
  });

  describe("request shapes", () => {
    test("twilio: Basic-auth form POST to the account's Messages.json, then the PIN verifies", async () => {
      const app = await createApp(worker, { type: "twilio" });
      provider.clear();
      const otp = assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      assert.equal(provider.requests.length, 1);
      assert.equal(req.method, "POST");
      assert.equal(req.path, `/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`);
      assert.equal(
        req.headers.authorization,
        `Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString("base64")}`,
      );
      assert.match(req.headers["content-type"], /^application\/x-www-form-urlencoded/);
      const form = new URLSearchParams(req.body);
      assert.deepEqual([...form.keys()], ["To", "From", "Body"]);
      assert.equal(form.get("To"), PHONE);
      assert.equal(form.get("From"), SENDER);
      const pin = pinOf(form.get("Body"));
      const verified = await verifyPin(worker, app, otp.otpId, pin);
      assert.equal(verified.res.status, 200, JSON.stringify(verified.body));
      assert.deepEqual(verified.body, { status: "VERIFIED" });
    });

    test("twilio: a messagingServiceSid replaces From", async () => {
      const sid = "MG0123456789abcdef0123456789abcdef";
      const app = await createApp(worker, { type: "twilio", messagingServiceSid: sid });
      assert.deepEqual(app.gateway, { type: "twilio", messagingServiceSid: sid });
      provider.clear();
      assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      const form = new URLSearchParams(req.body);
      assert.deepEqual([...form.keys()], ["To", "MessagingServiceSid", "Body"]);
      assert.equal(form.get("MessagingServiceSid"), sid);
    });

    test("vonage: JSON with credentials, digits-only destination and type text/unicode", async () => {
      const app = await createApp(worker, { type: "vonage" });
      provider.clear();
      const otp = assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      assert.equal(req.method, "POST");
      assert.equal(req.path, "/sms/json");
      assert.match(req.headers["content-type"], /^application\/json/);
      const body = JSON.parse(req.body);
      assert.deepEqual(Object.keys(body).sort(), ["api_key", "api_secret", "from", "text", "to", "type"]);
      assert.equal(body.api_key, CREDENTIALS.VONAGE_API_KEY);
      assert.equal(body.api_secret, CREDENTIALS.VONAGE_API_SECRET);
      assert.equal(body.from, SENDER);
      assert.equal(body.to, DIGITS);
      assert.equal(body.type, "text");
      const verified = await verifyPin(worker, app, otp.otpId, pinOf(body.text));
      assert.deepEqual(verified.body, { status: "VERIFIED" });

      // A text outside GSM-7 goes as unicode.
      provider.clear();
      assertCreated(await sendOtp(worker, app, { template: "Ваш код {{pin}}" }));
      const [unicode] = await provider.waitForRequests(1);
      const ucs2 = JSON.parse(unicode.body);
      assert.equal(ucs2.type, "unicode");
      assert.match(ucs2.text, /^Ваш код [0-9]{6}$/);
    });

    test("smscx: JSON to /sms with X-API-KEY and the E.164 destination", async () => {
      const app = await createApp(worker, { type: "smscx" });
      provider.clear();
      const otp = assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      assert.equal(req.method, "POST");
      assert.equal(req.path, "/sms");
      assert.equal(req.headers["x-api-key"], CREDENTIALS.SMSCX_API_KEY);
      assert.match(req.headers["content-type"], /^application\/json/);
      const body = JSON.parse(req.body);
      assert.deepEqual(Object.keys(body), ["to", "from", "text"]);
      assert.equal(body.to, PHONE);
      assert.equal(body.from, SENDER);
      const verified = await verifyPin(worker, app, otp.otpId, pinOf(body.text));
      assert.deepEqual(verified.body, { status: "VERIFIED" });
    });

    test("dexatel: {data: {from, to: [digits], text, channel: SMS}} with X-Dexatel-Key", async () => {
      const app = await createApp(worker, { type: "dexatel" });
      provider.clear();
      const otp = assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      assert.equal(req.method, "POST");
      assert.equal(req.path, "/v1/messages");
      assert.equal(req.headers["x-dexatel-key"], CREDENTIALS.DEXATEL_API_KEY);
      const { data } = JSON.parse(req.body);
      assert.deepEqual(Object.keys(data), ["from", "to", "text", "channel"]);
      assert.equal(data.from, SENDER);
      assert.deepEqual(data.to, [DIGITS]);
      assert.equal(data.channel, "SMS");
      const verified = await verifyPin(worker, app, otp.otpId, pinOf(data.text));
      assert.deepEqual(verified.body, { status: "VERIFIED" });
    });

    test("webhook: a signed sms.send event to the configured URL", async () => {
      const app = await createApp(worker, { type: "webhook", url: `${provider.url}/hooks/sms` });
      assert.match(app.webhookSecret, /^whsec_[A-Za-z0-9+/]{32}$/);
      provider.clear();
      const before = Math.floor(Date.now() / 1000);
      const otp = assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      assert.equal(req.method, "POST");
      assert.equal(req.path, "/hooks/sms");
      assert.match(req.headers["content-type"], /^application\/json/);
      assert.match(req.headers["webhook-id"], /^msg_[A-Za-z0-9_-]{22}$/);
      const timestamp = Number(req.headers["webhook-timestamp"]);
      assert.ok(timestamp >= before - 1 && timestamp <= Math.floor(Date.now() / 1000) + 1);
      assert.match(req.headers["webhook-signature"], /^v1,[A-Za-z0-9+/]{43}=$/);
      assert.ok(verifyStandardWebhook(app.webhookSecret, req.headers, req.body), "valid signature");
      assert.ok(!verifyStandardWebhook(`whsec_${Buffer.alloc(24).toString("base64")}`, req.headers, req.body));
      assert.ok(!verifyStandardWebhook(app.webhookSecret, req.headers, `${req.body} `));
      const body = JSON.parse(req.body);
      assert.equal(body.type, "sms.send");
      assert.deepEqual(Object.keys(body.data).sort(), [
        "appId", "encoding", "from", "language", "otpId", "parts", "text", "to",
      ]);
      assert.equal(body.data.otpId, otp.otpId);
      assert.equal(body.data.appId, app.appId);
      assert.equal(body.data.to, PHONE);
      assert.equal(body.data.from, SENDER);
      assert.equal(body.data.encoding, "GSM-7");
      assert.equal(body.data.parts, 1);
      const verified = await verifyPin(worker, app, otp.otpId, pinOf(body.data.text));
      assert.deepEqual(verified.body, { status: "VERIFIED" });
    });
  });

  describe("outbox (development)", () => {
    const number = "+33612424199";

    test("keeps the messages newest first for GET /admin/outbox, in OUTBOX_KV only", async () => {
      const app = await createApp(worker, { type: "outbox" });
      const first = assertCreated(await sendOtp(worker, app, { phoneNumber: number }));
      const second = assertCreated(await sendOtp(worker, app, { phoneNumber: number }));
      const res = await worker.fetch(`/admin/outbox?phoneNumber=${encodeURIComponent(number)}`, {
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      assert.equal(res.status, 200);
      const { data } = await res.json();
      assert.deepEqual(
        data.map((m) => m.otpId),
        [second.otpId, first.otpId],
      );
      const [newest] = data;
      assert.deepEqual(Object.keys(newest).sort(), [
        "appId", "encoding", "from", "language", "otpId", "parts", "sentAt", "text", "to",
      ]);
      assert.equal(newest.appId, app.appId);
      assert.equal(newest.to, number);
      assert.equal(newest.from, SENDER);
      assert.equal(newest.encoding, "GSM-7");
      assert.equal(newest.parts, 1);
      assert.match(newest.sentAt, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      const pin = pinOf(newest.text);

      // The messages live in OUTBOX_KV under the number, for an hour at most.
      const { keys } = await (await worker.kv("OUTBOX_KV")).list();
      const key = keys.find((k) => k.name === `outbox:${number}`);
      assert.ok(key, "outbox key per number");
      const now = Date.now() / 1000;
      assert.ok(key.expiration > now + 3500 && key.expiration <= now + 3601, `expiration ${key.expiration}`);

      // OTP_KV holds no PIN.
      const otpKv = await worker.kv("OTP_KV");
      for (const { name } of (await otpKv.list()).keys) {
        const value = await otpKv.get(name);
        assert.ok(!value.includes(pin), `OTP_KV ${name} holds no PIN`);
      }

      const verified = await verifyPin(worker, app, second.otpId, pin);
      assert.deepEqual(verified.body, { status: "VERIFIED" });
    });

    test("keeps only the newest 20 messages per number", async () => {
      const app = await createApp(worker, { type: "outbox" });
      const target = "+33612424198";
      const ids = [];
      for (let i = 0; i < 22; i++) {
        ids.push(assertCreated(await sendOtp(worker, app, { phoneNumber: target })).otpId);
      }
      const res = await worker.fetch(`/admin/outbox?phoneNumber=${encodeURIComponent(target)}`, {
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const { data } = await res.json();
      assert.deepEqual(
        data.map((m) => m.otpId),
        ids.slice(2).reverse(),
      );
    });
  });

  describe("failures", () => {
    let app;
    before(async () => {
      app = await createApp(worker, { type: "twilio" });
    });

    /** Sends with `plan`; asserts the error and that no record of the app was kept. */
    async function expectFailure(plan, status, code, target = app) {
      provider.setPlan(plan);
      provider.clear();
      try {
        const result = await sendOtp(worker, target);
        assertGatewayError(result, status, code, [TWILIO_SID]);
        assert.deepEqual(await otpKeys(worker, target), [], "no OTP record is left");
        return result;
      } finally {
        provider.setPlan({ mode: "ok" });
      }
    }

    test("a 500 from the provider is 502 / 3001", async () => {
      await expectFailure({ mode: "status", status: 500 }, 502, 3001);
      assert.equal(provider.requests.length, 1, "no retry of an SMS send");
    });

    test("a 4xx from the provider is 502 / 3001", async () => {
      await expectFailure(
        { mode: "status", status: 400, body: { code: 21211, message: "Invalid 'To' Phone Number" } },
        502,
        3001,
      );
    });

    test("a provider slower than GATEWAY_TIMEOUT_MS is 504 / 3002, answered at the deadline", async () => {
      const { ms } = await expectFailure({ mode: "slow", delayMs: 5000 }, 504, 3002);
      assert.ok(ms >= TIMEOUT_MS - 50, `answered after ${ms} ms`);
      assert.ok(ms < 3000, `answered after ${ms} ms, not waiting for the provider`);
    });

    test("a malformed success reply is 502 / 3004", async () => {
      await expectFailure({ mode: "malformed" }, 502, 3004);
    });

    test("a reset connection is 502 / 3003", async () => {
      await expectFailure({ mode: "destroy" }, 502, 3003);
    });

    test("a refused connection (closed port) is 502 / 3003", async () => {
      const down = await createApp(worker, { type: "webhook", url: `http://127.0.0.1:${deadPort}/sms` });
      await expectFailure({ mode: "ok" }, 502, 3003, down);
    });

    test("vonage: HTTP 200 with a non-zero message status is 502 / 3001", async () => {
      const vonage = await createApp(worker, { type: "vonage" });
      await expectFailure({ mode: "vonage-rejected", vonageStatus: "2" }, 502, 3001, vonage);
    });

    test("vonage: a malformed reply is 502 / 3004", async () => {
      const vonage = await createApp(worker, { type: "vonage" });
      await expectFailure({ mode: "malformed" }, 502, 3004, vonage);
    });

    test("after a failure the same app sends again", async () => {
      const otp = assertCreated(await sendOtp(worker, app));
      assert.deepEqual(await otpKeys(worker, app), [`otp:${app.appId}:${otp.otpId}`]);
    });
  });

  describe("configuration", () => {
    test("a webhook URL that is not https is refused with 3006", async () => {
      const res = await worker.fetch("/admin/apps", {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: "Bad hook", gateway: { type: "webhook", url: "http://example.com/sms" } }),
      });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.code, 3006);
    });
  });
});

describe("SMS gateways outside development", () => {
  let provider;
  let worker;

  before(async () => {
    provider = await startFakeProvider();
    // No provider credentials at all.
    worker = await startWorker({
      kvNamespaces: ["OTP_KV", "OUTBOX_KV"],
      bindings: { ...SECRETS, ENVIRONMENT: "production", TWILIO_API_BASE: provider.url },
    });
  });
  after(async () => {
    await worker?.dispose();
    await provider?.close();
  });

  test("missing provider credentials are 503 / 3005, naming no setting, leaving no record", async () => {
    const app = await createApp(worker, { type: "twilio" });
    const result = await sendOtp(worker, app);
    assertGatewayError(result, 503, 3005, ["TWILIO"]);
    assert.deepEqual(await otpKeys(worker, app), []);
    assert.equal(provider.requests.length, 0, "nothing was sent");
  });

  test("the outbox gateway cannot be chosen (3007)", async () => {
    const res = await worker.fetch("/admin/apps", {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Prod", gateway: { type: "outbox" } }),
    });
    const body = await res.json();
    assert.equal(res.status, 400);
    assert.equal(body.error.code, 3007);
  });
});
