// Sizes of what ships, raw and gzipped (gzip -9): the deployable worker as wrangler
// uploads it (`wrangler deploy --dry-run --outdir`, offline: its JS bundle and wasm,
// plus wrangler's own "Total Upload" line) and the npm package's wasm. Prints JSON.
//
//   node bench/sizes.mjs [out.json]

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const size = (file) => {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};

const out = mkdtempSync(path.join(tmpdir(), "otp-bench-dry-run-"));
let worker;
try {
  const log = execFileSync(path.join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = log.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/);
  const files = readdirSync(out).filter((f) => /\.(m?js|wasm)$/.test(f));
  const parts = Object.fromEntries(files.map((f) => [f.endsWith(".wasm") ? "wasm" : "js", size(path.join(out, f))]));
  const sum = (k) => Object.values(parts).reduce((a, p) => a + p[k], 0);
  worker = {
    ...parts,
    raw: sum("raw"),
    gzip: sum("gzip"),
    wrangler: m ? { raw: Math.round(Number(m[1]) * 1024), gzip: Math.round(Number(m[2]) * 1024) } : null,
  };
} finally {
  rmSync(out, { recursive: true, force: true });
}

const result = { worker, pkgWasm: size(path.join(ROOT, "pkg/wasm/otp_core_bg.wasm")) };
const json = JSON.stringify(result);
if (process.argv[2]) writeFileSync(process.argv[2], json);
else console.log(json);
