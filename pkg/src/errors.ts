import type { CoreError } from "../wasm/otp_core.cjs";

/** One error of the core's catalogue (see `errorCatalog()`). */
export interface OtpErrorInfo {
  /**
   * Numeric code: SMS.CX's 2001-2031 wherever SMS.CX documents the violation (every
   * unusable number is 2020), our own from 2101 otherwise. Several reasons can share a code.
   */
  code: number;
  /** Stable machine name of the precise cause, e.g. `"phone_number_too_short"`. */
  reason: string;
  /** SMS.CX error `type`, e.g. `"invalid_param"` (several codes share one). */
  type: string;
  /** The HTTP status an API answers with. */
  httpStatus: number;
  /** Short human-readable message. */
  message: string;
}

/** Every rule the core enforces fails with an `OtpError` carrying the rule's stable code. */
export class OtpError extends Error implements OtpErrorInfo {
  override readonly name = "OtpError";
  readonly code: number;
  readonly reason: string;
  readonly type: string;
  readonly httpStatus: number;

  constructor(info: OtpErrorInfo, options?: { cause?: unknown }) {
    super(info.message, options);
    this.code = info.code;
    this.reason = info.reason;
    this.type = info.type;
    this.httpStatus = info.httpStatus;
  }

  /** The plain catalogue entry, e.g. for an API error body. */
  toJSON(): OtpErrorInfo {
    const { code, reason, type, httpStatus, message } = this;
    return { code, reason, type, httpStatus, message };
  }
}

/** The catalogue entry of a core error object (`name` becomes `reason`). */
export function errorInfo(e: CoreError): OtpErrorInfo {
  return { code: e.code, reason: e.name, type: e.type, httpStatus: e.httpStatus, message: e.message };
}

/**
 * Converts what the wasm throws: the reason of a core error (a string) becomes
 * `OtpError`, with its entry from `lookup`; misuse of the bindings (plain `Error`s
 * such as short keys or a non-finite `now`) becomes `TypeError`; anything else passes
 * unchanged.
 */
export function fromThrown(thrown: unknown, lookup: (reason: string) => OtpErrorInfo | undefined): unknown {
  if (typeof thrown === "string") {
    const info = lookup(thrown);
    if (info) return new OtpError(info);
  }
  if (thrown instanceof Error && thrown.constructor === Error) return new TypeError(`otp-sms-verify: ${thrown.message}`);
  if (typeof thrown === "string") return new TypeError(`otp-sms-verify: ${thrown}`);
  return thrown;
}
