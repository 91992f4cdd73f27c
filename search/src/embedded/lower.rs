//! A search as a tantivy query. Scope and filters are required clauses of the query itself, scored zero,
//! so the engine never considers a case outside the scope; the text ranks what is left.

use std::ops::Bound;

use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DateTime, Term};

use super::schema::Fields;
use crate::port::Subtree;
use crate::query::{Grant, SearchQuery};
use crate::text::{Concept, Form, QueryPlan};

/// How much a match counts, by field. Words beat character pairs, which beat pinyin; a title or a name
/// beats a description.
mod boost {
    pub const TITLE: f32 = 3.0;
    pub const NAMES: f32 = 3.0;
    pub const PLACE: f32 = 2.0;
    pub const DESCRIPTION: f32 = 1.0;
    pub const LABELS: f32 = 0.8;
    pub const TITLE_GRAMS: f32 = 1.5;
    pub const NAMES_GRAMS: f32 = 2.0;
    pub const PLACE_GRAMS: f32 = 1.0;
    pub const DESCRIPTION_GRAMS: f32 = 0.5;
    pub const PINYIN: f32 = 0.3;
    pub const CODE: f32 = 8.0;
    pub const CODE_PARTS: f32 = 4.0;
    /// A synonym counts for this share of what was typed.
    pub const SYNONYM: f32 = 0.7;
    /// The constant score of a whole ID card or phone number.
    pub const IDENTIFIER: f32 = 10.0;
}

type Clause = (Occur, Box<dyn Query>);

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

fn text_term(field: Field, text: &str) -> Term {
    Term::from_field_text(field, text)
}

/// A term, or a phrase of terms at their relative positions.
fn phrase(field: Field, terms: &[(usize, String)]) -> Option<Box<dyn Query>> {
    match terms {
        [] => None,
        [(_, only)] => Some(term_query(text_term(field, only))),
        many => Some(Box::new(PhraseQuery::new_with_offset(
            many.iter()
                .map(|(at, text)| (*at, text_term(field, text)))
                .collect(),
        ))),
    }
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, boost))
}

fn form_clauses(fields: &Fields, form: &Form, out: &mut Vec<Clause>) {
    let weight = if form.synonym { boost::SYNONYM } else { 1.0 };
    let terms = &form.terms;
    for (field, stream, boost) in [
        (fields.title, &terms.words, boost::TITLE),
        (fields.names, &terms.words, boost::NAMES),
        (fields.place, &terms.words, boost::PLACE),
        (fields.description, &terms.words, boost::DESCRIPTION),
        (fields.labels, &terms.words, boost::LABELS),
        (fields.title_grams, &terms.grams, boost::TITLE_GRAMS),
        (fields.names_grams, &terms.grams, boost::NAMES_GRAMS),
        (fields.place_grams, &terms.grams, boost::PLACE_GRAMS),
        (
            fields.description_grams,
            &terms.grams,
            boost::DESCRIPTION_GRAMS,
        ),
    ] {
        if let Some(query) = phrase(field, stream) {
            out.push((Occur::Should, boosted(query, boost * weight)));
        }
    }
    if !form.synonym
        && let Some(query) = phrase(fields.pinyin, &terms.pinyin)
    {
        out.push((Occur::Should, boosted(query, boost::PINYIN)));
    }
    if let [code] = terms.codes.as_slice()
        && terms.words.len() == 1
    {
        out.push((
            Occur::Should,
            boosted(term_query(text_term(fields.code, code)), boost::CODE),
        ));
        // Parts of a code match as a phrase: 20260301-00001 must not find every case of that day.
        let parts: Vec<(usize, String)> = code
            .split(|c: char| !c.is_alphanumeric())
            .filter(|p| !p.is_empty())
            .enumerate()
            .map(|(at, part)| (at, part.to_owned()))
            .collect();
        if let Some(query) = phrase(fields.code_parts, &parts) {
            out.push((Occur::Should, boosted(query, boost::CODE_PARTS)));
        }
    }
}

fn concept_query(fields: &Fields, concept: &Concept) -> Box<dyn Query> {
    let mut clauses = Vec::new();
    for form in &concept.forms {
        form_clauses(fields, form, &mut clauses);
    }
    if clauses.is_empty() {
        return Box::new(EmptyQuery);
    }
    Box::new(BooleanQuery::new(clauses))
}

fn i64_term(field: Field, value: i64) -> Box<dyn Query> {
    term_query(Term::from_field_i64(field, value))
}

fn i64_set(field: Field, values: &[i64]) -> Box<dyn Query> {
    Box::new(TermSetQuery::new(
        values.iter().map(|v| Term::from_field_i64(field, *v)),
    ))
}

