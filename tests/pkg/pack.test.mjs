// `npm pack` of pkg/, installed into a fresh temporary project and used there from ESM,
// from CommonJS and from TypeScript (tsc --strict), in Node (RedisStore against a
// redis-server started here) and in workerd (a TypeScript Worker typed by `wrangler
// types`, bundled by wrangler and run by Miniflare with OtpStoreObject bound). The
// package has no runtime dependencies; the project also gets `redis` and `@types/node`
// at the root's versions, from npm's cache (filled by the root's npm ci).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE } from "../worker/harness.mjs";
import { PKG, ROOT } from "./helpers.mjs";
import { startRedis } from "./redis-server.mjs";

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
  const dev = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).devDependencies;
  const tarball = path.join(tmp, packed.filename);
  await npm(["install", "--prefer-offline", tarball, `redis@${dev.redis}`, `@types/node@${dev["@types/node"]}`], app);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const tsc = (project) =>
  run(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-p", project], { cwd: app }).catch((e) => {
    assert.fail(`tsc -p ${project} failed:\n${e.stdout}${e.stderr}`);
  });

test("the tarball holds the built package and nothing else", () => {
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/load-workerd.js",
    "dist/redis-store.js", "dist/durable-object.js", "dist/workerd.js", "dist/workerd.d.ts", "cjs/redis-store.js",
    "dist/load-browser.js", "cjs/index.js", "cjs/index.d.ts", "cjs/package.json", "wasm/otp_core.js",
    "wasm/otp_core.cjs", "wasm/otp_core.d.cts", "wasm/otp_core_bg.wasm"]) {
    assert.ok(files.includes(f), `${f} is missing from the tarball`);
  }
  assert.deepEqual(files.filter((f) => /^(src|tests?)\/|tsconfig|\.tgz$/.test(f)), []);
  const manifest = JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8"));
  assert.equal(manifest.dependencies, undefined, "no runtime dependencies");
  assert.equal(manifest.peerDependencies, undefined, "RedisStore's client type is structural: no redis needed");
  for (const dir of ["dist", "cjs"]) {
    for (const f of readdirSync(path.join(PKG, dir)).filter((f) => f.endsWith(".d.ts"))) {
      assert.doesNotMatch(readFileSync(path.join(PKG, dir, f), "utf8"), /^(import|export)\b.*from ["']redis["']/m, `${dir}/${f}`);
    }
  }
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
import { OtpService, MemoryStore, OtpError, generatePin, RedisStore, DurableObjectStore, KvStore } from "otp-sms-verify";
import type { AtomicOtpStore, OtpStore, OtpView, OtpStatus, SmsSender, RedisClientLike } from "otp-sms-verify";
const sender: SmsSender = { send: async () => undefined };
const service = new OtpService({ store: new MemoryStore(), sender, keys: ["k".repeat(32)] });
export async function check(id: string): Promise<OtpStatus> {
  const view: OtpView = await service.status(id);
  // @ts-expect-error -- pin types are a union, not any string
  generatePin({ type: "emoji" });
  try { return view.status; } catch (e) { return e instanceof OtpError ? "FAILED" : "PENDING"; }
}
// Every store fits OtpService; the exact ones are AtomicOtpStores.
declare const redisClient: RedisClientLike;
declare const namespace: { idFromName(name: string): { id: string }; get(id: { id: string }, options?: object): object };
declare const kv: { get(key: string): Promise<string | null>; put(key: string, value: string, options: { expirationTtl: number }): Promise<void>; delete(key: string): Promise<void> };
const exact: AtomicOtpStore[] = [new MemoryStore(), new RedisStore(redisClient, { keyPrefix: "app:" }), new DurableObjectStore(namespace)];
// A store written before compareAndSet existed still fits (exact within one process).
class OldStore { async get(_k: string) { return null; } async put(_k: string, _v: string, _o: { ttlSeconds: number }) {} async delete(_k: string) {} }
const stores: OtpStore[] = [...exact, new KvStore(kv), new OldStore()];
export const services = stores.map((store) => new OtpService({ store, sender, keys: ["k".repeat(32)] }));
// @ts-expect-error -- a KV namespace has no compareAndSet
export const notExact: AtomicOtpStore = new KvStore(kv);
// @ts-expect-error -- not a Redis client
new RedisStore({ get: async () => null });
`;
  script("consumer.mts", consumer);
  script("consumer.cts", consumer);
  script("tsconfig.json", JSON.stringify({
    compilerOptions: { module: "nodenext", strict: true, noEmit: true, lib: ["es2022", "dom"], types: [] },
    files: ["consumer.mts", "consumer.cts"],
  }));
  await tsc(".");
});

test("RedisStore takes node-redis clients as typed by the redis package (tsc --strict, @types/node)", async () => {
  script("redis-consumer.mts", `
import { createClient, createCluster } from "redis";
import { OtpService, RedisStore } from "otp-sms-verify";
const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
const store = new RedisStore(client, { keyPrefix: "app:" });
new RedisStore(createClient());
new RedisStore(createCluster({ rootNodes: [{ url: "redis://127.0.0.1:7000" }] }));
export const service = new OtpService({ store, sender: { send: async () => undefined }, keys: ["k".repeat(32)] });
// @ts-expect-error -- RedisStore options are { keyPrefix }
new RedisStore(client, { prefix: "app:" });
`);
  script("tsconfig.redis.json", JSON.stringify({
    compilerOptions: { module: "nodenext", target: "es2022", strict: true, noEmit: true, lib: ["es2022", "dom"], types: ["node"] },
    files: ["redis-consumer.mts"],
  }));
  await tsc("tsconfig.redis.json");
});

test("RedisStore works from ESM and from CommonJS against redis-server", async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const body = (prefix) => `
  const client = await createClient({ url: process.env.REDIS_URL }).connect();
  const outbox = [];
  const service = new OtpService({
    store: new RedisStore(client, { keyPrefix: "${prefix}:" }),
    sender: { send: async (m) => void outbox.push(m) },
    keys: ["a-server-key-of-32-bytes-or-more!"],
    settings: { template: "{{pin}}" },
  });
  const sent = await service.send({ phoneNumber: "+4915123456789" });
  const verified = await service.verify(sent.otpId, outbox[0].text);
  const keys = await client.keys("${prefix}:*");
  await client.close();
  console.log(JSON.stringify({ status: verified.status, keys }));`;
  script("redis-esm.mjs", `import { createClient } from "redis";\nimport { OtpService, RedisStore } from "otp-sms-verify";\n${body("esm")}\n`);
  script("redis-cjs.cjs", `const { createClient } = require("redis");\nconst { OtpService, RedisStore } = require("otp-sms-verify");\n(async () => {${body("cjs")}\n})();\n`);
  const env = { ...process.env, REDIS_URL: redis.url };
  for (const [file, prefix] of [["redis-esm.mjs", "esm"], ["redis-cjs.cjs", "cjs"]]) {
    const out = JSON.parse((await run(process.execPath, [file], { cwd: app, env })).stdout);
    assert.equal(out.status, "VERIFIED", file);
    assert.equal(out.keys.length, 1, file);
    assert.match(out.keys[0], new RegExp(`^${prefix}:otp:`), file);
  }
});

test("a TypeScript Worker: wrangler types + tsc --strict, then bundled and run in workerd with OtpStoreObject", async () => {
  const worker = path.join(app, "worker");
  mkdirSync(worker);
  writeFileSync(path.join(worker, "wrangler.toml"), `
name = "app"
main = "worker.ts"
compatibility_date = "${COMPATIBILITY_DATE}"
[vars]
PIN_KEY = "a-worker-pin-key-0123456789abcdef"
[[kv_namespaces]]
binding = "OTP_KV"
id = "00000000000000000000000000000000"
[[durable_objects.bindings]]
name = "OTP_STORE"
class_name = "OtpStoreObject"
[[migrations]]
tag = "otp-store-v1"
new_sqlite_classes = ["OtpStoreObject"]
`);
  writeFileSync(path.join(worker, "worker.ts"), `
import { DurableObjectStore, KvStore, OtpError, OtpService, type SmsMessage } from "otp-sms-verify";
export { OtpStoreObject } from "otp-sms-verify/workerd";

export default {
  async fetch(request, env): Promise<Response> {
    const outbox: SmsMessage[] = [];
    const otp = new OtpService({
      store: new DurableObjectStore(env.OTP_STORE),
      sender: { send: async (m) => void outbox.push(m) },
      keys: [env.PIN_KEY],
      settings: { template: "{{pin}}" },
    });
    try {
      const sent = await otp.send({ phoneNumber: "+33612345678" });
      let wrong: number | null = null;
      try {
        await otp.verify(sent.otpId, "not-it");
      } catch (e) {
        wrong = e instanceof OtpError ? e.code : null;
      }
      const verified = await otp.verify(sent.otpId, outbox[0].text);
      return Response.json({ sent: sent.status, wrong, verified: verified.status });
    } finally {
      otp.free();
    }
  },
} satisfies ExportedHandler<Env>;

// Types only (a Worker's module exports only handlers and classes).
function bindingTypes(env: Env): void {
  new KvStore(env.OTP_KV);
  // @ts-expect-error -- a KV namespace is no Durable Object namespace
  new DurableObjectStore(env.OTP_KV);
}
void bindingTypes;
`);
  writeFileSync(path.join(worker, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "es2022", module: "es2022", moduleResolution: "bundler", strict: true, noEmit: true,
      lib: ["es2022"], types: ["./worker-configuration.d.ts"] },
    files: ["worker.ts"],
  }));
  const wrangler = path.join(ROOT, "node_modules", ".bin", "wrangler");
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };
  const wrangle = (args) => run(wrangler, args, { cwd: worker, env }).catch((e) => {
    assert.fail(`wrangler ${args[0]} failed:\n${e.stdout}${e.stderr}`);
  });
  await wrangle(["types"]);
  await run(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-p", "."], { cwd: worker }).catch((e) => {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  });
  const out = path.join(worker, "out");
  await wrangle(["deploy", "--dry-run", "--outdir", out]);
  const mf = new Miniflare({
    scriptPath: path.join(out, "worker.js"),
    modules: true,
    modulesRoot: out,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ["OTP_KV"],
    durableObjects: { OTP_STORE: "OtpStoreObject" },
    bindings: { PIN_KEY: "a-worker-pin-key-0123456789abcdef" },
  });
  try {
    const res = await mf.dispatchFetch("http://app.test/");
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { sent: "PENDING", wrong: 2029, verified: "VERIFIED" });
  } finally {
    await mf.dispose();
  }
});
