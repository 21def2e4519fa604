// OtpClient: a typed HTTP client for the otp-sms-verify worker's API, both dialects
// (SMS.CX: /oauth/token and /otp; Dexatel: /v1/verifications, /v1/templates,
// /v1/senders). Plain `fetch`, so it runs in Node 20+, browsers and Workers; it needs
// no wasm and no init.

import type { OtpRequest, OtpStatus, OtpView } from "../wasm/otp_core.cjs";

// --- Options ----------------------------------------------------------------------

/** A scope of `POST /oauth/token`: `otp:read` (status) and `otp:write` (send, verify, cancel). */
export type OtpScope = "otp:read" | "otp:write";

/** The part of a `fetch` response that `OtpClient` reads. */
export interface ClientResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** The `fetch` that `OtpClient` needs (the global one by default; `fetch` itself fits). */
export type ClientFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<ClientResponseLike>;

interface ClientCommonOptions {
  /** The worker's base URL, e.g. `"https://otp.example.com"` (a path prefix is kept). */
  baseUrl: string | URL;
  /** HTTP client (default `globalThis.fetch`), e.g. to add headers or count calls. */
  fetch?: ClientFetch;
  /** Time limit of each HTTP request, through `AbortSignal.timeout` (default 30000 ms). */
  timeoutMs?: number;
  /** The clock in Unix seconds, for the token cache (default `Date.now() / 1000`), as in `OtpService`. */
  now?: () => number;
}

/** Authenticates every call with the application's API key (`X-API-KEY` / `X-Dexatel-Key`). */
export interface OtpClientApiKeyOptions extends ClientCommonOptions {
  apiKey: string;
  appId?: never;
  appSecret?: never;
  scope?: never;
}

/**
 * Authenticates SMS.CX calls with a bearer token from `POST /oauth/token` (client
 * credentials). The Dexatel dialect takes API keys only: `client.dexatel` needs `apiKey`.
 */
export interface OtpClientAppOptions extends ClientCommonOptions {
  appId: string;
  appSecret: string;
  /** Scopes to ask for (default: both). */
  scope?: OtpScope | readonly OtpScope[];
  apiKey?: never;
}

/** Options of `OtpClient`: an API key, or app credentials for the token flow. */
export type OtpClientOptions = OtpClientApiKeyOptions | OtpClientAppOptions;

// --- Replies ----------------------------------------------------------------------

/** `POST /otp/{otpId}` with the right PIN. */
export interface OtpVerified {
  status: "VERIFIED";
}

/** `DELETE /otp/{otpId}`: the cancelled OTP's id. */
export interface OtpCancelled {
  info: { id: string };
}

/** Channels of Dexatel templates and senders (verifications are SMS only). */
export type DexatelChannel = "SMS" | "VIBER" | "WHATSAPP";

/** Dexatel's verification object. Dates are UTC `YYYY-MM-DD HH:MM:SS`. */
export interface DexatelVerification {
  id: string;
  /** The application's id. */
  account_id: string;
  message_id: string;
  /** Digits with the country code, no `+`. */
  phone: string;
  channel: "SMS";
  status: OtpStatus;
  create_date: string;
  expire_date: string;
}

/** The `data` of `POST /v1/verifications`. */
export interface DexatelVerificationInput {
  /** A sender's name or code (or the application's originator). */
  sender: string;
  /** Digits with the country code, no `+`. */
  phone: string;
  /** A template id of the application (its text contains `{code}`). */
  template?: string;
  /** Length of a generated code, 4-8. */
  code_length?: number | string;
  /** Your own numeric code, 4-8 digits (instead of `code_length`). */
  code?: string;
  channel?: "SMS";
}

/** A Dexatel template. */
export interface DexatelTemplate {
  id: string;
  account_id: string;
  name: string | null;
  text: string;
  channel: DexatelChannel;
  status: string;
  create_date: string;
  update_date: string;
}

/** The `data` of `POST /v1/templates`. */
export interface DexatelTemplateInput {
  /** Unique in the application, at most 45 characters. */
  name?: string;
  /** Must contain `{code}`. */
  text: string;
  channel: DexatelChannel;
}

