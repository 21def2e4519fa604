//! The generic gateway: a JSON POST of
//! `{"type": "sms.send", "data": {otpId, appId, to, from, text, language, encoding, parts}}`
//! to the application's own URL, signed with Standard Webhooks headers and the
//! application's webhook secret (as the status callbacks are). Any 2xx is success;
//! a `messageId` or `id` in a JSON reply is kept as the message id. The URL is
//! checked again before each send with the core's rule (private hosts only in
//! development), and a secret the core refuses signs nothing.
//!
//! Receipts: the receiver may report delivery to `/dlr/webhook/{appId}` with
//! `{"type": "sms.status", "data": {"otpId", "messageId"?, "status":
//! "delivered" | "undelivered" | "failed", "errorCode"?}}`, signed the same way
//! with the same secret, at most [`RECEIPT_TOLERANCE`] seconds old.

use otp_core::sms::SmsEncoding;
use otp_core::time::UnixSeconds;
use otp_core::webhook::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use serde::Serialize;

use super::delivery::{clean_error_code, clean_id, DeliveryReport, DeliveryStatus};
use super::fetch::{HttpReply, PostRequest};
use super::receipts::{any_equal, Inbound, ReceiptError};
use super::{id_on_2xx, text_at, to_json, GatewayError, OutgoingSms, Provider};
use crate::signing;

/// Most seconds between a receipt's `webhook-timestamp` and now, either way.
pub(crate) const RECEIPT_TOLERANCE: i64 = 300;
/// The event `type` of a receipt.
pub(crate) const RECEIPT_TYPE: &str = "sms.status";

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
    /// seconds), under a fresh `webhook-id`. A secret the core refuses (not
    /// `whsec_` + base64 of 24-64 bytes) is `NotConfigured`: nothing is sent.
    pub(super) fn new(url: &'a str, secret: &'a str, timestamp: i64) -> Result<Self, GatewayError> {
        Self::with_id(url, secret, timestamp, signing::new_message_id())
    }

    fn with_id(
        url: &'a str,
        secret: &'a str,
        timestamp: i64,
        msg_id: String,
    ) -> Result<Self, GatewayError> {
        if signing::check_secret(secret).is_err() {
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

    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        id_on_2xx(reply, ID_POINTERS)
    }
}

/// Checks a receipt's Standard Webhooks signature under `secret` and its age at
/// `now`, and reads it.
pub(super) fn read_receipt(
    inbound: &Inbound,
    secret: &str,
    now: UnixSeconds,
) -> Result<DeliveryReport, ReceiptError> {
    let header = |name| inbound.header(name).ok_or(ReceiptError::Unauthorized);
    let (id, timestamp, signatures) = (
        header(HEADER_ID)?,
        header(HEADER_TIMESTAMP)?,
        header(HEADER_SIGNATURE)?,
    );
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| ReceiptError::Unauthorized)?;
    if (now - timestamp).abs() > RECEIPT_TOLERANCE || signing::check_secret(secret).is_err() {
        return Err(ReceiptError::Unauthorized);
    }
    let expected = signing::sign(secret, id, timestamp, &inbound.body);
    if expected.is_empty() || !any_equal(signatures, ' ', &expected) {
        return Err(ReceiptError::Unauthorized);
    }
    let json = inbound.json()?;
    if json.pointer("/type").and_then(|t| t.as_str()) != Some(RECEIPT_TYPE) {
        return Err(ReceiptError::Unreadable);
    }
    let otp_id = text_at(&json, "/data/otpId").ok_or(ReceiptError::Unreadable)?;
    let status = json
        .pointer("/data/status")
        .and_then(|s| s.as_str())
        .ok_or(ReceiptError::Unreadable)?;
    Ok(DeliveryReport {
        message_id: text_at(&json, "/data/messageId").and_then(|id| clean_id(&id)),
        status: match status {
            "delivered" => Some(DeliveryStatus::Delivered),
            "undelivered" => Some(DeliveryStatus::Undelivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        },
        error_code: text_at(&json, "/data/errorCode").and_then(|c| clean_error_code(&c)),
        otp_id: Some(otp_id),
    })
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
            report_url: None,
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
    fn a_secret_the_core_refuses_is_not_configured() {
        for secret in [" ", "not-whsec", "whsec_c2hvcnQ="] {
            assert_eq!(
                Webhook::new("https://x.test", secret, 1)
                    .err()
                    .map(|e| e.code()),
                Some(3005),
                "{secret}"
            );
        }
    }

    fn receipt(body: &str, secret: &str, timestamp: i64) -> Inbound {
        let mut inbound = crate::gateway::receipts::test_support::post(
            "https://otp.example.com/dlr/webhook/app",
            "application/json",
            body,
        );
        for (name, value) in signing::signed_headers(secret, "msg_1", timestamp, body) {
            inbound.headers.push((name.into(), value));
        }
        inbound
    }

    #[test]
    fn signed_receipts_are_read_and_forged_old_or_odd_ones_refused() {
        let body = r#"{"type":"sms.status","data":{"otpId":"123e4567-e89b-42d3-a456-426614174000","messageId":"m-1","status":"failed","errorCode":"E42"}}"#;
        let now = 1_700_000_000;
        assert_eq!(
            read_receipt(&receipt(body, SECRET, now - 10), SECRET, now),
            Ok(DeliveryReport {
                message_id: Some("m-1".into()),
                status: Some(DeliveryStatus::Failed),
                error_code: Some("E42".into()),
                otp_id: Some("123e4567-e89b-42d3-a456-426614174000".into()),
            })
        );
        let other = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(
            read_receipt(&receipt(body, other, now), SECRET, now),
            Err(ReceiptError::Unauthorized)
        );
        assert_eq!(
            read_receipt(&receipt(body, SECRET, now - 301), SECRET, now),
            Err(ReceiptError::Unauthorized)
        );
        let mut changed = receipt(body, SECRET, now);
        changed.body = changed.body.replace("failed", "delivered");
        assert_eq!(
            read_receipt(&changed, SECRET, now),
            Err(ReceiptError::Unauthorized)
        );
        let odd = r#"{"type":"sms.send","data":{}}"#;
        assert_eq!(
            read_receipt(&receipt(odd, SECRET, now), SECRET, now),
            Err(ReceiptError::Unreadable)
        );
    }

    #[test]
    fn any_2xx_is_a_receipt_and_anything_else_a_rejection() {
        let reply = |status, body: &str| HttpReply {
            status,
            body: body.into(),
        };
        assert_eq!(
            webhook().accepted(&reply(202, r#"{"messageId":"m-1"}"#)),
            Ok(Some("m-1".into()))
        );
        assert_eq!(webhook().accepted(&reply(204, "")), Ok(None));
        assert_eq!(
            webhook().accepted(&reply(302, "")).map_err(|e| e.code()),
            Err(3001)
        );
        assert_eq!(
            webhook().accepted(&reply(404, "")).map_err(|e| e.code()),
            Err(3001)
        );
    }
}
