// CallbackSender: the shared vectors of the core's callback rule (tests/fixtures/
// webhook-vectors.json, also checked by the core's Rust tests): signatures, secrets,
// retried statuses, pauses and callback URLs; then against a real HTTP receiver on
// 127.0.0.1 (with allowPrivateHosts): Standard Webhooks signatures checked
// independently with node:crypto, retries, redirects never followed, reply bodies
// never read, and the OtpService hook.

import assert from "node:assert/strict";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CallbackSender, MemoryStore, OtpError, OtpService } from "otp-sms-verify";
import { KEY, ROOT, outbox } from "./helpers.mjs";

const VECTORS = JSON.parse(readFileSync(path.join(ROOT, "tests/fixtures/webhook-vectors.json"), "utf8"));
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

/** Checks a Standard Webhooks request the way a receiver would, with node:crypto only. */
function signatureIsValid(headers, body, secret = SECRET) {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key)
    .update(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`)
    .digest();
  return headers["webhook-signature"].split(" ").some((part) => {
    const [version, sig] = part.split(",");
    const given = Buffer.from(sig ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * A receiver on 127.0.0.1 that records requests and answers with `answers` in turn (then
 * 200): a status, or a function `(res, req)` that writes the reply itself.
 */
let receiver;
before(async () => {
  const requests = [];
  let answers = [];
  const server = http.createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    const answer = answers.shift() ?? 200;
    if (typeof answer === "function") answer(res, req);
    else res.writeHead(answer).end();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver = {
    url: `http://127.0.0.1:${server.address().port}/callbacks`,
    origin: `http://127.0.0.1:${server.address().port}`,
    requests,
    reset(next = []) {
      requests.length = 0;
      answers = [...next];
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
});
after(() => receiver.close());

const VIEW = {
  otpId: "123e4567-e89b-42d3-a456-426614174000",
  trackId: null,
  phoneNumber: "+3361242****",
  countryIso: "FR",
  status: "VERIFIED",
  cost: 0,
  parts: 1,
  maxAttempts: 3,
  attempts: 0,
  ttl: 300,
  otpCallbackUrl: null,
  dateCreated: "2023-11-14 22:13:20",
  dateExpires: "2023-11-14 22:18:20",
};

/** A fetch that records calls and answers with `statuses` in turn (`null`: a network error). */
function scriptedFetch(statuses) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const status = statuses[Math.min(calls.length - 1, statuses.length - 1)];
    if (status === null) throw new TypeError("fetch failed");
    return { status, body: null };
  };
  return { calls, fetch };
}

