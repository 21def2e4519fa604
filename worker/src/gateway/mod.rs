//! SMS gateways: how the SMS the core rendered leaves the worker.
//!
//! Each application picks one [`GatewayConfig`]. [`send_sms`] hands the message
//! to it and answers with a [`Receipt`] or a [`GatewayError`]; the caller keeps
//! the OTP record **only with** a receipt, so a failed send leaves no PENDING
//! record and charges no cost. Sends are never retried here: a second attempt
//! could deliver the same PIN twice, and the client can simply ask again.
//!
//! - `outbox` (the local default, development only) keeps the message in the
//!   `OUTBOX_KV` namespace, where `GET /admin/outbox` reads it ([`read_outbox`]).
//! - `webhook` POSTs a signed JSON event to the application's own URL.
//! - `twilio`, `vonage`, `smscx` and `dexatel` call the providers' send APIs.
//!
//! Every HTTP adapter is a [`Provider`]: pure code that builds the request and
//! reads the reply, tested natively; [`fetch::post`] is the only I/O, with the
//! deadline `GATEWAY_TIMEOUT_MS` (default 10 s). Credentials are secrets
//! (`TWILIO_AUTH_TOKEN`, …); the `*_API_BASE` vars point an adapter at another
//! host (tests use a fake provider on 127.0.0.1).

mod dexatel;
pub(crate) mod fetch;
mod outbox;
mod smscx;
mod twilio;
mod vonage;
mod webhook;

use std::fmt;
use std::time::Duration;

use otp_core::otp::SmsMessage;
use serde::{Deserialize, Serialize};
use worker::Env;

use self::fetch::{FetchError, HttpReply, PostRequest};
pub(crate) use self::outbox::OutboxMessage;

impl From<GatewayError> for crate::error::ApiError {
    fn from(e: GatewayError) -> Self {
        crate::error::ApiError::new(e.http_status(), e.code(), "sms_gateway_error", e.message())
    }
}

/// Var holding the deadline of one provider request, in milliseconds.
pub(crate) const GATEWAY_TIMEOUT_VAR: &str = "GATEWAY_TIMEOUT_MS";
/// Default of [`GATEWAY_TIMEOUT_VAR`].
const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Longest deadline [`GATEWAY_TIMEOUT_VAR`] may set.
const MAX_TIMEOUT_MS: u64 = 60_000;

/// An application's SMS gateway, stored with the application. JSON:
/// `{"type": "outbox"}`, `{"type": "webhook", "url": "https://…"}`,
/// `{"type": "twilio", "messagingServiceSid": "MG…"}` (the SID is optional),
/// `{"type": "vonage"}`, `{"type": "smscx"}`, `{"type": "dexatel"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub(crate) enum GatewayConfig {
    /// Keeps messages in `OUTBOX_KV` for `GET /admin/outbox` (development only).
    #[default]
    Outbox,
    /// POSTs a signed `sms.send` event to `url`.
    Webhook {
        /// https (plain http only for localhost).
        url: String,
    },
    /// Twilio Programmable Messaging.
    Twilio {
        /// Send through this Messaging Service instead of the `from` sender.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        messaging_service_sid: Option<String>,
    },
    /// Vonage (Nexmo) SMS API.
    Vonage,
    /// SMS.CX `/sms`.
    Smscx,
    /// Dexatel `/v1/messages`.
    Dexatel,
}

