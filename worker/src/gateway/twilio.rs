//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! HTTP Basic `TWILIO_ACCOUNT_SID:TWILIO_AUTH_TOKEN`, a form body `To`, `From`
//! (or `MessagingServiceSid`), `Body` and, for receipts, `StatusCallback`.
//! Success is 2xx (Twilio answers 201) with the message's `sid` in the JSON reply.
//!
//! Receipts: a form POST to the `StatusCallback` URL with `MessageSid`,
//! `MessageStatus` (`queued`, `sent`, `delivered`, `undelivered`, `failed`, …) and
//! `ErrorCode`, signed by `X-Twilio-Signature`: base64 HMAC-SHA1, keyed by the auth
//! token, of the URL followed by every POST parameter's name and value, sorted by name.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::delivery::{clean_error_code, clean_id, DeliveryReport, DeliveryStatus};
use super::fetch::{HttpReply, PostRequest};
use super::receipts::{any_equal, hmac_sha1_base64, Inbound, ReceiptError};
use super::{
    first_text_at, is_success, rejected, GatewayError, Need, OutgoingSms, Provider, Settings,
};

/// Var overriding the API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "TWILIO_API_BASE";
const DEFAULT_API_BASE: &str = "https://api.twilio.com";
/// Secret: the account SID (`AC` + 32 hex digits).
const ACCOUNT_SID: &str = "TWILIO_ACCOUNT_SID";
/// Secret: the account's auth token.
const AUTH_TOKEN: &str = "TWILIO_AUTH_TOKEN";
/// What this adapter reads from the environment: the one list both sends and
/// `GET /admin/apps/{id}/gateway` use (`super::GatewayConfig::needs`).
pub(super) const NEEDS: &[Need] = &[
    Need::secret(ACCOUNT_SID),
    Need::secret(AUTH_TOKEN),
    Need::var(API_BASE_VAR),
];

/// The Twilio adapter with its credentials.
pub(super) struct Twilio {
    base: String,
    account_sid: String,
    auth_token: String,
    messaging_service_sid: Option<String>,
}

/// Whether `sid` is `prefix` followed by 32 hex digits (Twilio's SID format).
pub(super) fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Twilio {
    /// Reads the credentials; a missing or malformed one is `NotConfigured`.
    pub(super) fn new(
        settings: &impl Settings,
        messaging_service_sid: Option<&str>,
    ) -> Result<Self, GatewayError> {
        let account_sid = settings.required(ACCOUNT_SID)?;
        // The SID goes into the URL path: accept nothing but the real format.
        if !is_sid(&account_sid, "AC") {
            return Err(GatewayError::NotConfigured(ACCOUNT_SID));
        }
        Ok(Twilio {
            base: settings.api_base(API_BASE_VAR, DEFAULT_API_BASE),
            auth_token: settings.required(AUTH_TOKEN)?,
            account_sid,
            messaging_service_sid: messaging_service_sid.map(str::to_owned),
        })
    }
}

impl Provider for Twilio {
    fn request(&self, sms: &OutgoingSms<'_>) -> Result<PostRequest, GatewayError> {
        let message = sms.message;
        let sender = match &self.messaging_service_sid {
            Some(sid) => ("MessagingServiceSid", sid.as_str()),
            None => ("From", message.from.as_str()),
        };
        let mut form = vec![
            ("To", message.to.as_str()),
            sender,
            ("Body", message.text.as_str()),
        ];
        if let Some(url) = sms.report_url {
            form.push(("StatusCallback", url));
        }
        let body = serde_urlencoded::to_string(form)
            .map_err(|_| GatewayError::InvalidConfig("the message could not be encoded"))?;
        let credentials = STANDARD.encode(format!("{}:{}", self.account_sid, self.auth_token));
        Ok(PostRequest {
            url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                self.base, self.account_sid
            ),
            headers: vec![
                ("Authorization", format!("Basic {credentials}")),
                ("Content-Type", "application/x-www-form-urlencoded".into()),
                ("Accept", "application/json".into()),
            ],
            body,
        })
    }

    fn accepted(&self, reply: &HttpReply) -> Result<Option<String>, GatewayError> {
        if !is_success(reply.status) {
            return Err(rejected(reply));
        }
        let sid = first_text_at(&reply.body, &["/sid"]).ok_or(GatewayError::BadReply)?;
        Ok(Some(sid))
    }

    fn takes_report_url(&self) -> bool {
        true
    }

    fn signs_receipts(&self) -> bool {
        true
    }
}

