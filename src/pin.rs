//! PIN generation: uniform symbols from a [`RandomSource`] by rejection sampling.

use crate::error::{Error, Result};
use crate::rng::RandomSource;
use serde::{Deserialize, Serialize};

/// Shortest PIN the core generates or accepts.
pub const MIN_PIN_LENGTH: u8 = 4;
/// Longest PIN the core generates or accepts.
pub const MAX_PIN_LENGTH: u8 = 10;

/// The alphabet a PIN is drawn from (SMS.CX's `pinType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PinType {
    /// Digits 0-9, e.g. `043921`.
    #[default]
    Numbers,
    /// Letters A-Z, e.g. `GRNXQ`.
    Letters,
    /// Letters A-Z and digits 0-9, e.g. `YT53M`.
    Alphanumeric,
}

impl PinType {
    /// The symbols of this alphabet.
    pub const fn alphabet(self) -> &'static [u8] {
        match self {
            PinType::Numbers => b"0123456789",
            PinType::Letters => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            PinType::Alphanumeric => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        }
    }

    /// The wire name (`numbers`, `letters`, `alphanumeric`).
    pub const fn as_str(self) -> &'static str {
        match self {
            PinType::Numbers => "numbers",
            PinType::Letters => "letters",
            PinType::Alphanumeric => "alphanumeric",
        }
    }

    /// Parses a wire name: empty is [`Error::PinTypeEmpty`], anything else unknown
    /// [`Error::PinTypeInvalid`].
    pub fn parse(s: &str) -> Result<PinType> {
        match s.trim() {
            "" => Err(Error::PinTypeEmpty),
            "numbers" => Ok(PinType::Numbers),
            "letters" => Ok(PinType::Letters),
            "alphanumeric" => Ok(PinType::Alphanumeric),
            _ => Err(Error::PinTypeInvalid),
        }
    }

    /// Whether `pin` uses only this alphabet's symbols.
    pub fn accepts(self, pin: &str) -> bool {
        pin.bytes().all(|b| self.alphabet().contains(&b))
    }
}

/// Checks a PIN length against 4-10.
pub fn validate_pin_length(length: u8) -> Result<()> {
    match length {
        l if l < MIN_PIN_LENGTH => Err(Error::PinLengthTooShort),
        l if l > MAX_PIN_LENGTH => Err(Error::PinLengthTooLong),
        _ => Ok(()),
    }
}

/// The symbol index a random byte stands for in an alphabet of `n` symbols, or `None`
/// when the byte must be thrown away: bytes at or above the largest multiple of `n`
/// that fits in a byte are rejected (never `byte % n` alone), so every index is
/// equally likely.
fn accept(byte: u8, n: u8) -> Option<usize> {
    debug_assert!(n > 0);
    let limit = 256 - (256 % n as u16);
    let b = u16::from(byte);
    (b < limit).then(|| (b % n as u16) as usize)
}

/// Generates a PIN of `length` symbols of `pin_type`, each uniform and independent.
///
/// The bytes are asked for in batches of exactly as many as symbols are still
/// missing (one call to the OS CSPRNG for most PINs), and used in order, so the
/// result is the same as drawing one byte per symbol, rejected bytes included.
pub fn generate_pin(rng: &mut dyn RandomSource, pin_type: PinType, length: u8) -> Result<String> {
    validate_pin_length(length)?;
    let alphabet = pin_type.alphabet();
    let n = alphabet.len() as u8;
    let mut pin = String::with_capacity(usize::from(length));
    let mut bytes = [0u8; MAX_PIN_LENGTH as usize];
    while pin.len() < usize::from(length) {
        let batch = &mut bytes[..usize::from(length) - pin.len()];
        rng.next_bytes(batch);
        for &b in batch.iter() {
            if let Some(i) = accept(b, n) {
                pin.push(char::from(alphabet[i]));
            }
        }
    }
    Ok(pin)
}

