// The core's functions with friendly names and typed errors. Every function here is
// synchronous and pure apart from randomness (PINs, ids); `now` is Unix seconds.

import { core, init as initWasm } from "#wasm";
import type {
  CoreError,
  OtpRecord,
  OtpRequest,
  OtpSettings,
  OtpView,
  ParsedPhone,
  PinType,
  PlannedOtp,
  SmsEncoding,
  SmsParts,
  TemplateVars,
  VerifyResult,
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
    throw fromThrown(thrown, errorInfoOf);
  }
}

function seconds(value: number, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`otp-sms-verify: ${what} must be a finite number of seconds`);
  }
  return Math.floor(value);
}

let catalog: readonly OtpErrorInfo[] | undefined;
let byCode: ReadonlyMap<number, OtpErrorInfo> | undefined;
let byReason: ReadonlyMap<string, OtpErrorInfo> | undefined;

function loadCatalog(): readonly OtpErrorInfo[] {
  if (!catalog) {
    const entries = (JSON.parse(core().errorCatalog()) as CoreError[]).map(errorInfo);
    // Several causes share one SMS.CX code: a code alone names its first (general) entry.
    const codes = new Map<number, OtpErrorInfo>();
    for (const e of entries) if (!codes.has(e.code)) codes.set(e.code, e);
    byCode = codes;
    byReason = new Map(entries.map((e) => [e.reason, e]));
    catalog = entries;
  }
  return catalog;
}

/** The catalogue entry of a code (its general cause) or of a reason, if the core has one. */
function errorInfoOf(key: number | string): OtpErrorInfo | undefined {
  loadCatalog();
  return typeof key === "number" ? byCode?.get(key) : byReason?.get(key);
}

/** Every error the core can throw, in code order. */
export function errorCatalog(): OtpErrorInfo[] {
  return loadCatalog().map((e) => ({ ...e }));
}

/** The `OtpError` with this catalogue code (e.g. 2021 for an unknown OTP). */
export function otpError(code: number): OtpError {
  const info = errorInfoOf(code);
  if (!info) throw new RangeError(`otp-sms-verify: no error with code ${code}`);
  return new OtpError(info);
}

/** The core's code for a value of the wrong type (2114). */
const FIELD_TYPE_INVALID = 2114;
/** Deeper than any settings, request or record: a cycle, or not one of ours. */
const MAX_DEPTH = 32;

/**
 * Refuses what JSON would not carry faithfully, rather than let `JSON.stringify` drop
 * or change it silently: a bigint (which it throws on), NaN and ±Infinity (written as
 * `null`, which would read as "absent"), a `Map` or `Set` (written as `{}`), a function
 * or a symbol (left out). Any of these anywhere in an input is `OtpError` 2114.
 */
function checkJsonValue(value: unknown, depth: number): void {
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) throw otpError(FIELD_TYPE_INVALID);
      return;
    case "bigint":
    case "function":
    case "symbol":
      throw otpError(FIELD_TYPE_INVALID);
    case "object": {
      if (value === null) return;
      if (depth >= MAX_DEPTH) throw new TypeError("otp-sms-verify: an input nests too deeply (or refers to itself)");
      if (Array.isArray(value)) {
        for (const item of value) checkJsonValue(item, depth + 1);
        return;
      }
      const tag = Object.prototype.toString.call(value);
      if (tag === "[object Map]" || tag === "[object Set]") throw otpError(FIELD_TYPE_INVALID);
      const object = value as Record<string, unknown>;
      for (const key in object) {
        if (Object.prototype.hasOwnProperty.call(object, key)) checkJsonValue(object[key], depth + 1);
      }
      return;
    }
    default:
  }
}

/** The server PIN keys as the core takes them: a JSON array (a bad one is a `TypeError` there). */
function keysJson(keys: readonly string[]): string {
  return JSON.stringify([...keys]);
}

