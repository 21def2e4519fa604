// OtpService flows over MemoryStore, over KvStore with a KV-like fake and over a store
// with only get/put/delete, driven by a clock the tests move by hand; the create order
// (store, send, delete on a refusal) and compare-and-set conflicts.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KvStore, MemoryStore, OtpError, OtpService, verifyOtp } from "otp-sms-verify";
import { KEY, T0, fakeClock, outbox, rejectsWithCode } from "./helpers.mjs";

const PHONE = "+33612424111";

/**
 * A fake Workers KV namespace: `put(key, value, {expirationTtl})` (60 s minimum, as
 * KV), `get`, `delete`; expiry by the given clock. Every call yields to the event loop
 * first, so racing callers interleave as they would against a real store.
 */
function fakeKv(clock) {
  const data = new Map();
  const puts = [];
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  return {
    data,
    puts,
    async get(key) {
      await tick();
      const entry = data.get(key);
      return entry && clock.now() < entry.expiresAt ? entry.value : null;
    },
    async put(key, value, options) {
      await tick();
      assert.equal(typeof value, "string");
      assert.ok(Number.isInteger(options.expirationTtl) && options.expirationTtl >= 60, "KV needs expirationTtl >= 60");
      puts.push({ key, expirationTtl: options.expirationTtl });
      data.set(key, { value, expiresAt: clock.now() + options.expirationTtl });
    },
    async delete(key) {
      await tick();
      data.delete(key);
    },
  };
}

/** The stores under test, each with its own clock and a way to list stored values. */
const STORES = {
  MemoryStore: (clock) => {
    const store = new MemoryStore({ now: clock.now });
    return { store, values: () => store.entries().map(([, v]) => v) };
  },
  "a get/put/delete store (no compareAndSet)": (clock) => {
    const memory = new MemoryStore({ now: clock.now });
    const store = {
      get: (key) => memory.get(key),
      put: (key, value, options) => memory.put(key, value, options),
      delete: (key) => memory.delete(key),
    };
    return { store, values: () => memory.entries().map(([, v]) => v) };
  },
  "KvStore over a KV-like fake": (clock) => {
    const kv = fakeKv(clock);
    return { store: new KvStore(kv), kv, values: () => [...kv.data.values()].map((e) => e.value) };
  },
};

function setup(makeStore, options = {}) {
  const clock = fakeClock();
  const { store, values, kv } = makeStore(clock);
  const sms = outbox();
  const changes = [];
  const service = new OtpService({
    store,
    sender: sms,
    keys: [KEY],
    settings: { template: "{{pin}}", ttl: 300, maxAttempts: 3 },
    now: clock.now,
    onStatusChange: (view) => void changes.push(view.status),
    ...options,
  });
  /** Every stored value must be free of the PINs sent and of the full phone number. */
  const assertNoSecretsStored = () => {
    const stored = values();
    assert.ok(stored.length > 0);
    for (const value of stored) {
      for (const m of sms.messages) assert.ok(!value.includes(m.text), `a PIN is stored: ${value}`);
      assert.ok(!value.includes("612424111"), `the full phone is stored: ${value}`);
    }
  };
  return { clock, store, kv, sms, changes, service, values, assertNoSecretsStored };
}

/** A PIN that is surely wrong for `pin`. */
const wrongFor = (pin) => (pin === "000000" ? "111111" : "000000");

