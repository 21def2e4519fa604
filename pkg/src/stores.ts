import type { OtpStore } from "./service.js";

function ttl(ttlSeconds: number): number {
  if (typeof ttlSeconds !== "number" || !(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) {
    throw new TypeError("otp-sms-verify: ttlSeconds must be a positive number");
  }
  return ttlSeconds;
}

/**
 * An in-memory store for one process: tests, demos, single-instance servers. Entries
 * expire by the given clock (Unix seconds, default `Date.now() / 1000`), so tests
 * can move time instead of sleeping. Everything is lost on restart.
 */
export class MemoryStore implements OtpStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();
  readonly #now: () => number;
  #nextSweep = 0;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  async get(key: string): Promise<string | null> {
    const entry = this.#entries.get(key);
    if (!entry) return null;
    if (this.#now() >= entry.expiresAt) {
      this.#entries.delete(key);
      return null;
    }
    return entry.value;
  }

  async put(key: string, value: string, options: { ttlSeconds: number }): Promise<void> {
    const now = this.#now();
    if (now >= this.#nextSweep) {
      // Expired entries nobody reads again go at most once a minute.
      for (const [k, e] of this.#entries) if (now >= e.expiresAt) this.#entries.delete(k);
      this.#nextSweep = now + 60;
    }
    this.#entries.set(key, { value: String(value), expiresAt: now + ttl(options.ttlSeconds) });
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  /** The live `[key, value]` pairs (for tests and debugging). */
  entries(): Array<[string, string]> {
    const now = this.#now();
    return [...this.#entries].filter(([, e]) => now < e.expiresAt).map(([k, e]) => [k, e.value]);
  }
}

/** The part of a Workers KV namespace binding (`KVNamespace`) that `KvStore` uses. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options: { expirationTtl: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** KV's shortest `expirationTtl`, in seconds. */
const KV_MIN_TTL = 60;

/**
 * A store over a Cloudflare Workers KV binding. KV is eventually consistent: a write
 * can take up to a minute to be seen in other locations, so two verifications of one
 * OTP in different places may both count from the same attempts. Use it where that is
 * acceptable; use a Durable Object for exact counts across the world.
 */
export class KvStore implements OtpStore {
  readonly #kv: KvNamespaceLike;

  constructor(kv: KvNamespaceLike) {
    this.#kv = kv;
  }

  get(key: string): Promise<string | null> {
    return this.#kv.get(key);
  }

  put(key: string, value: string, options: { ttlSeconds: number }): Promise<void> {
    const expirationTtl = Math.max(KV_MIN_TTL, Math.ceil(ttl(options.ttlSeconds)));
    return this.#kv.put(key, value, { expirationTtl });
  }

  delete(key: string): Promise<void> {
    return this.#kv.delete(key);
  }
}
