//! Delivery receipts as providers send them: each provider's own callback format,
//! authenticated, read into [`DeliveryReport`]s. Pure (the endpoint in
//! `crate::api::dlr` does the I/O), tested natively against each provider's
//! documented examples and signature rules.
//!
//! How each provider's receipt is authenticated:
//!
//! | provider | authentication |
//! | --- | --- |
//! | `twilio` | `X-Twilio-Signature`: base64 HMAC-SHA1 of the URL and the sorted POST parameters, keyed by the auth token |
//! | `plivo` | `X-Plivo-Signature-V3` with `X-Plivo-Signature-V3-Nonce`: base64 HMAC-SHA256 of the URL, the sorted parameters and the nonce, keyed by the auth token |
//! | `vonage` | its signed receipts (`sig`, HMAC of the sorted parameters) when `VONAGE_SIGNATURE_SECRET` is set; otherwise the token |
//! | `dexatel` | `X-Dexatel-Signature`: HMAC-SHA256 of the body, keyed by `DEXATEL_WEBHOOK_SECRET` |
//! | `webhook` | Standard Webhooks headers under the application's webhook secret, at most 5 minutes old |
//! | `sinch`, `infobip` | the application's receipt token in the URL (`token=`): neither signs its callbacks by default |
//!
//! A receipt URL may name credentials (`cred=NAME`): the secrets are then read
//! with the suffix `_NAME`, as for sending.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use otp_core::secret::constant_time_eq;
use otp_core::time::UnixSeconds;

use super::delivery::DeliveryReport;
use super::{is_credentials_name, Named, Settings};

/// A receipt as it came in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inbound {
    /// The URL the provider called, as it was given to it
    /// (`{PUBLIC_BASE_URL}{path}?{query}`): what URL signatures cover.
    pub(crate) url: String,
    /// The query parameters, decoded, in order.
    pub(crate) query: Vec<(String, String)>,
    /// Header names (lower case) and values.
    pub(crate) headers: Vec<(String, String)>,
    /// The body (UTF-8).
    pub(crate) body: String,
    /// Whether it came as a GET (parameters in the query).
    pub(crate) is_get: bool,
}

impl Inbound {
    /// The value of header `name` (lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `name`.
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body is a form (`application/x-www-form-urlencoded`).
    fn is_form(&self) -> bool {
        self.header("content-type").is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
    }

    /// The body as form parameters, in order.
    pub(crate) fn form(&self) -> Result<Vec<(String, String)>, ReceiptError> {
        serde_urlencoded::from_str(&self.body).map_err(|_| ReceiptError::Unreadable)
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Result<serde_json::Value, ReceiptError> {
        serde_json::from_str(&self.body).map_err(|_| ReceiptError::Unreadable)
    }

    /// The provider's parameters: the query of a GET, the form or flat JSON
    /// object of a POST, without our own (`otp`, `cred`, `token`).
    pub(crate) fn params(&self) -> Result<Vec<(String, String)>, ReceiptError> {
        let params = if self.is_get {
            self.query.clone()
        } else if self.is_form() {
            self.form()?
        } else {
            let serde_json::Value::Object(map) = self.json()? else {
                return Err(ReceiptError::Unreadable);
            };
            map.into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k, s)),
                    serde_json::Value::Number(n) => Some((k, n.to_string())),
                    serde_json::Value::Bool(b) => Some((k, b.to_string())),
                    _ => None,
                })
                .collect()
        };
        Ok(params
            .into_iter()
            .filter(|(k, _)| !OURS.contains(&k.as_str()))
            .collect())
    }
}

/// Our own query parameters in a receipt URL.
pub(crate) const OURS: &[&str] = &["otp", "cred", "token"];

/// Why a receipt was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReceiptError {
    /// Missing or bad signature or token, or unknown credentials (401).
    Unauthorized,
    /// Authenticated, but not a receipt we can read (400).
    Unreadable,
    /// This gateway type takes no receipts (404).
    Unsupported,
}

/// What authenticates receipts of one application.
pub(crate) struct Keys<'a> {
    /// Secrets and vars (the worker's `Env`).
    pub(crate) settings: &'a dyn Settings,
    /// The application's receipt token.
    pub(crate) token: &'a str,
    /// The application's webhook secret (receipts of the `webhook` gateway).
    pub(crate) webhook_secret: &'a str,
    /// Now (the age of Standard Webhooks receipts).
    pub(crate) now: UnixSeconds,
}

