// KV refusing the records' copies (issue 16: "a KV fault during the after-reply copy
// loses nothing: the object is the truth"). OTP_KV is the real namespace behind a
// wrapped binding (tests/support/faulty-kv.mjs) whose puts of `otp:` keys fail: the
// shard retries a copy once a second (KV's write rate per key), and while there is
// none, status reads ask the shard.

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startApi, waitFor } from "../support/api.mjs";
import { ROOT } from "./harness.mjs";

const PHONE = "+33612424121";

/** The worker with OTP_KV refusing the first `fails` puts of each record copy (-1: all). */
async function startWithFaultyKv(fails) {
  return startApi({
    kvNamespaces: ["OUTBOX_KV"],
    miniflare: { wrappedBindings: { OTP_KV: { scriptName: "faulty-kv", bindings: { PREFIX: "otp:", FAILS: fails } } } },
    workers: [
      {
        name: "faulty-kv",
        modules: true,
        scriptPath: path.join(ROOT, "tests/support/faulty-kv.mjs"),
        kvNamespaces: { KV: "OTP_KV" },
      },
    ],
  });
}

/** Sends a PIN as `app` and checks it right; returns the otpId. */
async function sendAndVerify(api, app) {
  const otp = api.otp(app.apiKey);
  const sent = await otp.send({ phoneNumber: PHONE });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  const { pin } = await api.pinOf(PHONE, sent.body.otpId);
  const checked = await otp.verify(sent.body.otpId, pin);
  assert.deepEqual([checked.status, checked.body], [200, { status: "VERIFIED" }]);
  return sent.body.otpId;
}

describe("KV refusing every copy", () => {
  let worker, api, app, kv;
  before(async () => {
    worker = await startWithFaultyKv(-1);
    api = worker.api;
    app = await api.createApp({ name: "KV down" });
    kv = await worker.mf.getKVNamespace("KV", "faulty-kv");
  });
  after(async () => {
    await worker?.dispose();
  });

  test("a check still answers, and status reads get the truth from the shard", async () => {
    const otpId = await sendAndVerify(api, app);
    const otp = api.otp(app.apiKey);
    for (let i = 0; i < 2; i++) {
      const read = await otp.get(otpId);
      assert.equal(read.status, 200, JSON.stringify(read.body));
      assert.equal(read.body.status, "VERIFIED");
      assert.equal(read.headers.get("x-storage-ops").includes("object-calls=1"), true, "asked the shard");
    }
    // The PIN was consumed in the shard: the copy's fate changes nothing.
    const again = await otp.verify(otpId, "000000");
    assert.deepEqual([again.status, again.body.error?.code], [400, 2023], JSON.stringify(again.body));
    // Attempts were made, and none landed.
    await waitFor(async () => Number(await kv.get(`attempts:otp:${app.appId}:${otpId}`)) >= 2, { what: "two attempts at the copy" });
    assert.equal(await kv.get(`otp:${app.appId}:${otpId}`), null);
  });
});

describe("KV refusing the first two writes of each copy", () => {
  let worker, api, app, kv;
  before(async () => {
    worker = await startWithFaultyKv(2);
    api = worker.api;
    app = await api.createApp({ name: "KV busy" });
    kv = await worker.mf.getKVNamespace("KV", "faulty-kv");
  });
  after(async () => {
    await worker?.dispose();
  });

  test("the shard retries the copy once a second until KV takes it", async () => {
    const otpId = await sendAndVerify(api, app);
    const key = `otp:${app.appId}:${otpId}`;
    await waitFor(async () => (await kv.get(key)) !== null, { ms: 8_000, what: "the copy to land" });
    assert.equal(JSON.parse(await kv.get(key)).status, "VERIFIED");
    assert.equal(await kv.get(`attempts:${key}`), "3", "two refused, the third taken");
    const read = await api.otp(app.apiKey).get(otpId);
    assert.equal(read.body.status, "VERIFIED");
    assert.equal(read.headers.get("x-storage-ops").includes("object-calls=0"), true, "read from the copy");
  });
});
