// A Durable Object that fails: every call the worker makes to it is answered with a
// clear 503 (code 1005, "storage unavailable"), never a 500 or a stack trace, and
// nothing is sent or kept. The fault is real and needs no test hook: the binding
// points at the wrong class, whose `call` (worker/src/durable.rs) cannot read the
// request and throws, as an object whose storage or code fails would.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { dumpKv, startApi } from "../support/api.mjs";
import { DURABLE_OBJECTS } from "./harness.mjs";

const PHONE = "+33612425071";
const OTP_ID = "123e4567-e89b-42d3-a456-426614174000";

/** The worker's Durable Object bindings with `binding` pointed at class `className`. */
const objects = (binding, className) => ({ ...DURABLE_OBJECTS, [binding]: { ...DURABLE_OBJECTS[binding], className } });

function assertUnavailable(res) {
  assert.equal(res.status, 503, JSON.stringify(res.body));
  assert.equal(res.body.error?.code, 1005, JSON.stringify(res.body));
  assert.doesNotMatch(JSON.stringify(res.body), /at .*\.(js|rs)|RuntimeError|panicked/);
}

describe("a failing record shard", () => {
  let worker, api, app;
  before(async () => {
    worker = await startApi({ miniflare: { durableObjects: objects("OTP_SHARD", "RateLimiter") } });
    api = worker.api;
    app = await api.createApp({ name: "Faulty shards" });
  });
  after(async () => {
    await worker?.dispose();
  });

  test("a send is refused with 503 1005 and sends no SMS", async () => {
    assertUnavailable(await api.otp(app.apiKey).send({ phoneNumber: PHONE }));
    assert.deepEqual(await api.outbox(PHONE), [], "no SMS went out");
  });

  test("a check and a status read without a KV copy are refused with 503 1005", async () => {
    assertUnavailable(await api.otp(app.apiKey).verify(OTP_ID, "123456"));
    assertUnavailable(await api.otp(app.apiKey).get(OTP_ID));
  });
});

describe("a failing rate-limit object", () => {
  // Creating an app sets up its rate-limit object: the app is made with working
  // objects, then the worker restarts on the same storage with the faulty binding.
  const storage = mkdtempSync(path.join(tmpdir(), "otp-object-faults-"));
  let worker, api, app;
  before(async () => {
    const healthy = await startApi({ insights: false, miniflare: { defaultPersistRoot: storage } });
    app = await healthy.api.createApp({ name: "Faulty limiter" });
    await healthy.dispose();
    worker = await startApi({ insights: false, miniflare: { defaultPersistRoot: storage, durableObjects: objects("RATE_LIMITER", "OtpShard") } });
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
    rmSync(storage, { recursive: true, force: true });
  });

  test("creating an app is refused with 503 1005", async () => {
    const res = await api.admin("POST", "/admin/apps", { name: "Another" });
    assertUnavailable(res);
  });

  test("a send is refused with 503 1005 before anything is sent", async () => {
    assertUnavailable(await api.otp(app.apiKey).send({ phoneNumber: PHONE }));
    // The dev outbox's listing needs the limiter too: its namespace is read directly.
    assert.deepEqual(await dumpKv(worker, "OUTBOX_KV"), [], "no SMS went out");
  });
});
