// DurableObjectStore and the Durable Object class it talks to, OtpStoreObject: exact
// OTP records in Cloudflare Workers without the otp-sms-verify worker. One object per
// key; every call is an RPC to it, and the object runs one call at a time.

import { DurableObjectBase } from "#wasm";
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

/** The part of a Durable Object's state (`ctx`) that `OtpStoreObject` uses. */
export interface DurableObjectStateLike {
  readonly storage: DurableObjectStorageLike;
}

/**
 * The Durable Object behind `DurableObjectStore`: one per key, holding the value and
 * its expiry, removed by an alarm when it expires. Its methods are what the store calls
 * over RPC; `alarm()` is the runtime's.
 */
export interface OtpStoreObject {
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
 * The Durable Object class to export from your Worker and bind (see the README):
 *
 * ```js
 * export { OtpStoreObject } from "otp-sms-verify";
 * ```
 *
 * Its `compareAndSet` reads, compares and writes without another call in between: a
 * Durable Object delivers no other event while its storage operations are in progress.
 * Expiry is by the object's clock; an alarm deletes what expired. In workerd it extends
 * `DurableObject` of `cloudflare:workers` (RPC needs a compatibility date of 2024-04-03
 * or later); elsewhere it can be built over a fake state for tests.
 */
export const OtpStoreObject: new (ctx: DurableObjectStateLike, env: unknown) => OtpStoreObject = class
  extends DurableObjectBase
  implements OtpStoreObject
{
  readonly #storage: DurableObjectStorageLike;

  constructor(ctx: DurableObjectStateLike, env: unknown) {
    super(ctx, env);
    this.#storage = ctx.storage;
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
};

/**
 * The part of a Durable Object namespace binding (`DurableObjectNamespace`) that
 * `DurableObjectStore` uses; any namespace binding of `OtpStoreObject` fits.
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
 * `OtpStoreObject`: `new DurableObjectStore(env.OTP_STORE)`.
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

  #object(key: string): OtpStoreObject {
    const id = this.#namespace.idFromName(key);
    return this.#namespace.get(id as never) as OtpStoreObject;
  }
}
