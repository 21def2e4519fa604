// OtpService: send / verify / status / cancel over a store and an SMS sender. It reads
// the clock once per call and carries out what the core decides.

import type { OtpRecord, OtpRequest, OtpSettings, OtpView, SmsMessage } from "../wasm/otp_core.cjs";
import { OtpEngine, cancelRecord, otpError, storageTtl, viewOtp, viewRecord } from "./core.js";

/**
 * Where OTP records live: strings under keys, each with a time to live. Values are
 * JSON records that hold an HMAC of the PIN, never the PIN. `get` must return exactly
 * the string `put` stored.
 *
 * `compareAndSet` is optional, and it is what makes verifications exact across
 * processes: with it, `OtpService` changes a record only if nobody else changed it
 * since it was read, and reads it again otherwise (see `AtomicOtpStore`). Without it,
 * verifications of one OTP are serialised within the process (or Worker isolate) only.
 */
export interface OtpStore {
  /** The value under `key`, or `null` when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Stores `value` under `key` for `ttlSeconds` (at least 60). */
  put(key: string, value: string, options: { ttlSeconds: number }): Promise<void>;
  /** Removes `key` (no error when absent). */
  delete(key: string): Promise<void>;
  /**
   * Atomically: if the value under `key` is `expected` (as `get` returned it), stores
   * `value` there for `ttlSeconds` and resolves `true`; otherwise (another value, or
   * absent or expired) changes nothing and resolves `false`.
   */
  compareAndSet?(key: string, expected: string, value: string, options: { ttlSeconds: number }): Promise<boolean>;
}

/**
 * A store with an atomic `compareAndSet`: `MemoryStore`, `RedisStore`,
 * `DurableObjectStore`, or your own (e.g. SQL's `UPDATE … WHERE key = $1 AND value = $2`
 * and one row updated). The whole value is compared: `OtpService`'s records never
 * return to an earlier value (attempts only grow, a status only leaves PENDING), so a
 * record's value is its own version.
 */
export interface AtomicOtpStore extends OtpStore {
  compareAndSet(key: string, expected: string, value: string, options: { ttlSeconds: number }): Promise<boolean>;
}

/** Hands an SMS to a gateway. The message text holds the PIN: never log or store it. */
export interface SmsSender {
  /** Resolves once the gateway accepted the message (the value is ignored); rejects otherwise. */
  send(message: SmsMessage): Promise<unknown>;
}

/** Options of `OtpService`. */
export interface OtpServiceOptions {
  /**
   * Where records are kept: `MemoryStore`, `RedisStore`, `DurableObjectStore`, `KvStore`
   * or your own. Exact across processes only with an `AtomicOtpStore`.
   */
  store: OtpStore;
  /** Delivers the SMS of each new OTP. */
  sender: SmsSender;
  /** Server PIN keys, newest first, 16+ bytes each; older keys still verify OTPs sent before a rotation. */
  keys: readonly string[];
  /** Application defaults (validated once, here); a request may override most of them. */
  settings?: OtpSettings;
  /** How long finished records stay readable after they expire (default 86400). */
  retentionSeconds?: number;
  /** The clock, in Unix seconds (default `Date.now() / 1000`). */
  now?: () => number;
  /**
   * Called with the OTP's view (masked phone) after a status change was stored:
   * VERIFIED, FAILED or CANCELLED (EXPIRED happens by itself and is not reported).
   * Awaited; an error it throws is logged and never undoes the change. In a Worker,
   * hand slow work to `ctx.waitUntil` instead of awaiting it here.
   */
  onStatusChange?: (view: OtpView) => void | Promise<void>;
  /** Prefix of store keys (default `"otp:"`). */
  keyPrefix?: string;
  /**
   * Accept callback URLs that name a private, loopback or link-local host (and plain
   * http to a loopback one), in the settings and in requests: tests only. Off by
   * default: such a URL is `OtpError` 2019 (`callback_url_private_host`).
   */
  allowPrivateHosts?: boolean;
}

