// SMS gateways of the built worker, against a fake provider on 127.0.0.1: the
// request each adapter sends (method, path, auth, body), the outbox, what each
// outcome of a send means (taken; refused or provably not taken, which leaves no
// record and costs nothing; maybe taken: a timeout, a 500/502/504, a lost
// connection or an unreadable success, which keeps the PENDING OTP, charges it and
// never sends again), routes by country and prefix with their senders and named
// credentials, failover within one deadline, and reply bodies read no further
// than 64 KiB. Delivery receipts are in receipts.test.mjs.

import { insightStatuses, NO_LIMITS } from "../support/api.mjs";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  closedPort,
  providerOf as providerOfPath,
  startFakeProvider,
  verifyStandardWebhook,
} from "../support/fake-provider.mjs";
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
const TWILIO_SID_EU = "AC00000000000000000000000000000eee";
const CREDENTIALS = {
  TWILIO_ACCOUNT_SID: TWILIO_SID,
  TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
  TWILIO_ACCOUNT_SID_EU: TWILIO_SID_EU,
  TWILIO_AUTH_TOKEN_EU: "twilio-eu-auth-token-secret",
  VONAGE_API_KEY: "vonage-key",
  VONAGE_API_SECRET: "vonage-secret-value",
  SMSCX_API_KEY: "smscx-api-key-value",
  DEXATEL_API_KEY: "dexatel-api-key-value",
  PLIVO_AUTH_ID: "MAXXXXXXXXXXXXXXXXXX",
  PLIVO_AUTH_TOKEN: "plivo-auth-token-secret",
  SINCH_SERVICE_PLAN_ID: "a1b2c3d4e5",
  SINCH_API_TOKEN: "sinch-api-token-secret",
  INFOBIP_API_KEY: "infobip-api-key-secret",
};
/** Path prefixes of the providers on the fake provider, for per-provider plans. */
const PATHS = {
  twilio: "/2010-04-01/",
  vonage: "/sms/json",
  plivo: "/v1/Account/",
  sinch: "/xms/",
  infobip: "/sms/3/",
};
const FR = "+33612424111";
const GB = "+447400123456";
const DE = "+4915123456789";
const US = "+12015550123";
/** Deadline of one provider request in these tests (GATEWAY_TIMEOUT_MS). */
const TIMEOUT_MS = 600;
const PHONE = "+33612424111";
const DIGITS = "33612424111";
const SENDER = "AcmeCo";
const TEMPLATE = "Your Acme code is {{pin}}";
const PIN_IN_TEXT = /code is ([0-9]{6})$/;
const OTP_OBJECT_KEYS = ["otpId", "phoneNumber", "status", "cost", "parts", "dateCreated", "dateExpires"];

