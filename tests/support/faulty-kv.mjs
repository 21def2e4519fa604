// A KV namespace that refuses writes, for tests: a Miniflare wrapped binding over a
// real namespace (inner binding `KV`). A put of a key that starts with `PREFIX` fails
// its first `FAILS` attempts (every attempt when `FAILS` is -1), as KV does when a
// key is written more than once a second or the service is down; every other call
// goes through. Each attempt is counted under `attempts:{key}` in the same namespace,
// for the test to read.

/** Attempts per key, in this isolate. */
const attempts = new Map();

export default function faultyKv(env) {
  const kv = env.KV;
  const prefix = String(env.PREFIX);
  const fails = Number(env.FAILS);
  return {
    get: (...args) => kv.get(...args),
    getWithMetadata: (...args) => kv.getWithMetadata(...args),
    list: (...args) => kv.list(...args),
    delete: (...args) => kv.delete(...args),
    async put(key, value, options) {
      if (!key.startsWith(prefix)) return kv.put(key, value, options);
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      await kv.put(`attempts:${key}`, String(n));
      if (fails < 0 || n <= fails) throw new Error("KV PUT failed: 429 Too Many Requests");
      return kv.put(key, value, options);
    },
  };
}
