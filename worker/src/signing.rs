//! Standard Webhooks signatures for everything the worker POSTs to a customer:
//! status callbacks and the `webhook` SMS gateway.
//!
//! Each request carries three headers: `webhook-id` (the same for every retry of
//! one event), `webhook-timestamp` (Unix seconds of the attempt) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
//! The rule is the core's ([`otp_core::webhook`]), the one the npm package signs
//! with too: the key is the application's webhook secret, `whsec_` followed by
//! padded base64 of 24-64 bytes, decoded (the Standard Webhooks and Svix libraries
//! verify these signatures as they are). A secret in any other form is refused, not
//! used as raw bytes; the worker only makes secrets of the right form
//! ([`new_webhook_secret`]). Here: the OS randomness for secrets and message ids,
//! and the headers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use otp_core::rng::{OsRandom, RandomSource};
use otp_core::webhook::{self, SecretError, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// Random bytes in a new message id.
const MESSAGE_ID_BYTES: usize = 16;

/// A new webhook secret: `whsec_` + base64 of 24 random bytes from the OS CSPRNG.
pub(crate) fn new_webhook_secret() -> String {
    webhook::new_secret(&mut OsRandom)
}

/// A new `webhook-id`: `msg_` + 22 url-safe base64 characters (128 random bits).
pub(crate) fn new_message_id() -> String {
    let mut bytes = [0u8; MESSAGE_ID_BYTES];
    OsRandom.fill_bytes(&mut bytes);
    format!("msg_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `secret` can sign: `whsec_` + padded base64 of 24-64 bytes. Check it
/// before sending anything signed with it (see [`sign`]).
pub(crate) fn check_secret(secret: &str) -> Result<(), SecretError> {
    webhook::WebhookSecret::parse(secret).map(|_| ())
}

/// The `webhook-signature` value for `body` sent as message `msg_id` at
/// `timestamp`. For a secret that [`check_secret`] refuses (never one the worker
/// made) it is empty, a header every receiver rejects: nothing is ever signed with
/// a key a receiver would derive differently.
pub(crate) fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> String {
    webhook::sign(secret, msg_id, timestamp, body).unwrap_or_default()
}

/// The three Standard Webhooks headers (name, value) for one signed request.
pub(crate) fn signed_headers(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> [(&'static str, String); 3] {
    [
        (HEADER_ID, msg_id.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_SIGNATURE, sign(secret, msg_id, timestamp, body)),
    ]
}

/// Whether `header` (space-separated `v1,<base64>` signatures) holds a valid
/// signature of the message, compared in constant time. What a receiver does;
/// here to test [`sign`] against itself and the specification.
#[cfg(test)]
pub(crate) fn verify(secret: &str, msg_id: &str, timestamp: i64, body: &str, header: &str) -> bool {
    use otp_core::secret::constant_time_eq;
    let expected = sign(secret, msg_id, timestamp, body);
    !expected.is_empty()
        && header.split(' ').fold(false, |found, candidate| {
            found | constant_time_eq(candidate.as_bytes(), expected.as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    // The example of the Standard Webhooks specification (also Svix's test
    // vector); the core checks it among the shared vectors of
    // tests/fixtures/webhook-vectors.json, which the npm package checks too.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1_614_265_330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        assert_eq!(
            sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY),
            SPEC_SIGNATURE
        );
    }

    #[test]
    fn headers_carry_id_timestamp_and_signature() {
        let headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY);
        assert_eq!(
            headers,
            [
                ("webhook-id", SPEC_ID.to_owned()),
                ("webhook-timestamp", "1614265330".to_owned()),
                ("webhook-signature", SPEC_SIGNATURE.to_owned()),
            ]
        );
    }

    #[test]
    fn verify_accepts_the_signature_among_others_and_rejects_changes() {
        let sig = sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY);
        assert!(verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, &sig));
        assert!(verify(
            SPEC_SECRET,
            SPEC_ID,
            SPEC_TS,
            SPEC_BODY,
            &format!("v1,bm9wZQ== {sig}")
        ));
        assert!(!verify(SPEC_SECRET, SPEC_ID, SPEC_TS + 1, SPEC_BODY, &sig));
        assert!(!verify(SPEC_SECRET, "msg_other", SPEC_TS, SPEC_BODY, &sig));
        assert!(!verify(SPEC_SECRET, SPEC_ID, SPEC_TS, "{}", &sig));
        let other = new_webhook_secret();
        assert!(!verify(&other, SPEC_ID, SPEC_TS, SPEC_BODY, &sig));
    }

    #[test]
    fn new_secrets_are_whsec_and_24_random_bytes() {
        let a = new_webhook_secret();
        let b = new_webhook_secret();
        assert_ne!(a, b);
        let encoded = a.strip_prefix("whsec_").expect("whsec_ prefix");
        assert_eq!(encoded.len(), 32);
        assert_eq!(STANDARD.decode(encoded).expect("base64").len(), 24);
        assert_eq!(check_secret(&a), Ok(()));
    }

    #[test]
    fn new_message_ids_are_unique_and_header_safe() {
        let a = new_message_id();
        assert_ne!(a, new_message_id());
        assert!(a.starts_with("msg_"));
        assert_eq!(a.len(), 4 + 22);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    }

    #[test]
    fn a_secret_that_is_not_whsec_base64_of_24_to_64_bytes_signs_nothing() {
        for (bad, why) in [
            ("not-a-whsec-secret", SecretError::MissingPrefix),
            ("whsec_***", SecretError::NotBase64),
            ("whsec_c2hvcnQ=", SecretError::WrongLength),
        ] {
            assert_eq!(check_secret(bad), Err(why), "{bad}");
            assert_eq!(sign(bad, "id", 1, "body"), "", "{bad}");
            assert!(!verify(bad, "id", 1, "body", ""));
            let [_, _, (_, signature)] = signed_headers(bad, "id", 1, "body");
            assert_eq!(signature, "");
        }
    }
}
