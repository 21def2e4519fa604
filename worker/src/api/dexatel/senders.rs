//! Senders: `GET`/`POST /v1/senders`, `GET /v1/senders/{id}`.
//!
//! A sender has a `name` (unique per channel in the application, at most 45
//! characters) and a `code`, the sender id the recipient sees (the name when no
//! code is given), of one type: `alphanumeric` (3-11 letters, digits, spaces and
//! `. - _ & + '`, the core's originator rule), `long_code` (a number of 3-15
//! digits, `did` is accepted as an alias) or `short_code` (5-6 digits). Without a
//! `type` it is inferred from the code: 5-6 digits is a short code, other digit
//! strings a long code, anything else alphanumeric. Channels: SMS (the default),
//! VIBER, WHATSAPP; verifications use SMS senders. Senders are usable at once
//! (status `ACTIVE`): registering them with carriers is the operator's business.
//! Names and codes hold no control, invisible or direction-changing character
//! (`otp_core::template::hidden_char`; codes are ASCII anyway).
//! An application keeps at most 100, in one KV value `dxsenders:{appId}`.

use otp_core::rng::OsRandom;
use otp_core::settings::validate_originator;
use otp_core::template::{hidden_char, TextKind};
use otp_core::time::{format_utc, UnixSeconds};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::kv::KvStore;
use worker::Response;

use super::error::{DxError, DxResult};
use super::paging::{Listing, Page};
use super::{data_object, field, reply, AppItems, Channel, Data};
use crate::apps::AppRecord;

/// Most senders an application may keep.
pub(crate) const MAX_SENDERS: usize = 100;
/// Longest sender name, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 45;

/// KV key prefix: `dxsenders:{appId}`.
pub(super) const PREFIX: &str = "dxsenders";

/// The kind of sender id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SenderType {
    /// Letters and digits, at most 11 characters.
    Alphanumeric,
    /// A phone number, at most 15 digits.
    LongCode,
    /// 5-6 digits.
    ShortCode,
}

impl SenderType {
    fn parse(s: &str) -> Option<SenderType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "alphanumeric" => Some(SenderType::Alphanumeric),
            "long_code" | "did" => Some(SenderType::LongCode),
            "short_code" => Some(SenderType::ShortCode),
            _ => None,
        }
    }

    /// The type of a code given without one.
    fn infer(code: &str) -> SenderType {
        let digits = code.strip_prefix('+').unwrap_or(code);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if code.len() == digits.len() && (5..=6).contains(&digits.len()) {
                SenderType::ShortCode
            } else {
                SenderType::LongCode
            }
        } else {
            SenderType::Alphanumeric
        }
    }

    /// Checks `code` against this type.
    fn check(self, code: &str) -> DxResult<()> {
        let digits = code.strip_prefix('+').unwrap_or(code);
        let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        match self {
            SenderType::Alphanumeric => {
                validate_originator(code).map_err(|e| match e {
                    otp_core::Error::FromTooLong | otp_core::Error::FromAlphanumericTooLong => {
                        DxError::sender_code_too_long()
                    }
                    _ => DxError::sender_code_invalid(),
                })?;
                if code.chars().count() > 11 {
                    return Err(DxError::sender_code_too_long());
                }
                Ok(())
            }
            SenderType::LongCode if !all_digits || digits.len() < 3 => {
                Err(DxError::sender_code_invalid())
            }
            SenderType::LongCode if digits.len() > 15 => Err(DxError::sender_code_too_long()),
            SenderType::LongCode => Ok(()),
            SenderType::ShortCode if !all_digits || code.len() != digits.len() => {
                Err(DxError::sender_code_invalid())
            }
            SenderType::ShortCode if digits.len() > 6 => Err(DxError::sender_code_too_long()),
            SenderType::ShortCode if digits.len() < 5 => Err(DxError::sender_code_invalid()),
            SenderType::ShortCode => Ok(()),
        }
    }
}

/// One stored sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sender {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) code: String,
    pub(crate) channel: Channel,
    #[serde(rename = "type")]
    pub(crate) kind: SenderType,
    pub(crate) created_at: UnixSeconds,
}

#[derive(Debug, Serialize)]
struct SenderView<'a> {
    id: &'a str,
    account_id: &'a str,
    name: &'a str,
    code: &'a str,
    channel: Channel,
    #[serde(rename = "type")]
    kind: SenderType,
    status: &'static str,
    create_date: String,
}