impl GatewayConfig {
    /// The `type` name (`outbox`, `twilio`, …), for logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            GatewayConfig::Outbox => "outbox",
            GatewayConfig::Webhook { .. } => "webhook",
            GatewayConfig::Twilio { .. } => "twilio",
            GatewayConfig::Vonage => "vonage",
            GatewayConfig::Smscx => "smscx",
            GatewayConfig::Dexatel => "dexatel",
        }
    }

    /// Checks the configuration itself (not the provider credentials, which may
    /// be set later): the webhook URL is https (http only for localhost), a
    /// Twilio Messaging Service SID looks like one, and the outbox is allowed
    /// only when `ENVIRONMENT` is `development` ([`GatewayError::OutboxDisabled`]).
    pub(crate) fn validate(&self, env: &Env) -> Result<(), GatewayError> {
        self.check(crate::config::is_development(env))
    }

    /// [`GatewayConfig::validate`] with the environment decided by the caller.
    fn check(&self, development: bool) -> Result<(), GatewayError> {
        match self {
            GatewayConfig::Outbox if !development => Err(GatewayError::OutboxDisabled),
            GatewayConfig::Webhook { url } => otp_core::settings::validate_callback_url(url)
                .map_err(|_| {
                    GatewayError::InvalidConfig(
                        "gateway url must be an https url (http only for localhost)",
                    )
                }),
            GatewayConfig::Twilio {
                messaging_service_sid: Some(sid),
            } if !twilio::is_sid(sid, "MG") => Err(GatewayError::InvalidConfig(
                "messagingServiceSid must be MG followed by 32 hex digits",
            )),
            _ => Ok(()),
        }
    }
}

/// One SMS to send, with the ids that go into logs, the outbox and webhooks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutgoingSms<'a> {
    /// The sending application.
    pub(crate) app_id: &'a str,
    /// The OTP the SMS carries.
    pub(crate) otp_id: &'a str,
    /// What the core rendered (holds the PIN: never log it).
    pub(crate) message: &'a SmsMessage,
}

/// What a gateway answered when it took the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Receipt {
    /// The provider's id of the message, when its reply has one.
    pub(crate) message_id: Option<String>,
}

/// Why an SMS was not sent. Client-facing text comes from
/// [`GatewayError::message`] only; [`fmt::Display`] gives the detail for logs
/// (status codes and setting names, never secrets, numbers or the text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum GatewayError {
    /// The provider refused the message (non-2xx, or an error status in a 2xx
    /// reply, as Vonage does); `provider_code` is its error code, for the log.
    Rejected {
        /// HTTP status of the reply.
        status: u16,
        /// The provider's own error code, if the reply had a short one.
        provider_code: Option<String>,
    },
    /// No reply before `GATEWAY_TIMEOUT_MS`.
    Timeout,
    /// Connection refused, reset or broken off.
    Unreachable,
    /// A success status with a reply that could not be read.
    BadReply,
    /// A setting the gateway needs is missing or invalid (its name, for the log).
    NotConfigured(&'static str),
    /// The gateway configuration of the application is invalid (the reason).
    InvalidConfig(&'static str),
    /// The outbox is chosen or used while `ENVIRONMENT` is not `development`
    /// (a configuration the deployment does not allow, hence 400).
    OutboxDisabled,
}

impl GatewayError {
    /// The API error code (3001-3007).
    pub(crate) fn code(&self) -> u16 {
        match self {
            GatewayError::Rejected { .. } => 3001,
            GatewayError::Timeout => 3002,
            GatewayError::Unreachable => 3003,
            GatewayError::BadReply => 3004,
            GatewayError::NotConfigured(_) => 3005,
            GatewayError::InvalidConfig(_) => 3006,
            GatewayError::OutboxDisabled => 3007,
        }
    }

    /// The HTTP status of the API reply.
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            GatewayError::Rejected { .. } | GatewayError::Unreachable | GatewayError::BadReply => {
                502
            }
            GatewayError::Timeout => 504,
            GatewayError::NotConfigured(_) => 503,
            GatewayError::InvalidConfig(_) | GatewayError::OutboxDisabled => 400,
        }
    }

    /// The client-facing message: fixed text, never a secret or the SMS.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            GatewayError::Rejected { .. } => "the sms gateway rejected the message",
            GatewayError::Timeout => "the sms gateway did not answer in time",
            GatewayError::Unreachable => "the sms gateway could not be reached",
            GatewayError::BadReply => "the sms gateway sent a reply that could not be read",
            GatewayError::NotConfigured(_) => "the sms gateway is not configured",
            GatewayError::InvalidConfig(reason) => reason,
            GatewayError::OutboxDisabled => "the outbox gateway is available in development only",
        }
    }
}

