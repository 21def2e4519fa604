// RedisStore against a real redis-server (Debian's, started here on 127.0.0.1 on a free
// port and stopped at the end), through the official client (node-redis): the store's
// operations and TTLs, an OtpService flow, and exactness across processes: 8 Node
// processes × 25 parallel wrong guesses count exactly maxAttempts, and 16 parallel right
// PINs across them verify exactly once.

import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import { OtpService, RedisStore } from "otp-sms-verify";
import { KEY, ROOT, outbox, rejectsWithCode } from "./helpers.mjs";
import { startRedis } from "./redis-server.mjs";

const GUESSER = path.join(ROOT, "tests", "pkg", "fixtures", "redis-guesser.mjs");
const PREFIX = "test:";
const PHONE = "+4915123456789";

let redis;
let client;

before(async () => {
  redis = await startRedis();
  client = await createClient({ url: redis.url }).connect();
});
after(async () => {
  await client?.close();
  await redis?.stop();
});

/** A service over RedisStore in this process, with PINs in the SMS text. */
function service(options = {}) {
  const sms = outbox();
  const changes = [];
  const otp = new OtpService({
    store: new RedisStore(client, { keyPrefix: PREFIX }),
    sender: sms,
    keys: [KEY],
    settings: { template: "{{pin}}", maxAttempts: 3 },
    onStatusChange: (view) => void changes.push(view.status),
    ...options,
  });
  return { otp, sms, changes };
}

/**
 * Runs one guesser process per entry of `pinsPerProcess` against `otpId`, releases them
 * together once all are connected, and returns their reports.
 */
async function guessAcrossProcesses(otpId, pinsPerProcess) {
  const children = pinsPerProcess.map((pins) => {
    const config = { url: redis.url, keyPrefix: PREFIX, key: KEY, otpId, pins };
    return fork(GUESSER, [JSON.stringify(config)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  });
  const messages = children.map((child) => {
    const received = [];
    child.on("message", (m) => received.push(m));
    const exited = once(child, "exit").then(([code]) => {
      assert.equal(code, 0, "a guesser process failed");
      return received;
    });
    return { child, exited, ready: new Promise((resolve) => child.once("message", resolve)) };
  });
  await Promise.all(messages.map((m) => m.ready));
  for (const { child } of messages) child.send("go");
  const reports = await Promise.all(messages.map((m) => m.exited));
  return reports.map((received) => received.find((m) => m.outcomes));
}

/** How many times each outcome occurs. */
const tally = (outcomes) => Object.fromEntries([...new Set(outcomes)].sort().map((o) => [o, outcomes.filter((x) => x === o).length]));

describe("RedisStore", () => {
  test("get, put with EX, delete, under its key prefix", async () => {
    const store = new RedisStore(client, { keyPrefix: PREFIX });
    assert.equal(await store.get("a"), null);
    await store.put("a", "1", { ttlSeconds: 120 });
    assert.equal(await store.get("a"), "1");
    assert.equal(await client.get(`${PREFIX}a`), "1", "stored under the prefix");
    assert.equal(await client.ttl(`${PREFIX}a`), 120);
    await store.put("a", "2", { ttlSeconds: 60.2 });
    assert.equal(await client.ttl(`${PREFIX}a`), 61, "whole seconds, rounded up");
    await store.delete("a");
    assert.equal(await store.get("a"), null);
    await store.delete("a"); // absent: no error
    await assert.rejects(store.put("a", "1", { ttlSeconds: 0 }), TypeError);
    const plain = new RedisStore(client);
    await plain.put("b", "x", { ttlSeconds: 60 });
    assert.equal(await client.get("b"), "x", "no prefix by default");
    await plain.delete("b");
  });

  test("compareAndSet replaces only the expected value, with the new TTL", async () => {
    const store = new RedisStore(client, { keyPrefix: PREFIX });
    assert.equal(await store.compareAndSet("c", "1", "2", { ttlSeconds: 60 }), false, "absent");
    assert.equal(await store.get("c"), null, "nothing created");
    await store.put("c", "1", { ttlSeconds: 60 });
    assert.equal(await store.compareAndSet("c", "0", "2", { ttlSeconds: 60 }), false, "another value");
    assert.equal(await store.get("c"), "1");
    assert.equal(await store.compareAndSet("c", "1", "2", { ttlSeconds: 300 }), true);
    assert.equal(await store.get("c"), "2");
    assert.equal(await client.ttl(`${PREFIX}c`), 300);
    await store.delete("c");
  });

  test("20 parallel compareAndSets from one value: exactly one wins", async () => {
    const store = new RedisStore(client, { keyPrefix: PREFIX });
    await store.put("d", "v0", { ttlSeconds: 60 });
    const won = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.compareAndSet("d", "v0", `v${i + 1}`, { ttlSeconds: 60 })),
    );
    assert.equal(won.filter(Boolean).length, 1);
    assert.equal(await store.get("d"), `v${won.indexOf(true) + 1}`);
    await store.delete("d");
  });

  test("an OtpService flow: send, wrong PIN, right PIN, then 2023; cancel", async () => {
    const { otp, sms, changes } = service();
    const sent = await otp.send({ phoneNumber: PHONE });
    const stored = await client.get(`${PREFIX}otp:${sent.otpId}`);
    assert.equal(JSON.parse(stored).status, "PENDING");
    assert.ok(!stored.includes(sms.pin()), "the record holds no PIN");
    assert.ok((await client.ttl(`${PREFIX}otp:${sent.otpId}`)) > 300, "TTL: life + retention");
    await rejectsWithCode(assert, otp.verify(sent.otpId, sms.pin() === "000000" ? "111111" : "000000"), 2029);
    assert.equal((await otp.verify(sent.otpId, sms.pin())).status, "VERIFIED");
    await rejectsWithCode(assert, otp.verify(sent.otpId, sms.pin()), 2023);
    const other = await otp.send({ phoneNumber: PHONE });
    assert.equal((await otp.cancel(other.otpId)).status, "CANCELLED");
    assert.deepEqual(changes, ["VERIFIED", "CANCELLED"]);
    otp.free();
  });

  test("a refused SMS leaves no record in Redis", async () => {
    const otp = new OtpService({
      store: new RedisStore(client, { keyPrefix: "refused:" }),
      sender: { send: async () => Promise.reject(new Error("gateway refused")) },
      keys: [KEY],
    });
    await assert.rejects(otp.send({ phoneNumber: PHONE }), /gateway refused/);
    assert.deepEqual(await client.keys("refused:*"), []);
    otp.free();
  });
});

