//! Status callbacks: how they are delivered and how they are signed. One rule for
//! every sender (the worker, the npm package's `CallbackSender`); each sender does
//! the I/O and keeps the time, this module decides.
//!
//! **Delivery.** [`CallbackPolicy::STANDARD`]: at most [`MAX_ATTEMPTS`] attempts, each
//! cut off after [`ATTEMPT_TIMEOUT_MS`], with pauses of 1 s, 2 s and 4 s before the
//! retries ([`CallbackPolicy::delay_before`]). A network error, a timeout, 408, 429 and
//! any 5xx are retried ([`should_retry`]); a 2xx is delivered ([`is_delivered`]);
//! anything else (a redirect included: senders never follow one) ends the delivery.
//! The worst case, every attempt timing out, takes 27 s: inside the 30 s a Worker's
//! `waitUntil` may run after its response ([`WAIT_UNTIL_BUDGET_MS`]). Senders may
//! shorten the policy (tests do), never lengthen it ([`CallbackPolicy::shortened`]).
//! A sender reads no reply body: the status is the whole answer.
//!
//! **Signature.** [Standard Webhooks](https://www.standardwebhooks.com): headers
//! [`HEADER_ID`] (the same on every attempt of one event), [`HEADER_TIMESTAMP`] (Unix
//! seconds of the attempt) and [`HEADER_SIGNATURE`] = `v1,<base64 of HMAC-SHA256(key,
//! "{id}.{timestamp}.{body}")>` ([`sign`]).
//!
//! **Secrets.** `whsec_` followed by standard, padded base64 (RFC 4648 §4) of 24 to
//! 64 bytes, the key being those bytes: the form Standard Webhooks and Svix libraries
//! verify with. Anything else is refused ([`WebhookSecret::parse`], [`SecretError`]),
//! so that a sender fails where the secret is configured, never signs with something
//! a receiver would decode differently. [`new_secret`] makes one of 24 random bytes.

use crate::rng::RandomSource;
use core::fmt;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Attempts per event, the first included.
pub const MAX_ATTEMPTS: u32 = 4;
/// Time limit of one attempt (connection, request and reply status), in milliseconds.
pub const ATTEMPT_TIMEOUT_MS: u32 = 5_000;
/// Pause before the first retry, in milliseconds; each next pause doubles.
pub const RETRY_DELAY_MS: u32 = 1_000;
/// What a Cloudflare Worker may still run after its response (`waitUntil`), in
/// milliseconds: the bound [`CallbackPolicy::worst_case_ms`] stays under.
pub const WAIT_UNTIL_BUDGET_MS: u32 = 30_000;

/// Header naming the event; every attempt of one event repeats it.
pub const HEADER_ID: &str = "webhook-id";
/// Header with the Unix time (seconds) the attempt was signed.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header with the `v1,<base64>` signature.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Prefix of every webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Fewest key bytes a secret may hold (the Standard Webhooks minimum).
pub const MIN_SECRET_BYTES: usize = 24;
/// Most key bytes a secret may hold (the Standard Webhooks maximum).
pub const MAX_SECRET_BYTES: usize = 64;
/// Key bytes of a secret made by [`new_secret`].
const NEW_SECRET_BYTES: usize = 24;

/// Whether an attempt that ended with `status` (`None`: a network error or a
/// timeout, no status at all) may succeed if tried again: `None`, 408, 429 and 5xx.
pub const fn should_retry(status: Option<u16>) -> bool {
    matches!(status, None | Some(408 | 429 | 500..=599))
}

/// Whether `status` means the receiver took the event: any 2xx.
pub const fn is_delivered(status: u16) -> bool {
    matches!(status, 200..=299)
}

/// The pause before attempt `attempt` (1-based) under [`CallbackPolicy::STANDARD`].
pub const fn delay_before(attempt: u32) -> Option<u32> {
    CallbackPolicy::STANDARD.delay_before(attempt)
}

/// Attempts, time limit and pauses of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackPolicy {
    max_attempts: u32,
    timeout_ms: u32,
    retry_delay_ms: u32,
}

impl Default for CallbackPolicy {
    fn default() -> Self {
        CallbackPolicy::STANDARD
    }
}