impl GatewayError {
    /// This error without a provider code that could quote what was sent: a
    /// provider or webhook receiver may echo the number or the PIN in its error
    /// code, and the code goes to the log. Left out: a code with a run of 7 or
    /// more digits (a phone number), or one sharing a word of 4 or more letters
    /// and digits with the text (the PIN is such a word).
    fn scrubbed(self, message: &SmsMessage) -> GatewayError {
        match self {
            GatewayError::Rejected {
                status,
                provider_code: Some(code),
            } if quotes(&code, &message.text) => GatewayError::Rejected {
                status,
                provider_code: None,
            },
            other => other,
        }
    }
}

/// Whether a provider code may hold a phone number or a word of the SMS `text`.
fn quotes(code: &str, text: &str) -> bool {
    if code
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() >= 7)
    {
        return true;
    }
    let code = code.to_lowercase();
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() >= 4)
        .any(|word| code.contains(word) || (code.len() >= 4 && word.contains(code.as_str())))
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Rejected {
                status,
                provider_code: Some(code),
            } => write!(f, "rejected (HTTP {status}, provider code {code})"),
            GatewayError::Rejected { status, .. } => write!(f, "rejected (HTTP {status})"),
            GatewayError::Timeout => f.write_str("no reply before the timeout"),
            GatewayError::Unreachable => f.write_str("unreachable"),
            GatewayError::BadReply => f.write_str("unreadable reply"),
            GatewayError::NotConfigured(name) => write!(f, "setting {name} is missing or invalid"),
            GatewayError::InvalidConfig(reason) => write!(f, "invalid configuration: {reason}"),
            GatewayError::OutboxDisabled => f.write_str("outbox used outside development"),
        }
    }
}

impl From<FetchError> for GatewayError {
    fn from(err: FetchError) -> Self {
        match err {
            FetchError::Timeout => GatewayError::Timeout,
            FetchError::Unreachable => GatewayError::Unreachable,
            FetchError::Invalid => GatewayError::NotConfigured(
                "the API base URL or a credential (not a valid URL or header value)",
            ),
        }
    }
}

/// A newest-first page of the outbox of `e164` (at most `limit`, at most 20).
pub(crate) async fn read_outbox(
    env: &Env,
    e164: &str,
    limit: usize,
) -> Result<Vec<OutboxMessage>, GatewayError> {
    outbox::read(env, e164, limit).await
}

/// Sends `sms` through `gateway`. `webhook_secret` is the application's secret,
/// used only by the `webhook` gateway. Logs the gateway, the otpId and the
/// outcome, never the number or the text.
pub(crate) async fn send_sms(
    env: &Env,
    gateway: &GatewayConfig,
    webhook_secret: &str,
    sms: &OutgoingSms<'_>,
) -> Result<Receipt, GatewayError> {
    let result = dispatch(env, gateway, webhook_secret, sms)
        .await
        .map_err(|err| err.scrubbed(sms.message));
    match &result {
        Ok(_) => worker::console_log!("gateway {}: otp {} sent", gateway.kind(), sms.otp_id),
        Err(err) => worker::console_warn!(
            "gateway {}: otp {} not sent: {err}",
            gateway.kind(),
            sms.otp_id
        ),
    }
    result
}

async fn dispatch(
    env: &Env,
    gateway: &GatewayConfig,
    webhook_secret: &str,
    sms: &OutgoingSms<'_>,
) -> Result<Receipt, GatewayError> {
    let timeout = fetch::millis_setting(
        env.setting(GATEWAY_TIMEOUT_VAR),
        DEFAULT_TIMEOUT_MS,
        MAX_TIMEOUT_MS,
    );
    match gateway {
        GatewayConfig::Outbox => outbox::store(env, sms).await,
        GatewayConfig::Webhook { url } => {
            let now = (worker::Date::now().as_millis() / 1000) as i64;
            let webhook = webhook::Webhook::new(url, webhook_secret, now)?;
            deliver(&webhook, sms, timeout).await
        }
        GatewayConfig::Twilio {
            messaging_service_sid,
        } => {
            let twilio = twilio::Twilio::new(env, messaging_service_sid.as_deref())?;
            deliver(&twilio, sms, timeout).await
        }
        GatewayConfig::Vonage => deliver(&vonage::Vonage::new(env)?, sms, timeout).await,
        GatewayConfig::Smscx => deliver(&smscx::Smscx::new(env)?, sms, timeout).await,
        GatewayConfig::Dexatel => deliver(&dexatel::Dexatel::new(env)?, sms, timeout).await,
    }
}