describe("RedisStore across 8 processes", () => {
  test("8 processes × 25 parallel wrong guesses, maxAttempts 3: exactly 3 counted", async (t) => {
    const { otp, sms } = service();
    const { otpId } = await otp.send({ phoneNumber: PHONE });
    const pin = sms.pin();
    let n = 0;
    const wrong = () => String((Number(pin) + 1 + n++) % 1e6).padStart(6, "0");
    const reports = await guessAcrossProcesses(otpId, Array.from({ length: 8 }, () => Array.from({ length: 25 }, wrong)));
    const outcomes = reports.flatMap((r) => r.outcomes);
    assert.equal(outcomes.length, 200);
    assert.deepEqual(tally(outcomes), { 2026: 197, 2027: 1, 2029: 2 });
    assert.deepEqual(reports.flatMap((r) => r.changes), ["FAILED"], "one status change, in one process");
    const view = await otp.status(otpId);
    assert.equal(view.status, "FAILED");
    assert.equal(view.attempts, 3);
    await rejectsWithCode(assert, otp.verify(otpId, pin), 2026);
    t.diagnostic(`compareAndSets lost to another process: ${reports.reduce((sum, r) => sum + r.conflicts, 0)}`);
    otp.free();
  });

  test("16 parallel right PINs across 8 processes: exactly one VERIFIED", async (t) => {
    const { otp, sms } = service();
    const { otpId } = await otp.send({ phoneNumber: PHONE });
    const pin = sms.pin();
    const reports = await guessAcrossProcesses(otpId, Array.from({ length: 8 }, () => [pin, pin]));
    const outcomes = reports.flatMap((r) => r.outcomes);
    assert.deepEqual(tally(outcomes), { 2023: 15, VERIFIED: 1 });
    assert.deepEqual(reports.flatMap((r) => r.changes), ["VERIFIED"]);
    const view = await otp.status(otpId);
    assert.equal(view.status, "VERIFIED");
    assert.equal(view.attempts, 0, "no wrong PIN counted");
    t.diagnostic(`compareAndSets lost to another process: ${reports.reduce((sum, r) => sum + r.conflicts, 0)}`);
    otp.free();
  });
});
