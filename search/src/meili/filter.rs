//! Meilisearch filter expressions: the scope, the filters, the identifier hashes, and what a query plan
//! matches, as match keys.

use std::collections::BTreeSet;

use std::sync::LazyLock;

use fengqiao_domain::{CaseKind, Category};

use crate::doc::{category_label, kind_label};
use crate::port::Subtree;
use crate::query::{Grant, Scope, SearchQuery};
use crate::text::{Concept, Form, QueryPlan, Stream, analyze};

use super::document::{
    KEY_CHARS, Run, alnum_key, code_key, code_parts, code_parts_key, field, han_key, junction_key,
    level_field, pinyin_key, pinyin_triple_key, runs_of_grams,
};

/// A filter, kept as a tree until it is written so that constant parts fold away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expr {
    True,
    False,
    Condition(String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    pub fn all(parts: impl IntoIterator<Item = Expr>) -> Expr {
        let mut out = Vec::new();
        for part in parts {
            match part {
                Expr::True => {}
                Expr::False => return Expr::False,
                Expr::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Expr::True,
            1 => out.pop().unwrap_or(Expr::True),
            _ => Expr::And(out),
        }
    }

    pub fn any(parts: impl IntoIterator<Item = Expr>) -> Expr {
        let mut out = Vec::new();
        for part in parts {
            match part {
                Expr::False => {}
                Expr::True => return Expr::True,
                Expr::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Expr::False,
            1 => out.pop().unwrap_or(Expr::False),
            _ => Expr::Or(out),
        }
    }

    /// The filter as Meilisearch reads it. `True` is no filter; `False` asks for documents without an id.
    pub fn write(&self) -> Option<String> {
        match self {
            Expr::True => None,
            other => {
                let mut out = String::new();
                other.write_into(&mut out);
                Some(out)
            }
        }
    }

    fn write_into(&self, out: &mut String) {
        match self {
            Expr::True => out.push_str(&format!("{} EXISTS", field::ID)),
            Expr::False => out.push_str(&format!("{} NOT EXISTS", field::ID)),
            Expr::Condition(condition) => out.push_str(condition),
            Expr::And(parts) | Expr::Or(parts) => {
                let joiner = if matches!(self, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joiner);
                    }
                    let nested = matches!(part, Expr::And(_) | Expr::Or(_));
                    if nested {
                        out.push('(');
                    }
                    part.write_into(out);
                    if nested {
                        out.push(')');
                    }
                }
            }
        }
    }
}

/// A string value in a filter.
pub(super) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn equals(name: &str, value: i64) -> Expr {
    Expr::Condition(format!("{name} = {value}"))
}

fn number_in(name: &str, values: &[i64]) -> Expr {
    if values.is_empty() {
        return Expr::False;
    }
    let list: Vec<String> = values.iter().map(i64::to_string).collect();
    Expr::Condition(format!("{name} IN [{}]", list.join(", ")))
}

fn text_in<'a>(name: &str, values: impl IntoIterator<Item = &'a str>) -> Expr {
    let list: Vec<String> = values.into_iter().map(quote).collect();
    if list.is_empty() {
        return Expr::False;
    }
    Expr::Condition(format!("{name} IN [{}]", list.join(", ")))
}

fn key(value: &str) -> Expr {
    Expr::Condition(format!("{} = {}", field::KEYS, quote(value)))
}

fn grant(grant: &Grant) -> Expr {
    match grant {
        Grant::Subtree { level, tenant } => equals(level_field(*level), *tenant),
        Grant::UnitCases {
            level,
            tenant,
            units,
        } => Expr::all([
            equals(level_field(*level), *tenant),
            number_in(field::UNITS, units),
        ]),
        Grant::Reports {
            level,
            tenant,
            reporter,
        } => Expr::all([
            equals(level_field(*level), *tenant),
            equals(field::REGISTERED_BY, *reporter),
        ]),
        Grant::Cases(ids) => number_in(field::ID, ids),
    }
}

/// What a scope allows: its county, then any of its grants. Tenant and case ids are compared as numbers.
pub(super) fn scope(scope: &Scope) -> Expr {
    let county = equals(field::COUNTY, scope.county_id());
    match scope.limited_to() {
        None => county,
        Some(grants) => Expr::all([county, Expr::any(grants.iter().map(grant))]),
    }
}

/// The documents of a county or of one subtree of it.
pub(super) fn part(county: i64, within: Option<Subtree>) -> Expr {
    Expr::all([
        equals(field::COUNTY, county),
        within.map_or(Expr::True, |s| equals(level_field(s.level), s.tenant)),
    ])
}

