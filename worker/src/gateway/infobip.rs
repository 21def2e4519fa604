//! Infobip SMS API: `POST /sms/3/messages` with `Authorization: App
//! INFOBIP_API_KEY` and a JSON body `{"messages": [{"sender", "destinations":
//! [{"to": digits without +}], "content": {"text"}, "webhooks": {"delivery":
//! {"url"}, "contentType": "application/json", "callbackData": otpId}}]}`. Success
//! is 2xx with `messages[0].messageId`; a message whose status group is
//! `REJECTED` was refused. Each account has its own host (`INFOBIP_API_BASE`,
//! `https://xxxxx.api.infobip.com`; default `https://api.infobip.com`).
//!
//! Receipts: JSON `{"results": [{"messageId", "status": {"groupName": PENDING |
//! UNDELIVERABLE | DELIVERED | EXPIRED | REJECTED, …}, "error": {"id", "name", …},
//! "callbackData"}, …]}` (up to 100 per request). Infobip does not sign them: the
//! receipt URL's token authenticates them.

use serde::Serialize;

use super::delivery::{clean_id, DeliveryReport, DeliveryStatus};
use super::fetch::{HttpReply, PostRequest};
use super::receipts::{Inbound, ReceiptError};
use super::{
    digits, first_text_at, is_success, rejected, text_at, to_json, GatewayError, Need, OutgoingSms,
    Provider, Settings,
};

/// Var: the account's API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "INFOBIP_API_BASE";
const DEFAULT_API_BASE: &str = "https://api.infobip.com";
/// Secret: the API key.
const API_KEY: &str = "INFOBIP_API_KEY";
/// What this adapter reads from the environment: the one list both sends and
/// `GET /admin/apps/{id}/gateway` use (`super::GatewayConfig::needs`).
pub(super) const NEEDS: &[Need] = &[Need::secret(API_KEY), Need::var(API_BASE_VAR)];
/// Most reports read from one request.
const MAX_REPORTS: usize = 100;

/// The Infobip adapter with its key.
pub(super) struct Infobip {
    base: String,
    api_key: String,
}

#[derive(Serialize)]
struct Request<'a> {
    messages: [Message<'a>; 1],
}

#[derive(Serialize)]
struct Message<'a> {
    sender: &'a str,
    destinations: [Destination<'a>; 1],
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhooks: Option<Webhooks<'a>>,
}

#[derive(Serialize)]
struct Destination<'a> {
    to: &'a str,
}

#[derive(Serialize)]
struct Content<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Webhooks<'a> {
    delivery: Delivery<'a>,
    content_type: &'static str,
    callback_data: &'a str,
}

#[derive(Serialize)]
struct Delivery<'a> {
    url: &'a str,
}

impl Infobip {
    /// Reads the key; a missing one is `NotConfigured`.
    pub(super) fn new(settings: &impl Settings) -> Result<Self, GatewayError> {
        Ok(Infobip {
            base: settings.api_base(API_BASE_VAR, DEFAULT_API_BASE),
            api_key: settings.required(API_KEY)?,
        })
    }
}

impl Provider for Infobip {
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        let message = sms.message;
        Ok(PostRequest {
            url: format!("{}/sms/3/messages", self.base),
            headers: vec![
                ("Authorization", format!("App {}", self.api_key)),
                ("Content-Type", "application/json".into()),
                ("Accept", "application/json".into()),
            ],
            body: to_json(&Request {
                messages: [Message {
                    sender: &message.from,
                    destinations: [Destination {
                        to: digits(&message.to),
                    }],
                    content: Content {
                        text: &message.text,
                    },
                    webhooks: sms.report_url.map(|url| Webhooks {
                        delivery: Delivery { url },
                        content_type: "application/json",
                        callback_data: sms.otp_id,
                    }),
                }],
            })?,
        })
    }

    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        if !is_success(reply.status) {
            return Err(rejected(reply));
        }
        let group = first_text_at(&reply.body, &["/messages/0/status/groupName"]);
        if group.as_deref() == Some("REJECTED") {
            return Err(GatewayError::Rejected {
                status: reply.status,
                provider_code: first_text_at(&reply.body, &["/messages/0/status/name"]),
            });
        }
        first_text_at(&reply.body, &["/messages/0/messageId"])
            .map(Some)
            .ok_or(GatewayError::BadReply)
    }

    fn takes_report_url(&self) -> bool {
        true
    }
}

/// Reads the delivery reports of a request (the token was checked by the caller).
pub(super) fn read_receipts(inbound: &Inbound) -> Result<Vec<DeliveryReport>, ReceiptError> {
    let json = inbound.json()?;
    let results = json
        .pointer("/results")
        .and_then(|r| r.as_array())
        .filter(|r| !r.is_empty() && r.len() <= MAX_REPORTS)
        .ok_or(ReceiptError::Unreadable)?;
    results.iter().map(report).collect()
}

