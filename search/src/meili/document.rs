//! A case as a Meilisearch document: the stored fields (shown, filtered, sorted), the match keys the
//! adapter filters on, and the ranking fields Meilisearch scores.
//!
//! Han text is never given to Meilisearch's own tokenizer: every derived token is spelled in ASCII
//! letters, so what matches is decided here, by the shared `text` module, and not by the engine's
//! segmentation of Chinese.

use std::collections::BTreeSet;

use fengqiao_domain::TenantLevel;
use serde_json::{Map, Value, json};

use crate::doc::CaseDoc;
use crate::text::{Stream, analyze, fold_str, is_han, readings};

/// Han substrings up to this many characters are match keys; a longer form matches through all of its
/// windows of this length.
pub(super) const KEY_CHARS: usize = 3;

/// Letters spelling the hex digits of a code point. All consonants, so that no spelled token is a word of
/// any language the engine might treat specially, and none is a pinyin syllable.
const ALPHABET: &[u8; 16] = b"bcdfghjklmnpqrst";

/// The first letter of a spelled run of letters and digits (not in `ALPHABET`).
const ALNUM_MARK: char = 'w';

/// Field names.
pub(super) mod field {
    pub const ID: &str = "id";
    pub const COUNTY: &str = "county";
    pub const TOWNSHIP: &str = "township";
    pub const VILLAGE: &str = "village";
    pub const GRID: &str = "grid";
    pub const TENANT: &str = "tenant_id";
    pub const UNITS: &str = "units";
    pub const REGISTERED_BY: &str = "registered_by";
    pub const CODE: &str = "code";
    pub const TITLE: &str = "title";
    pub const DESCRIPTION: &str = "description";
    pub const PLACE: &str = "place";
    pub const ADDRESSES: &str = "addresses";
    pub const PARTY_NAMES: &str = "party_names";
    pub const ID_CARD_HASHES: &str = "id_card_hashes";
    pub const PHONE_HASHES: &str = "phone_hashes";
    pub const STATUS: &str = "status";
    pub const KIND: &str = "kind";
    pub const CATEGORY: &str = "category";
    pub const TIER: &str = "tier";
    pub const RISK: &str = "risk";
    /// Microseconds since the Unix epoch (exact in a JSON number until the year 2255).
    pub const REGISTERED_AT: &str = "registered_at";
    pub const OVERDUE: &str = "overdue";
    /// `CaseDoc::digest`, as a decimal string (a u64 is not exact in a JSON number).
    pub const DIGEST: &str = "digest";
    /// The match keys.
    pub const KEYS: &str = "match_keys";
    /// Ranking fields, in the order of their importance.
    pub const RANK_CODE: &str = "rank_code";
    pub const RANK_TITLE: &str = "rank_title";
    pub const RANK_NAMES: &str = "rank_names";
    pub const RANK_PLACE: &str = "rank_place";
    pub const RANK_LABELS: &str = "rank_labels";
    pub const RANK_DESCRIPTION: &str = "rank_description";
    pub const RANK_CHARS: &str = "rank_chars";
    pub const RANK_PINYIN: &str = "rank_pinyin";
    /// `ANY_WORD`, in every document.
    pub const RANK_ANY: &str = "rank_any";
}

/// The word every document has: a query for it scores every matched document alike, ranking them by date.
/// Not a spelled word (no `z` in `ALPHABET`) nor a pinyin syllable.
pub(super) const ANY_WORD: &str = "zzzz";

/// The ranking fields holding spelled character pairs, single characters and runs of letters and digits.
pub(super) const GRAM_FIELDS: [&str; 7] = [
    field::RANK_CODE,
    field::RANK_TITLE,
    field::RANK_NAMES,
    field::RANK_PLACE,
    field::RANK_LABELS,
    field::RANK_DESCRIPTION,
    field::RANK_CHARS,
];

/// The ranking field holding pinyin pairs.
pub(super) const PINYIN_FIELDS: [&str; 1] = [field::RANK_PINYIN];