impl Keys<'_> {
    /// Whether the URL carries the application's receipt token.
    pub(crate) fn token_ok(&self, inbound: &Inbound) -> bool {
        inbound.query_param("token").is_some_and(|t| {
            !self.token.is_empty() && constant_time_eq(t.as_bytes(), self.token.as_bytes())
        })
    }
}

/// Authenticates and reads a receipt of gateway type `kind`.
pub(crate) fn read(
    kind: &str,
    inbound: &Inbound,
    keys: &Keys<'_>,
) -> Result<Vec<DeliveryReport>, ReceiptError> {
    let credentials = match inbound.query_param("cred") {
        Some(name) if is_credentials_name(name) => Some(name),
        Some(_) => return Err(ReceiptError::Unauthorized),
        None => None,
    };
    let settings = Named::new(keys.settings, credentials);
    match kind {
        "twilio" => super::twilio::read_receipt(inbound, &settings).map(one),
        "plivo" => super::plivo::read_receipt(inbound, &settings).map(one),
        "vonage" => {
            super::vonage::read_receipt(inbound, &settings, keys.token_ok(inbound)).map(one)
        }
        "dexatel" => super::dexatel::read_receipt(inbound, &settings).map(one),
        "webhook" => super::webhook::read_receipt(inbound, keys.webhook_secret, keys.now).map(one),
        "sinch" | "infobip" if !keys.token_ok(inbound) => Err(ReceiptError::Unauthorized),
        "sinch" => super::sinch::read_receipt(inbound).map(one),
        "infobip" => super::infobip::read_receipts(inbound),
        _ => Err(ReceiptError::Unsupported),
    }
}

/// Whether the receipt URL's own parameters (`otp`) are authenticated: covered by
/// the provider's signature (Twilio, Plivo) or carried with the token (Sinch,
/// Infobip, Vonage without a signature secret). Signatures over the body only
/// (Vonage's signed receipts, Dexatel, Standard Webhooks) leave the URL open to
/// change, so its `otp` is not used: the OTP comes from the signed body, or from
/// the message id.
pub(crate) fn trusts_url(kind: &str, inbound: &Inbound, keys: &Keys<'_>) -> bool {
    match kind {
        "twilio" | "plivo" | "sinch" | "infobip" => true,
        "vonage" => {
            let credentials = inbound
                .query_param("cred")
                .filter(|name| is_credentials_name(name));
            Named::new(keys.settings, credentials)
                .setting(super::vonage::SIGNATURE_SECRET)
                .is_none()
        }
        _ => false,
    }
}

fn one(report: DeliveryReport) -> Vec<DeliveryReport> {
    vec![report]
}

/// Base64 of HMAC-SHA1 (Twilio's signatures).
pub(crate) fn hmac_sha1_base64(key: &[u8], data: &[u8]) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(data);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// HMAC-SHA256 (Plivo's, Dexatel's and Vonage's signatures).
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    otp_core::secret::hmac_sha256(key, &[data])
}

