//! SMS gateways: how the SMS the core rendered leaves the worker, and what the
//! providers later report of it.
//!
//! An application sends through routes ([`routes`]): per destination country or
//! prefix, an ordered list of gateways, each with its sender; without a matching
//! route, through its own `gateway`. [`send_sms`] tries the route's gateways in
//! order, all within one deadline (`GATEWAY_TIMEOUT_MS`, default 10 s, at most
//! [`MAX_TIMEOUT_MS`], below the Dexatel send reservation
//! `otp_core::number::SEND_RESERVATION_SECONDS`), and answers:
//!
//! - a [`Receipt`] with [`DeliveryStatus::Pending`] when a gateway took the
//!   message (with the provider's message id when its reply has one);
//! - a [`Receipt`] with [`DeliveryStatus::Unknown`] when a gateway **may** have
//!   taken it: no reply before the deadline, a 500, 502 or 504 (or another 5xx
//!   but 503), or a success status with a reply that cannot be read. The message
//!   is never sent again (a PIN is never sent twice): the caller keeps the OTP,
//!   charges it, and a later delivery receipt settles it;
//! - a [`GatewayError`] only when no gateway took the message: the last one
//!   refused it (4xx, or an error status in a 2xx as Vonage does), or every one
//!   did not accept it, which is when the next one is tried: 429 and 503
//!   ([`GatewayError::Busy`]), a connection that failed without a reply (refused,
//!   reset; Cloudflare's 521, 523, 525, 526 and 530: [`GatewayError::Unreachable`]),
//!   missing credentials ([`GatewayError::NotConfigured`]). workerd reports a
//!   refused connection and one broken after the request went out with one error,
//!   which counts as not accepted: a provider that takes a message and then drops
//!   the connection without answering may see the same PIN again from the next
//!   gateway (never another PIN).
//!
//! Gateways: `outbox` (development only) keeps the message in the `OUTBOX_KV`
//! namespace, where `GET /admin/outbox` reads it ([`read_outbox`]); `webhook`
//! POSTs a signed JSON event to the application's own URL; `twilio`, `vonage`,
//! `smscx`, `dexatel`, `plivo`, `sinch` and `infobip` call the providers' send
//! APIs. Every HTTP adapter is a [`Provider`]: pure code that builds the request
//! and reads the reply, tested natively; [`fetch::post`] is the only I/O.
//! Credentials are secrets (`TWILIO_AUTH_TOKEN`, …); a gateway with
//! `"credentials": "EU"` reads `TWILIO_AUTH_TOKEN_EU` instead, so one provider
//! can serve with several accounts. The `*_API_BASE` vars point an adapter at
//! another host (tests use a fake provider on 127.0.0.1).
//!
//! Delivery receipts ([`receipts`], [`delivery`]): with `PUBLIC_BASE_URL` set,
//! each send asks the provider for receipts at
//! `{PUBLIC_BASE_URL}/dlr/{provider}/{appId}?otp={otpId}`, with `&cred={NAME}`
//! for named credentials and `&token=…` (the application's receipt token) for
//! providers that do not sign their callbacks.

pub(crate) mod delivery;
mod dexatel;
pub(crate) mod fetch;
mod infobip;
mod outbox;
mod plivo;
pub(crate) mod receipts;
pub(crate) mod routes;
mod sinch;
mod smscx;
mod twilio;
mod vonage;
mod webhook;

use std::fmt;
use std::time::Duration;

use otp_core::otp::SmsMessage;
use otp_core::settings::{check_callback_url, PrivateHosts};
use serde::{Deserialize, Serialize};
use worker::Env;

pub(crate) use self::delivery::DeliveryStatus;
use self::fetch::{FetchError, HttpReply, PostRequest};
pub(crate) use self::outbox::OutboxMessage;
use self::routes::Route;

impl From<GatewayError> for crate::error::ApiError {
    fn from(e: GatewayError) -> Self {
        crate::error::ApiError::new(e.http_status(), e.code(), "sms_gateway_error", e.message())
    }
}

/// Var holding the deadline of one send, all its gateways included, in milliseconds.
pub(crate) const GATEWAY_TIMEOUT_VAR: &str = "GATEWAY_TIMEOUT_MS";
/// Var: the public origin of the worker (`https://otp.example.com`). When set,
/// sends ask providers for delivery receipts at `{PUBLIC_BASE_URL}/dlr/…`.
pub(crate) const PUBLIC_BASE_URL_VAR: &str = "PUBLIC_BASE_URL";
/// Default of [`GATEWAY_TIMEOUT_VAR`].
const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// What a send leaves of the Dexatel send reservation for the calls around it
/// (admission before, confirmation after).
const RESERVATION_MARGIN_MS: u64 = 10_000;
/// Longest deadline [`GATEWAY_TIMEOUT_VAR`] may set: the whole send, failover
/// included, ends well before a Dexatel send reservation
/// ([`otp_core::number::SEND_RESERVATION_SECONDS`]) is forgotten, so a send in
/// flight is never taken for a lost one.
pub(crate) const MAX_TIMEOUT_MS: u64 =
    otp_core::number::SEND_RESERVATION_SECONDS as u64 * 1000 - RESERVATION_MARGIN_MS;
const _: () = assert!(
    MAX_TIMEOUT_MS >= 30_000
        && MAX_TIMEOUT_MS < otp_core::number::SEND_RESERVATION_SECONDS as u64 * 1000
);

