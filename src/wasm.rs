//! wasm-bindgen exports of the core for the npm package. Objects cross the boundary
//! as JSON text: the package's TypeScript layer `JSON.stringify`s what it passes in
//! and `JSON.parse`s what comes back, and this module reads and writes it through the
//! core's serde types (with the crate's own small JSON reader), so the Rust types
//! decide what is accepted: unknown settings keys are refused, as everywhere else.
//! Exact TypeScript types for those JSON shapes come from the custom section below.
//!
//! A rule of OTP verification that fails throws the error's numeric code (a JS
//! number), which the TypeScript layer turns into its `OtpError` with the catalogue
//! entry of that code. A misuse of the bindings themselves (short keys, a `now` that
//! is not a finite number) throws a JS `Error`.
//!
//! [`OtpEngine`] is the prepared object for the hot path: it checks the settings and
//! prepares the PIN keys once, and reads the platform CSPRNG in blocks.

use crate::error::Error;
use crate::otp::{self, OtpRecord, OtpStatus};
use crate::rng::{BufferedRandom, OsRandom, SeededRandom};
use crate::secret::SecretKeys;
use crate::settings::{OtpRequest, OtpSettings, PrivateHosts};
use crate::{json, packed, phone, pin, sms, template, time};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
export type PinType = "numbers" | "letters" | "alphanumeric";
export type OtpStatus = "PENDING" | "VERIFIED" | "FAILED" | "EXPIRED" | "CANCELLED";
export type SmsEncoding = "GSM-7" | "UCS-2";
export type TemplateSource = "request" | "requestLanguage" | "phonePrefix" | "appDefault" | "builtIn";
export interface CoreError { code: number; name: string; type: string; httpStatus: number; message: string }
export interface SmsParts { encoding: SmsEncoding; units: number; parts: number }
/** What a number is by its country's numbering plan (libphonenumber's types); "unknown": not valid. */
export type PhoneNumberType =
  | "mobile" | "fixedLine" | "fixedLineOrMobile" | "tollFree" | "premiumRate" | "sharedCost" | "voip"
  | "personalNumber" | "pager" | "uan" | "voicemail" | "unknown";
/** `countryIso` is the country the digits determine ("001": an international network, +800, +881, …). */
export interface ParsedPhone {
  e164: string; digits: string; callingCode: number; countryIso: string; masked: string; type: PhoneNumberType;
  valid: boolean;
}
export interface TemplateVars { pin: string; ttlSeconds: number; brand: string; webotpDomain?: string | null }
export interface LanguageTemplate { language: string; prefixes?: string[]; template: string }
export interface PriceTable { default?: number; countries?: Record<string, number> }
export interface OtpSettings {
  template?: string | null; languageTemplates?: LanguageTemplate[]; originator?: string; pinType?: PinType;
  pinLength?: number; ttl?: number; maxAttempts?: number; callbackUrl?: string | null; prices?: PriceTable;
  brand?: string; webotpDomain?: string | null; allowedNumberTypes?: Exclude<PhoneNumberType, "unknown">[];
}
export interface OtpRequest {
  phoneNumber: string; countryIso?: string; from?: string; template?: string; trackId?: string;
  ttl?: number | string; maxAttempts?: number | string; pinType?: PinType; pinLength?: number | string;
  otpCallbackUrl?: string; language?: string;
}
export interface OtpRecord {
  otpId: string; trackId: string | null; phoneMasked: string; countryIso: string; status: Exclude<OtpStatus, "EXPIRED">;
  cost: number; parts: number; maxAttempts: number; attempts: number; ttl: number; otpCallbackUrl: string | null;
  createdAt: number; expiresAt: number; updatedAt: number; pinDigest: string;
}
export interface OtpView {
  otpId: string; trackId: string | null; phoneNumber: string; countryIso: string; status: OtpStatus; cost: number;
  parts: number; maxAttempts: number; attempts: number; ttl: number; otpCallbackUrl: string | null;
  dateCreated: string; dateExpires: string;
}
export interface SmsMessage { to: string; from: string; text: string; language: string; encoding: SmsEncoding; units: number; parts: number }
export interface PlannedOtp { record: OtpRecord; message: SmsMessage; phone: Omit<ParsedPhone, "type" | "valid"> }
/** What `verifyOtp` returns as JSON: `error` is the catalogue code of the failure. */
export interface VerifyResult { verified: boolean; error: number | null; record: OtpRecord; recordChanged: boolean; statusChanged: boolean }
"#;

