//! Full ID card numbers and phone numbers typed into a query. They are looked up through the keyed hashes
//! the caller computes, never as text: only a whole, valid number finds its parties.

use fengqiao_domain::{IdCard, Phone};

/// A personal identifier found in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    IdCard(IdCard),
    Phone(Phone),
}

impl Identifier {
    /// The normalized full value, the input of the keyed hash (the same one the store hashes).
    pub fn expose(&self) -> &str {
        match self {
            Identifier::IdCard(id) => id.expose(),
            Identifier::Phone(phone) => phone.expose(),
        }
    }
}

fn is_number_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, 'x' | 'X' | '-')
}

/// Splits a query into its free text and the valid ID card and phone numbers in it. A run of digits that
/// is not a valid number stays in the text (where it matches no personal data).
pub fn extract_identifiers(query: &str) -> (String, Vec<Identifier>) {
    let normalized: String = query
        .chars()
        .map(|c| match c {
            '\u{FF10}'..='\u{FF19}' | '\u{FF38}' | '\u{FF58}' | '\u{FF0D}' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            _ => c,
        })
        .collect();
    let mut text = String::with_capacity(normalized.len());
    let mut found = Vec::new();
    let mut rest = normalized.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        text.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !is_number_char(c))
            .unwrap_or(tail.len());
        let candidate = tail[..end].trim_end_matches('-');
        let identifier = IdCard::parse(candidate)
            .map(Identifier::IdCard)
            .or_else(|_| Phone::parse(candidate).map(Identifier::Phone));
        match identifier {
            Ok(identifier) => {
                found.push(identifier);
                text.push(' ');
            }
            Err(_) => text.push_str(candidate),
        }
        rest = &tail[candidate.len()..];
    }
    text.push_str(rest);
    (text, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_taken_out_and_fragments_stay() {
        let (text, found) = extract_identifiers("张建国 13812345678 11010519491231002x 彩礼");
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["张建国", "彩礼"]
        );
        assert_eq!(
            found.iter().map(Identifier::expose).collect::<Vec<_>>(),
            ["13812345678", "11010519491231002X"]
        );
        let (text, found) = extract_identifiers("1381234");
        assert_eq!((text.as_str(), found.len()), ("1381234", 0));
        let (text, found) = extract_identifiers("电话０９３８－１２３４５６７");
        assert_eq!(text.trim(), "电话");
        assert_eq!(found[0].expose(), "09381234567");
    }

    #[test]
    fn an_id_number_with_a_wrong_check_character_is_text() {
        let (text, found) = extract_identifiers("110105194912310021");
        assert!(found.is_empty());
        assert_eq!(text, "110105194912310021");
    }
}
