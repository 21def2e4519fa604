// Drives a running otp-sms-verify worker with OtpClient: sends a PIN, reads the SMS from
// the development outbox, tries a wrong PIN, verifies the right one (SMS.CX dialect,
// bearer token from the app's credentials), then does the same in the Dexatel dialect
// (API key). Prints each step.
//
//   ./scripts/dev.sh                       # in another terminal: the worker on :8787
//   bash scripts/build-pkg.sh && node examples/drive-worker.mjs
//
// Defaults match ./scripts/dev.sh; each can be overridden from the environment:
//   OTP_BASE_URL     http://127.0.0.1:$PORT (PORT default 8787)
//   OTP_APP_ID, OTP_APP_SECRET, OTP_API_KEY
//                    the dev app's credentials, from .wrangler/dev-app.json
//   OTP_ADMIN_TOKEN  ADMIN_TOKEN from .dev.vars (reads the dev outbox; development only)
//   OTP_PHONE        a random French mobile number per run (+3361…, a range the numbering
//                    plan has in full), so that the per-number
//                    cooldown and hourly caps of the dev app do not refuse a second run
//   OTP_SENDER       Dexatel sender, default "Verify" (an app's default originator)

import { existsSync, readFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OtpApiError, OtpClient } from "otp-sms-verify";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The dev app that ./scripts/dev.sh seeded, or {} when there is none. */
function devApp() {
  const file = path.join(ROOT, ".wrangler", "dev-app.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
}

/** ADMIN_TOKEN from .dev.vars (the file wrangler dev reads). */
function devAdminToken() {
  const file = path.join(ROOT, ".dev.vars");
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, "utf8").match(/^\s*ADMIN_TOKEN\s*=\s*"?(.*?)"?\s*$/m);
  return line?.[1];
}

const env = process.env;
const baseUrl = (env.OTP_BASE_URL ?? `http://127.0.0.1:${env.PORT ?? 8787}`).replace(/\/$/, "");
const app = env.OTP_API_KEY || env.OTP_APP_ID ? {} : devApp();
const appId = env.OTP_APP_ID ?? app.appId;
const appSecret = env.OTP_APP_SECRET ?? app.appSecret;
const apiKey = env.OTP_API_KEY ?? app.apiKey;
const adminToken = env.OTP_ADMIN_TOKEN ?? devAdminToken();
const randomMobile = () => `+3361${String(randomInt(0, 10_000_000)).padStart(7, "0")}`;
const phone = env.OTP_PHONE ?? randomMobile();
const sender = env.OTP_SENDER ?? "Verify";

if (!(appId && appSecret) && !apiKey) {
  console.error("No credentials: start ./scripts/dev.sh (it writes .wrangler/dev-app.json) or set OTP_API_KEY.");
  process.exit(2);
}
if (!adminToken) {
  console.error("No admin token to read the dev outbox: set OTP_ADMIN_TOKEN or create .dev.vars.");
  process.exit(2);
}

const step = (text) => console.log(`\n== ${text}`);
const show = (label, value) => console.log(`${label}: ${typeof value === "string" ? value : JSON.stringify(value)}`);

/**
 * The PIN of `otpId`'s SMS, from the development outbox (GET /admin/outbox). A real app
 * never sees the PIN: the user types it from the SMS.
 */
async function pinFromOutbox(phoneNumber, otpId) {
  const url = `${baseUrl}/admin/outbox?phoneNumber=${encodeURIComponent(phoneNumber)}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${adminToken}` } });
  if (res.status !== 200) throw new Error(`GET /admin/outbox: HTTP ${res.status} ${await res.text()}`);
  const message = (await res.json()).data.find((m) => m.otpId === otpId);
  if (!message) throw new Error(`no SMS for ${otpId} in the outbox`);
  show("SMS", `from ${message.from}: ${message.text}`);
  const pin = message.text.match(/\b[0-9]{4,10}\b/)?.[0] ?? message.text.match(/\b[A-Z0-9]{4,10}\b/)?.[0];
  if (!pin) throw new Error(`no PIN in ${JSON.stringify(message.text)}`);
  return pin;
}