/** An input of the core as JSON text (see `checkJsonValue` for what is refused). */
function toJson(value: unknown): string {
  checkJsonValue(value, 0);
  return JSON.stringify(value) ?? "null";
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
  const type: unknown = options.type ?? "numbers";
  const length = options.length ?? 6;
  return call((raw) => {
    if (typeof type !== "string") throw otpError(FIELD_TYPE_INVALID);
    return raw.generatePin(type as PinType, length, seed64(options.seed));
  });
}

/**
 * Fills a template's placeholders: `{{pin}}` (or `{code}`), `{{ttl}}` (minutes) and
 * `{{brand}}`; appends the WebOTP line `@domain #pin` when `webotpDomain` is set.
 */
export function renderTemplate(template: string, vars: TemplateVars): string {
  return call((raw) => {
    // What the core's TemplateVars type takes (as JSON would carry it): a wrong type is 2114.
    checkJsonValue(vars, 0);
    if (typeof vars !== "object" || vars === null || Array.isArray(vars)) throw otpError(FIELD_TYPE_INVALID);
    const { pin, ttlSeconds, brand, webotpDomain } = vars as Partial<Record<keyof TemplateVars, unknown>>;
    if (!isText(pin) || !isText(brand) || !isWhole(ttlSeconds, 0xffff_ffff) || !isOptionalText(webotpDomain)) {
      throw otpError(FIELD_TYPE_INVALID);
    }
    return raw.renderTemplate(template, pin, ttlSeconds, brand, webotpDomain ?? undefined);
  });
}

/** Throws `OtpError` 2006 (empty or no PIN placeholder) or 2107 (too long). */
export function validateTemplate(template: string): void {
  call((raw) => raw.validateTemplate(template));
}

/** Encoding (GSM-7 or UCS-2), units and SMS parts of a text. */
export function countSmsParts(text: string): SmsParts {
  return JSON.parse(call((raw) => raw.countSmsParts(text))) as SmsParts;
}

/**
 * Parses an E.164 number, or a national one with its ISO country (`"FR"`), and says
 * what it is by its numbering plan: `type` (`"mobile"`, `"fixedLine"`, `"premiumRate"`,
 * …, `"unknown"`) and `valid`. A number that is not valid still parses; `countryIso`
 * is the country its digits determine (the one given only reads a national number).
 * Throws `OtpError` 2001-2003 or 2020 (letters, too short, too long, unknown code).
 */
export function parsePhone(input: string, countryIso?: string): ParsedPhone {
  return JSON.parse(call((raw) => raw.parsePhone(input, countryIso))) as ParsedPhone;
}

/** Options of `OtpEngine`, `validateSettings` and `planOtp`. */
export interface EngineOptions {
  /**
   * Accept callback URLs (`callbackUrl` in the settings, `otpCallbackUrl` in requests)
   * that name a private, loopback or link-local host, and plain http to a loopback one:
   * for tests with a receiver on the same machine. Off by default: such a URL is
   * `OtpError` 2019 (`callback_url_private_host`). `CallbackSender` has its own option
   * of the same name, which such tests set too.
   */
  allowPrivateHosts?: boolean;
}

/** Checks an application's settings and returns them with every default filled in. */
export function validateSettings(settings: OtpSettings = {}, options: EngineOptions = {}): Required<OtpSettings> {
  const allow = options.allowPrivateHosts === true;
  return JSON.parse(call((raw) => raw.validateSettings(toJson(settings), allow))) as Required<OtpSettings>;
}

// --- Lower level: the verification state machine over stored records -------------

/** Options of `planOtp` (with `allowPrivateHosts`) and `OtpEngine.plan` (without: the engine's own). */
export interface PlanOptions extends EngineOptions {
  /** Send this PIN instead of a generated one (it must match the PIN type, 4-10 symbols). */
  customPin?: string;
  /** Makes the id and PIN repeatable. Tests only. */
  seed?: bigint | number;
}

/**
 * Plans a new OTP: the record to store (it holds an HMAC of the PIN, never the PIN)
 * and the SMS to send. `keys` are the server PIN keys, newest first, 16+ bytes each.
 * For many OTPs of one application, `OtpEngine` checks the settings and prepares the
 * keys once instead of on every call.
 */
