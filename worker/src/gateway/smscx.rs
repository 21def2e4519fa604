//! SMS.CX: `POST /sms` with header `X-API-KEY` and a JSON body `to` (E.164 with
//! `+`), `from` and `text`. Any 2xx is success; the message id is read from the
//! reply when there is one. (SMS.CX's delivery receipts are not documented where
//! we could read them: its SMS stay `pending`.)

use serde::Serialize;

use super::fetch::{HttpReply, PostRequest};
use super::{id_on_2xx, to_json, GatewayError, Need, OutgoingSms, Provider, Settings};

/// Var overriding the API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "SMSCX_API_BASE";
const DEFAULT_API_BASE: &str = "https://api.sms.cx";
/// Secret: the API key.
const API_KEY: &str = "SMSCX_API_KEY";
/// What this adapter reads from the environment: the one list both sends and
/// `GET /admin/apps/{id}/gateway` use (`super::GatewayConfig::needs`).
pub(super) const NEEDS: &[Need] = &[Need::secret(API_KEY), Need::var(API_BASE_VAR)];

/// Where a message id may sit in an SMS.CX reply.
const ID_POINTERS: &[&str] = &[
    "/data/0/msgId",
    "/data/msgId",
    "/msgId",
    "/data/0/id",
    "/data/id",
    "/id",
];

/// The SMS.CX adapter with its key.
pub(super) struct Smscx {
    base: String,
    api_key: String,
}

#[derive(Serialize)]
struct Body<'a> {
    to: &'a str,
    from: &'a str,
    text: &'a str,
}

impl Smscx {
    /// Reads the key; a missing one is `NotConfigured`.
    pub(super) fn new(settings: &impl Settings) -> Result<Self, GatewayError> {
        Ok(Smscx {
            base: settings.api_base(API_BASE_VAR, DEFAULT_API_BASE),
            api_key: settings.required(API_KEY)?,
        })
    }
}

impl Provider for Smscx {
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        let message = sms.message;
        Ok(PostRequest {
            url: format!("{}/sms", self.base),
            headers: vec![
                ("X-API-KEY", self.api_key.clone()),
                ("Content-Type", "application/json".into()),
                ("Accept", "application/json".into()),
            ],
            body: to_json(&Body {
                to: &message.to,
                from: &message.from,
                text: &message.text,
            })?,
        })
    }

    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        id_on_2xx(reply, ID_POINTERS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_support::{message, outgoing, reply, FakeSettings};
    use otp_core::sms::SmsEncoding;
    use serde_json::json;

    fn smscx() -> Smscx {
        Smscx::new(&FakeSettings(vec![(API_KEY, "cx-key")])).expect("configured")
    }

    #[test]
    fn request_is_json_with_the_api_key_header() {
        let msg = message("Your code: 012345", SmsEncoding::Gsm7);
        let sms = outgoing(&msg, None);
        let req = smscx().request(&sms).unwrap();
        assert_eq!(req.url, "https://api.sms.cx/sms");
        assert_eq!(req.header("x-api-key"), Some("cx-key"));
        assert_eq!(req.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({"to": "+33612424111", "from": "Acme", "text": "Your code: 012345"})
        );
    }

    #[test]
    fn a_missing_key_is_not_configured() {
        assert_eq!(
            Smscx::new(&FakeSettings(vec![])).err(),
            Some(GatewayError::NotConfigured(API_KEY))
        );
    }

    #[test]
    fn any_2xx_is_a_receipt_with_the_id_when_present() {
        assert_eq!(
            smscx().accepted(&reply(201, r#"{"info":{},"data":[{"msgId":"a1b2-c3"}]}"#)),
            Ok(Some("a1b2-c3".into()))
        );
        assert_eq!(smscx().accepted(&reply(200, "accepted")), Ok(None));
    }

    #[test]
    fn an_error_status_is_a_rejection_with_the_smscx_code() {
        assert_eq!(
            smscx().accepted(&reply(
                401,
                r#"{"error":{"type":"unauthorized","message":"no","code":1401}}"#
            )),
            Err(GatewayError::Rejected {
                status: 401,
                provider_code: Some("1401".into())
            })
        );
    }
}
