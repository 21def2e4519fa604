//! Plivo: `POST /v1/Account/{auth_id}/Message/`, HTTP Basic
//! `PLIVO_AUTH_ID:PLIVO_AUTH_TOKEN`, a JSON body `src`, `dst` (digits without
//! `+`), `text` and, for receipts, `url` with `method: POST`. Success is 2xx
//! (Plivo answers 202) with `message_uuid: [id]`.
//!
//! Receipts: a form POST to `url` with `MessageUUID`, `ParentMessageUUID` (the
//! first part's id, for a long text), `Status` (`queued`, `sent`, `delivered`,
//! `undelivered`, `failed`, `rejected`) and `ErrorCode`, signed by
//! `X-Plivo-Signature-V3` with `X-Plivo-Signature-V3-Nonce`: base64 HMAC-SHA256,
//! keyed by the auth token, of `{scheme://host/path}?{query sorted by name}.`
//! followed by every POST parameter's name and value sorted by name, then `.` and
//! the nonce (what Plivo's SDKs check).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use super::delivery::{clean_error_code, clean_id, DeliveryReport, DeliveryStatus};
use super::fetch::{HttpReply, PostRequest};
use super::receipts::{any_equal, hmac_sha256, Inbound, ReceiptError};
use super::{
    digits, first_text_at, is_success, rejected, to_json, GatewayError, Need, OutgoingSms,
    Provider, Settings,
};

/// Var overriding the API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "PLIVO_API_BASE";
const DEFAULT_API_BASE: &str = "https://api.plivo.com";
/// Secret: the account's auth id (it goes into the URL path).
const AUTH_ID: &str = "PLIVO_AUTH_ID";
/// Secret: the account's auth token.
const AUTH_TOKEN: &str = "PLIVO_AUTH_TOKEN";
/// What this adapter reads from the environment: the one list both sends and
/// `GET /admin/apps/{id}/gateway` use (`super::GatewayConfig::needs`).
pub(super) const NEEDS: &[Need] = &[
    Need::secret(AUTH_ID),
    Need::secret(AUTH_TOKEN),
    Need::var(API_BASE_VAR),
];

/// The Plivo adapter with its credentials.
pub(super) struct Plivo {
    base: String,
    auth_id: String,
    auth_token: String,
}

#[derive(Serialize)]
struct Body<'a> {
    src: &'a str,
    dst: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
}

impl Plivo {
    /// Reads the credentials; a missing or malformed one is `NotConfigured`.
    pub(super) fn new(settings: &impl Settings) -> Result<Self, GatewayError> {
        let auth_id = settings.required(AUTH_ID)?;
        // It goes into the URL path: letters and digits only.
        if auth_id.is_empty()
            || auth_id.len() > 64
            || !auth_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(GatewayError::NotConfigured(AUTH_ID));
        }
        Ok(Plivo {
            base: settings.api_base(API_BASE_VAR, DEFAULT_API_BASE),
            auth_token: settings.required(AUTH_TOKEN)?,
            auth_id,
        })
    }
}

impl Provider for Plivo {
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        let message = sms.message;
        let credentials = STANDARD.encode(format!("{}:{}", self.auth_id, self.auth_token));
        Ok(PostRequest {
            url: format!("{}/v1/Account/{}/Message/", self.base, self.auth_id),
            headers: vec![
                ("Authorization", format!("Basic {credentials}")),
                ("Content-Type", "application/json".into()),
                ("Accept", "application/json".into()),
            ],
            body: to_json(&Body {
                src: &message.from,
                dst: digits(&message.to),
                text: &message.text,
                url: sms.report_url,
                method: sms.report_url.map(|_| "POST"),
            })?,
        })
    }

    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        if !is_success(reply.status) {
            return Err(rejected(reply));
        }
        first_text_at(&reply.body, &["/message_uuid/0"])
            .map(Some)
            .ok_or(GatewayError::BadReply)
    }

    fn takes_report_url(&self) -> bool {
        true
    }

    fn signs_receipts(&self) -> bool {
        true
    }
}