/// The ranking field every document matches.
pub(super) const ANY_FIELDS: [&str; 1] = [field::RANK_ANY];

/// The field holding the tenant id of a level.
pub(super) const fn level_field(level: TenantLevel) -> &'static str {
    match level {
        TenantLevel::County => field::COUNTY,
        TenantLevel::Township => field::TOWNSHIP,
        TenantLevel::Village => field::VILLAGE,
        TenantLevel::Grid => field::GRID,
    }
}

fn spell_char(out: &mut String, c: char) {
    let value = c as u32;
    for shift in [16, 12, 8, 4, 0] {
        out.push(char::from(ALPHABET[((value >> shift) & 0xF) as usize]));
    }
}

/// A gram (a han character or pair, or a run of letters and digits) as one ASCII word.
pub(super) fn spell(gram: &str) -> String {
    let mut out = String::with_capacity(gram.len() * 2 + 1);
    if !gram.chars().next().is_some_and(is_han) {
        out.push(ALNUM_MARK);
    }
    for c in gram.chars() {
        spell_char(&mut out, c);
    }
    out
}

/// A gram of a sequence: where it starts, where it ends (in folded characters) and whether it is a pair.
struct Placed<'a> {
    start: usize,
    end: usize,
    pair: bool,
    text: &'a str,
}

fn place(position: usize, text: &str) -> Placed<'_> {
    let chars = text.chars().count();
    let han = text.chars().next().is_some_and(is_han);
    Placed {
        start: position,
        end: position + chars,
        pair: han && chars == 2,
        text,
    }
}

/// Spells grams, in order of position, as the words of a ranking field or of a query phrase. Overlapping
/// pairs (宅基, 基地) and grams that touch (3, 号楼) follow each other as words; a gap becomes a hard
/// separator, so that a phrase never matches across one.
pub(super) fn spelled_sequence<'a>(grams: impl IntoIterator<Item = (usize, &'a str)>) -> String {
    let mut out = String::new();
    let mut previous: Option<Placed<'a>> = None;
    for (position, text) in grams {
        let gram = place(position, text);
        if let Some(before) = &previous {
            let follows = gram.start == before.end
                || (before.pair && gram.pair && gram.start == before.start + 1);
            out.push_str(if follows { " " } else { " . " });
        }
        out.push_str(&spell(gram.text));
        previous = Some(gram);
    }
    out
}

/// A run of folded characters of an indexed text: han characters, or one run of letters and digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Run {
    pub start: usize,
    pub text: String,
    pub han: bool,
}

impl Run {
    fn end(&self) -> usize {
        self.start + self.text.chars().count()
    }
}

/// The runs of a text, as the grams stream sees it (runs of letters and digits that look like personal
/// identifiers are not there).
fn runs_of(text: &str) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for piece in analyze(text, Stream::Grams) {
        let mut chars = piece.text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if is_han(c) => match out.last_mut() {
                Some(run) if run.han && run.end() == piece.position => run.text.push(c),
                _ => out.push(Run {
                    start: piece.position,
                    text: c.to_string(),
                    han: true,
                }),
            },
            // Pairs repeat the single characters.
            (Some(c), _) if is_han(c) => {}
            _ => out.push(Run {
                start: piece.position,
                text: piece.text,
                han: false,
            }),
        }
    }
    out
}

/// The runs of a query form, from its grams (runs of one han character, pairs, and runs of letters and
/// digits, identifiers included).
pub(super) fn runs_of_grams(grams: &[(usize, String)]) -> Vec<Run> {
    let mut sorted: Vec<&(usize, String)> = grams.iter().collect();
    sorted.sort_by_key(|(position, _)| *position);
    let mut out: Vec<Run> = Vec::new();
    for (position, text) in sorted {
        let gram = place(*position, text);
        if !text.chars().next().is_some_and(is_han) {
            out.push(Run {
                start: gram.start,
                text: text.clone(),
                han: false,
            });
            continue;
        }
        match out.last_mut() {
            Some(run) if gram.pair && run.han && run.end() == gram.start + 1 => {
                run.text.extend(text.chars().skip(1));
            }
            _ => out.push(Run {
                start: gram.start,
                text: text.clone(),
                han: true,
            }),
        }
    }
    out
}