/// An SMS gateway, stored with the application (its `gateway`, and each gateway of
/// its routes). JSON: `{"type": "outbox"}`, `{"type": "webhook", "url": "https://…"}`,
/// `{"type": "twilio", "messagingServiceSid": "MG…"}` (the SID is optional),
/// `{"type": "vonage"}`, `{"type": "smscx"}`, `{"type": "dexatel"}`,
/// `{"type": "plivo"}`, `{"type": "sinch"}`, `{"type": "infobip"}`; every provider
/// takes `"credentials": "NAME"` to read its secrets with the suffix `_NAME`.
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
        /// Named credentials (secret suffix).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
    /// Vonage (Nexmo) SMS API.
    Vonage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
    /// SMS.CX `/sms`.
    Smscx {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
    /// Dexatel `/v1/messages`.
    Dexatel {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
    /// Plivo `Message/`.
    Plivo {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
    /// Sinch SMS REST API `batches`.
    Sinch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
    /// Infobip SMS API `/sms/3/messages`.
    Infobip {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
}

/// The gateway types that take delivery receipts at `/dlr/{type}/{appId}`.
pub(crate) const RECEIPT_PROVIDERS: &[&str] = &[
    "twilio", "vonage", "dexatel", "plivo", "sinch", "infobip", "webhook",
];

/// Whether receipts of gateway type `kind` name only the message, so that its OTP
/// is found through an index kept when it was sent (Dexatel's delivery webhooks
/// go to one URL per account and carry no reference of ours).
pub(crate) fn indexed(kind: &str) -> bool {
    kind == "dexatel"
}

impl GatewayConfig {
    /// The `type` name (`outbox`, `twilio`, …), for logs and receipts.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            GatewayConfig::Outbox => "outbox",
            GatewayConfig::Webhook { .. } => "webhook",
            GatewayConfig::Twilio { .. } => "twilio",
            GatewayConfig::Vonage { .. } => "vonage",
            GatewayConfig::Smscx { .. } => "smscx",
            GatewayConfig::Dexatel { .. } => "dexatel",
            GatewayConfig::Plivo { .. } => "plivo",
            GatewayConfig::Sinch { .. } => "sinch",
            GatewayConfig::Infobip { .. } => "infobip",
        }
    }

    /// The named credentials, if any.
    pub(crate) fn credentials(&self) -> Option<&str> {
        match self {
            GatewayConfig::Outbox | GatewayConfig::Webhook { .. } => None,
            GatewayConfig::Twilio { credentials, .. }
            | GatewayConfig::Vonage { credentials }
            | GatewayConfig::Smscx { credentials }
            | GatewayConfig::Dexatel { credentials }
            | GatewayConfig::Plivo { credentials }
            | GatewayConfig::Sinch { credentials }
            | GatewayConfig::Infobip { credentials } => credentials.as_deref(),
        }
    }

    /// The secrets and vars this gateway reads (before any `credentials` suffix):
    /// the adapters' own lists, which their constructors read by the same names.
    pub(crate) fn needs(&self) -> &'static [Need] {
        match self {
            GatewayConfig::Outbox | GatewayConfig::Webhook { .. } => &[],
            GatewayConfig::Twilio { .. } => twilio::NEEDS,
            GatewayConfig::Vonage { .. } => vonage::NEEDS,
            GatewayConfig::Smscx { .. } => smscx::NEEDS,
            GatewayConfig::Dexatel { .. } => dexatel::NEEDS,
            GatewayConfig::Plivo { .. } => plivo::NEEDS,
            GatewayConfig::Sinch { .. } => sinch::NEEDS,
            GatewayConfig::Infobip { .. } => infobip::NEEDS,
        }
    }

    /// Whether each secret and var of [`GatewayConfig::needs`] is set in
    /// `settings`, under the name this gateway reads it by (suffixed for named
    /// credentials), never its value; and the first reason the gateway cannot
    /// send, if any. `development`: whether `ENVIRONMENT` is `development`.
    pub(crate) fn readiness<S: Settings + ?Sized>(
        &self,
        settings: &S,
        development: bool,
    ) -> Readiness {
        let named = Named::new(settings, self.credentials());
        let settings: Vec<SettingState> = self
            .needs()
            .iter()
            .map(|need| {
                let (name, configured) = named.source(need.name);
                SettingState {
                    name,
                    secret: need.secret,
                    required: need.required,
                    receipts: need.receipts,
                    configured,
                }
            })
            .collect();
        let problem = match self {
            GatewayConfig::Outbox if !development => Some(GatewayError::OutboxDisabled.message()),
            GatewayConfig::Webhook { url }
                if check_callback_url(url, private_hosts(development)).is_err() =>
            {
                Some(WEBHOOK_PRIVATE_HOST)
            }
            _ if settings.iter().any(|s| s.required && !s.configured) => {
                Some("a required secret is not set")
            }
            _ => None,
        };
        Readiness { settings, problem }
    }

    /// Checks the configuration itself (not the provider credentials, which may
    /// be set later): the webhook URL is https (http only for localhost), a
    /// Twilio Messaging Service SID looks like one, a credentials name is 1-32
    /// upper-case letters, digits or `_`, and the outbox is allowed only when
    /// `ENVIRONMENT` is `development` ([`GatewayError::OutboxDisabled`]).
    pub(crate) fn validate(&self, env: &Env) -> Result<(), GatewayError> {
        self.check(crate::config::is_development(env))
    }

    /// [`GatewayConfig::validate`] with the environment decided by the caller.
    pub(crate) fn check(&self, development: bool) -> Result<(), GatewayError> {
        if let Some(name) = self.credentials() {
            if !is_credentials_name(name) {
                return Err(GatewayError::InvalidConfig(
                    "credentials must be 1-32 upper-case letters, digits or _ (the suffix of the provider's secrets)",
                ));
            }
        }
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
                ..
            } if !twilio::is_sid(sid, "MG") => Err(GatewayError::InvalidConfig(
                "messagingServiceSid must be MG followed by 32 hex digits",
            )),
            _ => Ok(()),
        }
    }
}