const OTP_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MIN_KEY_BYTES = 16;
/**
 * Reads of one record per call before giving up on `compareAndSet`. Each failed round
 * means another call's change was stored, and a record changes at most maxAttempts (10
 * at most) + 1 times, so only a store whose `compareAndSet` fails for no reason gets here.
 */
const MAX_ROUNDS = 64;

/** Runs async work one at a time per key, in call order. */
class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release = (): void => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/** One lock for the process (isolate), so that services built per request still serialise. */
const recordLocks = new KeyedLock();

/**
 * Sends and verifies OTPs by SMS. Every verification counts the attempt before it
 * compares the PIN, as the core decides.
 *
 * Verifications and cancellations of one OTP are serialised within the process (or
 * Worker isolate), across every `OtpService` in it, and served in call order. With an
 * `AtomicOtpStore` (`MemoryStore`, `RedisStore`, `DurableObjectStore`) each change is
 * also a compare-and-set of the record as read, retried from the new record when
 * another process changed it first: attempts are then counted exactly, and a right PIN
 * verifies once, across any number of processes. With a store that has only
 * `get`/`put`/`delete` (`KvStore`, older custom stores) that holds within one process only.
 *
 * It plans and verifies through an `OtpEngine` (settings checked and keys prepared
 * once), which lives in the wasm memory: call `free()` when done with a service, e.g.
 * at the end of a Worker request that built one. Where the runtime has
 * `FinalizationRegistry` a collected service's engine is freed too.
 */
export class OtpService {
  readonly #store: OtpStore;
  /** The store's `compareAndSet`, when it has one. */
  readonly #compareAndSet: AtomicOtpStore["compareAndSet"] | null;
  readonly #sender: SmsSender;
  readonly #engine: OtpEngine;
  readonly #retention: number;
  readonly #now: () => number;
  readonly #onStatusChange: ((view: OtpView) => void | Promise<void>) | undefined;
  readonly #prefix: string;

