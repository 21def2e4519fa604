//! Identifiers: `otpId` is a random UUID v4 drawn from the caller's [`RandomSource`].

use crate::rng::RandomSource;

/// How many shards an id can name: its first hex digit (see [`new_uuid_v4_in_shard`]).
pub const SHARDS: u8 = 16;

/// A new random UUID v4, lowercase with dashes (36 characters).
pub fn new_uuid_v4(rng: &mut dyn RandomSource) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    uuid_v4_text(b)
}

/// A new random UUID v4 whose first hex digit is `shard` (taken modulo
/// [`SHARDS`]), so that a store can find the shard of a record from its id alone.
/// Still a valid UUID v4, with 118 random bits.
pub fn new_uuid_v4_in_shard(rng: &mut dyn RandomSource, shard: u8) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[0] = (b[0] & 0x0f) | ((shard % SHARDS) << 4);
    uuid_v4_text(b)
}

/// The shard an id names (its first hex digit), if it is a canonical UUID.
pub fn shard_of(id: &str) -> Option<u8> {
    if !is_uuid(id) {
        return None;
    }
    id.chars().next()?.to_digit(16).map(|d| d as u8)
}

fn uuid_v4_text(mut b: [u8; 16]) -> String {
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
    fn sharded_uuids_name_their_shard() {
        let mut rng = SeededRandom::new(4);
        for shard in 0..40u8 {
            let id = new_uuid_v4_in_shard(&mut rng, shard);
            assert!(is_uuid(&id) && &id[14..15] == "4", "{id}");
            assert_eq!(shard_of(&id), Some(shard % SHARDS));
        }
        assert_eq!(shard_of("not-a-uuid"), None);
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
