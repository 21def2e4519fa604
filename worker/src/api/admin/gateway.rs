//! The console's *Gateway and routes* tab: which secrets and vars each gateway of
//! an application reads and whether each is set (never a value), and a test SMS
//! sent through the application's gateways as an OTP's SMS goes.

use otp_core::settings::OtpRequest;
use otp_core::template::{hidden_char, TextKind, MAX_TEMPLATE_CHARS};
use serde::Serialize;
use serde_json::Value;
use worker::Response;

use crate::apps::AppRecord;
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::gateway::{GatewayConfig, Receipt, SettingState, Tried};
use crate::service::Service;

/// One gateway as the tab shows it: its configuration (no secret is part of
/// one), the route's sender through it, and what it reads from the environment.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GatewayView<'a> {
    #[serde(flatten)]
    config: &'a GatewayConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    /// Whether it can send (every required secret set; the outbox in
    /// development; a webhook URL the deployment allows).
    ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'static str>,
    /// Each secret and var it reads, by the name it reads it, and whether it is set.
    settings: Vec<SettingState>,
}

#[derive(Serialize)]
struct RouteView<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    countries: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    prefixes: &'a [String],
    gateways: Vec<GatewayView<'a>>,
}

#[derive(Serialize)]
struct Gateways<'a> {
    /// Whether `ENVIRONMENT` is `development` (the outbox works only then).
    development: bool,
    gateway: GatewayView<'a>,
    routes: Vec<RouteView<'a>>,
}

/// The view of `config` with the route's sender `from`.
fn view<'a>(
    rc: &RequestContext,
    development: bool,
    config: &'a GatewayConfig,
    from: Option<&'a str>,
) -> GatewayView<'a> {
    let readiness = config.readiness(&rc.env, development);
    GatewayView {
        config,
        from,
        ready: readiness.problem.is_none(),
        problem: readiness.problem,
        settings: readiness.settings,
    }
}

/// `GET /admin/apps/{id}/gateway`: the application's gateway and every gateway
/// of its routes, each with the secrets and vars it reads and whether each is
/// set: never a value (a var's neither, since a var may have been set as a
/// secret).
pub(crate) fn status(rc: &RequestContext, app: &AppRecord) -> ApiResult<Response> {
    let development = crate::config::is_development(&rc.env);
    let view = |config, from| view(rc, development, config, from);
    let body = Gateways {
        development,
        gateway: view(&app.gateway, None),
        routes: app
            .routes
            .iter()
            .map(|route| RouteView {
                countries: &route.countries,
                prefixes: &route.prefixes,
                gateways: route
                    .gateways
                    .iter()
                    .map(|step| view(&step.gateway, step.from.as_deref()))
                    .collect(),
            })
            .collect(),
    };
    crate::reply::json(&body, 200).map_err(|_| ApiError::internal())
}

/// The fields of a test SMS request.
const TEST_SMS_FIELDS: &[&str] = &["phoneNumber", "countryIso", "from", "text"];

/// The error of a test SMS reply when no gateway took it.
#[derive(Serialize)]
struct ErrorView {
    code: u16,
    message: &'static str,
}

/// The reply of `POST /admin/apps/{id}/test-sms`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestSmsReply<'a> {
    /// A gateway took the SMS.
    accepted: bool,
    /// `accepted`; `unknown` (a gateway may have taken it: no reply in time, a
    /// 5xx; never sent again); `not_sent` (no gateway took it); `test_number`
    /// (one of the app's test numbers: no SMS).
    outcome: &'static str,
    /// The gateway that took it (or may have).
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<&'a str>,
    /// The provider's id of the message, when its reply had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
    /// The destination in E.164, its country and type.
    phone_number: &'a str,
    country_iso: &'a str,
    number_type: &'static str,
    /// The application's sender (a route may send through another: see `attempts`).
    from: &'a str,
    encoding: otp_core::sms::SmsEncoding,
    units: u32,
    parts: u32,
    cost: f64,
    /// Each gateway tried, in order.
    attempts: &'a [Tried],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorView>,
}

/// The text of a test SMS: `text` (1-1000 characters, no invisible character its
/// script does not need, as a template), or "Test message from {name}".
fn test_text(app: &AppRecord, text: Option<&Value>) -> ApiResult<String> {
    let text = match text {
        None | Some(Value::Null) => return Ok(format!("Test message from {}", app.name)),
        Some(Value::String(text)) => text,
        Some(_) => return Err(ApiError::test_sms_invalid()),
    };
    let ok = !text.trim().is_empty()
        && text.chars().nth(MAX_TEMPLATE_CHARS).is_none()
        && hidden_char(text, TextKind::Template).is_none();
    if ok {
        Ok(text.clone())
    } else {
        Err(ApiError::test_sms_invalid())
    }
}

/// `POST /admin/apps/{id}/test-sms` with `{"phoneNumber", "countryIso"?, "from"?,
/// "text"?}`: one SMS through the application's gateway and routes, under the
/// rules of a send ([`Service::send_test`]: a refused number, sender, country,
/// size or cap is the send's error, and nothing is sent). 200 with what happened:
/// accepted or not, by which gateway, the provider's message id, the parts, each
/// gateway tried, and the error when no gateway took it. 400 1065 for a body with
/// other fields or a bad `text`.
pub(crate) async fn test_sms(
    rc: &RequestContext,
    app: &AppRecord,
    body: Value,
) -> ApiResult<Response> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::test_sms_invalid());
    };
    if fields
        .keys()
        .any(|k| !TEST_SMS_FIELDS.contains(&k.as_str()))
    {
        return Err(ApiError::test_sms_invalid());
    }
    let text = test_text(app, fields.remove("text").as_ref())?;
    let request: OtpRequest = crate::http::from_value(&Value::Object(fields))
        .map_err(|_| ApiError::test_sms_invalid())?;
    let sent = Service::new(rc, app, None)
        .send_test(&request, &text)
        .await?;
    let (outcome, receipt, error): (_, Option<&Receipt>, _) = match &sent.result {
        None => ("test_number", None, None),
        Some(Ok(receipt)) if receipt.delivery == crate::gateway::DeliveryStatus::Unknown => {
            ("unknown", Some(receipt), None)
        }
        Some(Ok(receipt)) => ("accepted", Some(receipt), None),
        Some(Err(e)) => (
            "not_sent",
            None,
            Some(ErrorView {
                code: e.code(),
                message: e.message(),
            }),
        ),
    };
    let planned = &sent.planned;
    let reply = TestSmsReply {
        accepted: outcome == "accepted",
        outcome,
        gateway: receipt.map(|r| r.provider),
        credentials: receipt.and_then(|r| r.credentials.as_deref()),
        message_id: receipt.and_then(|r| r.message_id.as_deref()),
        phone_number: planned.phone.e164(),
        country_iso: planned.phone.country_iso(),
        number_type: otp_core::recipient::recipient_type(&planned.phone),
        from: &planned.message.from,
        encoding: planned.message.encoding,
        units: planned.message.units,
        parts: planned.message.parts,
        cost: planned.record.cost,
        attempts: &sent.tried,
        error,
    };
    crate::reply::json(&reply, 200).map_err(|_| ApiError::internal())
}
