//! Sinch SMS REST API: `POST /xms/v1/{service_plan_id}/batches` with
//! `Authorization: Bearer SINCH_API_TOKEN` and a JSON body `from`, `to: [E.164]`,
//! `body`, `client_reference` (the otpId) and, for receipts, `delivery_report:
//! per_recipient` with `callback_url`. Success is 2xx (Sinch answers 201) with the
//! batch `id`, which is the message id. The host is regional
//! (`SINCH_API_BASE`, default `https://us.sms.api.sinch.com`).
//!
//! Receipts: JSON `{"type": "recipient_delivery_report_sms", "batch_id",
//! "recipient", "code", "status", "client_reference", …}` with statuses `Queued`,
//! `Dispatched`, `Delivered`, `Failed`, `Expired`, `Rejected`, `Aborted`,
//! `Cancelled`, `Deleted`, `Unknown`. Sinch signs callbacks only when its support
//! sets it up: the receipt URL's token authenticates them.

use serde::Serialize;

use super::delivery::{clean_id, DeliveryReport, DeliveryStatus};
use super::fetch::{HttpReply, PostRequest};
use super::receipts::{Inbound, ReceiptError};
use super::{
    first_text_at, is_success, rejected, text_at, to_json, GatewayError, Need, OutgoingSms,
    Provider, Settings,
};

/// Var overriding the API host (a region, or a fake provider in tests).
const API_BASE_VAR: &str = "SINCH_API_BASE";
const DEFAULT_API_BASE: &str = "https://us.sms.api.sinch.com";
/// Secret: the service plan id (it goes into the URL path).
const SERVICE_PLAN_ID: &str = "SINCH_SERVICE_PLAN_ID";
/// Secret: the API token of the service plan.
const API_TOKEN: &str = "SINCH_API_TOKEN";
/// What this adapter reads from the environment: the one list both sends and
/// `GET /admin/apps/{id}/gateway` use (`super::GatewayConfig::needs`).
pub(super) const NEEDS: &[Need] = &[
    Need::secret(SERVICE_PLAN_ID),
    Need::secret(API_TOKEN),
    Need::var(API_BASE_VAR),
];

/// The Sinch adapter with its credentials.
pub(super) struct Sinch {
    base: String,
    service_plan_id: String,
    api_token: String,
}

#[derive(Serialize)]
struct Body<'a> {
    from: &'a str,
    to: [&'a str; 1],
    body: &'a str,
    client_reference: &'a str,
    delivery_report: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
}

impl Sinch {
    /// Reads the credentials; a missing or malformed one is `NotConfigured`.
    pub(super) fn new(settings: &impl Settings) -> Result<Self, GatewayError> {
        let service_plan_id = settings.required(SERVICE_PLAN_ID)?;
        if service_plan_id.len() > 64 || !service_plan_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(GatewayError::NotConfigured(SERVICE_PLAN_ID));
        }
        Ok(Sinch {
            base: settings.api_base(API_BASE_VAR, DEFAULT_API_BASE),
            api_token: settings.required(API_TOKEN)?,
            service_plan_id,
        })
    }
}

impl Provider for Sinch {
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        let message = sms.message;
        Ok(PostRequest {
            url: format!("{}/xms/v1/{}/batches", self.base, self.service_plan_id),
            headers: vec![
                ("Authorization", format!("Bearer {}", self.api_token)),
                ("Content-Type", "application/json".into()),
                ("Accept", "application/json".into()),
            ],
            body: to_json(&Body {
                from: &message.from,
                to: [&message.to],
                body: &message.text,
                client_reference: sms.otp_id,
                delivery_report: if sms.report_url.is_some() {
                    "per_recipient"
                } else {
                    "none"
                },
                callback_url: sms.report_url,
            })?,
        })
    }

    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        if !is_success(reply.status) {
            return Err(rejected(reply));
        }
        first_text_at(&reply.body, &["/id"])
            .map(Some)
            .ok_or(GatewayError::BadReply)
    }

    fn takes_report_url(&self) -> bool {
        true
    }
}

