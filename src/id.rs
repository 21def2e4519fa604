//! Identifiers: `otpId` is a random UUID v4 drawn from the caller's [`RandomSource`].

use crate::rng::RandomSource;

/// A new random UUID v4, lowercase with dashes (36 characters).
pub fn new_uuid_v4(rng: &mut dyn RandomSource) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(hex_digit(byte >> 4));
        s.push(hex_digit(byte & 0x0f));
    }
    s
}

/// Whether `s` is a UUID in the canonical lowercase 8-4-4-4-12 form (SMS.CX's
/// `trackId` rule; also how we check `otpId`s in paths before any lookup).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
        })
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::rng::SeededRandom;

    #[test]
    fn uuids_are_version_four_and_canonical() {
        let mut rng = SeededRandom::new(3);
        for _ in 0..1000 {
            let id = new_uuid_v4(&mut rng);
            assert!(is_uuid(&id), "{id}");
            assert_eq!(&id[14..15], "4");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
    }

    #[test]
    fn uuid_check_rejects_near_misses() {
        assert!(is_uuid("123e4567-e89b-42d3-a456-426614174000"));
        for s in [
            "123E4567-E89B-42D3-A456-426614174000",
            "123e4567e89b42d3a456426614174000",
            "123e4567-e89b-42d3-a456-42661417400",
            "../../../../../../etc/passwd/aaaaaaa",
            "123e4567-e89b-42d3-a456-42661417400g",
        ] {
            assert!(!is_uuid(s), "{s}");
        }
    }
}