/// Sends the provider's request and reads its reply. (A trait object, not a
/// generic: one copy of the fetch and its deadline for every provider.)
async fn deliver(
    provider: &dyn Provider,
    sms: &OutgoingSms<'_>,
    timeout: Duration,
) -> Result<Receipt, GatewayError> {
    let request = provider.request(sms)?;
    let reply = fetch::post(&request, timeout).await?;
    provider.receipt(&reply)
}

/// One HTTP SMS API, sans-IO: the request that sends an SMS, and what its reply means.
trait Provider {
    /// The POST that sends `sms`.
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError>;
    /// The receipt in `reply`, or why it is not one.
    fn receipt(&self, reply: &HttpReply) -> Result<Receipt, GatewayError>;
}

/// Where adapters read their settings: secrets and vars by name.
trait Settings {
    /// The non-blank value of secret or var `name`.
    fn setting(&self, name: &str) -> Option<String>;

    /// The value of `name`, or [`GatewayError::NotConfigured`] naming it.
    fn required(&self, name: &'static str) -> Result<String, GatewayError> {
        self.setting(name).ok_or(GatewayError::NotConfigured(name))
    }

    /// The base URL in var `name` without a trailing `/`, or `default`.
    fn api_base(&self, name: &str, default: &str) -> String {
        self.setting(name)
            .map(|base| base.trim().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| default.to_owned())
    }
}

impl Settings for Env {
    fn setting(&self, name: &str) -> Option<String> {
        crate::config::secret_or_var(self, name)
    }
}

/// Whether `status` is 2xx.
fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// JSON text of `value`.
fn to_json<T: Serialize>(value: &T) -> Result<String, GatewayError> {
    // Our bodies are structs of strings and numbers: this cannot fail in practice.
    serde_json::to_string(value)
        .map_err(|_| GatewayError::InvalidConfig("the message could not be encoded"))
}

/// The destination without its `+`, as Vonage and Dexatel want it.
fn digits(e164: &str) -> &str {
    e164.strip_prefix('+').unwrap_or(e164)
}

/// A [`GatewayError::Rejected`] for a non-2xx `reply`, with the provider's error
/// code when its JSON body has one (`code`, `error.code`, `errors[0].code`,
/// `error_code`).
fn rejected(reply: &HttpReply) -> GatewayError {
    GatewayError::Rejected {
        status: reply.status,
        provider_code: first_text_at(
            &reply.body,
            &["/code", "/error/code", "/errors/0/code", "/error_code"],
        ),
    }
}

/// The receipt of a provider for which any 2xx means sent: the message id is
/// the first text found at `id_pointers` in the reply, if any.
fn receipt_on_2xx(reply: &HttpReply, id_pointers: &[&str]) -> Result<Receipt, GatewayError> {
    if !is_success(reply.status) {
        return Err(rejected(reply));
    }
    Ok(Receipt {
        message_id: first_text_at(&reply.body, id_pointers),
    })
}

