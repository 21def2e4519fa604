// The core's functions with friendly names and typed errors. Every function here is
// synchronous and pure apart from randomness (PINs, ids); `now` is Unix seconds.

import { core, init as initWasm } from "#wasm";
import type {
  OtpRecord,
  OtpRequest,
  OtpSettings,
  OtpView,
  ParsedPhone,
  PinType,
  PlannedOtp,
  SmsParts,
  TemplateVars,
} from "../wasm/otp_core.cjs";
import { OtpError, errorInfo, fromThrown, type OtpErrorInfo } from "./errors.js";
import type { RawCore, WasmSource } from "./raw.js";

/**
 * Loads the wasm. Needed once in browsers (and other plain ESM runtimes) before any
 * other call; `source` defaults to `otp_core_bg.wasm` next to the package's glue.
 * In Node and Cloudflare Workers it does nothing, so portable code may always call it.
 * Idempotent: repeated calls share one promise.
 */
export function init(source?: WasmSource): Promise<void> {
  return initWasm(source);
}

/** Calls into the wasm, turning what it throws into `OtpError` / `TypeError`. */
function call<T>(f: (raw: RawCore) => T): T {
  const raw = core();
  try {
    return f(raw);
  } catch (thrown) {
    throw fromThrown(thrown);
  }
}

function seconds(value: number, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`otp-sms-verify: ${what} must be a finite number of seconds`);
  }
  return Math.floor(value);
}

let catalog: readonly OtpErrorInfo[] | undefined;

/** Every error the core can throw, in code order. */
export function errorCatalog(): OtpErrorInfo[] {
  catalog ??= call((raw) => raw.errorCatalog()).map(errorInfo);
  return catalog.map((e) => ({ ...e }));
}

/** The `OtpError` with this catalogue code (e.g. 2021 for an unknown OTP). */
export function otpError(code: number): OtpError {
  const info = errorCatalog().find((e) => e.code === code);
  if (!info) throw new RangeError(`otp-sms-verify: no error with code ${code}`);
  return new OtpError(info);
}

/** Options of `generatePin`. */
export interface PinOptions {
  /** Alphabet: `"numbers"` (default), `"letters"` or `"alphanumeric"`. */
  type?: PinType;
  /** Length, 4-10 (default 6). */
  length?: number;
  /** Makes the PIN repeatable. Tests only: never seed production PINs. */
  seed?: bigint | number;
}

function seed64(seed: bigint | number | undefined): bigint | undefined {
  return seed === undefined ? undefined : BigInt.asUintN(64, BigInt(seed));
}

/** A uniformly random PIN from the platform CSPRNG. Throws `OtpError` 2014-2017. */
export function generatePin(options: PinOptions = {}): string {
  const length = options.length ?? 6;
  return call((raw) => raw.generatePin(options.type ?? "numbers", length, seed64(options.seed)));
}

/**
 * Fills a template's placeholders: `{{pin}}` (or `{code}`), `{{ttl}}` (minutes) and
 * `{{brand}}`; appends the WebOTP line `@domain #pin` when `webotpDomain` is set.
 */
export function renderTemplate(template: string, vars: TemplateVars): string {
  return call((raw) => raw.renderTemplate(template, vars));
}

/** Throws `OtpError` 2006 (empty or no PIN placeholder) or 2107 (too long). */
export function validateTemplate(template: string): void {
  call((raw) => raw.validateTemplate(template));
}

/** Encoding (GSM-7 or UCS-2), units and SMS parts of a text. */
export function countSmsParts(text: string): SmsParts {
  return call((raw) => raw.countSmsParts(text));
}

/**
 * Parses an E.164 number, or a national one with its ISO country (`"FR"`). Throws
 * `OtpError` 2001-2003, 2020 or 2101-2103.
 */
export function parsePhone(input: string, countryIso?: string): ParsedPhone {
  return call((raw) => raw.parsePhone(input, countryIso));
}

/** Checks an application's settings and returns them with every default filled in. */
export function validateSettings(settings: OtpSettings = {}): Required<OtpSettings> {
  return call((raw) => raw.validateSettings(settings));
}

// --- Lower level: the verification state machine over stored records -------------

/** Options of `planOtp`. */
export interface PlanOptions {
  /** Send this PIN instead of a generated one (it must match the PIN type, 4-10 symbols). */
  customPin?: string;
  /** Makes the id and PIN repeatable. Tests only. */
  seed?: bigint | number;
}

/**
 * Plans a new OTP: the record to store (it holds an HMAC of the PIN, never the PIN)
 * and the SMS to send. `keys` are the server PIN keys, newest first, 16+ bytes each.
 */
export function planOtp(
  settings: OtpSettings,
  request: OtpRequest,
  now: number,
  keys: readonly string[],
  options: PlanOptions = {},
): PlannedOtp {
  const t = seconds(now, "now");
  return call((raw) => raw.planOtp(settings, request, t, [...keys], options.customPin, seed64(options.seed)));
}

/** What one verification did; `record` is the record to store when `recordChanged`. */
export interface Verification {
  /** The PIN was right: the record is now VERIFIED. */
  verified: boolean;
  /** Why not, when not verified (2022-2029). */
  error: OtpError | null;
  /** The record after the attempt. */
  record: OtpRecord;
  /** Store `record`: the attempt was counted. */
  recordChanged: boolean;
  /** The status moved (VERIFIED or FAILED): time for the status callback. */
  statusChanged: boolean;
}

/**
 * Checks a PIN against a record at `now`, counting the attempt before comparing (in
 * constant time, against every key). Never throws for a wrong PIN: see `error`.
 */
export function verifyOtp(
  record: OtpRecord,
  pin: string | null | undefined,
  keys: readonly string[],
  now: number,
): Verification {
  const t = seconds(now, "now");
  const r = call((raw) => raw.verifyOtp(record, pin, [...keys], t));
  return { ...r, error: r.error ? new OtpError(errorInfo(r.error)) : null };
}

/** Cancels a PENDING record; returns the new record. Throws `OtpError` 2030 or 2031. */
export function cancelOtp(record: OtpRecord, now: number): OtpRecord {
  const t = seconds(now, "now");
  return call((raw) => raw.cancelOtp(record, t));
}

/** The SMS.CX OTP object of a record at `now` (EXPIRED is derived from `now`). */
export function viewOtp(record: OtpRecord, now: number, phoneNumber?: string): OtpView {
  const t = seconds(now, "now");
  return call((raw) => raw.viewOtp(record, t, phoneNumber));
}

/** Seconds a store should keep a record: its remaining life plus `retentionSeconds`, at least 60. */
export function storageTtl(record: OtpRecord, now: number, retentionSeconds: number): number {
  const t = seconds(now, "now");
  const retention = Math.min(seconds(retentionSeconds, "retentionSeconds"), 0xffff_ffff);
  if (retention < 0) throw new TypeError("otp-sms-verify: retentionSeconds must be >= 0");
  return call((raw) => raw.storageTtl(record, t, retention));
}

/** A random UUID v4 (the form of every `otpId`). */
export function newOtpId(): string {
  return call((raw) => raw.newOtpId());
}

/** Unix seconds as UTC `YYYY-MM-DD HH:MM:SS` (SMS.CX's date format). */
export function formatUtc(unixSeconds: number): string {
  const t = seconds(unixSeconds, "unixSeconds");
  return call((raw) => raw.formatUtc(t));
}
