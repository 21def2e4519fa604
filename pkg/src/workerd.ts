// `otp-sms-verify/workerd`: the Durable Object class behind DurableObjectStore, for
// Cloudflare Workers only. It extends `DurableObject` of `cloudflare:workers`, which
// gives it RPC and the type brand that `wrangler types` checks; the storage rules are
// ExpiringEntries (durable-object.ts).

import { DurableObject } from "cloudflare:workers";
import { ExpiringEntries, type DurableObjectStorageLike, type OtpStoreObjectApi } from "./durable-object.js";

/**
 * The Durable Object to export from your Worker and bind as the namespace of
 * `DurableObjectStore` (one object per OTP; see the package README):
 *
 * ```js
 * export { OtpStoreObject } from "otp-sms-verify/workerd";
 * ```
 *
 * Each object keeps its values with their expiry and deletes them by an alarm once
 * expired; `compareAndSet` reads, compares and writes with no other call in between.
 * RPC needs a compatibility date of 2024-04-03 or later.
 */
export class OtpStoreObject extends DurableObject implements OtpStoreObjectApi {
  readonly #entries: ExpiringEntries;

  constructor(ctx: { readonly storage: DurableObjectStorageLike }, env: unknown) {
    super(ctx, env);
    this.#entries = new ExpiringEntries(ctx.storage);
  }

  get(key: string): Promise<string | null> {
    return this.#entries.get(key);
  }

  put(key: string, value: string, ttlSeconds: number): Promise<void> {
    return this.#entries.put(key, value, ttlSeconds);
  }

  delete(key: string): Promise<void> {
    return this.#entries.delete(key);
  }

  compareAndSet(key: string, expected: string, value: string, ttlSeconds: number): Promise<boolean> {
    return this.#entries.compareAndSet(key, expected, value, ttlSeconds);
  }

  alarm(): Promise<void> {
    return this.#entries.alarm();
  }
}