/// A catalogue entry, as `errorCatalog` lists it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CoreError {
    code: u16,
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    http_status: u16,
    message: &'static str,
}

impl From<Error> for CoreError {
    fn from(e: Error) -> Self {
        CoreError {
            code: e.code(),
            name: e.name(),
            kind: e.error_type(),
            http_status: e.http_status(),
            message: e.message(),
        }
    }
}

/// What a failed rule throws: its machine name (its `reason`), a JS string. The
/// name, not the code, because several causes share one SMS.CX code.
fn throw(e: Error) -> JsValue {
    JsValue::from(e.name())
}

/// JSON text from JS. A bad shape (e.g. an object where a string belongs, an
/// unknown settings key) is a typed core error.
fn from_json<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, JsValue> {
    json::from_str(json).map_err(|_| throw(Error::FieldTypeInvalid))
}

/// JSON text for JS.
fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, JsValue> {
    json::to_string(value).ok_or_else(|| usage_error("a result could not be written as JSON"))
}

/// A misuse of the bindings themselves (not a rule of OTP verification): a real JS `Error`.
fn usage_error(message: &str) -> JsValue {
    JsError::new(message).into()
}

/// The server PIN keys from the JSON array of strings `keys`, newest first.
fn secret_keys(keys: &str) -> Result<SecretKeys, JsValue> {
    let usage =
        || usage_error("keys: give at least one server key of 16 bytes or more, newest first");
    let keys: Vec<String> = json::from_str(keys).map_err(|_| usage())?;
    SecretKeys::new(keys.into_iter().map(String::into_bytes).collect()).ok_or_else(usage)
}

/// Unix seconds from JS: finite, fractions dropped.
fn unix_seconds(now: f64) -> Result<i64, JsValue> {
    if now.is_finite() && now.abs() < 1e15 {
        Ok(now.trunc() as i64)
    } else {
        Err(usage_error("now must be a finite number of Unix seconds"))
    }
}

/// The package's `allowPrivateHosts` option: private callback hosts only when asked
/// for (tests with a local receiver).
fn private_hosts(allow: bool) -> PrivateHosts {
    if allow {
        PrivateHosts::Allow
    } else {
        PrivateHosts::Refuse
    }
}

/// Settings from JSON, checked.
fn settings_from_json(json: &str, private_hosts: PrivateHosts) -> Result<OtpSettings, JsValue> {
    let settings: OtpSettings = from_json(json)?;
    settings.validate_with(private_hosts).map_err(throw)?;
    Ok(settings)
}

/// Every error the core can throw: `{code, name, type, httpStatus, message}`.
#[wasm_bindgen(js_name = errorCatalog)]
pub fn error_catalog() -> Result<String, JsValue> {
    to_json(
        &Error::ALL
            .iter()
            .map(|&e| CoreError::from(e))
            .collect::<Vec<_>>(),
    )
}

/// A uniform random PIN. `seed` makes it repeatable (tests only; omit in production).
#[wasm_bindgen(js_name = generatePin)]
pub fn generate_pin(
    #[wasm_bindgen(unchecked_param_type = "PinType")] pin_type: &str,
    length: f64,
    seed: Option<u64>,
) -> Result<String, JsValue> {
    let pin_type = pin::PinType::parse(pin_type).map_err(throw)?;
    if !(length.is_finite() && length.fract() == 0.0) {
        return Err(throw(Error::PinLengthNotNumber));
    }
    let length = length.clamp(0.0, 255.0) as u8;
    let pin = match seed {
        Some(seed) => pin::generate_pin(&mut SeededRandom::new(seed), pin_type, length),
        // One crypto.getRandomValues call per batch of symbols: one for most PINs.
        None => pin::generate_pin(&mut OsRandom, pin_type, length),
    };
    pin.map_err(throw)
}

