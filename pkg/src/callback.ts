// Status callbacks, signed as Standard Webhooks (https://www.standardwebhooks.com):
// headers webhook-id, webhook-timestamp and webhook-signature = "v1,<base64 HMAC-SHA256
// of `${id}.${timestamp}.${body}`>". WebCrypto only, so it runs in Node, browsers and workerd.

import type { OtpView } from "../wasm/otp_core.cjs";

/** The `fetch` that `CallbackSender` needs (the global one by default). */
export type FetchLike = (
  url: string,
  init: { method: "POST"; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number; body?: { cancel(): Promise<void> } | null }>;

/** Options of `CallbackSender`. */
export interface CallbackSenderOptions {
  /** Signing secret: `whsec_` followed by base64 of 24-64 random bytes. */
  secret: string;
  /** Where to POST; default: each OTP's own `otpCallbackUrl` (skipped when it has none). */
  url?: string;
  /** Attempts per callback, the first included (default 4). */
  maxAttempts?: number;
  /** Wait before the first retry; doubles on each further retry (default 500 ms). */
  retryDelayMs?: number;
  /** Time limit of one attempt (default 10000 ms). */
  timeoutMs?: number;
  /** HTTP client (default `globalThis.fetch`). */
  fetch?: FetchLike;
}

/** A delivered callback. */
export interface CallbackDelivery {
  /** The `webhook-id`, the same on every attempt. */
  id: string;
  url: string;
  /** Attempts made, the successful one included. */
  attempts: number;
  /** HTTP status of the successful attempt (2xx). */
  status: number;
}

function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  const base64 = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  let raw: string;
  try {
    raw = atob(base64);
  } catch {
    raw = "";
  }
  if (raw.length < 16) {
    throw new TypeError("otp-sms-verify: secret must be whsec_<base64 of 16+ random bytes>");
  }
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function base64(bytes: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)));
}

/** Whether a failed attempt may succeed later: network errors, timeouts, 408, 429, 5xx. */
function retryable(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 429 || status >= 500;
}

/**
 * POSTs `{"event":"otp_update","data":[view]}` to a callback URL, signed with Standard
 * Webhooks headers, retrying with exponential backoff. Fits `OtpService`'s hook:
 * `onStatusChange: (view) => callbacks.send(view)`.
 */
export class CallbackSender {
  readonly #secret: Uint8Array<ArrayBuffer>;
  #key: Promise<CryptoKey> | undefined;
  readonly #url: string | undefined;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #timeoutMs: number;
  readonly #fetch: FetchLike;

  /** Throws `TypeError` for a malformed secret. */
  constructor(options: CallbackSenderOptions) {
    this.#secret = secretBytes(options.secret);
    this.#url = options.url;
    this.#maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 4));
    this.#retryDelayMs = Math.max(0, options.retryDelayMs ?? 500);
    this.#timeoutMs = Math.max(1, options.timeoutMs ?? 10_000);
    this.#fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  }

  /** The `webhook-signature` header value of one message. */
  async sign(id: string, timestamp: number, body: string): Promise<string> {
    const data = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
    this.#key ??= globalThis.crypto.subtle.importKey("raw", this.#secret, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    return `v1,${base64(await globalThis.crypto.subtle.sign("HMAC", await this.#key, data))}`;
  }

  /**
   * Delivers one status change. Resolves with the delivery, or `null` when there is no
   * URL to call; rejects once every attempt failed (or one got a final 4xx).
   */
  async send(view: OtpView): Promise<CallbackDelivery | null> {
    const url = this.#url ?? view.otpCallbackUrl;
    if (!url) return null;
    const id = `msg_${globalThis.crypto.randomUUID()}`;
    const body = JSON.stringify({ event: "otp_update", data: [view] });
    let last = "";
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1) await sleep(this.#retryDelayMs * 2 ** (attempt - 2));
      const timestamp = Math.floor(Date.now() / 1000);
      let status: number | undefined;
      try {
        const response = await this.#fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "webhook-id": id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": await this.sign(id, timestamp, body),
          },
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        status = response.status;
        last = `HTTP ${status}`;
        await response.body?.cancel().catch(() => {}); // the reply's body is not needed
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (status !== undefined && status >= 200 && status < 300) return { id, url, attempts: attempt, status };
      if (!retryable(status)) {
        throw new Error(`otp-sms-verify: callback to ${url} refused: ${last}`);
      }
    }
    throw new Error(`otp-sms-verify: callback to ${url} failed after ${this.#maxAttempts} attempts: ${last}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