/** Lets every pending promise job and I/O callback run. */
async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("the shared vectors of the core's callback rule", () => {
  test("signatures, the Standard Webhooks spec example included", async () => {
    assert.ok(VECTORS.signatures.some((v) => v.name === "standard-webhooks-spec-example"));
    for (const v of VECTORS.signatures) {
      const sender = new CallbackSender({ secret: v.secret });
      assert.equal(await sender.sign(v.id, v.timestamp, v.body), v.signature, v.name);
    }
  });

  test("secrets other than whsec_ + padded base64 of 24-64 bytes are refused, saying why", () => {
    const why = { prefix: /must start with whsec_/, base64: /standard padded base64/, length: /24 to 64 bytes/ };
    for (const { secret, error } of VECTORS.badSecrets) {
      assert.throws(() => new CallbackSender({ secret }), (e) => e instanceof TypeError && why[error].test(e.message), secret);
    }
    assert.throws(() => new CallbackSender({}), TypeError);
  });

  test("the standard policy: 4 attempts of 5 s, pauses of 1, 2 and 4 s", () => {
    const { maxAttempts, timeoutMs, retryDelayMs, delaysMs } = VECTORS.policy;
    assert.deepEqual(new CallbackSender({ secret: SECRET }).policy, { maxAttempts, timeoutMs, retryDelayMs, delaysMs });
    const worst = delaysMs.reduce((sum, pause) => sum + pause + timeoutMs, 0);
    assert.equal(worst, VECTORS.policy.worstCaseMs);
    assert.ok(worst < VECTORS.policy.waitUntilBudgetMs);
  });

  test("options can shorten the policy, never lengthen it", () => {
    for (const { given, policy } of VECTORS.shortened) {
      assert.deepEqual(new CallbackSender({ secret: SECRET, ...given }).policy, policy, JSON.stringify(given));
    }
    assert.throws(() => new CallbackSender({ secret: SECRET, timeoutMs: Number.NaN }), TypeError);
    assert.throws(() => new CallbackSender({ secret: SECRET, maxAttempts: "4" }), TypeError);
  });

  test("network errors, timeouts, 408, 429 and 5xx are retried; 2xx delivers; anything else ends it", async () => {
    const url = "https://callbacks.example/otp";
    for (const status of VECTORS.statuses.retried) {
      const { calls, fetch } = scriptedFetch([status]);
      const sender = new CallbackSender({ secret: SECRET, url, maxAttempts: 2, retryDelayMs: 0, fetch });
      await assert.rejects(sender.send(VIEW), /failed after 2 attempts/, String(status));
      assert.equal(calls.length, 2, `${status} is retried`);
    }
    for (const status of VECTORS.statuses.delivered) {
      const { calls, fetch } = scriptedFetch([status]);
      const sender = new CallbackSender({ secret: SECRET, url, retryDelayMs: 0, fetch });
      assert.deepEqual(await sender.send(VIEW), { id: calls[0].init.headers["webhook-id"], url, attempts: 1, status });
    }
    for (const status of VECTORS.statuses.final) {
      const { calls, fetch } = scriptedFetch([status]);
      const sender = new CallbackSender({ secret: SECRET, url, retryDelayMs: 0, fetch });
      await assert.rejects(sender.send(VIEW), /refused: /, String(status));
      assert.equal(calls.length, 1, `${status} ends the delivery`);
    }
  });

  test("the pauses before the retries are 1, 2 and 4 s, and each attempt has 5 s", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { calls, fetch } = scriptedFetch([503]);
    const sender = new CallbackSender({ secret: SECRET, url: "https://callbacks.example/otp", fetch });
    const delivery = sender.send(VIEW).catch((e) => e);
    let elapsed = 0;
    for (const [i, pause] of VECTORS.policy.delaysMs.entries()) {
      if (pause > 0) {
        t.mock.timers.tick(pause - 1);
        elapsed += pause - 1;
        await settle();
        assert.equal(calls.length, i, `attempt ${i + 1} waits ${pause} ms`);
        t.mock.timers.tick(1);
        elapsed += 1;
      }
      await settle();
      assert.equal(calls.length, i + 1, `attempt ${i + 1} after ${elapsed} ms`);
    }
    assert.match((await delivery).message, /failed after 4 attempts: HTTP 503/);
    assert.equal(calls.length, 4);
    // Each attempt carries a 5 s deadline and asks fetch not to follow redirects.
    for (const { init } of calls) {
      assert.ok(init.signal instanceof AbortSignal);
      assert.equal(init.redirect, "manual");
    }
  });

  test("private hosts are refused unless allowPrivateHosts; numeric and malformed hosts always", () => {
    const refuses = (reason) => (e) => e instanceof OtpError && e.code === 2019 && e.reason === reason;
    for (const url of VECTORS.callbackUrls.public) {
      new CallbackSender({ secret: SECRET, url });
      new CallbackSender({ secret: SECRET, url, allowPrivateHosts: true });
    }
    for (const { url, reason } of VECTORS.callbackUrls.private) {
      assert.throws(() => new CallbackSender({ secret: SECRET, url }), refuses(reason), url);
      new CallbackSender({ secret: SECRET, url, allowPrivateHosts: true });
    }
    for (const { url, reason } of VECTORS.callbackUrls.refused) {
      for (const allowPrivateHosts of [false, true]) {
        assert.throws(() => new CallbackSender({ secret: SECRET, url, allowPrivateHosts }), refuses(reason), url);
      }
    }
    for (const { url, reason } of VECTORS.callbackUrls.privateOverHttp) {
      assert.throws(() => new CallbackSender({ secret: SECRET, url, allowPrivateHosts: true }), refuses(reason), url);
    }
  });

  test("an OTP's own callback URL is checked before anything is sent", async () => {
    const { calls, fetch } = scriptedFetch([200]);
    const sender = new CallbackSender({ secret: SECRET, fetch });
    for (const { url, reason } of [...VECTORS.callbackUrls.private, ...VECTORS.callbackUrls.refused]) {
      await assert.rejects(sender.send({ ...VIEW, otpCallbackUrl: url }), (e) => e instanceof OtpError && e.reason === reason, url);
    }
    assert.equal(calls.length, 0, "no request to a refused URL");
    assert.equal((await sender.send({ ...VIEW, otpCallbackUrl: "https://8.8.8.8/cb" })).attempts, 1);
  });
});

