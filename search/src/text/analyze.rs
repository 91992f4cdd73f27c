//! The three token streams an indexed text yields, and the terms a query form looks for in each.
//!
//! - **words**: jieba words in search mode (a long word also yields the shorter dictionary words inside
//!   it), and runs of letters and digits. Precise; ranks highest.
//! - **grams**: every han character and every pair of adjacent ones, and runs of letters and digits. A form
//!   that jieba cuts differently, a part of a word (宅基 in 宅基地) or a name jieba does not know still
//!   matches as a phrase of its character pairs.
//! - **pinyin**: the toneless pinyin of every pair of adjacent han characters, every reading of a
//!   polyphonic character included. A word typed with the wrong character of the same sound (争收 for
//!   征收, 善养 for 赡养) has the same pinyin pairs; this stream is the low-ranked fallback that finds it.
//!
//! Positions count folded characters, so the same form gets the same relative positions in a document and
//! in a query whatever surrounds it. A run of letters and digits with ten digits or more (a phone or an ID
//! number typed into a description) yields no token at all: such numbers are found through the keyed
//! hashes of the parties, never as text, and a fragment of one finds nothing.

use std::sync::LazyLock;

use jieba_rs::Jieba;
use pinyin::{ToPinyin, ToPinyinMulti};

use super::fold::{Folded, fold, is_han};

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// Runs of letters and digits with this many digits or more are treated as personal identifiers.
const IDENTIFIER_DIGITS: usize = 10;

/// Combinations of readings kept for one pair of polyphonic characters.
const MAX_READING_PAIRS: usize = 6;

/// One token: its text, its position, and the byte range it came from in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub position: usize,
    pub from: usize,
    pub to: usize,
}

/// Which stream to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Words,
    Grams,
    Pinyin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunKind {
    Han,
    Alnum,
}

/// A run of folded characters `start..end` of one kind.
#[derive(Debug, Clone, Copy)]
struct Run {
    kind: RunKind,
    start: usize,
    end: usize,
}

fn is_alnum(c: char) -> bool {
    c.is_alphanumeric() && !is_han(c)
}

fn runs(chars: &[char]) -> Vec<Run> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let kind = if is_han(c) {
            RunKind::Han
        } else if is_alnum(c) {
            RunKind::Alnum
        } else {
            i += 1;
            continue;
        };
        let start = i;
        i += 1;
        while i < chars.len() {
            let next = chars[i];
            let continues = match kind {
                RunKind::Han => is_han(next),
                // A connector joins letters and digits on both sides: 0938-1234567, 3.5, a_b.
                RunKind::Alnum => {
                    is_alnum(next)
                        || (matches!(next, '-' | '.' | '_')
                            && chars.get(i + 1).is_some_and(|c| is_alnum(*c)))
                }
            };
            if !continues {
                break;
            }
            i += 1;
        }
        out.push(Run {
            kind,
            start,
            end: i,
        });
    }
    out
}

fn looks_like_identifier(chars: &[char]) -> bool {
    chars.iter().filter(|c| c.is_ascii_digit()).count() >= IDENTIFIER_DIGITS
}

fn piece(folded: &Folded, text: String, from: usize, to: usize) -> Piece {
    let (start, end) = folded.source(from, to);
    Piece {
        text,
        position: from,
        from: start,
        to: end,
    }
}

/// The toneless readings of a han character, the most common first, without repeats.
pub fn readings(c: char) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    if let Some(multi) = c.to_pinyin_multi() {
        for reading in multi {
            let plain = reading.plain();
            if !out.contains(&plain) {
                out.push(plain);
            }
        }
    }
    out
}

/// The most common toneless reading of a han character.
pub fn reading(c: char) -> Option<&'static str> {
    c.to_pinyin().map(|p| p.plain())
}

/// The tokens of one stream for an indexed text, sorted by position.
pub fn analyze(text: &str, stream: Stream) -> Vec<Piece> {
    let folded = fold(text);
    let chars = folded.chars();
    let mut out = Vec::new();
    for run in runs(chars) {
        let slice = &chars[run.start..run.end];
        match (run.kind, stream) {
            (RunKind::Alnum, Stream::Pinyin) => {}
            (RunKind::Alnum, Stream::Words | Stream::Grams) => {
                if !looks_like_identifier(slice) {
                    out.push(piece(&folded, slice.iter().collect(), run.start, run.end));
                }
            }
            (RunKind::Han, Stream::Words) => {
                let sentence: String = slice.iter().collect();
                for token in JIEBA.cut_for_search(&sentence, false) {
                    out.push(piece(
                        &folded,
                        token.word.to_owned(),
                        run.start + token.start,
                        run.start + token.end,
                    ));
                }
            }
            (RunKind::Han, Stream::Grams) => {
                for i in 0..slice.len() {
                    let at = run.start + i;
                    out.push(piece(&folded, slice[i].to_string(), at, at + 1));
                    if i + 1 < slice.len() {
                        out.push(piece(&folded, slice[i..i + 2].iter().collect(), at, at + 2));
                    }
                }
            }
            (RunKind::Han, Stream::Pinyin) => {
                let all: Vec<Vec<&str>> = slice.iter().map(|c| readings(*c)).collect();
                for i in 0..slice.len().saturating_sub(1) {
                    let at = run.start + i;
                    let pairs = all[i]
                        .iter()
                        .flat_map(|a| all[i + 1].iter().map(move |b| format!("{a}{b}")))
                        .take(MAX_READING_PAIRS);
                    for pair in pairs {
                        out.push(piece(&folded, pair, at, at + 2));
                    }
                }
            }
        }
    }
    out.sort_by_key(|p| p.position);
    out
}