/// The match keys of runs: every han substring of up to `KEY_CHARS` characters, every run of letters and
/// digits, and where a run of letters and digits touches han characters, the pair of them.
pub(super) fn run_keys(runs: &[Run], out: &mut BTreeSet<String>) {
    for run in runs {
        if run.han {
            let chars: Vec<char> = run.text.chars().collect();
            for len in 1..=KEY_CHARS.min(chars.len()) {
                for window in chars.windows(len) {
                    out.insert(han_key(window));
                }
            }
        } else {
            out.insert(alnum_key(&run.text));
        }
    }
    for pair in runs.windows(2) {
        let (left, right) = (&pair[0], &pair[1]);
        if left.han != right.han && left.end() == right.start {
            out.insert(junction_key(left, right));
        }
    }
}

pub(super) fn han_key(chars: &[char]) -> String {
    let mut key = String::with_capacity(chars.len() * 3 + 1);
    key.push('h');
    key.extend(chars);
    key
}

pub(super) fn alnum_key(run: &str) -> String {
    format!("a{run}")
}

pub(super) fn pinyin_key(pair: &str) -> String {
    format!("y{pair}")
}

/// The key of the readings of three adjacent han characters.
pub(super) fn pinyin_triple_key(syllables: [&str; 3]) -> String {
    format!("s{}-{}-{}", syllables[0], syllables[1], syllables[2])
}

/// Readings of three characters kept per window, at most (polyphonic characters multiply them).
const MAX_READING_TRIPLES: usize = 8;

/// The pinyin triple keys of runs: the readings (every reading of a polyphonic character) of every three
/// adjacent han characters. A typed form of three or more characters is found by its sound through these,
/// so that its syllables must follow each other as they do in the embedded index's pinyin phrase: 王建国
/// by sound is not 王建华 in one party's name and 张建国 in another's.
pub(super) fn pinyin_triple_keys(runs: &[Run], out: &mut BTreeSet<String>) {
    for run in runs.iter().filter(|r| r.han) {
        let all: Vec<Vec<&str>> = run.text.chars().map(readings).collect();
        for window in all.windows(3) {
            let triples = window[0]
                .iter()
                .flat_map(|a| {
                    window[1]
                        .iter()
                        .flat_map(move |b| window[2].iter().map(move |c| [*a, *b, *c]))
                })
                .take(MAX_READING_TRIPLES);
            for triple in triples {
                out.insert(pinyin_triple_key(triple));
            }
        }
    }
}

pub(super) fn code_key(code: &str) -> String {
    format!("c{code}")
}

pub(super) fn code_parts_key(parts: &[&str]) -> String {
    format!("p{}", parts.join("-"))
}

/// The key of a han run and a run of letters and digits that touch: the han character next to the other
/// run, and the whole other run.
pub(super) fn junction_key(left: &Run, right: &Run) -> String {
    let left_side = if left.han {
        left.text
            .chars()
            .last()
            .map(String::from)
            .unwrap_or_default()
    } else {
        left.text.clone()
    };
    let right_side = if right.han {
        right
            .text
            .chars()
            .next()
            .map(String::from)
            .unwrap_or_default()
    } else {
        right.text.clone()
    };
    format!("j{left_side}|{right_side}")
}

/// The parts of a case code: its runs of letters and digits.
pub(super) fn code_parts(code: &str) -> Vec<&str> {
    code.split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect()
}