describe("CallbackSender against a receiver on 127.0.0.1", () => {
  test("POSTs the otp_update event with a valid Standard Webhooks signature", async () => {
    receiver.reset();
    const sender = new CallbackSender({ secret: SECRET, allowPrivateHosts: true });
    const delivery = await sender.send({ ...VIEW, otpCallbackUrl: receiver.url });
    assert.equal(receiver.requests.length, 1);
    const [req] = receiver.requests;
    assert.equal(req.method, "POST");
    assert.equal(req.url, "/callbacks");
    assert.equal(req.headers["content-type"], "application/json");
    assert.match(req.headers["webhook-id"], /^msg_[0-9a-f-]{36}$/);
    assert.ok(Math.abs(Number(req.headers["webhook-timestamp"]) - Date.now() / 1000) < 60);
    assert.match(req.headers["webhook-signature"], /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.ok(signatureIsValid(req.headers, req.body), "signature checks out with node:crypto");
    assert.ok(!signatureIsValid(req.headers, req.body.replace("VERIFIED", "FAILED")), "a changed body fails");
    assert.deepEqual(JSON.parse(req.body), { event: "otp_update", data: [{ ...VIEW, otpCallbackUrl: receiver.url }] });
    assert.deepEqual(delivery, { id: req.headers["webhook-id"], url: receiver.url, attempts: 1, status: 200 });
  });

  test("without allowPrivateHosts nothing is sent to 127.0.0.1", async () => {
    receiver.reset();
    const sender = new CallbackSender({ secret: SECRET });
    await assert.rejects(sender.send({ ...VIEW, otpCallbackUrl: receiver.url }), { reason: "callback_url_private_host" });
    assert.throws(() => new CallbackSender({ secret: SECRET, url: receiver.url }), { code: 2019 });
    assert.equal(receiver.requests.length, 0);
  });

  test("retries after a 500 with the same webhook-id, re-signed", async () => {
    receiver.reset([500]);
    const sender = new CallbackSender({ secret: SECRET, url: receiver.url, retryDelayMs: 5, allowPrivateHosts: true });
    const delivery = await sender.send(VIEW);
    assert.equal(delivery.attempts, 2);
    assert.equal(receiver.requests.length, 2);
    const [first, second] = receiver.requests;
    assert.equal(first.headers["webhook-id"], second.headers["webhook-id"]);
    assert.ok(signatureIsValid(first.headers, first.body) && signatureIsValid(second.headers, second.body));
    assert.equal(first.body, second.body);
  });

  test("gives up after maxAttempts failures, and at once on a 4xx", async () => {
    receiver.reset([503, 503, 503]);
    const sender = new CallbackSender({ secret: SECRET, url: receiver.url, maxAttempts: 3, retryDelayMs: 1, allowPrivateHosts: true });
    await assert.rejects(sender.send(VIEW), /failed after 3 attempts: HTTP 503/);
    assert.equal(receiver.requests.length, 3);

    receiver.reset([410]);
    await assert.rejects(sender.send(VIEW), /refused: HTTP 410/);
    assert.equal(receiver.requests.length, 1);
  });

  test("redirects are never followed", async () => {
    for (const status of [301, 302, 307, 308]) {
      const elsewhere = `${receiver.origin}/elsewhere`;
      receiver.reset([(res) => res.writeHead(status, { location: elsewhere }).end()]);
      const sender = new CallbackSender({ secret: SECRET, url: receiver.url, retryDelayMs: 1, allowPrivateHosts: true });
      await assert.rejects(sender.send(VIEW), new RegExp(`refused: HTTP ${status}`));
      assert.deepEqual(
        receiver.requests.map((r) => r.url),
        ["/callbacks"],
        `${status}: one request, none to the Location`,
      );
    }
  });

  test("a reply body is never read: an endless one neither delays nor fills memory", async () => {
    for (const status of [200, 503]) {
      let written = 0;
      let closed;
      const connectionClosed = new Promise((resolve) => (closed = resolve));
      const endless = (res) => {
        res.writeHead(status, { "content-type": "application/octet-stream" });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const timer = setInterval(() => {
          if (res.destroyed || res.writableEnded) return;
          res.write(chunk);
          written += chunk.length;
        }, 5);
        res.on("close", () => {
          clearInterval(timer);
          closed();
        });
      };
      receiver.reset([endless, 200]);
      const sender = new CallbackSender({ secret: SECRET, url: receiver.url, retryDelayMs: 1, timeoutMs: 2000, allowPrivateHosts: true });
      const started = Date.now();
      const delivery = await sender.send(VIEW);
      assert.equal(delivery.attempts, status === 200 ? 1 : 2);
      assert.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms, not at the 2 s timeout`);
      await connectionClosed;
      assert.ok(written < 4 * 1024 * 1024, `the receiver could write only ${written} bytes before the sender hung up`);
    }
  });

  test("retries network errors", async () => {
    const { calls, fetch } = scriptedFetch([null, 204]);
    const sender = new CallbackSender({ secret: SECRET, url: "https://callbacks.example/otp", retryDelayMs: 1, fetch });
    const delivery = await sender.send(VIEW);
    assert.equal(delivery.attempts, 2);
    assert.equal(calls[1].init.method, "POST");
    assert.ok(calls[1].init.signal instanceof AbortSignal);
  });

  test("without a URL there is nothing to send", async () => {
    assert.equal(await new CallbackSender({ secret: SECRET }).send(VIEW), null);
  });

  test("sign() matches an independent HMAC", async () => {
    const sender = new CallbackSender({ secret: SECRET });
    const signature = await sender.sign("msg_1", 1700000000, '{"a":1}');
    const headers = { "webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": signature };
    assert.ok(signatureIsValid(headers, '{"a":1}'));
  });
});

test("OtpService's onStatusChange delivers signed callbacks to the OTP's callback URL", async () => {
  receiver.reset([500]);
  const callbacks = new CallbackSender({ secret: SECRET, retryDelayMs: 5, allowPrivateHosts: true });
  const sms = outbox();
  const service = new OtpService({
    store: new MemoryStore(),
    sender: sms,
    keys: [KEY],
    settings: { template: "{{pin}}", callbackUrl: receiver.url },
    onStatusChange: (view) => callbacks.send(view),
    // The receiver is on 127.0.0.1: settings refuse it otherwise, as the sender does.
    allowPrivateHosts: true,
  });
  const { otpId } = await service.send({ phoneNumber: "+33612424111" });
  assert.equal(receiver.requests.length, 0, "creation is not a status change");
  await service.verify(otpId, sms.pin());
  assert.equal(receiver.requests.length, 2, "one 500, then delivered");
  const last = receiver.requests[1];
  assert.ok(signatureIsValid(last.headers, last.body));
  const { event, data } = JSON.parse(last.body);
  assert.equal(event, "otp_update");
  assert.equal(data[0].otpId, otpId);
  assert.equal(data[0].status, "VERIFIED");
  assert.equal(data[0].phoneNumber, "+3361242****");
  assert.ok(!last.body.includes(sms.pin()), "no PIN in callbacks");
});
