// DurableObjectStore, and the storage rules of the Durable Object class it talks to
// (OtpStoreObject, in workerd.ts: the class needs `cloudflare:workers`). One object per
// key; every call is an RPC to it, and the object runs one call at a time.

import type { AtomicOtpStore } from "./service.js";
import { ttl } from "./stores.js";

/** The part of a Durable Object's storage (`ctx.storage`) that `OtpStoreObject` uses. */
export interface DurableObjectStorageLike {
  get(key: string): Promise<unknown>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<unknown>;
  list(): Promise<Map<string, unknown>>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
}

/**
 * What `OtpStoreObject` answers over RPC (and `DurableObjectStore` calls); `alarm()`
 * is the runtime's. TTLs are seconds.
 */
export interface OtpStoreObjectApi {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  compareAndSet(key: string, expected: string, value: string, ttlSeconds: number): Promise<boolean>;
  alarm(): Promise<void>;
}

/** What an `OtpStoreObject` keeps under a key; `expiresAt` in milliseconds. */
interface Entry {
  value: string;
  expiresAt: number;
}

const isEntry = (v: unknown): v is Entry =>
  typeof v === "object" && v !== null && typeof (v as Entry).value === "string" && typeof (v as Entry).expiresAt === "number";

/**
 * `OtpStoreObject`'s rules over a Durable Object's storage: values with an expiry (by
 * `Date.now()`, the object's clock), an alarm at the earliest expiry that deletes what
 * expired, and `compareAndSet`. Atomic in a Durable Object, which delivers no other
 * event while its storage operations are in progress. Internal: workerd.ts wraps it;
 * tests drive it over a fake storage.
 */
export class ExpiringEntries implements OtpStoreObjectApi {
  readonly #storage: DurableObjectStorageLike;

  constructor(storage: DurableObjectStorageLike) {
    this.#storage = storage;
  }

  async get(key: string): Promise<string | null> {
    return (await this.#live(key))?.value ?? null;
  }

  async put(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.#write(key, value, ttlSeconds);
  }

  async delete(key: string): Promise<void> {
    await this.#storage.delete(key);
  }

  async compareAndSet(key: string, expected: string, value: string, ttlSeconds: number): Promise<boolean> {
    const entry = await this.#live(key);
    if (entry === null || entry.value !== expected) return false;
    await this.#write(key, value, ttlSeconds);
    return true;
  }

  /** Deletes what expired; sets the alarm again for what is left. */
  async alarm(): Promise<void> {
    const now = Date.now();
    let next = Infinity;
    for (const [key, entry] of await this.#storage.list()) {
      if (!isEntry(entry) || entry.expiresAt <= now) await this.#storage.delete(key);
      else next = Math.min(next, entry.expiresAt);
    }
    if (next !== Infinity) await this.#storage.setAlarm(next);
  }

  /** The entry under `key` unless it expired (the alarm deletes it). */
  async #live(key: string): Promise<Entry | null> {
    const entry = await this.#storage.get(key);
    return isEntry(entry) && Date.now() < entry.expiresAt ? entry : null;
  }

  async #write(key: string, value: string, ttlSeconds: number): Promise<void> {
    const expiresAt = Date.now() + ttl(ttlSeconds) * 1000;
    await this.#storage.put(key, { value: String(value), expiresAt } satisfies Entry);
    const alarm = await this.#storage.getAlarm();
    if (alarm === null || alarm > expiresAt) await this.#storage.setAlarm(expiresAt);
  }
}

/**
 * The part of a Durable Object namespace binding (`DurableObjectNamespace`) that
 * `DurableObjectStore` uses; any namespace binding fits (bind it to `OtpStoreObject`).
 */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  /** The object of an id from `idFromName` (its stub). */
  get(id: never): unknown;
}

/**
 * A store in Durable Objects, exact across every Worker isolate and location: each key
 * lives in its own `OtpStoreObject` (`idFromName(key)`), which runs one call at a time
 * and does `compareAndSet` atomically. Build it over the namespace binding of
 * `OtpStoreObject` (exported by `otp-sms-verify/workerd`):
 * `new DurableObjectStore(env.OTP_STORE)`.
 */
export class DurableObjectStore implements AtomicOtpStore {
  readonly #namespace: DurableObjectNamespaceLike;

  constructor(namespace: DurableObjectNamespaceLike) {
    this.#namespace = namespace;
  }

  async get(key: string): Promise<string | null> {
    return await this.#object(key).get(key);
  }

  async put(key: string, value: string, options: { ttlSeconds: number }): Promise<void> {
    await this.#object(key).put(key, value, ttl(options.ttlSeconds));
  }

  async delete(key: string): Promise<void> {
    await this.#object(key).delete(key);
  }

  async compareAndSet(key: string, expected: string, value: string, options: { ttlSeconds: number }): Promise<boolean> {
    return await this.#object(key).compareAndSet(key, expected, value, ttl(options.ttlSeconds));
  }

  #object(key: string): OtpStoreObjectApi {
    const id = this.#namespace.idFromName(key);
    return this.#namespace.get(id as never) as OtpStoreObjectApi;
  }
}
