//! wasm-bindgen exports of the core for the npm package. camelCase JSON in and
//! out (serde-wasm-bindgen); exact TypeScript types come from the custom section
//! below. Errors are thrown as plain objects `{code, name, type, httpStatus,
//! message}` that the package's TypeScript layer turns into its `OtpError` class.

use crate::error::Error;
use crate::otp::{self, OtpRecord};
use crate::rng::{BufferedRandom, OsRandom, RandomSource, SeededRandom};
use crate::secret::SecretKeys;
use crate::settings::{OtpRequest, OtpSettings};
use crate::{phone, pin, sms, template, time};
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
export interface ParsedPhone { e164: string; digits: string; callingCode: number; countryIso: string; masked: string }
export interface TemplateVars { pin: string; ttlSeconds: number; brand: string; webotpDomain?: string | null }
export interface LanguageTemplate { language: string; prefixes?: string[]; template: string }
export interface PriceTable { default?: number; countries?: Record<string, number> }
export interface OtpSettings {
  template?: string | null; languageTemplates?: LanguageTemplate[]; originator?: string; pinType?: PinType;
  pinLength?: number; ttl?: number; maxAttempts?: number; callbackUrl?: string | null; prices?: PriceTable;
  brand?: string; webotpDomain?: string | null;
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
export interface PlannedOtp { record: OtpRecord; message: SmsMessage; phone: ParsedPhone }
export interface VerifyResult { verified: boolean; error: CoreError | null; record: OtpRecord; recordChanged: boolean; statusChanged: boolean }
"#;

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

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsValue::from_str(&e.to_string()))
}

fn throw(e: Error) -> JsValue {
    to_js(&CoreError::from(e)).unwrap_or_else(|_| JsValue::from_str(e.message()))
}

/// Bad shapes from JS (e.g. an object where a string belongs) become a typed core error.
fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|_| throw(Error::FieldTypeInvalid))
}

/// A misuse of the bindings themselves (not a rule of OTP verification): a real JS `Error`.
fn usage_error(message: &str) -> JsValue {
    JsError::new(message).into()
}

fn secret_keys(keys: Vec<String>) -> Result<SecretKeys, JsValue> {
    SecretKeys::new(keys.into_iter().map(String::into_bytes).collect()).ok_or_else(|| {
        usage_error("keys: give at least one server key of 16 bytes or more, newest first")
    })
}

/// Unix seconds from JS: finite, fractions dropped.
fn unix_seconds(now: f64) -> Result<i64, JsValue> {
    if now.is_finite() && now.abs() < 1e15 {
        Ok(now.trunc() as i64)
    } else {
        Err(usage_error("now must be a finite number of Unix seconds"))
    }
}

fn random_source(seed: Option<u64>) -> Box<dyn RandomSource> {
    match seed {
        Some(seed) => Box::new(SeededRandom::new(seed)),
        // One crypto.getRandomValues call for the id and the PIN together.
        None => Box::new(BufferedRandom::new(OsRandom)),
    }
}

/// Every error the core can throw: `{code, name, type, httpStatus, message}`.
#[wasm_bindgen(js_name = errorCatalog, unchecked_return_type = "CoreError[]")]
pub fn error_catalog() -> Result<JsValue, JsValue> {
    to_js(
        &Error::ALL
            .iter()
            .map(|&e| CoreError::from(e))
            .collect::<Vec<_>>(),
    )
}

/// A uniform random PIN. `seed` makes it repeatable (tests only; omit in production).
#[wasm_bindgen(js_name = generatePin)]
pub fn generate_pin(
    #[wasm_bindgen(unchecked_param_type = "PinType")] pin_type: JsValue,
    length: f64,
    seed: Option<u64>,
) -> Result<String, JsValue> {
    let pin_type: String = from_js(pin_type)?;
    let pin_type = pin::PinType::parse(&pin_type).map_err(throw)?;
    if !(length.is_finite() && length.fract() == 0.0) {
        return Err(throw(Error::PinLengthNotNumber));
    }
    let length = length.clamp(0.0, 255.0) as u8;
    pin::generate_pin(random_source(seed).as_mut(), pin_type, length).map_err(throw)
}

/// Renders a template's `{{pin}}`/`{code}`, `{{ttl}}` and `{{brand}}` placeholders.
#[wasm_bindgen(js_name = renderTemplate)]
pub fn render_template(
    template_text: &str,
    #[wasm_bindgen(unchecked_param_type = "TemplateVars")] vars: JsValue,
) -> Result<String, JsValue> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Vars {
        pin: String,
        ttl_seconds: u32,
        brand: String,
        webotp_domain: Option<String>,
    }
    let v: Vars = from_js(vars)?;
    Ok(template::render(
        template_text,
        &template::TemplateVars {
            pin: &v.pin,
            ttl_seconds: v.ttl_seconds,
            brand: &v.brand,
            webotp_domain: v.webotp_domain.as_deref(),
        },
    ))
}

/// Throws when a template is empty, too long or has no PIN placeholder.
#[wasm_bindgen(js_name = validateTemplate)]
pub fn validate_template(template_text: &str) -> Result<(), JsValue> {
    template::validate_template(template_text).map_err(throw)
}

/// GSM-7 or UCS-2, units and parts of an SMS text.
#[wasm_bindgen(js_name = countSmsParts, unchecked_return_type = "SmsParts")]
pub fn count_sms_parts(text: &str) -> Result<JsValue, JsValue> {
    to_js(&sms::count_parts(text))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParsedPhone<'a> {
    e164: &'a str,
    digits: &'a str,
    calling_code: u16,
    country_iso: &'a str,
    masked: String,
}