/// The jieba words of a stretch of han characters in a query, in order.
pub(crate) fn query_words(text: &str) -> Vec<String> {
    JIEBA
        .cut(text, false)
        .into_iter()
        .map(|token| token.word.to_owned())
        .collect()
}

/// What one query form (a word, or a synonym of it) looks for in each stream: terms with their positions
/// relative to the form's first character. A form whose terms are several is matched as a phrase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormTerms {
    pub words: Vec<(usize, String)>,
    pub grams: Vec<(usize, String)>,
    /// Empty unless the form is two or more han characters and nothing else.
    pub pinyin: Vec<(usize, String)>,
    /// The most common reading of each character of the form, when `pinyin` is not empty.
    pub syllables: Vec<String>,
    /// The form's runs of letters and digits, for exact fields such as the case code.
    pub codes: Vec<String>,
}

/// The terms a folded query form looks for.
pub fn form_terms(form: &str) -> FormTerms {
    let chars: Vec<char> = form.chars().collect();
    let runs = runs(&chars);
    let Some(first) = runs.first().map(|r| r.start) else {
        return FormTerms::default();
    };
    let mut out = FormTerms::default();
    for run in &runs {
        let slice = &chars[run.start..run.end];
        let at = run.start - first;
        match run.kind {
            RunKind::Alnum => {
                let token: String = slice.iter().collect();
                out.words.push((at, token.clone()));
                out.grams.push((at, token.clone()));
                out.codes.push(token);
            }
            RunKind::Han => {
                let sentence: String = slice.iter().collect();
                for token in JIEBA.cut(&sentence, false) {
                    out.words.push((at + token.start, token.word.to_owned()));
                }
                if slice.len() == 1 {
                    out.grams.push((at, slice[0].to_string()));
                }
                for i in 0..slice.len().saturating_sub(1) {
                    out.grams.push((at + i, slice[i..i + 2].iter().collect()));
                }
            }
        }
    }
    if let [only] = runs.as_slice()
        && only.kind == RunKind::Han
        && only.end - only.start >= 2
    {
        let sounds: Option<Vec<&str>> = chars[only.start..only.end]
            .iter()
            .map(|c| reading(*c))
            .collect();
        if let Some(sounds) = sounds {
            out.syllables = sounds.iter().map(|s| (*s).to_owned()).collect();
            out.pinyin = sounds
                .windows(2)
                .enumerate()
                .map(|(i, pair)| (i, format!("{}{}", pair[0], pair[1])))
                .collect();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pieces: &[Piece]) -> Vec<&str> {
        pieces.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn words_come_from_jieba_and_point_into_the_original() {
        let original = "柳樹村宅基地糾紛";
        let words = analyze(original, Stream::Words);
        assert!(texts(&words).contains(&"宅基地"), "{words:?}");
        assert!(texts(&words).contains(&"纠纷"), "{words:?}");
        let dispute = words.iter().find(|p| p.text == "纠纷").unwrap();
        assert_eq!(&original[dispute.from..dispute.to], "糾紛");
    }

    #[test]
    fn grams_are_characters_and_pairs() {
        let grams = analyze("宅基地", Stream::Grams);
        assert_eq!(texts(&grams), ["宅", "宅基", "基", "基地", "地"]);
        assert_eq!(
            grams.iter().map(|p| p.position).collect::<Vec<_>>(),
            [0, 0, 1, 1, 2]
        );
    }

    #[test]
    fn identifiers_in_free_text_are_not_tokens() {
        let words = analyze(
            "申请人电话13812345678，身份证62052119800101123X，欠款3.5万",
            Stream::Words,
        );
        let found = texts(&words);
        assert!(!found.iter().any(|t| t.contains("1381234")), "{found:?}");
        assert!(!found.iter().any(|t| t.contains("19800101")), "{found:?}");
        assert!(found.contains(&"3.5"), "{found:?}");
        assert!(found.contains(&"欠款"), "{found:?}");
    }

    #[test]
    fn homophones_share_their_pinyin_pairs() {
        let typed = form_terms("争收");
        let indexed = analyze("房屋征收补偿", Stream::Pinyin);
        assert_eq!(typed.pinyin, [(0, "zhengshou".to_owned())]);
        assert!(texts(&indexed).contains(&"zhengshou"), "{indexed:?}");
        assert_eq!(form_terms("善养").pinyin, form_terms("赡养").pinyin);
    }

    #[test]
    fn a_form_of_mixed_runs_keeps_relative_positions() {
        let terms = form_terms("3号楼");
        assert_eq!(terms.grams, [(0, "3".to_owned()), (1, "号楼".to_owned())]);
        assert!(terms.pinyin.is_empty());
        assert_eq!(terms.codes, ["3"]);
    }
}