/// The filters of a query.
fn filters(query: &SearchQuery) -> Expr {
    let f = &query.filters;
    let mut parts = Vec::new();
    let mut listed = |name: &str, values: Vec<&str>| {
        if !values.is_empty() {
            parts.push(text_in(name, values));
        }
    };
    listed(
        field::STATUS,
        f.statuses.iter().map(|s| s.as_str()).collect(),
    );
    listed(field::KIND, f.kinds.iter().map(|k| k.as_str()).collect());
    listed(
        field::CATEGORY,
        f.categories.iter().map(|c| c.as_str()).collect(),
    );
    listed(field::TIER, f.tiers.iter().map(|t| t.as_str()).collect());
    listed(field::RISK, f.risks.iter().map(|r| r.as_str()).collect());
    if let Some(from) = f.registered_from {
        parts.push(Expr::Condition(format!(
            "{} >= {}",
            field::REGISTERED_AT,
            from.timestamp_micros()
        )));
    }
    if let Some(before) = f.registered_before {
        parts.push(Expr::Condition(format!(
            "{} < {}",
            field::REGISTERED_AT,
            before.timestamp_micros()
        )));
    }
    if let Some(overdue) = f.overdue {
        parts.push(Expr::Condition(format!("{} = {overdue}", field::OVERDUE)));
    }
    Expr::all(parts)
}

/// The keys that must all be there for the text of a form to occur.
fn text_keys(runs: &[Run]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for run in runs {
        if run.han {
            let chars: Vec<char> = run.text.chars().collect();
            for window in chars.windows(KEY_CHARS.min(chars.len()).max(1)) {
                out.insert(han_key(window));
            }
        } else {
            out.insert(alnum_key(&run.text));
        }
    }
    for pair in runs.windows(2) {
        let (left, right) = (&pair[0], &pair[1]);
        if left.han != right.han && left.start + left.text.chars().count() == right.start {
            out.insert(junction_key(left, right));
        }
    }
    out
}

/// The ways one form is found, each a set of keys that must all be there: its text, or (typed forms
/// only) its sound, or (a lone code) the case code.
fn form_ways(form: &Form, out: &mut Vec<BTreeSet<String>>) {
    let terms = &form.terms;
    let runs = runs_of_grams(&terms.grams);
    if !runs.is_empty() {
        out.push(text_keys(&runs));
    }
    if !form.synonym && !terms.pinyin.is_empty() {
        // Three characters or more: by their readings three at a time, which keep the syllables in order
        // (pairs alone would let 王建 and 建国 come from different names).
        let triples: BTreeSet<String> = terms
            .syllables
            .windows(3)
            .map(|w| pinyin_triple_key([w[0].as_str(), w[1].as_str(), w[2].as_str()]))
            .collect();
        if triples.is_empty() {
            out.push(terms.pinyin.iter().map(|(_, p)| pinyin_key(p)).collect());
        } else {
            out.push(triples);
        }
    }
    if let [code] = terms.codes.as_slice()
        && terms.words.len() == 1
    {
        out.push(BTreeSet::from([code_key(code)]));
        let parts = code_parts(code);
        if !parts.is_empty() {
            out.push(BTreeSet::from([code_parts_key(&parts)]));
        }
    }
}

/// The words of a label, with their positions, as the embedded index has them.
type LabelWords = Vec<(usize, String)>;

static KIND_LABELS: LazyLock<Vec<(CaseKind, LabelWords)>> = LazyLock::new(|| {
    CaseKind::ALL
        .iter()
        .map(|kind| (*kind, label_words(kind_label(*kind))))
        .collect()
});

static CATEGORY_LABELS: LazyLock<Vec<(Category, LabelWords)>> = LazyLock::new(|| {
    Category::ALL
        .iter()
        .map(|category| (*category, label_words(category_label(*category))))
        .collect()
});

fn label_words(label: &str) -> LabelWords {
    analyze(label, Stream::Words)
        .into_iter()
        .map(|p| (p.position, p.text))
        .collect()
}

/// Whether a form's words occur in a label as a phrase (劳动争议, 纠纷; not 纷).
fn in_label(words: &[(usize, String)], label: &LabelWords) -> bool {
    let Some((first_at, first)) = words.first() else {
        return false;
    };
    label.iter().any(|(at, word)| {
        word == first
            && at.checked_sub(*first_at).is_some_and(|start| {
                words
                    .iter()
                    .all(|(o, w)| label.iter().any(|(p, l)| *p == start + o && l == w))
            })
    })
}

/// The kinds and categories whose labels hold a form.
fn label_ways(form: &Form) -> Expr {
    let words = &form.terms.words;
    let kinds: Vec<&str> = KIND_LABELS
        .iter()
        .filter(|(_, label)| in_label(words, label))
        .map(|(kind, _)| kind.as_str())
        .collect();
    let categories: Vec<&str> = CATEGORY_LABELS
        .iter()
        .filter(|(_, label)| in_label(words, label))
        .map(|(category, _)| category.as_str())
        .collect();
    Expr::any([
        text_in(field::KIND, kinds),
        text_in(field::CATEGORY, categories),
    ])
}

