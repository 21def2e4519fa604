//! Decimal text ↔ `f64`, exactly, with no tables: what `str::parse::<f64>` returns,
//! for the same inputs, and numbers written so that reading them back gives the same
//! `f64`. The standard library's versions carry about 25 KiB of tables and code into a
//! wasm build, where these take a few KiB; their speed only matters for the rare long
//! or extreme inputs (plain numbers such as `300`, `0.05` or `1e3` take a fast path).
//!
//! Correct rounding (to nearest, ties to even) comes from comparing the decimal value
//! exactly, as big integers, with the midpoints between neighbouring `f64`s.

use core::cmp::Ordering;

/// Significant decimal digits kept from an input. A midpoint between two `f64`s has
/// at most 767 significant digits, so a value cut after 800 digits, with a `1`
/// appended when a nonzero digit was cut, compares with every midpoint as the whole
/// value does.
const MAX_DIGITS: usize = 800;

/// The powers of ten an `f64` holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses `s` exactly as `s.parse::<f64>()` does (the same grammar, including `inf`,
/// `infinity` and `nan` in any case, and the same values), or `None` where it fails.
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (negative, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let signed = |v: f64| if negative { -v } else { v };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(signed(f64::INFINITY));
    }
    if rest.eq_ignore_ascii_case(b"nan") {
        return Some(f64::NAN);
    }
    let digits_from = |i: usize| i + rest[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int_end = digits_from(0);
    let (frac, mut i) = match rest.get(int_end) {
        Some(b'.') => {
            let end = digits_from(int_end + 1);
            (&rest[int_end + 1..end], end)
        }
        _ => (&rest[..0], int_end),
    };
    if int_end == 0 && frac.is_empty() {
        return None;
    }
    let mut exp = 0i64;
    if matches!(rest.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative_exp = match rest.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let end = digits_from(i);
        if end == i {
            return None;
        }
        for &d in &rest[i..end] {
            // As the standard library does: digits stop counting once past 0x10000.
            if exp < 0x10000 {
                exp = 10 * exp + i64::from(d - b'0');
            }
        }
        i = end;
        if negative_exp {
            exp = -exp;
        }
    }
    if i != rest.len() {
        return None;
    }
    Some(signed(decimal_to_f64(&rest[..int_end], frac, exp)))
}

/// `int.frac × 10^exp` (ASCII digits; `int` and `frac` may be empty) rounded to the
/// nearest `f64`, ties to even; infinity when it is too large for one.
pub(crate) fn decimal_to_f64(int: &[u8], frac: &[u8], exp: i64) -> f64 {
    // value = D × 10^e, D the significant digits (at most MAX_DIGITS + 1 of them).
    let mut digits = [0u8; MAX_DIGITS + 1];
    let mut n = 0;
    let mut cut = 0i64;
    let mut cut_nonzero = false;
    for &d in int.iter().chain(frac) {
        if n == 0 && d == b'0' {
            continue;
        }
        if n < MAX_DIGITS {
            digits[n] = d - b'0';
            n += 1;
        } else {
            cut += 1;
            cut_nonzero |= d != b'0';
        }
    }
    let mut e = exp - frac.len() as i64 + cut;
    if cut_nonzero {
        digits[n] = 1;
        n += 1;
        e -= 1;
    }
    while n > 0 && digits[n - 1] == 0 {
        n -= 1;
        e += 1;
    }
    from_digits(&digits[..n], e)
}

