import type { AtomicOtpStore, OtpStore } from "./service.js";

/** `ttlSeconds` checked: a positive finite number. */
export function ttl(ttlSeconds: number): number {
  if (typeof ttlSeconds !== "number" || !(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) {
    throw new TypeError("otp-sms-verify: ttlSeconds must be a positive number");
  }
  return ttlSeconds;
}

/**
 * An in-memory store for one process: tests, demos, single-instance servers. Entries
 * expire by the given clock (Unix seconds, default `Date.now() / 1000`), so tests
 * can move time instead of sleeping. Everything is lost on restart. Its
 * `compareAndSet` is atomic (it runs without awaiting anything).
 */
export class MemoryStore implements AtomicOtpStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();
  readonly #now: () => number;
  #nextSweep = 0;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  async get(key: string): Promise<string | null> {
    return this.#read(key);
  }

  async put(key: string, value: string, options: { ttlSeconds: number }): Promise<void> {
    this.#write(key, value, options.ttlSeconds);
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async compareAndSet(key: string, expected: string, value: string, options: { ttlSeconds: number }): Promise<boolean> {
    if (this.#read(key) !== expected) return false;
    this.#write(key, value, options.ttlSeconds);
    return true;
  }

  /** The live `[key, value]` pairs (for tests and debugging). */
  entries(): Array<[string, string]> {
    const now = this.#now();
    return [...this.#entries].filter(([, e]) => now < e.expiresAt).map(([k, e]) => [k, e.value]);
  }

  #read(key: string): string | null {
    const entry = this.#entries.get(key);
    if (!entry) return null;
    if (this.#now() >= entry.expiresAt) {
      this.#entries.delete(key);
      return null;
    }
    return entry.value;
  }

  #write(key: string, value: string, ttlSeconds: number): void {
    const seconds = ttl(ttlSeconds);
    const now = this.#now();
    if (now >= this.#nextSweep) {
      // Expired entries nobody reads again go at most once a minute.
      for (const [k, e] of this.#entries) if (now >= e.expiresAt) this.#entries.delete(k);
      this.#nextSweep = now + 60;
    }
    this.#entries.set(key, { value: String(value), expiresAt: now + seconds });
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
 * A store over a Cloudflare Workers KV binding. Not exact: it has no atomic
 * `compareAndSet` (KV cannot offer one), and KV is eventually consistent (a write can
 * take up to a minute to be seen in other locations). `OtpService` serialises the
 * verifications of one OTP within one isolate only, so two verifications in different
 * isolates or locations may both count from the same attempts, and a right PIN may
 * verify twice. Use `DurableObjectStore` for exact counts.
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