impl Sender {
    fn view<'a>(&'a self, app_id: &'a str) -> SenderView<'a> {
        SenderView {
            id: &self.id,
            account_id: app_id,
            name: &self.name,
            code: &self.code,
            channel: self.channel,
            kind: self.kind,
            status: "ACTIVE",
            create_date: format_utc(self.created_at),
        }
    }
}

/// The senders of applications, in KV.
pub(crate) struct SenderStore<'a> {
    items: AppItems<'a>,
}

impl<'a> SenderStore<'a> {
    /// The store over `kv`.
    pub(crate) fn new(kv: &'a KvStore) -> Self {
        SenderStore {
            items: AppItems::new(kv, PREFIX),
        }
    }

    /// Every sender of the application, oldest first.
    pub(crate) async fn all(&self, app_id: &str) -> DxResult<Vec<Sender>> {
        self.items.load(app_id).await
    }
}

/// The sender id to send from when a verification names `sender`: the code of
/// the application's SMS sender whose name (or else code) is `sender`, or the
/// application's default originator itself (every application may use it).
pub(crate) fn resolve_sender(senders: &[Sender], app: &AppRecord, sender: &str) -> Option<String> {
    let sms = || senders.iter().filter(|s| s.channel == Channel::Sms);
    sms()
        .find(|s| s.name == sender)
        .or_else(|| sms().find(|s| s.code == sender))
        .map(|s| s.code.clone())
        .or_else(|| (sender == app.otp.originator).then(|| sender.to_owned()))
}

/// The checked fields of `POST /v1/senders`.
fn parse_input(
    data: &serde_json::Map<String, Value>,
) -> DxResult<(String, String, Channel, SenderType)> {
    let name = match field(data, "name") {
        None => return Err(DxError::sender_name_missing()),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(DxError::sender_name_missing()),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => return Err(DxError::sender_name_invalid()),
    };
    if hidden_char(&name, TextKind::Name).is_some() {
        return Err(DxError::sender_name_invalid());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(DxError::sender_name_too_long());
    }
    let code = match field(data, "code") {
        None => name.clone(),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => return Err(DxError::sender_code_invalid()),
    };
    let channel = match field(data, "channel") {
        None => Channel::Sms,
        Some(Value::String(s)) => Channel::parse(s).ok_or_else(DxError::sender_channel_invalid)?,
        Some(_) => return Err(DxError::sender_channel_invalid()),
    };
    let kind = match field(data, "type") {
        None => SenderType::infer(&code),
        Some(Value::String(s)) => SenderType::parse(s).ok_or_else(DxError::sender_type_invalid)?,
        Some(_) => return Err(DxError::sender_type_invalid()),
    };
    kind.check(&code)?;
    Ok((name, code, channel, kind))
}

/// `GET /v1/senders`.
pub(crate) async fn list(
    store: &SenderStore<'_>,
    app: &AppRecord,
    page: Page,
) -> DxResult<Response> {
    let senders = store.all(&app.app_id).await?;
    let data = page
        .slice(&senders)
        .iter()
        .map(|s| s.view(&app.app_id))
        .collect();
    reply(
        &Listing {
            data,
            pagination: page.pagination(senders.len(), "/v1/senders", ""),
        },
        200,
    )
}

/// `POST /v1/senders`.
pub(crate) async fn create(
    store: &SenderStore<'_>,
    app: &AppRecord,
    body: &Value,
    now: UnixSeconds,
) -> DxResult<Response> {
    let data = data_object(body).ok_or_else(DxError::sender_data_missing)?;
    let (name, code, channel, kind) = parse_input(data)?;
    let mut senders = store.all(&app.app_id).await?;
    if senders
        .iter()
        .any(|s| s.channel == channel && s.name == name)
    {
        return Err(DxError::sender_name_taken());
    }
    if senders.len() >= MAX_SENDERS {
        return Err(DxError::too_many_senders());
    }
    let sender = Sender {
        id: otp_core::id::new_uuid_v4(&mut OsRandom),
        name,
        code,
        channel,
        kind,
        created_at: now,
    };
    senders.push(sender.clone());
    store.items.save(&app.app_id, &senders).await?;
    reply(&Data(sender.view(&app.app_id)), 201)
}

