//! The domain synonym list, kept as data in `synonyms.txt` next to this crate's manifest.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::fold::fold_str;

/// The list compiled into the binary.
pub const SYNONYMS_TXT: &str = include_str!("../../synonyms.txt");

static BUILT_IN: LazyLock<Synonyms> = LazyLock::new(|| Synonyms::parse(SYNONYMS_TXT));

/// Groups of interchangeable terms, folded.
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    groups: Vec<Vec<String>>,
    by_term: HashMap<String, usize>,
    /// The longest term, in characters.
    longest: usize,
}

/// A synonym term found in a text: the characters `start..end` belong to group `group`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub group: usize,
}

impl Synonyms {
    /// The list that ships with the crate.
    pub fn built_in() -> &'static Synonyms {
        &BUILT_IN
    }

    /// Parses the text format: a group a line, terms separated by white space, `#` starting a comment.
    /// A term already in an earlier group stays there.
    pub fn parse(text: &str) -> Synonyms {
        let mut out = Synonyms::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut group = Vec::new();
            for term in line.split_whitespace().map(fold_str) {
                if !out.by_term.contains_key(&term) && !group.contains(&term) {
                    group.push(term);
                }
            }
            if group.len() < 2 {
                continue;
            }
            let index = out.groups.len();
            for term in &group {
                out.longest = out.longest.max(term.chars().count());
                out.by_term.insert(term.clone(), index);
            }
            out.groups.push(group);
        }
        out
    }

    pub fn groups(&self) -> &[Vec<String>] {
        &self.groups
    }

    pub fn group(&self, index: usize) -> &[String] {
        self.groups
            .get(index)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The group of a folded term, if it is in one.
    pub fn group_of(&self, term: &str) -> Option<usize> {
        self.by_term.get(term).copied()
    }

    /// The terms in a folded text, longest first at each place, left to right, not overlapping.
    pub fn find(&self, chars: &[char]) -> Vec<Found> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let mut hit = None;
            for len in (1..=self.longest.min(chars.len() - i)).rev() {
                let candidate: String = chars[i..i + len].iter().collect();
                if let Some(group) = self.group_of(&candidate) {
                    hit = Some(Found {
                        start: i,
                        end: i + len,
                        group,
                    });
                    break;
                }
            }
            match hit {
                Some(found) => {
                    out.push(found);
                    i = found.end;
                }
                None => i += 1,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_shipped_list_is_well_formed() {
        let list = Synonyms::built_in();
        assert!(list.groups().len() >= 35, "{} groups", list.groups().len());
        let mut seen = HashSet::new();
        for line in SYNONYMS_TXT.lines() {
            let line = line.split('#').next().unwrap_or_default();
            for term in line.split_whitespace() {
                assert!(seen.insert(term.to_owned()), "{term} is in two groups");
                assert_eq!(fold_str(term), term, "{term} is not written folded");
            }
        }
        for (a, b) in [
            ("打架", "斗殴"),
            ("彩礼", "聘礼"),
            ("欠款", "拖欠货款"),
            ("工资", "薪水"),
        ] {
            assert_eq!(list.group_of(a), list.group_of(b));
            assert!(list.group_of(a).is_some());
        }
    }

    #[test]
    fn finds_the_longest_term_first() {
        let list = Synonyms::parse("土地 田地\n征地 土地征收\n");
        let chars: Vec<char> = "反映土地征收补偿问题".chars().collect();
        let found = list.find(&chars);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].start, found[0].end), (2, 6));
        assert_eq!(list.group(found[0].group), ["征地", "土地征收"]);
    }
}
