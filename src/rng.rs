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

    /// Fills `dest` with what `dest.len()` calls of [`RandomSource::next_u8`] would
    /// return, in order. A source whose every byte is alike, such as the OS CSPRNG,
    /// overrides this to fetch them in one call; a seeded source keeps the default,
    /// so its output for a seed never depends on how the bytes were asked for.
    fn next_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u8();
        }
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

    /// One system call (one `crypto.getRandomValues` in wasm) for the whole buffer.
    fn next_bytes(&mut self, dest: &mut [u8]) {
        self.fill_bytes(dest);
    }
}

/// See [`BufferedRandom::BLOCK`].
const BLOCK: usize = 32;

/// Reads a source in blocks of [`BufferedRandom::BLOCK`] bytes and hands them out in
/// order, so that one call to the platform CSPRNG serves a whole OTP (its id and its
/// PIN) where each would otherwise make its own (a `crypto.getRandomValues` call costs
/// microseconds from wasm). Every byte is wiped as it is handed out, and the buffer is
/// dropped with the value: keep one per operation, never in a global.
pub struct BufferedRandom<R> {
    inner: R,
    buf: [u8; BLOCK],
    /// Bytes of `buf` already handed out (and wiped).
    used: usize,
}

impl<R> core::fmt::Debug for BufferedRandom<R> {
    /// Never shows the buffer: its bytes may become a PIN.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "BufferedRandom({} bytes left, redacted)",
            BLOCK - self.used
        )
    }
}

impl<R: RandomSource> BufferedRandom<R> {
    /// Bytes read from the inner source at a time: a UUID and the longest PIN.
    pub const BLOCK: usize = BLOCK;

    /// A buffer over `inner`; nothing is read until the first byte is wanted.
    pub fn new(inner: R) -> Self {
        BufferedRandom {
            inner,
            buf: [0; BLOCK],
            used: Self::BLOCK,
        }
    }
}

impl<R: RandomSource> RandomSource for BufferedRandom<R> {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(Self::BLOCK) {
            if self.used + chunk.len() > Self::BLOCK {
                self.inner.fill_bytes(&mut self.buf);
                self.used = 0;
            }
            let taken = &mut self.buf[self.used..self.used + chunk.len()];
            chunk.copy_from_slice(taken);
            taken.fill(0);
            self.used += chunk.len();
        }
    }

    fn next_bytes(&mut self, dest: &mut [u8]) {
        self.fill_bytes(dest);
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
    fn next_bytes_of_a_seeded_source_is_its_next_u8_stream() {
        let (mut a, mut b) = (SeededRandom::new(11), SeededRandom::new(11));
        let mut batch = [0u8; 13];
        a.next_bytes(&mut batch);
        let one_by_one: Vec<u8> = (0..13).map(|_| b.next_u8()).collect();
        assert_eq!(batch.to_vec(), one_by_one);
        assert_eq!(a.next_u64(), b.next_u64(), "both consumed the same state");
    }

    /// Counts the calls made to a seeded source.
    struct Counting(SeededRandom, usize);

    impl RandomSource for Counting {
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            self.1 += 1;
            self.0.fill_bytes(dest);
        }
    }

    #[test]
    fn buffered_source_serves_an_id_and_a_pin_from_one_read_in_order() {
        const BLOCK: usize = BufferedRandom::<Counting>::BLOCK;
        let mut block = [0u8; BLOCK];
        SeededRandom::new(5).fill_bytes(&mut block);

        let mut buffered = BufferedRandom::new(Counting(SeededRandom::new(5), 0));
        let (mut id, mut pin) = ([0u8; 16], [0u8; 10]);
        buffered.fill_bytes(&mut id);
        buffered.next_bytes(&mut pin[..9]);
        pin[9] = buffered.next_u8();
        assert_eq!(buffered.inner.1, 1, "one read of the inner source");
        assert_eq!(&id[..], &block[..16]);
        assert_eq!(&pin[..], &block[16..26]);
        assert!(
            buffered.buf[..buffered.used].iter().all(|&b| b == 0),
            "bytes handed out are wiped"
        );

        // More than what is left starts a new block; longer reads span blocks.
        let mut long = [0u8; BLOCK + 5];
        buffered.fill_bytes(&mut long);
        assert_eq!(buffered.inner.1, 3);
        assert_eq!(buffered.used, 5);
    }

    #[test]
    fn os_source_fills_the_buffer() {
        let mut buf = [0u8; 64];
        OsRandom.fill_bytes(&mut buf);
        assert!(buf.iter().any(|&b| b != 0));
    }
}
