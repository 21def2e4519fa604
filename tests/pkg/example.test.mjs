// examples/node-server.mjs as written: started on a free port, driven over HTTP, stopped.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { once } from "node:events";
import { after, before, test } from "node:test";
import { ROOT } from "./helpers.mjs";

let server;
let base;
const lines = [];

before(async () => {
  server = spawn(process.execPath, [path.join(ROOT, "examples", "node-server.mjs")], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0" }, // the OS picks a free port; the server prints it
    stdio: ["ignore", "pipe", "inherit"],
  });
  server.stdout.setEncoding("utf8");
  let buffered = "";
  server.stdout.on("data", (chunk) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop();
    lines.push(...parts);
  });
  base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line: ${lines.join("\n")}`)), 15_000);
    server.once("exit", (code) => reject(new Error(`the example exited (${code})`)));
    server.stdout.on("data", () => {
      const url = lines.map((l) => l.match(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/)?.[1]).find(Boolean);
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
  });
});

after(async () => {
  if (server.exitCode === null) {
    server.kill("SIGTERM");
    await once(server, "exit");
  }
});

const post = async (route, body) => {
  const res = await fetch(new URL(route, base), { method: "POST", body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
};

/** Waits for a stdout line matching `re` (the server logs after it answers). */
async function line(re) {
  for (let i = 0; i < 100; i++) {
    const found = lines.map((l) => l.match(re)).find(Boolean);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no line matching ${re} in:\n${lines.join("\n")}`);
}

test("the example server sends an OTP and verifies it over HTTP", async () => {
  const sent = await post("/send", { phoneNumber: "+33612424111" });
  assert.equal(sent.status, 201);
  assert.equal(sent.body.status, "PENDING");
  assert.equal(sent.body.phoneNumber, "+33612424111");

  const [, masked, pin] = await line(/^\[DEV OUTBOX, not for production\] SMS to (\S+): Example code: (\d{6})\./);
  assert.equal(masked, "+3361242****");

  const wrong = await post("/verify", { otpId: sent.body.otpId, pin: pin === "000000" ? "111111" : "000000" });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error.code, 2029);
  assert.equal(wrong.body.error.reason, "invalid_pin");

  const ok = await post("/verify", { otpId: sent.body.otpId, pin });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.status, "VERIFIED");
  await line(new RegExp(`^OTP ${sent.body.otpId} to \\+3361242\\*{4} is now VERIFIED$`));
});

test("the example server answers errors as JSON", async () => {
  assert.equal((await post("/send", { phoneNumber: "nope" })).body.error.code, 2020);
  assert.equal((await post("/verify", { otpId: "123e4567-e89b-42d3-a456-426614174000", pin: "1" })).status, 404);
  assert.equal((await post("/verify", [])).status, 400);
  assert.equal((await fetch(new URL("/send", base))).status, 405);
  assert.equal((await fetch(new URL("/elsewhere", base))).status, 404);
});