/// What finds a concept: any way of any of its forms. Ways of one key are one `IN` condition, and a way
/// that needs one of those keys and more is dropped (it adds nothing), which keeps long queries' filters
/// small.
fn concept(concept: &Concept) -> Expr {
    let mut ways = Vec::new();
    for form in &concept.forms {
        form_ways(form, &mut ways);
    }
    let singles: BTreeSet<String> = ways
        .iter()
        .filter(|way| way.len() == 1)
        .flatten()
        .cloned()
        .collect();
    let mut groups: Vec<&BTreeSet<String>> = ways
        .iter()
        .filter(|way| way.len() > 1 && way.is_disjoint(&singles))
        .collect();
    groups.sort();
    groups.dedup();
    let any_single = if singles.is_empty() {
        Expr::False
    } else {
        text_in(field::KEYS, singles.iter().map(String::as_str))
    };
    Expr::any(
        std::iter::once(any_single)
            .chain(
                groups
                    .into_iter()
                    .map(|way| Expr::all(way.iter().map(|k| key(k)))),
            )
            .chain(concept.forms.iter().map(label_ways)),
    )
}

/// All of the concepts but at most one.
fn all_but_one(concepts: &[Expr]) -> Expr {
    match concepts {
        [] | [_] => Expr::True,
        [a, b] => Expr::any([a.clone(), b.clone()]),
        many => {
            let (left, right) = many.split_at(many.len() / 2);
            Expr::any([
                Expr::all(left.iter().cloned().chain([all_but_one(right)])),
                Expr::all([all_but_one(left)].into_iter().chain(right.iter().cloned())),
            ])
        }
    }
}

/// What a plan matches: its concepts, all of them or all but one as `QueryPlan::required` says.
pub(super) fn plan(plan: &QueryPlan) -> Expr {
    let concepts: Vec<Expr> = plan.concepts.iter().map(concept).collect();
    if plan.required() >= concepts.len() {
        Expr::all(concepts)
    } else {
        all_but_one(&concepts)
    }
}

/// Everything a hit must satisfy: the scope, the filters, the identifiers and the text.
pub(super) fn search(query: &SearchQuery, text: &QueryPlan) -> Expr {
    let identifiers = if query.identifier_hashes.is_empty() {
        Expr::True
    } else {
        let hashes = || query.identifier_hashes.iter().map(String::as_str);
        Expr::any([
            text_in(field::ID_CARD_HASHES, hashes()),
            text_in(field::PHONE_HASHES, hashes()),
        ])
    };
    let text = if text.is_empty() {
        Expr::True
    } else {
        plan(text)
    };
    Expr::all([scope(&query.scope), filters(query), identifiers, text])
}

#[cfg(test)]
mod tests {
    use fengqiao_domain::TenantLevel;

    use super::*;

    #[test]
    fn scopes_compare_ids_as_numbers() {
        let s = Scope::grants(
            7,
            vec![
                Grant::Subtree {
                    level: TenantLevel::Township,
                    tenant: 1,
                },
                Grant::UnitCases {
                    level: TenantLevel::Village,
                    tenant: 100,
                    units: vec![],
                },
                Grant::Cases(vec![10, 11]),
            ],
        );
        assert_eq!(
            scope(&s).write().as_deref(),
            Some("county = 7 AND (township = 1 OR id IN [10, 11])")
        );
        assert_eq!(
            scope(&Scope::county(7)).write().as_deref(),
            Some("county = 7")
        );
    }

    #[test]
    fn a_long_plan_needs_all_concepts_but_one() {
        let three = [
            Expr::Condition("a".into()),
            Expr::Condition("b".into()),
            Expr::Condition("c".into()),
        ];
        assert_eq!(
            all_but_one(&three).write().as_deref(),
            Some("(a AND (b OR c)) OR (b AND c)")
        );
    }

    #[test]
    fn labels_are_found_by_their_words() {
        let written = plan(&QueryPlan::parse("劳动争议"))
            .write()
            .unwrap_or_default();
        assert!(written.contains("category IN [\"labour\"]"), "{written}");
        let written = plan(&QueryPlan::parse("交通事故"))
            .write()
            .unwrap_or_default();
        assert!(written.contains("\"traffic\""), "{written}");
        let written = plan(&QueryPlan::parse("纷")).write().unwrap_or_default();
        assert!(!written.contains("category"), "{written}");
    }

    #[test]
    fn forms_need_their_keys() {
        let written = plan(&QueryPlan::parse("宅基地界址"))
            .write()
            .unwrap_or_default();
        assert!(written.contains("\"h宅基地\""), "{written}");
        assert!(
            written.contains("\"y"),
            "typed forms are found by sound: {written}"
        );
        let written = plan(&QueryPlan::parse("斗殴")).write().unwrap_or_default();
        assert!(written.contains("\"h打架\""), "synonyms: {written}");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }
}