/// Whether `name` can suffix a secret name: 1-32 of `A-Z`, `0-9`, `_`.
pub(crate) fn is_credentials_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A secret or var an adapter reads from the environment (`NEEDS` of each
/// provider module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Need {
    /// Its name, before any `credentials` suffix.
    pub(crate) name: &'static str,
    /// A secret (`wrangler secret put`), else a var (`wrangler.toml`).
    pub(crate) secret: bool,
    /// Sends fail without it ([`GatewayError::NotConfigured`]).
    pub(crate) required: bool,
    /// Used for delivery receipts only.
    pub(crate) receipts: bool,
}

impl Need {
    /// A secret that every send needs.
    pub(crate) const fn secret(name: &'static str) -> Need {
        Need {
            name,
            secret: true,
            required: true,
            receipts: false,
        }
    }
    /// An optional secret that authenticates delivery receipts.
    pub(crate) const fn receipts(name: &'static str) -> Need {
        Need {
            name,
            secret: true,
            required: false,
            receipts: true,
        }
    }
    /// An optional var (an API host, a signature method).
    pub(crate) const fn var(name: &'static str) -> Need {
        Need {
            name,
            secret: false,
            required: false,
            receipts: false,
        }
    }
}

/// Whether one secret or var of a gateway is set (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SettingState {
    /// The name it is read by (`TWILIO_AUTH_TOKEN_EU` for credentials `EU`).
    pub(crate) name: String,
    pub(crate) secret: bool,
    pub(crate) required: bool,
    pub(crate) receipts: bool,
    pub(crate) configured: bool,
}

/// What a gateway reads and whether it can send ([`GatewayConfig::readiness`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// Each secret and var it reads.
    pub(crate) settings: Vec<SettingState>,
    /// Why it cannot send, if it cannot.
    pub(crate) problem: Option<&'static str>,
}

/// Why a webhook gateway is refused at send time outside development.
const WEBHOOK_PRIVATE_HOST: &str =
    "the webhook gateway's url names a private host (allowed in development only)";

/// Whether webhook URLs may name private hosts.
fn private_hosts(development: bool) -> PrivateHosts {
    if development {
        PrivateHosts::Allow
    } else {
        PrivateHosts::Refuse
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
    /// Where the provider should POST its delivery receipts, if anywhere.
    pub(crate) report_url: Option<&'a str>,
}

/// How one application sends one SMS: the gateways of its route and what
/// receipts need.
pub(crate) struct SendPlan<'a> {
    /// The application's own gateway (used when no route matches).
    pub(crate) gateway: &'a GatewayConfig,
    /// Its routes.
    pub(crate) routes: &'a [Route],
    /// Its webhook secret (signs the `webhook` gateway's requests).
    pub(crate) webhook_secret: &'a str,
    /// The destination's country.
    pub(crate) country: &'a str,
    /// The application's receipt token (for providers that do not sign receipts).
    pub(crate) receipt_token: &'a str,
    /// Whether to ask providers for delivery receipts (when `PUBLIC_BASE_URL` is
    /// set): not for a test SMS, which has no OTP for a receipt to settle.
    pub(crate) receipts: bool,
}

/// One gateway tried by [`send_sms`], for a caller that reports each attempt
/// (the admin's test SMS): the gateway, its sender, and how it ended, in the
/// words of the log (status codes and setting names; never a secret, the number
/// or the text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Tried {
    /// The gateway type.
    pub(crate) gateway: &'static str,
    /// Its named credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) credentials: Option<String>,
    /// The route's sender through it, when the route sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<String>,
    /// `accepted`, `unknown` (may have been sent: never sent again) or `not_accepted`.
    pub(crate) outcome: &'static str,
    /// The error's code, when not accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) code: Option<u16>,
    /// What happened, as the log says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
}

impl Tried {
    fn of(gateway: &GatewayConfig, from: Option<&str>, attempt: &Attempt) -> Tried {
        let (outcome, code, detail) = match attempt {
            Attempt::Accepted(_) => ("accepted", None, None),
            Attempt::Unknown(why) => ("unknown", None, Some(why.to_string())),
            Attempt::NotAccepted(e) => ("not_accepted", Some(e.code()), Some(e.to_string())),
        };
        Tried {
            gateway: gateway.kind(),
            credentials: gateway.credentials().map(str::to_owned),
            from: from.map(str::to_owned),
            outcome,
            code,
            detail,
        }
    }
}