for (const [name, makeStore] of Object.entries(STORES)) {
  describe(`OtpService with ${name}`, () => {
    test("send → status → wrong PIN → right PIN: VERIFIED", async () => {
      const s = setup(makeStore);
      const sent = await s.service.send({ phoneNumber: PHONE });
      assert.equal(sent.status, "PENDING");
      assert.equal(sent.phoneNumber, PHONE, "the create reply shows the full number");
      assert.equal(s.sms.messages.length, 1);
      assert.equal(s.sms.messages[0].to, PHONE);
      const pin = s.sms.pin();
      assert.match(pin, /^\d{6}$/);

      const status = await s.service.status(sent.otpId);
      assert.equal(status.status, "PENDING");
      assert.equal(status.phoneNumber, "+3361242****");

      await rejectsWithCode(assert, s.service.verify(sent.otpId, wrongFor(pin)), 2029);
      s.clock.advance(10);
      const verified = await s.service.verify(sent.otpId, pin);
      assert.equal(verified.status, "VERIFIED");
      assert.equal(verified.attempts, 1, "one wrong PIN before");
      assert.deepEqual(s.changes, ["VERIFIED"]);
      await rejectsWithCode(assert, s.service.verify(sent.otpId, pin), 2023);
      assert.equal((await s.service.status(sent.otpId)).status, "VERIFIED");
      s.assertNoSecretsStored();
    });

    test("wrong PINs: 2029, 2029, 2027 (FAILED), then 2026 even for the right one", async () => {
      const s = setup(makeStore);
      const { otpId } = await s.service.send({ phoneNumber: PHONE });
      const pin = s.sms.pin();
      const wrong = wrongFor(pin);
      await rejectsWithCode(assert, s.service.verify(otpId, wrong), 2029);
      await rejectsWithCode(assert, s.service.verify(otpId, wrong), 2029);
      await rejectsWithCode(assert, s.service.verify(otpId, wrong), 2027);
      await rejectsWithCode(assert, s.service.verify(otpId, pin), 2026);
      const view = await s.service.status(otpId);
      assert.equal(view.status, "FAILED");
      assert.equal(view.attempts, 3);
      assert.deepEqual(s.changes, ["FAILED"]);
      s.assertNoSecretsStored();
    });

    test("a missing PIN is 2022 and uses no attempt", async () => {
      const s = setup(makeStore);
      const { otpId } = await s.service.send({ phoneNumber: PHONE });
      await rejectsWithCode(assert, s.service.verify(otpId, ""), 2022);
      await rejectsWithCode(assert, s.service.verify(otpId, undefined), 2022);
      assert.equal((await s.service.status(otpId)).attempts, 0);
      assert.equal((await s.service.verify(otpId, s.sms.pin())).status, "VERIFIED");
    });

    test("EXPIRED when the clock passes the TTL (2025), unknown (2021) once retention ends", async () => {
      const s = setup(makeStore, { retentionSeconds: 3600 });
      const { otpId } = await s.service.send({ phoneNumber: PHONE, ttl: 120 });
      s.clock.advance(119);
      assert.equal((await s.service.status(otpId)).status, "PENDING");
      s.clock.advance(1);
      assert.equal((await s.service.status(otpId)).status, "EXPIRED");
      await rejectsWithCode(assert, s.service.verify(otpId, s.sms.pin()), 2025);
      await rejectsWithCode(assert, s.service.cancel(otpId), 2031);
      assert.deepEqual(s.changes, [], "expiry fires no status change");
      s.clock.advance(3600);
      await rejectsWithCode(assert, s.service.status(otpId), 2021);
    });

    test("CANCELLED: cancel returns the view; verify is 2024; cancelling again is 2030", async () => {
      const s = setup(makeStore);
      const { otpId } = await s.service.send({ phoneNumber: PHONE });
      const cancelled = await s.service.cancel(otpId);
      assert.equal(cancelled.status, "CANCELLED");
      assert.deepEqual(s.changes, ["CANCELLED"]);
      await rejectsWithCode(assert, s.service.verify(otpId, s.sms.pin()), 2024);
      await rejectsWithCode(assert, s.service.cancel(otpId), 2030);
      assert.equal((await s.service.status(otpId)).status, "CANCELLED");

      const other = await s.service.send({ phoneNumber: PHONE });
      await s.service.verify(other.otpId, s.sms.pin());
      await rejectsWithCode(assert, s.service.cancel(other.otpId), 2031);
      s.assertNoSecretsStored();
    });

    test("unknown or malformed ids are 2021", async () => {
      const s = setup(makeStore);
      for (const id of ["123e4567-e89b-42d3-a456-426614174000", "not-an-id", "", "../otp"]) {
        await rejectsWithCode(assert, s.service.status(id), 2021);
        await rejectsWithCode(assert, s.service.verify(id, "123456"), 2021);
        await rejectsWithCode(assert, s.service.cancel(id), 2021);
      }
    });

    test("50 parallel wrong guesses with maxAttempts 3 count exactly 3 and none verifies", async () => {
      const s = setup(makeStore);
      const { otpId } = await s.service.send({ phoneNumber: PHONE });
      const pin = s.sms.pin();
      const guesses = Array.from({ length: 50 }, (_, i) => String((Number(pin) + 1 + i) % 1e6).padStart(6, "0"));
      const results = await Promise.allSettled(guesses.map((guess) => s.service.verify(otpId, guess)));
      assert.ok(results.every((r) => r.status === "rejected" && r.reason instanceof OtpError));
      const codes = results.map((r) => r.reason.code);
      assert.deepEqual(codes.slice(0, 3), [2029, 2029, 2027], "calls are served in order");
      assert.deepEqual(new Set(codes.slice(3)), new Set([2026]));
      const view = await s.service.status(otpId);
      assert.equal(view.status, "FAILED");
      assert.equal(view.attempts, 3);
      await rejectsWithCode(assert, s.service.verify(otpId, pin), 2026);
      assert.deepEqual(s.changes, ["FAILED"]);
    });

    test("a right PIN among parallel wrong ones: exactly one outcome wins", async () => {
      const s = setup(makeStore);
      const { otpId } = await s.service.send({ phoneNumber: PHONE });
      const pin = s.sms.pin();
      const guesses = [wrongFor(pin), pin, pin, wrongFor(pin), pin];
      const results = await Promise.allSettled(guesses.map((g) => s.service.verify(otpId, g)));
      assert.deepEqual(
        results.map((r) => (r.status === "fulfilled" ? r.value.status : r.reason.code)),
        [2029, "VERIFIED", 2023, 2023, 2023],
      );
    });
  });
}