/// Checks `X-Twilio-Signature` and reads the status callback.
pub(super) fn read_receipt(
    inbound: &Inbound,
    settings: &impl Settings,
) -> Result<DeliveryReport, ReceiptError> {
    let token = settings
        .setting(AUTH_TOKEN)
        .ok_or(ReceiptError::Unauthorized)?;
    let signature = inbound
        .header("x-twilio-signature")
        .ok_or(ReceiptError::Unauthorized)?;
    let mut params = inbound.form().map_err(|_| ReceiptError::Unauthorized)?;
    if !any_equal(
        signature,
        ',',
        &signature_of(&token, &inbound.url, &mut params),
    ) {
        return Err(ReceiptError::Unauthorized);
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let message_id = param("MessageSid")
        .or_else(|| param("SmsSid"))
        .and_then(clean_id)
        .ok_or(ReceiptError::Unreadable)?;
    let status = param("MessageStatus")
        .or_else(|| param("SmsStatus"))
        .ok_or(ReceiptError::Unreadable)?;
    Ok(DeliveryReport {
        message_id: Some(message_id),
        status: match status {
            "delivered" | "read" => Some(DeliveryStatus::Delivered),
            "undelivered" => Some(DeliveryStatus::Undelivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        },
        error_code: param("ErrorCode").and_then(clean_error_code),
        otp_id: None,
    })
}

/// Twilio's signature of a POST to `url` with `params` (sorted here).
fn signature_of(token: &str, url: &str, params: &mut [(String, String)]) -> String {
    params.sort();
    let mut data = url.to_owned();
    for (name, value) in params.iter() {
        data.push_str(name);
        data.push_str(value);
    }
    hmac_sha1_base64(token.as_bytes(), data.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::receipts::test_support::{post, with_header};
    use crate::gateway::test_support::{message, outgoing, reply, FakeSettings};
    use otp_core::sms::SmsEncoding;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn twilio(mss: Option<&str>) -> Twilio {
        let settings = FakeSettings(vec![
            (ACCOUNT_SID, SID),
            (AUTH_TOKEN, "tok&en"),
            (API_BASE_VAR, "http://127.0.0.1:4010/"),
        ]);
        Twilio::new(&settings, mss).expect("configured")
    }

    #[test]
    fn request_is_a_basic_auth_form_post_to_the_account_messages() {
        let msg = message("Your code: 012345 & more", SmsEncoding::Gsm7);
        let sms = outgoing(&msg, None);
        let req = twilio(None).request(&sms).unwrap();
        assert_eq!(
            req.url,
            format!("http://127.0.0.1:4010/2010-04-01/Accounts/{SID}/Messages.json")
        );
        assert_eq!(
            req.header("authorization"),
            Some(format!("Basic {}", STANDARD.encode(format!("{SID}:tok&en"))).as_str())
        );
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            req.body,
            "To=%2B33612424111&From=Acme&Body=Your+code%3A+012345+%26+more"
        );
    }

    #[test]
    fn a_messaging_service_replaces_from() {
        let msg = message("Code 1234", SmsEncoding::Gsm7);
        let sms = outgoing(&msg, None);
        let mss = "MG0123456789abcdef0123456789abcdef";
        let req = twilio(Some(mss)).request(&sms).unwrap();
        assert_eq!(
            req.body,
            format!("To=%2B33612424111&MessagingServiceSid={mss}&Body=Code+1234")
        );
    }

    #[test]
    fn unicode_text_is_percent_encoded_as_utf8() {
        let msg = message("Код 1234", SmsEncoding::Ucs2);
        let sms = outgoing(&msg, None);
        let req = twilio(None).request(&sms).unwrap();
        assert!(req.body.ends_with("&Body=%D0%9A%D0%BE%D0%B4+1234"));
    }

    #[test]
    fn the_default_host_is_api_twilio_com() {
        let settings = FakeSettings(vec![(ACCOUNT_SID, SID), (AUTH_TOKEN, "t")]);
        let msg = message("x", SmsEncoding::Gsm7);
        let sms = outgoing(&msg, None);
        let req = Twilio::new(&settings, None).unwrap().request(&sms).unwrap();
        assert!(req
            .url
            .starts_with("https://api.twilio.com/2010-04-01/Accounts/AC"));
    }

    #[test]
    fn missing_or_malformed_credentials_are_not_configured() {
        let cases = [
            (vec![(AUTH_TOKEN, "t")], ACCOUNT_SID),
            (vec![(ACCOUNT_SID, SID)], AUTH_TOKEN),
            (
                vec![(ACCOUNT_SID, "AC/../x"), (AUTH_TOKEN, "t")],
                ACCOUNT_SID,
            ),
        ];
        for (settings, missing) in cases {
            assert_eq!(
                Twilio::new(&FakeSettings(settings), None).err(),
                Some(GatewayError::NotConfigured(missing))
            );
        }
    }

    #[test]
    fn a_report_url_becomes_the_status_callback() {
        let msg = message("Code 1234", SmsEncoding::Gsm7);
        let url = "https://otp.example.com/dlr/twilio/app?otp=o-1&cred=EU";
        let req = twilio(None).request(&outgoing(&msg, Some(url))).unwrap();
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&req.body).unwrap();
        assert_eq!(form.last().unwrap(), &("StatusCallback".into(), url.into()));
        assert!(twilio(None).signs_receipts());
    }

    #[test]
    fn created_with_a_sid_is_a_receipt() {
        let got = twilio(None).accepted(&reply(
            201,
            r#"{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}"#,
        ));
        assert_eq!(got, Ok(Some("SM0123456789abcdef0123456789abcdef".into())));
    }

    // Twilio's documented example of a signed request (Security, "Validating
    // Signatures from Twilio"): auth token 12345, this URL and these parameters.
    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const DOC_BODY: &str = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
    const DOC_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    #[test]
    fn the_signature_matches_twilio_documented_example() {
        let mut params: Vec<(String, String)> = serde_urlencoded::from_str(DOC_BODY).unwrap();
        assert_eq!(signature_of("12345", DOC_URL, &mut params), DOC_SIGNATURE);
    }

    fn callback(body: &str, token: &str) -> Inbound {
        let url = "https://otp.example.com/dlr/twilio/app?otp=123e4567-e89b-42d3-a456-426614174000";
        let mut params: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap();
        let signature = signature_of(token, url, &mut params);
        with_header(
            post(url, "application/x-www-form-urlencoded", body),
            "x-twilio-signature",
            &signature,
        )
    }

    #[test]
    fn signed_status_callbacks_are_read_and_forged_ones_refused() {
        let settings = FakeSettings(vec![(AUTH_TOKEN, "tok")]);
        let body = "MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30005&AccountSid=AC1";
        assert_eq!(
            read_receipt(&callback(body, "tok"), &settings),
            Ok(DeliveryReport {
                message_id: Some("SM1".into()),
                status: Some(DeliveryStatus::Undelivered),
                error_code: Some("30005".into()),
                otp_id: None,
            })
        );
        let delivered = "MessageSid=SM1&MessageStatus=delivered";
        assert_eq!(
            read_receipt(&callback(delivered, "tok"), &settings)
                .unwrap()
                .status,
            Some(DeliveryStatus::Delivered)
        );
        let sent = "MessageSid=SM1&MessageStatus=sent";
        assert_eq!(
            read_receipt(&callback(sent, "tok"), &settings)
                .unwrap()
                .status,
            None
        );
        // Forged: another key, a changed body, a changed URL, no header.
        assert_eq!(
            read_receipt(&callback(body, "other"), &settings),
            Err(ReceiptError::Unauthorized)
        );
        let mut changed = callback(body, "tok");
        changed.body = changed.body.replace("undelivered", "delivered");
        assert_eq!(
            read_receipt(&changed, &settings),
            Err(ReceiptError::Unauthorized)
        );
        let mut moved = callback(body, "tok");
        moved.url.push('0');
        assert_eq!(
            read_receipt(&moved, &settings),
            Err(ReceiptError::Unauthorized)
        );
        let unsigned = post(DOC_URL, "application/x-www-form-urlencoded", body);
        assert_eq!(
            read_receipt(&unsigned, &settings),
            Err(ReceiptError::Unauthorized)
        );
        assert_eq!(
            read_receipt(&callback(body, "tok"), &FakeSettings(vec![])),
            Err(ReceiptError::Unauthorized)
        );
    }

    #[test]
    fn success_without_a_readable_sid_is_a_bad_reply() {
        for body in ["{not json", "{}", r#"{"sid":null}"#, ""] {
            assert_eq!(
                twilio(None).accepted(&reply(201, body)),
                Err(GatewayError::BadReply),
                "{body}"
            );
        }
    }

    #[test]
    fn an_error_status_is_a_rejection_with_twilio_code() {
        assert_eq!(
            twilio(None).accepted(&reply(
                400,
                r#"{"code":21211,"message":"Invalid 'To' Phone Number","status":400}"#
            )),
            Err(GatewayError::Rejected {
                status: 400,
                provider_code: Some("21211".into())
            })
        );
        assert_eq!(
            twilio(None).accepted(&reply(500, "oops")),
            Err(GatewayError::Rejected {
                status: 500,
                provider_code: None
            })
        );
    }
}
