//! Verifications: `POST /v1/verifications` sends a code, `GET /v1/verifications`
//! checks one (or lists a number's verifications).
//!
//! A verification is an ordinary OTP record of the application (the SMS.CX API
//! reads it by id too), sent and checked by the verification service
//! ([`crate::service`]): the number's shard decides under Dexatel's per-number
//! guard (`otp_core::guard`: blocked 1530, cooldown 1690, `resend_same` or
//! `replace` while a code is pending) one request at a time. The code is numeric,
//! 4-8 digits: `code_length` long (default: the application's `pinLength` if it
//! is 4-8, else 6), or the caller's own `code`. Its life and attempt limit are the
//! application's `ttl` and `maxAttempts`.
//!
//! A check compares the code with the number's current verification (the newest
//! unexpired one) with the same state machine as SMS.CX's `POST /otp/{id}`. A
//! match answers `data: [verification]` (now VERIFIED, unusable again); anything
//! else answers `data: []`. Wrong codes count toward the number's guard through
//! either dialect; the failure that blocks the number also cancels its code.

use otp_core::otp::OtpRecord;
use otp_core::phone::{parse_phone, PhoneNumber};
use otp_core::pin::{generate_pin, PinType};
use otp_core::rng::OsRandom;
use otp_core::settings::{Field, OtpRequest};
use otp_core::time::{format_utc, UnixSeconds};
use serde::Serialize;
use serde_json::Value;
use worker::{Request, Response};

use super::error::{DxError, DxResult};
use super::paging::{Listing, Page};
use super::senders::{resolve_sender, SenderStore};
use super::templates::TemplateStore;
use super::{data_object, field, reply, Channel, Data};
use crate::apps::AppRecord;
use crate::context::RequestContext;
use crate::http;
use crate::service::Service;

/// Shortest code.
const MIN_CODE: usize = 4;
/// Longest code.
const MAX_CODE: usize = 8;
/// Code length when neither the request nor the application says one in 4-8.
const DEFAULT_CODE: u8 = 6;

/// A checked `POST /v1/verifications` body.
#[derive(Debug, Clone, PartialEq)]
struct CreateInput {
    sender: String,
    phone: PhoneNumber,
    template: Option<String>,
    /// The caller's own code.
    code: Option<String>,
    /// Length of a generated code.
    code_length: u8,
}

/// Text of a string or number field.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A phone number as Dexatel takes it: digits with the country code, no `+`
/// (a leading `+` is tolerated). Anything else is 1523.
fn parse_dexatel_phone(text: &str) -> DxResult<PhoneNumber> {
    let digits = text.trim();
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DxError::recipient_invalid());
    }
    parse_phone(&format!("+{digits}"), None).map_err(|_| DxError::recipient_invalid())
}

/// Checks the body field by field; the first violation wins, in the order
/// data, sender, phone, channel, code/code_length, phone validity, template.
fn parse_create(body: &Value, default_length: u8) -> DxResult<CreateInput> {
    let data = data_object(body).ok_or_else(DxError::data_missing)?;
    let sender = match field(data, "sender") {
        None => return Err(DxError::sender_missing()),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(DxError::sender_missing()),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => return Err(DxError::sender_not_found()),
    };
    let phone = match field(data, "phone") {
        None => return Err(DxError::phone_missing()),
        Some(v) => match text_of(v) {
            Some(t) if t.is_empty() => return Err(DxError::phone_missing()),
            Some(t) => t,
            None => return Err(DxError::recipient_invalid()),
        },
    };
    match field(data, "channel") {
        None => {}
        Some(Value::String(c)) if Channel::parse(c) == Some(Channel::Sms) => {}
        Some(_) => return Err(DxError::channel_invalid()),
    }
    let (code, code_length) = match (field(data, "code"), field(data, "code_length")) {
        (Some(_), Some(_)) => return Err(DxError::code_and_length()),
        (Some(code), None) => {
            let code = text_of(code).ok_or_else(DxError::code_not_numeric)?;
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DxError::code_not_numeric());
            }
            if !(MIN_CODE..=MAX_CODE).contains(&code.len()) {
                return Err(DxError::code_length_custom());
            }
            let len = code.len() as u8;
            (Some(code), len)
        }
        (None, Some(length)) => {
            let length = text_of(length)
                .and_then(|t| t.parse::<usize>().ok())
                .filter(|n| (MIN_CODE..=MAX_CODE).contains(n))
                .ok_or_else(DxError::code_length_invalid)?;
            (None, length as u8)
        }
        (None, None) => (None, default_length),
    };
    let phone = parse_dexatel_phone(&phone)?;
    let template = match field(data, "template") {
        None => None,
        Some(Value::String(t)) if t.trim().is_empty() => return Err(DxError::template_missing()),
        Some(Value::String(t)) if otp_core::id::is_uuid(t.trim()) => Some(t.trim().to_owned()),
        Some(_) => return Err(DxError::template_id_invalid()),
    };
    Ok(CreateInput {
        sender,
        phone,
        template,
        code,
        code_length,
    })
}