impl CallbackPolicy {
    /// The policy of every sender: 4 attempts, 5 s each, pauses of 1, 2 and 4 s.
    pub const STANDARD: CallbackPolicy = CallbackPolicy {
        max_attempts: MAX_ATTEMPTS,
        timeout_ms: ATTEMPT_TIMEOUT_MS,
        retry_delay_ms: RETRY_DELAY_MS,
    };

    /// [`CallbackPolicy::STANDARD`] with the given values where they are shorter: each
    /// is clamped to at most the standard one (and at least 1 attempt and 1 ms per
    /// attempt; pauses may be 0), so that no setting can take a delivery past the
    /// `waitUntil` budget. For tests and impatient deployments.
    pub const fn shortened(
        max_attempts: Option<u32>,
        timeout_ms: Option<u32>,
        retry_delay_ms: Option<u32>,
    ) -> CallbackPolicy {
        const fn clamp(value: Option<u32>, min: u32, max: u32) -> u32 {
            match value {
                None => max,
                Some(v) if v < min => min,
                Some(v) if v > max => max,
                Some(v) => v,
            }
        }
        CallbackPolicy {
            max_attempts: clamp(max_attempts, 1, MAX_ATTEMPTS),
            timeout_ms: clamp(timeout_ms, 1, ATTEMPT_TIMEOUT_MS),
            retry_delay_ms: clamp(retry_delay_ms, 0, RETRY_DELAY_MS),
        }
    }

    /// Attempts per event, the first included.
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Time limit of one attempt, in milliseconds.
    pub const fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// Pause before the first retry, in milliseconds.
    pub const fn retry_delay_ms(&self) -> u32 {
        self.retry_delay_ms
    }

    /// The pause before attempt `attempt` (1-based), in milliseconds: 0 before the
    /// first, then the retry delay doubling (1 s, 2 s, 4 s); `None` when there is no
    /// such attempt (0, or past [`CallbackPolicy::max_attempts`]). A sender loops
    /// `while let Some(pause) = policy.delay_before(attempt)`.
    pub const fn delay_before(&self, attempt: u32) -> Option<u32> {
        match attempt {
            0 => None,
            a if a > self.max_attempts => None,
            1 => Some(0),
            // At most 1000 << 2 with the clamped values: no overflow.
            a => Some(self.retry_delay_ms << (a - 2)),
        }
    }

    /// The longest a delivery can take: every attempt times out, every pause is taken.
    pub const fn worst_case_ms(&self) -> u32 {
        let mut total = 0;
        let mut attempt = 1;
        while let Some(pause) = self.delay_before(attempt) {
            total += pause + self.timeout_ms;
            attempt += 1;
        }
        total
    }
}

/// Why a webhook secret is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// It does not start with `whsec_` (lowercase).
    MissingPrefix,
    /// What follows `whsec_` is not standard, padded base64.
    NotBase64,
    /// It decodes to fewer than 24 or more than 64 bytes.
    WrongLength,
}

impl SecretError {
    /// What is wrong, in a sentence that names the rule.
    pub const fn message(self) -> &'static str {
        match self {
            SecretError::MissingPrefix => "webhook secret must start with whsec_",
            SecretError::NotBase64 => {
                "webhook secret: what follows whsec_ must be standard padded base64"
            }
            SecretError::WrongLength => "webhook secret must hold 24 to 64 bytes",
        }
    }
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for SecretError {}

/// A checked webhook secret: the HMAC key it stands for, prepared.
#[derive(Clone)]
pub struct WebhookSecret {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// The key of `secret`, `whsec_` + padded base64 of 24-64 bytes, or why not.
    pub fn parse(secret: &str) -> Result<WebhookSecret, SecretError> {
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let mut key = base64_decode(encoded).ok_or(SecretError::NotBase64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(SecretError::WrongLength);
        }
        // HMAC takes keys of any length: this cannot fail.
        let mac = Hmac::new_from_slice(&key).map_err(|_| SecretError::WrongLength);
        key.fill(0);
        Ok(WebhookSecret { mac: mac? })
    }

    /// The `webhook-signature` value of `body` sent as message `msg_id` at `timestamp`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &str) -> String {
        let mut digits = [0u8; 20];
        let mut mac = self.mac.clone();
        for part in [
            msg_id.as_bytes(),
            b".",
            decimal(timestamp, &mut digits),
            b".",
            body.as_bytes(),
        ] {
            mac.update(part);
        }
        let mut signature = String::from("v1,");
        base64_encode_into(&mac.finalize().into_bytes(), &mut signature);
        signature
    }
}