/// Renders a template's `{{pin}}`/`{code}`, `{{ttl}}` and `{{brand}}` placeholders
/// (the TypeScript layer checks the `TemplateVars` object and passes its fields).
#[wasm_bindgen(js_name = renderTemplate)]
pub fn render_template(
    template_text: &str,
    pin: &str,
    #[wasm_bindgen(js_name = ttlSeconds)] ttl_seconds: u32,
    brand: &str,
    #[wasm_bindgen(js_name = webotpDomain)] webotp_domain: Option<String>,
) -> String {
    template::render(
        template_text,
        &template::TemplateVars {
            pin,
            ttl_seconds,
            brand,
            webotp_domain: webotp_domain.as_deref(),
        },
    )
}

/// Throws when a template is empty, too long or has no PIN placeholder.
#[wasm_bindgen(js_name = validateTemplate)]
pub fn validate_template(template_text: &str) -> Result<(), JsValue> {
    template::validate_template(template_text).map_err(throw)
}

/// GSM-7 or UCS-2, units and parts of an SMS text, as the JSON of `SmsParts`.
#[wasm_bindgen(js_name = countSmsParts)]
pub fn count_sms_parts(text: &str) -> Result<String, JsValue> {
    to_json(&sms::count_parts(text))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParsedPhone<'a> {
    e164: &'a str,
    digits: &'a str,
    calling_code: u16,
    country_iso: &'a str,
    masked: String,
    #[serde(rename = "type")]
    number_type: &'static str,
    valid: bool,
}

impl<'a> From<&'a phone::PhoneNumber> for ParsedPhone<'a> {
    fn from(p: &'a phone::PhoneNumber) -> Self {
        ParsedPhone {
            e164: p.e164(),
            digits: p.digits(),
            calling_code: p.calling_code(),
            country_iso: p.country_iso(),
            masked: p.masked(),
            number_type: p.number_type().as_str(),
            valid: p.is_valid(),
        }
    }
}

/// Parses E.164 or a national number with its `countryIso`; the JSON of a `ParsedPhone`,
/// with the number's type and validity by its numbering plan (a number that is not
/// valid still parses).
#[wasm_bindgen(js_name = parsePhone)]
pub fn parse_phone(input: &str, country_iso: Option<String>) -> Result<String, JsValue> {
    let p = phone::parse_phone(input, country_iso.as_deref()).map_err(throw)?;
    to_json(&ParsedPhone::from(&p))
}

/// Fills in defaults and checks an application's OTP settings (JSON); returns them
/// whole, as JSON. A callback URL may name a private host only with `allowPrivateHosts`.
#[wasm_bindgen(js_name = validateSettings)]
pub fn validate_settings(
    settings: &str,
    #[wasm_bindgen(js_name = allowPrivateHosts)] allow_private_hosts: bool,
) -> Result<String, JsValue> {
    to_json(&settings_from_json(
        settings,
        private_hosts(allow_private_hosts),
    )?)
}

/// Verifies `pin` against a record (JSON) and writes a `VerifyResult` as JSON.
fn verify_json(
    record: &str,
    pin: Option<&str>,
    keys: &SecretKeys,
    now: f64,
) -> Result<String, JsValue> {
    let mut record: OtpRecord = from_json(record)?;
    let v = record.verify(pin, keys, unix_seconds(now)?);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out {
        verified: bool,
        error: Option<u16>,
        record: OtpRecord,
        record_changed: bool,
        status_changed: bool,
    }
    to_json(&Out {
        verified: v.result.is_ok(),
        error: v.result.err().map(Error::code),
        record,
        record_changed: v.record_changed,
        status_changed: v.status_changed,
    })
}

/// Cancels a pending record (JSON); returns the new record as JSON or throws 2030/2031.
#[wasm_bindgen(js_name = cancelOtp)]
pub fn cancel_otp(record: &str, now: f64) -> Result<String, JsValue> {
    let mut record: OtpRecord = from_json(record)?;
    record.cancel(unix_seconds(now)?).map_err(throw)?;
    to_json(&record)
}

/// The SMS.CX OTP object of a record (JSON) at `now` (EXPIRED derived from `now`),
/// as the JSON of an `OtpView`.
#[wasm_bindgen(js_name = viewOtp)]
pub fn view_otp(record: &str, now: f64, phone_number: Option<String>) -> Result<String, JsValue> {
    let record: OtpRecord = from_json(record)?;
    to_json(&record.view(unix_seconds(now)?, phone_number.as_deref()))
}

