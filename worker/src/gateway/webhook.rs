//! The generic gateway: a JSON POST of
//! `{"type": "sms.send", "data": {otpId, appId, to, from, text, language, encoding, parts}}`
//! to the application's own URL, signed with Standard Webhooks headers and the
//! application's webhook secret (as the status callbacks are). Any 2xx is success;
//! a `messageId` or `id` in a JSON reply is kept as the receipt's id.

use otp_core::sms::SmsEncoding;
use serde::Serialize;

use super::fetch::{HttpReply, PostRequest};
use super::{receipt_on_2xx, to_json, GatewayError, OutgoingSms, Provider, Receipt};
use crate::signing;

/// The event `type` of a send request.
pub(crate) const EVENT_TYPE: &str = "sms.send";

/// Where a message id may sit in the receiver's reply.
const ID_POINTERS: &[&str] = &["/messageId", "/id", "/data/messageId", "/data/id"];

/// The webhook adapter: where to POST, and how to sign.
pub(super) struct Webhook<'a> {
    url: &'a str,
    secret: &'a str,
    msg_id: String,
    timestamp: i64,
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: Data<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    otp_id: &'a str,
    app_id: &'a str,
    to: &'a str,
    from: &'a str,
    text: &'a str,
    language: &'a str,
    encoding: SmsEncoding,
    parts: u32,
}

impl<'a> Webhook<'a> {
    /// A webhook request to `url` signed with `secret` at `timestamp` (Unix
    /// seconds), under a fresh `webhook-id`. An empty secret is `NotConfigured`.
    pub(super) fn new(url: &'a str, secret: &'a str, timestamp: i64) -> Result<Self, GatewayError> {
        Self::with_id(url, secret, timestamp, signing::new_message_id())
    }

    fn with_id(
        url: &'a str,
        secret: &'a str,
        timestamp: i64,
        msg_id: String,
    ) -> Result<Self, GatewayError> {
        if secret.trim().is_empty() {
            return Err(GatewayError::NotConfigured(
                "the application's webhookSecret",
            ));
        }
        Ok(Webhook {
            url,
            secret,
            msg_id,
            timestamp,
        })
    }
}

impl Provider for Webhook<'_> {
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        let message = sms.message;
        let body = to_json(&Envelope {
            kind: EVENT_TYPE,
            data: Data {
                otp_id: sms.otp_id,
                app_id: sms.app_id,
                to: &message.to,
                from: &message.from,
                text: &message.text,
                language: &message.language,
                encoding: message.encoding,
                parts: message.parts,
            },
        })?;
        let mut headers = vec![
            ("Content-Type", "application/json".to_owned()),
            ("Accept", "application/json".to_owned()),
        ];
        headers.extend(signing::signed_headers(
            self.secret,
            &self.msg_id,
            self.timestamp,
            &body,
        ));
        Ok(PostRequest {
            url: self.url.to_owned(),
            headers,
            body,
        })
    }

    fn receipt(&self, reply: &HttpReply) -> Result<Receipt, GatewayError> {
        receipt_on_2xx(reply, ID_POINTERS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_support::message;
    use serde_json::json;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn webhook() -> Webhook<'static> {
        Webhook::with_id(
            "https://hooks.example.com/sms",
            SECRET,
            1_700_000_000,
            "msg_fixed".into(),
        )
        .unwrap()
    }

    #[test]
    fn request_is_a_signed_sms_send_event() {
        let msg = message("Votre code : 012345", SmsEncoding::Gsm7);
        let sms = OutgoingSms {
            app_id: "app_1",
            otp_id: "123e4567-e89b-42d3-a456-426614174000",
            message: &msg,
        };
        let req = webhook().request(&sms).unwrap();
        assert_eq!(req.url, "https://hooks.example.com/sms");
        assert_eq!(req.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({"type": "sms.send", "data": {
                "otpId": "123e4567-e89b-42d3-a456-426614174000",
                "appId": "app_1",
                "to": "+33612424111",
                "from": "Acme",
                "text": "Votre code : 012345",
                "language": "fr",
                "encoding": "GSM-7",
                "parts": 1,
            }})
        );
        assert_eq!(req.header("webhook-id"), Some("msg_fixed"));
        assert_eq!(req.header("webhook-timestamp"), Some("1700000000"));
        let signature = req.header("webhook-signature").unwrap();
        assert!(signing::verify(
            SECRET,
            "msg_fixed",
            1_700_000_000,
            &req.body,
            signature
        ));
    }

    #[test]
    fn an_empty_secret_is_not_configured() {
        assert_eq!(
            Webhook::new("https://x.test", " ", 1)
                .err()
                .map(|e| e.code()),
            Some(3005)
        );
    }

    #[test]
    fn any_2xx_is_a_receipt_and_anything_else_a_rejection() {
        let reply = |status, body: &str| HttpReply {
            status,
            body: body.into(),
        };
        assert_eq!(
            webhook().receipt(&reply(202, r#"{"messageId":"m-1"}"#)),
            Ok(Receipt {
                message_id: Some("m-1".into())
            })
        );
        assert_eq!(webhook().receipt(&reply(204, "")), Ok(Receipt::default()));
        assert_eq!(
            webhook().receipt(&reply(302, "")).map_err(|e| e.code()),
            Err(3001)
        );
        assert_eq!(
            webhook().receipt(&reply(404, "")).map_err(|e| e.code()),
            Err(3001)
        );
    }
}