/// The decimal digits of `n` (a `-` first when negative), written at the end of
/// `buf`. Without `core::fmt`, which the npm package's wasm otherwise does without.
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut rest = n.unsigned_abs();
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    &buf[start..]
}

/// [`WebhookSecret::parse`] then [`WebhookSecret::sign`]: the `webhook-signature`
/// value, `v1,<base64>`.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, SecretError> {
    Ok(WebhookSecret::parse(secret)?.sign(msg_id, timestamp, body))
}

/// A new webhook secret: `whsec_` + base64 of 24 bytes from `rng` (use the OS CSPRNG).
pub fn new_secret(rng: &mut dyn RandomSource) -> String {
    let mut bytes = [0u8; NEW_SECRET_BYTES];
    rng.fill_bytes(&mut bytes);
    let mut secret = String::from(SECRET_PREFIX);
    base64_encode_into(&bytes, &mut secret);
    bytes.fill(0);
    secret
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the standard base64 of `bytes`, with padding, to `out`.
fn base64_encode_into(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

/// The bytes of standard, padded base64, or `None`: a character outside the
/// alphabet, a length that is not a multiple of 4, misplaced padding, or unused bits
/// that are not zero (so every byte string has exactly one accepted text).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 != 0 {
        return None;
    }
    let padding = text.iter().rev().take_while(|&&c| c == b'=').count();
    if padding > 2 {
        return None;
    }
    let digits = text.get(..text.len() - padding)?;
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in digits {
        let value = BASE64.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::rng::SeededRandom;
    use serde_json::Value;

    fn base64_encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        base64_encode_into(bytes, &mut out);
        out
    }

    /// The vectors the npm package's test (tests/pkg/callback.test.mjs) checks too.
    const VECTORS: &str = include_str!("../tests/fixtures/webhook-vectors.json");

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).expect("webhook-vectors.json is JSON")
    }

    fn text(v: &Value) -> &str {
        v.as_str().expect("a string")
    }

    fn number(v: &Value) -> u64 {
        v.as_u64().expect("a whole number")
    }

    #[test]
    fn signatures_match_the_shared_vectors_and_the_spec_example() {
        let v = vectors();
        let cases = v["signatures"].as_array().unwrap();
        assert!(cases
            .iter()
            .any(|c| c["name"] == "standard-webhooks-spec-example"));
        for case in cases {
            let signature = sign(
                text(&case["secret"]),
                text(&case["id"]),
                case["timestamp"].as_i64().unwrap(),
                text(&case["body"]),
            );
            assert_eq!(
                signature.as_deref(),
                Ok(text(&case["signature"])),
                "{}",
                case["name"]
            );
        }
    }

    #[test]
    fn secrets_that_break_the_rule_are_refused_with_their_reason() {
        let v = vectors();
        for case in v["badSecrets"].as_array().unwrap() {
            let expected = match text(&case["error"]) {
                "prefix" => SecretError::MissingPrefix,
                "base64" => SecretError::NotBase64,
                "length" => SecretError::WrongLength,
                other => panic!("unknown error kind {other}"),
            };
            assert_eq!(
                WebhookSecret::parse(text(&case["secret"])).err(),
                Some(expected),
                "{}",
                case["secret"]
            );
            assert_eq!(sign(text(&case["secret"]), "msg", 1, "{}"), Err(expected));
        }
    }

    #[test]
    fn retried_statuses_match_the_shared_vectors() {
        let v = vectors();
        let statuses = &v["statuses"];
        for s in statuses["retried"].as_array().unwrap() {
            let status = s.as_u64().map(|s| s as u16);
            assert!(should_retry(status), "{s} is retried");
            assert!(!status.is_some_and(is_delivered), "{s}");
        }
        for s in statuses["delivered"].as_array().unwrap() {
            let status = number(s) as u16;
            assert!(is_delivered(status) && !should_retry(Some(status)), "{s}");
        }
        for s in statuses["final"].as_array().unwrap() {
            let status = number(s) as u16;
            assert!(
                !is_delivered(status) && !should_retry(Some(status)),
                "{s} ends the delivery"
            );
        }
    }

    /// `{maxAttempts, timeoutMs, retryDelayMs}` of a vector, each possibly absent.
    fn policy_of(given: &Value) -> CallbackPolicy {
        let field = |name: &str| given.get(name).and_then(Value::as_u64).map(|n| n as u32);
        CallbackPolicy::shortened(
            field("maxAttempts"),
            field("timeoutMs"),
            field("retryDelayMs"),
        )
    }

    fn delays(policy: &CallbackPolicy) -> Vec<u64> {
        (1..)
            .map_while(|a| policy.delay_before(a))
            .map(u64::from)
            .collect()
    }

    #[test]
    fn the_standard_policy_matches_the_shared_vectors_and_fits_wait_until() {
        let v = vectors();
        let p = &v["policy"];
        let standard = CallbackPolicy::STANDARD;
        assert_eq!(
            u64::from(standard.max_attempts()),
            number(&p["maxAttempts"])
        );
        assert_eq!(u64::from(standard.timeout_ms()), number(&p["timeoutMs"]));
        assert_eq!(
            u64::from(standard.retry_delay_ms()),
            number(&p["retryDelayMs"])
        );
        let expected: Vec<u64> = p["delaysMs"]
            .as_array()
            .unwrap()
            .iter()
            .map(number)
            .collect();
        assert_eq!(delays(&standard), expected);
        assert_eq!(
            (1..=5).map(delay_before).collect::<Vec<_>>(),
            [Some(0), Some(1_000), Some(2_000), Some(4_000), None]
        );
        assert_eq!(delay_before(0), None);
        assert_eq!(
            u64::from(standard.worst_case_ms()),
            number(&p["worstCaseMs"])
        );
        assert!(standard.worst_case_ms() < WAIT_UNTIL_BUDGET_MS);
        assert_eq!(
            u64::from(WAIT_UNTIL_BUDGET_MS),
            number(&p["waitUntilBudgetMs"])
        );
        assert_eq!(CallbackPolicy::default(), standard);
    }

    #[test]
    fn shortened_policies_match_the_shared_vectors_and_never_lengthen() {
        let v = vectors();
        for case in v["shortened"].as_array().unwrap() {
            let policy = policy_of(&case["given"]);
            let want = &case["policy"];
            assert_eq!(
                (
                    u64::from(policy.max_attempts()),
                    u64::from(policy.timeout_ms()),
                    u64::from(policy.retry_delay_ms())
                ),
                (
                    number(&want["maxAttempts"]),
                    number(&want["timeoutMs"]),
                    number(&want["retryDelayMs"])
                ),
                "{}",
                case["given"]
            );
            let expected: Vec<u64> = want["delaysMs"]
                .as_array()
                .unwrap()
                .iter()
                .map(number)
                .collect();
            assert_eq!(delays(&policy), expected, "{}", case["given"]);
            assert!(policy.worst_case_ms() <= CallbackPolicy::STANDARD.worst_case_ms());
        }
        let longest = CallbackPolicy::shortened(Some(u32::MAX), Some(u32::MAX), Some(u32::MAX));
        assert_eq!(longest, CallbackPolicy::STANDARD);
    }

    #[test]
    fn worst_case_is_every_timeout_and_every_pause() {
        let p = CallbackPolicy::shortened(Some(3), Some(300), Some(50));
        assert_eq!(p.worst_case_ms(), 3 * 300 + 50 + 100);
        let one = CallbackPolicy::shortened(Some(1), Some(10), Some(0));
        assert_eq!(one.worst_case_ms(), 10);
    }

    #[test]
    fn new_secrets_follow_the_rule_and_differ() {
        let mut rng = SeededRandom::new(7);
        let a = new_secret(&mut rng);
        let b = new_secret(&mut rng);
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(a.len(), "whsec_".len() + 32);
        assert!(WebhookSecret::parse(&a).is_ok());
    }

    #[test]
    fn base64_round_trips_every_length_and_refuses_other_texts() {
        for len in 0..70u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
            let encoded = base64_encode(&bytes);
            assert_eq!(encoded.len() % 4, 0);
            assert_eq!(base64_decode(&encoded), Some(bytes));
        }
        assert_eq!(base64_encode(b"hi?>"), "aGk/Pg==");
        for bad in [
            "A", "AB=", "A===", "AB=C", "QQ=A", "QR==", "QUI=QUI=", "-_==", "QU I=",
        ] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_are_written_in_decimal_like_to_string() {
        let mut buf = [0u8; 20];
        for n in [
            0,
            7,
            -1,
            10,
            1_614_265_330,
            9_999_999_999,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
    }
}