/// What a gateway answered when it took the message, or may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    /// The provider's id of the message, when its reply has one.
    pub(crate) message_id: Option<String>,
    /// [`DeliveryStatus::Pending`] (taken) or [`DeliveryStatus::Unknown`] (may
    /// have been taken: never send it again).
    pub(crate) delivery: DeliveryStatus,
    /// The gateway type that took it.
    pub(crate) provider: &'static str,
    /// The named credentials it went with.
    pub(crate) credentials: Option<String>,
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
    /// No reply before the deadline (a possible send: logged, never returned
    /// for a send).
    Timeout,
    /// The connection failed without a reply (refused, reset, DNS), or
    /// Cloudflare could not reach the provider's host (521, 523, 525, 526, 530).
    Unreachable,
    /// A success status with a reply that could not be read (a possible send:
    /// logged, never returned for a send).
    BadReply,
    /// A setting the gateway needs is missing or invalid (its name, for the log).
    NotConfigured(&'static str),
    /// The gateway configuration of the application is invalid (the reason).
    InvalidConfig(&'static str),
    /// The outbox is chosen or used while `ENVIRONMENT` is not `development`
    /// (a configuration the deployment does not allow, hence 400).
    OutboxDisabled,
    /// The provider answered 429 or 503 (or Vonage's "throttled"): it did not
    /// take the message, and may later.
    Busy {
        /// HTTP status of the reply.
        status: u16,
    },
}

impl GatewayError {
    /// The API error code (3001-3008).
    pub(crate) fn code(&self) -> u16 {
        match self {
            GatewayError::Rejected { .. } => 3001,
            GatewayError::Timeout => 3002,
            GatewayError::Unreachable => 3003,
            GatewayError::BadReply => 3004,
            GatewayError::NotConfigured(_) => 3005,
            GatewayError::InvalidConfig(_) => 3006,
            GatewayError::OutboxDisabled => 3007,
            GatewayError::Busy { .. } => 3008,
        }
    }

    /// The HTTP status of the API reply.
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            GatewayError::Rejected { .. } | GatewayError::Unreachable | GatewayError::BadReply => {
                502
            }
            GatewayError::Timeout => 504,
            GatewayError::NotConfigured(_) | GatewayError::Busy { .. } => 503,
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
            GatewayError::Busy { .. } => "the sms gateway is busy; retry later",
        }
    }

    /// Whether the message provably did not go out and the next gateway of the
    /// route may be tried.
    pub(crate) fn fails_over(&self) -> bool {
        matches!(
            self,
            GatewayError::Busy { .. } | GatewayError::Unreachable | GatewayError::NotConfigured(_)
        )
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
            GatewayError::Timeout => f.write_str("no reply before the deadline"),
            GatewayError::Unreachable => f.write_str("unreachable"),
            GatewayError::BadReply => f.write_str("unreadable reply"),
            GatewayError::NotConfigured(name) => write!(f, "setting {name} is missing or invalid"),
            GatewayError::InvalidConfig(reason) => write!(f, "invalid configuration: {reason}"),
            GatewayError::OutboxDisabled => f.write_str("outbox used outside development"),
            GatewayError::Busy { status } => write!(f, "busy (HTTP {status})"),
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

/// How one attempt through one gateway ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    /// Taken, with the provider's message id when its reply had one.
    Accepted(Option<String>),
    /// Maybe taken (the cause, for the log): never send again.
    Unknown(Unsure),
    /// Not taken.
    NotAccepted(GatewayError),
}

/// Why an attempt may or may not have sent the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsure {
    /// No reply before the deadline.
    Timeout,
    /// A server error other than 503.
    ServerError(u16),
    /// A success status with a reply that could not be read.
    BadReply,
}

impl fmt::Display for Unsure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsure::Timeout => f.write_str("no reply before the deadline"),
            Unsure::ServerError(status) => write!(f, "HTTP {status}"),
            Unsure::BadReply => f.write_str("unreadable success reply"),
        }
    }
}

/// What a provider's reply means before its own reading of it: the statuses
/// that say the same whatever the provider.
fn classify(reply: &HttpReply) -> Option<Attempt> {
    match reply.status {
        429 | 503 => Some(Attempt::NotAccepted(GatewayError::Busy {
            status: reply.status,
        })),
        // Cloudflare: the origin refused the connection (521), could not be
        // reached (523), failed the TLS handshake (525, 526), or its name did
        // not resolve (530): the request never reached it.
        521 | 523 | 525 | 526 | 530 => Some(Attempt::NotAccepted(GatewayError::Unreachable)),
        500..=599 => Some(Attempt::Unknown(Unsure::ServerError(reply.status))),
        _ => None,
    }
}

