//! Time as the core sees it: Unix seconds passed in by the caller, rendered as
//! SMS.CX's UTC `YYYY-MM-DD HH:MM:SS`. The core never reads a clock.

/// Seconds since 1970-01-01T00:00:00Z.
pub type UnixSeconds = i64;

/// Formats `t` as UTC `YYYY-MM-DD HH:MM:SS`.
pub fn format_utc(t: UnixSeconds) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // As `format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")`, without `core::fmt`
    // (smaller and faster in wasm): the year is zero-padded to 4 characters, sign
    // included.
    let mut out = String::with_capacity(19);
    let mut year = [0u8; 20];
    let mut i = year.len();
    let mut rest = y.unsigned_abs();
    while rest > 0 || i > year.len() - 4 + usize::from(y < 0) {
        i -= 1;
        year[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    if y < 0 {
        out.push('-');
    }
    out.extend(year[i..].iter().map(|&b| char::from(b)));
    for (sep, n) in [
        ('-', m),
        ('-', d),
        (' ', secs / 3600),
        (':', secs % 3600 / 60),
        (':', secs % 60),
    ] {
        out.push(sep);
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    }
    out
}

/// Parses UTC `YYYY-MM-DD HH:MM:SS` back into Unix seconds.
pub fn parse_utc(s: &str) -> Option<UnixSeconds> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms (public domain), exact for any i64 day
// count in range of the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_utc(4_102_444_799), "2099-12-31 23:59:59");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59");
    }

    #[test]
    fn formats_as_the_format_macro_does_for_any_year() {
        let reference = |t: UnixSeconds| {
            let (y, m, d) = civil_from_days(t.div_euclid(86_400));
            let secs = t.rem_euclid(86_400);
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                secs / 3600,
                secs % 3600 / 60,
                secs % 60
            )
        };
        let mut t: i64 = -999_999_999_999_999;
        while t < 1_000_000_000_000_000 {
            assert_eq!(format_utc(t), reference(t), "{t}");
            t += 3_333_333_333_331;
        }
        for t in [
            -62_167_219_200,
            -62_167_219_201,
            -62_135_596_800,
            -30_610_224_000,
            253_402_300_799,
            253_402_300_800,
        ] {
            assert_eq!(format_utc(t), reference(t), "{t}");
        }
    }

    #[test]
    fn parse_is_the_inverse_of_format() {
        let mut t = -86_400 * 365;
        while t < 4_200_000_000 {
            assert_eq!(parse_utc(&format_utc(t)), Some(t), "{t}");
            t += 7_777_777;
        }
    }

    #[test]
    fn parse_rejects_malformed_dates() {
        for s in [
            "",
            "2023-11-14T22:13:20",
            "2023-02-29 00:00:00",
            "2023-13-01 00:00:00",
            "2023-1-01 00:00:000",
            "２０２３-11-14 22:13:20",
        ] {
            assert_eq!(parse_utc(s), None, "{s}");
        }
    }
}