/// The ranking words of a text: spelled pairs (a run of one character alone) and runs of letters and
/// digits.
fn gram_words(text: &str) -> String {
    let pieces = analyze(text, Stream::Grams);
    let pairs: BTreeSet<usize> = pieces
        .iter()
        .filter(|p| p.text.chars().count() == 2 && p.text.chars().next().is_some_and(is_han))
        .map(|p| p.position)
        .collect();
    let kept = pieces.iter().filter(|p| {
        let mut chars = p.text.chars();
        match (chars.next(), chars.next()) {
            // A single han character stands for itself only where it is a run of its own.
            (Some(c), None) if is_han(c) => {
                !pairs.contains(&p.position)
                    && !p
                        .position
                        .checked_sub(1)
                        .is_some_and(|q| pairs.contains(&q))
            }
            _ => true,
        }
    });
    spelled_sequence(kept.map(|p| (p.position, p.text.as_str())))
}

/// The spelled single han characters of a text.
fn char_words(text: &str) -> String {
    let pieces = analyze(text, Stream::Grams);
    spelled_sequence(
        pieces
            .iter()
            .filter(|p| {
                let mut chars = p.text.chars();
                matches!((chars.next(), chars.next()), (Some(c), None) if is_han(c))
            })
            .map(|p| (p.position, p.text.as_str())),
    )
}

/// The pinyin pairs of a text, every reading of a polyphonic character included.
fn pinyin_words(text: &str) -> String {
    analyze(text, Stream::Pinyin)
        .into_iter()
        .map(|p| p.text)
        .collect::<Vec<_>>()
        .join(" ")
}

fn optional(map: &mut Map<String, Value>, name: &str, value: Option<i64>) {
    if let Some(value) = value {
        map.insert(name.to_owned(), json!(value));
    }
}

