// Test harness: runs the BUILT worker (worker/build/entry.mjs, made by
// scripts/build-worker.sh) in Miniflare, the same runtime (workerd) that
// `wrangler dev` uses, on a free 127.0.0.1 port.
//
//   const worker = await startWorker({ bindings: { SOME_SECRET: "x" } });
//   const res = await worker.fetch("/health");          // Miniflare's dispatchFetch
//   const res2 = await fetch(new URL("/health", worker.url)); // real HTTP
//   await worker.dispose();

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

/** Repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Absolute path of the built worker entry. */
export const WORKER_SCRIPT = path.join(ROOT, "worker", "build", "entry.mjs");

/** Reads `key = "value"` from the top of a TOML file (enough for our manifests). */
function tomlString(file, key) {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  const match = text.match(new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, "m"));
  if (!match) throw new Error(`${key} not found in ${file}`);
  return match[1];
}

/** `compatibility_date` from wrangler.toml, so tests and `wrangler dev` agree. */
export const COMPATIBILITY_DATE = tomlString("wrangler.toml", "compatibility_date");
/** The worker crate's version, as reported by `GET /health`. */
export const WORKER_VERSION = tomlString("worker/Cargo.toml", "version");
/** The static assets (`[assets] directory` in wrangler.toml), collected by scripts/build-worker.sh. */
export const ASSETS_DIR = path.join(ROOT, tomlString("wrangler.toml", "directory"));

/**
 * The Durable Object bindings, as wrangler.toml declares them: a fixed set of shards
 * per application holds its records and per-number guards; one object per application
 * counts its rate limits; one object per console session. SQLite-backed, as
 * wrangler.toml's migrations declare them (the worker uses their synchronous storage API).
 */
export const DURABLE_OBJECTS = {
  OTP_SHARD: { className: "OtpShard", useSQLite: true },
  RATE_LIMITER: { className: "RateLimiter", useSQLite: true },
  ADMIN_SESSIONS: { className: "AdminSessions", useSQLite: true },
};

/** The insights database's binding (`[[d1_databases]]` in wrangler.toml). */
export const INSIGHTS_DB = "INSIGHTS_DB";
/** Its schema migrations, applied in name order as `wrangler d1 migrations apply` does. */
export const MIGRATIONS_DIR = path.join(ROOT, "migrations");

/** The statements of a migration file: comments dropped, split at `;` ending a line. */
export function migrationStatements(sql) {
  return sql
    .split("\n")
    .map((line) => line.replace(/--.*$/, "").trimEnd())
    .join("\n")
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Applies every migration to a D1 database (Miniflare's `getD1Database`). */
export async function applyMigrations(db) {
  for (const file of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".sql")).sort()) {
    const statements = migrationStatements(readFileSync(path.join(MIGRATIONS_DIR, file), "utf8"));
    await db.batch(statements.map((s) => db.prepare(s)));
  }
}

/**
 * Starts the built worker in Miniflare.
 *
 * @param {object} [options]
 * @param {Record<string, string>} [options.bindings] vars and secrets (merged over `ENVIRONMENT: "test"`)
 * @param {string[]} [options.kvNamespaces] KV bindings, default `["OTP_KV"]`
 * @param {boolean} [options.insights] bind the insights database (migrated), as wrangler.toml
 *   does; default on unless the environment says `OTP_INSIGHTS=off` (to measure what they cost)
 * @param {object} [options.miniflare] extra Miniflare options (e.g. `outboundService`)
 * @param {object[]} [options.workers] more Workers beside it (Miniflare's `workers`), such
 *   as the implementation of a wrapped binding; `miniflare` then holds only options of the
 *   built worker itself
 */
export async function startWorker({
  bindings = {},
  kvNamespaces = ["OTP_KV"],
  insights = process.env.OTP_INSIGHTS !== "off",
  miniflare = {},
  workers = [],
} = {}) {
  for (const built of [WORKER_SCRIPT, ASSETS_DIR]) {
    if (!existsSync(built)) throw new Error(`${built} is missing: run scripts/build-worker.sh first`);
  }
  const own = {
    scriptPath: WORKER_SCRIPT,
    modules: true,
    // worker-build's index.js, imported by the entry, is an ES module too.
    modulesRules: [
      { type: "CompiledWasm", include: ["**/*.wasm"] },
      { type: "ESModule", include: ["**/*.js"] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces,
    durableObjects: DURABLE_OBJECTS,
    // Same as [[d1_databases]] in wrangler.toml: the insights (migrated below).
    d1Databases: insights ? [INSIGHTS_DB] : [],
    bindings: { ENVIRONMENT: "test", ...bindings },
    // Same as [assets] in wrangler.toml: the worker runs first and reads the files
    // through its ASSETS binding; exact paths only.
    assets: {
      directory: ASSETS_DIR,
      binding: "ASSETS",
      routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
      assetConfig: { html_handling: "none", not_found_handling: "none" },
    },
    ...miniflare,
  };
  const shared = {
    host: "127.0.0.1",
    port: 0, // a free port, chosen by the OS
    cf: false, // placeholder Request.cf; never downloaded
  };
  const mf = new Miniflare(workers.length ? { ...shared, workers: [own, ...workers] } : { ...shared, ...own });
  let url;
  try {
    url = await mf.ready;
    if (insights) await applyMigrations(await mf.getD1Database(INSIGHTS_DB));
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
  return {
    mf,
    /** Base URL of the running worker, e.g. `http://127.0.0.1:41234/`. */
    url,
    /** Sends a request through Miniflare's `dispatchFetch`; `input` may be a path. */
    fetch: (input, init) => mf.dispatchFetch(new URL(input, url), init),
    /** The `OTP_KV` namespace (or another binding), to seed or inspect data. */
    kv: (binding = "OTP_KV") => mf.getKVNamespace(binding),
    /** The insights database (D1), to inspect it. */
    d1: () => mf.getD1Database(INSIGHTS_DB),
    /** Stops workerd. */
    dispose: () => mf.dispose(),
  };
}