describe("OtpService details", () => {
  test("records are stored with storageTtl; KV gets expirationTtl = remaining life + retention", async () => {
    const s = setup(STORES["KvStore over a KV-like fake"], { retentionSeconds: 0 });
    const { otpId } = await s.service.send({ phoneNumber: PHONE, ttl: 120 });
    s.clock.advance(100);
    await rejectsWithCode(assert, s.service.verify(otpId, wrongFor(s.sms.pin())), 2029);
    assert.deepEqual(s.kv.puts, [
      { key: `otp:${otpId}`, expirationTtl: 120 },
      { key: `otp:${otpId}`, expirationTtl: 60 }, // 20 s left, raised to KV's minimum
    ]);
  });

  test("services built per request (as in a Worker) still serialise one OTP's verifications", async () => {
    const clock = fakeClock();
    const kv = fakeKv(clock);
    const sms = outbox();
    const settings = { maxAttempts: 3, template: "{{pin}}" };
    const service = () => new OtpService({ store: new KvStore(kv), sender: sms, keys: [KEY], settings, now: clock.now });
    const { otpId } = await service().send({ phoneNumber: PHONE });
    const wrong = wrongFor(sms.pin());
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => service().verify(otpId, wrong)));
    assert.deepEqual(results.map((r) => r.reason.code).slice(0, 4), [2029, 2029, 2027, 2026]);
    assert.equal((await service().status(otpId)).attempts, 3);
  });

  test("send stores the record, then sends, and deletes the record when the sender refuses", async () => {
    /** A service whose store and sender log their calls; the sender sees what is stored. */
    const logged = (refuse) => {
      const memory = new MemoryStore();
      const log = [];
      const store = {
        get: (key) => memory.get(key),
        put: async (key, value, options) => {
          log.push(["put", key]);
          await memory.put(key, value, options);
        },
        delete: async (key) => {
          log.push(["delete", key]);
          await memory.delete(key);
        },
      };
      const sender = {
        send: async () => {
          log.push(["send", memory.entries().map(([key, value]) => [key, JSON.parse(value).status])]);
          if (refuse) throw new Error("gateway refused");
        },
      };
      return { memory, log, service: new OtpService({ store, sender, keys: [KEY] }) };
    };

    const ok = logged(false);
    const { otpId } = await ok.service.send({ phoneNumber: PHONE });
    const key = `otp:${otpId}`;
    assert.deepEqual(ok.log, [["put", key], ["send", [[key, "PENDING"]]]], "stored before sending, kept once sent");
    assert.equal(ok.memory.entries().length, 1);

    const refused = logged(true);
    await assert.rejects(refused.service.send({ phoneNumber: "+447400123456" }), /gateway refused/);
    const [put, send, removed] = refused.log;
    assert.equal(refused.log.length, 3);
    assert.equal(put[0], "put");
    assert.deepEqual(send, ["send", [[put[1], "PENDING"]]]);
    assert.deepEqual(removed, ["delete", put[1]], "the refused OTP's record is deleted");
    assert.deepEqual(refused.memory.entries(), []);
  });

  test("a refused SMS is reported even when deleting its record fails too", async (t) => {
    const logged = [];
    t.mock.method(console, "error", (...args) => logged.push(args));
    const memory = new MemoryStore();
    const store = {
      get: (key) => memory.get(key),
      put: (key, value, options) => memory.put(key, value, options),
      delete: async () => Promise.reject(new Error("store down")),
    };
    const sender = { send: async () => Promise.reject(new Error("gateway refused")) };
    const service = new OtpService({ store, sender, keys: [KEY] });
    await assert.rejects(service.send({ phoneNumber: PHONE }), /gateway refused/);
    assert.equal(logged.length, 1);
    assert.match(String(logged[0][1]), /store down/);
  });

  test("a store that fails to store sends no SMS", async () => {
    const sms = outbox();
    const store = {
      get: async () => null,
      put: async () => Promise.reject(new Error("store down")),
      delete: async () => assert.fail("nothing to delete"),
    };
    const service = new OtpService({ store, sender: sms, keys: [KEY] });
    await assert.rejects(service.send({ phoneNumber: PHONE }), /store down/);
    assert.equal(sms.messages.length, 0);
  });

  test("compareAndSet: a change stored by another process in between is read again and counted on", async () => {
    const clock = fakeClock();
    const memory = new MemoryStore({ now: clock.now });
    const sms = outbox();
    const settings = { template: "{{pin}}", maxAttempts: 3 };
    const calls = [];
    let raced = false;
    // Another process verifies a wrong PIN between this one's read and its compareAndSet.
    const store = {
      get: (key) => memory.get(key),
      put: (key, value, options) => memory.put(key, value, options),
      delete: (key) => memory.delete(key),
      compareAndSet: async (key, expected, value, options) => {
        if (!raced) {
          raced = true;
          const theirs = verifyOtp(JSON.parse(expected), "000000", [KEY], clock.now());
          await memory.put(key, JSON.stringify(theirs.record), options);
        }
        const done = await memory.compareAndSet(key, expected, value, options);
        calls.push([JSON.parse(value).attempts, done]);
        return done;
      },
    };
    const service = new OtpService({ store, sender: sms, keys: [KEY], settings, now: clock.now });
    const { otpId } = await service.send({ phoneNumber: PHONE });
    const pin = sms.pin();
    assert.notEqual(pin, "000000");
    await rejectsWithCode(assert, service.verify(otpId, "111111"), 2029);
    assert.deepEqual(calls, [[1, false], [2, true]], "the first write lost; the second counted on top of theirs");
    assert.equal((await service.status(otpId)).attempts, 2);
    await rejectsWithCode(assert, service.verify(otpId, "111111"), 2027);
    await rejectsWithCode(assert, service.cancel(otpId), 2031);
  });

  test("compareAndSet: a store whose compareAndSet never succeeds is an error, not a loop", async () => {
    const memory = new MemoryStore();
    const sms = outbox();
    let tries = 0;
    const store = {
      get: (key) => memory.get(key),
      put: (key, value, options) => memory.put(key, value, options),
      delete: (key) => memory.delete(key),
      compareAndSet: async () => {
        tries += 1;
        return false;
      },
    };
    const service = new OtpService({ store, sender: sms, keys: [KEY], settings: { template: "{{pin}}" } });
    const { otpId } = await service.send({ phoneNumber: PHONE });
    await assert.rejects(service.cancel(otpId), /compareAndSet failed 64 times/);
    assert.equal(tries, 64);
    assert.equal((await service.status(otpId)).status, "PENDING");
  });

  test("a sender that fails leaves nothing stored", async () => {
    const store = new MemoryStore();
    const service = new OtpService({
      store,
      sender: { send: async () => Promise.reject(new Error("gateway down")) },
      keys: [KEY],
    });
    await assert.rejects(service.send({ phoneNumber: PHONE }), /gateway down/);
    assert.deepEqual(store.entries(), []);
  });

  test("bad requests are OtpErrors and send no SMS", async () => {
    const s = setup(STORES.MemoryStore);
    await rejectsWithCode(assert, s.service.send({ phoneNumber: "" }), 2001);
    await rejectsWithCode(assert, s.service.send({ phoneNumber: PHONE, ttl: 5 }), 2008);
    await rejectsWithCode(assert, s.service.send({ phoneNumber: "+33 abc" }), 2020);
    assert.equal(s.sms.messages.length, 0);
  });

  test("settings and keys are checked when the service is built", async () => {
    const base = { store: new MemoryStore(), sender: outbox() };
    await rejectsWithCode(assert, () => new OtpService({ ...base, keys: [KEY], settings: { ttl: 10 } }), 2008);
    assert.throws(() => new OtpService({ ...base, keys: [] }), TypeError);
    assert.throws(() => new OtpService({ ...base, keys: ["too short"] }), TypeError);
    assert.throws(() => new OtpService({ ...base, keys: [KEY], retentionSeconds: -1 }), TypeError);
  });

  test("rotated keys: OTPs sent under the old key verify with [new, old]", async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now });
    const sms = outbox();
    const settings = { template: "{{pin}}" };
    const before = new OtpService({ store, sender: sms, keys: [KEY], settings, now: clock.now });
    const { otpId } = await before.send({ phoneNumber: PHONE });
    const keys = ["a-newer-key-0123456789", KEY];
    const after = new OtpService({ store, sender: sms, keys, settings, now: clock.now });
    assert.equal((await after.verify(otpId, sms.pin())).status, "VERIFIED");
  });

  test("a failing onStatusChange hook is logged and does not undo the verification", async (t) => {
    const logged = [];
    t.mock.method(console, "error", (...args) => logged.push(args));
    const s = setup(STORES.MemoryStore, {
      onStatusChange: async () => {
        throw new Error("hook broke");
      },
    });
    const { otpId } = await s.service.send({ phoneNumber: PHONE });
    assert.equal((await s.service.verify(otpId, s.sms.pin())).status, "VERIFIED");
    assert.equal(logged.length, 1);
    assert.match(String(logged[0][1]), /hook broke/);
  });

  test("letter PINs verify case-insensitively", async () => {
    const s = setup(STORES.MemoryStore, { settings: { template: "{{pin}}", pinType: "letters", pinLength: 8 } });
    const { otpId } = await s.service.send({ phoneNumber: PHONE });
    assert.match(s.sms.pin(), /^[A-Z]{8}$/);
    assert.equal((await s.service.verify(otpId, s.sms.pin().toLowerCase())).status, "VERIFIED");
  });
});