/** Admin helper: creates an app with `gateway` (and `extra`: routes, limits); returns the 201 body. */
async function createApp(worker, gateway, otp = {}, extra = {}) {
  const res = await worker.fetch("/admin/apps", {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      name: `Acme ${gateway.type}`,
      gateway,
      otp: { originator: SENDER, template: TEMPLATE, ...otp },
      limits: NO_LIMITS,
      ...extra,
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body;
}

/** An admin call; returns `{ res, body }`. */
async function admin(worker, method, path, body) {
  const res = await worker.fetch(path, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { res, body: await res.json() };
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

/**
 * The OTPs whose record the shards of `app` kept (every status but UNSENT, which a
 * record removed before its SMS went out has), from the insights database.
 */
async function keptRecords(worker, app, options) {
  const statuses = await insightStatuses(worker, app.appId, options);
  return Object.keys(statuses).filter((id) => statuses[id] !== "UNSENT");
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
        PLIVO_API_BASE: provider.url,
        SINCH_API_BASE: provider.url,
        INFOBIP_API_BASE: provider.url,
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
      assert.deepEqual(Object.keys(body).sort(), ["api_key", "api_secret", "client-ref", "from", "text", "to", "type"]);
      assert.equal(body["client-ref"], otp.otpId, "the otpId as Vonage's client reference");
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

    test("plivo: Basic-auth JSON to the account's Message/ with digits-only dst", async () => {
      const app = await createApp(worker, { type: "plivo" });
      provider.clear();
      const otp = assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      assert.equal(req.method, "POST");
      assert.equal(req.path, `/v1/Account/${CREDENTIALS.PLIVO_AUTH_ID}/Message/`);
      assert.equal(
        req.headers.authorization,
        `Basic ${Buffer.from(`${CREDENTIALS.PLIVO_AUTH_ID}:${CREDENTIALS.PLIVO_AUTH_TOKEN}`).toString("base64")}`,
      );
      const body = JSON.parse(req.body);
      assert.deepEqual(Object.keys(body), ["src", "dst", "text"], "no receipt url without PUBLIC_BASE_URL");
      assert.equal(body.src, SENDER);
      assert.equal(body.dst, DIGITS);
      const verified = await verifyPin(worker, app, otp.otpId, pinOf(body.text));
      assert.deepEqual(verified.body, { status: "VERIFIED" });
    });

    test("sinch: a Bearer batch to the service plan with the otpId as client_reference", async () => {
      const app = await createApp(worker, { type: "sinch" });
      provider.clear();
      const otp = assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      assert.equal(req.path, `/xms/v1/${CREDENTIALS.SINCH_SERVICE_PLAN_ID}/batches`);
      assert.equal(req.headers.authorization, `Bearer ${CREDENTIALS.SINCH_API_TOKEN}`);
      const body = JSON.parse(req.body);
      assert.deepEqual(body.to, [PHONE]);
      assert.equal(body.from, SENDER);
      assert.equal(body.client_reference, otp.otpId);
      assert.equal(body.delivery_report, "none");
      const verified = await verifyPin(worker, app, otp.otpId, pinOf(body.body));
      assert.deepEqual(verified.body, { status: "VERIFIED" });
    });

    test("infobip: one message to /sms/3/messages with App auth", async () => {
      const app = await createApp(worker, { type: "infobip" });
      provider.clear();
      const otp = assertCreated(await sendOtp(worker, app));
      const [req] = await provider.waitForRequests(1);
      assert.equal(req.path, "/sms/3/messages");
      assert.equal(req.headers.authorization, `App ${CREDENTIALS.INFOBIP_API_KEY}`);
      const { messages } = JSON.parse(req.body);
      assert.equal(messages.length, 1);
      assert.equal(messages[0].sender, SENDER);
      assert.deepEqual(messages[0].destinations, [{ to: DIGITS }]);
      assert.equal(messages[0].webhooks, undefined);
      const verified = await verifyPin(worker, app, otp.otpId, pinOf(messages[0].content.text));
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

  /** `plan` for every path. */
  const everywhere = (plan) => Object.fromEntries(["", ...Object.values(PATHS)].map((prefix) => [prefix, plan]));

  /** Runs `fn` with `plans` (path prefix -> plan) in place, then puts "ok" back. */
  async function withPlans(plans, fn) {
    for (const [prefix, plan] of Object.entries(plans)) provider.setPlan(plan, prefix);
    provider.clear();
    try {
      return await fn();
    } finally {
      for (const prefix of Object.keys(plans)) provider.setPlan({ mode: "ok" }, prefix);
    }
  }

  describe("one gateway: taken, refused, or maybe taken", () => {
    /** Refusals leave no record: this app never has one. */
    let app;
    /** Maybe-sent OTPs stay: they go to this one. */
    let kept;
    before(async () => {
      app = await createApp(worker, { type: "twilio" });
      kept = await createApp(worker, { type: "twilio" });
    });

    /** Sends with `plan`; asserts the error and that no record of the app was kept. */
    async function expectFailure(plan, status, code, target = app) {
      return withPlans(everywhere(plan), async () => {
        const result = await sendOtp(worker, target);
        assertGatewayError(result, status, code, [TWILIO_SID]);
        assert.equal(provider.requests.length, 1, "one request: a send is never retried");
        assert.deepEqual(await keptRecords(worker, target), [], "no OTP record is left");
        return result;
      });
    }

    /** Sends with `plan`; asserts a PENDING OTP that stays (delivery unknown), sent once. */
    async function expectUnknown(plan, target = kept) {
      return withPlans(everywhere(plan), async () => {
        const result = await sendOtp(worker, target);
        const otp = assertCreated(result);
        assert.equal(provider.requests.length, 1, "never sent again");
        assert.ok((await keptRecords(worker, target)).includes(otp.otpId), "the OTP stays");
        return { ...result, otp };
      });
    }

    test("a 4xx from the provider is 502 / 3001, no record, no second gateway", async () => {
      await expectFailure(
        { mode: "status", status: 400, body: { code: 21211, message: "Invalid 'To' Phone Number" } },
        502,
        3001,
      );
    });

    test("429 and 503 are a busy gateway: 503 / 3008, no record", async () => {
      await expectFailure({ mode: "status", status: 429 }, 503, 3008);
      await expectFailure({ mode: "status", status: 503 }, 503, 3008);
    });

    test("Cloudflare's 521 (the provider's host refused the connection) is 502 / 3003", async () => {
      await expectFailure({ mode: "status", status: 521, body: "origin down" }, 502, 3003);
    });

    for (const status of [500, 502, 504]) {
      test(`a ${status} may have sent the SMS: 201 PENDING, kept, never sent again`, async () => {
        const { otp } = await expectUnknown({ mode: "status", status });
        assert.equal(otp.status, "PENDING");
      });
    }

    test("no reply before GATEWAY_TIMEOUT_MS: 201 PENDING at the deadline, the SMS may be out", async () => {
      const { ms } = await expectUnknown({ mode: "hang" });
      assert.ok(ms >= TIMEOUT_MS - 50, `answered after ${ms} ms`);
      assert.ok(ms < 3000, `answered after ${ms} ms, not waiting for the provider`);
    });

    test("an unreadable success reply is a delivery unknown", async () => {
      await expectUnknown({ mode: "malformed" });
    });

    test("a connection that fails without a reply is 502 / 3003, no record", async () => {
      await expectFailure({ mode: "destroy" }, 502, 3003);
      const down = await createApp(worker, { type: "webhook", url: `http://127.0.0.1:${deadPort}/sms` });
      const result = await sendOtp(worker, down);
      assertGatewayError(result, 502, 3003);
      assert.deepEqual(await keptRecords(worker, down), []);
    });

    test("the PIN of a send whose delivery is unknown verifies (the SMS did go out)", async () => {
      const { otp } = await expectUnknown({ mode: "status", status: 500 });
      const [req] = provider.requests;
      const pin = pinOf(new URLSearchParams(req.body).get("Body"));
      const verified = await verifyPin(worker, kept, otp.otpId, pin);
      assert.deepEqual(verified.body, { status: "VERIFIED" });
    });

    test("vonage: HTTP 200 with a non-zero status is 502 / 3001; throttled (1) is busy", async () => {
      const vonage = await createApp(worker, { type: "vonage" });
      await expectFailure({ mode: "vonage-rejected", vonageStatus: "2" }, 502, 3001, vonage);
      await expectFailure({ mode: "vonage-rejected", vonageStatus: "1" }, 503, 3008, vonage);
      await expectUnknown({ mode: "malformed" }, vonage);
    });

    test("a send that may have gone out is charged, a refused one is not", async () => {
      const priced = await createApp(
        worker,
        { type: "twilio" },
        { prices: { default: 0.05 } },
        { limits: { ...NO_LIMITS, dailyBudget: 0.05 } },
      );
      // Refused: given back, so the one SMS of the budget is still there.
      await expectFailure({ mode: "status", status: 400 }, 502, 3001, priced);
      // Maybe sent: charged, with its cost on the OTP.
      const { otp } = await expectUnknown({ mode: "status", status: 502 }, priced);
      assert.equal(otp.cost, 0.05);
      const next = await sendOtp(worker, priced, { phoneNumber: GB });
      assert.equal(next.res.status, 429, JSON.stringify(next.body));
      assert.equal(next.body.error.code, 1007, "the budget was spent by the unknown send");
    });

    test("after a failure the same app sends again", async () => {
      const fresh = await createApp(worker, { type: "twilio" });
      await expectFailure({ mode: "status", status: 400 }, 502, 3001, fresh);
      const otp = assertCreated(await sendOtp(worker, fresh));
      assert.deepEqual(await keptRecords(worker, fresh), [otp.otpId]);
    });
  });

  describe("routes and failover", () => {
    let app;
    const routes = [
      { prefixes: ["+4474"], gateways: [{ type: "twilio", credentials: "EU", from: "+447400123000" }] },
      { countries: ["FR", "US"], gateways: [{ type: "twilio" }, { type: "vonage", from: "AcmeFR" }, { type: "plivo" }] },
      { gateways: [{ type: "sinch" }, { type: "infobip" }] },
    ];
    before(async () => {
      app = await createApp(worker, { type: "outbox" }, {}, { routes });
      assert.deepEqual(app.routes, routes, "the routes as given");
    });

    test("a prefix route sends through its named credentials and sender", async () => {
      provider.clear();
      assertCreated(await sendOtp(worker, app, { phoneNumber: GB }));
      const [req] = await provider.waitForRequests(1);
      assert.equal(req.path, `/2010-04-01/Accounts/${TWILIO_SID_EU}/Messages.json`);
      assert.equal(
        req.headers.authorization,
        `Basic ${Buffer.from(`${TWILIO_SID_EU}:${CREDENTIALS.TWILIO_AUTH_TOKEN_EU}`).toString("base64")}`,
      );
      const form = new URLSearchParams(req.body);
      assert.equal(form.get("From"), "+447400123000");
      assert.equal(form.get("To"), GB);
    });

    test("a country route uses its first gateway; the default route the rest", async () => {
      provider.clear();
      assertCreated(await sendOtp(worker, app, { phoneNumber: US }));
      const [us] = await provider.waitForRequests(1);
      assert.equal(providerOfPath(us.path), "twilio");
      assert.equal(new URLSearchParams(us.body).get("From"), SENDER, "the app's sender");
      provider.clear();
      assertCreated(await sendOtp(worker, app, { phoneNumber: DE }));
      const [de] = await provider.waitForRequests(1);
      assert.equal(providerOfPath(de.path), "sinch");
    });

    test("429 then 503 fail over to the next gateways, with each one's sender", async () => {
      await withPlans(
        { [PATHS.twilio]: { mode: "status", status: 429 }, [PATHS.vonage]: { mode: "status", status: 503 } },
        async () => {
          const otp = assertCreated(await sendOtp(worker, app, { phoneNumber: FR }));
          assert.deepEqual(provider.requests.map((r) => providerOfPath(r.path)), ["twilio", "vonage", "plivo"]);
          const vonage = JSON.parse(provider.requests[1].body);
          assert.equal(vonage.from, "AcmeFR");
          const plivo = JSON.parse(provider.requests[2].body);
          assert.equal(plivo.src, SENDER);
          const verified = await verifyPin(worker, app, otp.otpId, pinOf(plivo.text));
          assert.deepEqual(verified.body, { status: "VERIFIED" }, "the PIN that went out");
        },
      );
    });

    test("a 500 or a hang never fails over: one request, kept as unknown", async () => {
      for (const plan of [{ mode: "status", status: 500 }, { mode: "hang" }]) {
        await withPlans({ [PATHS.twilio]: plan }, async () => {
          assertCreated(await sendOtp(worker, app, { phoneNumber: FR }));
          await new Promise((resolve) => setTimeout(resolve, 100));
          assert.deepEqual(provider.requests.map((r) => providerOfPath(r.path)), ["twilio"]);
        });
      }
    });

    test("a refusal (4xx) does not fail over", async () => {
      await withPlans({ [PATHS.sinch]: { mode: "status", status: 400, body: { code: "syntax_invalid_json" } } }, async () => {
        assertGatewayError(await sendOtp(worker, app, { phoneNumber: DE }), 502, 3001);
        assert.deepEqual(provider.requests.map((r) => providerOfPath(r.path)), ["sinch"]);
      });
    });

    test("every gateway busy: the last one's error, no record", async () => {
      await withPlans(
        { [PATHS.sinch]: { mode: "status", status: 503 }, [PATHS.infobip]: { mode: "status", status: 429 } },
        async () => {
          const result = await sendOtp(worker, app, { phoneNumber: DE });
          assertGatewayError(result, 503, 3008);
          assert.deepEqual(provider.requests.map((r) => providerOfPath(r.path)), ["sinch", "infobip"]);
        },
      );
    });

    test("all attempts share one GATEWAY_TIMEOUT_MS deadline", async () => {
      await withPlans(
        { [PATHS.sinch]: { mode: "status", status: 503, delayMs: 400 }, [PATHS.infobip]: { mode: "hang" } },
        async () => {
          const { ms, res, body } = await sendOtp(worker, app, { phoneNumber: DE });
          assert.equal(res.status, 201, JSON.stringify(body));
          assert.equal(provider.requests.length, 2);
          assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 350, `answered after ${ms} ms, within one deadline`);
        },
      );
    });

    test("a refused connection fails over to the next gateway", async () => {
      const routed = await createApp(worker, { type: "outbox" }, {}, {
        routes: [{ countries: ["FR"], gateways: [
          { type: "webhook", url: `http://127.0.0.1:${deadPort}/sms` },
          { type: "webhook", url: `${provider.url}/hooks/second` },
        ] }],
      });
      provider.clear();
      const otp = assertCreated(await sendOtp(worker, routed, { phoneNumber: FR }));
      const [req] = await provider.waitForRequests(1, { path: "/hooks/second" });
      assert.equal(JSON.parse(req.body).data.otpId, otp.otpId);
    });

    test("a gateway without credentials is skipped for the next", async () => {
      const routed = await createApp(worker, { type: "outbox" }, {}, {
        routes: [{ countries: ["FR"], gateways: [{ type: "twilio", credentials: "NOPE" }, { type: "vonage" }] }],
      });
      provider.clear();
      assertCreated(await sendOtp(worker, routed, { phoneNumber: FR }));
      assert.deepEqual(provider.requests.map((r) => providerOfPath(r.path)), ["vonage"]);
    });
  });

  describe("reply bodies", () => {
    test("a reply body is read no further than 64 KiB", async () => {
      const app = await createApp(worker, { type: "twilio" });
      await withPlans({ [PATHS.twilio]: { mode: "stream", status: 201, totalBytes: 8 * 1024 * 1024, chunkBytes: 16 * 1024 } }, async () => {
        const { ms, res } = await sendOtp(worker, app);
        assert.equal(res.status, 201, "an unreadable success: delivery unknown");
        assert.ok(ms < TIMEOUT_MS - 100, `answered after ${ms} ms, without waiting for the rest of the body`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const req = provider.requests.find((r) => r.streamed !== undefined);
        assert.ok(req, "the send was answered with a stream");
        assert.ok(req.streamed < 2 * 1024 * 1024, `the provider could write ${req.streamed} bytes`);
      });
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

    test("routes are checked like every setting, and PATCH replaces them", async () => {
      const app = await createApp(worker, { type: "outbox" });
      const bad = [
        [{ countries: ["fr"], gateways: [{ type: "twilio" }] }, 1040],
        [{ prefixes: ["33"], gateways: [{ type: "twilio" }] }, 1040],
        [{ countries: ["FR"], gateways: [] }, 1040],
        [{ countries: ["FR"], gateways: [{ type: "carrier-pigeon" }] }, 1040],
        [{ country: ["FR"], gateways: [{ type: "twilio" }] }, 1040],
        [{ countries: ["FR"], gateways: [{ type: "twilio", credentials: "eu" }] }, 3006],
        [{ countries: ["FR"], gateways: [{ type: "twilio", from: "AcmeCorporation" }] }, 2005],
      ];
      for (const [route, code] of bad) {
        const { res, body } = await admin(worker, "PATCH", `/admin/apps/${app.appId}`, { routes: [route] });
        assert.equal(res.status, 400, JSON.stringify(route));
        assert.equal(body.error.code, code, JSON.stringify(route));
      }
      const last = await admin(worker, "PATCH", `/admin/apps/${app.appId}`, {
        routes: [{ gateways: [{ type: "sinch" }] }, { countries: ["FR"], gateways: [{ type: "twilio" }] }],
      });
      assert.equal(last.body.error.code, 1040, "the default route comes last");
      const routes = [{ countries: ["FR"], gateways: [{ type: "plivo", credentials: "FR_1" }] }];
      const ok = await admin(worker, "PATCH", `/admin/apps/${app.appId}`, { routes });
      assert.equal(ok.res.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(ok.body.routes, routes);
      const cleared = await admin(worker, "PATCH", `/admin/apps/${app.appId}`, { routes: [] });
      assert.deepEqual(cleared.body.routes, []);
      const read = await admin(worker, "GET", `/admin/apps/${app.appId}`);
      assert.ok(!JSON.stringify(read.body).includes("token"), "no secret in the app");
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
    // Outside development the shard sends its insights on its own, about 5 s later.
    const statuses = await insightStatuses(worker, app.appId, { until: (s) => Object.keys(s).length > 0 });
    assert.deepEqual(Object.values(statuses), ["UNSENT"], "its record was removed");
    assert.equal(provider.requests.length, 0, "nothing was sent");
  });

  test("a webhook to a private host is never called outside development (3005)", async () => {
    const app = await createApp(worker, { type: "webhook", url: `${provider.url}/hooks/sms` });
    provider.clear();
    const result = await sendOtp(worker, app);
    assertGatewayError(result, 503, 3005);
    assert.equal(provider.requests.length, 0, "nothing was sent");
  });

  test("the outbox gateway cannot be chosen, not even in a route (3007)", async () => {
    const routed = await worker.fetch("/admin/apps", {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Prod", gateway: { type: "twilio" }, routes: [{ countries: ["FR"], gateways: [{ type: "outbox" }] }] }),
    });
    assert.equal(routed.status, 400);
    assert.equal((await routed.json()).error.code, 3007);
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
