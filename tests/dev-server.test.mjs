// `./scripts/dev.sh --port N` really starts `wrangler dev`, serves /health, seeds the
// dev app, and the README's walkthrough (send, read the outbox, verify) works.
// Its output is kept in test-results/dev-server.log.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT } from "./worker/harness.mjs";

const STARTUP_TIMEOUT_MS = Number(process.env.DEV_SERVER_TIMEOUT_MS ?? 180_000);
const LOG_FILE = path.join(ROOT, "test-results", "dev-server.log");

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Signals the whole process group (bash, wrangler, workerd); ignores a group already gone. */
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch (err) {
    if (err.code !== "ESRCH") throw err;
  }
}

/** Stops the group: SIGTERM, then SIGKILL if it has not exited within 10 s. */
async function stop(child, exited) {
  killGroup(child, "SIGTERM");
  const done = await Promise.race([exited.then(() => true), sleep(10_000, false, { ref: false })]);
  if (!done) killGroup(child, "SIGKILL");
  // wrangler's children may outlive the leader by a moment; make sure none is left.
  await sleep(200);
  killGroup(child, "SIGKILL");
}

/** Waits until `predicate()` is true, or fails after `ms`. */
async function until(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

test("scripts/dev.sh starts wrangler dev, seeds the dev app, and the walkthrough verifies an OTP", { timeout: STARTUP_TIMEOUT_MS + 30_000 }, async () => {
  const port = await freePort();
  mkdirSync(path.dirname(LOG_FILE), { recursive: true });
  const log = createWriteStream(LOG_FILE);
  let output = "";

  const child = spawn("bash", ["scripts/dev.sh", "--port", String(port)], {
    cwd: ROOT,
    detached: true, // own process group, so the whole tree can be stopped
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true", PORT: "" },
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on("data", (chunk) => {
      output += chunk;
      log.write(chunk);
    });
  }
  let exitCode = null;
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve((exitCode = code ?? signal))));

  const url = `http://127.0.0.1:${port}/health`;
  try {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    let res;
    while (Date.now() < deadline && exitCode === null) {
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        if (res.status === 200) break;
        await res.arrayBuffer();
      } catch {
        // not listening yet
      }
      res = undefined;
      await sleep(500);
    }
    assert.ok(res, `no 200 from ${url} within ${STARTUP_TIMEOUT_MS} ms (exit: ${exitCode}); see ${LOG_FILE}\n${output.slice(-4000)}`);
    const body = await res.json();
    assert.equal(body.status, "ok");
    assert.equal(body.service, "otp-sms-verify");
    assert.ok(res.headers.get("x-request-id"));
    assert.match(res.headers.get("x-response-time") ?? "", /^\d+ms$/);
    assert.ok(output.includes(url), "dev.sh prints the health URL");

    // The walkthrough the seeding prints: send, read the SMS from the outbox, verify.
    await until(() => output.includes("Send an OTP:"), 60_000, "dev.sh to seed the dev app");
    const app = JSON.parse(readFileSync(path.join(ROOT, ".wrangler", "dev-app.json"), "utf8"));
    const adminToken = readFileSync(path.join(ROOT, ".dev.vars"), "utf8").match(/^ADMIN_TOKEN=(.*)$/m)[1].trim();
    const base = `http://127.0.0.1:${port}`;
    const json = { "x-api-key": app.apiKey, "content-type": "application/json" };
    const sent = await fetch(`${base}/otp`, { method: "POST", headers: json, body: JSON.stringify({ phoneNumber: "+33612424111" }) });
    assert.equal(sent.status, 201);
    const { otpId } = await sent.json();
    const outbox = await fetch(`${base}/admin/outbox?phoneNumber=%2B33612424111`, { headers: { authorization: `Bearer ${adminToken}` } });
    const sms = (await outbox.json()).data.find((m) => m.otpId === otpId);
    assert.ok(sms, "the SMS is in the dev outbox");
    const pin = sms.text.match(/\b\d{6}\b/)[0];
    const verified = await fetch(`${base}/otp/${otpId}`, { method: "POST", headers: json, body: JSON.stringify({ pin }) });
    assert.deepEqual(await verified.json(), { status: "VERIFIED" });
  } finally {
    await stop(child, exited);
    log.end();
  }
});
