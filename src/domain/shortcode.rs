//! Short codes: eight Crockford base32 symbols a visitor can type instead of scanning.
//!
//! Every invite has one, and badge slips carry one for check-out. A code carries 40 bits,
//! drawn by the caller from a random source and handed in as [`ShortCode::from_entropy`].
//!
//! Canonical form is eight uppercase symbols from `0123456789ABCDEFGHJKMNPQRSTVWXYZ`
//! (no `I`, `L`, `O` or `U`). [`ShortCode::parse`] is forgiving about how people type:
//!
//! * surrounding whitespace is trimmed, and spaces and hyphens anywhere are dropped;
//! * letters are case-insensitive;
//! * `I`/`L` read as `1` and `O` reads as `0`, as Crockford's decoding rules prescribe;
//! * full-width ASCII (U+FF01..U+FF5E, what an East Asian input method produces) is folded
//!   to ASCII first, and the ideographic space U+3000 counts as a space.
//!
//! Anything else, `U` included, is rejected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of symbols in a short code.
pub const SHORT_CODE_LEN: usize = 8;

/// The Crockford base32 alphabet, in value order.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// An eight-symbol Crockford base32 code, always held in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShortCode(String);

/// Why typed or scanned text is not a short code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShortCodeError {
    /// The text holds a number of symbols other than eight (spaces and hyphens not counted).
    #[error("a short code has {SHORT_CODE_LEN} characters, this one has {found}")]
    WrongLength {
        /// Symbols found after dropping spaces and hyphens.
        found: usize,
    },
    /// The text holds a character that is not part of a short code.
    #[error("{character:?} cannot appear in a short code")]
    BadCharacter {
        /// The offending character, as typed (before full-width folding).
        character: char,
        /// Its position among the characters of the trimmed input, from 0.
        position: usize,
    },
}

impl ShortCode {
    /// Builds a code from 40 bits of entropy, most significant bit first.
    pub fn from_entropy(bytes: [u8; 5]) -> ShortCode {
        let value = bytes
            .iter()
            .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
        let text = (0..SHORT_CODE_LEN)
            .rev()
            .map(|index| char::from(ALPHABET[((value >> (index * 5)) & 0x1f) as usize]))
            .collect();
        ShortCode(text)
    }

    /// Parses what a visitor typed or a scanner read; see the module docs for the rules.
    pub fn parse(input: &str) -> Result<ShortCode, ShortCodeError> {
        let mut symbols = [0u8; SHORT_CODE_LEN];
        let mut found = 0usize;
        for (position, character) in input.trim().chars().enumerate() {
            let folded = fold_full_width(character);
            if folded == ' ' || folded == '-' || folded == '\u{3000}' {
                continue;
            }
            let symbol = canonical_symbol(folded).ok_or(ShortCodeError::BadCharacter {
                character,
                position,
            })?;
            if let Some(slot) = symbols.get_mut(found) {
                *slot = symbol;
            }
            found += 1;
        }
        if found != SHORT_CODE_LEN {
            return Err(ShortCodeError::WrongLength { found });
        }
        Ok(ShortCode(symbols.iter().map(|&b| char::from(b)).collect()))
    }

    /// The canonical eight-character form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code split in two groups of four, `ABCD-EFGH`, for screens and badge slips.
    pub fn grouped(&self) -> String {
        let (head, tail) = self.0.split_at(SHORT_CODE_LEN / 2);
        format!("{head}-{tail}")
    }
}

/// Maps full-width ASCII (U+FF01..U+FF5E) onto ASCII; other characters pass unchanged.
fn fold_full_width(character: char) -> char {
    match character {
        '\u{FF01}'..='\u{FF5E}' => {
            char::from_u32(u32::from(character) - 0xFEE0).unwrap_or(character)
        }
        other => other,
    }
}

/// The canonical symbol for one typed character, applying Crockford's aliases.
fn canonical_symbol(character: char) -> Option<u8> {
    if !character.is_ascii() {
        return None;
    }
    let upper = (character as u8).to_ascii_uppercase();
    match upper {
        b'I' | b'L' => Some(b'1'),
        b'O' => Some(b'0'),
        b'U' => None,
        b'0'..=b'9' | b'A'..=b'Z' => Some(upper),
        _ => None,
    }
}

impl fmt::Display for ShortCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ShortCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ShortCode {
    type Err = ShortCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShortCode::parse(s)
    }
}

