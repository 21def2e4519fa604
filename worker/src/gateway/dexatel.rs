//! Dexatel: `POST /v1/messages` with header `X-Dexatel-Key` and a JSON body
//! `{"data": {"from", "to": [digits without +], "text", "channel": "SMS"}}`.
//! Any 2xx is success; the message id is read from the reply when there is one.

use serde::Serialize;

use super::fetch::{HttpReply, PostRequest};
use super::{
    digits, receipt_on_2xx, to_json, GatewayError, OutgoingSms, Provider, Receipt, Settings,
};

/// Var overriding the API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "DEXATEL_API_BASE";
const DEFAULT_API_BASE: &str = "https://api.dexatel.com";
/// Secret: the API key.
const API_KEY: &str = "DEXATEL_API_KEY";

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

    fn receipt(&self, reply: &HttpReply) -> Result<Receipt, GatewayError> {
        receipt_on_2xx(reply, ID_POINTERS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_support::{message, reply, FakeSettings};
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
        let sms = OutgoingSms {
            app_id: "app",
            otp_id: "otp",
            message: &msg,
        };
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
            dexatel().receipt(&reply(
                200,
                r#"{"data":[{"id":"6f1c0f6e-55a4-4b0e-9b1a-2b2f9c1d2e3f","status":"queued"}]}"#
            )),
            Ok(Receipt {
                message_id: Some("6f1c0f6e-55a4-4b0e-9b1a-2b2f9c1d2e3f".into())
            })
        );
        assert_eq!(dexatel().receipt(&reply(202, "")), Ok(Receipt::default()));
    }

    #[test]
    fn an_error_status_is_a_rejection_with_the_dexatel_code() {
        assert_eq!(
            dexatel().receipt(&reply(
                400,
                r#"{"errors":[{"code":1523,"message":"invalid recipient"}]}"#
            )),
            Err(GatewayError::Rejected {
                status: 400,
                provider_code: Some("1523".into())
            })
        );
    }
}
