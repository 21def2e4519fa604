// Delivery receipts on the built worker, against the fake provider on 127.0.0.1
// playing each provider: with PUBLIC_BASE_URL set, each send asks for receipts at
// /dlr/{provider}/{appId}?otp=…; the test then plays the provider's callback in its
// own format and authentication (Twilio's and Plivo's signatures over the URL,
// Vonage's signed receipts or the receipt token, Dexatel's body signature, the
// token for Sinch and Infobip, Standard Webhooks for the webhook gateway): a
// receipt delivered and failed is recorded, its replay changes nothing, a forged
// one is 401 and stores nothing, one for another message is 404; the OTP object
// never changes shape; a send whose delivery was unknown is settled by its receipt.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { NO_LIMITS } from "../support/api.mjs";
import {
  dexatelSignature,
  plivoSignatureV3,
  standardWebhookHeaders,
  startFakeProvider,
  twilioSignature,
  vonageSignature,
} from "../support/fake-provider.mjs";
import { startWorker } from "./harness.mjs";

const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
const PUBLIC_BASE_URL = "https://otp.example.test";
const TWILIO_SID = "AC0123456789abcdef0123456789abcdef";
const CREDENTIALS = {
  TWILIO_ACCOUNT_SID: TWILIO_SID,
  TWILIO_AUTH_TOKEN: "twilio-auth-token-secret",
  VONAGE_API_KEY: "vonage-key",
  VONAGE_API_SECRET: "vonage-secret-value",
  VONAGE_API_KEY_SIGNED: "vonage-key-2",
  VONAGE_API_SECRET_SIGNED: "vonage-secret-value-2",
  VONAGE_SIGNATURE_SECRET_SIGNED: "vonage-signature-secret",
  DEXATEL_API_KEY: "dexatel-api-key-value",
  DEXATEL_WEBHOOK_SECRET: "dexatel-webhook-secret",
  PLIVO_AUTH_ID: "MAXXXXXXXXXXXXXXXXXX",
  PLIVO_AUTH_TOKEN: "plivo-auth-token-secret",
  SINCH_SERVICE_PLAN_ID: "a1b2c3d4e5",
  SINCH_API_TOKEN: "sinch-api-token-secret",
  INFOBIP_API_KEY: "infobip-api-key-secret",
};
const OTP_OBJECT_KEYS = [
  "attempts", "cost", "countryIso", "dateCreated", "dateExpires", "maxAttempts", "otpCallbackUrl",
  "otpId", "parts", "phoneNumber", "status", "trackId", "ttl",
];
let phoneSeq = 0;
/** A distinct valid French mobile per send. */
const nextPhone = () => `+336124${String(10000 + (phoneSeq++ % 90000)).padStart(5, "0")}`;

