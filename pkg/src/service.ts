// OtpService: send / verify / status / cancel over a store and an SMS sender. It reads
// the clock once per call and carries out what the core decides.

import type { OtpRecord, OtpRequest, OtpSettings, OtpView, SmsMessage } from "../wasm/otp_core.cjs";
import { OtpEngine, cancelRecord, otpError, storageTtl, viewOtp, viewRecord } from "./core.js";

/**
 * Where OTP records live: strings under keys, each with a time to live. Values are
 * JSON records that hold an HMAC of the PIN, never the PIN.
 */
export interface OtpStore {
  /** The value under `key`, or `null` when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Stores `value` under `key` for `ttlSeconds` (at least 60). */
  put(key: string, value: string, options: { ttlSeconds: number }): Promise<void>;
  /** Removes `key` (no error when absent). */
  delete(key: string): Promise<void>;
}

/** Hands an SMS to a gateway. The message text holds the PIN: never log or store it. */
export interface SmsSender {
  /** Resolves once the gateway accepted the message (the value is ignored); rejects otherwise. */
  send(message: SmsMessage): Promise<unknown>;
}

/** Options of `OtpService`. */
export interface OtpServiceOptions {
  /** Where records are kept (`MemoryStore`, `KvStore` or your own). */
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
}

const OTP_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MIN_KEY_BYTES = 16;

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
 * compares the PIN, as the core decides. Verifications and cancellations of one OTP are
 * serialised within the process (or Worker isolate), across every `OtpService` in it,
 * so parallel guesses are counted exactly with a store that is consistent for one
 * process (`MemoryStore`). Across processes or Worker locations, exactness needs a
 * store that serialises per record (e.g. a Durable Object).
 *
 * It plans and verifies through an `OtpEngine` (settings checked and keys prepared
 * once), which lives in the wasm memory: call `free()` when done with a service, e.g.
 * at the end of a Worker request that built one. Where the runtime has
 * `FinalizationRegistry` a collected service's engine is freed too.
 */
export class OtpService {
  readonly #store: OtpStore;
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
    this.#sender = options.sender;
    this.#engine = new OtpEngine(options.settings ?? {}, options.keys);
    this.#retention = retention;
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#onStatusChange = options.onStatusChange;
    this.#prefix = options.keyPrefix ?? "otp:";
  }

  /**
   * Creates an OTP: sends its SMS, then stores its record. Returns the new OTP
   * (PENDING, with the full phone number). Throws `OtpError` 2001-2020/2101+ for a bad
   * request, and whatever the sender throws when the SMS was not accepted.
   */
  async send(request: OtpRequest): Promise<OtpView> {
    const now = this.#clock();
    const planned = this.#engine.plan(request, now);
    await this.#sender.send(planned.message);
    await this.#save(planned.record, now);
    return viewOtp(planned.record, now, planned.phone.e164);
  }

  /**
   * Checks a PIN. Returns the VERIFIED OTP, or throws `OtpError`: 2021 unknown,
   * 2022 no PIN, 2023 already verified, 2024 cancelled, 2025 expired, 2026 failed
   * earlier, 2027 this wrong PIN used the last attempt, 2029 wrong PIN.
   */
  async verify(otpId: string, pin: string | null | undefined): Promise<OtpView> {
    const { view, changed, error } = await recordLocks.run(this.#prefix + otpId, async () => {
      const now = this.#clock();
      const stored = await this.#load(otpId);
      const v = this.#engine.verify(stored, pin, now);
      if (v.recordChanged) await this.#save(v.record, now);
      return { view: viewOtp(v.record, now), changed: v.statusChanged, error: v.error };
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
    const view = await recordLocks.run(this.#prefix + otpId, async () => {
      const now = this.#clock();
      const record = cancelRecord(await this.#load(otpId), now);
      await this.#save(record, now);
      return viewOtp(record, now);
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

  async #save(record: OtpRecord, now: number): Promise<void> {
    const ttlSeconds = storageTtl(record, now, this.#retention);
    await this.#store.put(this.#prefix + record.otpId, JSON.stringify(record), { ttlSeconds });
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
