//! Dexatel: `POST /v1/messages` with header `X-Dexatel-Key` and a JSON body
//! `{"data": {"from", "to": [digits without +], "text", "channel": "SMS"}}`.
//! Any 2xx is success; the message id is read from the reply when there is one.
//!
//! Receipts: Dexatel posts its delivery webhooks (statuses `DELIVERED`, `FAILED`,
//! `REJECTED`, `EXPIRED`) to the one URL set in its dashboard, signed by
//! `X-Dexatel-Signature`: HMAC-SHA256 of the body keyed by the webhook secret
//! (`DEXATEL_WEBHOOK_SECRET`). The exact body and the signature's encoding are
//! not in the documentation we could read (*unconfirmed*): the message id is read
//! at `data.message_id`, `data.id`, `message_id` or `id`, the status at
//! `data.status` or `status`, the error code at `data.error_code` or
//! `error_code`, and the signature is taken in hex or base64. Receipts carry no
//! reference of ours, so the worker finds the OTP by the message id.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use super::delivery::{clean_error_code, DeliveryReport, DeliveryStatus};
use super::fetch::{HttpReply, PostRequest};
use super::receipts::{hmac_sha256, Inbound, ReceiptError};
use super::{
    digits, id_on_2xx, text_at, to_json, GatewayError, Need, OutgoingSms, Provider, Settings,
};

/// Var overriding the API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "DEXATEL_API_BASE";
const DEFAULT_API_BASE: &str = "https://api.dexatel.com";
/// Secret: the API key.
const API_KEY: &str = "DEXATEL_API_KEY";
/// Secret: the key of `X-Dexatel-Signature`.
const WEBHOOK_SECRET: &str = "DEXATEL_WEBHOOK_SECRET";
/// What this adapter reads from the environment: the one list both sends and
/// `GET /admin/apps/{id}/gateway` use (`super::GatewayConfig::needs`).
pub(super) const NEEDS: &[Need] = &[
    Need::secret(API_KEY),
    Need::receipts(WEBHOOK_SECRET),
    Need::var(API_BASE_VAR),
];

/// Where a message id may sit in a Dexatel reply.
const ID_POINTERS: &[&str] = &["/data/0/id", "/data/id", "/id"];

/// The Dexatel adapter with its key.
pub(super) struct Dexatel {
    base: String,
    api_key: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    from: &'a str,
    to: [&'a str; 1],
    text: &'a str,
    channel: &'static str,
}

impl Dexatel {
    /// Reads the key; a missing one is `NotConfigured`.
    pub(super) fn new(settings: &impl Settings) -> Result<Self, GatewayError> {
        Ok(Dexatel {
            base: settings.api_base(API_BASE_VAR, DEFAULT_API_BASE),
            api_key: settings.required(API_KEY)?,
        })
    }
}

impl Provider for Dexatel {
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        let message = sms.message;
        Ok(PostRequest {
            url: format!("{}/v1/messages", self.base),
            headers: vec![
                ("X-Dexatel-Key", self.api_key.clone()),
                ("Content-Type", "application/json".into()),
                ("Accept", "application/json".into()),
            ],
            body: to_json(&Envelope {
                data: Data {
                    from: &message.from,
                    to: [digits(&message.to)],
                    text: &message.text,
                    channel: "SMS",
                },
            })?,
        })
    }

    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        id_on_2xx(reply, ID_POINTERS)
    }
}

