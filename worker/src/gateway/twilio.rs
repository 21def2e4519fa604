//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! HTTP Basic `TWILIO_ACCOUNT_SID:TWILIO_AUTH_TOKEN`, a form body `To`, `From`
//! (or `MessagingServiceSid`) and `Body`. Success is 2xx (Twilio answers 201)
//! with the message's `sid` in the JSON reply.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::fetch::{HttpReply, PostRequest};
use super::{
    first_text_at, is_success, rejected, GatewayError, OutgoingSms, Provider, Receipt, Settings,
};

/// Var overriding the API host (tests point it at a fake provider).
const API_BASE_VAR: &str = "TWILIO_API_BASE";
const DEFAULT_API_BASE: &str = "https://api.twilio.com";
/// Secret: the account SID (`AC` + 32 hex digits).
const ACCOUNT_SID: &str = "TWILIO_ACCOUNT_SID";
/// Secret: the account's auth token.
const AUTH_TOKEN: &str = "TWILIO_AUTH_TOKEN";

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
        let body = serde_urlencoded::to_string([
            ("To", message.to.as_str()),
            sender,
            ("Body", message.text.as_str()),
        ])
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

    fn receipt(&self, reply: &HttpReply) -> Result<Receipt, GatewayError> {
        if !is_success(reply.status) {
            return Err(rejected(reply));
        }
        let sid = first_text_at(&reply.body, &["/sid"]).ok_or(GatewayError::BadReply)?;
        Ok(Receipt {
            message_id: Some(sid),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_support::{message, reply, FakeSettings};
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
        let sms = OutgoingSms {
            app_id: "app",
            otp_id: "otp",
            message: &msg,
        };
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
        let sms = OutgoingSms {
            app_id: "app",
            otp_id: "otp",
            message: &msg,
        };
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
        let sms = OutgoingSms {
            app_id: "app",
            otp_id: "otp",
            message: &msg,
        };
        let req = twilio(None).request(&sms).unwrap();
        assert!(req.body.ends_with("&Body=%D0%9A%D0%BE%D0%B4+1234"));
    }

    #[test]
    fn the_default_host_is_api_twilio_com() {
        let settings = FakeSettings(vec![(ACCOUNT_SID, SID), (AUTH_TOKEN, "t")]);
        let msg = message("x", SmsEncoding::Gsm7);
        let sms = OutgoingSms {
            app_id: "a",
            otp_id: "o",
            message: &msg,
        };
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
    fn created_with_a_sid_is_a_receipt() {
        let got = twilio(None).receipt(&reply(
            201,
            r#"{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}"#,
        ));
        assert_eq!(
            got,
            Ok(Receipt {
                message_id: Some("SM0123456789abcdef0123456789abcdef".into())
            })
        );
    }

    #[test]
    fn success_without_a_readable_sid_is_a_bad_reply() {
        for body in ["{not json", "{}", r#"{"sid":null}"#, ""] {
            assert_eq!(
                twilio(None).receipt(&reply(201, body)),
                Err(GatewayError::BadReply),
                "{body}"
            );
        }
    }

    #[test]
    fn an_error_status_is_a_rejection_with_twilio_code() {
        assert_eq!(
            twilio(None).receipt(&reply(
                400,
                r#"{"code":21211,"message":"Invalid 'To' Phone Number","status":400}"#
            )),
            Err(GatewayError::Rejected {
                status: 400,
                provider_code: Some("21211".into())
            })
        );
        assert_eq!(
            twilio(None).receipt(&reply(500, "oops")),
            Err(GatewayError::Rejected {
                status: 500,
                provider_code: None
            })
        );
    }
}
