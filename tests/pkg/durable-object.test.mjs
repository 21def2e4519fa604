// OtpStoreObject's storage rules in Node (ExpiringEntries, which the class in the
// package's Workers-only `otp-sms-verify/workerd` entry wraps), over a fake Durable
// Object storage and a mocked Date (workerd's clock cannot be moved;
// tests/pkg/workerd.test.mjs runs the class for real): expiry, the alarm that deletes
// what expired, and compareAndSet. Then DurableObjectStore over a fake namespace that
// routes each key to its own object, as idFromName does.

import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, test } from "node:test";
import { DurableObjectStore, OtpService } from "otp-sms-verify";
import { KEY, PKG, T0, outbox, rejectsWithCode } from "./helpers.mjs";

/** Internal: not exported by the package, so imported from the build. */
const { ExpiringEntries } = await import(pathToFileURL(path.join(PKG, "dist", "durable-object.js")).href);

/** A Durable Object storage: a Map and one alarm, as workerd keeps them. */
function fakeStorage() {
  const data = new Map();
  let alarm = null;
  const storage = {
    data,
    get alarmAt() {
      return alarm;
    },
    async get(key) {
      return structuredClone(data.get(key));
    },
    async put(key, value) {
      data.set(key, structuredClone(value));
    },
    async delete(key) {
      return data.delete(key);
    },
    async list() {
      return new Map([...data].map(([k, v]) => [k, structuredClone(v)]));
    },
    async getAlarm() {
      return alarm;
    },
    async setAlarm(t) {
      alarm = t;
    },
  };
  return storage;
}

/** Runs `body(clock)` with Date mocked at T0; `clock.advance(seconds)` moves it. */
function withClock(t, body) {
  t.mock.timers.enable({ apis: ["Date"], now: T0 * 1000 });
  return body({ advance: (seconds) => t.mock.timers.tick(seconds * 1000) });
}

describe("OtpStoreObject's storage rules (ExpiringEntries)", () => {
  test("put, get, delete; a value expires by the object's clock", async (t) => {
    await withClock(t, async (clock) => {
      const storage = fakeStorage();
      const object = new ExpiringEntries(storage);
      assert.equal(await object.get("k"), null);
      await object.put("k", "v", 60);
      assert.equal(await object.get("k"), "v");
      clock.advance(59.9);
      assert.equal(await object.get("k"), "v");
      clock.advance(0.1);
      assert.equal(await object.get("k"), null, "expired, even before the alarm ran");
      await object.put("k", "w", 60);
      await object.delete("k");
      assert.equal(await object.get("k"), null);
      assert.equal(storage.data.size, 0);
      await assert.rejects(object.put("k", "v", 0), TypeError);
    });
  });

  test("the alarm is set for the earliest expiry and deletes what expired", async (t) => {
    await withClock(t, async (clock) => {
      const storage = fakeStorage();
      const object = new ExpiringEntries(storage);
      await object.put("k", "v", 300);
      assert.equal(storage.alarmAt, (T0 + 300) * 1000);
      await object.put("k", "v2", 600);
      assert.equal(storage.alarmAt, (T0 + 300) * 1000, "an earlier alarm stays");
      await object.put("other", "x", 100);
      assert.equal(storage.alarmAt, (T0 + 100) * 1000, "a sooner expiry brings it forward");

      clock.advance(100);
      await object.alarm();
      assert.deepEqual([...storage.data.keys()], ["k"], "what expired is gone");
      assert.equal(storage.alarmAt, (T0 + 600) * 1000, "set again for what is left");
      clock.advance(500);
      await object.alarm();
      assert.equal(storage.data.size, 0);
    });
  });

  test("compareAndSet replaces only the expected live value, with the new TTL", async (t) => {
    await withClock(t, async (clock) => {
      const object = new ExpiringEntries(fakeStorage());
      assert.equal(await object.compareAndSet("k", "1", "2", 60), false, "absent");
      assert.equal(await object.get("k"), null, "nothing created");
      await object.put("k", "1", 60);
      assert.equal(await object.compareAndSet("k", "0", "2", 60), false, "another value");
      assert.equal(await object.compareAndSet("k", "1", "2", 120), true);
      clock.advance(119);
      assert.equal(await object.get("k"), "2");
      clock.advance(1);
      assert.equal(await object.compareAndSet("k", "2", "3", 60), false, "expired");
    });
  });
});

describe("DurableObjectStore", () => {
  /** A namespace of objects with OtpStoreObject's rules: one per name, as idFromName + get give. */
  function fakeNamespace() {
    const objects = new Map();
    return {
      objects,
      idFromName: (name) => ({ name }),
      get: (id) => {
        if (!objects.has(id.name)) objects.set(id.name, new ExpiringEntries(fakeStorage()));
        return objects.get(id.name);
      },
    };
  }

  test("one object per key; OtpService runs over it", async () => {
    const namespace = fakeNamespace();
    const sms = outbox();
    const service = new OtpService({
      store: new DurableObjectStore(namespace),
      sender: sms,
      keys: [KEY],
      settings: { template: "{{pin}}" },
    });
    const a = await service.send({ phoneNumber: "+33612345678" });
    const b = await service.send({ phoneNumber: "+33612345678" });
    assert.deepEqual([...namespace.objects.keys()].sort(), [`otp:${a.otpId}`, `otp:${b.otpId}`].sort());
    await rejectsWithCode(assert, service.verify(a.otpId, "not-it"), 2029);
    assert.equal((await service.verify(b.otpId, sms.pin())).status, "VERIFIED");
    assert.equal((await service.cancel(a.otpId)).status, "CANCELLED");
    await assert.rejects(new DurableObjectStore(namespace).put("k", "v", { ttlSeconds: -1 }), TypeError);
    service.free();
  });
});
