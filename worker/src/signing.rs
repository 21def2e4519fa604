//! Standard Webhooks signatures for everything the worker POSTs to a customer:
//! status callbacks and the `webhook` SMS gateway.
//!
//! Each request carries three headers: `webhook-id` (the same for every retry of
//! one event), `webhook-timestamp` (Unix seconds of the attempt) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
//! The key is the application's webhook secret: `whsec_` followed by the base64 of
//! random bytes, and the HMAC key is those decoded bytes (the Standard Webhooks and
//! Svix libraries verify these signatures as they are).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use otp_core::rng::{OsRandom, RandomSource};
use otp_core::secret::hmac_sha256;

/// Prefix of every webhook secret.
pub(crate) const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new webhook secret.
const SECRET_BYTES: usize = 24;
/// Random bytes in a new message id.
const MESSAGE_ID_BYTES: usize = 16;

/// Header naming the event; retries of one event repeat it.
pub(crate) const HEADER_ID: &str = "webhook-id";
/// Header with the Unix time (seconds) the attempt was signed.
pub(crate) const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header with the `v1,<base64>` signature.
pub(crate) const HEADER_SIGNATURE: &str = "webhook-signature";

/// A new webhook secret: `whsec_` + base64 of 24 random bytes from the OS CSPRNG.
pub(crate) fn new_webhook_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRandom.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// A new `webhook-id`: `msg_` + 22 url-safe base64 characters (128 random bits).
pub(crate) fn new_message_id() -> String {
    let mut bytes = [0u8; MESSAGE_ID_BYTES];
    OsRandom.fill_bytes(&mut bytes);
    format!("msg_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The HMAC key of `secret`: the base64-decoded part after `whsec_`. A secret
/// that is not in that form (hand-set by an operator) is used as raw bytes, so
/// signing never fails; secrets made by [`new_webhook_secret`] always decode.
fn key_bytes(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .filter(|key| !key.is_empty())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` value for `body` sent as message `msg_id` at `timestamp`.
pub(crate) fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> String {
    let timestamp = timestamp.to_string();
    let mac = hmac_sha256(
        &key_bytes(secret),
        &[
            msg_id.as_bytes(),
            b".",
            timestamp.as_bytes(),
            b".",
            body.as_bytes(),
        ],
    );
    format!("v1,{}", STANDARD.encode(mac))
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
    header.split(' ').fold(false, |found, candidate| {
        found | constant_time_eq(candidate.as_bytes(), expected.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification (also Svix's test
    // vector), checked independently with node:crypto:
    // createHmac("sha256", Buffer.from(secret.slice(6), "base64"))
    //   .update(`${id}.${ts}.${body}`).digest("base64")
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
    fn signature_matches_a_vector_computed_with_node_crypto() {
        // node -e 'const c=require("crypto");console.log(c.createHmac("sha256",
        //   Buffer.from("dGVzdC1zZWNyZXQtMjQtYnl0ZXMtbG9uZyE=","base64"))
        //   .update("msg_abc.1700000000.{\"event\":\"otp_update\",\"data\":[]}")
        //   .digest("base64"))'
        let body = r#"{"event":"otp_update","data":[]}"#;
        assert_eq!(
            sign(
                "whsec_dGVzdC1zZWNyZXQtMjQtYnl0ZXMtbG9uZyE=",
                "msg_abc",
                1_700_000_000,
                body
            ),
            "v1,KVAZysleRTJtgFoXUzMfnTTj7tnGxC9nTcaCvOdho4g="
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
        assert_eq!(key_bytes(&a).len(), 24);
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
    fn a_secret_that_is_not_whsec_base64_signs_with_its_raw_bytes() {
        let raw = "not-a-whsec-secret";
        let expected = hmac_sha256(raw.as_bytes(), &[b"id.1.body"]);
        assert_eq!(
            sign(raw, "id", 1, "body"),
            format!("v1,{}", STANDARD.encode(expected))
        );
        // Same with the prefix but a body that is not base64.
        let bad = "whsec_***";
        let expected = hmac_sha256(bad.as_bytes(), &[b"id.1.body"]);
        assert_eq!(
            sign(bad, "id", 1, "body"),
            format!("v1,{}", STANDARD.encode(expected))
        );
    }
}
