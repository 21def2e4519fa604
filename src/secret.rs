//! PIN secrecy: a record holds `HMAC-SHA256(server key, otpId || pin)`, never the
//! PIN. Checks compare in constant time against every key in a [`SecretKeys`]
//! list, so the server key can be rotated without failing codes already sent.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0x0f) as usize] as char);
    }
    s
}

/// Bytes of lowercase or uppercase hex, or `None` if `s` is not hex.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// The 32 bytes of a 64-digit hex SHA-256 digest, or `None` for anything else.
fn digest_from_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (o, p) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        *o = nibble(p[0])? << 4 | nibble(p[1])?;
    }
    Some(out)
}

/// The server's PIN keys, newest first: new digests use the first, checks accept any.
#[derive(Clone)]
pub struct SecretKeys {
    keys: Vec<Vec<u8>>,
    /// Each key's HMAC state with its key block already hashed (in `keys` order),
    /// so that a digest costs two SHA-256 blocks instead of four.
    macs: Vec<HmacSha256>,
}

impl core::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SecretKeys({} keys, redacted)", self.keys.len())
    }
}

/// Shortest key [`SecretKeys::new`] accepts, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

impl SecretKeys {
    /// Keys newest first; `None` when the list is empty or a key is shorter than
    /// [`MIN_KEY_BYTES`].
    pub fn new(keys: Vec<Vec<u8>>) -> Option<SecretKeys> {
        if keys.is_empty() || keys.iter().any(|k| k.len() < MIN_KEY_BYTES) {
            return None;
        }
        let macs = keys
            .iter()
            .map(|k| <HmacSha256 as KeyInit>::new_from_slice(k).expect("HMAC takes any key length"))
            .collect();
        Some(SecretKeys { keys, macs })
    }

    /// `HMAC-SHA256(key, otp_id || pin)` from a keyed state.
    fn digest(mac: &HmacSha256, otp_id: &str, pin: &str) -> [u8; 32] {
        let mut mac = mac.clone();
        mac.update(otp_id.as_bytes());
        mac.update(pin.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key that new digests are made with.
    pub fn current(&self) -> &[u8] {
        &self.keys[0]
    }

    /// The digest stored for `pin` of OTP `otp_id`, as lowercase hex.
    pub fn pin_digest(&self, otp_id: &str, pin: &str) -> String {
        to_hex(&Self::digest(&self.macs[0], otp_id, pin))
    }

    /// Whether `pin` matches `stored_digest` under any key. Every key is tried and
    /// every comparison is constant-time, so timing says nothing about the PIN.
    pub fn pin_matches(&self, otp_id: &str, pin: &str, stored_digest: &str) -> bool {
        // Anything but 64 hex digits can never equal a 32-byte digest.
        let Some(stored) = digest_from_hex(stored_digest) else {
            return false;
        };
        self.macs.iter().fold(false, |found, mac| {
            let candidate = Self::digest(mac, otp_id, pin);
            found | constant_time_eq(&candidate, &stored)
        })
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const ID: &str = "123e4567-e89b-42d3-a456-426614174000";

    fn keys(list: &[&[u8]]) -> SecretKeys {
        SecretKeys::new(list.iter().map(|k| k.to_vec()).collect()).unwrap()
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            to_hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn digest_never_contains_the_pin_and_depends_on_the_otp_id() {
        let k = keys(&[b"0123456789abcdef0123"]);
        let d = k.pin_digest(ID, "012345");
        assert_eq!(d.len(), 64);
        assert!(!d.contains("012345"));
        assert_ne!(
            d,
            k.pin_digest("223e4567-e89b-42d3-a456-426614174000", "012345")
        );
    }

    #[test]
    fn right_pin_matches_wrong_pin_does_not() {
        let k = keys(&[b"0123456789abcdef0123"]);
        let d = k.pin_digest(ID, "012345");
        assert!(k.pin_matches(ID, "012345", &d));
        assert!(!k.pin_matches(ID, "12345", &d));
        assert!(!k.pin_matches(ID, "012346", &d));
        assert!(!k.pin_matches(ID, "012345", "not hex"));
    }

    #[test]
    fn rotated_keys_still_accept_digests_made_with_the_old_key() {
        let old = keys(&[b"old-key-old-key-old-key"]);
        let d = old.pin_digest(ID, "4321");
        let rotated = keys(&[b"new-key-new-key-new-key", b"old-key-old-key-old-key"]);
        assert!(rotated.pin_matches(ID, "4321", &d));
        assert_ne!(rotated.pin_digest(ID, "4321"), d);
        let dropped = keys(&[b"new-key-new-key-new-key"]);
        assert!(!dropped.pin_matches(ID, "4321", &d));
    }

    #[test]
    fn short_or_missing_keys_are_refused() {
        assert!(SecretKeys::new(vec![]).is_none());
        assert!(SecretKeys::new(vec![b"short".to_vec()]).is_none());
    }

    #[test]
    fn digests_equal_the_plain_hmac_of_id_and_pin_under_each_key() {
        let k = keys(&[b"new-key-new-key-new-key", b"old-key-old-key-old-key"]);
        assert_eq!(
            k.pin_digest(ID, "4321"),
            to_hex(&hmac_sha256(
                b"new-key-new-key-new-key",
                &[ID.as_bytes(), b"4321"]
            ))
        );
        let old = to_hex(&hmac_sha256(
            b"old-key-old-key-old-key",
            &[ID.as_bytes(), b"4321"],
        ));
        assert!(k.pin_matches(ID, "4321", &old));
        assert!(
            k.pin_matches(ID, "4321", &old.to_uppercase()),
            "hex of either case"
        );
        assert!(!k.pin_matches(ID, "4321", &old[..62]));
        assert!(!k.pin_matches(ID, "4321", &format!("{old}00")));
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            from_hex(&to_hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