/// Reads a recipient delivery report (the token was checked by the caller).
pub(super) fn read_receipt(inbound: &Inbound) -> Result<DeliveryReport, ReceiptError> {
    let json = inbound.json()?;
    let message_id = text_at(&json, "/batch_id").ok_or(ReceiptError::Unreadable)?;
    let status = json
        .pointer("/status")
        .and_then(|s| s.as_str())
        .ok_or(ReceiptError::Unreadable)?;
    let status = match status {
        "Delivered" => Some(DeliveryStatus::Delivered),
        "Failed" | "Expired" | "Deleted" => Some(DeliveryStatus::Undelivered),
        "Rejected" | "Aborted" | "Cancelled" => Some(DeliveryStatus::Failed),
        _ => None,
    };
    let error_code = text_at(&json, "/code")
        .filter(|_| status.is_some_and(|s| s != DeliveryStatus::Delivered))
        .and_then(|c| super::delivery::clean_error_code(&c));
    Ok(DeliveryReport {
        message_id: Some(message_id),
        status,
        error_code,
        otp_id: json
            .pointer("/client_reference")
            .and_then(|r| r.as_str())
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

    fn sinch() -> Sinch {
        Sinch::new(&FakeSettings(vec![
            (SERVICE_PLAN_ID, "a1b2c3d4"),
            (API_TOKEN, "sinch-token"),
        ]))
        .expect("configured")
    }

    #[test]
    fn request_is_a_bearer_json_batch_with_the_otp_as_client_reference() {
        let msg = message("Your code: 012345", SmsEncoding::Gsm7);
        let url = "https://otp.example.com/dlr/sinch/app?otp=o&token=t";
        let req = sinch().request(&outgoing(&msg, Some(url))).unwrap();
        assert_eq!(
            req.url,
            "https://us.sms.api.sinch.com/xms/v1/a1b2c3d4/batches"
        );
        assert_eq!(req.header("authorization"), Some("Bearer sinch-token"));
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({
                "from": "Acme",
                "to": ["+33612424111"],
                "body": "Your code: 012345",
                "client_reference": "123e4567-e89b-42d3-a456-426614174000",
                "delivery_report": "per_recipient",
                "callback_url": url,
            })
        );
        let plain = sinch().request(&outgoing(&msg, None)).unwrap();
        let body: serde_json::Value = serde_json::from_str(&plain.body).unwrap();
        assert_eq!(body["delivery_report"], "none");
        assert!(!sinch().signs_receipts());
    }

    #[test]
    fn credentials_are_required_and_the_plan_id_checked() {
        assert_eq!(
            Sinch::new(&FakeSettings(vec![
                (SERVICE_PLAN_ID, "a/b"),
                (API_TOKEN, "t")
            ]))
            .err(),
            Some(GatewayError::NotConfigured(SERVICE_PLAN_ID))
        );
        assert_eq!(
            Sinch::new(&FakeSettings(vec![(SERVICE_PLAN_ID, "ab")])).err(),
            Some(GatewayError::NotConfigured(API_TOKEN))
        );
    }

    #[test]
    fn a_created_batch_is_accepted_and_errors_carry_sinch_code() {
        assert_eq!(
            sinch().accepted(&reply(
                201,
                r#"{"id":"01FC66621XXXXX119Z8PMV1QPQ","type":"mt_text"}"#
            )),
            Ok(Some("01FC66621XXXXX119Z8PMV1QPQ".into()))
        );
        assert_eq!(
            sinch().accepted(&reply(201, "{}")),
            Err(GatewayError::BadReply)
        );
        assert_eq!(
            sinch().accepted(&reply(
                400,
                r#"{"code":"syntax_invalid_json","text":"bad"}"#
            )),
            Err(GatewayError::Rejected {
                status: 400,
                provider_code: Some("syntax_invalid_json".into())
            })
        );
    }

    #[test]
    fn recipient_reports_are_read() {
        let body = json!({
            "type": "recipient_delivery_report_sms",
            "batch_id": "01FC66621XXXXX119Z8PMV1QPQ",
            "recipient": "+33612424111",
            "code": 402,
            "status": "Failed",
            "at": "2022-08-30T08:16:08.930Z",
            "client_reference": "123e4567-e89b-42d3-a456-426614174000"
        })
        .to_string();
        let inbound = post(
            "https://otp.example.com/dlr/sinch/app?token=t",
            "application/json",
            &body,
        );
        assert_eq!(
            read_receipt(&inbound),
            Ok(DeliveryReport {
                message_id: Some("01FC66621XXXXX119Z8PMV1QPQ".into()),
                status: Some(DeliveryStatus::Undelivered),
                error_code: Some("402".into()),
                otp_id: Some("123e4567-e89b-42d3-a456-426614174000".into()),
            })
        );
        let delivered = body.replace("Failed", "Delivered").replace("402", "0");
        let inbound = post(
            "https://otp.example.com/dlr/sinch/app",
            "application/json",
            &delivered,
        );
        let report = read_receipt(&inbound).unwrap();
        assert_eq!(report.status, Some(DeliveryStatus::Delivered));
        assert_eq!(report.error_code, None);
        let dispatched = body.replace("Failed", "Dispatched");
        let inbound = post(
            "https://otp.example.com/dlr/sinch/app",
            "application/json",
            &dispatched,
        );
        assert_eq!(read_receipt(&inbound).unwrap().status, None);
        let bad = post(
            "https://otp.example.com/dlr/sinch/app",
            "application/json",
            "{}",
        );
        assert_eq!(read_receipt(&bad), Err(ReceiptError::Unreadable));
    }
}