/// `D × 10^e` for the significant digits `D` (no leading or trailing zeros).
fn from_digits(digits: &[u8], e: i64) -> f64 {
    let n = digits.len() as i64;
    if n == 0 || n + e <= -325 {
        return 0.0; // below 10^-325, nearer to 0 than to the smallest f64
    }
    if n - 1 + e > 308 {
        return f64::INFINITY; // 10^309 or more
    }
    let top = digits
        .iter()
        .take(19)
        .fold(0u64, |v, &d| v * 10 + u64::from(d));
    if n <= 19 && top <= 1 << 53 && (-22..=22).contains(&e) {
        // Both operands exact, so the one rounding is the right one.
        let m = top as f64;
        return if e >= 0 {
            m * POW10[e as usize]
        } else {
            m / POW10[-e as usize]
        };
    }
    // An estimate within a few units in the last place, then exact corrections.
    let e_top = e + (n - 19).max(0);
    let estimate = if e_top >= 0 {
        top as f64 * pow10(e_top)
    } else if e_top >= -308 {
        top as f64 / pow10(-e_top)
    } else {
        top as f64 / pow10(308) / pow10(-e_top - 308)
    };
    let d = Big::from_digits(digits);
    let mut x = if estimate.is_finite() {
        estimate
    } else {
        f64::MAX
    };
    loop {
        let (m, exp2) = decompose(x);
        // Above the midpoint with the next f64 (or on it, with an odd mantissa): go up.
        match compare(&d, e, 2 * m + 1, exp2 - 1) {
            Ordering::Greater => {
                x = f64::from_bits(x.to_bits() + 1);
                if x.is_infinite() {
                    return x;
                }
                continue;
            }
            Ordering::Equal if m & 1 == 1 => return f64::from_bits(x.to_bits() + 1),
            _ => {}
        }
        if m == 0 {
            return x;
        }
        // Below the midpoint with the previous one: go down. At a power of two the
        // previous f64 is half as far.
        let (k, f) = if m == 1 << 52 && exp2 > -1074 {
            (4 * m - 1, exp2 - 2)
        } else {
            (2 * m - 1, exp2 - 1)
        };
        match compare(&d, e, k, f) {
            Ordering::Less => x = f64::from_bits(x.to_bits() - 1),
            Ordering::Equal if m & 1 == 1 => return f64::from_bits(x.to_bits() - 1),
            _ => return x,
        }
    }
}

/// `10^e` for `0 <= e`, rounded a few times (infinity past 10^308).
fn pow10(mut e: i64) -> f64 {
    let mut r = 1.0;
    while e > 22 {
        r *= 1e22;
        e -= 22;
    }
    r * POW10[e as usize]
}

/// `x = m × 2^e` for a finite `x >= 0`, `m` below 2^53.
fn decompose(x: f64) -> (u64, i64) {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, biased - 1075)
    }
}

/// `D × 10^e` against `k × 2^f`, exactly.
fn compare(d: &Big, e: i64, k: u64, f: i64) -> Ordering {
    let mut left = d.clone();
    let mut right = Big::from_u64(k);
    // D × 5^e × 2^e against k × 2^f, with 5^-e moved to the right when e < 0.
    let (left2, right2) = if e >= 0 {
        left.mul_pow5(e as u64);
        (e, f)
    } else {
        right.mul_pow5(e.unsigned_abs());
        (0, f - e)
    };
    let common = left2.min(right2);
    left.shl((left2 - common) as u64);
    right.shl((right2 - common) as u64);
    left.compare_with(&right)
}

#[cfg_attr(not(feature = "wasm"), allow(dead_code))] // the npm bindings' JSON writer
/// Writes `v` (finite) in a form that reads back as exactly `v`: `600`, `5e-2`, and
/// for values that are no short decimal, all the digits of their exact value.
pub(crate) fn write_f64(v: f64, out: &mut String) {
    if v.is_sign_negative() {
        out.push('-');
    }
    let v = v.abs();
    if v.fract() == 0.0 && v < 9_007_199_254_740_992.0 {
        write_u64(v as u64, out);
        return;
    }
    // Most numbers written are short decimals (prices, costs): the fewest decimals k
    // whose rounding reads back as v, checked with one exact division.
    let mut scale = 1.0;
    for k in 1..=15u64 {
        scale *= 10.0;
        let n = (v * scale).round();
        if n >= 9_007_199_254_740_992.0 {
            break;
        }
        if n / scale == v {
            let (mut n, mut k) = (n as u64, k);
            while n % 10 == 0 && k > 0 {
                n /= 10;
                k -= 1;
            }
            write_u64(n, out);
            if k > 0 {
                out.push_str("e-");
                write_u64(k, out);
            }
            return;
        }
    }
    // Anything else (long fractions, very large or small values): the exact value,
    // D × 10^e. It can be long, and reads back as v all the same.
    let (m, e2) = decompose(v);
    let mut big = Big::from_u64(m);
    let mut e = if e2 >= 0 {
        big.shl(e2 as u64);
        0
    } else {
        big.mul_pow5(e2.unsigned_abs());
        e2
    };
    let mut digits = big.into_decimal();
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
        e += 1;
    }
    out.extend(digits.iter().map(|&d| char::from(b'0' + d)));
    if e != 0 {
        out.push('e');
        if e < 0 {
            out.push('-');
        }
        write_u64(e.unsigned_abs(), out);
    }
}