describe("delivery receipts", () => {
  let provider;
  let worker;

  before(async () => {
    provider = await startFakeProvider();
    const base = provider.url;
    worker = await startWorker({
      kvNamespaces: ["OTP_KV", "OUTBOX_KV"],
      bindings: {
        ADMIN_TOKEN,
        PIN_KEYS: "test-pin-key-0123456789abcdef",
        TOKEN_KEY: "test-token-key-0123456789abcdef",
        HASH_KEY: "test-hash-key-0123456789abcdef",
        ENVIRONMENT: "development",
        GATEWAY_TIMEOUT_MS: "600",
        PUBLIC_BASE_URL,
        ...CREDENTIALS,
        TWILIO_API_BASE: base,
        VONAGE_API_BASE: base,
        DEXATEL_API_BASE: base,
        PLIVO_API_BASE: base,
        SINCH_API_BASE: base,
        INFOBIP_API_BASE: base,
      },
    });
  });
  after(async () => {
    await worker?.dispose();
    await provider?.close();
  });

  async function admin(method, path, body) {
    const res = await worker.fetch(path, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { res, body: await res.json() };
  }

  async function createApp(gateway) {
    const { res, body } = await admin("POST", "/admin/apps", {
      name: `Receipts ${gateway.type}`,
      gateway,
      otp: { originator: "AcmeCo", template: "Your Acme code is {{pin}}" },
      limits: NO_LIMITS,
    });
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.match(body.receiptToken, /^[A-Za-z0-9_-]{43}$/, "the receipt token, shown once");
    return body;
  }

  /** Sends an OTP as `app`; returns `{ otp, req }` with the provider's recorded request. */
  async function send(app, path) {
    provider.clear();
    const res = await worker.fetch("/otp", {
      method: "POST",
      headers: { "X-API-KEY": app.apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ phoneNumber: nextPhone() }),
    });
    const otp = await res.json();
    assert.equal(res.status, 201, JSON.stringify(otp));
    const [req] = await provider.waitForRequests(1, { path });
    return { otp, req };
  }

  /** POSTs (or GETs) a receipt to the worker at `url` (a PUBLIC_BASE_URL URL). */
  async function receipt(url, { method = "POST", headers = {}, body } = {}) {
    const parsed = new URL(url);
    assert.equal(parsed.origin, PUBLIC_BASE_URL);
    const res = await worker.fetch(`${parsed.pathname}${parsed.search}`, { method, headers, body });
    return { res, body: await res.json() };
  }

  function assertStatus({ res, body }, status, extra) {
    assert.equal(res.status, status, JSON.stringify(body));
    if (extra !== undefined) {
      if (typeof extra === "number") assert.equal(body.error.code, extra);
      else assert.deepEqual(body, extra);
    }
  }

  const RECORDED = { recorded: 1, unchanged: 0 };
  const UNCHANGED = { recorded: 0, unchanged: 1 };

  /** The OTP object as GET /otp/{id} shows it: the SMS.CX shape, unchanged by receipts. */
  async function assertObjectUnchanged(app, otpId) {
    const res = await worker.fetch(`/otp/${otpId}`, { headers: { "X-API-KEY": app.apiKey } });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(body).sort(), OTP_OBJECT_KEYS);
    assert.equal(body.status, "PENDING");
  }

  describe("twilio: X-Twilio-Signature over the StatusCallback URL", () => {
    let app;
    before(async () => {
      app = await createApp({ type: "twilio" });
    });

    const form = (params) => new URLSearchParams(params).toString();
    const signed = (url, params, token = CREDENTIALS.TWILIO_AUTH_TOKEN) => ({
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilioSignature(token, url, params),
      },
      body: form(params),
    });

    test("delivered and failed are recorded, replays and forgeries change nothing", async () => {
      const { otp, req } = await send(app, "/2010-04-01/");
      const callback = new URLSearchParams(req.body).get("StatusCallback");
      assert.equal(callback, `${PUBLIC_BASE_URL}/dlr/twilio/${app.appId}?otp=${otp.otpId}`, "no token: Twilio signs");
      const sid = req.reply.sid;
      const failed = { MessageSid: sid, MessageStatus: "failed", ErrorCode: "30003", AccountSid: TWILIO_SID };
      const delivered = { MessageSid: sid, MessageStatus: "delivered", AccountSid: TWILIO_SID };

      // Forged: another key, or no signature at all. Nothing is stored.
      assertStatus(await receipt(callback, signed(callback, delivered, "guessed-token")), 401, 1041);
      assertStatus(await receipt(callback, { ...signed(callback, delivered), headers: { "Content-Type": "application/x-www-form-urlencoded" } }), 401, 1041);
      // An intermediate status settles nothing.
      assertStatus(await receipt(callback, signed(callback, { MessageSid: sid, MessageStatus: "sent" })), 200, UNCHANGED);
      // The first final status is recorded (the forged "delivered" was not).
      assertStatus(await receipt(callback, signed(callback, failed)), 200, RECORDED);
      assertStatus(await receipt(callback, signed(callback, failed)), 200, UNCHANGED);
      // A later "delivered" wins over a failure; its replay changes nothing.
      assertStatus(await receipt(callback, signed(callback, delivered)), 200, RECORDED);
      assertStatus(await receipt(callback, signed(callback, delivered)), 200, UNCHANGED);
      assertStatus(await receipt(callback, signed(callback, failed)), 200, UNCHANGED);
      // Another message of the app, signed: 404.
      assertStatus(await receipt(callback, signed(callback, { ...delivered, MessageSid: `SM${"0".repeat(32)}` })), 404, 1042);
      await assertObjectUnchanged(app, otp.otpId);
    });

    test("a send whose delivery was unknown (500) is settled by its receipt", async () => {
      provider.setPlan({ mode: "status", status: 500 }, "/2010-04-01/");
      try {
        const { otp, req } = await send(app, "/2010-04-01/");
        const callback = new URLSearchParams(req.body).get("StatusCallback");
        const params = { MessageSid: `SM${"ab".repeat(16)}`, MessageStatus: "delivered" };
        assertStatus(await receipt(callback, signed(callback, params)), 200, RECORDED);
        assertStatus(await receipt(callback, signed(callback, params)), 200, UNCHANGED);
        // Now the id is known: a receipt for another message is refused.
        assertStatus(await receipt(callback, signed(callback, { ...params, MessageSid: `SM${"cd".repeat(16)}` })), 404, 1042);
        await assertObjectUnchanged(app, otp.otpId);
      } finally {
        provider.setPlan({ mode: "ok" }, "/2010-04-01/");
      }
    });

    test("a verification sent through the Dexatel dialect takes receipts too", async () => {
      provider.clear();
      const res = await worker.fetch("/v1/verifications", {
        method: "POST",
        headers: { "X-Dexatel-Key": app.apiKey, "Content-Type": "application/json" },
        body: JSON.stringify({ data: { sender: "AcmeCo", phone: nextPhone().slice(1), channel: "SMS" } }),
      });
      const body = await res.json();
      assert.equal(res.status, 201, JSON.stringify(body));
      const [req] = await provider.waitForRequests(1, { path: "/2010-04-01/" });
      assert.equal(body.data.message_id, req.reply.sid, "the provider's id is the verification's message_id");
      const callback = new URLSearchParams(req.body).get("StatusCallback");
      assert.ok(callback.includes(`otp=${body.data.id}`));
      const params = { MessageSid: req.reply.sid, MessageStatus: "undelivered", ErrorCode: "30005" };
      // The confirmation that stores the delivery runs after the reply: wait for it.
      let got;
      for (let i = 0; i < 20; i++) {
        got = await receipt(callback, signed(callback, params));
        if (got.res.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assertStatus(got, 200);
      assertStatus(await receipt(callback, signed(callback, params)), 200, UNCHANGED);
    });

    test("a new final status is a delivery event of the insights; a replay is not", async () => {
      const { otp, req } = await send(app, "/2010-04-01/");
      const callback = new URLSearchParams(req.body).get("StatusCallback");
      const failed = { MessageSid: req.reply.sid, MessageStatus: "undelivered", ErrorCode: "30006" };
      assertStatus(await receipt(callback, signed(callback, failed)), 200, RECORDED);
      assertStatus(await receipt(callback, signed(callback, failed)), 200, UNCHANGED);
      const swept = await admin("POST", `/admin/dev/sweep?appId=${app.appId}`);
      assert.equal(swept.res.status, 200, JSON.stringify(swept.body));
      const events = await admin("GET", `/admin/apps/${app.appId}/events?kind=delivery&pageSize=500`);
      assert.equal(events.res.status, 200, JSON.stringify(events.body));
      const mine = events.body.data.filter((e) => e.otpId === otp.otpId);
      assert.deepEqual(
        mine.map((e) => [e.kind, e.result, e.reason, e.gateway]),
        [["delivery", "undelivered", "30006", "twilio"]],
      );
    });

    test("other methods, providers and apps", async () => {
      const { otp, req } = await send(app, "/2010-04-01/");
      const callback = new URLSearchParams(req.body).get("StatusCallback");
      const params = { MessageSid: req.reply.sid, MessageStatus: "delivered" };
      const get = await worker.fetch(new URL(callback).pathname + new URL(callback).search);
      assert.equal(get.status, 405);
      assertStatus(await receipt(`${PUBLIC_BASE_URL}/dlr/smscx/${app.appId}`, signed(callback, params)), 404, 404);
      assertStatus(await receipt(`${PUBLIC_BASE_URL}/dlr/pigeon/${app.appId}`, signed(callback, params)), 404, 404);
      const stranger = `${PUBLIC_BASE_URL}/dlr/twilio/00000000-0000-4000-8000-000000000000?otp=${otp.otpId}`;
      assertStatus(await receipt(stranger, signed(stranger, params)), 401, 1041);
      // Signed for one app's URL, replayed to another's: the signature covers the URL.
      const other = await createApp({ type: "twilio" });
      const moved = callback.replace(app.appId, other.appId);
      assertStatus(await receipt(moved, signed(callback, params)), 401, 1041);
    });
  });

  describe("plivo: X-Plivo-Signature-V3 with its nonce", () => {
    test("delivered and failed, replayed and forged", async () => {
      const app = await createApp({ type: "plivo" });
      const { otp, req } = await send(app, "/v1/Account/");
      const sent = JSON.parse(req.body);
      assert.equal(sent.url, `${PUBLIC_BASE_URL}/dlr/plivo/${app.appId}?otp=${otp.otpId}`);
      assert.equal(sent.method, "POST");
      const uuid = req.reply.message_uuid[0];
      const post = (params, { token = CREDENTIALS.PLIVO_AUTH_TOKEN, nonce = "31415926535897932384" } = {}) =>
        receipt(sent.url, {
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Plivo-Signature-V3": plivoSignatureV3(token, sent.url, params, nonce),
            "X-Plivo-Signature-V3-Nonce": nonce,
          },
          body: new URLSearchParams(params).toString(),
        });
      const failed = { MessageUUID: uuid, Status: "failed", ErrorCode: "420", From: "AcmeCo", To: sent.dst };
      assertStatus(await post(failed, { token: "guess" }), 401, 1041);
      assertStatus(await post(failed), 200, RECORDED);
      assertStatus(await post(failed, { nonce: "27182818284590452353" }), 200, UNCHANGED);
      assertStatus(await post({ ...failed, Status: "delivered", ErrorCode: "000" }), 200, RECORDED);
      assertStatus(await post({ ...failed, MessageUUID: "00000000-0000-0000-0000-000000000000" }), 404, 1042);
      await assertObjectUnchanged(app, otp.otpId);
    });
  });

  describe("vonage: the receipt token, or signed receipts with named credentials", () => {
    test("unsigned receipts need the token (POST JSON or GET)", async () => {
      const app = await createApp({ type: "vonage" });
      const { otp, req } = await send(app, "/sms/json");
      const sent = JSON.parse(req.body);
      assert.equal(sent.callback, `${PUBLIC_BASE_URL}/dlr/vonage/${app.appId}?otp=${otp.otpId}&token=${app.receiptToken}`);
      const messageId = req.reply.messages[0]["message-id"];
      const dlr = { messageId, status: "rejected", "err-code": "6", "client-ref": otp.otpId, msisdn: sent.to };
      const json = (url, body) =>
        receipt(url, { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const noToken = sent.callback.replace(/&token=.*$/, "");
      assertStatus(await json(noToken, dlr), 401, 1041);
      assertStatus(await json(sent.callback.replace(/.$/, "x"), dlr), 401, 1041);
      assertStatus(await json(sent.callback, dlr), 200, RECORDED);
      const query = new URLSearchParams({ ...dlr, status: "delivered", "err-code": "0" }).toString();
      assertStatus(await receipt(`${sent.callback}&${query}`, { method: "GET" }), 200, RECORDED);
      assertStatus(await receipt(`${sent.callback}&${query}`, { method: "GET" }), 200, UNCHANGED);
      await assertObjectUnchanged(app, otp.otpId);
    });

    test("with a signature secret, the receipt's sig is required and the token not used", async () => {
      const app = await createApp({ type: "vonage", credentials: "SIGNED" });
      const { otp, req } = await send(app, "/sms/json");
      const sent = JSON.parse(req.body);
      assert.equal(sent.api_key, CREDENTIALS.VONAGE_API_KEY_SIGNED, "the named account");
      assert.equal(sent.callback, `${PUBLIC_BASE_URL}/dlr/vonage/${app.appId}?otp=${otp.otpId}&cred=SIGNED`);
      const messageId = req.reply.messages[0]["message-id"];
      const dlr = {
        messageId,
        status: "expired",
        "err-code": "1",
        "client-ref": otp.otpId,
        "message-timestamp": "2026-01-01 12:00:00",
        timestamp: String(Math.floor(Date.now() / 1000)),
      };
      const form = (params) =>
        receipt(sent.callback, {
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(params).toString(),
        });
      const sig = vonageSignature(CREDENTIALS.VONAGE_SIGNATURE_SECRET_SIGNED, dlr);
      assertStatus(await form({ ...dlr, sig: vonageSignature("guess", dlr) }), 401, 1041);
      assertStatus(await form(dlr), 401, 1041);
      assertStatus(await form({ ...dlr, sig }), 200, RECORDED);
      assertStatus(await form({ ...dlr, sig }), 200, UNCHANGED);
      // Signed for another status: the signature covers the parameters.
      assertStatus(await form({ ...dlr, status: "delivered", sig }), 401, 1041);
    });
  });

  describe("sinch and infobip: the receipt token", () => {
    test("sinch: per-recipient reports with the otpId as client_reference", async () => {
      const app = await createApp({ type: "sinch" });
      const { otp, req } = await send(app, "/xms/");
      const sent = JSON.parse(req.body);
      assert.equal(sent.delivery_report, "per_recipient");
      assert.equal(sent.callback_url, `${PUBLIC_BASE_URL}/dlr/sinch/${app.appId}?otp=${otp.otpId}&token=${app.receiptToken}`);
      const report = (status, code) => ({
        type: "recipient_delivery_report_sms",
        batch_id: req.reply.id,
        recipient: sent.to[0],
        code,
        status,
        at: new Date().toISOString(),
        client_reference: otp.otpId,
      });
      const post = (url, body) =>
        receipt(url, { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      assertStatus(await post(sent.callback_url.replace(app.receiptToken, "A".repeat(43)), report("Delivered", 0)), 401, 1041);
      assertStatus(await post(sent.callback_url, report("Dispatched", 401)), 200, UNCHANGED);
      assertStatus(await post(sent.callback_url, report("Delivered", 0)), 200, RECORDED);
      assertStatus(await post(sent.callback_url, report("Delivered", 0)), 200, UNCHANGED);
      assertStatus(await post(sent.callback_url, { ...report("Failed", 402), batch_id: "01UNKNOWN" }), 404, 1042);
    });

    test("infobip: reports in bulk with the otpId as callbackData", async () => {
      const app = await createApp({ type: "infobip" });
      const { otp, req } = await send(app, "/sms/3/");
      const [message] = JSON.parse(req.body).messages;
      const url = message.webhooks.delivery.url;
      assert.equal(url, `${PUBLIC_BASE_URL}/dlr/infobip/${app.appId}?otp=${otp.otpId}&token=${app.receiptToken}`);
      assert.equal(message.webhooks.callbackData, otp.otpId);
      const result = (group, error) => ({
        messageId: req.reply.messages[0].messageId,
        to: message.destinations[0].to,
        status: { groupId: 0, groupName: group, id: 0, name: group },
        error,
        callbackData: otp.otpId,
      });
      const post = (u, results) =>
        receipt(u, { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ results }) });
      const absent = { groupId: 1, groupName: "HANDSET_ERRORS", id: 27, name: "EC_ABSENT_SUBSCRIBER", permanent: false };
      assertStatus(await post(url.replace(/&token=.*$/, ""), [result("UNDELIVERABLE", absent)]), 401, 1041);
      assertStatus(await post(url, [result("PENDING", absent), result("UNDELIVERABLE", absent)]), 200, {
        recorded: 1,
        unchanged: 1,
      });
      assertStatus(await post(url, [result("UNDELIVERABLE", absent)]), 200, UNCHANGED);
      assertStatus(await post(url, "not a list"), 400, 1043);
    });

    test("rotating the receipt token retires the URLs given out before", async () => {
      const app = await createApp({ type: "sinch" });
      const { otp, req } = await send(app, "/xms/");
      const { callback_url: old } = JSON.parse(req.body);
      const rotated = await admin("POST", `/admin/apps/${app.appId}/rotate-receipt-token`);
      assert.equal(rotated.res.status, 200, JSON.stringify(rotated.body));
      assert.notEqual(rotated.body.receiptToken, app.receiptToken);
      const got = await admin("GET", `/admin/apps/${app.appId}`);
      assert.equal(got.body.receiptToken, undefined, "shown once");
      const body = JSON.stringify({ type: "recipient_delivery_report_sms", batch_id: req.reply.id, status: "Delivered", code: 0 });
      const headers = { "Content-Type": "application/json" };
      assertStatus(await receipt(old, { headers, body }), 401, 1041);
      const fresh = old.replace(app.receiptToken, rotated.body.receiptToken);
      assertStatus(await receipt(fresh, { headers, body }), 200, RECORDED);
      await assertObjectUnchanged(app, otp.otpId);
    });
  });

  describe("dexatel: X-Dexatel-Signature, found by message id", () => {
    test("its one webhook URL per account finds the OTP by the message id", async () => {
      const app = await createApp({ type: "dexatel" });
      const { otp, req } = await send(app, "/v1/messages");
      assert.equal(JSON.parse(req.body).data.webhook_url, undefined, "Dexatel takes no URL per message");
      const url = `${PUBLIC_BASE_URL}/dlr/dexatel/${app.appId}`;
      const body = (status, id = req.reply.data[0].id) =>
        JSON.stringify({ data: { message_id: id, status, price: 0.01, mccmnc: "20801" } });
      const post = (text, secret = CREDENTIALS.DEXATEL_WEBHOOK_SECRET) =>
        receipt(url, {
          headers: { "Content-Type": "application/json", "X-Dexatel-Signature": dexatelSignature(secret, text) },
          body: text,
        });
      assertStatus(await post(body("DELIVERED"), "guess"), 401, 1041);
      // The index is written after the send's reply: a receipt right after may wait for it.
      let got;
      for (let i = 0; i < 20; i++) {
        got = await post(body("DELIVERED"));
        if (got.res.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assertStatus(got, 200, RECORDED);
      assertStatus(await post(body("DELIVERED")), 200, UNCHANGED);
      assertStatus(await post(body("FAILED", "00000000-dead-beef-0000-000000000000")), 404, 1042);
      await assertObjectUnchanged(app, otp.otpId);
    });
  });

  describe("webhook gateway: the receiver reports with Standard Webhooks", () => {
    test("a signed sms.status for the OTP is recorded; an old or forged one is not", async () => {
      const app = await createApp({ type: "webhook", url: `${provider.url}/hooks/sms` });
      const { otp } = await send(app, "/hooks/sms");
      const url = `${PUBLIC_BASE_URL}/dlr/webhook/${app.appId}`;
      const text = JSON.stringify({ type: "sms.status", data: { otpId: otp.otpId, status: "failed", errorCode: "E42" } });
      const post = (headers) => receipt(url, { headers: { "Content-Type": "application/json", ...headers }, body: text });
      const old = Math.floor(Date.now() / 1000) - 600;
      assertStatus(await post(standardWebhookHeaders(app.webhookSecret, text, old)), 401, 1041);
      assertStatus(await post(standardWebhookHeaders(`whsec_${Buffer.alloc(24).toString("base64")}`, text)), 401, 1041);
      assertStatus(await post(standardWebhookHeaders(app.webhookSecret, text)), 200, RECORDED);
      assertStatus(await post(standardWebhookHeaders(app.webhookSecret, text)), 200, UNCHANGED);
      await assertObjectUnchanged(app, otp.otpId);
    });
  });
});