/// Checks `X-Dexatel-Signature` and reads the delivery webhook.
pub(super) fn read_receipt(
    inbound: &Inbound,
    settings: &impl Settings,
) -> Result<DeliveryReport, ReceiptError> {
    let secret = settings
        .setting(WEBHOOK_SECRET)
        .ok_or(ReceiptError::Unauthorized)?;
    let signature = inbound
        .header("x-dexatel-signature")
        .ok_or(ReceiptError::Unauthorized)?
        .trim();
    let mac = hmac_sha256(secret.as_bytes(), inbound.body.as_bytes());
    let hex = otp_core::secret::to_hex(&mac);
    let ok = otp_core::secret::constant_time_eq(
        signature.to_ascii_lowercase().as_bytes(),
        hex.as_bytes(),
    ) | otp_core::secret::constant_time_eq(
        signature.as_bytes(),
        STANDARD.encode(mac).as_bytes(),
    );
    if !ok {
        return Err(ReceiptError::Unauthorized);
    }
    let json = inbound.json()?;
    let first = |pointers: &[&str]| pointers.iter().find_map(|p| text_at(&json, p));
    let message_id = first(&["/data/message_id", "/data/id", "/message_id", "/id"])
        .ok_or(ReceiptError::Unreadable)?;
    let status = first(&["/data/status", "/status"]).ok_or(ReceiptError::Unreadable)?;
    Ok(DeliveryReport {
        message_id: Some(message_id),
        status: match status.to_ascii_uppercase().as_str() {
            "DELIVERED" => Some(DeliveryStatus::Delivered),
            "FAILED" | "EXPIRED" => Some(DeliveryStatus::Undelivered),
            "REJECTED" => Some(DeliveryStatus::Failed),
            _ => None,
        },
        error_code: first(&["/data/error_code", "/error_code"]).and_then(|c| clean_error_code(&c)),
        otp_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::receipts::test_support::{post, with_header};
    use crate::gateway::test_support::{message, outgoing, reply, FakeSettings};
    use otp_core::sms::SmsEncoding;
    use serde_json::json;

    fn dexatel() -> Dexatel {
        Dexatel::new(&FakeSettings(vec![
            (API_KEY, "dx-key"),
            (API_BASE_VAR, "http://127.0.0.1:4012///"),
        ]))
        .expect("configured")
    }

    #[test]
    fn request_wraps_the_message_in_data_with_digits_only_recipients() {
        let msg = message("Your code: 012345", SmsEncoding::Gsm7);
        let sms = outgoing(&msg, None);
        let req = dexatel().request(&sms).unwrap();
        assert_eq!(req.url, "http://127.0.0.1:4012/v1/messages");
        assert_eq!(req.header("x-dexatel-key"), Some("dx-key"));
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({"data": {
                "from": "Acme",
                "to": ["33612424111"],
                "text": "Your code: 012345",
                "channel": "SMS",
            }})
        );
    }

    #[test]
    fn a_missing_key_is_not_configured() {
        assert_eq!(
            Dexatel::new(&FakeSettings(vec![])).err(),
            Some(GatewayError::NotConfigured(API_KEY))
        );
    }

    #[test]
    fn any_2xx_is_a_receipt_with_the_id_when_present() {
        assert_eq!(
            dexatel().accepted(&reply(
                200,
                r#"{"data":[{"id":"6f1c0f6e-55a4-4b0e-9b1a-2b2f9c1d2e3f","status":"queued"}]}"#
            )),
            Ok(Some("6f1c0f6e-55a4-4b0e-9b1a-2b2f9c1d2e3f".into()))
        );
        assert_eq!(dexatel().accepted(&reply(202, "")), Ok(None));
    }

    #[test]
    fn an_error_status_is_a_rejection_with_the_dexatel_code() {
        assert_eq!(
            dexatel().accepted(&reply(
                400,
                r#"{"errors":[{"code":1523,"message":"invalid recipient"}]}"#
            )),
            Err(GatewayError::Rejected {
                status: 400,
                provider_code: Some("1523".into())
            })
        );
    }

    fn webhook(body: &str, signature: &str) -> Inbound {
        with_header(
            post(
                "https://otp.example.com/dlr/dexatel/app",
                "application/json",
                body,
            ),
            "x-dexatel-signature",
            signature,
        )
    }

    #[test]
    fn signed_delivery_webhooks_are_read_and_forged_ones_refused() {
        let settings = FakeSettings(vec![(WEBHOOK_SECRET, "dx-secret")]);
        let body = r#"{"data":{"message_id":"6f1c0f6e","status":"REJECTED","error_code":"1523","price":0.01,"mccmnc":"20801"}}"#;
        let mac = hmac_sha256(b"dx-secret", body.as_bytes());
        let hex = otp_core::secret::to_hex(&mac);
        let expected = DeliveryReport {
            message_id: Some("6f1c0f6e".into()),
            status: Some(DeliveryStatus::Failed),
            error_code: Some("1523".into()),
            otp_id: None,
        };
        assert_eq!(
            read_receipt(&webhook(body, &hex), &settings),
            Ok(expected.clone())
        );
        assert_eq!(
            read_receipt(&webhook(body, &STANDARD.encode(mac)), &settings),
            Ok(expected)
        );
        let other = otp_core::secret::to_hex(&hmac_sha256(b"guess", body.as_bytes()));
        assert_eq!(
            read_receipt(&webhook(body, &other), &settings),
            Err(ReceiptError::Unauthorized)
        );
        let changed = body.replace("REJECTED", "DELIVERED");
        assert_eq!(
            read_receipt(&webhook(&changed, &hex), &settings),
            Err(ReceiptError::Unauthorized)
        );
        assert_eq!(
            read_receipt(&webhook(body, &hex), &FakeSettings(vec![])),
            Err(ReceiptError::Unauthorized)
        );
    }
}
