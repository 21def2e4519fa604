//! Vonage (Nexmo) SMS API: `POST /sms/json` with a JSON body holding the
//! credentials, `from`, `to` (digits without `+`), `text` and `type` (`unicode`
//! for UCS-2 texts). Vonage answers 200 even when it refuses a message: success
//! is a 2xx whose every `messages[].status` is `"0"`.

use otp_core::sms::SmsEncoding;
use serde::{Deserialize, Serialize};

use super::fetch::{HttpReply, PostRequest};
use super::{
    digits, is_success, rejected, to_json, GatewayError, OutgoingSms, Provider, Receipt, Settings,
};

/// Var overriding the API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "VONAGE_API_BASE";
const DEFAULT_API_BASE: &str = "https://rest.nexmo.com";
/// Secret: the API key.
const API_KEY: &str = "VONAGE_API_KEY";
/// Secret: the API secret.
const API_SECRET: &str = "VONAGE_API_SECRET";

/// The Vonage adapter with its credentials.
pub(super) struct Vonage {
    base: String,
    api_key: String,
    api_secret: String,
}

#[derive(Serialize)]
struct Body<'a> {
    api_key: &'a str,
    api_secret: &'a str,
    from: &'a str,
    to: &'a str,
    text: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Deserialize)]
struct Reply {
    messages: Vec<ReplyMessage>,
}

#[derive(Deserialize)]
struct ReplyMessage {
    status: String,
    #[serde(rename = "message-id")]
    message_id: Option<String>,
}

impl Vonage {
    /// Reads the credentials; a missing one is `NotConfigured`.
    pub(super) fn new(settings: &impl Settings) -> Result<Self, GatewayError> {
        Ok(Vonage {
            base: settings.api_base(API_BASE_VAR, DEFAULT_API_BASE),
            api_key: settings.required(API_KEY)?,
            api_secret: settings.required(API_SECRET)?,
        })
    }
}

impl Provider for Vonage {
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        let message = sms.message;
        let body = to_json(&Body {
            api_key: &self.api_key,
            api_secret: &self.api_secret,
            from: &message.from,
            to: digits(&message.to),
            text: &message.text,
            kind: match message.encoding {
                SmsEncoding::Gsm7 => "text",
                SmsEncoding::Ucs2 => "unicode",
            },
        })?;
        Ok(PostRequest {
            url: format!("{}/sms/json", self.base),
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("Accept", "application/json".into()),
            ],
            body,
        })
    }

    fn receipt(&self, reply: &HttpReply) -> Result<Receipt, GatewayError> {
        if !is_success(reply.status) {
            return Err(rejected(reply));
        }
        let parsed: Reply =
            serde_json::from_str(&reply.body).map_err(|_| GatewayError::BadReply)?;
        let first = parsed.messages.first().ok_or(GatewayError::BadReply)?;
        // A long text is one entry per part; every part must have been taken.
        if let Some(refused) = parsed.messages.iter().find(|m| m.status != "0") {
            let code = refused.status.trim();
            let short =
                !code.is_empty() && code.len() <= 8 && code.bytes().all(|b| b.is_ascii_digit());
            return Err(GatewayError::Rejected {
                status: reply.status,
                provider_code: short.then(|| code.to_owned()),
            });
        }
        Ok(Receipt {
            message_id: first.message_id.clone().filter(|id| !id.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_support::{message, reply, FakeSettings};
    use serde_json::json;

    fn vonage() -> Vonage {
        Vonage::new(&FakeSettings(vec![
            (API_KEY, "key1"),
            (API_SECRET, "s3cr3t"),
            (API_BASE_VAR, "http://127.0.0.1:4011"),
        ]))
        .expect("configured")
    }

    #[test]
    fn request_is_json_with_credentials_and_digits_only_destination() {
        let msg = message("Your code: 012345", SmsEncoding::Gsm7);
        let sms = OutgoingSms {
            app_id: "app",
            otp_id: "otp",
            message: &msg,
        };
        let req = vonage().request(&sms).unwrap();
        assert_eq!(req.url, "http://127.0.0.1:4011/sms/json");
        assert_eq!(req.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({
                "api_key": "key1",
                "api_secret": "s3cr3t",
                "from": "Acme",
                "to": "33612424111",
                "text": "Your code: 012345",
                "type": "text",
            })
        );
    }

    #[test]
    fn ucs2_texts_are_sent_as_unicode() {
        let msg = message("Ваш код 1234", SmsEncoding::Ucs2);
        let sms = OutgoingSms {
            app_id: "app",
            otp_id: "otp",
            message: &msg,
        };
        let body: serde_json::Value =
            serde_json::from_str(&vonage().request(&sms).unwrap().body).unwrap();
        assert_eq!(body["type"], "unicode");
        assert_eq!(body["text"], "Ваш код 1234");
    }

    #[test]
    fn missing_credentials_are_not_configured() {
        assert_eq!(
            Vonage::new(&FakeSettings(vec![(API_KEY, "k")])).err(),
            Some(GatewayError::NotConfigured(API_SECRET))
        );
        assert_eq!(
            Vonage::new(&FakeSettings(vec![])).err(),
            Some(GatewayError::NotConfigured(API_KEY))
        );
    }

    #[test]
    fn status_zero_on_every_part_is_a_receipt() {
        let body = json!({
            "message-count": "2",
            "messages": [
                {"to": "33612424111", "message-id": "0A0000000123ABCD1", "status": "0"},
                {"to": "33612424111", "message-id": "0A0000000123ABCD2", "status": "0"},
            ]
        })
        .to_string();
        assert_eq!(
            vonage().receipt(&reply(200, &body)),
            Ok(Receipt {
                message_id: Some("0A0000000123ABCD1".into())
            })
        );
    }

    #[test]
    fn a_non_zero_status_in_a_200_is_a_rejection() {
        let body = json!({
            "message-count": "1",
            "messages": [{"status": "2", "error-text": "Missing to param"}]
        })
        .to_string();
        assert_eq!(
            vonage().receipt(&reply(200, &body)),
            Err(GatewayError::Rejected {
                status: 200,
                provider_code: Some("2".into())
            })
        );
    }

    #[test]
    fn unreadable_or_empty_replies_are_bad_replies() {
        for body in [
            "{not json",
            "{}",
            r#"{"messages":[]}"#,
            r#"{"messages":[{}]}"#,
        ] {
            assert_eq!(
                vonage().receipt(&reply(200, body)),
                Err(GatewayError::BadReply),
                "{body}"
            );
        }
    }

    #[test]
    fn an_error_status_is_a_rejection() {
        assert_eq!(
            vonage().receipt(&reply(503, "")),
            Err(GatewayError::Rejected {
                status: 503,
                provider_code: None
            })
        );
    }
}
