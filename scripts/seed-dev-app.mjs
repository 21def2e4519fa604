#!/usr/bin/env node
// Seeds the development application into a running local worker and prints how to
// call it. Used by scripts/dev.sh once `wrangler dev` answers /health.
//
//   node scripts/seed-dev-app.mjs http://127.0.0.1:8787
//
// The app's credentials are kept in .wrangler/dev-app.json, next to the local KV
// state they belong to (both are gitignored); an existing app is reused.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const base = (process.argv[2] ?? "http://127.0.0.1:8787").replace(/\/$/, "");
const credentialsFile = path.join(ROOT, ".wrangler", "dev-app.json");

/** `NAME=value` lines of .dev.vars. */
function devVars() {
  const file = path.join(ROOT, ".dev.vars");
  const vars = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = line.match(/^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/);
    if (m) vars[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

async function waitForHealth(timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${base}/health did not answer within ${timeoutMs / 1000}s`);
}

async function main() {
  const { ADMIN_TOKEN } = devVars();
  if (!ADMIN_TOKEN) throw new Error(".dev.vars has no ADMIN_TOKEN");
  await waitForHealth();
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

  let app = existsSync(credentialsFile) ? JSON.parse(readFileSync(credentialsFile, "utf8")) : null;
  if (app) {
    const res = await fetch(`${base}/admin/apps/${app.appId}`, { headers: admin });
    if (res.status !== 200) app = null; // local KV was reset: seed again
  }
  if (!app) {
    const res = await fetch(`${base}/admin/apps`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "Dev App", gateway: { type: "outbox" } }),
    });
    if (res.status !== 201) throw new Error(`seeding the dev app failed: ${res.status} ${await res.text()}`);
    app = await res.json();
    mkdirSync(path.dirname(credentialsFile), { recursive: true });
    writeFileSync(credentialsFile, JSON.stringify(app, null, 2) + "\n", { mode: 0o600 });
  }

  console.log(`
Local OTP service: ${base}   (dev app "${app.name}", SMS go to the dev outbox)
  appId      ${app.appId}
  appSecret  ${app.appSecret}
  apiKey     ${app.apiKey}
  (saved in .wrangler/dev-app.json; admin token in .dev.vars)

Send an OTP:
  curl -s -X POST ${base}/otp -H 'X-API-KEY: ${app.apiKey}' -H 'Content-Type: application/json' \\
       -d '{"phoneNumber": "+33612424111"}'
Read the SMS from the dev outbox:
  curl -s '${base}/admin/outbox?phoneNumber=%2B33612424111' -H 'Authorization: Bearer ${ADMIN_TOKEN}'
Verify it (otpId from the first reply, PIN from the SMS):
  curl -s -X POST ${base}/otp/<otpId> -H 'X-API-KEY: ${app.apiKey}' -H 'Content-Type: application/json' \\
       -d '{"pin": "<PIN>"}'
`);
}

main().catch((err) => {
  console.error(`[seed-dev-app] ${err.message}`);
  process.exit(1);
});
