//! Verifications: `POST /v1/verifications` sends a code, `GET /v1/verifications`
//! checks one (or lists a number's verifications).
//!
//! A verification is an ordinary OTP record of the application (the SMS.CX API
//! reads it by id too): the core plans it, the store keeps it, the gateway sends
//! it and status changes fire the application's callback. The code is numeric, 4-8
//! digits: `code_length` long (default: the application's `pinLength` if it is
//! 4-8, else 6), or the caller's own `code`. Its life and attempt limit are the
//! application's `ttl` and `maxAttempts`.
//!
//! Everything the guard decides for a number runs in the number's Durable Object
//! ([`super::phone_guard`]), one request at a time, so it is exact under
//! parallel requests.
//!
//! Before sending, `otp_core::guard` decides from the number's state: refused while
//! the number is blocked (1530), while another send to it is in flight, or, with
//! a code pending, within the cooldown (1690); otherwise a new verification, or
//! with a code pending the resend policy (`resend_same`: same id, expiry and
//! attempts, fresh code; `replace`: the pending one is cancelled and a new one
//! starts). The object records the send before the SMS goes out; this module
//! sends it and confirms, or releases the send when the SMS failed.
//!
//! A check compares the code with the number's current verification (the newest
//! unexpired one) through the store's `Verify` command, so attempts are counted
//! by the same state machine as SMS.CX's `POST /otp/{id}`. A match answers
//! `data: [verification]` (now VERIFIED, unusable again); anything else answers
//! `data: []`. A wrong code against a pending verification is a failed check for
//! the guard; the failure that blocks the number also cancels its pending code.

use otp_core::guard::SendPlan;
use otp_core::otp::{plan_otp, OtpRecord, PlannedOtp};
use otp_core::phone::{parse_phone, PhoneNumber};
use otp_core::pin::{generate_pin, PinType};
use otp_core::rng::OsRandom;
use otp_core::settings::{Field, OtpRequest};
use otp_core::time::{format_utc, UnixSeconds};
use serde::Serialize;
use serde_json::Value;
use worker::kv::KvStore;
use worker::{Request, Response};

use super::error::{DxError, DxResult};
use super::paging::{Listing, Page};
use super::phone_guard::{PhoneGuards, Reserved};
use super::phones::{Entry, PhoneRef, PhoneStore};
use super::senders::{resolve_sender, SenderStore};
use super::templates::TemplateStore;
use super::{data_object, field, reply, Channel, Data};
use crate::apps::AppRecord;
use crate::gateway::Receipt;
use crate::limiter::RateLimits;
use crate::store::{Command, OtpStore};
use crate::{callback, delivery, http, RequestContext};

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

/// The provider's message id, or a fresh one when the provider gives none.
fn message_id(receipt: Receipt) -> String {
    receipt
        .message_id
        .unwrap_or_else(|| otp_core::id::new_uuid_v4(&mut OsRandom))
}

/// A new verification: stored, sent, and removed again if the SMS could not be sent.
async fn start_new(
    rc: &RequestContext,
    app: &AppRecord,
    store: &OtpStore,
    planned: &PlannedOtp,
) -> DxResult<(OtpRecord, String)> {
    let receipt = delivery::send_new(rc, app, store, planned).await?;
    Ok((planned.record.clone(), message_id(receipt)))
}

/// `resend_same`: gives the pending record the new code's digest, then sends; if
/// the SMS could not be sent the old digest is put back. `None` when the record
/// is no longer pending (then a new verification is due).
async fn resend(
    rc: &RequestContext,
    app: &AppRecord,
    store: &OtpStore,
    pending: &OtpRecord,
    pin: &str,
    planned: &PlannedOtp,
) -> DxResult<Option<(OtpRecord, String)>> {
    let id = &pending.otp_id;
    let pin_digest = rc.config.pin_keys.pin_digest(id, pin);
    let applied = store
        .apply(&app.app_id, id, Command::Rekey { pin_digest }, rc.now)
        .await?;
    let Some(applied) = applied.filter(|a| a.result.is_ok()) else {
        return Ok(None);
    };
    match delivery::send_message(rc, app, id, planned).await {
        Ok(receipt) => Ok(Some((applied.record, message_id(receipt)))),
        Err(e) => {
            let old = Command::Rekey {
                pin_digest: pending.pin_digest.clone(),
            };
            if store.apply(&app.app_id, id, old, rc.now).await.is_err() {
                worker::console_error!("otp {id}: could not restore the code of an unsent resend");
            }
            Err(e.into())
        }
    }
}

/// Carries out the send that the number's object decided: the verification and
/// the id of the SMS that carried its code.
async fn carry_out(
    rc: &RequestContext,
    app: &AppRecord,
    store: &OtpStore,
    reserved: &Reserved,
    pin: &str,
    planned: &PlannedOtp,
) -> DxResult<(OtpRecord, String)> {
    match (reserved.plan, &reserved.pending) {
        (SendPlan::ResendSame, Some(old)) => match resend(rc, app, store, old, pin, planned).await?
        {
            Some(done) => Ok(done),
            // Used or expired meanwhile: nothing is pending any more, so a new one.
            None => start_new(rc, app, store, planned).await,
        },
        (SendPlan::Replace, Some(old)) => {
            let done = start_new(rc, app, store, planned).await?;
            // The new code is out: the old one must not work any more. The new one
            // is first in the number's index either way, so a failure here only
            // leaves the old record checkable by id.
            if delivery::apply(rc, app, store, &old.otp_id, Command::Cancel)
                .await
                .is_err()
            {
                worker::console_error!("otp {}: could not cancel the replaced code", old.otp_id);
            }
            Ok(done)
        }
        _ => start_new(rc, app, store, planned).await,
    }
}

