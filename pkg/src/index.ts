/**
 * otp-sms-verify: OTP SMS verification as WebAssembly for Node, browsers and
 * Cloudflare Workers. The core (Rust, compiled to wasm) decides every rule: PINs,
 * templates, phone numbers, SMS parts, settings and the PENDING → VERIFIED / FAILED /
 * EXPIRED / CANCELLED state machine. `OtpService` runs whole verifications over a
 * store and an SMS sender of your choice; `OtpClient` calls a deployed worker's API.
 *
 * In browsers call `await init()` once first; Node and Workers need no init.
 * @module
 */

export {
  init,
  generatePin,
  renderTemplate,
  validateTemplate,
  countSmsParts,
  parsePhone,
  validateSettings,
  errorCatalog,
  planOtp,
  verifyOtp,
  cancelOtp,
  viewOtp,
  storageTtl,
  newOtpId,
  formatUtc,
  OtpEngine,
  type PinOptions,
  type PlanOptions,
  type EngineOptions,
  type Verification,
} from "./core.js";
export { OtpError, type OtpErrorInfo } from "./errors.js";
export {
  OtpService,
  type OtpServiceOptions,
  type OtpStore,
  type AtomicOtpStore,
  type SmsSender,
} from "./service.js";
export { MemoryStore, KvStore, type KvNamespaceLike } from "./stores.js";
export { RedisStore, type RedisClientLike, type RedisStoreOptions } from "./redis-store.js";
export {
  DurableObjectStore,
  type DurableObjectNamespaceLike,
  type DurableObjectStorageLike,
  type OtpStoreObjectApi,
} from "./durable-object.js";
export {
  CallbackSender,
  type CallbackSenderOptions,
  type CallbackDelivery,
  type FetchLike,
} from "./callback.js";
export {
  OtpClient,
  OtpApiError,
  type OtpApiErrorInfo,
  type OtpClientOptions,
  type OtpClientApiKeyOptions,
  type OtpClientAppOptions,
  type OtpScope,
  type ClientFetch,
  type ClientResponseLike,
  type OtpVerified,
  type OtpCancelled,
  type DexatelApi,
  type DexatelChannel,
  type DexatelVerification,
  type DexatelVerificationInput,
  type DexatelTemplate,
  type DexatelTemplateInput,
  type DexatelSender,
  type DexatelSenderInput,
  type DexatelSenderType,
  type DexatelPageOptions,
  type DexatelPagination,
  type DexatelPage,
} from "./client.js";
export type { WasmSource } from "./raw.js";
export type {
  PinType,
  OtpStatus,
  SmsEncoding,
  TemplateSource,
  CoreError,
  SmsParts,
  ParsedPhone,
  PhoneNumberType,
  CallbackPolicy,
  TemplateVars,
  LanguageTemplate,
  PriceTable,
  OtpSettings,
  OtpRequest,
  OtpRecord,
  OtpView,
  SmsMessage,
  PlannedOtp,
} from "../wasm/otp_core.cjs";