/// Seconds a store should keep a record (JSON): remaining life plus `retention`, at least 60.
#[wasm_bindgen(js_name = storageTtl)]
pub fn storage_ttl(record: &str, now: f64, retention: f64) -> Result<u32, JsValue> {
    let record: OtpRecord = from_json(record)?;
    if !(retention.is_finite() && (0.0..=f64::from(u32::MAX)).contains(&retention)) {
        return Err(usage_error(
            "retention must be a number of seconds from 0 to 2^32-1",
        ));
    }
    Ok(record.storage_ttl(unix_seconds(now)?, retention as u32))
}

/// A random UUID v4 from the platform CSPRNG.
#[wasm_bindgen(js_name = newOtpId)]
pub fn new_otp_id() -> String {
    crate::id::new_uuid_v4(&mut OsRandom)
}

/// Unix seconds as UTC `YYYY-MM-DD HH:MM:SS`.
#[wasm_bindgen(js_name = formatUtc)]
pub fn format_utc(t: f64) -> Result<String, JsValue> {
    Ok(time::format_utc(unix_seconds(t)?))
}

/// Bytes an [`OtpEngine`] reads from `crypto.getRandomValues` at a time: about forty
/// OTPs (16 bytes of id and a PIN each) per call, which costs 2-4 µs in Node.
const ENGINE_RANDOM_BLOCK: usize = 1024;

/// Settings checked once, PIN keys prepared once (their HMAC key blocks hashed), and
/// a CSPRNG buffer, for planning and verifying many OTPs of one application. The
/// buffer belongs to this object: its bytes are wiped as they are handed out and
/// when the object is freed (`free()`, or wasm-bindgen's `FinalizationRegistry`).
///
/// Its hot path passes less than JSON, which the TypeScript layer unpacks into the
/// same objects: [`OtpEngine::plan_packed`] (a planned OTP as one string) and
/// [`OtpEngine::verify_fields`] (a verification from the few fields it reads).
/// JSON's cost in JS (`JSON.parse` of a planned OTP alone takes longer than the
/// core's whole work for it) is what they avoid; `verify` (JSON) serves the records
/// the fast path does not take.
#[wasm_bindgen]
#[derive(Debug)]
pub struct OtpEngine {
    settings: OtpSettings,
    /// Whether callback URLs (settings and requests) may name private hosts.
    private_hosts: PrivateHosts,
    keys: SecretKeys,
    rng: BufferedRandom<OsRandom, ENGINE_RANDOM_BLOCK>,
}

/// Statuses by their index in [`OtpEngine::verify_fields`] (the TypeScript layer
/// keeps the same list).
const STATUSES: [OtpStatus; 5] = [
    OtpStatus::Pending,
    OtpStatus::Verified,
    OtpStatus::Failed,
    OtpStatus::Expired,
    OtpStatus::Cancelled,
];