fn report(result: &serde_json::Value) -> Result<DeliveryReport, ReceiptError> {
    let message_id = text_at(result, "/messageId").ok_or(ReceiptError::Unreadable)?;
    let group = result
        .pointer("/status/groupName")
        .and_then(|g| g.as_str())
        .ok_or(ReceiptError::Unreadable)?;
    let status = match group {
        "DELIVERED" => Some(DeliveryStatus::Delivered),
        "UNDELIVERABLE" | "EXPIRED" => Some(DeliveryStatus::Undelivered),
        "REJECTED" => Some(DeliveryStatus::Failed),
        _ => None,
    };
    let error_code = text_at(result, "/error/id")
        .filter(|id| id != "0")
        .or_else(|| text_at(result, "/error/name").filter(|n| n != "NO_ERROR"));
    Ok(DeliveryReport {
        message_id: Some(message_id),
        status,
        error_code: error_code.filter(|_| status != Some(DeliveryStatus::Delivered)),
        otp_id: result
            .pointer("/callbackData")
            .and_then(|c| c.as_str())
            .and_then(clean_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::receipts::test_support::post;
    use crate::gateway::test_support::{message, outgoing, reply, FakeSettings};
    use otp_core::sms::SmsEncoding;
    use serde_json::json;

    fn infobip() -> Infobip {
        Infobip::new(&FakeSettings(vec![
            (API_KEY, "ib-key"),
            (API_BASE_VAR, "https://xyz12.api.infobip.com/"),
        ]))
        .expect("configured")
    }

    #[test]
    fn request_is_one_message_with_the_delivery_webhook_and_the_otp_as_callback_data() {
        let msg = message("Your code: 012345", SmsEncoding::Gsm7);
        let url = "https://otp.example.com/dlr/infobip/app?otp=o&token=t";
        let req = infobip().request(&outgoing(&msg, Some(url))).unwrap();
        assert_eq!(req.url, "https://xyz12.api.infobip.com/sms/3/messages");
        assert_eq!(req.header("authorization"), Some("App ib-key"));
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({"messages": [{
                "sender": "Acme",
                "destinations": [{"to": "33612424111"}],
                "content": {"text": "Your code: 012345"},
                "webhooks": {
                    "delivery": {"url": url},
                    "contentType": "application/json",
                    "callbackData": "123e4567-e89b-42d3-a456-426614174000"
                }
            }]})
        );
        let plain = infobip().request(&outgoing(&msg, None)).unwrap();
        assert!(!plain.body.contains("webhooks"));
        assert_eq!(
            Infobip::new(&FakeSettings(vec![])).err(),
            Some(GatewayError::NotConfigured(API_KEY))
        );
    }

    #[test]
    fn pending_is_accepted_rejected_is_refused() {
        let ok = json!({"bulkId": "b1", "messages": [{"messageId": "ib-1", "status": {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED"}, "destination": "33612424111"}]});
        assert_eq!(
            infobip().accepted(&reply(200, &ok.to_string())),
            Ok(Some("ib-1".into()))
        );
        let refused = json!({"messages": [{"messageId": "ib-2", "status": {"groupId": 5, "groupName": "REJECTED", "id": 6, "name": "REJECTED_NETWORK"}}]});
        assert_eq!(
            infobip().accepted(&reply(200, &refused.to_string())),
            Err(GatewayError::Rejected {
                status: 200,
                provider_code: Some("REJECTED_NETWORK".into())
            })
        );
        assert_eq!(
            infobip().accepted(&reply(200, "{}")),
            Err(GatewayError::BadReply)
        );
        assert_eq!(
            infobip().accepted(&reply(401, r#"{"requestError":{"serviceException":{"messageId":"UNAUTHORIZED","text":"Invalid login details"}}}"#)),
            Err(GatewayError::Rejected {
                status: 401,
                provider_code: Some("UNAUTHORIZED".into())
            })
        );
    }

    #[test]
    fn delivery_reports_are_read_in_bulk() {
        let body = json!({"results": [
            {
                "bulkId": "b1", "messageId": "ib-1", "to": "33612424111",
                "sentAt": "2019-11-09T16:00:00.000+0000", "doneAt": "2019-11-09T16:00:00.000+0000",
                "smsCount": 1, "callbackData": "123e4567-e89b-42d3-a456-426614174000",
                "price": {"pricePerMessage": 0.01, "currency": "EUR"},
                "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
                "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "permanent": false}
            },
            {
                "messageId": "ib-2",
                "status": {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"},
                "error": {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 27, "name": "EC_ABSENT_SUBSCRIBER", "permanent": false}
            }
        ]})
        .to_string();
        let inbound = post(
            "https://otp.example.com/dlr/infobip/app?token=t",
            "application/json",
            &body,
        );
        let reports = read_receipts(&inbound).unwrap();
        assert_eq!(
            reports[0],
            DeliveryReport {
                message_id: Some("ib-1".into()),
                status: Some(DeliveryStatus::Delivered),
                error_code: None,
                otp_id: Some("123e4567-e89b-42d3-a456-426614174000".into()),
            }
        );
        assert_eq!(reports[1].status, Some(DeliveryStatus::Undelivered));
        assert_eq!(reports[1].error_code.as_deref(), Some("27"));
        for bad in [
            "{}",
            r#"{"results":[]}"#,
            r#"{"results":[{"messageId":"x"}]}"#,
        ] {
            let inbound = post(
                "https://otp.example.com/dlr/infobip/app",
                "application/json",
                bad,
            );
            assert_eq!(
                read_receipts(&inbound),
                Err(ReceiptError::Unreadable),
                "{bad}"
            );
        }
    }
}
