// Storage round trips per request (issue 16), as the worker counts them in
// development (`X-Storage-Ops`, worker/src/ops.rs), and when a record's KV copy is
// written: not by a send, but after a check and after a status read that found none
// (worker/src/service/shard.rs, "The KV copy"). Requests go one at a time: the
// counter belongs to the isolate.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dumpKv, insightStatuses, startApi, T0, waitFor } from "../support/api.mjs";

const PHONES = ["+33612424111", "+33612424112", "+33612424113", "+33612424115"];
const DEXATEL_PHONE = "33612424114";

/** The counts of a reply's `X-Storage-Ops` header, by name. */
function opsOf(res) {
  const header = res.headers.get("x-storage-ops");
  assert.ok(header, "development replies carry X-Storage-Ops");
  return Object.fromEntries(
    header.split(";").map((part) => {
      const [name, value] = part.trim().split("=");
      return [name, Number(value)];
    }),
  );
}

/** A request's counts that write no KV on the request path and call no object after it. */
function counts({ kvReads, objectCalls, afterKvWrites }) {
  return {
    "kv-reads": kvReads,
    "kv-writes": 0,
    "object-calls": objectCalls,
    "after-kv-writes": afterKvWrites,
    "after-object-calls": 0,
  };
}

describe("storage operations per request and the records' KV copies", () => {
  let worker, api, app, otp;
  before(async () => {
    worker = await startApi();
    api = worker.api;
    app = await api.createApp({ name: "Round trips" });
    otp = api.otp(app.apiKey);
  });
  after(async () => {
    await worker?.dispose();
  });

  /** The app's record copies in KV, as `otpId -> status`. */
  async function copies() {
    const prefix = `otp:${app.appId}:`;
    const entries = (await dumpKv(worker)).filter(([key]) => key.startsWith(prefix));
    return Object.fromEntries(entries.map(([key, value]) => [key.slice(prefix.length), JSON.parse(value).status]));
  }

  /** Waits (at most about 5 s) until the copy of `otpId` in KV has `status`. */
  async function copyBecomes(otpId, status) {
    await waitFor(async () => (await copies())[otpId] === status, { what: `the KV copy of ${otpId} to be ${status}` });
  }

  async function sendOne(phoneNumber) {
    const res = await otp.send({ phoneNumber });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { pin } = await api.pinOf(phoneNumber, res.body.otpId);
    return { res, otpId: res.body.otpId, pin };
  }

  test("a send writes no KV copy; a check is one object call and writes it after its reply", async () => {
    const { res, otpId, pin } = await sendOne(PHONES[0]);
    const sent = opsOf(res);
    assert.equal(sent["kv-writes"], 0);
    assert.equal(sent["after-kv-writes"], 0, "a new record is not copied");
    assert.ok(sent["object-calls"] <= 2, `at most two round trips before the gateway: ${JSON.stringify(sent)}`);

    const checked = await otp.verify(otpId, pin);
    assert.equal(checked.status, 200, JSON.stringify(checked.body));
    assert.deepEqual(opsOf(checked), counts({ kvReads: 0, objectCalls: 1, afterKvWrites: 1 }));
    await copyBecomes(otpId, "VERIFIED");

    const read = await otp.get(otpId);
    assert.equal(read.body.status, "VERIFIED");
    assert.deepEqual(opsOf(read), counts({ kvReads: 1, objectCalls: 0, afterKvWrites: 0 }));
  });

  test("a status read of an OTP with no copy asks the shard once, which then writes the copy", async () => {
    const { otpId, pin } = await sendOne(PHONES[1]);
    assert.equal((await copies())[otpId], undefined);

    const first = await otp.get(otpId);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, "PENDING");
    assert.deepEqual(opsOf(first), counts({ kvReads: 1, objectCalls: 1, afterKvWrites: 1 }));
    await copyBecomes(otpId, "PENDING");
    const again = await otp.get(otpId);
    assert.equal(again.body.status, "PENDING");
    assert.deepEqual(opsOf(again), counts({ kvReads: 1, objectCalls: 0, afterKvWrites: 0 }));

    // From then on every change is copied: a wrong guess, then the cancel.
    const wrong = await otp.verify(otpId, pin === "000000" ? "111111" : "000000");
    assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
    assert.equal(opsOf(wrong)["after-kv-writes"], 1);
    assert.equal((await otp.cancel(otpId)).status, 200);
    await copyBecomes(otpId, "CANCELLED");
    assert.equal((await otp.get(otpId)).body.status, "CANCELLED");
  });

  test("a status read that misses a copy which landed asks the shard and writes nothing again", async () => {
    // As at a location whose KV cache still holds the "not found" of an earlier read:
    // here the copy is taken away once it landed.
    const { otpId, pin } = await sendOne(PHONES[3]);
    assert.equal((await otp.verify(otpId, pin)).status, 200);
    await copyBecomes(otpId, "VERIFIED");
    await (await worker.kv()).delete(`otp:${app.appId}:${otpId}`);
    for (let i = 0; i < 3; i++) {
      const read = await otp.get(otpId);
      assert.equal(read.body.status, "VERIFIED");
      assert.deepEqual(opsOf(read), counts({ kvReads: 1, objectCalls: 1, afterKvWrites: 0 }));
    }
  });

  test("a status read of an unknown OTP asks the shard and copies nothing", async () => {
    const id = "0" + crypto.randomUUID().slice(1);
    const res = await otp.get(id);
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(opsOf(res)["object-calls"], 1);
    assert.equal(opsOf(res)["after-kv-writes"], 0);
  });

  test("Dexatel: a create writes no KV copy, a check writes one", async () => {
    const headers = { "x-dexatel-key": app.apiKey };
    const created = await api.call("POST", "/v1/verifications", {
      body: { data: { sender: "Verify", phone: DEXATEL_PHONE } },
      headers,
      now: T0,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(opsOf(created)["after-kv-writes"], 0);
    const id = created.body.data.id;
    const { pin } = await api.pinOf(`+${DEXATEL_PHONE}`, id);
    const checked = await api.call("GET", `/v1/verifications?phone=${DEXATEL_PHONE}&code=${pin}`, { headers, now: T0 });
    assert.equal(checked.status, 200, JSON.stringify(checked.body));
    assert.equal(opsOf(checked)["object-calls"], 1);
    assert.equal(opsOf(checked)["after-kv-writes"], 1);
    await copyBecomes(id, "VERIFIED");
  });

  test("a send that fails at its gateway leaves no copy and no record", async () => {
    const down = await api.createApp({
      name: "Gateway down",
      gateway: { type: "webhook", url: "http://127.0.0.1:9/sms" },
    });
    const res = await api.otp(down.apiKey).send({ phoneNumber: PHONES[2] });
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.equal(opsOf(res)["after-kv-writes"], 0, "the removed record was never copied");
    const keys = (await dumpKv(worker)).map(([key]) => key);
    assert.deepEqual(keys.filter((key) => key.startsWith(`otp:${down.appId}:`)), []);
    assert.deepEqual(Object.values(await insightStatuses(worker, down.appId)), ["UNSENT"], "removed before its SMS went out");
  });
});
