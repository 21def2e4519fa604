// The built worker's health endpoint, error shape and tracing headers.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startWorker, WORKER_VERSION } from "./harness.mjs";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RESPONSE_TIME = /^\d+ms$/;

/** Asserts the two headers every reply must carry; returns the request id. */
function assertTracingHeaders(res) {
  const id = res.headers.get("x-request-id");
  assert.ok(id, "X-Request-Id is set");
  assert.match(res.headers.get("x-response-time") ?? "", RESPONSE_TIME);
  return id;
}

describe("worker", () => {
  let worker;
  before(async () => {
    // Secrets that let the API serve (GET /health says "misconfigured" otherwise:
    // tests/worker/security.test.mjs).
    worker = await startWorker({
      bindings: {
        PIN_KEYS: "test-pin-key-0123456789abcdef",
        TOKEN_KEY: "test-token-key-0123456789abcdef",
        HASH_KEY: "test-hash-key-0123456789abcdef",
      },
    });
  });
  after(async () => {
    await worker?.dispose();
  });

  test("GET /health answers 200 with status, service and version", async () => {
    const res = await worker.fetch("/health");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await res.json(), {
      status: "ok",
      service: "otp-sms-verify",
      version: WORKER_VERSION,
    });
  });

  test("is reachable over real HTTP on 127.0.0.1", async () => {
    assert.match(String(worker.url), /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(new URL("/health", worker.url));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "ok");
  });

  for (const [method, path] of [
    ["GET", "/index.html"], // `/` itself redirects to the demo (tests/worker/demo.test.mjs)
    ["GET", "/nope"],
    ["POST", "/v1/verify/abc?x=1"],
    ["DELETE", "/health/extra"],
  ]) {
    test(`${method} ${path} answers 404 in the SMS.CX error shape`, async () => {
      const res = await worker.fetch(path, { method });
      assert.equal(res.status, 404);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      const body = await res.json();
      assert.deepEqual(Object.keys(body), ["error"]);
      assert.deepEqual(body.error, {
        type: "not_found",
        message: body.error.message,
        uri: new URL(path, "http://x").pathname,
        code: 404,
      });
      assert.equal(typeof body.error.message, "string");
      assert.ok(body.error.message.length > 0);
    });
  }

  test("a known path with the wrong method answers 405 in the error shape", async () => {
    const res = await worker.fetch("/health", { method: "POST" });
    assert.equal(res.status, 405);
    const body = await res.json();
    assert.equal(body.error.type, "method_not_allowed");
    assert.equal(body.error.uri, "/health");
    assert.equal(body.error.code, 405);
  });

  test("every reply carries X-Request-Id and X-Response-Time", async () => {
    for (const [method, path] of [
      ["GET", "/health"],
      ["GET", "/missing"],
      ["POST", "/health"],
    ]) {
      const res = await worker.fetch(path, { method });
      await res.arrayBuffer();
      assertTracingHeaders(res);
    }
  });

  test("without an incoming id, each request gets a fresh UUID v4", async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      const res = await worker.fetch("/health");
      await res.arrayBuffer();
      const id = assertTracingHeaders(res);
      assert.match(id, UUID_V4);
      ids.add(id);
    }
    assert.equal(ids.size, 5);
  });

  test("a sane incoming X-Request-Id is echoed back", async () => {
    const res = await worker.fetch("/health", { headers: { "X-Request-Id": "client-trace_42.a:b" } });
    await res.arrayBuffer();
    assert.equal(res.headers.get("x-request-id"), "client-trace_42.a:b");
  });

  test("an unsafe or oversized X-Request-Id is replaced by a UUID v4", async () => {
    for (const bad of ["has space", "<script>", "a".repeat(129)]) {
      const res = await worker.fetch("/nope", { headers: { "X-Request-Id": bad } });
      await res.arrayBuffer();
      assert.match(res.headers.get("x-request-id") ?? "", UUID_V4);
    }
  });

  test("cf-ray is used when no X-Request-Id is sent", async () => {
    const res = await worker.fetch("/health", { headers: { "cf-ray": "8c1b2f3e4d5a6b7c-AMS" } });
    await res.arrayBuffer();
    assert.equal(res.headers.get("x-request-id"), "8c1b2f3e4d5a6b7c-AMS");
  });
});