/// `GET /v1/senders/{id}`.
pub(crate) async fn get(store: &SenderStore<'_>, app: &AppRecord, id: &str) -> DxResult<Response> {
    let sender = store
        .all(&app.app_id)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(DxError::sender_unknown)?;
    reply(&Data(sender.view(&app.app_id)), 200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: Value) -> DxResult<(String, String, Channel, SenderType)> {
        parse_input(v.as_object().unwrap())
    }

    #[test]
    fn the_type_is_inferred_from_the_code() {
        assert_eq!(SenderType::infer("Acme"), SenderType::Alphanumeric);
        assert_eq!(SenderType::infer("12345"), SenderType::ShortCode);
        assert_eq!(SenderType::infer("123456"), SenderType::ShortCode);
        assert_eq!(SenderType::infer("+12345"), SenderType::LongCode);
        assert_eq!(SenderType::infer("33612424111"), SenderType::LongCode);
        assert_eq!(SenderType::infer("1234"), SenderType::LongCode);
    }

    #[test]
    fn codes_follow_their_type() {
        use SenderType::*;
        for (kind, code, ok) in [
            (Alphanumeric, "Acme", Ok(())),
            (Alphanumeric, "ACME Bank11", Ok(())),
            (
                Alphanumeric,
                "ACME Bank 12",
                Err(DxError::sender_code_too_long()),
            ),
            (Alphanumeric, "Ac<me", Err(DxError::sender_code_invalid())),
            (Alphanumeric, "AB", Err(DxError::sender_code_invalid())),
            (
                Alphanumeric,
                "123456789012",
                Err(DxError::sender_code_too_long()),
            ),
            (LongCode, "123456789012345", Ok(())),
            (LongCode, "+447911123456", Ok(())),
            (
                LongCode,
                "1234567890123456",
                Err(DxError::sender_code_too_long()),
            ),
            (LongCode, "12a45", Err(DxError::sender_code_invalid())),
            (ShortCode, "12345", Ok(())),
            (ShortCode, "123456", Ok(())),
            (ShortCode, "1234", Err(DxError::sender_code_invalid())),
            (ShortCode, "1234567", Err(DxError::sender_code_too_long())),
            (ShortCode, "+12345", Err(DxError::sender_code_invalid())),
        ] {
            assert_eq!(kind.check(code), ok, "{kind:?} {code}");
        }
    }

    #[test]
    fn inputs_are_checked_field_by_field() {
        assert_eq!(
            input(json!({"name": "Acme"})).unwrap(),
            (
                "Acme".into(),
                "Acme".into(),
                Channel::Sms,
                SenderType::Alphanumeric
            )
        );
        assert_eq!(
            input(json!({"name": "Support", "code": "12345", "channel": "VIBER", "type": "short_code"}))
                .unwrap(),
            ("Support".into(), "12345".into(), Channel::Viber, SenderType::ShortCode)
        );
        assert_eq!(
            input(json!({"name": "Line", "code": "33612424111", "type": "did"}))
                .unwrap()
                .3,
            SenderType::LongCode
        );
        assert_eq!(input(json!({})), Err(DxError::sender_name_missing()));
        assert_eq!(
            input(json!({"name": " "})),
            Err(DxError::sender_name_missing())
        );
        assert_eq!(
            input(json!({"name": 3})),
            Err(DxError::sender_name_invalid())
        );
        assert_eq!(
            input(json!({"name": "x".repeat(46), "code": "Acme"})),
            Err(DxError::sender_name_too_long())
        );
        for hidden in ["Ac\u{202E}me", "Acme\u{200B}", "\u{2066}Acme", "Ac\tme"] {
            assert_eq!(
                input(json!({"name": hidden, "code": "Acme"})),
                Err(DxError::sender_name_invalid()),
                "{hidden:?}"
            );
            assert_eq!(
                input(json!({"name": "Acme", "code": hidden})),
                Err(DxError::sender_code_invalid()),
                "{hidden:?}"
            );
        }
        assert_eq!(
            input(json!({"name": "Acme", "channel": "PIGEON"})),
            Err(DxError::sender_channel_invalid())
        );
        assert_eq!(
            input(json!({"name": "Acme", "type": "vanity"})),
            Err(DxError::sender_type_invalid())
        );
        assert_eq!(
            input(json!({"name": "Acme", "code": "12345", "type": "alphanumeric"})),
            Ok((
                "Acme".into(),
                "12345".into(),
                Channel::Sms,
                SenderType::Alphanumeric
            ))
        );
    }
}