/// Checks `X-Plivo-Signature-V3` and reads the message status callback.
pub(super) fn read_receipt(
    inbound: &Inbound,
    settings: &impl Settings,
) -> Result<DeliveryReport, ReceiptError> {
    let token = settings
        .setting(AUTH_TOKEN)
        .ok_or(ReceiptError::Unauthorized)?;
    let signature = inbound
        .header("x-plivo-signature-v3")
        .ok_or(ReceiptError::Unauthorized)?;
    let nonce = inbound
        .header("x-plivo-signature-v3-nonce")
        .ok_or(ReceiptError::Unauthorized)?;
    let params = inbound.form().map_err(|_| ReceiptError::Unauthorized)?;
    let expected =
        signature_v3(&token, &inbound.url, &params, nonce).ok_or(ReceiptError::Unauthorized)?;
    if !any_equal(signature, ',', &expected) {
        return Err(ReceiptError::Unauthorized);
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    // Each part of a long text reports on its own, under the first part's id.
    let message_id = param("ParentMessageUUID")
        .or_else(|| param("MessageUUID"))
        .and_then(clean_id)
        .ok_or(ReceiptError::Unreadable)?;
    let status = param("Status").ok_or(ReceiptError::Unreadable)?;
    Ok(DeliveryReport {
        message_id: Some(message_id),
        status: match status {
            "delivered" | "read" => Some(DeliveryStatus::Delivered),
            "undelivered" => Some(DeliveryStatus::Undelivered),
            "failed" | "rejected" => Some(DeliveryStatus::Failed),
            _ => None,
        },
        error_code: param("ErrorCode").and_then(clean_error_code),
        otp_id: None,
    })
}

/// Plivo's V3 signature of a POST with `params` to `url` under `nonce`.
fn signature_v3(
    token: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
) -> Option<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let base = base.split('#').next()?;
    let mut query: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut data = base.to_owned();
    if !query.is_empty() || !params.is_empty() {
        data.push('?');
        data.push_str(&query);
    }
    if !query.is_empty() && !params.is_empty() {
        data.push('.');
    }
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    data.push('.');
    data.push_str(nonce);
    Some(STANDARD.encode(hmac_sha256(token.as_bytes(), data.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::receipts::test_support::{post, with_header};
    use crate::gateway::test_support::{message, outgoing, reply, FakeSettings};
    use otp_core::sms::SmsEncoding;
    use serde_json::json;

    fn plivo() -> Plivo {
        Plivo::new(&FakeSettings(vec![
            (AUTH_ID, "MAXXXXXXXXXXXXXXXXXX"),
            (AUTH_TOKEN, "plivo-token"),
            (API_BASE_VAR, "http://127.0.0.1:4013/"),
        ]))
        .expect("configured")
    }

    #[test]
    fn request_is_basic_auth_json_to_the_account_messages() {
        let msg = message("Your code: 012345", SmsEncoding::Gsm7);
        let url = "https://otp.example.com/dlr/plivo/app?otp=o";
        let req = plivo().request(&outgoing(&msg, Some(url))).unwrap();
        assert_eq!(
            req.url,
            "http://127.0.0.1:4013/v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/"
        );
        assert_eq!(
            req.header("authorization"),
            Some(
                format!(
                    "Basic {}",
                    STANDARD.encode("MAXXXXXXXXXXXXXXXXXX:plivo-token")
                )
                .as_str()
            )
        );
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({"src": "Acme", "dst": "33612424111", "text": "Your code: 012345", "url": url, "method": "POST"})
        );
        let plain = plivo().request(&outgoing(&msg, None)).unwrap();
        let body: serde_json::Value = serde_json::from_str(&plain.body).unwrap();
        assert_eq!(body.get("url"), None);
    }

    #[test]
    fn a_malformed_auth_id_is_not_configured() {
        let settings = FakeSettings(vec![(AUTH_ID, "MA/../x"), (AUTH_TOKEN, "t")]);
        assert_eq!(
            Plivo::new(&settings).err(),
            Some(GatewayError::NotConfigured(AUTH_ID))
        );
        assert_eq!(
            Plivo::new(&FakeSettings(vec![(AUTH_ID, "MA1")])).err(),
            Some(GatewayError::NotConfigured(AUTH_TOKEN))
        );
    }

    #[test]
    fn queued_with_a_uuid_is_accepted_and_errors_are_rejections() {
        assert_eq!(
            plivo().accepted(&reply(
                202,
                r#"{"api_id":"a1","message":"message(s) queued","message_uuid":["db3ce55a-7f1d-11e1-8ea7-1231380bc196"]}"#
            )),
            Ok(Some("db3ce55a-7f1d-11e1-8ea7-1231380bc196".into()))
        );
        assert_eq!(
            plivo().accepted(&reply(202, "{}")),
            Err(GatewayError::BadReply)
        );
        assert_eq!(
            plivo().accepted(&reply(400, r#"{"api_id":"a1","error":"invalid dst"}"#)),
            Err(GatewayError::Rejected {
                status: 400,
                provider_code: None
            })
        );
    }

    #[test]
    fn the_v3_string_follows_plivo_sdk_construction() {
        // No query: `base?` then the sorted parameters; with a query: `base?query.` then them.
        let params = vec![
            ("To".to_owned(), "33612424111".to_owned()),
            ("From".to_owned(), "Acme".to_owned()),
        ];
        let with = |url: &str| signature_v3("k", url, &params, "n").unwrap();
        let expect = |data: &str| STANDARD.encode(hmac_sha256(b"k", data.as_bytes()));
        assert_eq!(
            with("https://w.test/dlr"),
            expect("https://w.test/dlr?FromAcmeTo33612424111.n")
        );
        assert_eq!(
            with("https://w.test/dlr?otp=o&cred=EU"),
            expect("https://w.test/dlr?cred=EU&otp=o.FromAcmeTo33612424111.n")
        );
        assert_eq!(
            signature_v3("k", "https://w.test/dlr?b=2&a=1", &[], "n").unwrap(),
            expect("https://w.test/dlr?a=1&b=2.n")
        );
    }

    fn callback(body: &str, token: &str, nonce: &str) -> Inbound {
        let url = "https://otp.example.com/dlr/plivo/app?otp=123e4567-e89b-42d3-a456-426614174000";
        let params: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap();
        let signature = signature_v3(token, url, &params, nonce).unwrap();
        let inbound = with_header(
            post(url, "application/x-www-form-urlencoded", body),
            "x-plivo-signature-v3",
            &signature,
        );
        with_header(inbound, "x-plivo-signature-v3-nonce", nonce)
    }

    #[test]
    fn signed_callbacks_are_read_and_forged_ones_refused() {
        let settings = FakeSettings(vec![(AUTH_TOKEN, "plivo-token")]);
        let body = "From=Acme&To=33612424111&Status=undelivered&MessageUUID=u-2&ParentMessageUUID=u-1&ErrorCode=30&TotalRate=0.0050&Units=1";
        assert_eq!(
            read_receipt(
                &callback(body, "plivo-token", "12345678901234567890"),
                &settings
            ),
            Ok(DeliveryReport {
                message_id: Some("u-1".into()),
                status: Some(DeliveryStatus::Undelivered),
                error_code: Some("30".into()),
                otp_id: None,
            })
        );
        let delivered = "Status=delivered&MessageUUID=u-1&ParentMessageUUID=&ErrorCode=000";
        let report = read_receipt(&callback(delivered, "plivo-token", "n1"), &settings).unwrap();
        assert_eq!(report.message_id.as_deref(), Some("u-1"));
        assert_eq!(report.error_code, None);
        assert_eq!(
            read_receipt(&callback(body, "guess", "n1"), &settings),
            Err(ReceiptError::Unauthorized)
        );
        let mut other_nonce = callback(body, "plivo-token", "n1");
        other_nonce
            .headers
            .retain(|(n, _)| n != "x-plivo-signature-v3-nonce");
        let other_nonce = with_header(other_nonce, "x-plivo-signature-v3-nonce", "n2");
        assert_eq!(
            read_receipt(&other_nonce, &settings),
            Err(ReceiptError::Unauthorized)
        );
    }
}