  /** Throws `OtpError` for invalid settings and `TypeError` for missing or short keys. */
  constructor(options: OtpServiceOptions) {
    const encoder = new TextEncoder();
    if (options.keys.length === 0 || options.keys.some((k) => encoder.encode(k).length < MIN_KEY_BYTES)) {
      throw new TypeError(`otp-sms-verify: keys must hold at least one key of ${MIN_KEY_BYTES} bytes or more`);
    }
    const retention = options.retentionSeconds ?? 86_400;
    if (!Number.isInteger(retention) || retention < 0) {
      throw new TypeError("otp-sms-verify: retentionSeconds must be a whole number >= 0");
    }
    this.#store = options.store;
    const store = options.store;
    this.#compareAndSet = typeof store.compareAndSet === "function" ? store.compareAndSet.bind(store) : null;
    this.#sender = options.sender;
    this.#engine = new OtpEngine(options.settings ?? {}, options.keys, {
      allowPrivateHosts: options.allowPrivateHosts === true,
    });
    this.#retention = retention;
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#onStatusChange = options.onStatusChange;
    this.#prefix = options.keyPrefix ?? "otp:";
  }

  /**
   * Creates an OTP: stores its record, then sends its SMS, and removes the record again
   * when the sender rejects (the worker's order: no SMS goes out for an OTP that could
   * not be stored). Returns the new OTP (PENDING, with the full phone number). Throws
   * `OtpError` 2001-2020/2101+ for a bad request, what the store throws, and what the
   * sender throws when the SMS was not accepted.
   */
  async send(request: OtpRequest): Promise<OtpView> {
    const now = this.#clock();
    const planned = this.#engine.plan(request, now);
    const key = this.#prefix + planned.record.otpId;
    await this.#store.put(key, JSON.stringify(planned.record), this.#ttl(planned.record, now));
    try {
      await this.#sender.send(planned.message);
    } catch (refusal) {
      // Nobody knows this id yet: a record left behind by a failed delete only waits for its TTL.
      await this.#store.delete(key).catch((error: unknown) => {
        console.error("otp-sms-verify: could not remove the record of an OTP whose SMS was refused:", error);
      });
      throw refusal;
    }
    return viewOtp(planned.record, now, planned.phone.e164);
  }

  /**
   * Checks a PIN. Returns the VERIFIED OTP, or throws `OtpError`: 2021 unknown,
   * 2022 no PIN, 2023 already verified, 2024 cancelled, 2025 expired, 2026 failed
   * earlier, 2027 this wrong PIN used the last attempt, 2029 wrong PIN.
   */
  async verify(otpId: string, pin: string | null | undefined): Promise<OtpView> {
    const { view, changed, error } = await this.#change(otpId, (stored, now) => {
      const v = this.#engine.verify(stored, pin, now);
      const outcome = { view: viewOtp(v.record, now), changed: v.statusChanged, error: v.error };
      return { record: v.recordChanged ? v.record : null, outcome };
    });
    if (changed) await this.#notify(view);
    if (error) throw error;
    return view;
  }

  /** The OTP as it stands now (masked phone). Throws `OtpError` 2021 when unknown. */
  async status(otpId: string): Promise<OtpView> {
    const now = this.#clock();
    return viewRecord(await this.#load(otpId), now);
  }

  /** Cancels a PENDING OTP and returns it. Throws `OtpError` 2021, 2030 or 2031. */
  async cancel(otpId: string): Promise<OtpView> {
    const view = await this.#change(otpId, (stored, now) => {
      const record = cancelRecord(stored, now);
      return { record, outcome: viewOtp(record, now) };
    });
    await this.#notify(view);
    return view;
  }

  /**
   * Releases the service's engine (wasm memory). Call it once no call is in flight;
   * any later call throws a `TypeError`. Idempotent.
   */
  free(): void {
    this.#engine.free();
  }

  #clock(): number {
    return Math.floor(this.#now());
  }

  /** The stored record's JSON text (the core reads it as it is). */
  async #load(otpId: string): Promise<string> {
    // Only well-formed ids reach the store; anything else is as unknown as a missing one.
    const known = typeof otpId === "string" && OTP_ID.test(otpId);
    const value = known ? await this.#store.get(this.#prefix + otpId) : null;
    if (value === null) throw otpError(2021);
    return value;
  }

  /**
   * One change to a stored record, under the process's lock for it: `decide` gets the
   * stored JSON text and the time, and returns the record to store (`null`: nothing to
   * store) and the call's outcome. With an atomic store the record is stored only if it
   * is still the one read; otherwise the stored one is read and decided on again. What
   * `decide` throws (an `OtpError`) ends the call.
   */
  #change<T>(otpId: string, decide: (stored: string, now: number) => { record: OtpRecord | null; outcome: T }): Promise<T> {
    const key = this.#prefix + otpId;
    return recordLocks.run(key, async () => {
      for (let round = 1; ; round++) {
        const now = this.#clock();
        const stored = await this.#load(otpId);
        const { record, outcome } = decide(stored, now);
        if (record === null) return outcome;
        const value = JSON.stringify(record);
        if (this.#compareAndSet === null) {
          await this.#store.put(key, value, this.#ttl(record, now));
          return outcome;
        }
        if (await this.#compareAndSet(key, stored, value, this.#ttl(record, now))) return outcome;
        if (round === MAX_ROUNDS) {
          throw new Error(`otp-sms-verify: the store's compareAndSet failed ${MAX_ROUNDS} times in a row for ${key}`);
        }
      }
    });
  }

  #ttl(record: OtpRecord, now: number): { ttlSeconds: number } {
    return { ttlSeconds: storageTtl(record, now, this.#retention) };
  }

  async #notify(view: OtpView): Promise<void> {
    if (!this.#onStatusChange) return;
    try {
      await this.#onStatusChange(view);
    } catch (error) {
      console.error("otp-sms-verify: onStatusChange failed:", error);
    }
  }
}
