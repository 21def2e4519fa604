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
        // (A literal message: formatting getrandom's error would bring `Debug` code
        // for strings and Unicode tables into the wasm build.)
        if getrandom::fill(dest).is_err() {
            panic!("the operating system has no random source");
        }
    }

    /// One system call (one `crypto.getRandomValues` in wasm) for the whole buffer.
    fn next_bytes(&mut self, dest: &mut [u8]) {
        self.fill_bytes(dest);
    }
}

/// Bytes [`BufferedRandom::new`] reads at a time: a UUID and the longest PIN. Also
/// what any buffer reads first.
const BLOCK: usize = 32;

/// Reads a source in blocks of `N` bytes ([`BufferedRandom::BLOCK`]; 32 by default)
/// and hands them out in order, so that one call to the platform CSPRNG serves a whole
/// OTP (its id and its PIN), or many OTPs with a larger `N`, where each would
/// otherwise make its own (a `crypto.getRandomValues` call costs microseconds from
/// wasm). The first read takes only 32 bytes, so that an owner used for a single OTP
/// reads no more than it needs. Every byte is wiped as it is handed out, and what is
/// left when the value is dropped. Keep one per operation or per owning object, never
/// in a global.
pub struct BufferedRandom<R, const N: usize = BLOCK> {
    inner: R,
    buf: [u8; N],
    /// Bytes of the current block, `buf[..len]` (0 before the first read).
    len: usize,
    /// Bytes of the current block already handed out (and wiped).
    used: usize,
}

impl<R, const N: usize> core::fmt::Debug for BufferedRandom<R, N> {
    /// Never shows the buffer: its bytes may become a PIN.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("BufferedRandom(redacted)")
    }
}

impl<R: RandomSource> BufferedRandom<R> {
    /// A 32-byte buffer over `inner`; nothing is read until the first byte is wanted.
    pub fn new(inner: R) -> Self {
        Self::with_block_size(inner)
    }
}

impl<R: RandomSource, const N: usize> BufferedRandom<R, N> {
    /// Bytes read from the inner source at a time, after the first read.
    pub const BLOCK: usize = N;

    /// A buffer of `N` bytes over `inner` (`BufferedRandom::<_, 1024>::with_block_size`);
    /// nothing is read until the first byte is wanted.
    pub fn with_block_size(inner: R) -> Self {
        const { assert!(N > 0, "a BufferedRandom block holds at least one byte") };
        BufferedRandom {
            inner,
            buf: [0; N],
            len: 0,
            used: 0,
        }
    }
}

impl<R, const N: usize> Drop for BufferedRandom<R, N> {
    /// Bytes not handed out yet would become later PINs: wiped with volatile writes,
    /// which the compiler cannot drop as dead stores to memory about to be freed.
    fn drop(&mut self) {
        for b in &mut self.buf[self.used..self.len] {
            // SAFETY: `b` is a valid, aligned, exclusive reference to a byte.
            unsafe { core::ptr::write_volatile(b, 0) };
        }
    }
}

impl<R: RandomSource, const N: usize> RandomSource for BufferedRandom<R, N> {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(N) {
            if self.used + chunk.len() > self.len {
                // The bytes left in the block (if any) are overwritten here.
                let n = if self.len == 0 {
                    BLOCK.clamp(chunk.len(), N)
                } else {
                    N
                };
                self.inner.fill_bytes(&mut self.buf[..n]);
                self.len = n;
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
    fn a_large_buffer_reads_32_bytes_first_then_whole_blocks_in_order() {
        let mut expected = [0u8; 32 + 256 + 256];
        let mut reference = SeededRandom::new(8);
        reference.fill_bytes(&mut expected[..32]);
        reference.fill_bytes(&mut expected[32..288]);
        reference.fill_bytes(&mut expected[288..]);

        let mut buffered =
            BufferedRandom::<_, 256>::with_block_size(Counting(SeededRandom::new(8), 0));
        let mut otp = [0u8; 22];
        buffered.fill_bytes(&mut otp);
        assert_eq!(
            (buffered.inner.1, buffered.len),
            (1, 32),
            "one OTP, one 32-byte read"
        );
        assert_eq!(&otp[..], &expected[..22]);
        // The next OTP needs more than the 10 bytes left: a whole block, from its start.
        buffered.fill_bytes(&mut otp);
        assert_eq!((buffered.inner.1, buffered.len), (2, 256));
        assert_eq!(&otp[..], &expected[32..54]);
        for _ in 0..10 {
            buffered.fill_bytes(&mut otp);
        }
        assert_eq!(buffered.inner.1, 2, "eleven OTPs from the block");
        let mut wide = [0u8; 300];
        buffered.fill_bytes(&mut wide);
        assert_eq!(buffered.inner.1, 4, "reads span blocks");
        assert!(
            buffered.buf[..buffered.used].iter().all(|&b| b == 0),
            "bytes handed out are wiped"
        );
    }

    #[test]
    fn os_source_fills_the_buffer() {
        let mut buf = [0u8; 64];
        OsRandom.fill_bytes(&mut buf);
        assert!(buf.iter().any(|&b| b != 0));
    }
}