/** The kinds of Dexatel sender. */
export type DexatelSenderType = "alphanumeric" | "long_code" | "short_code";

/** A Dexatel sender. */
export interface DexatelSender {
  id: string;
  account_id: string;
  name: string;
  /** The sender id put on SMS. */
  code: string;
  channel: DexatelChannel;
  type: DexatelSenderType;
  status: string;
  create_date: string;
}

/** The `data` of `POST /v1/senders`. */
export interface DexatelSenderInput {
  name: string;
  /** The sender id (default: `name`). */
  code?: string;
  channel?: DexatelChannel;
  /** Guessed from `code` when absent; `"did"` is an alias of `"long_code"`. */
  type?: DexatelSenderType | "did";
}

/** Paging of Dexatel lists. */
export interface DexatelPageOptions {
  /** 1-100 (default 20). */
  pageSize?: number;
  /** `nextPageToken` of the previous page. */
  pageToken?: string;
}

/** Dexatel's `pagination` object. */
export interface DexatelPagination {
  number: number;
  size: number;
  total: number;
  links: { first?: string; current?: string; previous?: string | null; next?: string | null };
}

/** One page of a Dexatel list. */
export interface DexatelPage<T> {
  data: T[];
  pagination: DexatelPagination;
  /** The `page_token` of the next page (from `pagination.links.next`), or `null` on the last. */
  nextPageToken: string | null;
}

// --- Errors -----------------------------------------------------------------------

/** What an `OtpApiError` carries. */
export interface OtpApiErrorInfo {
  /** HTTP status of the reply. */
  httpStatus: number;
  /**
   * The API's stable numeric code (e.g. 2029 wrong PIN, 1603 token expired, 1007 rate
   * limited, Dexatel's 1530 blocked); the HTTP status when the reply had no error body.
   */
  code: number;
  /** SMS.CX's error `type` (e.g. `"invalid_param"`); `null` in Dexatel's shape. */
  type: string | null;
  message: string;
  /** The request path the API reports (SMS.CX `uri`, Dexatel `path`). */
  uri: string | null;
  /** Seconds to wait from the `Retry-After` header (429), else `null`. */
  retryAfter: number | null;
  /** The reply's `X-Request-Id`, for support. */
  requestId: string | null;
}

/**
 * An error reply of the API, from either shape: SMS.CX's
 * `{"error":{"type","message","uri","code"}}` or Dexatel's `{"errors":[{…,"code"}]}`.
 */
export class OtpApiError extends Error implements OtpApiErrorInfo {
  override readonly name = "OtpApiError";
  readonly httpStatus: number;
  readonly code: number;
  readonly type: string | null;
  readonly uri: string | null;
  readonly retryAfter: number | null;
  readonly requestId: string | null;

  constructor(info: OtpApiErrorInfo) {
    super(info.message);
    this.httpStatus = info.httpStatus;
    this.code = info.code;
    this.type = info.type;
    this.uri = info.uri;
    this.retryAfter = info.retryAfter;
    this.requestId = info.requestId;
  }

  toJSON(): OtpApiErrorInfo {
    const { httpStatus, code, type, message, uri, retryAfter, requestId } = this;
    return { httpStatus, code, type, message, uri, retryAfter, requestId };
  }
}

