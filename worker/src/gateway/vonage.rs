//! Vonage (Nexmo) SMS API: `POST /sms/json` with a JSON body holding the
//! credentials, `from`, `to` (digits without `+`), `text`, `type` (`unicode` for
//! UCS-2 texts), `client-ref` (the otpId) and, for receipts, `callback`. Vonage
//! answers 200 even when it refuses a message: success is a 2xx whose every
//! `messages[].status` is `"0"`; status `"1"` (throttled) is a busy gateway.
//!
//! Receipts: `messageId`, `status` (`delivered`, `expired`, `failed`, `rejected`,
//! `accepted`, `buffered`, `unknown`), `err-code` and `client-ref`, as a GET query,
//! a form or JSON. With `VONAGE_SIGNATURE_SECRET` set (the account's signed
//! webhooks), each must carry a valid `sig`: the HMAC (`VONAGE_SIGNATURE_METHOD`:
//! `sha256`, the default, `sha1` or `sha512`), keyed by the secret, hex, of
//! `&name=value` for every other parameter sorted by name, with `&` and `=` in
//! values replaced by `_`. Without it, the receipt URL's token authenticates.

use otp_core::sms::SmsEncoding;
use serde::{Deserialize, Serialize};

use super::delivery::{clean_error_code, clean_id, DeliveryReport, DeliveryStatus};
use super::fetch::{HttpReply, PostRequest};
use super::receipts::{hmac_sha1, hmac_sha256, hmac_sha512, Inbound, ReceiptError};
use super::{
    digits, is_success, rejected, to_json, GatewayError, Need, OutgoingSms, Provider, Settings,
};

/// Var overriding the API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "VONAGE_API_BASE";
const DEFAULT_API_BASE: &str = "https://rest.nexmo.com";
/// Secret: the API key.
const API_KEY: &str = "VONAGE_API_KEY";
/// Secret: the API secret.
const API_SECRET: &str = "VONAGE_API_SECRET";
/// Secret: the signature secret of signed receipts (optional).
pub(crate) const SIGNATURE_SECRET: &str = "VONAGE_SIGNATURE_SECRET";
/// Var: the signature method of signed receipts (`sha256`, `sha1`, `sha512`).
const SIGNATURE_METHOD: &str = "VONAGE_SIGNATURE_METHOD";
/// What this adapter reads from the environment: the one list both sends and
/// `GET /admin/apps/{id}/gateway` use (`super::GatewayConfig::needs`).
pub(super) const NEEDS: &[Need] = &[
    Need::secret(API_KEY),
    Need::secret(API_SECRET),
    Need::receipts(SIGNATURE_SECRET),
    Need::var(SIGNATURE_METHOD),
    Need::var(API_BASE_VAR),
];

/// The Vonage adapter with its credentials.
pub(super) struct Vonage {
    base: String,
    api_key: String,
    api_secret: String,
    signed: bool,
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
    #[serde(rename = "client-ref")]
    client_ref: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback: Option<&'a str>,
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
            signed: settings.setting(SIGNATURE_SECRET).is_some(),
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
            client_ref: sms.otp_id,
            callback: sms.report_url,
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

    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        if !is_success(reply.status) {
            return Err(rejected(reply));
        }
        let parsed: Reply =
            serde_json::from_str(&reply.body).map_err(|_| GatewayError::BadReply)?;
        let first = parsed.messages.first().ok_or(GatewayError::BadReply)?;
        // A long text is one entry per part; every part must have been taken.
        if let Some(refused) = parsed.messages.iter().find(|m| m.status != "0") {
            let code = refused.status.trim();
            // Throttled: nothing was sent, another gateway may take it.
            if code == "1" && parsed.messages.iter().all(|m| m.status != "0") {
                return Err(GatewayError::Busy {
                    status: reply.status,
                });
            }
            let short =
                !code.is_empty() && code.len() <= 8 && code.bytes().all(|b| b.is_ascii_digit());
            return Err(GatewayError::Rejected {
                status: reply.status,
                provider_code: short.then(|| code.to_owned()),
            });
        }
        Ok(first.message_id.as_deref().and_then(clean_id))
    }

    fn takes_report_url(&self) -> bool {
        true
    }

    fn signs_receipts(&self) -> bool {
        self.signed
    }
}

