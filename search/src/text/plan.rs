//! A query as concepts: what the user typed, cut into the things they look for, each with the forms that
//! count as finding it. Adapters turn a plan into their own query language; the plan is theirs to share.

use super::analyze::{FormTerms, form_terms};
use super::fold::{fold, is_han};
use super::synonyms::Synonyms;

/// Words that carry no meaning in a query on their own.
const STOP_WORDS: &[&str] = &[
    "的", "了", "和", "与", "及", "或", "在", "是", "有", "被", "把", "等", "对", "向", "为",
    "关于", "问题", "情况", "请问", "查询", "查找", "查", "找", "一下", "相关", "有关", "事情",
    "事",
];

/// Stretches of han characters up to this length are looked for whole.
const WHOLE_STRETCH: usize = 3;

/// Stretches mixing letters, digits and han characters up to this length are looked for whole (3号楼).
const WHOLE_MIXED: usize = 5;

/// One way of writing what the user looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// Folded.
    pub text: String,
    /// A synonym of what was typed, not what was typed.
    pub synonym: bool,
    pub terms: FormTerms,
}

/// One thing the user looks for: the form typed first, then its synonyms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concept {
    pub forms: Vec<Form>,
}

impl Concept {
    fn new(typed: &str, synonyms: &[String]) -> Concept {
        let mut forms = vec![Form {
            text: typed.to_owned(),
            synonym: false,
            terms: form_terms(typed),
        }];
        for other in synonyms.iter().filter(|s| s.as_str() != typed) {
            forms.push(Form {
                text: other.clone(),
                synonym: true,
                terms: form_terms(other),
            });
        }
        Concept { forms }
    }

    /// What was typed, folded.
    pub fn typed(&self) -> &str {
        self.forms
            .first()
            .map(|f| f.text.as_str())
            .unwrap_or_default()
    }
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryPlan {
    pub concepts: Vec<Concept>,
}

fn is_word_char(c: char) -> bool {
    is_han(c) || c.is_alphanumeric() || matches!(c, '-' | '.' | '_')
}

impl QueryPlan {
    /// Parses free text with the built-in synonyms.
    pub fn parse(text: &str) -> QueryPlan {
        QueryPlan::parse_with(text, Synonyms::built_in())
    }