#[wasm_bindgen]
impl OtpEngine {
    /// Checks `settings` (JSON) and prepares `keys` (a JSON array of the server PIN
    /// keys, newest first, 16 bytes or more each). Throws the code of the first bad
    /// setting. Callback URLs of the settings and of every request may name a private
    /// host only with `allowPrivateHosts`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        settings: &str,
        keys: &str,
        #[wasm_bindgen(js_name = allowPrivateHosts)] allow_private_hosts: bool,
    ) -> Result<OtpEngine, JsValue> {
        let private_hosts = private_hosts(allow_private_hosts);
        Ok(OtpEngine {
            settings: settings_from_json(settings, private_hosts)?,
            private_hosts,
            keys: secret_keys(keys)?,
            rng: BufferedRandom::with_block_size(OsRandom),
        })
    }

    /// Plans a new OTP (as `plan_otp` does) with this engine's settings, keys and
    /// random buffer; `seed`, for tests only, draws from a seeded source instead.
    /// `request` is JSON; `now` is Unix seconds; `customPin` replaces the generated
    /// PIN. The result is the `PlannedOtp`'s fields in one string, separated by NUL
    /// (the order is in the crate's `packed` module), which the TypeScript layer
    /// unpacks.
    #[wasm_bindgen(js_name = planPacked)]
    pub fn plan_packed(
        &mut self,
        request: &str,
        now: f64,
        #[wasm_bindgen(js_name = customPin)] custom_pin: Option<String>,
        seed: Option<u64>,
    ) -> Result<String, JsValue> {
        let mut request: OtpRequest = from_json(request)?;
        request.custom_pin = custom_pin;
        request.private_hosts = self.private_hosts;
        let now = unix_seconds(now)?;
        let (resolved, drawn) = match seed {
            Some(seed) => otp::plan_parts(
                &self.settings,
                &request,
                now,
                &mut SeededRandom::new(seed),
                &self.keys,
                None,
            ),
            None => otp::plan_parts(
                &self.settings,
                &request,
                now,
                &mut self.rng,
                &self.keys,
                None,
            ),
        }
        .map_err(throw)?;
        Ok(packed::planned(&resolved, &drawn, now))
    }

    /// Checks a PIN against a record (JSON), counting the attempt first. Never throws
    /// for a wrong PIN: the result (JSON of a `VerifyResult`) says what happened and
    /// whether to store the record. (The free `verifyOtp` is this, on an engine made
    /// for the call.)
    pub fn verify(&self, record: &str, pin: Option<String>, now: f64) -> Result<String, JsValue> {
        verify_json(record, pin.as_deref(), &self.keys, now)
    }

    /// [`OtpEngine::verify`] of a record given by the fields a verification reads
    /// (the TypeScript layer checked the record's shape and copies the rest): its
    /// status (an index into `PENDING, VERIFIED, FAILED, EXPIRED, CANCELLED`),
    /// attempts, `maxAttempts` and `expiresAt`, then `otpId`, `pinDigest` and the PIN
    /// in one string, separated by NUL (the PIN last: it may hold anything; the other
    /// two hold no NUL). The result packs the error code (0 when verified) in bits
    /// 0-15, the status index after in bits 16-18, "record changed" in bit 19, "status
    /// changed" in bit 20 and the attempts after in bits 21-28; when the status
    /// changed, `updatedAt` is `now`.
    #[wasm_bindgen(js_name = verifyFields)]
    pub fn verify_fields(
        &self,
        status: u8,
        attempts: u8,
        max_attempts: u8,
        expires_at: f64,
        id_digest_pin: &str,
        now: f64,
    ) -> Result<u32, JsValue> {
        let mut fields = id_digest_pin.splitn(3, packed::SEP);
        let (Some(otp_id), Some(pin_digest), Some(pin)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(usage_error(
                "verifyFields needs otpId, pinDigest and the PIN",
            ));
        };
        let (otp_id, pin_digest) = (otp_id.to_owned(), pin_digest.to_owned());
        let status = *STATUSES
            .get(usize::from(status))
            .ok_or_else(|| usage_error("status index out of range"))?;
        // Only these fields take part in a verification (OtpRecord::verify); the
        // others are left empty here and copied over by the caller.
        let mut record = OtpRecord {
            otp_id,
            track_id: None,
            phone_masked: String::new(),
            country_iso: String::new(),
            status,
            cost: 0.0,
            parts: 0,
            max_attempts,
            attempts,
            ttl: 0,
            otp_callback_url: None,
            created_at: 0,
            expires_at: unix_seconds(expires_at)?,
            updated_at: 0,
            pin_digest,
        };
        // No PIN and an empty one are alike to a verification (2022, nothing changed).
        let v = record.verify(Some(pin), &self.keys, unix_seconds(now)?);
        let index = STATUSES
            .iter()
            .position(|&s| s == record.status)
            .unwrap_or_default();
        Ok(u32::from(v.result.err().map_or(0, Error::code))
            | (index as u32) << 16
            | u32::from(v.record_changed) << 19
            | u32::from(v.status_changed) << 20
            | u32::from(record.attempts) << 21)
    }
}

#[wasm_bindgen(typescript_custom_section)]
const WEBHOOK_TS_TYPES: &'static str = r#"
/** How status callbacks are retried: `delaysMs[i]` is the pause before attempt i + 1. */
export interface CallbackPolicy { maxAttempts: number; timeoutMs: number; retryDelayMs: number; delaysMs: number[] }
/** What one callback attempt's status means. */
export type CallbackOutcome = "delivered" | "retry" | "final";
"#;