/// Checks a receipt (its `sig` when a signature secret is set, else the
/// URL's token: `token_ok`) and reads it.
pub(super) fn read_receipt(
    inbound: &Inbound,
    settings: &impl Settings,
    token_ok: bool,
) -> Result<DeliveryReport, ReceiptError> {
    let params = match settings.setting(SIGNATURE_SECRET) {
        Some(secret) => {
            let params = inbound.params().map_err(|_| ReceiptError::Unauthorized)?;
            let method = settings.setting(SIGNATURE_METHOD);
            if !signature_ok(&params, &secret, method.as_deref().unwrap_or("sha256")) {
                return Err(ReceiptError::Unauthorized);
            }
            params
        }
        None if token_ok => inbound.params()?,
        None => return Err(ReceiptError::Unauthorized),
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let message_id = param("messageId")
        .and_then(clean_id)
        .ok_or(ReceiptError::Unreadable)?;
    let status = param("status").ok_or(ReceiptError::Unreadable)?;
    Ok(DeliveryReport {
        message_id: Some(message_id),
        status: match status {
            "delivered" => Some(DeliveryStatus::Delivered),
            "expired" | "failed" => Some(DeliveryStatus::Undelivered),
            "rejected" => Some(DeliveryStatus::Failed),
            _ => None,
        },
        error_code: param("err-code").and_then(clean_error_code),
        otp_id: param("client-ref").and_then(clean_id),
    })
}

/// The string Vonage signs: `&name=value` for each parameter but `sig`, sorted
/// by name, with `&` and `=` in values replaced by `_`.
fn signed_string(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    sorted.sort();
    let mut out = String::new();
    for (name, value) in sorted {
        out.push('&');
        out.push_str(name);
        out.push('=');
        out.push_str(&value.replace(['&', '='], "_"));
    }
    out
}

/// Whether `params` carry a valid `sig` for `secret` and `method`.
fn signature_ok(params: &[(String, String)], secret: &str, method: &str) -> bool {
    let Some((_, sig)) = params.iter().find(|(k, _)| k == "sig") else {
        return false;
    };
    let data = signed_string(params);
    let mac = match method {
        "sha256" => hmac_sha256(secret.as_bytes(), data.as_bytes()).to_vec(),
        "sha1" => hmac_sha1(secret.as_bytes(), data.as_bytes()),
        "sha512" => hmac_sha512(secret.as_bytes(), data.as_bytes()),
        _ => return false,
    };
    let expected = otp_core::secret::to_hex(&mac);
    otp_core::secret::constant_time_eq(sig.to_ascii_lowercase().as_bytes(), expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::receipts::test_support::post;
    use crate::gateway::test_support::{message, outgoing, reply, FakeSettings};
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
        let sms = outgoing(&msg, None);
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
                "client-ref": "123e4567-e89b-42d3-a456-426614174000",
            })
        );
        let url = "https://otp.example.com/dlr/vonage/app?otp=o&token=t";
        let with_url = vonage().request(&outgoing(&msg, Some(url))).unwrap();
        let body: serde_json::Value = serde_json::from_str(&with_url.body).unwrap();
        assert_eq!(body["callback"], url);
    }

    #[test]
    fn ucs2_texts_are_sent_as_unicode() {
        let msg = message("Ваш код 1234", SmsEncoding::Ucs2);
        let sms = outgoing(&msg, None);
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
            vonage().accepted(&reply(200, &body)),
            Ok(Some("0A0000000123ABCD1".into()))
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
            vonage().accepted(&reply(200, &body)),
            Err(GatewayError::Rejected {
                status: 200,
                provider_code: Some("2".into())
            })
        );
    }

    #[test]
    fn throttled_is_a_busy_gateway() {
        let body =
            json!({"message-count": "1", "messages": [{"status": "1", "error-text": "Throttled"}]})
                .to_string();
        assert_eq!(
            vonage().accepted(&reply(200, &body)),
            Err(GatewayError::Busy { status: 200 })
        );
    }

    // Vonage's parameters of a receipt, signed here with HMAC-SHA256 the way
    // its SDKs do (hex of the HMAC of the sorted `&name=value` string).
    fn signed_receipt(secret: &str, status: &str) -> String {
        let mut params = vec![
            ("msisdn", "33612424111".to_owned()),
            ("to", "AcmeCo".to_owned()),
            ("network-code", "20801".to_owned()),
            ("messageId", "0A0000000123ABCD1".to_owned()),
            ("price", "0.03330000".to_owned()),
            ("status", status.to_owned()),
            ("scts", "2001011400".to_owned()),
            (
                "err-code",
                if status == "delivered" { "0" } else { "6" }.to_owned(),
            ),
            (
                "client-ref",
                "123e4567-e89b-42d3-a456-426614174000".to_owned(),
            ),
            ("message-timestamp", "2020-01-01 12:00:00".to_owned()),
            ("timestamp", "1577880000".to_owned()),
        ];
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let sig = otp_core::secret::to_hex(&hmac_sha256(
            secret.as_bytes(),
            signed_string(&owned).as_bytes(),
        ));
        params.push(("sig", sig.to_uppercase()));
        serde_urlencoded::to_string(params).unwrap()
    }

    #[test]
    fn the_signed_string_sorts_and_masks_separators() {
        let params = vec![
            ("b".to_owned(), "x&y=z".to_owned()),
            ("a".to_owned(), "1".to_owned()),
            ("sig".to_owned(), "ignored".to_owned()),
        ];
        assert_eq!(signed_string(&params), "&a=1&b=x_y_z");
    }

    #[test]
    fn signed_receipts_are_checked_when_a_signature_secret_is_set() {
        let signed = FakeSettings(vec![(SIGNATURE_SECRET, "s3cret")]);
        let url = "https://otp.example.com/dlr/vonage/app?otp=123e4567-e89b-42d3-a456-426614174000";
        let good = post(
            url,
            "application/x-www-form-urlencoded",
            &signed_receipt("s3cret", "failed"),
        );
        assert_eq!(
            read_receipt(&good, &signed, false),
            Ok(DeliveryReport {
                message_id: Some("0A0000000123ABCD1".into()),
                status: Some(DeliveryStatus::Undelivered),
                error_code: Some("6".into()),
                otp_id: Some("123e4567-e89b-42d3-a456-426614174000".into()),
            })
        );
        let forged = post(
            url,
            "application/x-www-form-urlencoded",
            &signed_receipt("guess", "delivered"),
        );
        assert_eq!(
            read_receipt(&forged, &signed, true),
            Err(ReceiptError::Unauthorized)
        );
        let sha512 = FakeSettings(vec![
            (SIGNATURE_SECRET, "s3cret"),
            (SIGNATURE_METHOD, "sha512"),
        ]);
        assert_eq!(
            read_receipt(&good, &sha512, false),
            Err(ReceiptError::Unauthorized)
        );
    }

    #[test]
    fn without_a_signature_secret_the_token_authenticates() {
        let unsigned = FakeSettings(vec![]);
        let body = r#"{"messageId":"0A01","status":"delivered","err-code":"0","client-ref":"123e4567-e89b-42d3-a456-426614174000"}"#;
        let inbound = post(
            "https://otp.example.com/dlr/vonage/app?token=t",
            "application/json",
            body,
        );
        assert_eq!(
            read_receipt(&inbound, &unsigned, false),
            Err(ReceiptError::Unauthorized)
        );
        let report = read_receipt(&inbound, &unsigned, true).unwrap();
        assert_eq!(report.status, Some(DeliveryStatus::Delivered));
        assert_eq!(report.error_code, None);
        let get = Inbound {
            query: vec![
                ("token".into(), "t".into()),
                ("messageId".into(), "0A02".into()),
                ("status".into(), "accepted".into()),
            ],
            is_get: true,
            ..Inbound::default()
        };
        assert_eq!(read_receipt(&get, &unsigned, true).unwrap().status, None);
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
                vonage().accepted(&reply(200, body)),
                Err(GatewayError::BadReply),
                "{body}"
            );
        }
    }

    #[test]
    fn an_error_status_is_a_rejection() {
        assert_eq!(
            vonage().accepted(&reply(503, "")),
            Err(GatewayError::Rejected {
                status: 503,
                provider_code: None
            })
        );
    }
}