/// The first short, printable string or number found in JSON `body` at one of
/// the JSON `pointers`. Values longer than 64 characters or with other
/// characters than `[A-Za-z0-9._:-]` are ignored, so nothing a provider echoes
/// (a phone number is digits, but never at these paths) reaches a log unchecked.
fn first_text_at(body: &str, pointers: &[&str]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    pointers.iter().find_map(|pointer| {
        let text = match json.pointer(pointer)? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let safe = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        safe.then_some(text)
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Fixtures shared by the adapters' tests.

    use super::Settings;
    use otp_core::otp::SmsMessage;
    use otp_core::sms::SmsEncoding;

    /// Settings from a fixed list.
    pub(crate) struct FakeSettings(pub(crate) Vec<(&'static str, &'static str)>);

    impl Settings for FakeSettings {
        fn setting(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .filter(|v| !v.trim().is_empty())
        }
    }

    /// A provider reply with `status` and `body`.
    pub(crate) fn reply(status: u16, body: &str) -> super::fetch::HttpReply {
        super::fetch::HttpReply {
            status,
            body: body.into(),
        }
    }

    /// A rendered SMS to +33 6 12 42 41 11.
    pub(crate) fn message(text: &str, encoding: SmsEncoding) -> SmsMessage {
        SmsMessage {
            to: "+33612424111".into(),
            from: "Acme".into(),
            text: text.into(),
            language: "fr".into(),
            encoding,
            units: text.chars().count() as u32,
            parts: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_config_json_is_tagged_by_type() {
        let cases = [
            (GatewayConfig::Outbox, r#"{"type":"outbox"}"#),
            (
                GatewayConfig::Webhook {
                    url: "https://example.com/sms".into(),
                },
                r#"{"type":"webhook","url":"https://example.com/sms"}"#,
            ),
            (
                GatewayConfig::Twilio {
                    messaging_service_sid: None,
                },
                r#"{"type":"twilio"}"#,
            ),
            (
                GatewayConfig::Twilio {
                    messaging_service_sid: Some("MG0123456789abcdef0123456789abcdef".into()),
                },
                r#"{"type":"twilio","messagingServiceSid":"MG0123456789abcdef0123456789abcdef"}"#,
            ),
            (GatewayConfig::Vonage, r#"{"type":"vonage"}"#),
            (GatewayConfig::Smscx, r#"{"type":"smscx"}"#),
            (GatewayConfig::Dexatel, r#"{"type":"dexatel"}"#),
        ];
        for (config, json) in cases {
            assert_eq!(serde_json::to_string(&config).unwrap(), json);
            assert_eq!(serde_json::from_str::<GatewayConfig>(json).unwrap(), config);
        }
        assert!(serde_json::from_str::<GatewayConfig>(r#"{"type":"carrier-pigeon"}"#).is_err());
        assert!(serde_json::from_str::<GatewayConfig>(r#"{"type":"webhook"}"#).is_err());
        assert_eq!(GatewayConfig::default(), GatewayConfig::Outbox);
    }

    #[test]
    fn outbox_is_valid_only_in_development() {
        assert_eq!(GatewayConfig::Outbox.check(true), Ok(()));
        assert_eq!(
            GatewayConfig::Outbox.check(false),
            Err(GatewayError::OutboxDisabled)
        );
        assert_eq!(GatewayConfig::Vonage.check(false), Ok(()));
    }

    #[test]
    fn webhook_url_must_be_https_except_for_localhost() {
        let check = |url: &str| GatewayConfig::Webhook { url: url.into() }.check(false);
        assert_eq!(check("https://hooks.example.com/sms?x=1"), Ok(()));
        assert_eq!(check("http://127.0.0.1:8787/sms"), Ok(()));
        assert_eq!(check("http://localhost/sms"), Ok(()));
        for bad in [
            "http://hooks.example.com/sms",
            "ftp://example.com",
            "https://user:pw@example.com/",
            "",
        ] {
            assert_eq!(check(bad).map_err(|e| e.code()), Err(3006), "{bad}");
        }
    }

    #[test]
    fn twilio_messaging_service_sid_is_checked() {
        let check = |sid: &str| {
            GatewayConfig::Twilio {
                messaging_service_sid: Some(sid.into()),
            }
            .check(false)
        };
        assert_eq!(check("MG0123456789abcdef0123456789ABCDEF"), Ok(()));
        assert!(check("MG123").is_err());
        assert!(check("AC0123456789abcdef0123456789abcdef").is_err());
        assert!(check("MG0123456789abcdef0123456789abcdez").is_err());
    }

    #[test]
    fn every_error_has_its_own_code_status_and_message() {
        let all = [
            GatewayError::Rejected {
                status: 500,
                provider_code: None,
            },
            GatewayError::Timeout,
            GatewayError::Unreachable,
            GatewayError::BadReply,
            GatewayError::NotConfigured("TWILIO_AUTH_TOKEN"),
            GatewayError::InvalidConfig("gateway url must be an https url"),
            GatewayError::OutboxDisabled,
        ];
        let codes: Vec<u16> = all.iter().map(GatewayError::code).collect();
        assert_eq!(codes, (3001..=3007).collect::<Vec<_>>());
        let statuses: Vec<u16> = all.iter().map(GatewayError::http_status).collect();
        assert_eq!(statuses, [502, 504, 502, 502, 503, 400, 400]);
        for err in &all {
            assert!(!err.message().is_empty());
        }
    }

    #[test]
    fn client_messages_never_name_settings_but_logs_do() {
        let err = GatewayError::NotConfigured("TWILIO_AUTH_TOKEN");
        assert!(!err.message().contains("TWILIO"));
        assert!(err.to_string().contains("TWILIO_AUTH_TOKEN"));
        let err = GatewayError::Rejected {
            status: 400,
            provider_code: Some("21211".into()),
        };
        assert_eq!(err.to_string(), "rejected (HTTP 400, provider code 21211)");
        assert!(!err.message().contains("21211"));
    }

    #[test]
    fn fetch_failures_map_to_gateway_errors() {
        assert_eq!(
            GatewayError::from(FetchError::Timeout),
            GatewayError::Timeout
        );
        assert_eq!(
            GatewayError::from(FetchError::Unreachable),
            GatewayError::Unreachable
        );
        assert_eq!(GatewayError::from(FetchError::Invalid).code(), 3005);
    }

    #[test]
    fn rejections_carry_only_short_safe_provider_codes() {
        let reply = |status, body: &str| HttpReply {
            status,
            body: body.into(),
        };
        assert_eq!(
            rejected(&reply(
                400,
                r#"{"code":21211,"message":"Invalid 'To' Phone Number: +33612424111"}"#
            )),
            GatewayError::Rejected {
                status: 400,
                provider_code: Some("21211".into())
            }
        );
        assert_eq!(
            rejected(&reply(401, r#"{"error":{"code":"invalid_key"}}"#)),
            GatewayError::Rejected {
                status: 401,
                provider_code: Some("invalid_key".into())
            }
        );
        for body in [
            "<html>Bad Gateway</html>",
            r#"{"code":"has spaces and +33612424111"}"#,
            r#"{"code":{"nested":1}}"#,
            "",
        ] {
            assert_eq!(
                rejected(&reply(500, body)),
                GatewayError::Rejected {
                    status: 500,
                    provider_code: None
                },
                "{body}"
            );
        }
    }

    #[test]
    fn provider_codes_quoting_the_number_or_the_pin_are_left_out() {
        use otp_core::sms::SmsEncoding;
        let message = test_support::message("Acme: your code is [482913]", SmsEncoding::Gsm7);
        let rejected = |code: &str| GatewayError::Rejected {
            status: 400,
            provider_code: Some(code.into()),
        };
        for code in [
            "482913",
            "E482913",
            "33612424111",
            "612424111",
            "ACME",
            "code-482913x",
        ] {
            assert_eq!(
                rejected(code).scrubbed(&message),
                GatewayError::Rejected {
                    status: 400,
                    provider_code: None
                },
                "{code}"
            );
        }
        for code in ["21211", "invalid_key", "2", "1001", "429"] {
            assert_eq!(rejected(code).scrubbed(&message), rejected(code), "{code}");
        }
        assert_eq!(
            GatewayError::Timeout.scrubbed(&message),
            GatewayError::Timeout
        );
    }

    #[test]
    fn settings_fall_back_to_defaults_and_trim_base_urls() {
        let settings = test_support::FakeSettings(vec![
            ("A_API_BASE", "http://127.0.0.1:9999/"),
            ("BLANK", "  "),
        ]);
        assert_eq!(
            settings.api_base("A_API_BASE", "https://a.test"),
            "http://127.0.0.1:9999"
        );
        assert_eq!(
            settings.api_base("B_API_BASE", "https://b.test"),
            "https://b.test"
        );
        assert_eq!(
            settings.required("BLANK"),
            Err(GatewayError::NotConfigured("BLANK"))
        );
    }

    #[test]
    fn digits_drop_the_plus() {
        assert_eq!(digits("+33612424111"), "33612424111");
        assert_eq!(digits("33612424111"), "33612424111");
    }
}
