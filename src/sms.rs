//! SMS part counting: which encoding a text needs and how many SMS parts it costs.
//!
//! A text whose every character is in the GSM 03.38 default alphabet or its
//! extension table is sent as GSM-7: a default-alphabet character costs 1 septet,
//! an extension character (`^ { } \ [ ~ ] | €` and form feed) costs 2 (escape +
//! character). Any other character makes the whole text UCS-2, counted in UTF-16
//! code units (a character outside the BMP, such as most emoji, costs 2).
//!
//! One part holds 160 septets (GSM-7) or 70 units (UCS-2). A longer text is sent
//! concatenated, and the user-data header leaves 153 septets or 67 units per part.
//! Parts are counted by walking the characters and filling segments of 153 / 67
//! units **without splitting a 2-unit character** (a GSM extension pair or a UTF-16
//! surrogate pair) across two parts, as handsets and carriers require: a 2-unit
//! character that does not fit in what is left of a part starts the next one.
//! So the part count can exceed `ceil(units / 153)` (or `/ 67`) by the few units a
//! part leaves unused, exactly as a carrier bills it.
//!
//! The lowercase `ç` is **not** GSM-7: the default alphabet has only the capital
//! `Ç` (code 0x09), as in the 3GPP TS 23.038 table; gateways that silently send
//! `ç` as `Ç` change the text, so this module counts it as UCS-2.

/// How an SMS text is encoded on the air interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SmsEncoding {
    /// GSM 03.38 7-bit default alphabet (with its extension table).
    #[serde(rename = "GSM-7")]
    Gsm7,
    /// UCS-2 / UTF-16, for any text with a character outside GSM-7.
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// The encoding, size and part count of one SMS text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsParts {
    /// The encoding the text needs.
    pub encoding: SmsEncoding,
    /// Size of the text: septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: u32,
    /// Number of SMS parts (at least 1, even for an empty text).
    pub parts: u32,
}

/// Septets a GSM-7 message may hold in a single part.
const GSM7_SINGLE: u32 = 160;
/// Septets per part of a concatenated GSM-7 message.
const GSM7_SEGMENT: u32 = 153;
/// UTF-16 units a UCS-2 message may hold in a single part.
const UCS2_SINGLE: u32 = 70;
/// UTF-16 units per part of a concatenated UCS-2 message.
const UCS2_SEGMENT: u32 = 67;

/// Septets `c` costs in GSM-7: 1 (default alphabet), 2 (extension table) or
/// `None` when GSM-7 cannot carry it.
const fn gsm7_septets(c: char) -> Option<u32> {
    match c {
        // Extension table (escape 0x1B + code).
        '\u{0C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        // The backtick is the one printable ASCII character GSM-7 lacks.
        '`' => None,
        // Printable ASCII, line feed and carriage return.
        ' '..='~' | '\n' | '\r' => Some(1),
        // The non-ASCII characters of the default alphabet.
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ'
        | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä'
        | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        _ => None,
    }
}

/// [`gsm7_septets`] of every ASCII character, 0 where GSM-7 cannot carry it: plain
/// ASCII texts (most OTP messages) are counted with one lookup per byte.
const ASCII_SEPTETS: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        table[i] = match gsm7_septets(i as u8 as char) {
            Some(n) => n as u8,
            None => 0,
        };
        i += 1;
    }
    table
};

/// Whether the whole text can be sent as GSM-7 (an empty text can).
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| septets(c).is_some())
}

/// Septets `c` costs in GSM-7, as [`gsm7_septets`], with one lookup for ASCII.
fn septets(c: char) -> Option<u32> {
    if c.is_ascii() {
        match ASCII_SEPTETS[c as usize] {
            0 => None,
            n => Some(u32::from(n)),
        }
    } else {
        gsm7_septets(c)
    }
}

/// The encoding, units and SMS parts of `text`, without splitting a 2-unit character across parts.
pub fn count_parts(text: &str) -> SmsParts {
    // One pass for GSM-7 texts (the usual case); a character GSM-7 lacks ends it,
    // and the text is counted again as UCS-2.
    let mut gsm7 = Parts::new(SmsEncoding::Gsm7, GSM7_SINGLE, GSM7_SEGMENT);
    if text.is_ascii() {
        for &b in text.as_bytes() {
            match ASCII_SEPTETS[usize::from(b)] {
                0 => return count_ucs2(text),
                n => gsm7.push(u32::from(n)),
            }
        }
    } else {
        for c in text.chars() {
            match septets(c) {
                None => return count_ucs2(text),
                Some(n) => gsm7.push(n),
            }
        }
    }
    gsm7.finish()
}