/// `POST /v1/verifications`: the number's object decides and records the send
/// ([`super::phone_guard`]), this request stores and sends the code, then
/// confirms the send, or releases it if the SMS could not be sent.
pub(crate) async fn create(
    rc: &RequestContext,
    app: &AppRecord,
    kv: &KvStore,
    body: &Value,
) -> DxResult<Response> {
    let now = rc.now;
    let input = parse_create(body, default_code_length(app))?;
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

    let pin = match &input.code {
        Some(code) => code.clone(),
        None => generate_pin(&mut OsRandom, PinType::Numbers, input.code_length)?,
    };
    let request = OtpRequest {
        phone_number: Field::Text(input.phone.e164().to_owned()),
        from: Field::Text(from),
        template: template.map_or(Field::Missing, Field::Text),
        pin_type: Field::Text(PinType::Numbers.as_str().to_owned()),
        custom_pin: Some(pin.clone()),
        ..OtpRequest::default()
    };
    let planned = plan_otp(&app.otp, &request, now, &mut OsRandom, &rc.config.pin_keys)?;

    let store = OtpStore::new(&rc.env, rc.config.retention)?;
    let guards = PhoneGuards::new(&rc.env)?;
    let phone = PhoneRef::new(&rc.config.pin_keys, &app.app_id, &input.phone);
    let (settings, retention) = (app.dexatel, rc.config.retention);
    let new_entry = Entry::new(
        planned.record.otp_id.clone(),
        String::new(),
        planned.record.expires_at,
    );
    let reserved = guards
        .begin_send(&phone, new_entry, settings, retention, now)
        .await?;
    let (record, message_id) = match carry_out(rc, app, &store, &reserved, &pin, &planned).await {
        Ok(done) => done,
        Err(e) => {
            if guards
                .release(&phone, &reserved, settings, retention, now)
                .await
                .is_err()
            {
                worker::console_error!(
                    "otp {}: an unsent code's send could not be released",
                    reserved.id
                );
            }
            return Err(e);
        }
    };
    let entry = Entry::new(record.otp_id.clone(), message_id.clone(), record.expires_at);
    if guards
        .confirm(&phone, &reserved, entry, settings, retention, now)
        .await
        .is_err()
    {
        // The code is out: answer 201 all the same (see phone_guard's failure paths).
        worker::console_error!("otp {}: the send could not be confirmed", record.otp_id);
    }
    reply(
        &Data(view(&record, &app.app_id, &message_id, &input.phone, now)),
        201,
    )
}

/// `GET /v1/verifications?phone=…[&code=…][&page_size=…&page_token=…]`: with
/// `code`, a check; without, the number's verifications, newest first (from the
/// KV copy of its state).
pub(crate) async fn query(
    rc: &RequestContext,
    app: &AppRecord,
    kv: &KvStore,
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
    let target = PhoneRef::new(&rc.config.pin_keys, &app.app_id, &phone);
    let links_query = format!("phone={}", phone.digits());
    if let Some(code) = http::query_param(req, "code") {
        return check(rc, app, &target, &phone, code, page, &links_query).await;
    }
    let state = PhoneStore::new(kv).get(&target).await?;
    let store = OtpStore::new(&rc.env, rc.config.retention)?;
    let entries = page.slice(&state.verifications);
    let mut records = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some(record) = store.get(&app.app_id, &entry.id).await? {
            records.push((record, entry));
        }
    }
    let data = records
        .iter()
        .map(|(r, e)| view(r, &app.app_id, &e.message_id, &phone, rc.now))
        .collect();
    reply(
        &Listing {
            data,
            pagination: page.pagination(
                state.verifications.len(),
                "/v1/verifications",
                &links_query,
            ),
        },
        200,
    )
}

/// Checks `code` against the number's current verification, inside the number's
/// object ([`super::phone_guard`]). Every check counts against the client IP's
/// cap on checks first (the bucket `delivery::apply` uses for SMS.CX checks).
async fn check(
    rc: &RequestContext,
    app: &AppRecord,
    target: &PhoneRef,
    phone: &PhoneNumber,
    code: String,
    page: Page,
    links_query: &str,
) -> DxResult<Response> {
    let now = rc.now;
    RateLimits::new(&rc.env)?
        .take_check(
            &app.app_id,
            app.limits.ip_check_limits(),
            rc.client_ip.as_deref(),
            now,
        )
        .await?;
    let checked = PhoneGuards::new(&rc.env)?
        .check(target, code, app.dexatel, rc.config.retention, now)
        .await?;
    for record in &checked.changed {
        // The record's URL already defaults to the app's when the OTP was created.
        if let Some(url) = record.otp_callback_url.clone() {
            callback::schedule_status_callback(
                &rc.ctx,
                &rc.env,
                url,
                app.webhook_secret.clone(),
                &record.view(now, None),
            );
        }
    }
    let data: Vec<VerificationView<'_>> = checked
        .matched
        .iter()
        .map(|m| view(&m.record, &app.app_id, &m.message_id, phone, now))
        .collect();
    let total = data.len();
    reply(
        &Listing {
            data,
            pagination: Page {
                number: 1,
                size: page.size,
            }
            .pagination(total, "/v1/verifications", links_query),
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
