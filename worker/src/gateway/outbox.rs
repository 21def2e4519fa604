//! The development gateway: instead of sending, keep the SMS where
//! `GET /admin/outbox?phoneNumber=…` can read it.
//!
//! Messages live in their own KV namespace, `OUTBOX_KV`, because they hold PINs
//! in clear and `OTP_KV` never may. One key per destination number holds its
//! newest 20 messages, newest first, and expires an hour after the last write.
//! The outbox works only while `ENVIRONMENT` is `development`.
//! A write reads, changes and rewrites the list: of two sends to one number at the
//! same instant only one may be kept, which is acceptable for a developer's outbox.

use otp_core::sms::SmsEncoding;
use otp_core::time::{format_utc, UnixSeconds};
use serde::{Deserialize, Serialize};
use worker::kv::KvStore;
use worker::Env;

use super::{to_json, GatewayError, OutgoingSms};
use crate::config::is_development;

/// Binding of the outbox's KV namespace (development only).
pub(crate) const OUTBOX_KV: &str = "OUTBOX_KV";
/// Messages kept per number.
pub(crate) const KEEP: usize = 20;
/// Life of an outbox key after its last write, in seconds.
const TTL_SECONDS: u64 = 3_600;

/// One message in the outbox, as `GET /admin/outbox` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutboxMessage {
    /// The OTP the message carries.
    pub(crate) otp_id: String,
    /// The sending application.
    pub(crate) app_id: String,
    /// Sender id.
    pub(crate) from: String,
    /// Destination in E.164.
    pub(crate) to: String,
    /// The text, PIN included.
    pub(crate) text: String,
    /// Language of the text.
    pub(crate) language: String,
    /// GSM-7 or UCS-2.
    pub(crate) encoding: SmsEncoding,
    /// SMS parts.
    pub(crate) parts: u32,
    /// UTC `YYYY-MM-DD HH:MM:SS`.
    pub(crate) sent_at: String,
}

impl OutboxMessage {
    fn new(sms: &OutgoingSms<'_>, now: UnixSeconds) -> Self {
        let message = sms.message;
        OutboxMessage {
            otp_id: sms.otp_id.to_owned(),
            app_id: sms.app_id.to_owned(),
            from: message.from.clone(),
            to: message.to.clone(),
            text: message.text.clone(),
            language: message.language.clone(),
            encoding: message.encoding,
            parts: message.parts,
            sent_at: format_utc(now),
        }
    }
}

/// The KV key of the outbox of `e164`.
fn key(e164: &str) -> String {
    format!("outbox:{e164}")
}

/// The stored list, or an empty one if the value is missing or unreadable.
fn parse_list(value: Option<String>) -> Vec<OutboxMessage> {
    value
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// `list` with `message` in front, cut to [`KEEP`].
fn push_newest(mut list: Vec<OutboxMessage>, message: OutboxMessage) -> Vec<OutboxMessage> {
    list.insert(0, message);
    list.truncate(KEEP);
    list
}

/// The outbox namespace, if the outbox is enabled.
fn namespace(env: &Env) -> Result<KvStore, GatewayError> {
    if !is_development(env) {
        return Err(GatewayError::OutboxDisabled);
    }
    env.kv(OUTBOX_KV)
        .map_err(|_| GatewayError::NotConfigured(OUTBOX_KV))
}

async fn load(kv: &KvStore, key: &str) -> Result<Vec<OutboxMessage>, GatewayError> {
    let value = kv.get(key).text().await.map_err(|err| {
        worker::console_error!("outbox: read failed: {err}");
        GatewayError::Unreachable
    })?;
    Ok(parse_list(value))
}

/// Keeps `sms` as the newest message of its destination.
pub(super) async fn store(env: &Env, sms: &OutgoingSms<'_>) -> Result<(), GatewayError> {
    let kv = namespace(env)?;
    let key = key(&sms.message.to);
    let now = (worker::Date::now().as_millis() / 1000) as UnixSeconds;
    let list = push_newest(load(&kv, &key).await?, OutboxMessage::new(sms, now));
    let value = to_json(&list)?;
    kv.put(&key, value)
        .map_err(|err| {
            worker::console_error!("outbox: write failed: {err}");
            GatewayError::Unreachable
        })?
        .expiration_ttl(TTL_SECONDS)
        .execute()
        .await
        .map_err(|err| {
            worker::console_error!("outbox: write failed: {err}");
            GatewayError::Unreachable
        })?;
    Ok(())
}

/// The newest `limit` (at most [`KEEP`]) messages sent to `e164`, newest first.
pub(super) async fn read(
    env: &Env,
    e164: &str,
    limit: usize,
) -> Result<Vec<OutboxMessage>, GatewayError> {
    let kv = namespace(env)?;
    let mut list = load(&kv, &key(e164)).await?;
    list.truncate(limit.min(KEEP));
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_support::message;
    use serde_json::json;

    fn entry(n: usize) -> OutboxMessage {
        let msg = message(&format!("code {n}"), SmsEncoding::Gsm7);
        OutboxMessage::new(
            &OutgoingSms {
                app_id: "app",
                otp_id: &format!("otp-{n}"),
                message: &msg,
                report_url: None,
            },
            1_700_000_000 + n as i64,
        )
    }

    #[test]
    fn messages_serialize_in_camel_case_with_the_sms_cx_date() {
        let msg = message("Ваш код 1234", SmsEncoding::Ucs2);
        let entry = OutboxMessage::new(
            &OutgoingSms {
                app_id: "app_1",
                otp_id: "otp_1",
                message: &msg,
                report_url: None,
            },
            1_700_000_000,
        );
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            json!({
                "otpId": "otp_1",
                "appId": "app_1",
                "from": "Acme",
                "to": "+33612424111",
                "text": "Ваш код 1234",
                "language": "fr",
                "encoding": "UCS-2",
                "parts": 1,
                "sentAt": "2023-11-14 22:13:20",
            })
        );
    }

    #[test]
    fn the_newest_message_comes_first_and_only_20_are_kept() {
        let mut list = Vec::new();
        for n in 0..25 {
            list = push_newest(list, entry(n));
        }
        assert_eq!(list.len(), KEEP);
        assert_eq!(list[0].otp_id, "otp-24");
        assert_eq!(list[KEEP - 1].otp_id, "otp-5");
    }

    #[test]
    fn a_stored_list_round_trips_and_garbage_reads_as_empty() {
        let list = vec![entry(2), entry(1)];
        let text = serde_json::to_string(&list).unwrap();
        assert_eq!(parse_list(Some(text)), list);
        assert!(parse_list(Some("{oops".into())).is_empty());
        assert!(parse_list(None).is_empty());
    }

    #[test]
    fn keys_are_per_number() {
        assert_eq!(key("+33612424111"), "outbox:+33612424111");
    }
}
