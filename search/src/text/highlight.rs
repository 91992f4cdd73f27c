//! Highlights: where a query's forms occur in a stored text, marked in what the user wrote (traditional
//! characters and full-width digits included), cut to a snippet around the first mark.
//!
//! Every adapter highlights with this code, so the same query marks the same characters whatever engine
//! answered it: literal forms and synonyms where they occur, and words that sound like a typed form.

use super::analyze::{reading, readings};
use super::fold::{fold, is_han};
use super::plan::QueryPlan;

/// A piece of a stored text with the byte ranges that matched the query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    /// Byte ranges into `text`, in order, not overlapping.
    pub marks: Vec<(usize, usize)>,
}

impl Snippet {
    /// The matched pieces of text.
    pub fn marked(&self) -> Vec<&str> {
        self.marks
            .iter()
            .map(|(from, to)| &self.text[*from..*to])
            .collect()
    }

    /// The snippet as HTML: the text escaped, each mark in `<em>`.
    pub fn to_html(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + self.marks.len() * 9);
        let mut at = 0;
        for (from, to) in &self.marks {
            escape_into(&mut out, &self.text[at..*from]);
            out.push_str("<em>");
            escape_into(&mut out, &self.text[*from..*to]);
            out.push_str("</em>");
            at = *to;
        }
        escape_into(&mut out, &self.text[at..]);
        out
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

const ELLIPSIS: &str = "…";

fn is_alnum(c: char) -> bool {
    c.is_alphanumeric() && !is_han(c)
}

/// Marks, as folded character ranges, every occurrence of the plan's forms in `chars`.
fn find_marks(chars: &[char], plan: &QueryPlan) -> Vec<(usize, usize)> {
    let mut marks = Vec::new();
    let mut sounds_of_text: Option<Vec<Vec<&'static str>>> = None;
    for form in plan.concepts.iter().flat_map(|c| c.forms.iter()) {
        let needle: Vec<char> = form.text.chars().collect();
        if needle.is_empty() || needle.len() > chars.len() {
            continue;
        }
        let bounded = needle.iter().any(|c| is_alnum(*c));
        for i in 0..=chars.len() - needle.len() {
            let end = i + needle.len();
            if chars[i..end] != needle[..] {
                continue;
            }
            let clear = |at: Option<&char>| at.is_none_or(|c| !is_alnum(*c));
            if bounded
                && !(clear(i.checked_sub(1).and_then(|j| chars.get(j))) && clear(chars.get(end)))
            {
                continue;
            }
            marks.push((i, end));
        }
        if form.synonym || form.terms.pinyin.is_empty() {
            continue;
        }
        let Some(wanted) = needle
            .iter()
            .map(|c| reading(*c))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let sounds = sounds_of_text.get_or_insert_with(|| {
            chars
                .iter()
                .map(|c| if is_han(*c) { readings(*c) } else { Vec::new() })
                .collect()
        });
        for i in 0..=chars.len() - needle.len() {
            if wanted
                .iter()
                .enumerate()
                .all(|(j, want)| sounds[i + j].contains(want))
            {
                marks.push((i, i + needle.len()));
            }
        }
    }
    marks.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(marks.len());
    for (from, to) in marks {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// Highlights a stored text: the whole text when it has at most `max_chars` characters, else a window of
/// `max_chars` characters around the first mark (or the start), with ellipses where it was cut.
pub fn highlight(original: &str, plan: &QueryPlan, max_chars: usize) -> Snippet {
    let folded = fold(original);
    let chars = folded.chars();
    let marks = find_marks(chars, plan);
    let len = chars.len();
    let (start, end) = if len <= max_chars {
        (0, len)
    } else {
        let first = marks.first().map_or(0, |m| m.0);
        let start = first.saturating_sub(max_chars / 4).min(len - max_chars);
        (start, start + max_chars)
    };
    let (byte_start, byte_end) = folded.source(start, end);
    let mut text = String::with_capacity(byte_end - byte_start + 2 * ELLIPSIS.len());
    if start > 0 {
        text.push_str(ELLIPSIS);
    }
    let shift = text.len();
    text.push_str(&original[byte_start..byte_end]);
    if end < len {
        text.push_str(ELLIPSIS);
    }
    let marks = marks
        .into_iter()
        .filter(|(from, to)| *from >= start && *to <= end)
        .map(|(from, to)| {
            let (a, b) = folded.source(from, to);
            (a - byte_start + shift, b - byte_start + shift)
        })
        .collect();
    Snippet { text, marks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_literal_forms_synonyms_and_sound_alikes_in_the_original() {
        let plan = QueryPlan::parse("斗殴");
        let snippet = highlight("两户村民因琐事打架，一人受伤", &plan, 100);
        assert_eq!(snippet.marked(), ["打架"]);

        let plan = QueryPlan::parse("争收");
        let snippet = highlight("對房屋徵收補償不滿", &plan, 100);
        assert_eq!(snippet.marked(), ["徵收"]);

        let plan = QueryPlan::parse("宅基地");
        let snippet = highlight("柳樹村<宅基地>糾紛", &plan, 100);
        assert_eq!(snippet.to_html(), "柳樹村&lt;<em>宅基地</em>&gt;糾紛");
    }

    #[test]
    fn long_texts_are_cut_around_the_first_mark() {
        let text = format!("{}彩礼{}", "前".repeat(100), "后".repeat(100));
        let snippet = highlight(&text, &QueryPlan::parse("聘礼"), 40);
        assert!(snippet.text.starts_with(ELLIPSIS) && snippet.text.ends_with(ELLIPSIS));
        assert_eq!(snippet.marked(), ["彩礼"]);
        assert_eq!(snippet.text.chars().count(), 42);
    }

    #[test]
    fn digits_are_marked_only_as_whole_runs() {
        let snippet = highlight("3号楼与13号楼", &QueryPlan::parse("3号楼"), 100);
        assert_eq!(snippet.marks.len(), 1);
        assert_eq!(snippet.marked(), ["3号楼"]);
    }
}
