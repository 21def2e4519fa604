// Status callbacks, signed as Standard Webhooks (https://www.standardwebhooks.com):
// headers webhook-id, webhook-timestamp and webhook-signature = "v1,<base64 HMAC-SHA256
// of `${id}.${timestamp}.${body}`>". Every rule comes from the core, the same the worker
// follows (src/webhook.rs, and the callback URL check in src/settings.rs): the secret's
// form, the signature, where a callback may go, which statuses are retried, the pauses
// and the time limit. This file only does the I/O.

import { core } from "#wasm";
import type { CallbackOutcome, CallbackPolicy, OtpView } from "../wasm/otp_core.cjs";
import { errorCatalog } from "./core.js";
import { fromThrown } from "./errors.js";
import type { RawCore } from "./raw.js";

/** The `fetch` that `CallbackSender` needs (the global one by default). It must honour `redirect: "manual"`. */
export type FetchLike = (
  url: string,
  init: {
    method: "POST";
    headers: Record<string, string>;
    body: string;
    redirect: "manual";
    signal: AbortSignal;
  },
) => Promise<{ status: number; body?: { cancel(): Promise<void> } | null }>;

/** Options of `CallbackSender`. */
export interface CallbackSenderOptions {
  /**
   * Signing secret: `whsec_` followed by standard, padded base64 of 24-64 random bytes
   * (the form of the worker's `webhookSecret`). Anything else throws a `TypeError`.
   */
  secret: string;
  /** Where to POST; default: each OTP's own `otpCallbackUrl` (skipped when it has none). Checked at once. */
  url?: string;
  /** Attempts per callback, the first included (default and most 4). */
  maxAttempts?: number;
  /** Pause before the first retry; doubles before each further one (default and most 1000 ms). */
  retryDelayMs?: number;
  /** Time limit of one attempt, up to the reply's status (default and most 5000 ms). */
  timeoutMs?: number;
  /**
   * Allow callbacks to private hosts: loopback (`localhost`, 127.0.0.0/8, `::1`, over
   * plain http too), private networks, link-local, … For tests and local development
   * only (default false).
   */
  allowPrivateHosts?: boolean;
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

/** Calls into the wasm, turning a refused URL into `OtpError` and a bad secret into `TypeError`. */
function wasm<T>(f: (raw: RawCore) => T): T {
  const raw = core();
  try {
    return f(raw);
  } catch (thrown) {
    throw fromThrown(thrown, (reason) => errorCatalog().find((e) => e.reason === reason));
  }
}

function optionalNumber(value: unknown, name: string): number | undefined {
  if (value === undefined || (typeof value === "number" && Number.isFinite(value))) return value;
  throw new TypeError(`otp-sms-verify: ${name} must be a finite number`);
}

/**
 * POSTs `{"event":"otp_update","data":[view]}` to a callback URL, signed with Standard
 * Webhooks headers. Up to 4 attempts, 5 s each, with pauses of 1, 2 and 4 s; network
 * errors, timeouts, 408, 429 and 5xx are retried, anything else but a 2xx ends it.
 * Redirects are never followed and reply bodies never read. Private hosts are refused
 * unless `allowPrivateHosts` is set. Fits `OtpService`'s hook:
 * `onStatusChange: (view) => callbacks.send(view)`.
 */
export class CallbackSender {
  readonly #secret: string;
  readonly #url: string | undefined;
  readonly #allowPrivateHosts: boolean;
  readonly #policy: CallbackPolicy;
  readonly #fetch: FetchLike;

  /**
   * Throws `TypeError` for a secret that breaks the rule (the message says which part)
   * and `OtpError` (code 2019, with its `reason`) for an unusable `url`.
   */
  constructor(options: CallbackSenderOptions) {
    const { secret, url, maxAttempts, retryDelayMs, timeoutMs, allowPrivateHosts = false } = options;
    if (typeof secret !== "string") throw new TypeError("otp-sms-verify: secret must be a string");
    this.#allowPrivateHosts = allowPrivateHosts === true;
    this.#policy = wasm((raw) => {
      raw.checkWebhookSecret(secret);
      if (url !== undefined) raw.checkCallbackUrl(String(url), this.#allowPrivateHosts);
      const [attempts = 0, timeout = 0, retryDelay = 0, ...delaysMs] = raw.callbackPolicy(
        optionalNumber(maxAttempts, "maxAttempts"),
        optionalNumber(timeoutMs, "timeoutMs"),
        optionalNumber(retryDelayMs, "retryDelayMs"),
      );
      return { maxAttempts: attempts, timeoutMs: timeout, retryDelayMs: retryDelay, delaysMs };
    });
    this.#secret = secret;
    this.#url = url === undefined ? undefined : String(url);
    this.#fetch = options.fetch ?? ((target, init) => globalThis.fetch(target, init));
  }

  /** The delivery policy in force: attempts, time limit, and the pause before each attempt. */
  get policy(): CallbackPolicy {
    return { ...this.#policy, delaysMs: [...this.#policy.delaysMs] };
  }

  /** The `webhook-signature` header value of one message. */
  async sign(id: string, timestamp: number, body: string): Promise<string> {
    return wasm((raw) => raw.webhookSignature(this.#secret, id, timestamp, body));
  }

  /**
   * Delivers one status change. Resolves with the delivery, or `null` when there is no
   * URL to call; rejects with `OtpError` 2019 (nothing sent) when the URL is refused,
   * and with an `Error` once every attempt failed (or one got a final status).
   */
  async send(view: OtpView): Promise<CallbackDelivery | null> {
    const url = this.#url ?? view.otpCallbackUrl;
    if (!url) return null;
    wasm((raw) => raw.checkCallbackUrl(url, this.#allowPrivateHosts));
    const id = `msg_${globalThis.crypto.randomUUID()}`;
    const body = JSON.stringify({ event: "otp_update", data: [view] });
    let last = "";
    let attempt = 0;
    for (const pause of this.#policy.delaysMs) {
      attempt++;
      if (pause > 0) await sleep(pause);
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
          redirect: "manual",
          signal: AbortSignal.timeout(this.#policy.timeoutMs),
        });
        status = response.status;
        // A browser reports a redirect it did not follow as status 0.
        last = status === 0 ? "a redirect, not followed" : `HTTP ${status}`;
        // The status is the whole answer: the body is dropped unread, however long.
        await response.body?.cancel().catch(() => {});
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      const outcome: CallbackOutcome = wasm((raw) => raw.callbackOutcome(status));
      if (outcome === "delivered") return { id, url, attempts: attempt, status: status as number };
      if (outcome === "final") throw new Error(`otp-sms-verify: callback to ${url} refused: ${last}`);
    }
    throw new Error(`otp-sms-verify: callback to ${url} failed after ${attempt} attempts: ${last}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