/// Checks a caller-chosen PIN (e.g. Dexatel's custom `code`) against the type and
/// length rules.
pub fn validate_custom_pin(pin: &str, pin_type: PinType) -> Result<()> {
    let len = pin.len();
    if !pin_type.accepts(pin) || len < MIN_PIN_LENGTH as usize || len > MAX_PIN_LENGTH as usize {
        return Err(Error::CustomPinInvalid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::rng::SeededRandom;

    /// One uniform symbol index in `0..n`, drawing bytes one at a time until one is accepted.
    fn uniform_index(rng: &mut dyn RandomSource, n: u8) -> usize {
        loop {
            if let Some(i) = accept(rng.next_u8(), n) {
                return i;
            }
        }
    }

    /// Chi-square statistic of `n` symbols drawn from `pin_type`'s alphabet.
    fn chi_square(pin_type: PinType, draws: usize, seed: u64) -> f64 {
        let alphabet = pin_type.alphabet();
        let mut rng = SeededRandom::new(seed);
        let mut counts = [0u64; 36];
        for _ in 0..draws {
            counts[uniform_index(&mut rng, alphabet.len() as u8)] += 1;
        }
        let expected = draws as f64 / alphabet.len() as f64;
        counts[..alphabet.len()]
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum()
    }

    // Critical values of chi-square at p = 0.001 for k-1 degrees of freedom:
    // df 9 → 27.88, df 25 → 52.62, df 35 → 66.62. A correct sampler fails one of
    // these with probability 0.1%; a `byte % n` sampler (bias up to 1/25 per
    // symbol) exceeds them by orders of magnitude at a million draws.
    #[test]
    fn symbols_are_uniform_by_chi_square_for_every_alphabet() {
        for (pin_type, bound) in [
            (PinType::Numbers, 27.88),
            (PinType::Letters, 52.62),
            (PinType::Alphanumeric, 66.62),
        ] {
            let stat = chi_square(pin_type, 1_000_000, 42);
            assert!(stat < bound, "{pin_type:?}: chi-square {stat} >= {bound}");
        }
    }

    #[test]
    fn modulo_bias_would_be_caught_by_the_same_bound() {
        // The test above is only meaningful if a biased sampler fails it.
        let mut rng = SeededRandom::new(42);
        let mut counts = [0u64; 36];
        let draws = 1_000_000;
        for _ in 0..draws {
            counts[(rng.next_u8() % 36) as usize] += 1;
        }
        let expected = draws as f64 / 36.0;
        let stat: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(stat > 66.62, "biased sampler passed: {stat}");
    }

    #[test]
    fn pins_have_the_requested_length_and_alphabet() {
        let mut rng = SeededRandom::new(1);
        for pin_type in [PinType::Numbers, PinType::Letters, PinType::Alphanumeric] {
            for len in MIN_PIN_LENGTH..=MAX_PIN_LENGTH {
                let pin = generate_pin(&mut rng, pin_type, len).unwrap();
                assert_eq!(pin.len(), len as usize);
                assert!(pin_type.accepts(&pin), "{pin}");
            }
        }
    }

    #[test]
    fn lengths_outside_four_to_ten_are_rejected() {
        let mut rng = SeededRandom::new(1);
        assert_eq!(
            generate_pin(&mut rng, PinType::Numbers, 3),
            Err(Error::PinLengthTooShort)
        );
        assert_eq!(
            generate_pin(&mut rng, PinType::Numbers, 11),
            Err(Error::PinLengthTooLong)
        );
    }

    #[test]
    fn batched_draws_give_the_pin_of_one_byte_per_symbol() {
        for pin_type in [PinType::Numbers, PinType::Letters, PinType::Alphanumeric] {
            for seed in 0..200 {
                let alphabet = pin_type.alphabet();
                let mut one_by_one = SeededRandom::new(seed);
                let expected: String = (0..MAX_PIN_LENGTH)
                    .map(|_| {
                        char::from(alphabet[uniform_index(&mut one_by_one, alphabet.len() as u8)])
                    })
                    .collect();
                let mut rng = SeededRandom::new(seed);
                let pin = generate_pin(&mut rng, pin_type, MAX_PIN_LENGTH).unwrap();
                assert_eq!(pin, expected, "{pin_type:?} seed {seed}");
                assert_eq!(
                    rng.next_u64(),
                    one_by_one.next_u64(),
                    "no byte drawn beyond the last symbol"
                );
            }
        }
    }

    #[test]
    fn same_seed_gives_the_same_pin() {
        let a = generate_pin(&mut SeededRandom::new(9), PinType::Alphanumeric, 8).unwrap();
        let b = generate_pin(&mut SeededRandom::new(9), PinType::Alphanumeric, 8).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn pin_type_parses_wire_names() {
        assert_eq!(PinType::parse("letters"), Ok(PinType::Letters));
        assert_eq!(PinType::parse(""), Err(Error::PinTypeEmpty));
        assert_eq!(PinType::parse("digits"), Err(Error::PinTypeInvalid));
        assert_eq!(PinType::Alphanumeric.as_str(), "alphanumeric");
    }

    #[test]
    fn custom_pins_follow_type_and_length() {
        assert_eq!(validate_custom_pin("0123", PinType::Numbers), Ok(()));
        assert_eq!(
            validate_custom_pin("012", PinType::Numbers),
            Err(Error::CustomPinInvalid)
        );
        assert_eq!(
            validate_custom_pin("12a4", PinType::Numbers),
            Err(Error::CustomPinInvalid)
        );
        assert_eq!(validate_custom_pin("ABCD", PinType::Letters), Ok(()));
    }
}