type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date. */
function retryAfterSeconds(header: string | null): number | null {
  if (header === null || header.trim() === "") return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function apiError(res: ClientResponseLike, text: string, path: string): OtpApiError {
  const common = {
    httpStatus: res.status,
    retryAfter: retryAfterSeconds(res.headers.get("retry-after")),
    requestId: res.headers.get("x-request-id"),
  };
  const body = parseJson(text);
  if (isObject(body) && isObject(body["error"]) && typeof body["error"]["code"] === "number") {
    const e = body["error"];
    return new OtpApiError({
      ...common,
      code: e["code"] as number,
      type: str(e["type"]),
      message: str(e["message"]) ?? `HTTP ${res.status}`,
      uri: str(e["uri"]),
    });
  }
  if (isObject(body) && Array.isArray(body["errors"])) {
    const first: unknown = body["errors"][0];
    if (isObject(first) && typeof first["code"] === "number") {
      return new OtpApiError({
        ...common,
        code: first["code"],
        type: null,
        message: str(first["message"]) ?? `HTTP ${res.status}`,
        uri: str(first["path"]),
      });
    }
  }
  return new OtpApiError({
    ...common,
    code: res.status,
    type: null,
    message: `HTTP ${res.status} without an API error body`,
    uri: path,
  });
}

function invalidReply(res: ClientResponseLike, path: string, what: string): OtpApiError {
  return new OtpApiError({
    httpStatus: res.status,
    code: res.status,
    type: "invalid_response",
    message: `unexpected reply to ${path}: ${what}`,
    uri: path,
    retryAfter: null,
    requestId: res.headers.get("x-request-id"),
  });
}

// --- The client -------------------------------------------------------------------

type Dialect = "smscx" | "dexatel";

interface Sent {
  res: ClientResponseLike;
  text: string;
}

/** Base64 of a string's UTF-8 bytes (HTTP Basic). */
function base64Utf8(value: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function pageQuery(page: DexatelPageOptions | undefined): Record<string, string | number | undefined> {
  return { page_size: page?.pageSize, page_token: page?.pageToken };
}

function segment(id: string, what: string): string {
  if (typeof id !== "string" || id === "") throw new TypeError(`otp-sms-verify: ${what} must be a non-empty string`);
  return encodeURIComponent(id);
}

/** Dexatel's methods; authenticated by the client's API key (`X-Dexatel-Key`). */
export interface DexatelApi {
  /** `POST /v1/verifications`: sends a code; a new request while one is pending may resend it (same id). */
  createVerification(data: DexatelVerificationInput): Promise<DexatelVerification>;
  /**
   * `GET /v1/verifications?phone&code`: the verification the code matched (now
   * VERIFIED, the code used up), or `null` for a wrong code or nothing pending. A
   * number blocked after failed checks rejects with 429 (code 1530, `retryAfter`).
   */
  checkCode(phone: string, code: string): Promise<DexatelVerification | null>;
  /** `GET /v1/verifications?phone`: the number's verifications, newest first. */
  listVerifications(phone: string, page?: DexatelPageOptions): Promise<DexatelPage<DexatelVerification>>;
  createTemplate(data: DexatelTemplateInput): Promise<DexatelTemplate>;
  getTemplate(id: string): Promise<DexatelTemplate>;
  listTemplates(page?: DexatelPageOptions): Promise<DexatelPage<DexatelTemplate>>;
  /** `PUT /v1/templates/{id}`: the fields given change. */
  updateTemplate(id: string, data: Partial<DexatelTemplateInput>): Promise<DexatelTemplate>;
  deleteTemplate(id: string): Promise<void>;
  createSender(data: DexatelSenderInput): Promise<DexatelSender>;
  getSender(id: string): Promise<DexatelSender>;
  listSenders(page?: DexatelPageOptions): Promise<DexatelPage<DexatelSender>>;
}

/**
 * A typed client of the otp-sms-verify worker's HTTP API. Errors of the API reject
 * with `OtpApiError` (its `code` is the API's); network failures and timeouts reject
 * with what `fetch` throws (e.g. a `TimeoutError` `DOMException`).
 *
 * ```js
 * const client = new OtpClient({ baseUrl: "https://otp.example.com", apiKey });
 * const { otpId } = await client.send({ phoneNumber: "+33612424111" });
 * await client.verify(otpId, pin); // { status: "VERIFIED" }, or OtpApiError 2029 …
 * ```
 */
export class OtpClient {
  readonly #base: string;
  readonly #apiKey: string | undefined;
  readonly #basic: string | undefined;
  readonly #scope: string | undefined;
  readonly #fetch: ClientFetch;
  readonly #timeoutMs: number;
  /** Milliseconds. */
  readonly #now: () => number;
  #token: { value: string; refreshAt: number } | undefined;
  #pendingToken: Promise<string> | undefined;

  /** Dexatel's Verify API (needs an `apiKey` client). */
  readonly dexatel: DexatelApi;

  /** Throws `TypeError` for a missing base URL or credentials. */
  constructor(options: OtpClientOptions) {
    const base = options.baseUrl instanceof URL ? options.baseUrl.href : options.baseUrl;
    if (typeof base !== "string" || !/^https?:\/\//i.test(base)) {
      throw new TypeError("otp-sms-verify: baseUrl must be an http(s) URL");
    }
    this.#base = base.replace(/\/+$/, "");
    if (typeof options.apiKey === "string" && options.apiKey !== "") {
      this.#apiKey = options.apiKey;
    } else if (
      typeof options.appId === "string" && options.appId !== "" &&
      typeof options.appSecret === "string" && options.appSecret !== ""
    ) {
      this.#basic = `Basic ${base64Utf8(`${options.appId}:${options.appSecret}`)}`;
      const scope = options.scope;
      this.#scope = scope === undefined ? undefined : typeof scope === "string" ? scope : scope.join(" ");
    } else {
      throw new TypeError("otp-sms-verify: OtpClient needs apiKey, or appId and appSecret");
    }
    this.#fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    this.#timeoutMs = Math.max(1, options.timeoutMs ?? 30_000);
    const now = options.now;
    this.#now = now ? () => now() * 1000 : Date.now;
    this.dexatel = this.#dexatelApi();
  }

  // --- SMS.CX dialect -------------------------------------------------------------

  /** `POST /otp`: sends a PIN; resolves with the new OTP (PENDING, full phone number). */
  async send(request: OtpRequest): Promise<OtpView> {
    return this.#json<OtpView>("smscx", "POST", "/otp", request);
  }

  /** `GET /otp/{otpId}`: the OTP now (phone masked; EXPIRED derived from the clock). */
  async status(otpId: string): Promise<OtpView> {
    return this.#json<OtpView>("smscx", "GET", `/otp/${segment(otpId, "otpId")}`);
  }

  /**
   * `POST /otp/{otpId}`: checks a PIN. Rejects with `OtpApiError` 2029 (wrong PIN),
   * 2027 (wrong, and that was the last attempt), 2026 (failed earlier), 2025 expired,
   * 2024 cancelled, 2023 already verified, 2022 no PIN, 2021 not found.
   */
  async verify(otpId: string, pin: string): Promise<OtpVerified> {
    return this.#json<OtpVerified>("smscx", "POST", `/otp/${segment(otpId, "otpId")}`, { pin });
  }

  /** `DELETE /otp/{otpId}`: cancels a PENDING OTP (2030 already cancelled, 2031 not pending). */
  async cancel(otpId: string): Promise<OtpCancelled> {
    return this.#json<OtpCancelled>("smscx", "DELETE", `/otp/${segment(otpId, "otpId")}`);
  }

  /**
   * The bearer token this client uses (app credentials only): the cached one, or a new
   * one from `POST /oauth/token` when none is cached or it expires within a minute
   * (a tenth of its life for short tokens).
   */
  async token(): Promise<string> {
    if (this.#basic === undefined) {
      throw new TypeError("otp-sms-verify: token() needs a client made with appId and appSecret");
    }
    return this.#accessToken();
  }

  // --- Internals ------------------------------------------------------------------

  #dexatelApi(): DexatelApi {
    const call = <T>(method: string, path: string, body?: unknown): Promise<T> =>
      this.#json<T>("dexatel", method, path, body);
    const one = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const reply = await call<{ data: T }>(method, path, body);
      return reply.data;
    };
    const page = async <T>(path: string): Promise<DexatelPage<T>> => {
      const reply = await call<{ data: T[]; pagination: DexatelPagination }>("GET", path);
      const next = reply.pagination?.links?.next;
      const nextPageToken = next ? new URL(next, "http://x.invalid").searchParams.get("page_token") : null;
      return { data: reply.data, pagination: reply.pagination, nextPageToken };
    };
    return {
      createVerification: async (data) => one("POST", "/v1/verifications", { data }),
      checkCode: async (phone, code) => {
        const matched = await call<{ data: DexatelVerification[] }>("GET", `/v1/verifications${query({ phone, code })}`);
        return matched.data[0] ?? null;
      },
      listVerifications: async (phone, p) => page(`/v1/verifications${query({ phone, ...pageQuery(p) })}`),
      createTemplate: async (data) => one("POST", "/v1/templates", { data }),
      getTemplate: async (id) => one("GET", `/v1/templates/${segment(id, "id")}`),
      listTemplates: async (p) => page(`/v1/templates${query(pageQuery(p))}`),
      updateTemplate: async (id, data) => one("PUT", `/v1/templates/${segment(id, "id")}`, { data }),
      deleteTemplate: async (id) => {
        await call<unknown>("DELETE", `/v1/templates/${segment(id, "id")}`);
      },
      createSender: async (data) => one("POST", "/v1/senders", { data }),
      getSender: async (id) => one("GET", `/v1/senders/${segment(id, "id")}`),
      listSenders: async (p) => page(`/v1/senders${query(pageQuery(p))}`),
    };
  }

  async #send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Sent> {
    const init: Parameters<ClientFetch>[1] = {
      method,
      headers: { accept: "application/json", ...headers },
      signal: AbortSignal.timeout(this.#timeoutMs),
    };
    if (body !== undefined) init.body = body;
    const res = await this.#fetch(`${this.#base}${path}`, init);
    return { res, text: await res.text() };
  }

  /** One authenticated JSON call; a 401 on a bearer token refreshes it and retries once. */
  async #json<T>(dialect: Dialect, method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers["content-type"] = "application/json";
    let sent: Sent;
    if (this.#apiKey !== undefined) {
      headers[dialect === "dexatel" ? "x-dexatel-key" : "x-api-key"] = this.#apiKey;
      sent = await this.#send(method, path, headers, payload);
    } else if (dialect === "dexatel") {
      throw new TypeError("otp-sms-verify: the Dexatel dialect authenticates with an API key; create the OtpClient with apiKey");
    } else {
      const token = await this.#accessToken();
      sent = await this.#send(method, path, { ...headers, authorization: `Bearer ${token}` }, payload);
      if (sent.res.status === 401) {
        // Expired, or revoked by a secret rotation: once more with a fresh token.
        if (this.#token?.value === token) this.#token = undefined;
        const fresh = await this.#accessToken();
        sent = await this.#send(method, path, { ...headers, authorization: `Bearer ${fresh}` }, payload);
      }
    }
    const { res, text } = sent;
    if (res.status < 200 || res.status > 299) throw apiError(res, text, path);
    if (text === "") return undefined as T; // 204 (a deleted template): the caller expects nothing
    const parsed = parseJson(text);
    if (parsed === undefined) throw invalidReply(res, path, "not JSON");
    return parsed as T;
  }

  #accessToken(): Promise<string> {
    if (this.#token && this.#now() < this.#token.refreshAt) return Promise.resolve(this.#token.value);
    this.#pendingToken ??= this.#fetchToken().finally(() => {
      this.#pendingToken = undefined;
    });
    return this.#pendingToken;
  }

  async #fetchToken(): Promise<string> {
    const form: Record<string, string> = { grant_type: "client_credentials" };
    if (this.#scope !== undefined) form["scope"] = this.#scope;
    const path = "/oauth/token";
    const { res, text } = await this.#send(
      "POST",
      path,
      { authorization: this.#basic ?? "", "content-type": "application/x-www-form-urlencoded" },
      new URLSearchParams(form).toString(),
    );
    if (res.status !== 200) throw apiError(res, text, path);
    const reply = parseJson(text);
    if (!isObject(reply) || typeof reply["access_token"] !== "string" || typeof reply["expires_in"] !== "number") {
      throw invalidReply(res, path, "no access_token and expires_in");
    }
    const lifetime = Math.max(0, reply["expires_in"]);
    const margin = Math.min(60, lifetime / 10);
    this.#token = { value: reply["access_token"], refreshAt: this.#now() + (lifetime - margin) * 1000 };
    return this.#token.value;
  }
}