/// The code length used when the request gives none.
fn default_code_length(app: &AppRecord) -> u8 {
    let length = app.otp.pin_length;
    if (MIN_CODE..=MAX_CODE).contains(&usize::from(length)) {
        length
    } else {
        DEFAULT_CODE
    }
}

/// A verification as the API shows it.
#[derive(Debug, Serialize)]
struct VerificationView<'a> {
    id: &'a str,
    account_id: &'a str,
    message_id: &'a str,
    phone: &'a str,
    channel: Channel,
    status: &'static str,
    create_date: String,
    expire_date: String,
}

fn view<'a>(
    record: &'a OtpRecord,
    app_id: &'a str,
    message_id: &'a str,
    phone: &'a PhoneNumber,
    now: UnixSeconds,
) -> VerificationView<'a> {
    VerificationView {
        id: &record.otp_id,
        account_id: app_id,
        message_id,
        phone: phone.digits(),
        channel: Channel::Sms,
        status: record.status_at(now).as_str(),
        create_date: format_utc(record.created_at),
        expire_date: format_utc(record.expires_at),
    }
}

/// `POST /v1/verifications`: sends a code under the number's guard.
pub(crate) async fn create(
    rc: &RequestContext,
    app: &AppRecord,
    body: &Value,
) -> DxResult<Response> {
    let input = parse_create(body, default_code_length(app))?;
    let kv = &rc.bindings.kv;
    let template = match &input.template {
        None => None,
        Some(id) => {
            let template = TemplateStore::new(kv)
                .get(&app.app_id, id)
                .await?
                .ok_or_else(DxError::template_unknown)?;
            if template.channel != Channel::Sms {
                return Err(DxError::template_incompatible());
            }
            Some(template.text)
        }
    };
    let senders = SenderStore::new(kv).all(&app.app_id).await?;
    let from =
        resolve_sender(&senders, app, &input.sender).ok_or_else(DxError::sender_not_found)?;
    let pin = match (&input.code, app.policy.test_code(&input.phone)) {
        // A test number's code is fixed (`policy.testNumbers`): no SMS goes out.
        (_, Some(test)) => test.to_owned(),
        (Some(code), None) => code.clone(),
        (None, None) => generate_pin(&mut OsRandom, PinType::Numbers, input.code_length)?,
    };
    let request = OtpRequest {
        phone_number: Field::Text(input.phone.e164().to_owned()),
        from: Field::Text(from),
        template: template.map_or(Field::Missing, Field::Text),
        pin_type: Field::Text(PinType::Numbers.as_str().to_owned()),
        custom_pin: Some(pin.clone()),
        ..OtpRequest::default()
    };
    let end_user_ip = rc.end_user.ip(false)?;
    let service = Service::new(rc, app, end_user_ip.as_deref());
    let sent = service.send_to_number(&request, &pin).await?;
    reply(
        &Data(view(
            &sent.record,
            &app.app_id,
            &sent.message_id,
            &input.phone,
            rc.now,
        )),
        201,
    )
}

