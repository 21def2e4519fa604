// Shared helpers of the package tests (tests/pkg/*.test.mjs). They run over the BUILT
// package (scripts/build-pkg.sh), imported by its name through the root devDependency
// "otp-sms-verify": "file:pkg".

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The package directory. */
export const PKG = path.join(ROOT, "pkg");

for (const file of ["dist/index.js", "cjs/index.js", "wasm/otp_core_bg.wasm"]) {
  if (!existsSync(path.join(PKG, file))) {
    throw new Error(`pkg/${file} is missing: run scripts/build-pkg.sh first`);
  }
}

/** A 32-byte server PIN key. */
export const KEY = "test-key-0123456789abcdef-0123456789";
/** Unix seconds of the tests' fake clock at start. */
export const T0 = 1_700_000_000;

/** A clock the test moves by hand: `clock.now()`, `clock.advance(seconds)`. */
export function fakeClock(start = T0) {
  let t = start;
  return { now: () => t, advance: (seconds) => void (t += seconds) };
}

/** An SMS sender that keeps messages; `pin()` is the PIN of the last one (template "{{pin}}"). */
export function outbox() {
  const messages = [];
  return { messages, send: async (m) => void messages.push(m), pin: () => messages.at(-1).text };
}

/** Expects `promiseOrFn` to throw an OtpError with `code`; returns the error. */
export async function rejectsWithCode(assert, promiseOrFn, code) {
  let error;
  try {
    await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected OtpError ${code}, nothing was thrown`);
  assert.equal(error.name, "OtpError", `expected OtpError ${code}, got ${error}`);
  assert.equal(error.code, code, `expected code ${code}, got ${error.code} (${error.reason})`);
  return error;
}
