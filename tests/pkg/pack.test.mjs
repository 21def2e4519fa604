// `npm pack` of pkg/, installed into a fresh temporary project (offline: the package has
// no runtime dependencies) and used there from ESM, from CommonJS and from TypeScript.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { PKG, ROOT } from "./helpers.mjs";

const run = promisify(execFile);
const npm = (args, cwd) => run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd });

const tmp = mkdtempSync(path.join(tmpdir(), "otp-pkg-"));
const app = path.join(tmp, "app");
let packed;

before(async () => {
  const { stdout } = await npm(["pack", "--json", "--pack-destination", tmp], PKG);
  [packed] = JSON.parse(stdout);
  writeFileSync(path.join(tmp, "package.json"), "{}"); // keeps npm from looking further up
  mkdirSync(app);
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
  await npm(["install", "--offline", path.join(tmp, packed.filename)], app);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test("the tarball holds the built package and nothing else", () => {
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/load-workerd.js",
    "dist/load-browser.js", "cjs/index.js", "cjs/index.d.ts", "cjs/package.json", "wasm/otp_core.js",
    "wasm/otp_core.cjs", "wasm/otp_core.d.cts", "wasm/otp_core_bg.wasm"]) {
    assert.ok(files.includes(f), `${f} is missing from the tarball`);
  }
  assert.deepEqual(files.filter((f) => /^(src|tests?)\/|tsconfig|\.tgz$/.test(f)), []);
  const manifest = JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8"));
  assert.equal(manifest.dependencies, undefined, "no runtime dependencies");
});

const script = (name, text) => writeFileSync(path.join(app, name), text);
const node = async (file) => JSON.parse((await run(process.execPath, [file], { cwd: app })).stdout);

const BODY = `
const outbox = [];
const service = new OtpService({
  store: new MemoryStore(),
  sender: { send: async (m) => void outbox.push(m) },
  keys: ["a-server-key-of-32-bytes-or-more!"],
  settings: { template: "{{pin}}" },
});
(async () => {
  const sent = await service.send({ phoneNumber: "+4915112345678" });
  let wrong;
  try { await service.verify(sent.otpId, "WRONG"); } catch (e) { wrong = e instanceof OtpError && e.code; }
  const verified = await service.verify(sent.otpId, outbox[0].text);
  console.log(JSON.stringify({ pin: generatePin({ seed: 7 }), country: parsePhone("+4915112345678").countryIso,
    wrong, status: verified.status }));
})();
`;
const EXPECTED = { pin: "000443", country: "DE", wrong: 2029, status: "VERIFIED" };

test("works from ESM in the fresh project", async () => {
  const names = "OtpService, MemoryStore, OtpError, generatePin, parsePhone";
  script("esm.mjs", `import { ${names} } from "otp-sms-verify";\n${BODY}`);
  assert.deepEqual(await node("esm.mjs"), EXPECTED);
});

test("works from CommonJS in the fresh project", async () => {
  const names = "OtpService, MemoryStore, OtpError, generatePin, parsePhone";
  script("cjs.cjs", `const { ${names} } = require("otp-sms-verify");\n${BODY}`);
  assert.deepEqual(await node("cjs.cjs"), EXPECTED);
});

test("its types check under strict TypeScript, from ESM and from CommonJS", async () => {
  const consumer = `
import { OtpService, MemoryStore, OtpError, generatePin } from "otp-sms-verify";
import type { OtpView, OtpStatus, SmsSender } from "otp-sms-verify";
const sender: SmsSender = { send: async () => undefined };
const service = new OtpService({ store: new MemoryStore(), sender, keys: ["k".repeat(32)] });
export async function check(id: string): Promise<OtpStatus> {
  const view: OtpView = await service.status(id);
  // @ts-expect-error -- pin types are a union, not any string
  generatePin({ type: "emoji" });
  try { return view.status; } catch (e) { return e instanceof OtpError ? "FAILED" : "PENDING"; }
}
`;
  script("consumer.mts", consumer);
  script("consumer.cts", consumer);
  script("tsconfig.json", JSON.stringify({
    compilerOptions: { module: "nodenext", strict: true, noEmit: true, lib: ["es2022", "dom"], types: [] },
    files: ["consumer.mts", "consumer.cts"],
  }));
  await run(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-p", "."], { cwd: app }).catch((e) => {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  });
});