/// HMAC-SHA512 (Vonage's signatures with method `sha512`).
pub(crate) fn hmac_sha512(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA1 (Vonage's signatures with method `sha1`).
pub(crate) fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Whether one of the `separator`-separated `candidates` equals `expected`,
/// compared in constant time.
pub(crate) fn any_equal(candidates: &str, separator: char, expected: &str) -> bool {
    candidates
        .split(separator)
        .map(str::trim)
        .fold(false, |found, c| {
            found | (!c.is_empty() && constant_time_eq(c.as_bytes(), expected.as_bytes()))
        })
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Building receipts in tests.

    use super::*;

    /// A POST receipt with `content_type` and `body` to `url` (whose query is parsed).
    pub(crate) fn post(url: &str, content_type: &str, body: &str) -> Inbound {
        let query = url
            .split_once('?')
            .map(|(_, q)| serde_urlencoded::from_str(q).unwrap())
            .unwrap_or_default();
        Inbound {
            url: url.into(),
            query,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            is_get: false,
        }
    }

    /// `inbound` with header `name: value` added.
    pub(crate) fn with_header(mut inbound: Inbound, name: &str, value: &str) -> Inbound {
        inbound.headers.push((name.into(), value.into()));
        inbound
    }

    /// Settings from pairs.
    pub(crate) fn settings(
        pairs: Vec<(&'static str, &'static str)>,
    ) -> crate::gateway::test_support::FakeSettings {
        crate::gateway::test_support::FakeSettings(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        // RFC 2202, test case 2.
        assert_eq!(
            otp_core::secret::to_hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn hmac_sha512_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            otp_core::secret::to_hex(&hmac_sha512(b"Jefe", b"what do ya want for nothing?")),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn candidates_are_compared_one_by_one() {
        assert!(any_equal("a, b,c", ',', "b"));
        assert!(any_equal("v1,x v1,y", ' ', "v1,y"));
        assert!(!any_equal("v1,x", ',', "v1,x"));
        assert!(!any_equal("", ',', ""));
        assert!(!any_equal("ab", ',', "a"));
    }

    #[test]
    fn our_own_parameters_are_not_the_providers() {
        let inbound = post(
            "https://w.test/dlr/vonage/app?otp=o&token=t",
            "application/json",
            r#"{"messageId":"0A","status":"delivered","err-code":"0","price":0.0333,"nested":{"x":1}}"#,
        );
        let mut params = inbound.params().unwrap();
        params.sort();
        assert_eq!(
            params,
            [
                ("err-code".to_owned(), "0".to_owned()),
                ("messageId".to_owned(), "0A".to_owned()),
                ("price".to_owned(), "0.0333".to_owned()),
                ("status".to_owned(), "delivered".to_owned())
            ]
        );
        let get = Inbound {
            query: vec![
                ("otp".into(), "o".into()),
                ("status".into(), "failed".into()),
            ],
            is_get: true,
            ..Inbound::default()
        };
        assert_eq!(
            get.params().unwrap(),
            [("status".to_owned(), "failed".to_owned())]
        );
    }

    #[test]
    fn the_url_otp_counts_only_where_the_url_is_authenticated() {
        let env = settings(vec![("VONAGE_SIGNATURE_SECRET_S", "x")]);
        let keys = Keys {
            settings: &env,
            token: "t",
            webhook_secret: "",
            now: 0,
        };
        let at = |url: &str| post(url, "application/json", "{}");
        for kind in ["twilio", "plivo", "sinch", "infobip"] {
            assert!(
                trusts_url(kind, &at("https://w.test/dlr/x/a?otp=o"), &keys),
                "{kind}"
            );
        }
        assert!(trusts_url(
            "vonage",
            &at("https://w.test/dlr/vonage/a?otp=o"),
            &keys
        ));
        assert!(!trusts_url(
            "vonage",
            &at("https://w.test/dlr/vonage/a?otp=o&cred=S"),
            &keys
        ));
        assert!(!trusts_url(
            "dexatel",
            &at("https://w.test/dlr/dexatel/a?otp=o"),
            &keys
        ));
        assert!(!trusts_url(
            "webhook",
            &at("https://w.test/dlr/webhook/a?otp=o"),
            &keys
        ));
    }

    #[test]
    fn unsigned_providers_need_the_token_and_unknown_types_take_no_receipts() {
        let env = settings(vec![]);
        let keys = Keys {
            settings: &env,
            token: "tok-123",
            webhook_secret: "",
            now: 0,
        };
        let body = r#"{"type":"recipient_delivery_report_sms","batch_id":"01B","recipient":"+33612424111","code":0,"status":"Delivered"}"#;
        let without = post(
            "https://w.test/dlr/sinch/app?otp=o",
            "application/json",
            body,
        );
        assert_eq!(
            read("sinch", &without, &keys),
            Err(ReceiptError::Unauthorized)
        );
        let wrong = post(
            "https://w.test/dlr/sinch/app?otp=o&token=tok-124",
            "application/json",
            body,
        );
        assert_eq!(
            read("sinch", &wrong, &keys),
            Err(ReceiptError::Unauthorized)
        );
        let right = post(
            "https://w.test/dlr/sinch/app?otp=o&token=tok-123",
            "application/json",
            body,
        );
        assert_eq!(read("sinch", &right, &keys).unwrap().len(), 1);
        assert_eq!(read("smscx", &right, &keys), Err(ReceiptError::Unsupported));
        let bad_cred = post(
            "https://w.test/dlr/sinch/app?otp=o&token=tok-123&cred=a-b",
            "application/json",
            body,
        );
        assert_eq!(
            read("sinch", &bad_cred, &keys),
            Err(ReceiptError::Unauthorized)
        );
    }
}