/// [`count_parts`] of a text that needs UCS-2.
fn count_ucs2(text: &str) -> SmsParts {
    let mut ucs2 = Parts::new(SmsEncoding::Ucs2, UCS2_SINGLE, UCS2_SEGMENT);
    if text.is_ascii() {
        text.bytes().for_each(|_| ucs2.push(1));
    } else {
        text.chars().for_each(|c| ucs2.push(c.len_utf16() as u32));
    }
    ucs2.finish()
}

/// Counts the units of a text, character by character, and the parts they fill,
/// never splitting one character.
struct Parts {
    encoding: SmsEncoding,
    single: u32,
    segment: u32,
    units: u32,
    parts: u32,
    /// Units in the current segment of a concatenated message.
    used: u32,
}

impl Parts {
    fn new(encoding: SmsEncoding, single: u32, segment: u32) -> Self {
        Parts {
            encoding,
            single,
            segment,
            units: 0,
            parts: 1,
            used: 0,
        }
    }

    /// Adds a character of `w` units.
    fn push(&mut self, w: u32) {
        self.units = self.units.saturating_add(w);
        if self.used + w > self.segment {
            self.parts = self.parts.saturating_add(1);
            self.used = 0;
        }
        self.used += w;
    }

    fn finish(self) -> SmsParts {
        SmsParts {
            encoding: self.encoding,
            units: self.units,
            parts: if self.units <= self.single {
                1
            } else {
                self.parts
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn gsm(units: u32, parts: u32) -> SmsParts {
        SmsParts {
            encoding: SmsEncoding::Gsm7,
            units,
            parts,
        }
    }

    fn ucs(units: u32, parts: u32) -> SmsParts {
        SmsParts {
            encoding: SmsEncoding::Ucs2,
            units,
            parts,
        }
    }

    #[test]
    fn the_ascii_table_agrees_with_the_character_rules() {
        for b in 0u8..128 {
            let c = char::from(b);
            assert_eq!(
                u32::from(ASCII_SEPTETS[usize::from(b)]),
                gsm7_septets(c).unwrap_or(0),
                "{c:?}"
            );
        }
        assert_eq!(count_parts("a`b"), ucs(3, 1));
        assert_eq!(count_parts("a\tb"), ucs(3, 1));
        assert_eq!(count_parts("a\x0Cb"), gsm(4, 1));
    }

    #[test]
    fn empty_text_is_one_gsm7_part_of_zero_units() {
        assert_eq!(count_parts(""), gsm(0, 1));
        assert!(is_gsm7(""));
    }

    #[test]
    fn gsm7_fits_160_chars_in_one_part_and_161_needs_two() {
        assert_eq!(count_parts(&"a".repeat(160)), gsm(160, 1));
        assert_eq!(count_parts(&"a".repeat(161)), gsm(161, 2));
    }

    #[test]
    fn gsm7_multipart_uses_153_septets_per_part() {
        assert_eq!(count_parts(&"a".repeat(306)), gsm(306, 2));
        assert_eq!(count_parts(&"a".repeat(307)), gsm(307, 3));
        assert_eq!(count_parts(&"a".repeat(459)), gsm(459, 3));
        assert_eq!(count_parts(&"a".repeat(460)), gsm(460, 4));
    }

    #[test]
    fn euro_sign_counts_two_septets_and_keeps_gsm7() {
        assert!(is_gsm7("Price: 5€"));
        assert_eq!(count_parts("5€"), gsm(3, 1));
        // 80 euro signs are exactly 160 septets: still one part.
        assert_eq!(count_parts(&"€".repeat(80)), gsm(160, 1));
        assert_eq!(count_parts(&"€".repeat(81)), gsm(162, 2));
    }

    #[test]
    fn every_extension_character_counts_two_septets() {
        for c in ['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\u{0C}'] {
            assert_eq!(count_parts(&c.to_string()), gsm(2, 1), "{c:?}");
        }
    }

    #[test]
    fn accented_letters_of_the_gsm_alphabet_keep_gsm7() {
        for c in ['é', 'è', 'ü', 'ñ', 'Ç', 'Ø', 'å', 'ß', 'Δ', 'à', '£', '¿'] {
            let text = format!("Code {c}");
            assert_eq!(count_parts(&text), gsm(6, 1), "{c:?}");
        }
        assert!(is_gsm7("@$_\n\r!\"#%&'()*+,-./0123456789:;<=>?"));
    }

    #[test]
    fn a_letter_outside_gsm_forces_ucs2() {
        for c in ['ş', 'ă', 'ç', 'ж', 'ł', 'ő', 'α', '`'] {
            let text = format!("Code {c}");
            assert!(!is_gsm7(&text), "{c:?}");
            assert_eq!(count_parts(&text), ucs(6, 1), "{c:?}");
        }
    }

    #[test]
    fn ucs2_fits_70_units_in_one_part_and_71_needs_two() {
        assert_eq!(count_parts(&"ж".repeat(70)), ucs(70, 1));
        assert_eq!(count_parts(&"ж".repeat(71)), ucs(71, 2));
        assert_eq!(count_parts(&"ж".repeat(134)), ucs(134, 2));
        assert_eq!(count_parts(&"ж".repeat(135)), ucs(135, 3));
    }

    #[test]
    fn ucs2_counts_extension_characters_as_one_unit() {
        // Once the text is UCS-2, `€` is one UTF-16 unit like any other.
        assert_eq!(count_parts("ж€{"), ucs(3, 1));
    }

    #[test]
    fn emoji_outside_the_bmp_counts_two_utf16_units() {
        assert_eq!(count_parts("😀"), ucs(2, 1));
        assert_eq!(count_parts("Hi 😀"), ucs(5, 1));
        assert_eq!(count_parts(&"😀".repeat(35)), ucs(70, 1));
        assert_eq!(count_parts(&"😀".repeat(36)), ucs(72, 2));
    }

    #[test]
    fn chinese_text_is_ucs2_one_unit_per_character() {
        let text = "您的验证码是123456";
        assert_eq!(count_parts(text), ucs(12, 1));
        assert_eq!(count_parts(&"验".repeat(71)), ucs(71, 2));
    }

    #[test]
    fn a_gsm_extension_pair_is_not_split_across_parts() {
        // 152 plain septets then `€`: the pair would straddle septets 153-154, so
        // it opens part 2 (part 1 carries 152 septets).
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(count_parts(&text), gsm(164, 2));
        // 152 + 2 + 152 = 306 septets would fit ceil(306/153) = 2 parts only by
        // splitting the pair; kept whole, they need 3 (152 | 2 + 151 | 1).
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(count_parts(&text), gsm(306, 3));
        // With 151 plain septets first the pair fits the first part exactly.
        let text = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(count_parts(&text), gsm(306, 2));
    }

    #[test]
    fn a_surrogate_pair_is_not_split_across_parts() {
        // 66 units then an emoji: the emoji opens part 2 (66 | 2 + 65 | 1).
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(count_parts(&text), ucs(134, 3));
        let text = format!("{}😀{}", "ж".repeat(65), "ж".repeat(67));
        assert_eq!(count_parts(&text), ucs(134, 2));
    }

    #[test]
    fn a_single_part_message_ignores_segment_boundaries() {
        // 152 septets + `€` + 6 = 160 septets: one part, no segmenting at all.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(6));
        assert_eq!(count_parts(&text), gsm(160, 1));
    }

    #[test]
    fn encoding_serializes_with_its_usual_names() {
        let json = serde_json::to_string(&count_parts("é")).unwrap();
        assert_eq!(json, r#"{"encoding":"GSM-7","units":1,"parts":1}"#);
        let json = serde_json::to_string(&count_parts("ş")).unwrap();
        assert_eq!(json, r#"{"encoding":"UCS-2","units":1,"parts":1}"#);
        let back: SmsEncoding = serde_json::from_str(r#""UCS-2""#).unwrap();
        assert_eq!(back, SmsEncoding::Ucs2);
    }
}
