// RedisStore: OTP records in Redis through the official client (node-redis, v4 to v6),
// described structurally so that the package needs no `redis` dependency.

import type { AtomicOtpStore } from "./service.js";
import { ttl } from "./stores.js";

/**
 * The part of a connected node-redis client (`createClient()`, v4 to v6, or a cluster
 * from `createCluster()`) that `RedisStore` uses. Any object with these methods does.
 */
export interface RedisClientLike {
  /** `GET key`: the string, or `null`. */
  get(key: string): Promise<unknown>;
  /** `DEL key`. */
  del(key: string): Promise<unknown>;
  /** `EVAL script numkeys keys… args…` (`SET`'s options differ between versions, so writes are scripts too). */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Options of `RedisStore`. */
export interface RedisStoreOptions {
  /**
   * Prefix of every Redis key, e.g. `"myapp:"` in a shared Redis (default `""`). The
   * keys are this prefix, then `OtpService`'s own (`"otp:<otpId>"` by default).
   */
  keyPrefix?: string;
}

/** `put`: `SET key value EX seconds`. */
const PUT = `return redis.call("SET", KEYS[1], ARGV[1], "EX", ARGV[2])`;

/**
 * `compareAndSet` in one script, so that Redis runs it as one command: nothing can
 * write the key between the comparison and the SET. An absent (or expired) key reads
 * as `false` and never equals the expected value.
 */
const COMPARE_AND_SET = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[2], "EX", ARGV[3])
  return 1
end
return 0`;

/**
 * A store in Redis, exact across any number of processes and hosts: `compareAndSet` is
 * one Lua script, which Redis runs atomically. Records expire by Redis's own `EX`.
 * Give it a connected client; it never connects, quits or retries by itself.
 *
 * ```js
 * import { createClient } from "redis";
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = new RedisStore(client, { keyPrefix: "myapp:" });
 * ```
 */
export class RedisStore implements AtomicOtpStore {
  readonly #client: RedisClientLike;
  readonly #prefix: string;

  constructor(client: RedisClientLike, options: RedisStoreOptions = {}) {
    const prefix = options.keyPrefix ?? "";
    if (typeof prefix !== "string") throw new TypeError("otp-sms-verify: keyPrefix must be a string");
    this.#client = client;
    this.#prefix = prefix;
  }

  async get(key: string): Promise<string | null> {
    const value = await this.#client.get(this.#prefix + key);
    return value === null || value === undefined ? null : String(value);
  }

  async put(key: string, value: string, options: { ttlSeconds: number }): Promise<void> {
    const ex = String(seconds(options.ttlSeconds));
    await this.#client.eval(PUT, { keys: [this.#prefix + key], arguments: [String(value), ex] });
  }

  async delete(key: string): Promise<void> {
    await this.#client.del(this.#prefix + key);
  }

  async compareAndSet(key: string, expected: string, value: string, options: { ttlSeconds: number }): Promise<boolean> {
    const ex = String(seconds(options.ttlSeconds));
    const args = [String(expected), String(value), ex];
    const done = await this.#client.eval(COMPARE_AND_SET, { keys: [this.#prefix + key], arguments: args });
    return Number(done) === 1;
  }
}

/** Redis's `EX` takes whole seconds: a TTL is rounded up. */
function seconds(ttlSeconds: number): number {
  return Math.ceil(ttl(ttlSeconds));
}