    pub fn parse_with(text: &str, synonyms: &Synonyms) -> QueryPlan {
        let folded = fold(text);
        let chars = folded.chars();
        let mut plan = QueryPlan::default();
        let mut i = 0;
        while i < chars.len() {
            if !is_word_char(chars[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            plan.add_segment(&chars[start..i], synonyms);
        }
        // A word typed twice is one concept, wherever the repeat is.
        let mut seen = std::collections::HashSet::new();
        plan.concepts.retain(|c| seen.insert(c.typed().to_owned()));
        plan
    }

    fn add_segment(&mut self, segment: &[char], synonyms: &Synonyms) {
        let mut at = 0;
        for found in synonyms.find(segment) {
            self.add_stretch(&segment[at..found.start]);
            let typed: String = segment[found.start..found.end].iter().collect();
            self.concepts
                .push(Concept::new(&typed, synonyms.group(found.group)));
            at = found.end;
        }
        self.add_stretch(&segment[at..]);
    }

    fn add_stretch(&mut self, stretch: &[char]) {
        let stretch = trim_connectors(stretch);
        if stretch.is_empty() {
            return;
        }
        let text: String = stretch.iter().collect();
        let all_han = stretch.iter().all(|c| is_han(*c));
        if STOP_WORDS.contains(&text.as_str()) {
            return;
        }
        if all_han && stretch.len() <= WHOLE_STRETCH {
            // Whole, but without a particle jieba cuts off at either end (咬了 → 咬).
            let words = super::analyze::query_words(&text);
            let meaningful = |w: &&String| !STOP_WORDS.contains(&w.as_str());
            let first = words.iter().position(|w| meaningful(&w));
            let last = words.iter().rposition(|w| meaningful(&w));
            if let (Some(first), Some(last)) = (first, last) {
                self.concepts
                    .push(Concept::new(&words[first..=last].concat(), &[]));
            }
            return;
        }
        if !all_han && stretch.len() <= WHOLE_MIXED {
            self.concepts.push(Concept::new(&text, &[]));
            return;
        }
        if !all_han {
            let mut start = 0;
            while start < stretch.len() {
                let han = is_han(stretch[start]);
                let mut end = start + 1;
                while end < stretch.len() && is_han(stretch[end]) == han {
                    end += 1;
                }
                if han {
                    self.add_stretch(&stretch[start..end]);
                } else {
                    let run: String = stretch[start..end].iter().collect();
                    self.concepts.push(Concept::new(&run, &[]));
                }
                start = end;
            }
            return;
        }
        for word in han_words(&text) {
            self.concepts.push(Concept::new(&word, &[]));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    /// How many concepts a document must match: all of them in a short query, all but one in a long one
    /// (where one word the case does not use should not hide it).
    pub fn required(&self) -> usize {
        match self.concepts.len() {
            n @ 0..=2 => n,
            n => n - 1,
        }
    }
}

fn trim_connectors(mut s: &[char]) -> &[char] {
    while let [first, rest @ ..] = s
        && matches!(first, '-' | '.' | '_')
    {
        s = rest;
    }
    while let [rest @ .., last] = s
        && matches!(last, '-' | '.' | '_')
    {
        s = rest;
    }
    s
}

/// Cuts a long stretch of han characters into the words to look for: jieba words without stop words, where
/// runs of single characters (a name, a typo jieba does not know) stay together and a lone character
/// joins the word before it (柳树 + 村).
fn han_words(text: &str) -> Vec<String> {
    let tokens = super::analyze::query_words(text);
    let mut out: Vec<String> = Vec::new();
    let mut last_was_single = false;
    let mut joinable = false;
    for token in tokens {
        if STOP_WORDS.contains(&token.as_str()) {
            last_was_single = false;
            joinable = false;
            continue;
        }
        let single = token.chars().count() == 1;
        match out.last_mut() {
            Some(previous) if single && (last_was_single || joinable) => {
                previous.push_str(&token);
                joinable = false;
            }
            _ => {
                out.push(token);
                joinable = !single;
            }
        }
        last_was_single = single;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(plan: &QueryPlan) -> Vec<&str> {
        plan.concepts.iter().map(Concept::typed).collect()
    }

    #[test]
    fn short_queries_are_one_concept_with_their_synonyms() {
        let plan = QueryPlan::parse("打架");
        assert_eq!(typed(&plan), ["打架"]);
        let forms: Vec<&str> = plan.concepts[0]
            .forms
            .iter()
            .map(|f| f.text.as_str())
            .collect();
        assert!(forms.contains(&"斗殴"), "{forms:?}");
        assert!(!plan.concepts[0].forms[0].synonym && plan.concepts[0].forms[1].synonym);
        assert_eq!(typed(&QueryPlan::parse("争收")), ["争收"]);
    }

    #[test]
    fn long_queries_are_cut_into_words_and_synonyms() {
        let plan = QueryPlan::parse("柳樹村的宅基地糾紛");
        assert_eq!(typed(&plan), ["柳树村", "宅基地", "纠纷"]);
        assert_eq!(plan.required(), 2);
        let plan = QueryPlan::parse("3号楼 漏水");
        assert_eq!(typed(&plan), ["3号楼", "漏水"]);
        assert_eq!(plan.required(), 2);
        let plan = QueryPlan::parse("623024-20261123-00017 柳树村村委会2024年补偿款");
        assert_eq!(
            typed(&plan),
            [
                "623024-20261123-00017",
                "柳树村",
                "村委会",
                "2024年",
                "补偿款"
            ]
        );
    }

    #[test]
    fn particles_at_the_ends_of_a_short_stretch_are_dropped() {
        assert_eq!(typed(&QueryPlan::parse("被狗咬了")), ["狗", "咬"]);
        assert_eq!(typed(&QueryPlan::parse("目的")), ["目的"]);
    }

    #[test]
    fn a_repeated_word_is_one_concept() {
        assert_eq!(
            typed(&QueryPlan::parse("宅基地 纠纷 宅基地")),
            ["宅基地", "纠纷"]
        );
    }

    #[test]
    fn stop_words_alone_make_no_concept() {
        assert!(QueryPlan::parse("的 。 ").is_empty());
        assert!(QueryPlan::parse("   ").is_empty());
    }
}