/// The attempt for a fetch outcome and the provider's reading of a reply.
fn attempt_of(
    fetched: Result<HttpReply, FetchError>,
    read: impl FnOnce(&HttpReply) -> Result<Option<String>, GatewayError>,
) -> Attempt {
    let reply = match fetched {
        Ok(reply) => reply,
        Err(FetchError::Timeout) => return Attempt::Unknown(Unsure::Timeout),
        Err(FetchError::Unreachable) => return Attempt::NotAccepted(GatewayError::Unreachable),
        Err(FetchError::Invalid) => {
            return Attempt::NotAccepted(GatewayError::from(FetchError::Invalid))
        }
    };
    if let Some(attempt) = classify(&reply) {
        return attempt;
    }
    match read(&reply) {
        Ok(id) => Attempt::Accepted(id),
        Err(GatewayError::BadReply) => Attempt::Unknown(Unsure::BadReply),
        Err(e) => Attempt::NotAccepted(e),
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

/// What to do after an attempt: done (with the receipt or the error), or the next gateway.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Done(Result<Option<String>, GatewayError>, DeliveryStatus),
    TryNext(GatewayError),
}

fn next_after(attempt: Attempt) -> Next {
    match attempt {
        Attempt::Accepted(id) => Next::Done(Ok(id), DeliveryStatus::Pending),
        Attempt::Unknown(_) => Next::Done(Ok(None), DeliveryStatus::Unknown),
        Attempt::NotAccepted(e) if e.fails_over() => Next::TryNext(e),
        Attempt::NotAccepted(e) => Next::Done(Err(e), DeliveryStatus::Pending),
    }
}

/// Sends `sms` through the gateways of its route in `plan`, first to last, all
/// within one deadline (see the module docs for what each outcome means). Logs
/// each attempt's gateway, the otpId and the outcome, never the number or the text;
/// with `trace`, also appends each attempt there.
pub(crate) async fn send_sms(
    env: &Env,
    plan: &SendPlan<'_>,
    sms: &OutgoingSms<'_>,
    mut trace: Option<&mut Vec<Tried>>,
) -> Result<Receipt, GatewayError> {
    let budget = fetch::millis_setting(
        env.setting(GATEWAY_TIMEOUT_VAR),
        DEFAULT_TIMEOUT_MS,
        MAX_TIMEOUT_MS,
    );
    let deadline = now_ms().saturating_add(budget.as_millis() as u64);
    let steps = routes::resolve(plan.routes, plan.gateway, plan.country, &sms.message.to);
    let base = env.setting(PUBLIC_BASE_URL_VAR).filter(|_| plan.receipts);
    let mut last = GatewayError::Timeout;
    for (gateway, from) in steps {
        let left = deadline.saturating_sub(now_ms());
        if left == 0 {
            worker::console_warn!(
                "gateway {}: otp {} not tried: no time left",
                gateway.kind(),
                sms.otp_id
            );
            break;
        }
        let attempt = attempt(env, plan, gateway, from, base.as_deref(), sms, left).await;
        let attempt = match attempt {
            Attempt::NotAccepted(e) => Attempt::NotAccepted(e.scrubbed(sms.message)),
            other => other,
        };
        log_attempt(gateway.kind(), sms.otp_id, &attempt);
        if let Some(trace) = trace.as_deref_mut() {
            trace.push(Tried::of(gateway, from, &attempt));
        }
        match next_after(attempt) {
            Next::Done(result, delivery) => {
                return result.map(|message_id| Receipt {
                    message_id,
                    delivery,
                    provider: gateway.kind(),
                    credentials: gateway.credentials().map(str::to_owned),
                })
            }
            Next::TryNext(e) => last = e,
        }
    }
    Err(last)
}

fn log_attempt(kind: &str, otp_id: &str, attempt: &Attempt) {
    match attempt {
        Attempt::Accepted(_) => worker::console_log!("gateway {kind}: otp {otp_id} sent"),
        Attempt::Unknown(why) => worker::console_warn!(
            "gateway {kind}: otp {otp_id} delivery unknown ({why}): not sent again"
        ),
        Attempt::NotAccepted(err) => {
            worker::console_warn!("gateway {kind}: otp {otp_id} not sent: {err}")
        }
    }
}

/// Milliseconds since the epoch (the wall clock: the deadline of a send is real time).
fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// One attempt through `gateway`, sending as `from` when the route says so, with
/// `left` of the deadline.
async fn attempt(
    env: &Env,
    plan: &SendPlan<'_>,
    gateway: &GatewayConfig,
    from: Option<&str>,
    base: Option<&str>,
    sms: &OutgoingSms<'_>,
    left: u64,
) -> Attempt {
    let message;
    let message = match from {
        Some(from) => {
            message = SmsMessage {
                from: from.to_owned(),
                ..sms.message.clone()
            };
            &message
        }
        None => sms.message,
    };
    let timeout = Duration::from_millis(left);
    let credentials = gateway.credentials();
    let settings = Named::new(env, credentials);
    let provider: Box<dyn Provider + '_> = match gateway {
        GatewayConfig::Outbox => {
            let sms = OutgoingSms { message, ..*sms };
            return match outbox::store(env, &sms).await {
                Ok(()) => Attempt::Accepted(None),
                Err(e) => Attempt::NotAccepted(e),
            };
        }
        GatewayConfig::Webhook { url } => 'webhook: {
            let private_hosts = private_hosts(crate::config::is_development(env));
            if check_callback_url(url, private_hosts).is_err() {
                return Attempt::NotAccepted(GatewayError::NotConfigured(
                    "the webhook gateway's url (a private host outside development)",
                ));
            }
            let now = (now_ms() / 1000) as i64;
            break 'webhook boxed(webhook::Webhook::new(url, plan.webhook_secret, now));
        }
        provider => http_provider(provider, &settings),
    }
    .unwrap_or_else(|e| Box::new(Failed(e)));
    let report_url = base.filter(|_| provider.takes_report_url()).map(|base| {
        report_url(
            base,
            gateway.kind(),
            sms.app_id,
            sms.otp_id,
            credentials,
            (!provider.signs_receipts()).then_some(plan.receipt_token),
        )
    });
    let sms = OutgoingSms {
        message,
        report_url: report_url.as_deref(),
        ..*sms
    };
    deliver(provider.as_ref(), &sms, timeout).await
}

/// The HTTP adapter of `gateway` with its credentials from `settings` (the
/// outbox and the webhook gateway are not built here).
fn http_provider<'a, S: Settings>(
    gateway: &'a GatewayConfig,
    settings: &S,
) -> Result<Box<dyn Provider + 'a>, GatewayError> {
    match gateway {
        GatewayConfig::Twilio {
            messaging_service_sid,
            ..
        } => boxed(twilio::Twilio::new(
            settings,
            messaging_service_sid.as_deref(),
        )),
        GatewayConfig::Vonage { .. } => boxed(vonage::Vonage::new(settings)),
        GatewayConfig::Smscx { .. } => boxed(smscx::Smscx::new(settings)),
        GatewayConfig::Dexatel { .. } => boxed(dexatel::Dexatel::new(settings)),
        GatewayConfig::Plivo { .. } => boxed(plivo::Plivo::new(settings)),
        GatewayConfig::Sinch { .. } => boxed(sinch::Sinch::new(settings)),
        GatewayConfig::Infobip { .. } => boxed(infobip::Infobip::new(settings)),
        GatewayConfig::Outbox | GatewayConfig::Webhook { .. } => {
            Err(GatewayError::InvalidConfig("not an HTTP provider"))
        }
    }
}

/// A provider that could not be built: every attempt through it is its error.
struct Failed(GatewayError);

impl Provider for Failed {
    fn request(&self, _: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        Err(self.0.clone())
    }
    fn accepted(&self, _: &HttpReply) -> Result<Option<String>, GatewayError> {
        Err(self.0.clone())
    }
}

fn boxed<'a, P: Provider + 'a>(
    provider: Result<P, GatewayError>,
) -> Result<Box<dyn Provider + 'a>, GatewayError> {
    provider.map(|p| Box::new(p) as Box<dyn Provider + 'a>)
}

