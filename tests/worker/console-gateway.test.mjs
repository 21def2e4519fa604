// The console's Gateway tab in the admin API: GET /admin/apps/{id}/gateway (which
// secrets and vars each gateway of an application reads, and whether each is set,
// never a value) and POST /admin/apps/{id}/test-sms (one SMS through the app's
// gateway and routes, as an OTP's SMS goes).

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { startFakeProvider } from "../support/fake-provider.mjs";
import { DEV_BINDINGS, startApi } from "../support/api.mjs";

const TWILIO_SID = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN = "twilio-token-value-0123456789";
const PLIVO_ID_US = "MAPLIVOUSACCOUNT01";
const VALUES = [TWILIO_SID, TWILIO_TOKEN, PLIVO_ID_US];

function assertError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
}

describe("the console's gateway tab", () => {
  let worker, api, provider;

  before(async () => {
    provider = await startFakeProvider();
    worker = await startApi({
      bindings: {
        TWILIO_ACCOUNT_SID: TWILIO_SID,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        TWILIO_API_BASE: provider.url,
        PLIVO_AUTH_ID_US: PLIVO_ID_US,
        PLIVO_API_BASE: provider.url,
        // Receipts are asked for on sends, never on a test SMS.
        PUBLIC_BASE_URL: "https://otp.example.com",
        GATEWAY_TIMEOUT_MS: "5000",
      },
    });
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
    await provider?.close();
  });
  beforeEach(() => provider.clear());

  const testSms = (app, body) => api.admin("POST", `/admin/apps/${app.appId}/test-sms`, body);

  test("GET /admin/apps/{id}/gateway: each gateway's secrets and vars, configured or missing, never a value", async () => {
    const app = await api.createApp({
      name: "Gateways",
      gateway: { type: "twilio" },
      routes: [
        { countries: ["US"], gateways: [{ type: "plivo", credentials: "US", from: "+12015550123" }, { type: "vonage" }] },
        { gateways: [{ type: "webhook", url: `${provider.url}/hook` }] },
      ],
    });
    const res = await api.admin("GET", `/admin/apps/${app.appId}/gateway`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const text = JSON.stringify(res.body);
    for (const value of VALUES) assert.ok(!text.includes(value), `no secret value in ${text}`);
    assert.equal(res.body.development, true);
    const g = res.body.gateway;
    assert.equal(g.type, "twilio");
    assert.equal(g.ready, true, JSON.stringify(g));
    assert.deepEqual(g.settings, [
      { name: "TWILIO_ACCOUNT_SID", secret: true, required: true, receipts: false, configured: true },
      { name: "TWILIO_AUTH_TOKEN", secret: true, required: true, receipts: false, configured: true },
      { name: "TWILIO_API_BASE", secret: false, required: false, receipts: false, configured: true },
    ]);
    const [us, fallback] = res.body.routes;
    assert.deepEqual(us.countries, ["US"]);
    const [plivo, vonage] = us.gateways;
    assert.deepEqual([plivo.type, plivo.credentials, plivo.from, plivo.ready], ["plivo", "US", "+12015550123", false]);
    assert.equal(plivo.problem, "a required secret is not set");
    assert.deepEqual(
      plivo.settings.map((s) => [s.name, s.configured]),
      [
        ["PLIVO_AUTH_ID_US", true],
        ["PLIVO_AUTH_TOKEN_US", false],
        // A named account's API host falls back to the plain var.
        ["PLIVO_API_BASE", true],
      ],
    );
    assert.equal(vonage.ready, false);
    assert.deepEqual(
      vonage.settings.map((s) => [s.name, s.required, s.receipts, s.configured]),
      [
        ["VONAGE_API_KEY", true, false, false],
        ["VONAGE_API_SECRET", true, false, false],
        ["VONAGE_SIGNATURE_SECRET", false, true, false],
        ["VONAGE_SIGNATURE_METHOD", false, false, false],
        ["VONAGE_API_BASE", false, false, false],
      ],
    );
    assert.deepEqual(fallback.gateways[0], { type: "webhook", url: `${provider.url}/hook`, ready: true, settings: [] });
    // The outbox reads nothing and works in development.
    const outbox = await api.createApp({ name: "Outbox" });
    const o = await api.admin("GET", `/admin/apps/${outbox.appId}/gateway`);
    assert.deepEqual(o.body, { development: true, gateway: { type: "outbox", ready: true, settings: [] }, routes: [] });
  });

  test("a test SMS goes through the outbox with the given text, or a default one", async () => {
    const app = await api.createApp({ name: "Console Co" });
    const res = await testSms(app, { phoneNumber: "+33612424111", text: "Hello from the console" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      [res.body.accepted, res.body.outcome, res.body.gateway, res.body.phoneNumber, res.body.countryIso, res.body.numberType],
      [true, "accepted", "outbox", "+33612424111", "FR", "mobile"],
    );
    assert.deepEqual([res.body.encoding, res.body.units, res.body.parts], ["GSM-7", 22, 1]);
    assert.deepEqual(res.body.attempts, [{ gateway: "outbox", outcome: "accepted" }]);
    assert.equal(res.body.error, undefined);
    let [message] = await api.outbox("+33612424111");
    assert.equal(message.text, "Hello from the console");
    // No text: a default naming the app; a national number with its country.
    const plain = await testSms(app, { phoneNumber: "06 12 42 41 12", countryIso: "FR" });
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    assert.equal(plain.body.phoneNumber, "+33612424112");
    [message] = await api.outbox("+33612424112");
    assert.equal(message.text, "Test message from Console Co");
    // Nothing is stored as an OTP: no record in KV holds the number.
    const kv = await worker.kv();
    const { keys } = await kv.list();
    for (const { name } of keys) {
      const value = (await kv.get(name)) ?? "";
      assert.ok(!value.includes("612424111") && !value.includes("612424112"), `${name} holds no number`);
    }
  });

  test("a test SMS fails over like an OTP's SMS and answers each gateway tried, without asking for receipts", async () => {
    const app = await api.createApp({
      name: "Failover",
      routes: [{ gateways: [{ type: "twilio", credentials: "NOPE" }, { type: "twilio", from: "Acme" }] }],
    });
    const res = await testSms(app, { phoneNumber: "+33612424113", text: "Route check" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.accepted, true);
    assert.equal(res.body.gateway, "twilio");
    assert.match(res.body.messageId, /^SM[0-9a-f]{32}$/);
    assert.deepEqual(
      res.body.attempts.map((a) => [a.gateway, a.credentials, a.from, a.outcome, a.code]),
      [
        ["twilio", "NOPE", undefined, "not_accepted", 3005],
        ["twilio", undefined, "Acme", "accepted", undefined],
      ],
    );
    assert.match(res.body.attempts[0].detail, /TWILIO_ACCOUNT_SID/);
    assert.equal(provider.requests.length, 1);
    const form = new URLSearchParams(provider.requests[0].body);
    assert.deepEqual([form.get("To"), form.get("From"), form.get("Body")], ["+33612424113", "Acme", "Route check"]);
    assert.equal(form.get("StatusCallback"), null, "no receipt asked for a test SMS");
  });

  test("a gateway's refusal is answered as not sent, with its code", async () => {
    const app = await api.createApp({ name: "Refused", gateway: { type: "twilio" } });
    provider.setPlan({ mode: "status", status: 400, body: { code: 21211, message: "Invalid To" } });
    try {
      const res = await testSms(app, { phoneNumber: "+33612424114" });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual([res.body.accepted, res.body.outcome, res.body.gateway], [false, "not_sent", undefined]);
      assert.equal(res.body.error.code, 3001);
      assert.deepEqual(res.body.attempts.map((a) => [a.gateway, a.outcome, a.code]), [["twilio", "not_accepted", 3001]]);
      assert.match(res.body.attempts[0].detail, /21211/);
    } finally {
      provider.setPlan({ mode: "ok" });
    }
  });

  test("numbers, texts and sizes a send refuses are refused with the send's codes, and nothing is sent", async () => {
    const app = await api.createApp({ name: "Strict", gateway: { type: "twilio" }, limits: { maxParts: 1 } });
    const refused = [
      [{ phoneNumber: "+442079460958" }, 400, 2118], // a London landline
      [{ phoneNumber: "+9712234567" }, 400, 2020], // not in the plan
      [{ phoneNumber: "" }, 400, 2001],
      [{ phoneNumber: 33612424115 }, 400, 2020],
      [{ phoneNumber: "+33612424115", from: "A" }, 400, 2005],
      [{ phoneNumber: "+33612424115", text: "x".repeat(161) }, 400, 2128], // two parts, maxParts 1
      [{ phoneNumber: "+33612424115", text: "" }, 400, 1065],
      [{ phoneNumber: "+33612424115", text: 5 }, 400, 1065],
      [{ phoneNumber: "+33612424115", text: "Pay \u202Eevil" }, 400, 1065],
      [{ phoneNumber: "+33612424115", text: "y".repeat(1001) }, 400, 1065],
      [{ phoneNumber: "+33612424115", ttl: 60 }, 400, 1065],
    ];
    for (const [body, status, code] of refused) {
      assertError(await testSms(app, body), status, code);
    }
    assertError(await api.call("POST", `/admin/apps/${app.appId}/test-sms`, { body: "[]", headers: { authorization: `Bearer ${DEV_BINDINGS.ADMIN_TOKEN}` } }), 400, 1000);
    assert.equal(provider.requests.length, 0, "nothing sent");
  });

  test("a test SMS takes from the app's caps like a send (an admin session cannot pump)", async () => {
    const app = await api.createApp({ name: "Capped", limits: { phoneCooldownSeconds: 30 } });
    assert.equal((await testSms(app, { phoneNumber: "+33612424116" })).status, 200);
    const again = await testSms(app, { phoneNumber: "+33612424116" });
    assertError(again, 429, 1007);
    assert.ok(Number(again.headers.get("retry-after")) > 0);
    assert.equal((await api.outbox("+33612424116")).length, 1);
    // A test number never gets an SMS.
    const testing = await api.createApp({ name: "Test numbers", policy: { testNumbers: [{ number: "+33612424117", code: "424242" }] } });
    const res = await testSms(testing, { phoneNumber: "+33612424117" });
    assert.deepEqual([res.status, res.body.accepted, res.body.outcome, res.body.attempts], [200, false, "test_number", []]);
    assert.equal((await api.outbox("+33612424117")).length, 0);
  });

  test("both endpoints need the admin token, and an existing app", async () => {
    const app = await api.createApp({ name: "Guarded" });
    assertError(await api.call("GET", `/admin/apps/${app.appId}/gateway`), 401, 1012);
    assertError(await api.call("POST", `/admin/apps/${app.appId}/test-sms`, { body: { phoneNumber: "+33612424118" } }), 401, 1012);
    const wrong = { authorization: "Bearer not-the-admin-token-0123456789abcdef" };
    assertError(await api.call("GET", `/admin/apps/${app.appId}/gateway`, { headers: wrong }), 401, 1012);
    assert.equal((await api.outbox("+33612424118")).length, 0);
    const missing = "123e4567-e89b-42d3-a456-426614174000";
    assertError(await api.admin("GET", `/admin/apps/${missing}/gateway`), 404, 1010);
    assertError(await testSms({ appId: missing }, { phoneNumber: "+33612424118" }), 404, 1010);
  });
});