impl Serialize for ShortCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ShortCode {
    /// Accepts the same spellings as [`ShortCode::parse`] and stores the canonical form.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ShortCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_canonical(text: &str) -> bool {
        text.len() == SHORT_CODE_LEN && text.bytes().all(|b| ALPHABET.contains(&b))
    }

    #[test]
    fn from_entropy_maps_bits_to_symbols() {
        assert_eq!(ShortCode::from_entropy([0; 5]).as_str(), "00000000");
        assert_eq!(ShortCode::from_entropy([0xff; 5]).as_str(), "ZZZZZZZZ");
        // 0x0842108421 = 00001 00001 00001 ... : every symbol is 1.
        assert_eq!(
            ShortCode::from_entropy([0x08, 0x42, 0x10, 0x84, 0x21]).as_str(),
            "11111111"
        );
        // The last five bits land in the last symbol.
        assert_eq!(
            ShortCode::from_entropy([0, 0, 0, 0, 31]).as_str(),
            "0000000Z"
        );
    }

    #[test]
    fn round_trip_from_entropy() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let bytes = [
                seed as u8,
                (seed >> 8) as u8,
                (seed >> 16) as u8,
                (seed >> 24) as u8,
                (seed >> 32) as u8,
            ];
            let code = ShortCode::from_entropy(bytes);
            assert!(is_canonical(code.as_str()), "{code}");
            assert_eq!(ShortCode::parse(code.as_str()).unwrap(), code);
            assert_eq!(ShortCode::parse(&code.grouped()).unwrap(), code);
            assert_eq!(code.to_string(), code.as_str());
        }
    }

    #[test]
    fn distinct_entropy_gives_distinct_codes() {
        let a = ShortCode::from_entropy([1, 2, 3, 4, 5]);
        let b = ShortCode::from_entropy([1, 2, 3, 4, 6]);
        assert_ne!(a, b);
    }

    #[test]
    fn grouped_form() {
        let code = ShortCode::parse("ABCDEFGH").unwrap();
        assert_eq!(code.grouped(), "ABCD-EFGH");
        assert_eq!(code.to_string(), "ABCDEFGH");
    }

    #[test]
    fn parse_forgives_separators_case_and_whitespace() {
        let expected = ShortCode::parse("7K3QMX9P").unwrap();
        for input in [
            "7K3Q-MX9P",
            "7k3q-mx9p",
            " 7K3Q MX9P ",
            "7 K 3 Q - M X 9 P",
            "--7K3QMX9P--",
            "\t7k3qMX9p\r\n",
            "7K3Q\u{3000}MX9P",
        ] {
            assert_eq!(ShortCode::parse(input).unwrap(), expected, "{input:?}");
        }
    }

    #[test]
    fn parse_folds_full_width() {
        let expected = ShortCode::parse("7K3QMX9P").unwrap();
        // Full-width digits, letters (upper and lower) and hyphen-minus.
        for input in [
            "７Ｋ３Ｑ－ＭＸ９Ｐ",
            "７ｋ３ｑＭＸ９ｐ",
            "\u{3000}７Ｋ３Ｑ\u{3000}ＭＸ９Ｐ\u{3000}",
            "7K3Q－ＭX9P",
        ] {
            assert_eq!(ShortCode::parse(input).unwrap(), expected, "{input:?}");
        }
    }

    #[test]
    fn parse_applies_crockford_aliases() {
        assert_eq!(ShortCode::parse("IiLlOo00").unwrap().as_str(), "11110000");
        assert_eq!(
            ShortCode::parse("ＩＬＯｏ-ABCD").unwrap().as_str(),
            "1100ABCD"
        );
    }

    #[test]
    fn parse_rejects_u_and_other_characters() {
        assert_eq!(
            ShortCode::parse("ABCDEFGU"),
            Err(ShortCodeError::BadCharacter {
                character: 'U',
                position: 7
            })
        );
        assert_eq!(
            ShortCode::parse("abcduFGH"),
            Err(ShortCodeError::BadCharacter {
                character: 'u',
                position: 4
            })
        );
        assert_eq!(
            ShortCode::parse("ＵＢＣＤＥＦＧＨ"),
            Err(ShortCodeError::BadCharacter {
                character: 'Ｕ',
                position: 0
            })
        );
        for input in [
            "ABCD_EFGH",
            "ABCD.EFGH",
            "ABCDÉFGH",
            "ABCD/EFGH",
            "ABC:DEFGH",
        ] {
            assert!(
                matches!(
                    ShortCode::parse(input),
                    Err(ShortCodeError::BadCharacter { .. })
                ),
                "{input:?}"
            );
        }
    }

    #[test]
    fn parse_rejects_wrong_lengths() {
        assert_eq!(
            ShortCode::parse(""),
            Err(ShortCodeError::WrongLength { found: 0 })
        );
        assert_eq!(
            ShortCode::parse("  - -  "),
            Err(ShortCodeError::WrongLength { found: 0 })
        );
        assert_eq!(
            ShortCode::parse("ABCD-EFG"),
            Err(ShortCodeError::WrongLength { found: 7 })
        );
        assert_eq!(
            ShortCode::parse("ABCD-EFGHJ"),
            Err(ShortCodeError::WrongLength { found: 9 })
        );
        assert_eq!(
            ShortCode::parse("ABCDEFGHABCDEFGH"),
            Err(ShortCodeError::WrongLength { found: 16 })
        );
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            ShortCodeError::WrongLength { found: 7 }.to_string(),
            "a short code has 8 characters, this one has 7"
        );
        assert_eq!(
            ShortCodeError::BadCharacter {
                character: 'U',
                position: 3
            }
            .to_string(),
            "'U' cannot appear in a short code"
        );
    }

    #[test]
    fn serde_uses_the_plain_string_and_validates() {
        let code = ShortCode::parse("7K3QMX9P").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"7K3QMX9P\"");
        let back: ShortCode = serde_json::from_str("\"7k3q-mx9p\"").unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<ShortCode>("\"7K3QMX9U\"").is_err());
        assert!(serde_json::from_str::<ShortCode>("\"7K3\"").is_err());
        assert!(serde_json::from_str::<ShortCode>("42").is_err());
    }

    #[test]
    fn from_str_matches_parse() {
        let code: ShortCode = "7k3q-mx9p".parse().unwrap();
        assert_eq!(code.as_str(), "7K3QMX9P");
    }
}