/// A whole number of milliseconds or attempts from JS, for [`callback_policy`].
fn policy_number(value: Option<f64>) -> Result<Option<u32>, JsValue> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() => Ok(Some(v.clamp(0.0, f64::from(u32::MAX)) as u32)),
        Some(_) => Err(usage_error(
            "maxAttempts, timeoutMs and retryDelayMs must be finite numbers",
        )),
    }
}

/// The status-callback policy, the standard one shortened where a value given is
/// shorter (see `webhook::CallbackPolicy::shortened`), as numbers: `maxAttempts`,
/// `timeoutMs`, `retryDelayMs`, then the pause before each attempt (the TypeScript
/// layer makes it a `CallbackPolicy`).
#[wasm_bindgen(js_name = callbackPolicy)]
pub fn callback_policy(
    #[wasm_bindgen(js_name = maxAttempts)] max_attempts: Option<f64>,
    #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: Option<f64>,
    #[wasm_bindgen(js_name = retryDelayMs)] retry_delay_ms: Option<f64>,
) -> Result<Vec<u32>, JsValue> {
    let policy = crate::webhook::CallbackPolicy::shortened(
        policy_number(max_attempts)?,
        policy_number(timeout_ms)?,
        policy_number(retry_delay_ms)?,
    );
    let mut out = vec![
        policy.max_attempts(),
        policy.timeout_ms(),
        policy.retry_delay_ms(),
    ];
    out.extend((1..).map_while(|a| policy.delay_before(a)));
    Ok(out)
}

/// What a callback attempt that ended with `status` (absent: a network error or a
/// timeout) means: `"delivered"` (2xx), `"retry"` (absent, 408, 429, 5xx) or
/// `"final"` (anything else, a redirect included).
#[wasm_bindgen(js_name = callbackOutcome, unchecked_return_type = "CallbackOutcome")]
pub fn callback_outcome(status: Option<f64>) -> String {
    // A status that is not a whole number in 0-65535 is no HTTP status: final.
    let status = status.map(|s| {
        if s.fract() == 0.0 && (0.0..=65_535.0).contains(&s) {
            s as u16
        } else {
            0
        }
    });
    match status {
        Some(s) if crate::webhook::is_delivered(s) => "delivered",
        s if crate::webhook::should_retry(s) => "retry",
        _ => "final",
    }
    .into()
}

/// Throws the reason of an unusable callback URL (`callback_url_invalid`,
/// `callback_url_not_https`, `callback_url_private_host`, `callback_url_numeric_host`);
/// private hosts pass only with `allowPrivateHosts`.
#[wasm_bindgen(js_name = checkCallbackUrl)]
pub fn check_callback_url(
    url: &str,
    #[wasm_bindgen(js_name = allowPrivateHosts)] allow_private_hosts: bool,
) -> Result<(), JsValue> {
    let private_hosts = if allow_private_hosts {
        crate::settings::PrivateHosts::Allow
    } else {
        crate::settings::PrivateHosts::Refuse
    };
    crate::settings::check_callback_url(url, private_hosts).map_err(throw)
}

/// The Standard Webhooks `webhook-signature` value (`v1,<base64>`) of `body` sent as
/// message `msgId` at `timestamp` (Unix seconds). A secret that is not `whsec_` +
/// padded base64 of 24-64 bytes throws a JS `Error` saying which part is wrong.
#[wasm_bindgen(js_name = webhookSignature)]
pub fn webhook_signature(
    secret: &str,
    #[wasm_bindgen(js_name = msgId)] msg_id: &str,
    timestamp: f64,
    body: &str,
) -> Result<String, JsValue> {
    crate::webhook::sign(secret, msg_id, unix_seconds(timestamp)?, body)
        .map_err(|e| usage_error(e.message()))
}

/// Throws a JS `Error` saying which part is wrong when `secret` is not `whsec_` +
/// padded base64 of 24-64 bytes.
#[wasm_bindgen(js_name = checkWebhookSecret)]
pub fn check_webhook_secret(secret: &str) -> Result<(), JsValue> {
    crate::webhook::WebhookSecret::parse(secret)
        .map(|_| ())
        .map_err(|e| usage_error(e.message()))
}
