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

/// `张*明`: the first and last characters of a name (`张*` for two, `*` for one).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 | 1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// Free text (a title, a description, a note) with the personal data in it masked as the fields that
/// hold it are: every ID card number with a valid GB 11643 check character (`110101********1234`), every
/// mobile number and every landline written with its area code (`138****5678`, `0938-***4567`), and
/// every occurrence of the given party names (`张*国`). Numbers that are part of a longer run of digits
/// are left alone (an order number is no phone).
pub fn mask_free_text(text: &str, names: &[&str]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        // An ID number's check character may be X.
        if run.len() == 17 && i < chars.len() && matches!(chars[i], 'X' | 'x') {
            let candidate = format!("{run}X");
            if let Ok(id) = IdCard::parse(&candidate) {
                out.push_str(&id.masked());
                i += 1;
                continue;
            }
        }
        // A landline: an area code (3 or 4 digits from 0), a hyphen or space, and 7 or 8 digits.
        if run.starts_with('0')
            && (3..=4).contains(&run.len())
            && i + 1 < chars.len()
            && matches!(chars[i], '-' | ' ')
            && chars[i + 1].is_ascii_digit()
        {
            let local_start = i + 1;
            let mut j = local_start;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            if (7..=8).contains(&(j - local_start)) {
                let local: String = chars[local_start..j].iter().collect();
                out.push_str(&run);
                out.push(chars[i]);
                out.push_str(&"*".repeat(local.len() - 4));
                out.push_str(&local[local.len() - 4..]);
                i = j;
                continue;
            }
        }
        out.push_str(&match run.len() {
            18 => IdCard::parse(&run)
                .map(|id| id.masked())
                .unwrap_or_else(|_| run.clone()),
            11 if run.starts_with('1') && run.as_bytes()[1] >= b'3' => {
                format!("{}****{}", &run[..3], &run[7..])
            }
            10..=12 if run.starts_with('0') => Phone::parse(&run)
                .map(|p| p.masked())
                .unwrap_or_else(|_| run.clone()),
            _ => run.clone(),
        });
    }
    let mut names: Vec<&str> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| n.chars().count() >= 2)
        .collect();
    // Longer names first, so that 欧阳明月 is masked whole before 欧阳 could be.
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    names.dedup();
    for name in names {
        if out.contains(name) {
            out = out.replace(name, &mask_name(name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn free_text_is_masked_as_the_fields_are() {
        let text = "村民张建国（身份证11010519491231002X，电话13812345678）反映邻居李秀英占地，座机0938-8123456。";
        assert_eq!(
            mask_free_text(text, &["张建国", "李秀英"]),
            "村民张*国（身份证110105********002X，电话138****5678）反映邻居李*英占地，座机0938-***3456。"
        );
        // A wrong check character, a longer run of digits, an order number: left alone.
        assert_eq!(
            mask_free_text("11010519491231002Y 138123456789 20261201", &[]),
            "11010519491231002Y 138123456789 20261201"
        );
        assert_eq!(
            mask_free_text("110105194912310021", &[]),
            "110105194912310021"
        );
        assert_eq!(
            mask_free_text("欧阳明月与欧阳", &["欧阳", "欧阳明月"]),
            "欧**月与欧*"
        );
        assert_eq!(mask_free_text("电话09388123456", &[]), "电话093****3456");
        assert_eq!(mask_name("张三"), "张*");
    }

    proptest! {
        #[test]
        fn no_valid_id_number_survives_masking(first17 in "[1-6][0-9]{16}", before in "[^0-9]{0,3}", after in "[^0-9Xx]{0,3}") {
            let check = IdCard::check_char(first17.as_bytes()) as char;
            let id = format!("{first17}{check}");
            let masked = mask_free_text(&format!("{before}{id}{after}"), &[]);
            prop_assert!(!masked.contains(&id));
            prop_assert!(!masked.contains(&id[6..14]));
        }
    }

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
