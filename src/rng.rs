//! Randomness comes into the core through one small trait, so that production
//! uses the operating system's CSPRNG and tests use a seeded, repeatable source.

/// A source of random bytes. The core draws every PIN and id from one of these.
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);

    /// One random byte.
    fn next_u8(&mut self) -> u8 {
        let mut b = [0u8; 1];
        self.fill_bytes(&mut b);
        b[0]
    }
}

/// The operating system's CSPRNG (`getrandom`; `crypto.getRandomValues` in wasm).
/// The only source to use in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // getrandom only fails on platforms with no entropy source at all; there is
        // nothing safe to fall back to, so this is the one place the core panics.
        getrandom::fill(dest).expect("the operating system has no random source");
    }
}

/// A repeatable generator (xoshiro256** seeded through SplitMix64) for tests,
/// fuzzing and demos. Not cryptographically secure: never use it for real PINs.
#[derive(Debug, Clone)]
pub struct SeededRandom {
    state: [u64; 4],
}

impl SeededRandom {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        SeededRandom {
            state: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

impl RandomSource for SeededRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn seeded_source_repeats_for_the_same_seed() {
        let (mut a, mut b) = (SeededRandom::new(7), SeededRandom::new(7));
        let (mut x, mut y) = ([0u8; 37], [0u8; 37]);
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y);
        assert_eq!(x, y);
        assert_ne!(
            SeededRandom::new(8).next_u64(),
            SeededRandom::new(7).next_u64()
        );
    }

    #[test]
    fn os_source_fills_the_buffer() {
        let mut buf = [0u8; 64];
        OsRandom.fill_bytes(&mut buf);
        assert!(buf.iter().any(|&b| b != 0));
    }
}