impl<'a> From<&'a phone::PhoneNumber> for ParsedPhone<'a> {
    fn from(p: &'a phone::PhoneNumber) -> Self {
        ParsedPhone {
            e164: p.e164(),
            digits: p.digits(),
            calling_code: p.calling_code(),
            country_iso: p.country_iso(),
            masked: p.masked(),
        }
    }
}

/// Parses E.164 or a national number with its `countryIso`.
#[wasm_bindgen(js_name = parsePhone, unchecked_return_type = "ParsedPhone")]
pub fn parse_phone(input: &str, country_iso: Option<String>) -> Result<JsValue, JsValue> {
    let p = phone::parse_phone(input, country_iso.as_deref()).map_err(throw)?;
    to_js(&ParsedPhone::from(&p))
}

/// Fills in defaults and checks an application's OTP settings; returns them whole.
#[wasm_bindgen(js_name = validateSettings, unchecked_return_type = "Required<OtpSettings>")]
pub fn validate_settings(
    #[wasm_bindgen(unchecked_param_type = "OtpSettings")] settings: JsValue,
) -> Result<JsValue, JsValue> {
    let settings: OtpSettings = from_js(settings)?;
    settings.validate().map_err(throw)?;
    to_js(&settings)
}

/// Plans a new OTP: the record to store and the SMS to send. `keys` are the server
/// PIN keys, newest first; `now` is Unix seconds; `customPin` replaces the generated
/// PIN (it must match the PIN type, 4-10 symbols); `seed` is for tests only.
#[wasm_bindgen(js_name = planOtp, unchecked_return_type = "PlannedOtp")]
pub fn plan_otp(
    #[wasm_bindgen(unchecked_param_type = "OtpSettings")] settings: JsValue,
    #[wasm_bindgen(unchecked_param_type = "OtpRequest")] request: JsValue,
    now: f64,
    keys: Vec<String>,
    #[wasm_bindgen(js_name = customPin)] custom_pin: Option<String>,
    seed: Option<u64>,
) -> Result<JsValue, JsValue> {
    let settings: OtpSettings = from_js(settings)?;
    settings.validate().map_err(throw)?;
    let mut request: OtpRequest = from_js(request)?;
    request.custom_pin = custom_pin;
    let keys = secret_keys(keys)?;
    let now = unix_seconds(now)?;
    let planned = otp::plan_otp(
        &settings,
        &request,
        now,
        random_source(seed).as_mut(),
        &keys,
    )
    .map_err(throw)?;
    #[derive(Serialize)]
    struct Out<'a> {
        record: &'a OtpRecord,
        message: &'a otp::SmsMessage,
        phone: ParsedPhone<'a>,
    }
    to_js(&Out {
        record: &planned.record,
        message: &planned.message,
        phone: ParsedPhone::from(&planned.phone),
    })
}

/// Checks a PIN against a record, counting the attempt first. Never throws for a
/// wrong PIN: the result says what happened and whether to store the record.
#[wasm_bindgen(js_name = verifyOtp, unchecked_return_type = "VerifyResult")]
pub fn verify_otp(
    #[wasm_bindgen(unchecked_param_type = "OtpRecord")] record: JsValue,
    pin: Option<String>,
    keys: Vec<String>,
    now: f64,
) -> Result<JsValue, JsValue> {
    let mut record: OtpRecord = from_js(record)?;
    let keys = secret_keys(keys)?;
    let v = record.verify(pin.as_deref(), &keys, unix_seconds(now)?);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out {
        verified: bool,
        error: Option<CoreError>,
        record: OtpRecord,
        record_changed: bool,
        status_changed: bool,
    }
    to_js(&Out {
        verified: v.result.is_ok(),
        error: v.result.err().map(CoreError::from),
        record,
        record_changed: v.record_changed,
        status_changed: v.status_changed,
    })
}

/// Cancels a pending record; returns the new record or throws 2030/2031.
#[wasm_bindgen(js_name = cancelOtp, unchecked_return_type = "OtpRecord")]
pub fn cancel_otp(
    #[wasm_bindgen(unchecked_param_type = "OtpRecord")] record: JsValue,
    now: f64,
) -> Result<JsValue, JsValue> {
    let mut record: OtpRecord = from_js(record)?;
    record.cancel(unix_seconds(now)?).map_err(throw)?;
    to_js(&record)
}

/// The SMS.CX OTP object of a record at `now` (EXPIRED derived from `now`).
#[wasm_bindgen(js_name = viewOtp, unchecked_return_type = "OtpView")]
pub fn view_otp(
    #[wasm_bindgen(unchecked_param_type = "OtpRecord")] record: JsValue,
    now: f64,
    phone_number: Option<String>,
) -> Result<JsValue, JsValue> {
    let record: OtpRecord = from_js(record)?;
    to_js(&record.view(unix_seconds(now)?, phone_number.as_deref()))
}

/// Seconds a store should keep a record: remaining life plus `retention`, at least 60.
#[wasm_bindgen(js_name = storageTtl)]
pub fn storage_ttl(
    #[wasm_bindgen(unchecked_param_type = "OtpRecord")] record: JsValue,
    now: f64,
    retention: f64,
) -> Result<u32, JsValue> {
    let record: OtpRecord = from_js(record)?;
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