export function planOtp(
  settings: OtpSettings,
  request: OtpRequest,
  now: number,
  keys: readonly string[],
  options: PlanOptions = {},
): PlannedOtp {
  const t = seconds(now, "now");
  // An engine for this one call: the same code as OtpEngine.plan, freed at once.
  const allow = options.allowPrivateHosts === true;
  const engine = call((raw) => new raw.OtpEngine(toJson(settings), keysJson(keys), allow));
  try {
    return unpackPlanned(call(() => engine.planPacked(toJson(request), t, options.customPin, seed64(options.seed))));
  } finally {
    engine.free();
  }
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

/** A `Verification` from the core's JSON `VerifyResult`. */
function verification(json: string): Verification {
  const r = JSON.parse(json) as VerifyResult;
  return {
    verified: r.verified,
    error: r.error === null ? null : otpError(r.error),
    record: r.record,
    recordChanged: r.recordChanged,
    statusChanged: r.statusChanged,
  };
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
  seconds(now, "now");
  // What JSON cannot carry is refused before the keys are looked at, as it always was.
  call(() => checkJsonValue(record, 0));
  // An engine for this one call (verifying needs no settings), freed at once.
  const engine = new OtpEngine({}, keys);
  try {
    return engine.verify(record, pin, now);
  } finally {
    engine.free();
  }
}

/** A record as JSON text: stored text is passed on as it is. */
function recordJson(record: OtpRecord | string): string {
  return typeof record === "string" ? record : toJson(record);
}

/** Cancels a PENDING record; returns the new record. Throws `OtpError` 2030 or 2031. */
export function cancelOtp(record: OtpRecord, now: number): OtpRecord {
  return cancelRecord(record, now);
}

/** `cancelOtp` of a record or of its stored JSON text. */
export function cancelRecord(record: OtpRecord | string, now: number): OtpRecord {
  const t = seconds(now, "now");
  return JSON.parse(call((raw) => raw.cancelOtp(recordJson(record), t))) as OtpRecord;
}

/** The SMS.CX OTP object of a record at `now` (EXPIRED is derived from `now`). */
export function viewOtp(record: OtpRecord, now: number, phoneNumber?: string): OtpView {
  return viewRecord(record, now, phoneNumber);
}

/** `viewOtp` of a record or of its stored JSON text. */
export function viewRecord(record: OtpRecord | string, now: number, phoneNumber?: string): OtpView {
  const t = seconds(now, "now");
  return JSON.parse(call((raw) => raw.viewOtp(recordJson(record), t, phoneNumber))) as OtpView;
}

/** Seconds a store should keep a record: its remaining life plus `retentionSeconds`, at least 60. */
export function storageTtl(record: OtpRecord, now: number, retentionSeconds: number): number {
  const t = seconds(now, "now");
  const retention = Math.min(seconds(retentionSeconds, "retentionSeconds"), 0xffff_ffff);
  if (retention < 0) throw new TypeError("otp-sms-verify: retentionSeconds must be >= 0");
  return call((raw) => raw.storageTtl(toJson(record), t, retention));
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

// --- The prepared engine -----------------------------------------------------------

type RawEngine = InstanceType<RawCore["OtpEngine"]>;

/** Statuses by index, as `verifyFields` numbers them. */
const STATUSES = ["PENDING", "VERIFIED", "FAILED", "EXPIRED", "CANCELLED"] as const;
const STATUS_INDEX: Readonly<Record<string, number>> = Object.fromEntries(STATUSES.map((s, i) => [s, i]));
/** `OtpRecord`'s fields: all required but `trackId` and `otpCallbackUrl`. */
const RECORD_KEYS: ReadonlySet<string> = new Set([
  "otpId", "trackId", "phoneMasked", "countryIso", "status", "cost", "parts", "maxAttempts",
  "attempts", "ttl", "otpCallbackUrl", "createdAt", "expiresAt", "updatedAt", "pinDigest",
]);
const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** No lone surrogates (which the JSON path refuses); ES2024's `isWellFormed` where there is one. */
const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;
const wellFormed: (s: string) => boolean = isWellFormed
  ? (s) => isWellFormed.call(s)
  : (s) => !/[\ud800-\udfff]/.test(s);
const isText = (v: unknown): v is string => typeof v === "string" && wellFormed(v);
const isOptionalText = (v: unknown): v is string | null | undefined => v === null || v === undefined || isText(v);
const isWhole = (v: unknown, max: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
/** Whole seconds the core takes as `now` too (|t| < 10^15); larger ones take the JSON path. */
const isSeconds = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && Math.abs(v) < 1e15;

/**
 * `record` as the core's JSON path reads and writes it back (its fields in order,
 * absent ones null, -0 as 0), when that path would take it as it is: a plain object
 * with exactly `OtpRecord`'s own fields, each of its type (strings well-formed,
 * numbers in range). `null` otherwise: then the JSON path decides, as the free
 * functions do.
 */
function plainRecord(record: unknown): OtpRecord | null {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return null;
  const r = record as Record<string, unknown>;
  // With every key one of them, this count holds only if all 13 required ones are there.
  const keys = Object.keys(r);
  const hasTrackId = hasOwn(r, "trackId");
  const hasCallbackUrl = hasOwn(r, "otpCallbackUrl");
  if (keys.length !== RECORD_KEYS.size - 2 + Number(hasTrackId) + Number(hasCallbackUrl)) return null;
  for (const key of keys) if (!RECORD_KEYS.has(key)) return null;
  const trackId = hasTrackId ? r["trackId"] : undefined;
  const otpCallbackUrl = hasCallbackUrl ? r["otpCallbackUrl"] : undefined;
  const { otpId, phoneMasked, countryIso, status, cost, parts, maxAttempts, attempts, ttl } = r;
  const { createdAt, expiresAt, updatedAt, pinDigest } = r;
  if (
    !isText(otpId) ||
    !isOptionalText(trackId) ||
    !isText(phoneMasked) ||
    !isText(countryIso) ||
    typeof status !== "string" ||
    STATUS_INDEX[status] === undefined ||
    typeof cost !== "number" ||
    !Number.isFinite(cost) ||
    !isWhole(parts, 0xffff_ffff) ||
    !isWhole(maxAttempts, 255) ||
    !isWhole(attempts, 255) ||
    !isWhole(ttl, 0xffff_ffff) ||
    !isOptionalText(otpCallbackUrl) ||
    !isSeconds(createdAt) ||
    !isSeconds(expiresAt) ||
    !isSeconds(updatedAt) ||
    !isText(pinDigest)
  ) {
    return null;
  }
  return {
    otpId,
    trackId: trackId ?? null,
    phoneMasked,
    countryIso,
    status: status as OtpRecord["status"],
    cost: cost + 0,
    parts: parts + 0,
    maxAttempts: maxAttempts + 0,
    attempts: attempts + 0,
    ttl: ttl + 0,
    otpCallbackUrl: otpCallbackUrl ?? null,
    createdAt: createdAt + 0,
    expiresAt: expiresAt + 0,
    updatedAt: updatedAt + 0,
    pinDigest,
  };
}

/** A `PlannedOtp` from `OtpEngine.planPacked`'s fields (see there for the order). */
function unpackPlanned(packed: string): PlannedOtp {
  // An indexOf loop: several times faster than split() here.
  const f: string[] = [];
  let from = 0;
  for (let i = 0; i < 22; i++) {
    const end = packed.indexOf("\0", from);
    f.push(packed.slice(from, end));
    from = end + 1;
  }
  const text = packed.slice(from);
  const [otpId, trackId, phoneMasked, countryIso, status, otpCallbackUrl, pinDigest] = f as string[];
  const parts = Number(f[8]);
  const to = f[15] as string;
  return {
    record: {
      otpId: otpId as string,
      trackId: trackId || null,
      phoneMasked: phoneMasked as string,
      countryIso: countryIso as string,
      status: status as OtpRecord["status"],
      cost: Number(f[7]),
      parts,
      maxAttempts: Number(f[9]),
      attempts: Number(f[10]),
      ttl: Number(f[11]),
      otpCallbackUrl: otpCallbackUrl || null,
      createdAt: Number(f[12]),
      expiresAt: Number(f[13]),
      updatedAt: Number(f[14]),
      pinDigest: pinDigest as string,
    },
    message: {
      to,
      from: f[16] as string,
      text,
      language: f[17] as string,
      encoding: f[18] as SmsEncoding,
      units: Number(f[19]),
      parts,
    },
    phone: {
      e164: to,
      digits: f[20] as string,
      callingCode: Number(f[21]),
      countryIso: countryIso as string,
      masked: phoneMasked as string,
    },
  };
}

/**
 * `planOtp` and `verifyOtp` for one application, prepared once: the settings are
 * checked when it is built, each PIN key's HMAC state is computed once, and the
 * platform CSPRNG is read 1 KiB at a time after a first 32-byte read (about forty OTPs
 * per `crypto.getRandomValues` call; the bytes are wiped as they are used). Results are
 * the same as those of the free functions with the same settings and keys, and it
 * passes less through JSON on the way, which makes it several times faster.
 *
 * It lives in the wasm memory: call `free()` when done with it. Where the runtime has
 * `FinalizationRegistry` (Node, browsers; Workers with the `enable_weak_ref`
 * compatibility flag) an engine that is garbage-collected is freed too, but only
 * `free()` says when. Any call after `free()` throws a `TypeError`.
 */
export class OtpEngine {
  #raw: RawEngine | undefined;

  /**
   * Throws `OtpError` for invalid settings (the first bad field's code) and
   * `TypeError` for missing or short keys (16 bytes at least, newest first). Callback
   * URLs of the settings and of every request must name a public host unless
   * `options.allowPrivateHosts`.
   */
  constructor(settings: OtpSettings, keys: readonly string[], options: EngineOptions = {}) {
    const allow = options.allowPrivateHosts === true;
    this.#raw = call((raw) => new raw.OtpEngine(toJson(settings), keysJson(keys), allow));
  }

  #engine(): RawEngine {
    if (!this.#raw) throw new TypeError("otp-sms-verify: this OtpEngine was freed");
    return this.#raw;
  }

  /** `planOtp` with this engine's settings and keys. */
  plan(request: OtpRequest, now: number, options: PlanOptions = {}): PlannedOtp {
    const engine = this.#engine();
    const t = seconds(now, "now");
    return unpackPlanned(call(() => engine.planPacked(toJson(request), t, options.customPin, seed64(options.seed))));
  }

  /**
   * `verifyOtp` with this engine's keys. `record` may also be the record's JSON text
   * as stored, which spares parsing it in JS first.
   */
  verify(record: OtpRecord | string, pin: string | null | undefined, now: number): Verification {
    const engine = this.#engine();
    const t = seconds(now, "now");
    // The fast path needs the PIN as a string (absent and empty are alike to the core)
    // and otpId and pinDigest free of NUL, which separates them in one string.
    const r = typeof record === "string" || !(pin == null || typeof pin === "string") ? null : plainRecord(record);
    if (r === null || r.otpId.includes("\0") || r.pinDigest.includes("\0")) {
      return verification(call(() => engine.verify(recordJson(record), pin, t)));
    }
    const fields = `${r.otpId}\0${r.pinDigest}\0${pin ?? ""}`;
    const packed = call(() =>
      engine.verifyFields(STATUS_INDEX[r.status] as number, r.attempts, r.maxAttempts, r.expiresAt, fields, t),
    );
    const code = packed & 0xffff;
    const statusChanged = (packed & (1 << 20)) !== 0;
    r.status = STATUSES[(packed >>> 16) & 7] as OtpRecord["status"];
    r.attempts = (packed >>> 21) & 0xff;
    if (statusChanged) r.updatedAt = t + 0;
    return {
      verified: code === 0,
      error: code === 0 ? null : otpError(code),
      record: r,
      recordChanged: (packed & (1 << 19)) !== 0,
      statusChanged,
    };
  }

  /** Releases the engine's wasm memory (its random buffer wiped). Idempotent. */
  free(): void {
    const raw = this.#raw;
    this.#raw = undefined;
    raw?.free();
  }
}