describe("MemoryStore", () => {
  test("honours the TTL by its clock, deletes, and lists live entries", async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now });
    await store.put("a", "1", { ttlSeconds: 60 });
    await store.put("b", "2", { ttlSeconds: 120 });
    assert.equal(await store.get("a"), "1");
    clock.advance(60);
    assert.equal(await store.get("a"), null);
    assert.deepEqual(store.entries(), [["b", "2"]]);
    await store.delete("b");
    assert.equal(await store.get("b"), null);
    await assert.rejects(store.put("c", "3", { ttlSeconds: 0 }), TypeError);
    assert.equal(T0, clock.now() - 60);
  });

  test("compareAndSet replaces only the expected live value", async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now });
    assert.equal(await store.compareAndSet("a", "1", "2", { ttlSeconds: 60 }), false, "absent");
    await store.put("a", "1", { ttlSeconds: 60 });
    assert.equal(await store.compareAndSet("a", "0", "2", { ttlSeconds: 60 }), false, "another value");
    assert.equal(await store.get("a"), "1");
    assert.equal(await store.compareAndSet("a", "1", "2", { ttlSeconds: 120 }), true);
    assert.equal(await store.get("a"), "2");
    clock.advance(119);
    assert.equal(await store.get("a"), "2", "the new TTL counts from the compareAndSet");
    clock.advance(1);
    assert.equal(await store.compareAndSet("a", "2", "3", { ttlSeconds: 60 }), false, "expired");
    assert.equal(await store.get("a"), null);
  });
});