/** Some other PIN of the same length and alphabet. */
const wrongPin = (pin) => [...pin].map((c) => (c === "1" ? "2" : /\d/.test(c) ? "1" : c === "A" ? "B" : "A")).join("");

async function smscx() {
  // App credentials: the client gets a bearer token from POST /oauth/token and caches it.
  const client = appId && appSecret ? new OtpClient({ baseUrl, appId, appSecret }) : new OtpClient({ baseUrl, apiKey });
  step(`SMS.CX dialect (${appId && appSecret ? "bearer token from POST /oauth/token" : "X-API-KEY"})`);

  step(`POST /otp: send a PIN to ${phone}`);
  const otp = await client.send({ phoneNumber: phone });
  show("otp", { otpId: otp.otpId, status: otp.status, phoneNumber: otp.phoneNumber, parts: otp.parts, dateExpires: otp.dateExpires });

  step("read the SMS from the dev outbox");
  const pin = await pinFromOutbox(phone, otp.otpId);
  show("PIN", pin);

  step("POST /otp/{otpId} with a wrong PIN");
  try {
    await client.verify(otp.otpId, wrongPin(pin));
    throw new Error("a wrong PIN was accepted");
  } catch (e) {
    if (!(e instanceof OtpApiError)) throw e;
    show("refused", { httpStatus: e.httpStatus, code: e.code, type: e.type, message: e.message });
  }

  step("POST /otp/{otpId} with the PIN from the SMS");
  show("verified", await client.verify(otp.otpId, pin));

  step("GET /otp/{otpId}");
  const now = await client.status(otp.otpId);
  show("otp", { status: now.status, attempts: now.attempts, phoneNumber: now.phoneNumber });
}

async function dexatel() {
  if (!apiKey) {
    step("Dexatel dialect skipped: it authenticates with an API key (OTP_API_KEY)");
    return;
  }
  const client = new OtpClient({ baseUrl, apiKey });
  const other = env.OTP_PHONE ? phone : randomMobile(); // a fresh number: no cooldown
  const digits = other.replace(/^\+/, "");
  step(`Dexatel dialect (X-Dexatel-Key): POST /v1/verifications to ${digits}`);
  const verification = await client.dexatel.createVerification({ sender, phone: digits, channel: "SMS" });
  show("verification", { id: verification.id, status: verification.status, expire_date: verification.expire_date });

  step("read the SMS from the dev outbox");
  const code = await pinFromOutbox(other, verification.id);
  show("code", code);

  step("GET /v1/verifications?phone&code with a wrong code");
  show("matched", await client.dexatel.checkCode(digits, wrongPin(code)));

  step("GET /v1/verifications?phone&code with the code from the SMS");
  const matched = await client.dexatel.checkCode(digits, code);
  show("matched", matched && { id: matched.id, status: matched.status });
  if (matched?.status !== "VERIFIED") throw new Error("the right code did not match");
}

try {
  console.log(`otp-sms-verify worker at ${baseUrl}`);
  await smscx();
  await dexatel();
  console.log("\ndone: both verifications VERIFIED");
} catch (e) {
  if (e instanceof OtpApiError) {
    const wait = e.retryAfter === null ? "" : ` (retry after ${e.retryAfter} s)`;
    console.error(`\nAPI error ${e.code} (HTTP ${e.httpStatus}): ${e.message}${wait}`);
  } else if (e instanceof TypeError && /fetch failed/.test(e.message)) {
    console.error(`\nno worker at ${baseUrl}: start ./scripts/dev.sh first (${e.cause?.code ?? e.message})`);
  } else {
    console.error(`\n${e.stack ?? e}`);
  }
  process.exit(1);
}