fn text_set<'a>(field: Field, values: impl IntoIterator<Item = &'a str>) -> Box<dyn Query> {
    Box::new(TermSetQuery::new(
        values.into_iter().map(|v| text_term(field, v)),
    ))
}

fn all_of(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::intersection(clauses))
}

fn grant_query(fields: &Fields, grant: &Grant) -> Box<dyn Query> {
    match grant {
        Grant::Subtree { level, tenant } => i64_term(fields.level(*level), *tenant),
        Grant::UnitCases {
            level,
            tenant,
            units,
        } => all_of(vec![
            i64_term(fields.level(*level), *tenant),
            i64_set(fields.units, units),
        ]),
        Grant::Reports {
            level,
            tenant,
            reporter,
        } => all_of(vec![
            i64_term(fields.level(*level), *tenant),
            i64_term(fields.registered_by, *reporter),
        ]),
        Grant::Cases(ids) => i64_set(fields.id, ids),
    }
}

fn date(at: chrono::DateTime<chrono::Utc>) -> DateTime {
    DateTime::from_timestamp_micros(at.timestamp_micros())
}

/// The clauses every hit must satisfy: its county, the scope's grants and the filters.
fn filter_clauses(fields: &Fields, query: &SearchQuery) -> Vec<Box<dyn Query>> {
    let scope = &query.scope;
    let mut must = vec![i64_term(fields.county, scope.county_id())];
    if let Some(grants) = scope.limited_to() {
        must.push(Box::new(BooleanQuery::union(
            grants.iter().map(|g| grant_query(fields, g)).collect(),
        )));
    }
    let f = &query.filters;
    if !f.statuses.is_empty() {
        must.push(text_set(
            fields.status,
            f.statuses.iter().map(|s| s.as_str()),
        ));
    }
    if !f.kinds.is_empty() {
        must.push(text_set(fields.kind, f.kinds.iter().map(|k| k.as_str())));
    }
    if !f.categories.is_empty() {
        must.push(text_set(
            fields.category,
            f.categories.iter().map(|c| c.as_str()),
        ));
    }
    if !f.tiers.is_empty() {
        must.push(text_set(fields.tier, f.tiers.iter().map(|t| t.as_str())));
    }
    if !f.risks.is_empty() {
        must.push(text_set(fields.risk, f.risks.iter().map(|r| r.as_str())));
    }
    if f.registered_from.is_some() || f.registered_before.is_some() {
        let bound = |at: Option<chrono::DateTime<chrono::Utc>>, inclusive: bool| match at {
            None => Bound::Unbounded,
            Some(at) => {
                let term = Term::from_field_date(fields.registered_at, date(at));
                if inclusive {
                    Bound::Included(term)
                } else {
                    Bound::Excluded(term)
                }
            }
        };
        must.push(Box::new(RangeQuery::new(
            bound(f.registered_from, true),
            bound(f.registered_before, false),
        )));
    }
    if let Some(overdue) = f.overdue {
        must.push(term_query(Term::from_field_bool(fields.overdue, overdue)));
    }
    must
}

/// The query of a search and whether it ranks by relevance (it has text or identifiers) or by date.
pub(super) fn search_query(
    fields: &Fields,
    query: &SearchQuery,
    plan: &QueryPlan,
) -> (Box<dyn Query>, bool) {
    let filter = all_of(filter_clauses(fields, query));
    let mut clauses: Vec<Clause> = vec![(Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0)))];
    let mut ranked = false;
    if !plan.is_empty() {
        let concepts: Vec<Box<dyn Query>> = plan
            .concepts
            .iter()
            .map(|c| concept_query(fields, c))
            .collect();
        clauses.push((
            Occur::Must,
            Box::new(BooleanQuery::union_with_minimum_required_clauses(
                concepts,
                plan.required(),
            )),
        ));
        ranked = true;
    }
    if !query.identifier_hashes.is_empty() {
        let hashes = || query.identifier_hashes.iter().map(String::as_str);
        let either = BooleanQuery::union(vec![
            text_set(fields.id_card_hashes, hashes()),
            text_set(fields.phone_hashes, hashes()),
        ]);
        clauses.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(Box::new(either), boost::IDENTIFIER)),
        ));
        ranked = true;
    }
    (Box::new(BooleanQuery::new(clauses)), ranked)
}

/// The documents of a county or of one subtree of it.
pub(super) fn part_query(fields: &Fields, county: i64, within: Option<Subtree>) -> Box<dyn Query> {
    let mut must = vec![i64_term(fields.county, county)];
    if let Some(subtree) = within {
        must.push(i64_term(fields.level(subtree.level), subtree.tenant));
    }
    all_of(must)
}