/// The receipt URL of one SMS: `{base}/dlr/{kind}/{appId}?otp={otpId}`, with
/// `&cred={NAME}` for named credentials and `&token={token}` for a provider that
/// does not sign its receipts. (Every value is URL-safe: a UUID, a credentials
/// name, base64url.)
pub(crate) fn report_url(
    base: &str,
    kind: &str,
    app_id: &str,
    otp_id: &str,
    credentials: Option<&str>,
    token: Option<&str>,
) -> String {
    let mut url = format!(
        "{}/dlr/{kind}/{app_id}?otp={otp_id}",
        base.trim().trim_end_matches('/')
    );
    if let Some(name) = credentials {
        url.push_str("&cred=");
        url.push_str(name);
    }
    if let Some(token) = token {
        url.push_str("&token=");
        url.push_str(token);
    }
    url
}

/// Sends the provider's request and reads its reply. (A trait object, not a
/// generic: one copy of the fetch and its deadline for every provider.)
async fn deliver(provider: &dyn Provider, sms: &OutgoingSms<'_>, timeout: Duration) -> Attempt {
    let request = match provider.request(sms) {
        Ok(request) => request,
        Err(e) => return Attempt::NotAccepted(e),
    };
    let fetched = fetch::post(&request, timeout).await;
    attempt_of(fetched, |reply| provider.accepted(reply))
}

/// One HTTP SMS API, sans-IO: the request that sends an SMS, and what its reply means.
trait Provider {
    /// The POST that sends `sms` (asking for receipts at `sms.report_url`, if set).
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError>;
    /// The message id in a reply that is not a 429, 503 or 5xx (those mean the
    /// same for every provider): `Ok` when the provider took the message,
    /// [`GatewayError::BadReply`] when a success cannot be read, another error
    /// when it refused.
    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError>;
    /// Whether the provider takes a receipt URL per message.
    fn takes_report_url(&self) -> bool {
        false
    }
    /// Whether the provider signs its receipts (else the URL carries the token).
    fn signs_receipts(&self) -> bool {
        false
    }
}

/// Where adapters read their settings: secrets and vars by name.
pub(crate) trait Settings {
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

/// The settings of named credentials: secret `NAME` is read as `NAME_{suffix}`
/// (never falling back to the unsuffixed one, which belongs to another account);
/// an `*_API_BASE` var as `NAME_{suffix}` when set, else as `NAME`.
pub(crate) struct Named<'a, S: Settings + ?Sized> {
    inner: &'a S,
    suffix: Option<&'a str>,
}

impl<'a, S: Settings + ?Sized> Named<'a, S> {
    pub(crate) fn new(inner: &'a S, suffix: Option<&'a str>) -> Self {
        Named { inner, suffix }
    }
}

impl<S: Settings + ?Sized> Named<'_, S> {
    /// The name `name` is read by and its value, if set: the one rule of named
    /// credentials, for sends ([`Settings::setting`]) and for the admin view
    /// ([`Named::source`]).
    fn lookup(&self, name: &str) -> (String, Option<String>) {
        let Some(suffix) = self.suffix else {
            return (name.to_owned(), self.inner.setting(name));
        };
        let named = format!("{name}_{suffix}");
        match self.inner.setting(&named) {
            None if name.ends_with("_API_BASE") => match self.inner.setting(name) {
                Some(value) => (name.to_owned(), Some(value)),
                None => (named, None),
            },
            value => (named, value),
        }
    }

    /// The name `name` is read by, and whether it is set (never its value).
    pub(crate) fn source(&self, name: &str) -> (String, bool) {
        let (name, value) = self.lookup(name);
        (name, value.is_some())
    }
}