/// `GET /v1/verifications?phone=…[&code=…][&page_size=…&page_token=…]`: with
/// `code`, a check; without, the number's verifications, newest first.
pub(crate) async fn query(
    rc: &RequestContext,
    app: &AppRecord,
    req: &Request,
) -> DxResult<Response> {
    let phone = match http::query_param(req, "phone") {
        Some(p) if !p.trim().is_empty() => parse_dexatel_phone(&p)?,
        _ => return Err(DxError::phone_missing()),
    };
    let page = Page::parse(
        http::query_param(req, "page_size").as_deref(),
        http::query_param(req, "page_token").as_deref(),
    )?;
    let links_query = format!("phone={}", phone.digits());
    let end_user_ip = rc.end_user.ip(false)?;
    let service = Service::new(rc, app, end_user_ip.as_deref());
    // With a code, the match (at most one) on one page; without, the listing.
    let (items, page) = match http::query_param(req, "code") {
        Some(code) => {
            let matched = service.check_number(&phone, code).await?;
            let page = Page {
                number: 1,
                size: page.size,
            };
            (matched.into_iter().collect::<Vec<_>>(), page)
        }
        None => (service.list_number(&phone).await?, page),
    };
    let total = items.len();
    let data: Vec<_> = page
        .slice(&items)
        .iter()
        .map(|(record, message_id)| view(record, &app.app_id, message_id, &phone, rc.now))
        .collect();
    reply(
        &Listing {
            data,
            pagination: page.pagination(total, "/v1/verifications", &links_query),
        },
        200,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(data: Value) -> DxResult<CreateInput> {
        parse_create(&json!({ "data": data }), 6)
    }

    const TPL: &str = "123e4567-e89b-42d3-a456-426614174000";

    #[test]
    fn a_full_request_is_read() {
        let input = parse(json!({
            "sender": "Acme", "phone": "33612424111", "template": TPL,
            "code_length": "8", "channel": "SMS",
        }))
        .unwrap();
        assert_eq!(input.sender, "Acme");
        assert_eq!(input.phone.e164(), "+33612424111");
        assert_eq!(input.template.as_deref(), Some(TPL));
        assert_eq!((input.code, input.code_length), (None, 8));
        let custom =
            parse(json!({"sender": "Acme", "phone": 33612424111u64, "code": "0042"})).unwrap();
        assert_eq!(
            (custom.code.as_deref(), custom.code_length),
            (Some("0042"), 4)
        );
        let defaults = parse(json!({"sender": "Acme", "phone": "+33612424111"})).unwrap();
        assert_eq!((defaults.template, defaults.code_length), (None, 6));
    }

    #[test]
    fn every_violation_has_its_dexatel_code_in_order() {
        let base = json!({"sender": "Acme", "phone": "33612424111"});
        let with = |extra: Value| {
            let mut data = base.clone();
            data.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            parse(data)
        };
        assert_eq!(parse_create(&json!({}), 6), Err(DxError::data_missing()));
        assert_eq!(
            parse_create(&json!({"data": 1}), 6),
            Err(DxError::data_missing())
        );
        assert_eq!(
            parse(json!({"phone": "33612424111"})),
            Err(DxError::sender_missing())
        );
        assert_eq!(with(json!({"sender": " "})), Err(DxError::sender_missing()));
        assert_eq!(with(json!({"sender": 5})), Err(DxError::sender_not_found()));
        assert_eq!(
            parse(json!({"sender": "Acme"})),
            Err(DxError::phone_missing())
        );
        assert_eq!(with(json!({"phone": ""})), Err(DxError::phone_missing()));
        assert_eq!(
            with(json!({"phone": ["1"]})),
            Err(DxError::recipient_invalid())
        );
        assert_eq!(
            with(json!({"channel": "VIBER"})),
            Err(DxError::channel_invalid())
        );
        assert_eq!(with(json!({"channel": 1})), Err(DxError::channel_invalid()));
        assert_eq!(
            with(json!({"code": "1234", "code_length": 4})),
            Err(DxError::code_and_length())
        );
        assert_eq!(
            with(json!({"code": "12a4"})),
            Err(DxError::code_not_numeric())
        );
        assert_eq!(
            with(json!({"code": true})),
            Err(DxError::code_not_numeric())
        );
        assert_eq!(
            with(json!({"code": "123"})),
            Err(DxError::code_length_custom())
        );
        assert_eq!(
            with(json!({"code": "123456789"})),
            Err(DxError::code_length_custom())
        );
        for bad in [json!(3), json!(9), json!("six"), json!(4.5)] {
            assert_eq!(
                with(json!({ "code_length": bad })),
                Err(DxError::code_length_invalid())
            );
        }
        for bad in ["3361242411a", "+", "331234", "999612424111", "33 612424111"] {
            assert_eq!(
                with(json!({ "phone": bad })),
                Err(DxError::recipient_invalid()),
                "{bad}"
            );
        }
        assert_eq!(
            with(json!({"template": ""})),
            Err(DxError::template_missing())
        );
        assert_eq!(
            with(json!({"template": "welcome"})),
            Err(DxError::template_id_invalid())
        );
        assert_eq!(
            with(json!({"template": 7})),
            Err(DxError::template_id_invalid())
        );
        // Order: sender before phone, channel before the code, code before the phone's validity.
        assert_eq!(parse(json!({"phone": "x"})), Err(DxError::sender_missing()));
        assert_eq!(
            with(json!({"phone": "x", "channel": "VOICE"})),
            Err(DxError::channel_invalid())
        );
        assert_eq!(
            with(json!({"phone": "x", "code": "1"})),
            Err(DxError::code_length_custom())
        );
    }
}
