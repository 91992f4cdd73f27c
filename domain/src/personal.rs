//! Residents' personal data as value types: a checked ID card number and a phone number, each of which
//! displays masked. The full value is only reachable through `expose`, which callers use for encryption
//! and keyed hashing, never for display.

use std::fmt;

/// Why a personal-data value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalDataError {
    #[error("an ID card number has 17 digits and a check character (0-9 or X)")]
    IdCardFormat,
    #[error("the ID card number's check character does not match (GB 11643)")]
    IdCardChecksum,
    #[error(
        "a phone number is an 11-digit mobile number starting with 1, or a landline with its area code"
    )]
    PhoneFormat,
}

/// A resident identity card number (公民身份号码, GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check
/// character. `Debug` and `Display` show it masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdCard(String);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

impl IdCard {
    pub fn parse(text: &str) -> Result<Self, PersonalDataError> {
        let text = text.trim().to_ascii_uppercase();
        let bytes = text.as_bytes();
        if bytes.len() != 18
            || !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(PersonalDataError::IdCardFormat);
        }
        if bytes[17] != Self::check_char(&bytes[..17]) {
            return Err(PersonalDataError::IdCardChecksum);
        }
        Ok(IdCard(text))
    }

    /// The GB 11643 check character for the first 17 digits.
    pub fn check_char(first17: &[u8]) -> u8 {
        let sum: u32 = first17
            .iter()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        CHECK[(sum % 11) as usize]
    }

    /// `110101********1234`: the six-digit region and the last four characters.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }

    /// The full number, for encryption and keyed hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdCard({})", self.masked())
    }
}

impl fmt::Display for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A phone number: an 11-digit mobile number, or a landline written with its area code (e.g. `0938-1234567`).
/// `Debug` and `Display` show it masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn parse(text: &str) -> Result<Self, PersonalDataError> {
        let digits: String = text
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PersonalDataError::PhoneFormat);
        }
        let mobile = digits.len() == 11 && digits.starts_with('1') && digits.as_bytes()[1] >= b'3';
        let landline = digits.starts_with('0') && (10..=12).contains(&digits.len());
        if !(mobile || landline) {
            return Err(PersonalDataError::PhoneFormat);
        }
        Ok(Phone(digits))
    }

    /// `138****5678`: the first three and last four digits.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        format!("{}{}{}", &self.0[..3], "*".repeat(n - 7), &self.0[n - 4..])
    }

    /// The full number, for encryption and keyed hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_standard_example_and_masks_it() {
        let id = IdCard::parse("11010519491231002x").unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), "IdCard(110105********002X)");
        assert_eq!(
            IdCard::parse("110105194912310021"),
            Err(PersonalDataError::IdCardChecksum)
        );
        assert_eq!(
            IdCard::parse("11010519491231002"),
            Err(PersonalDataError::IdCardFormat)
        );
        assert_eq!(
            IdCard::parse("1101051949123100AX"),
            Err(PersonalDataError::IdCardFormat)
        );
    }

    #[test]
    fn phones_mask_their_middle() {
        assert_eq!(
            Phone::parse("138 1234 5678").unwrap().masked(),
            "138****5678"
        );
        assert_eq!(
            Phone::parse("0938-1234567").unwrap().masked(),
            "093****4567"
        );
        assert_eq!(
            Phone::parse("12812345678"),
            Err(PersonalDataError::PhoneFormat)
        );
        assert_eq!(
            Phone::parse("1381234567"),
            Err(PersonalDataError::PhoneFormat)
        );
        assert_eq!(
            Phone::parse("138123456ab"),
            Err(PersonalDataError::PhoneFormat)
        );
    }

    proptest! {
        #[test]
        fn exactly_one_check_character_is_accepted(first in "[1-6][0-9]{16}", wrong in 0usize..11) {
            let right = IdCard::check_char(first.as_bytes());
            let candidate = CHECK[wrong];
            let result = IdCard::parse(&format!("{first}{}", candidate as char));
            prop_assert_eq!(result.is_ok(), candidate == right);
        }

        #[test]
        fn masking_never_shows_the_birth_date(first in "[1-6][0-9]{16}") {
            let check = IdCard::check_char(first.as_bytes()) as char;
            let id = IdCard::parse(&format!("{first}{check}")).unwrap();
            prop_assert!(!id.masked().contains(&first[6..14]));
        }
    }
}
