// Status callbacks of the built worker: every status change is POSTed to the OTP's
// callback URL as {"event":"otp_update","data":[OTP]} with Standard Webhooks
// headers (checked here with node:crypto), after the response, with bounded
// retries and backoff; a receiver that fails, hangs or is down never slows or
// fails the API.

import { NO_LIMITS } from "../support/api.mjs";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { closedPort, startFakeProvider, verifyStandardWebhook } from "../support/fake-provider.mjs";
import { startWorker } from "./harness.mjs";

const ADMIN_TOKEN = "test-admin-token-0123456789";
const PHONE = "+33612424111";
const TEMPLATE = "Your Acme code is {{pin}}";
const PIN_IN_TEXT = /code is ([0-9]{6})$/;
/** CALLBACK_RETRY_BASE_MS: pauses of 50, 100 and 200 ms between the 4 attempts. */
const RETRY_BASE_MS = 50;
/** CALLBACK_TIMEOUT_MS. */
const CALLBACK_TIMEOUT_MS = 300;
/** Longer than any delivery here (4 timeouts + pauses), to see that no more attempts come. */
const SETTLE_MS = 4 * CALLBACK_TIMEOUT_MS + 7 * RETRY_BASE_MS + 500;

describe("status callbacks", () => {
  let receiver;
  let worker;
  let app;
  let deadPort;
  let paths = 0;

  before(async () => {
    receiver = await startFakeProvider();
    deadPort = await closedPort();
    worker = await startWorker({
      kvNamespaces: ["OTP_KV", "OUTBOX_KV"],
      bindings: {
        ADMIN_TOKEN,
        PIN_KEYS: "test-pin-key-0123456789abcdef",
        TOKEN_KEY: "test-token-key-0123456789abcdef",
        HASH_KEY: "test-hash-key-0123456789abcdef",
        ENVIRONMENT: "development",
        CALLBACK_RETRY_BASE_MS: String(RETRY_BASE_MS),
        CALLBACK_TIMEOUT_MS: String(CALLBACK_TIMEOUT_MS),
      },
    });
    const res = await worker.fetch("/admin/apps", {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Acme", gateway: { type: "outbox" }, otp: { template: TEMPLATE }, limits: NO_LIMITS }),
    });
    app = await res.json();
    assert.equal(res.status, 201, JSON.stringify(app));
  });
  after(async () => {
    await worker?.dispose();
    await receiver?.close();
  });

  /** Whether a recorded callback reports `status`. */
  function reports(req, status) {
    try {
      return JSON.parse(req.body).data[0].status === status;
    } catch {
      return false;
    }
  }

  /** A plan failing the first `n` VERIFIED callbacks with `status`, then answering 200. */
  function failFirstVerified(n, status) {
    let failed = 0;
    return (req) => (reports(req, "VERIFIED") && failed++ < n ? { mode: "status", status } : { mode: "ok" });
  }

  /** A callback path of its own for one test, with `plan`. */
  function callbackPath(plan = { mode: "ok" }) {
    const path = `/cb/${++paths}`;
    receiver.setPlan(plan, path);
    return path;
  }

  /** Creates an OTP reporting to `url`; returns `{ otp, pin }` (the PIN read from the outbox). */
  async function createOtp(url, extra = {}) {
    const res = await worker.fetch("/otp", {
      method: "POST",
      headers: { "X-API-KEY": app.apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ phoneNumber: PHONE, otpCallbackUrl: url, ...extra }),
    });
    const otp = await res.json();
    assert.equal(res.status, 201, JSON.stringify(otp));
    const outbox = await worker.fetch(`/admin/outbox?phoneNumber=${encodeURIComponent(PHONE)}`, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const { data } = await outbox.json();
    const message = data.find((m) => m.otpId === otp.otpId);
    assert.ok(message, "the SMS is in the outbox");
    return { otp, pin: PIN_IN_TEXT.exec(message.text)[1] };
  }

  /** `POST /otp/{id}` with `pin`; returns `{ res, body, ms }`. */
  async function verify(otpId, pin) {
    const started = Date.now();
    const res = await worker.fetch(`/otp/${otpId}`, {
      method: "POST",
      headers: { "X-API-KEY": app.apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ pin }),
    });
    return { res, body: await res.json(), ms: Date.now() - started };
  }

  /** Callbacks received on `path` whose OTP has `status`. */
  function callbacks(path, status) {
    return receiver.requestsTo(path).filter((r) => reports(r, status));
  }

  /** Waits for `count` callbacks with `status` on `path`. */
  async function waitForCallbacks(path, status, count = 1, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = callbacks(path, status);
      if (got.length >= count) return got;
      if (Date.now() > deadline) throw new Error(`expected ${count} ${status} callback(s) on ${path}, got ${got.length}`);
      await sleep(10);
    }
  }

  /** Asserts one received callback: headers, signature, body; returns the parsed body. */
  function assertSignedCallback(req, otpId, status) {
    assert.equal(req.method, "POST");
    assert.match(req.headers["content-type"], /^application\/json/);
    assert.match(req.headers["webhook-id"], /^msg_[A-Za-z0-9_-]{22}$/);
    const timestamp = Number(req.headers["webhook-timestamp"]);
    assert.ok(Math.abs(timestamp - Date.now() / 1000) < 60, `timestamp ${timestamp} is now`);
    assert.match(req.headers["webhook-signature"], /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.ok(verifyStandardWebhook(app.webhookSecret, req.headers, req.body), "valid signature");
    const body = JSON.parse(req.body);
    assert.equal(body.event, "otp_update");
    assert.equal(body.data.length, 1);
    assert.equal(body.data[0].otpId, otpId);
    assert.equal(body.data[0].status, status);
    return body;
  }

  test("VERIFIED is POSTed with a valid Standard Webhooks signature", async () => {
    const path = callbackPath();
    const url = `${receiver.url}${path}`;
    const { otp, pin } = await createOtp(url);
    const verified = await verify(otp.otpId, pin);
    assert.deepEqual(verified.body, { status: "VERIFIED" });
    const [req] = await waitForCallbacks(path, "VERIFIED");
    const body = assertSignedCallback(req, otp.otpId, "VERIFIED");
    for (const key of ["otpId", "phoneNumber", "countryIso", "status", "cost", "parts", "maxAttempts", "attempts", "ttl", "dateCreated", "dateExpires"]) {
      assert.ok(key in body.data[0], `${key} in the OTP object`);
    }
    assert.equal(body.data[0].otpCallbackUrl, url);
    assert.ok(!req.body.includes(pin), "the callback never carries the PIN");
    // Signed with this app's secret only.
    const other = { ...req.headers, "webhook-id": "msg_forged" };
    assert.ok(!verifyStandardWebhook(app.webhookSecret, other, req.body));
  });

  test("a receiver's reply body is never read: a long one is ended once the status is in", async () => {
    const path = callbackPath({ mode: "stream", status: 200, totalBytes: 8 * 1024 * 1024, chunkBytes: 16 * 1024 });
    const { otp, pin } = await createOtp(`${receiver.url}${path}`);
    assert.deepEqual((await verify(otp.otpId, pin)).body, { status: "VERIFIED" });
    const [req] = await waitForCallbacks(path, "VERIFIED");
    await sleep(200);
    assert.equal(callbacks(path, "VERIFIED").length, 1, "a 200 is delivered: not sent again");
    assert.ok(req.streamed < 2 * 1024 * 1024, `the receiver could write ${req.streamed} bytes`);
  });

  test("CANCELLED and FAILED are reported too", async () => {
    const path = callbackPath();
    const url = `${receiver.url}${path}`;
    const cancelled = await createOtp(url);
    const res = await worker.fetch(`/otp/${cancelled.otp.otpId}`, {
      method: "DELETE",
      headers: { "X-API-KEY": app.apiKey },
    });
    assert.equal(res.status, 200, await res.text());
    const [cancel] = await waitForCallbacks(path, "CANCELLED");
    assertSignedCallback(cancel, cancelled.otp.otpId, "CANCELLED");

    const failing = await createOtp(url, { maxAttempts: 2 });
    const wrong = failing.pin === "000000" ? "111111" : "000000";
    await verify(failing.otp.otpId, wrong);
    await verify(failing.otp.otpId, wrong);
    const [failed] = await waitForCallbacks(path, "FAILED");
    const body = assertSignedCallback(failed, failing.otp.otpId, "FAILED");
    assert.equal(body.data[0].attempts, 2);
  });

  test("a failing receiver gets retries with the same webhook-id and fresh valid signatures", async () => {
    const path = callbackPath(failFirstVerified(2, 503));
    const { otp, pin } = await createOtp(`${receiver.url}${path}`);
    await verify(otp.otpId, pin);
    const attempts = await waitForCallbacks(path, "VERIFIED", 3);
    const ids = new Set(attempts.map((r) => r.headers["webhook-id"]));
    assert.equal(ids.size, 1, "every attempt of one event has the same webhook-id");
    for (const req of attempts) assertSignedCallback(req, otp.otpId, "VERIFIED");
    // Exponential backoff: about 50 ms, then about 100 ms.
    const gaps = [attempts[1].at - attempts[0].at, attempts[2].at - attempts[1].at];
    assert.ok(gaps[0] >= RETRY_BASE_MS - 10, `first pause ${gaps[0]} ms`);
    assert.ok(gaps[1] >= 2 * RETRY_BASE_MS - 10, `second pause ${gaps[1]} ms`);
    // The third attempt succeeded: no fourth one.
    await sleep(SETTLE_MS);
    assert.equal(callbacks(path, "VERIFIED").length, 3);
  });

  test("429 is retried", async () => {
    const path = callbackPath(failFirstVerified(1, 429));
    const { otp, pin } = await createOtp(`${receiver.url}${path}`);
    await verify(otp.otpId, pin);
    const attempts = await waitForCallbacks(path, "VERIFIED", 2);
    assert.equal(new Set(attempts.map((r) => r.headers["webhook-id"])).size, 1);
  });

  test("retries are bounded: 4 attempts in all against a receiver that keeps failing", async () => {
    const path = callbackPath({ mode: "status", status: 500 });
    const { otp, pin } = await createOtp(`${receiver.url}${path}`);
    await verify(otp.otpId, pin);
    await waitForCallbacks(path, "VERIFIED", 4);
    await sleep(SETTLE_MS);
    assert.equal(callbacks(path, "VERIFIED").length, 4);
  });

  test("a 4xx other than 429 is not retried", async () => {
    const path = callbackPath({ mode: "status", status: 410 });
    const { otp, pin } = await createOtp(`${receiver.url}${path}`);
    await verify(otp.otpId, pin);
    await waitForCallbacks(path, "VERIFIED", 1);
    await sleep(SETTLE_MS);
    assert.equal(callbacks(path, "VERIFIED").length, 1);
  });

  test("a hanging receiver never slows the API; each attempt times out and is retried", async () => {
    const path = callbackPath({ mode: "hang" });
    const { otp, pin } = await createOtp(`${receiver.url}${path}`);
    const verified = await verify(otp.otpId, pin);
    assert.equal(verified.res.status, 200);
    assert.deepEqual(verified.body, { status: "VERIFIED" });
    // The whole delivery takes 4 × 300 ms + 350 ms of pauses; the API did not wait for it.
    assert.ok(verified.ms < 1000, `verify answered in ${verified.ms} ms`);
    const attempts = await waitForCallbacks(path, "VERIFIED", 4, 10_000);
    assert.ok(attempts[1].at - attempts[0].at >= CALLBACK_TIMEOUT_MS - 20, "the attempt waited for its timeout");
    await sleep(SETTLE_MS);
    assert.equal(callbacks(path, "VERIFIED").length, 4);
  });

  test("a receiver that is down never fails or slows the API", async () => {
    const url = `http://127.0.0.1:${deadPort}/cb`;
    const { otp, pin } = await createOtp(url);
    const verified = await verify(otp.otpId, pin);
    assert.equal(verified.res.status, 200);
    assert.deepEqual(verified.body, { status: "VERIFIED" });
    assert.ok(verified.ms < 1000, `verify answered in ${verified.ms} ms`);
    // And the OTP reads back as VERIFIED.
    const res = await worker.fetch(`/otp/${otp.otpId}`, { headers: { "X-API-KEY": app.apiKey } });
    assert.equal((await res.json()).status, "VERIFIED");
  });
});
