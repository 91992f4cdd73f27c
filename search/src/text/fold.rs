//! Folding: the one form every text takes before it is indexed or looked up. Full-width letters, digits and
//! punctuation become ASCII, letters become lower case, traditional characters become simplified.
//!
//! Folding keeps one character for each character of the input, so every folded character knows where it
//! came from in the original text: highlights and token offsets point into what the user wrote.

use std::sync::LazyLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

static T2S: LazyLock<Option<OpenCC>> = LazyLock::new(|| {
    match OpenCC::from_config(BuiltinConfig::T2s) {
        Ok(converter) => Some(converter),
        Err(error) => {
            tracing::error!(%error, "the traditional-to-simplified table did not load; traditional text is searched as written");
            None
        }
    }
});

/// A folded text: its characters, and for each of them the byte range it came from in the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    chars: Vec<char>,
    /// `starts[i]` is the byte offset in the original text of character `i`; the last entry is the
    /// original text's length.
    starts: Vec<usize>,
}

impl Folded {
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The byte range in the original text of the folded characters `from..to`.
    pub fn source(&self, from: usize, to: usize) -> (usize, usize) {
        let last = self.starts.len() - 1;
        (self.starts[from.min(last)], self.starts[to.min(last)])
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }
}

/// Folds one character, leaving traditional characters alone (they need the phrase-aware table).
fn fold_char(c: char) -> char {
    let c = match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// Converts traditional characters to simplified ones, one for one. The table works on phrases; when it
/// changes the number of characters (a few phrases do), each character is converted on its own instead so
/// that positions still line up.
fn simplify(chars: &mut [char]) {
    let Some(converter) = T2S.as_ref() else {
        return;
    };
    if chars.iter().all(|c| c.is_ascii()) {
        return;
    }
    let text: String = chars.iter().collect();
    let converted: Vec<char> = converter.convert(&text).chars().collect();
    if converted.len() == chars.len() {
        chars.copy_from_slice(&converted);
        return;
    }
    for c in chars.iter_mut().filter(|c| !c.is_ascii()) {
        let mut buf = [0u8; 4];
        let one = converter.convert(c.encode_utf8(&mut buf));
        let mut it = one.chars();
        if let (Some(single), None) = (it.next(), it.next()) {
            *c = single;
        }
    }
}

/// Folds a text.
pub fn fold(text: &str) -> Folded {
    let mut chars = Vec::with_capacity(text.len() / 2);
    let mut starts = Vec::with_capacity(text.len() / 2 + 1);
    for (at, c) in text.char_indices() {
        chars.push(fold_char(c));
        starts.push(at);
    }
    starts.push(text.len());
    simplify(&mut chars);
    Folded { chars, starts }
}

/// Folds a text and returns the folded string.
pub fn fold_str(text: &str) -> String {
    fold(text).text()
}

/// Han characters: the CJK unified ideographs and their extensions, and the ideographic zero.
pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3007}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2EBEF}'
        | '\u{30000}'..='\u{3134F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_and_full_width_fold_to_simplified_ascii() {
        assert_eq!(fold_str("宅基地糾紛"), "宅基地纠纷");
        assert_eq!(fold_str("離婚後撫養費"), "离婚后抚养费");
        assert_eq!(fold_str("ＡＢＣ１２３　号"), "abc123 号");
        assert_eq!(fold_str("劉家村"), "刘家村");
        assert_eq!(fold_str("柳树村"), "柳树村");
    }

    #[test]
    fn folded_characters_point_back_into_the_original() {
        let original = "Ａ村糾紛";
        let folded = fold(original);
        assert_eq!(folded.text(), "a村纠纷");
        let (from, to) = folded.source(2, 4);
        assert_eq!(&original[from..to], "糾紛");
        assert_eq!(folded.source(0, 4), (0, original.len()));
    }
}
