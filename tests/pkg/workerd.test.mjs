// The package inside workerd: tests/pkg/fixtures/worker.mjs imports "otp-sms-verify",
// wrangler bundles it through the package's `workerd` condition (the .wasm becomes a
// CompiledWasm module, no init step), and Miniflare runs it with a KV namespace.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE } from "../worker/harness.mjs";
import { ROOT } from "./helpers.mjs";

const FIXTURES = path.join(ROOT, "tests", "pkg", "fixtures");
const out = mkdtempSync(path.join(tmpdir(), "otp-pkg-worker-"));
let mf;

before(async () => {
  const wrangler = path.join(ROOT, "node_modules", ".bin", "wrangler");
  const args = ["deploy", "--dry-run", "--outdir", out, "--config", path.join(FIXTURES, "wrangler.toml"),
    "--compatibility-date", COMPATIBILITY_DATE];
  await promisify(execFile)(wrangler, args, {
    cwd: out,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
  }).catch((e) => assert.fail(`wrangler could not bundle the fixture:\n${e.stdout}${e.stderr}`));
  mf = new Miniflare({
    scriptPath: path.join(out, "worker.js"),
    modules: true,
    modulesRoot: out,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ["OTP_KV"],
    bindings: { PIN_KEY: "a-worker-pin-key-0123456789abcdef" },
  });
  await mf.ready;
});
after(async () => {
  await mf?.dispose();
  rmSync(out, { recursive: true, force: true });
  rmSync(path.join(FIXTURES, ".wrangler"), { recursive: true, force: true }); // wrangler's scratch files
});

test("wrangler bundles the workerd entry: the wasm is a separate module, the Node loader is absent", () => {
  const files = readdirSync(out);
  assert.equal(files.filter((f) => f.endsWith(".wasm")).length, 1, files.join(", "));
  const bundle = readFileSync(path.join(out, "worker.js"), "utf8");
  assert.match(bundle, /load-workerd\.js/);
  assert.doesNotMatch(bundle, /readFileSync|load-node|load-browser/);
});

test("core calls, an OtpEngine and an OtpService flow over KV run inside workerd", async () => {
  const res = await mf.dispatchFetch("http://fixture.test/");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.match(body.pin, /^[A-Z]{8}$/);
  assert.deepEqual(body.parts, { encoding: "GSM-7", units: 160, parts: 1 });
  assert.equal(body.phone.e164, "+33612424111");
  assert.equal(body.phone.countryIso, "FR");
  assert.deepEqual(body.sent, { status: "PENDING", phoneNumber: "+33612424111" });
  assert.deepEqual(body.wrong, { isOtpError: true, code: 2029, reason: "invalid_pin" });
  assert.deepEqual(body.verified, { status: "VERIFIED", attempts: 1 });
  assert.deepEqual(body.changes, ["VERIFIED"]);
  assert.equal(body.storedHoldsPin, false);
  assert.equal(body.storedStatus, "VERIFIED");
  assert.deepEqual(body.engine, { verified: true, status: "VERIFIED", country: "DE" });
});