impl<S: Settings + ?Sized> Settings for Named<'_, S> {
    fn setting(&self, name: &str) -> Option<String> {
        self.lookup(name).1
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
/// `error_code`, `errorCode`, Infobip's `requestError.serviceException.messageId`).
fn rejected(reply: &HttpReply) -> GatewayError {
    GatewayError::Rejected {
        status: reply.status,
        provider_code: first_text_at(
            &reply.body,
            &[
                "/code",
                "/error/code",
                "/errors/0/code",
                "/error_code",
                "/errorCode",
                "/requestError/serviceException/messageId",
            ],
        ),
    }
}

/// The message id of a provider for which any 2xx means sent: the first text
/// found at `id_pointers` in the reply, if any.
fn id_on_2xx(reply: &HttpReply, id_pointers: &[&str]) -> Result<Option<String>, GatewayError> {
    if !is_success(reply.status) {
        return Err(rejected(reply));
    }
    Ok(first_text_at(&reply.body, id_pointers))
}

/// The first short, printable string or number found in JSON `body` at one of
/// the JSON `pointers`. Values longer than 64 characters or with other
/// characters than `[A-Za-z0-9._:-]` are ignored, so nothing a provider echoes
/// (a phone number is digits, but never at these paths) reaches a log unchecked.
fn first_text_at(body: &str, pointers: &[&str]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    pointers.iter().find_map(|pointer| text_at(&json, pointer))
}

/// The short, printable string or number at `pointer` in `json` (see [`first_text_at`]).
fn text_at(json: &serde_json::Value, pointer: &str) -> Option<String> {
    let text = match json.pointer(pointer)? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    delivery::clean_id(&text)
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

    /// `message` to send as OTP `otp` of app `app`, with receipts at `report_url`.
    pub(crate) fn outgoing<'a>(
        message: &'a SmsMessage,
        report_url: Option<&'a str>,
    ) -> super::OutgoingSms<'a> {
        super::OutgoingSms {
            app_id: "app",
            otp_id: "123e4567-e89b-42d3-a456-426614174000",
            message,
            report_url,
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
                    credentials: None,
                },
                r#"{"type":"twilio"}"#,
            ),
            (
                GatewayConfig::Twilio {
                    messaging_service_sid: Some("MG0123456789abcdef0123456789abcdef".into()),
                    credentials: Some("EU".into()),
                },
                r#"{"type":"twilio","messagingServiceSid":"MG0123456789abcdef0123456789abcdef","credentials":"EU"}"#,
            ),
            (
                GatewayConfig::Vonage { credentials: None },
                r#"{"type":"vonage"}"#,
            ),
            (
                GatewayConfig::Smscx { credentials: None },
                r#"{"type":"smscx"}"#,
            ),
            (
                GatewayConfig::Dexatel { credentials: None },
                r#"{"type":"dexatel"}"#,
            ),
            (
                GatewayConfig::Plivo {
                    credentials: Some("US_2".into()),
                },
                r#"{"type":"plivo","credentials":"US_2"}"#,
            ),
            (
                GatewayConfig::Sinch { credentials: None },
                r#"{"type":"sinch"}"#,
            ),
            (
                GatewayConfig::Infobip { credentials: None },
                r#"{"type":"infobip"}"#,
            ),
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
        assert_eq!(
            GatewayConfig::Vonage { credentials: None }.check(false),
            Ok(())
        );
    }

    #[test]
    fn credentials_names_are_secret_suffixes() {
        let check = |name: &str| {
            GatewayConfig::Sinch {
                credentials: Some(name.into()),
            }
            .check(false)
            .map_err(|e| e.code())
        };
        assert_eq!(check("EU"), Ok(()));
        assert_eq!(check("US_10DLC"), Ok(()));
        for bad in ["", "eu", "E-U", "A B", &"X".repeat(33)] {
            assert_eq!(check(bad), Err(3006), "{bad}");
        }
    }

    #[test]
    fn named_credentials_read_suffixed_secrets_and_never_the_plain_ones() {
        let env = test_support::FakeSettings(vec![
            ("TWILIO_AUTH_TOKEN", "plain"),
            ("TWILIO_AUTH_TOKEN_EU", "eu"),
            ("TWILIO_API_BASE", "http://127.0.0.1:1"),
        ]);
        assert_eq!(
            Named::new(&env, None)
                .setting("TWILIO_AUTH_TOKEN")
                .as_deref(),
            Some("plain")
        );
        let eu = Named::new(&env, Some("EU"));
        assert_eq!(eu.setting("TWILIO_AUTH_TOKEN").as_deref(), Some("eu"));
        assert_eq!(
            eu.setting("TWILIO_API_BASE").as_deref(),
            Some("http://127.0.0.1:1")
        );
        let us = Named::new(&env, Some("US"));
        assert_eq!(us.setting("TWILIO_AUTH_TOKEN"), None);
    }

    /// Every HTTP provider, with named credentials `credentials`.
    fn providers(credentials: Option<&str>) -> Vec<GatewayConfig> {
        let c = || credentials.map(str::to_owned);
        vec![
            GatewayConfig::Twilio {
                messaging_service_sid: None,
                credentials: c(),
            },
            GatewayConfig::Vonage { credentials: c() },
            GatewayConfig::Smscx { credentials: c() },
            GatewayConfig::Dexatel { credentials: c() },
            GatewayConfig::Plivo { credentials: c() },
            GatewayConfig::Sinch { credentials: c() },
            GatewayConfig::Infobip { credentials: c() },
        ]
    }

    /// Settings that remember every name read.
    struct Recording<'a>(
        &'a test_support::FakeSettings,
        std::cell::RefCell<Vec<String>>,
    );

    impl Settings for Recording<'_> {
        fn setting(&self, name: &str) -> Option<String> {
            self.1.borrow_mut().push(name.to_owned());
            self.0.setting(name)
        }
    }

    /// A value of the right shape for secret `name`.
    fn value_for(name: &str) -> &'static str {
        match name {
            "TWILIO_ACCOUNT_SID" => "AC0123456789abcdef0123456789abcdef",
            _ => "s3cretValue0123456789",
        }
    }

    #[test]
    fn a_provider_sends_with_exactly_its_required_secrets_and_reads_only_what_it_lists() {
        use otp_core::sms::SmsEncoding;
        let message = test_support::message("Acme: 123456", SmsEncoding::Gsm7);
        let sms = test_support::outgoing(&message, Some("https://otp.example.com/dlr"));
        for gateway in providers(None) {
            let needs = gateway.needs();
            let required: Vec<&'static str> = needs
                .iter()
                .filter(|n| n.required)
                .map(|n| n.name)
                .collect();
            assert!(!required.is_empty(), "{}", gateway.kind());
            let all =
                test_support::FakeSettings(required.iter().map(|&n| (n, value_for(n))).collect());
            let recording = Recording(&all, Default::default());
            let provider = http_provider(&gateway, &recording)
                .unwrap_or_else(|e| panic!("{}: {e}", gateway.kind()));
            provider.request(&sms).unwrap();
            for name in recording.1.borrow().iter() {
                assert!(
                    needs.iter().any(|n| n.name == name),
                    "{} reads {name}, not in its NEEDS",
                    gateway.kind()
                );
            }
            for missing in &required {
                let fewer = test_support::FakeSettings(
                    required
                        .iter()
                        .filter(|n| *n != missing)
                        .map(|&n| (n, value_for(n)))
                        .collect(),
                );
                assert_eq!(
                    http_provider(&gateway, &fewer).err(),
                    Some(GatewayError::NotConfigured(missing)),
                    "{}",
                    gateway.kind()
                );
            }
        }
    }

    #[test]
    fn readiness_names_each_setting_as_read_and_never_its_value() {
        let env = test_support::FakeSettings(vec![
            (
                "TWILIO_ACCOUNT_SID_EU",
                "AC0123456789abcdef0123456789abcdef",
            ),
            ("TWILIO_AUTH_TOKEN", "plain-token"),
            ("TWILIO_API_BASE", "http://127.0.0.1:1"),
        ]);
        let eu = GatewayConfig::Twilio {
            messaging_service_sid: None,
            credentials: Some("EU".into()),
        };
        let r = eu.readiness(&env, false);
        let state = |name: &str, secret, required, configured| SettingState {
            name: name.into(),
            secret,
            required,
            receipts: false,
            configured,
        };
        assert_eq!(
            r.settings,
            [
                state("TWILIO_ACCOUNT_SID_EU", true, true, true),
                // The plain token belongs to another account: not a fallback.
                state("TWILIO_AUTH_TOKEN_EU", true, true, false),
                // An API base falls back to the plain var.
                state("TWILIO_API_BASE", false, false, true),
            ]
        );
        assert_eq!(r.problem, Some("a required secret is not set"));
        let plain = GatewayConfig::Twilio {
            messaging_service_sid: None,
            credentials: None,
        };
        let r = plain.readiness(&env, false);
        assert_eq!(
            r.settings[0],
            state("TWILIO_ACCOUNT_SID", true, true, false)
        );
        assert_eq!(r.settings[1], state("TWILIO_AUTH_TOKEN", true, true, true));
        let json = serde_json::to_string(&r.settings).unwrap();
        assert!(
            !json.contains("plain-token") && !json.contains("127.0.0.1"),
            "{json}"
        );
        assert_eq!(
            GatewayConfig::Vonage { credentials: None }.needs()[2],
            Need::receipts("VONAGE_SIGNATURE_SECRET")
        );
        // The outbox and the webhook gateway read no secret.
        assert_eq!(GatewayConfig::Outbox.readiness(&env, true).problem, None);
        assert!(GatewayConfig::Outbox
            .readiness(&env, false)
            .problem
            .is_some());
        let hook = GatewayConfig::Webhook {
            url: "http://127.0.0.1:9/sms".into(),
        };
        assert_eq!(
            hook.readiness(&env, true),
            Readiness {
                settings: vec![],
                problem: None
            }
        );
        assert_eq!(
            hook.readiness(&env, false).problem,
            Some(WEBHOOK_PRIVATE_HOST)
        );
        for gateway in providers(Some("US")) {
            let r = gateway.readiness(&test_support::FakeSettings(vec![]), false);
            assert!(r.problem.is_some(), "{}", gateway.kind());
            assert!(
                r.settings
                    .iter()
                    .filter(|s| s.secret)
                    .all(|s| s.name.ends_with("_US")),
                "{}",
                gateway.kind()
            );
        }
    }

    #[test]
    fn the_whole_send_ends_before_the_dexatel_send_reservation() {
        let budget =
            fetch::millis_setting(Some("60000".into()), DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
        assert_eq!(budget.as_millis() as u64, MAX_TIMEOUT_MS);
    }

    fn reply(status: u16, body: &str) -> Result<HttpReply, FetchError> {
        Ok(HttpReply {
            status,
            body: body.into(),
        })
    }

    /// A provider reading: 2xx is an id, `{}` is unreadable, the rest refused.
    fn read(reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        match (reply.status, reply.body.as_str()) {
            (200..=299, "{}") => Err(GatewayError::BadReply),
            (200..=299, id) => Ok(Some(id.into())),
            _ => Err(rejected(reply)),
        }
    }

    #[test]
    fn a_send_fails_over_only_when_the_message_provably_did_not_go_out() {
        let next = |fetched| next_after(attempt_of(fetched, read));
        // Taken.
        assert_eq!(
            next(reply(201, "SM1")),
            Next::Done(Ok(Some("SM1".into())), DeliveryStatus::Pending)
        );
        // Not taken: the next gateway.
        for status in [429, 503, 521, 523, 525, 526, 530] {
            assert!(
                matches!(next(reply(status, "")), Next::TryNext(_)),
                "{status}"
            );
        }
        assert_eq!(
            next(Err(FetchError::Invalid)),
            Next::TryNext(GatewayError::from(FetchError::Invalid))
        );
        assert_eq!(
            next(Err(FetchError::Unreachable)),
            Next::TryNext(GatewayError::Unreachable)
        );
        // Maybe taken: kept, never sent again.
        for fetched in [
            reply(500, ""),
            reply(502, ""),
            reply(504, ""),
            reply(520, ""),
            reply(200, "{}"),
            Err(FetchError::Timeout),
        ] {
            assert_eq!(
                next(fetched.clone()),
                Next::Done(Ok(None), DeliveryStatus::Unknown),
                "{fetched:?}"
            );
        }
        // Refused: the answer, no failover.
        assert_eq!(
            next(reply(400, r#"{"code":21211}"#)),
            Next::Done(
                Err(GatewayError::Rejected {
                    status: 400,
                    provider_code: Some("21211".into())
                }),
                DeliveryStatus::Pending
            )
        );
        assert!(matches!(next(reply(401, "")), Next::Done(Err(_), _)));
    }

    #[test]
    fn receipt_urls_name_the_provider_app_and_otp_and_carry_the_token_when_unsigned() {
        assert_eq!(
            report_url(
                "https://otp.example.com/",
                "twilio",
                "app",
                "otp-1",
                None,
                None
            ),
            "https://otp.example.com/dlr/twilio/app?otp=otp-1"
        );
        assert_eq!(
            report_url(
                "https://otp.example.com",
                "sinch",
                "app",
                "otp-1",
                Some("EU"),
                Some("tok")
            ),
            "https://otp.example.com/dlr/sinch/app?otp=otp-1&cred=EU&token=tok"
        );
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
                credentials: None,
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
            GatewayError::Busy { status: 429 },
        ];
        let codes: Vec<u16> = all.iter().map(GatewayError::code).collect();
        assert_eq!(codes, (3001..=3008).collect::<Vec<_>>());
        let statuses: Vec<u16> = all.iter().map(GatewayError::http_status).collect();
        assert_eq!(statuses, [502, 504, 502, 502, 503, 400, 400, 503]);
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