/// The Meilisearch document of a case.
pub(super) fn document(doc: &CaseDoc) -> Value {
    let texts: Vec<&String> = [&doc.title, &doc.description, &doc.place]
        .into_iter()
        .chain(&doc.addresses)
        .chain(&doc.party_names)
        .collect();
    let labels = doc.labels();

    let mut keys = BTreeSet::new();
    for text in &texts {
        let runs = runs_of(text);
        run_keys(&runs, &mut keys);
        pinyin_triple_keys(&runs, &mut keys);
        for piece in analyze(text, Stream::Pinyin) {
            keys.insert(pinyin_key(&piece.text));
        }
    }
    // The kind and category labels have no keys: the filter finds them by kind and category.
    let code = fold_str(&doc.code);
    keys.insert(code_key(&code));
    let parts = code_parts(&code);
    for start in 0..parts.len() {
        for end in start + 1..=parts.len() {
            keys.insert(code_parts_key(&parts[start..end]));
        }
    }

    let places: Vec<&String> = std::iter::once(&doc.place).chain(&doc.addresses).collect();
    let mut units = doc.units.clone();
    units.sort_unstable();
    units.dedup();

    let mut map = Map::new();
    map.insert(field::ID.into(), json!(doc.id));
    map.insert(field::COUNTY.into(), json!(doc.path.county));
    optional(&mut map, field::TOWNSHIP, doc.path.township);
    optional(&mut map, field::VILLAGE, doc.path.village);
    optional(&mut map, field::GRID, doc.path.grid);
    map.insert(field::TENANT.into(), json!(doc.tenant_id));
    map.insert(field::UNITS.into(), json!(units));
    map.insert(field::REGISTERED_BY.into(), json!(doc.registered_by));
    map.insert(field::CODE.into(), json!(doc.code));
    map.insert(field::TITLE.into(), json!(doc.title));
    map.insert(field::DESCRIPTION.into(), json!(doc.description));
    map.insert(field::PLACE.into(), json!(doc.place));
    map.insert(field::ADDRESSES.into(), json!(doc.addresses));
    map.insert(field::PARTY_NAMES.into(), json!(doc.party_names));
    map.insert(field::ID_CARD_HASHES.into(), json!(doc.id_card_hashes));
    map.insert(field::PHONE_HASHES.into(), json!(doc.phone_hashes));
    map.insert(field::STATUS.into(), json!(doc.status.as_str()));
    map.insert(field::KIND.into(), json!(doc.kind.as_str()));
    map.insert(field::CATEGORY.into(), json!(doc.category.as_str()));
    map.insert(field::TIER.into(), json!(doc.tier.as_str()));
    map.insert(field::RISK.into(), json!(doc.risk.as_str()));
    map.insert(
        field::REGISTERED_AT.into(),
        json!(doc.registered_at.timestamp_micros()),
    );
    map.insert(field::OVERDUE.into(), json!(doc.overdue));
    map.insert(field::DIGEST.into(), json!(doc.digest().to_string()));
    map.insert(field::KEYS.into(), json!(keys));
    map.insert(
        field::RANK_CODE.into(),
        json!([
            spell(&code),
            parts.iter().map(|p| spell(p)).collect::<Vec<_>>().join(" ")
        ]),
    );
    map.insert(field::RANK_TITLE.into(), json!(gram_words(&doc.title)));
    map.insert(
        field::RANK_NAMES.into(),
        json!(
            doc.party_names
                .iter()
                .map(|n| gram_words(n))
                .collect::<Vec<_>>()
        ),
    );
    map.insert(
        field::RANK_PLACE.into(),
        json!(places.iter().map(|p| gram_words(p)).collect::<Vec<_>>()),
    );
    map.insert(
        field::RANK_LABELS.into(),
        json!(labels.iter().map(|l| gram_words(l)).collect::<Vec<_>>()),
    );
    map.insert(
        field::RANK_DESCRIPTION.into(),
        json!(gram_words(&doc.description)),
    );
    map.insert(
        field::RANK_CHARS.into(),
        json!(texts.iter().map(|t| char_words(t)).collect::<Vec<_>>()),
    );
    map.insert(
        field::RANK_PINYIN.into(),
        json!(texts.iter().map(|t| pinyin_words(t)).collect::<Vec<_>>()),
    );
    map.insert(field::RANK_ANY.into(), json!(ANY_WORD));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::form_terms;

    #[test]
    fn spelled_words_are_ascii_consonants() {
        let word = spell("宅基");
        assert_eq!(word.len(), 10);
        assert!(word.bytes().all(|b| ALPHABET.contains(&b)), "{word}");
        assert!(spell("3").starts_with(ALNUM_MARK));
    }

    #[test]
    fn a_form_spells_as_the_words_of_the_text_that_holds_it() {
        let text = gram_words("３号楼楼顶漏水，宅基地");
        for form in ["3号楼", "宅基地", "漏水"] {
            let terms = form_terms(form);
            let phrase = spelled_sequence(terms.grams.iter().map(|(p, t)| (*p, t.as_str())));
            assert!(text.contains(&phrase), "{form}: {phrase} in {text}");
        }
        assert!(text.contains(" . "), "a gap is a hard separator: {text}");
    }

    #[test]
    fn keys_of_a_form_are_keys_of_a_text_that_holds_it() {
        let mut indexed = BTreeSet::new();
        run_keys(&runs_of("柳树村三组12号，欠款3.5万"), &mut indexed);
        for form in ["柳树村", "树村三组", "12号", "3.5万", "欠款"] {
            let mut wanted = BTreeSet::new();
            let runs = runs_of_grams(&form_terms(form).grams);
            for run in &runs {
                if run.han {
                    let chars: Vec<char> = run.text.chars().collect();
                    for window in chars.windows(KEY_CHARS.min(chars.len())) {
                        wanted.insert(han_key(window));
                    }
                } else {
                    wanted.insert(alnum_key(&run.text));
                }
            }
            for pair in runs.windows(2) {
                if pair[0].han != pair[1].han && pair[0].end() == pair[1].start {
                    wanted.insert(junction_key(&pair[0], &pair[1]));
                }
            }
            assert!(wanted.is_subset(&indexed), "{form}: {wanted:?}");
        }
        assert!(!indexed.contains(&alnum_key("2")), "runs are whole");
    }

    #[test]
    fn identifiers_in_text_make_no_keys() {
        let mut keys = BTreeSet::new();
        run_keys(&runs_of("电话13812345678"), &mut keys);
        assert!(keys.iter().all(|k| !k.contains("1381")), "{keys:?}");
    }
}