#[cfg_attr(not(feature = "wasm"), allow(dead_code))]
/// Decimal digits of `v`.
pub(crate) fn write_u64(mut v: u64, out: &mut String) {
    // 32-bit divisions, nine digits at a time: 64-bit division by 10 is slow in wasm,
    // and most numbers written (times, counts) need no more than one chunk.
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        let last = v < 1_000_000_000;
        let mut chunk = (v % 1_000_000_000) as u32;
        v /= 1_000_000_000;
        for _ in 0..9 {
            i -= 1;
            buf[i] = b'0' + (chunk % 10) as u8;
            chunk /= 10;
            if last && chunk == 0 {
                break;
            }
        }
        if last {
            break;
        }
    }
    out.push_str(core::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// An unsigned big integer: 32-bit limbs, least significant first.
#[derive(Clone)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        Big(vec![v as u32, (v >> 32) as u32])
    }

    /// The integer whose decimal digits (values 0-9) are `digits`.
    fn from_digits(digits: &[u8]) -> Big {
        let mut big = Big(Vec::with_capacity(digits.len() / 9 + 2));
        for chunk in digits.chunks(9) {
            big.mul_add(
                10u32.pow(chunk.len() as u32),
                chunk.iter().fold(0, |v, &d| v * 10 + u32::from(d)),
            );
        }
        big
    }

    /// `self = self × k + add`.
    fn mul_add(&mut self, k: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let p = u64::from(*limb) * u64::from(k) + carry;
            *limb = p as u32;
            carry = p >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow5(&mut self, mut n: u64) {
        const POW5_13: u32 = 1_220_703_125;
        while n >= 13 {
            self.mul_add(POW5_13, 0);
            n -= 13;
        }
        self.mul_add(5u32.pow(n as u32), 0);
    }

    fn shl(&mut self, bits: u64) {
        let (limbs, bits) = ((bits / 32) as usize, (bits % 32) as u32);
        if bits > 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let next = *limb >> (32 - bits);
                *limb = (*limb << bits) | carry;
                carry = next;
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, core::iter::repeat_n(0, limbs));
    }

    fn significant(&self) -> &[u32] {
        let len = self.0.iter().rposition(|&l| l != 0).map_or(0, |i| i + 1);
        &self.0[..len]
    }

    fn compare_with(&self, other: &Big) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        a.len()
            .cmp(&b.len())
            .then_with(|| a.iter().rev().cmp(b.iter().rev()))
    }

    /// Decimal digits (values 0-9), most significant first, no leading zeros.
    #[cfg_attr(not(feature = "wasm"), allow(dead_code))]
    fn into_decimal(mut self) -> Vec<u8> {
        let mut chunks = Vec::new();
        while !self.significant().is_empty() {
            let mut rem = 0u64;
            for limb in self.0.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
        }
        let mut digits = Vec::with_capacity(chunks.len() * 9);
        for (i, &chunk) in chunks.iter().rev().enumerate() {
            let mut buf = [0u8; 9];
            let mut c = chunk;
            for d in buf.iter_mut().rev() {
                *d = (c % 10) as u8;
                c /= 10;
            }
            if i == 0 {
                let lead = buf.iter().take_while(|&&d| d == 0).count().min(8);
                digits.extend_from_slice(&buf[lead..]);
            } else {
                digits.extend_from_slice(&buf);
            }
        }
        digits
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::rng::SeededRandom;

    fn same(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (None, None) => true,
            _ => false,
        }
    }

    fn check(s: &str) {
        let ours = parse_f64(s);
        let std = s.parse::<f64>().ok();
        assert!(same(ours, std), "{s:?}: ours {ours:?}, std {std:?}");
    }

    #[test]
    fn parses_like_the_standard_library() {
        for s in [
            "0",
            "-0",
            "+0",
            "1",
            "300",
            "300.0",
            "3e2",
            "3E+2",
            "0.05",
            ".5",
            "5.",
            "-.5e1",
            "1e3",
            "90.5",
            "299.99999999999999999",
            "0.30000000000000004",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "2e308",
            "1e400",
            "4.9e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e-400",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "9007199254740993",
            "9007199254740992.5",
            "123456789012345678901234567890",
            "inf",
            "-Infinity",
            "INF",
            "nan",
            "NaN",
            "-nan",
            "infinit",
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1e-",
            "1.2.3",
            "0x10",
            " 1",
            "1 ",
            "1_0",
            "١",
            "1e99999999999999999999",
            "1e-99999999999999999999",
        ] {
            check(s);
        }
    }

    /// Exact decimal digits of `m × 2^e`, computed the slow obvious way.
    fn exact(m: u128, e: i32) -> String {
        let mut digits: Vec<u8> = m.to_string().bytes().map(|b| b - b'0').rev().collect();
        let times = |digits: &mut Vec<u8>, k: u8| {
            let mut carry = 0;
            for d in digits.iter_mut() {
                let v = *d * k + carry;
                *d = v % 10;
                carry = v / 10;
            }
            if carry > 0 {
                digits.push(carry);
            }
        };
        for _ in 0..e.unsigned_abs() {
            times(&mut digits, if e >= 0 { 2 } else { 5 });
        }
        let s: String = digits.iter().rev().map(|d| char::from(b'0' + d)).collect();
        if e >= 0 {
            s
        } else {
            format!("{s}e{e}")
        }
    }

    #[test]
    fn rounds_halfway_and_near_halfway_cases_like_the_standard_library() {
        let mut rng = SeededRandom::new(41);
        for i in 0..400 {
            let bits = rng.next_u64();
            let x = f64::from_bits(bits & !(1 << 63));
            if !x.is_finite() {
                continue;
            }
            let (m, e) = decompose(x);
            // The midpoint above x, and values a hair either side of it.
            let mid = exact(2 * u128::from(m) + 1, (e - 1) as i32);
            check(&mid);
            let (digits, exp) = mid.split_once('e').unwrap_or((&mid, "0"));
            check(&format!("{digits}1e{}", exp.parse::<i64>().unwrap() - 1));
            if let Some(head) = digits.strip_suffix('5') {
                check(&format!(
                    "{head}4999999e{}",
                    exp.parse::<i64>().unwrap() - 6
                ));
            }
            if i % 4 == 0 {
                // Long inputs past the 800 kept digits.
                check(&format!(
                    "{digits}{}1e{}",
                    "0".repeat(900),
                    exp.parse::<i64>().unwrap() - 901
                ));
                check(&format!(
                    "{digits}{}e{}",
                    "0".repeat(900),
                    exp.parse::<i64>().unwrap() - 900
                ));
            }
        }
        // Subnormal and power-of-two boundaries.
        for (m, e) in [
            (1u128, -1075),
            (3, -1075),
            (1 << 53, -1076),
            ((1 << 54) - 1, -1076),
            ((1 << 54) - 1, 970),
        ] {
            check(&exact(m, e));
        }
    }

    #[test]
    fn random_short_and_long_decimals_parse_like_the_standard_library() {
        let mut rng = SeededRandom::new(9);
        for _ in 0..20_000 {
            let r = rng.next_u64();
            let len = 1 + (r % 24) as usize;
            let digits: String = (0..len)
                .map(|_| char::from(b'0' + (rng.next_u64() % 10) as u8))
                .collect();
            let exp = (rng.next_u64() % 700) as i64 - 350;
            let dot = (r >> 8) as usize % (len + 1);
            check(&format!("{}.{}e{exp}", &digits[..dot], &digits[dot..]));
            check(&format!("{digits}e{exp}"));
        }
    }

    #[test]
    fn integers_are_written_in_decimal() {
        for v in [
            0,
            1,
            9,
            10,
            999_999_999,
            1_000_000_000,
            1_000_000_001,
            1_800_000_000,
            123_456_789_012_345_678,
            u64::MAX,
        ] {
            let mut out = String::new();
            write_u64(v, &mut out);
            assert_eq!(out, v.to_string());
        }
    }

    #[test]
    fn written_numbers_read_back_exactly() {
        let mut rng = SeededRandom::new(3);
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            600.0,
            0.05,
            0.21,
            0.1 + 0.2,
            1e300,
            5e-324,
            f64::MAX,
            9007199254740993.0,
            1e22,
            1e23,
        ];
        values.extend(
            (0..5000)
                .map(|_| f64::from_bits(rng.next_u64()))
                .filter(|x| x.is_finite()),
        );
        values.extend((0..2000).map(|_| (rng.next_u64() % 100_000_000) as f64 / 1e6));
        for v in values {
            let mut text = String::new();
            write_f64(v, &mut text);
            let back: f64 = text.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v:e} written as {text}");
            // Short decimals are written as such.
            if let Some(k) = (0..=15).find(|&k| {
                let scale = 10f64.powi(k);
                let n = (v.abs() * scale).round();
                n < 9_007_199_254_740_992.0 && n / scale == v.abs()
            }) {
                let digits = text
                    .trim_start_matches('-')
                    .split('e')
                    .next()
                    .unwrap()
                    .len();
                assert!(digits <= 16, "{v:e} ({k} decimals) written as {text}");
            }
        }
        let mut out = String::new();
        write_f64(0.05, &mut out);
        assert_eq!(out, "5e-2");
    }
}
