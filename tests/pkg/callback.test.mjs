// CallbackSender against a real HTTP receiver on 127.0.0.1: Standard Webhooks signatures
// checked independently with node:crypto, retries with backoff, and the OtpService hook.

import assert from "node:assert/strict";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { CallbackSender, MemoryStore, OtpService } from "otp-sms-verify";
import { KEY, outbox } from "./helpers.mjs";

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

/** A receiver on 127.0.0.1 that records requests and answers with `answers` in turn (then 200). */
let receiver;
before(async () => {
  const requests = [];
  let answers = [];
  const server = http.createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    res.writeHead(answers.shift() ?? 200).end();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver = {
    url: `http://127.0.0.1:${server.address().port}/callbacks`,
    requests,
    reset(next = []) {
      requests.length = 0;
      answers = [...next];
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
});
after(() => receiver.close());

const VIEW = {
  otpId: "123e4567-e89b-42d3-a456-426614174000",
  trackId: null,
  phoneNumber: "+33******111",
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

describe("CallbackSender", () => {
  test("POSTs the otp_update event with a valid Standard Webhooks signature", async () => {
    receiver.reset();
    const sender = new CallbackSender({ secret: SECRET });
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

  test("retries after a 500 with the same webhook-id, re-signed", async () => {
    receiver.reset([500]);
    const sender = new CallbackSender({ secret: SECRET, url: receiver.url, retryDelayMs: 5 });
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
    const sender = new CallbackSender({ secret: SECRET, url: receiver.url, maxAttempts: 3, retryDelayMs: 1 });
    await assert.rejects(sender.send(VIEW), /failed after 3 attempts: HTTP 503/);
    assert.equal(receiver.requests.length, 3);

    receiver.reset([410]);
    await assert.rejects(sender.send(VIEW), /refused: HTTP 410/);
    assert.equal(receiver.requests.length, 1);
  });

  test("retries network errors", async () => {
    const calls = [];
    const sender = new CallbackSender({
      secret: SECRET,
      url: "https://callbacks.example/otp",
      retryDelayMs: 1,
      fetch: async (url, init) => {
        calls.push({ url, init });
        if (calls.length === 1) throw new TypeError("fetch failed");
        return { status: 204 };
      },
    });
    const delivery = await sender.send(VIEW);
    assert.equal(delivery.attempts, 2);
    assert.equal(calls[1].init.method, "POST");
    assert.ok(calls[1].init.signal instanceof AbortSignal);
  });

  test("without a URL there is nothing to send", async () => {
    assert.equal(await new CallbackSender({ secret: SECRET }).send(VIEW), null);
  });

  test("rejects a malformed secret", () => {
    assert.throws(() => new CallbackSender({ secret: "whsec_c2hvcnQ=" }), TypeError);
    assert.throws(() => new CallbackSender({ secret: "whsec_not base64!" }), TypeError);
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
  const callbacks = new CallbackSender({ secret: SECRET, retryDelayMs: 5 });
  const sms = outbox();
  const service = new OtpService({
    store: new MemoryStore(),
    sender: sms,
    keys: [KEY],
    settings: { template: "{{pin}}", callbackUrl: receiver.url },
    onStatusChange: (view) => callbacks.send(view),
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
  assert.equal(data[0].phoneNumber, "+33******111");
  assert.ok(!last.body.includes(sms.pin()), "no PIN in callbacks");
});
