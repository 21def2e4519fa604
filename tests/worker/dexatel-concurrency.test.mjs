// The Dexatel guard under concurrency: each (application, number) has a Durable
// Object that runs its checks and send decisions one at a time, so bursts of
// parallel checks count failures exactly and block, a right code matches once,
// and parallel sends respect the cooldown and the resend policy.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApi, T0 } from "../support/api.mjs";

/** Dexatel calls authenticated by `X-Dexatel-Key`. */
function dexatel(api, apiKey) {
  const headers = { "x-dexatel-key": apiKey };
  const call = (method, path, body, now = T0) => api.call(method, path, { body, headers, now });
  return {
    send: (phone, now = T0) => call("POST", "/v1/verifications", { data: { sender: "Verify", phone } }, now),
    check: (phone, code, now = T0) => call("GET", `/v1/verifications?${new URLSearchParams({ phone, code })}`, undefined, now),
    list: (phone, now = T0) => call("GET", `/v1/verifications?phone=${phone}`, undefined, now),
  };
}

const codeOf = (res) => res.body?.errors?.[0]?.code;
const times = (n, f) => Array.from({ length: n }, (_, i) => f(i));
const wrongOf = (pin) => (pin === "000000" ? "111111" : "000000").slice(0, pin.length);

describe("Dexatel guard under concurrency", () => {
  let worker, api;
  let nextNumber = 612425100;
  const newPhone = () => `33${nextNumber++}`;

  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  async function appWith(dexatelSettings, otp = {}) {
    const app = await api.createApp({ name: "Burst", dexatel: dexatelSettings, otp });
    return { app, dx: dexatel(api, app.apiKey) };
  }

  async function sendOne(dx, phone, now = T0) {
    const res = await dx.send(phone, now);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { pin } = await api.pinOf(`+${phone}`, res.body.data.id);
    return { v: res.body.data, pin };
  }

  test("200 parallel wrong checks count exactly 3 failures, then every check is refused as blocked", async () => {
    const { app, dx } = await appWith({ maxFailedChecks: 3 }, { maxAttempts: 10 });
    const phone = newPhone();
    const { v, pin } = await sendOne(dx, phone);
    const replies = await Promise.all(times(200, () => dx.check(phone, wrongOf(pin), T0 + 1)));
    const failed = replies.filter((r) => r.status === 200);
    const blocked = replies.filter((r) => r.status === 429 && codeOf(r) === 1530);
    assert.equal(failed.length, 3, "exactly maxFailedChecks failures were counted");
    assert.ok(failed.every((r) => r.body.data.length === 0), "none matched");
    assert.equal(blocked.length, 197, JSON.stringify(replies.find((r) => r.status !== 200 && codeOf(r) !== 1530)?.body));
    assert.ok(blocked.every((r) => r.headers.get("retry-after") === "900"), "blocked for the default 15 minutes");

    const record = (await api.otp(app.apiKey).get(v.id, T0 + 2)).body;
    assert.equal(record.attempts, 3, "the OTP's object saw exactly 3 wrong guesses");
    assert.equal(record.status, "CANCELLED", "the block cancelled the pending code");

    const right = await dx.check(phone, pin, T0 + 2);
    assert.equal(right.status, 429);
    assert.equal(codeOf(right), 1530, "the right code after the burst is refused while blocked");
    assert.equal(right.headers.get("retry-after"), String(900 - 1));
    assert.equal(codeOf(await dx.send(phone, T0 + 3)), 1530, "and so is a new code");
    assert.deepEqual((await dx.check(phone, pin, T0 + 1 + 900)).body.data, [], "after the block the old code is dead");
  });

  test("a burst of wrong checks with maxFailedChecks 1 blocks at the first failure", async () => {
    const { dx } = await appWith({ maxFailedChecks: 1, blockSeconds: 60 });
    const phone = newPhone();
    const { pin } = await sendOne(dx, phone);
    const replies = await Promise.all(times(50, () => dx.check(phone, wrongOf(pin), T0 + 5)));
    assert.equal(replies.filter((r) => r.status === 200).length, 1);
    assert.equal(replies.filter((r) => codeOf(r) === 1530).length, 49);
    assert.ok(replies.filter((r) => codeOf(r) === 1530).every((r) => r.headers.get("retry-after") === "60"));
  });

  test("parallel right codes give exactly one match", async () => {
    const { app, dx } = await appWith({});
    const phone = newPhone();
    const { v, pin } = await sendOne(dx, phone);
    const replies = await Promise.all(times(50, () => dx.check(phone, pin, T0 + 1)));
    assert.ok(replies.every((r) => r.status === 200), JSON.stringify(replies.find((r) => r.status !== 200)?.body));
    const matches = replies.filter((r) => r.body.data.length === 1);
    assert.equal(matches.length, 1, "a code is consumed once");
    assert.equal(matches[0].body.data[0].id, v.id);
    assert.equal(matches[0].body.data[0].status, "VERIFIED");
    const record = (await api.otp(app.apiKey).get(v.id, T0 + 2)).body;
    assert.deepEqual([record.status, record.attempts], ["VERIFIED", 0], "no failed attempt");
  });

  test("a burst of right and wrong codes either matches once or blocks, never both", async () => {
    const { app, dx } = await appWith({ maxFailedChecks: 3 }, { maxAttempts: 10 });
    const phone = newPhone();
    const { v, pin } = await sendOne(dx, phone);
    const codes = times(100, (i) => (i % 4 === 3 ? pin : wrongOf(pin)));
    const replies = await Promise.all(codes.map((code) => dx.check(phone, code, T0 + 1)));
    const matched = replies.filter((r) => r.status === 200 && r.body.data.length === 1).length;
    const empty = replies.filter((r) => r.status === 200 && r.body.data.length === 0).length;
    const blocked = replies.filter((r) => codeOf(r) === 1530).length;
    assert.equal(matched + empty + blocked, 100);
    const record = (await api.otp(app.apiKey).get(v.id, T0 + 2)).body;
    if (matched) {
      assert.equal(matched, 1);
      assert.equal(blocked, 0, "a match before the third failure clears the count; later checks find nothing pending");
      assert.equal(record.status, "VERIFIED");
      assert.ok(record.attempts <= 2, `failed attempts ${record.attempts}`);
    } else {
      assert.equal(empty, 3, "three failures, then the block");
      assert.equal(blocked, 97);
      assert.deepEqual([record.status, record.attempts], ["CANCELLED", 3]);
    }
  });

  test("parallel sends to one number: one new code, the others refused with the cooldown", async () => {
    const { dx } = await appWith({ resendCooldownSeconds: 30 });
    const phone = newPhone();
    const replies = await Promise.all(times(20, () => dx.send(phone, T0)));
    const created = replies.filter((r) => r.status === 201);
    const cooled = replies.filter((r) => r.status === 429 && codeOf(r) === 1690);
    assert.equal(created.length, 1, JSON.stringify(replies.map((r) => r.status)));
    assert.equal(cooled.length, 19);
    assert.ok(cooled.every((r) => r.headers.get("retry-after") === "30"), cooled.map((r) => r.headers.get("retry-after")).join());
    const id = created[0].body.data.id;
    assert.equal((await api.outbox(`+${phone}`)).length, 1, "one SMS");
    assert.deepEqual((await dx.list(phone, T0 + 1)).body.data.map((x) => x.id), [id]);

    // After the cooldown, resend_same: one resend of the same verification.
    const again = await Promise.all(times(20, () => dx.send(phone, T0 + 30)));
    const resent = again.filter((r) => r.status === 201);
    assert.equal(resent.length, 1, JSON.stringify(again.map((r) => r.status)));
    assert.equal(resent[0].body.data.id, id, "the same verification");
    assert.equal(again.filter((r) => codeOf(r) === 1690).length, 19);
    const messages = await api.outbox(`+${phone}`);
    assert.equal(messages.length, 2, "two SMS in all");
    const { pin } = await api.pinOf(`+${phone}`, id);
    const ok = await dx.check(phone, pin, T0 + 31);
    assert.equal(ok.body.data[0]?.id, id);
    assert.equal(ok.body.data[0]?.message_id, resent[0].body.data.message_id);
  });

  test("parallel sends with the replace policy: one replacement", async () => {
    const { app, dx } = await appWith({ resendPolicy: "replace", resendCooldownSeconds: 10 });
    const phone = newPhone();
    const first = await sendOne(dx, phone);
    const replies = await Promise.all(times(20, () => dx.send(phone, T0 + 10)));
    const created = replies.filter((r) => r.status === 201);
    assert.equal(created.length, 1, JSON.stringify(replies.map((r) => r.status)));
    assert.equal(replies.filter((r) => codeOf(r) === 1690).length, 19);
    const second = created[0].body.data;
    assert.notEqual(second.id, first.v.id);
    assert.equal((await api.otp(app.apiKey).get(first.v.id, T0 + 11)).body.status, "CANCELLED");
    const listed = (await dx.list(phone, T0 + 11)).body.data;
    assert.deepEqual(listed.map((x) => [x.id, x.status]), [[second.id, "PENDING"], [first.v.id, "CANCELLED"]]);
  });

  test("parallel sends to a blocked number are all refused as blocked", async () => {
    const { dx } = await appWith({ maxFailedChecks: 1, resendCooldownSeconds: 0 });
    const phone = newPhone();
    const { pin } = await sendOne(dx, phone);
    assert.deepEqual((await dx.check(phone, wrongOf(pin), T0 + 1)).body.data, []);
    const replies = await Promise.all(times(20, () => dx.send(phone, T0 + 2)));
    assert.ok(replies.every((r) => r.status === 429 && codeOf(r) === 1530));
    assert.equal((await api.outbox(`+${phone}`)).length, 1, "no SMS while blocked");
  });

  test("a failed SMS releases its send: the next send is not held by the cooldown", async () => {
    const broken = await api.createApp({ name: "Broken", gateway: { type: "webhook", url: "http://127.0.0.1:9/sms" } });
    const dx = dexatel(api, broken.apiKey);
    const phone = newPhone();
    const replies = await Promise.all(times(10, () => dx.send(phone, T0)));
    assert.ok(replies.every((r) => r.status === 502 || codeOf(r) === 1690), JSON.stringify(replies.map((r) => r.status)));
    assert.ok(replies.some((r) => r.status === 502));
    const later = await dx.send(phone, T0);
    assert.equal(later.status, 502, "released: not refused with 1690");
    assert.equal(codeOf(later), 3003);
    assert.deepEqual((await dx.list(phone, T0 + 1)).body.data, [], "nothing pending, nothing listed");
  });
});
