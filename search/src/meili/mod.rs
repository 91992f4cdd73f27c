//! The Meilisearch adapter (`meilisearch` feature): a `CaseIndex` over one index of a Meilisearch server,
//! for deployments with several server processes or a search server already in place. It keeps the
//! contract of the embedded adapter and finds the same cases for the same Chinese queries.
//!
//! # Chinese on Meilisearch
//!
//! Meilisearch's own Chinese segmentation decides what a query word is, and it ANDs query words; the
//! embedded adapter needs partial words (宅基 in 宅基地), homophone typos (争收 for 征收), synonyms as
//! alternatives, and "all concepts but one" for long queries. So this adapter never lets Meilisearch
//! segment Chinese. It splits matching from ranking:
//!
//! - **Matching is a filter.** Each document carries `match_keys`, a filterable list built with the shared
//!   `text` module from its folded texts: every han substring of up to three characters, every run of
//!   letters and digits (not those that look like ID or phone numbers), the han character and run where
//!   such runs touch (3号楼), the pinyin of every pair of han characters (every reading of a polyphonic
//!   character), and the case code and its parts. The query plan (`text::QueryPlan`) becomes a boolean
//!   filter over these keys: a form occurs when all its keys are there (a longer form by its
//!   three-character windows), a typed form is also found by its pinyin pairs, a form that is words of a
//!   kind or category label (劳动争议, 纠纷) by that kind or category, a concept by any of its forms, and
//!   the plan by all its concepts or all but one, as the embedded adapter's query. Scope, filters and
//!   identifier hashes are parts of the same filter, so the engine never considers a case outside the
//!   scope. Every query of a search evaluates the filter, so its size is kept down: the one-key ways of a
//!   concept are one `IN` condition, and a long query gets fewer ranking queries.
//! - **Ranking is a federated multi-search** over the matched set, each query with the same filter:
//!   the typed forms of the first ten concepts (weight 1), each synonym form in place of what was typed
//!   (0.7, short queries only), the pinyin pairs (0.3), and a query for a word every document has (0.02)
//!   that brings in whatever the others did not score, newest first (a query without words cannot be
//!   federated with the others). The words of these queries are spelled in ASCII (each han character as five consonants) and searched in
//!   `rank_*` fields holding the same spelling of character pairs, single characters and pinyin pairs,
//!   with phrases for forms of several pairs; the order of the searchable fields ranks a title or a name
//!   above a description. Each query sorts ties by newest registration, then id, and the federation
//!   merges by weighted score, dropping repeats; its total and facets count the whole matched set.
//!
//! Proximity is by attribute: phrases and the proximity rule see whether words share a field, not their
//! distance (the spelled pairs of a form rarely share a field by chance), which spares the engine its
//! word-pair database, the largest part of indexing.
//!
//! Typo tolerance and prefix search are off (a spelled word is matched exactly; the pinyin keys are what
//! tolerates typos), and the adapter sets no Meilisearch synonyms (it expands the synonyms itself).
//! The raw texts are stored for display and highlights but not searchable: a tenant-token client that
//! searches the index directly finds cases by these spelled words only, and by filters.
//!
//! # Consistency and failures
//!
//! Every change is a Meilisearch task; each call waits for its task and fails with `Internal` (and the
//! task's error) if the task failed. No answer, a refused connection, a 5xx or a timeout is `Unavailable`.
//! A rebuild fills a new index (`<uid>__rebuild_<n>`) with the same settings and swaps it with the live
//! one (`/swap-indexes`), then deletes the old one. The adapter speaks plain HTTP (no TLS is built in):
//! run Meilisearch on the same host or network, or behind a proxy that adds TLS.

mod document;
mod filter;
mod token;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fengqiao_domain::{CaseStatus, Category};
use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::documents::{DocumentsQuery, DocumentsResults};
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode, ErrorType, MeilisearchError};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::key::{Action, KeyBuilder};
use meilisearch_sdk::search::{
    FederationOptions, MatchingStrategies, MergeFacets, MultiSearchQuery,
    SearchQuery as MeiliQuery, Selectors,
};
use meilisearch_sdk::settings::{
    FacetingSettings, FilterFeatureModes, FilterFeatures, FilterableAttribute,
    FilterableAttributesSettings, LocalizedAttributes, PaginationSetting, PrefixSearchSettings,
    Settings, TypoToleranceSettings,
};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::Deserialize;
use serde_json::Value;

pub use self::token::tenant_token;

use self::document::{
    ANY_FIELDS, ANY_WORD, GRAM_FIELDS, PINYIN_FIELDS, field, level_field, spelled_sequence,
};
use crate::doc::{CaseDoc, Fingerprint};
use crate::error::SearchError;
use crate::page::{Count, DESCRIPTION_CHARS, Facets, Hit, SearchPage, TITLE_CHARS, sort_counts};
use crate::port::{CaseIndex, Rebuild, Subtree};
use crate::query::{Cursor, MAX_DEPTH, SearchQuery};
use crate::text::{Concept, Form, QueryPlan, highlight};

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a task may take to be processed.
const TASK_TIMEOUT: Duration = Duration::from_secs(120);
/// Document additions a rebuild keeps enqueued ahead of the engine. The engine processes consecutive
/// additions to one index as one batch, so its work per batch (a commit, the facet and word databases
/// brought up to date) is shared by all of them instead of being paid for every thousand cases.
const REBUILD_IN_FLIGHT: usize = 8;
/// How long a rebuild waits for its oldest enqueued addition: it may be processed together with the
/// others, as one large batch.
const REBUILD_TASK_TIMEOUT: Duration = Duration::from_secs(900);
const TASK_POLL: Duration = Duration::from_millis(20);
/// Facet values returned per facet: every tenant of a level of a county.
const MAX_VALUES_PER_FACET: usize = 10_000;
/// Documents fetched per request when listing digests.
const DIGEST_PAGE: usize = 1_000;
/// Ties rank the newest registration first, then the highest id.
const SORT: [&str; 2] = ["registered_at:desc", "id:desc"];
/// Digests are listed by id, so that pages follow each other.
const ID_ASCENDING: &str = "id:asc";
/// Proximity counts whether words share a field, not how far apart they are.
const PROXIMITY_PRECISION: &str = "byAttribute";
/// The only locale of the spelled ranking words (so the engine detects no language in them).
const SPELLED_LOCALES: [&str; 1] = ["eng"];
/// What a hit brings back.
const RETRIEVED: [&str; 3] = [field::ID, field::TITLE, field::DESCRIPTION];

/// Weights of the federated queries.
mod weight {
    pub const TYPED: f32 = 1.0;
    pub const SYNONYM: f32 = 0.7;
    pub const PINYIN: f32 = 0.3;
    pub const MATCHED: f32 = 0.02;
}

/// Synonym queries per search, at most.
const MAX_SYNONYM_QUERIES: usize = 8;
/// Plans of more concepts get no synonym queries.
const SHORT_PLAN: usize = 4;
/// Concepts (and pinyin pairs) in a ranking query, at most: Meilisearch ranks by the first ten words.
const MAX_RANKED_CONCEPTS: usize = 10;

static REBUILDS: AtomicU64 = AtomicU64::new(0);

fn failure(what: &str, error: MeiliError) -> SearchError {
    let unavailable = match &error {
        MeiliError::HttpError(_) | MeiliError::Timeout => true,
        MeiliError::MeilisearchCommunication(e) => e.status_code >= 500,
        MeiliError::Meilisearch(e) => e.error_type == ErrorType::Internal,
        _ => false,
    };
    if unavailable {
        SearchError::Unavailable(format!("{what}: {error}"))
    } else {
        SearchError::Internal(format!("{what}: {error}"))
    }
}

/// Runs a request with the request timeout; a timeout is `Unavailable`, the engine's answer is returned.
async fn answer<T>(
    what: &str,
    request: impl Future<Output = Result<T, MeiliError>>,
) -> Result<Result<T, MeiliError>, SearchError> {
    tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .map_err(|_| {
            SearchError::Unavailable(format!(
                "{what}: no answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))
        })
}

/// Runs a request with the request timeout.
async fn timed<T>(
    what: &str,
    request: impl Future<Output = Result<T, MeiliError>>,
) -> Result<T, SearchError> {
    answer(what, request).await?.map_err(|e| failure(what, e))
}

/// Waits for a task: `Ok(Err(_))` is the error of a task that failed.
async fn outcome(
    client: &Client,
    what: &str,
    task: TaskInfo,
) -> Result<Result<(), MeilisearchError>, SearchError> {
    outcome_within(client, what, task, TASK_TIMEOUT).await
}

/// Waits for a task at most `limit`: `Ok(Err(_))` is the error of a task that failed.
async fn outcome_within(
    client: &Client,
    what: &str,
    task: TaskInfo,
    limit: Duration,
) -> Result<Result<(), MeilisearchError>, SearchError> {
    let waited = tokio::time::timeout(
        limit,
        client.wait_for_task(task, Some(TASK_POLL), Some(limit)),
    )
    .await;
    match waited {
        Err(_) => Err(SearchError::Unavailable(format!(
            "{what}: the task was not processed within {} s",
            limit.as_secs()
        ))),
        Ok(Err(error)) => Err(failure(what, error)),
        Ok(Ok(Task::Succeeded { .. })) => Ok(Ok(())),
        Ok(Ok(Task::Failed { content })) => Ok(Err(content.error)),
        Ok(Ok(_)) => Err(SearchError::Unavailable(format!(
            "{what}: the task is still waiting"
        ))),
    }
}

/// Waits for a task and checks that it succeeded.
async fn finish(client: &Client, what: &str, task: TaskInfo) -> Result<(), SearchError> {
    outcome(client, what, task)
        .await?
        .map_err(|error| SearchError::Internal(format!("{what}: the task failed: {error}")))
}

fn equality_only() -> FilterFeatures {
    FilterFeatures {
        facet_search: false,
        filter: FilterFeatureModes {
            equality: true,
            comparison: false,
        },
    }
}

fn filterable(names: &[&str], features: FilterFeatures) -> FilterableAttribute {
    FilterableAttribute::Settings(FilterableAttributesSettings {
        attribute_patterns: names.iter().map(|n| (*n).to_owned()).collect(),
        features,
    })
}

/// The settings of every index of this adapter.
fn settings() -> Settings {
    Settings::new()
        .with_searchable_attributes(
            GRAM_FIELDS
                .iter()
                .chain(PINYIN_FIELDS.iter())
                .chain(ANY_FIELDS.iter()),
        )
        .with_displayed_attributes([
            field::ID,
            field::CODE,
            field::TITLE,
            field::DESCRIPTION,
            field::PLACE,
            field::COUNTY,
            field::TOWNSHIP,
            field::VILLAGE,
            field::GRID,
            field::TENANT,
            field::STATUS,
            field::KIND,
            field::CATEGORY,
            field::TIER,
            field::RISK,
            field::REGISTERED_AT,
            field::OVERDUE,
            field::DIGEST,
        ])
        .with_filterable_attributes_advanced([
            filterable(
                &[
                    field::ID,
                    field::COUNTY,
                    field::TOWNSHIP,
                    field::VILLAGE,
                    field::GRID,
                    field::TENANT,
                    field::UNITS,
                    field::REGISTERED_BY,
                    field::STATUS,
                    field::KIND,
                    field::CATEGORY,
                    field::TIER,
                    field::RISK,
                    field::OVERDUE,
                    field::ID_CARD_HASHES,
                    field::PHONE_HASHES,
                    field::KEYS,
                ],
                equality_only(),
            ),
            filterable(
                &[field::REGISTERED_AT],
                FilterFeatures {
                    facet_search: false,
                    filter: FilterFeatureModes {
                        equality: true,
                        comparison: true,
                    },
                },
            ),
        ])
        .with_sortable_attributes([field::REGISTERED_AT, field::ID])
        .with_ranking_rules([
            "words",
            "typo",
            "proximity",
            "attribute",
            "exactness",
            "sort",
        ])
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(false),
            ..TypoToleranceSettings::default()
        })
        .with_pagination(PaginationSetting {
            max_total_hits: MAX_DEPTH,
        })
        .with_faceting(FacetingSettings {
            max_values_per_facet: MAX_VALUES_PER_FACET,
            sort_facet_values_by: None,
        })
        // Matching is the filter and phrases only rank: whether words share a field is proximity enough,
        // and sparing the engine its word-pair database indexes about half as fast again (1,458 against
        // 941 documents a second for the same 20,000 cases on two cores).
        .with_proximity_precision(PROXIMITY_PRECISION)
        .with_synonyms(HashMap::<String, Vec<String>>::new())
        .with_stop_words(Vec::<String>::new())
        .with_localized_attributes([
            LocalizedAttributes {
                locales: SPELLED_LOCALES.iter().map(|l| (*l).to_owned()).collect(),
                attribute_patterns: vec!["rank_*".to_owned()],
            },
            LocalizedAttributes {
                locales: vec!["cmn".to_owned()],
                attribute_patterns: [
                    field::TITLE,
                    field::DESCRIPTION,
                    field::PLACE,
                    field::ADDRESSES,
                    field::PARTY_NAMES,
                ]
                .iter()
                .map(|n| (*n).to_owned())
                .collect(),
            },
        ])
}

/// Settings whose lists the engine keeps in an order of its own (their order means nothing).
const UNORDERED_SETTINGS: [&str; 2] = ["displayedAttributes", "sortableAttributes"];

/// Whether `actual` has everything `wanted` sets: every field `wanted` gives (not null), recursively,
/// with the same value; lists of strings of the `UNORDERED_SETTINGS` compared as sets.
fn settings_hold(wanted: &Value, actual: &Value, unordered: bool) -> bool {
    match (wanted, actual) {
        (Value::Null, _) => true,
        (Value::Object(wanted), Value::Object(actual)) => wanted.iter().all(|(key, value)| {
            settings_hold(
                value,
                actual.get(key).unwrap_or(&Value::Null),
                UNORDERED_SETTINGS.contains(&key.as_str()),
            )
        }),
        (Value::Array(wanted), Value::Array(actual)) if unordered => {
            let mut wanted: Vec<String> = wanted.iter().map(Value::to_string).collect();
            let mut actual: Vec<String> = actual.iter().map(Value::to_string).collect();
            wanted.sort_unstable();
            actual.sort_unstable();
            wanted == actual
        }
        (Value::Array(wanted), Value::Array(actual)) => {
            wanted.len() == actual.len()
                && wanted
                    .iter()
                    .zip(actual)
                    .all(|(w, a)| settings_hold(w, a, false))
        }
        (wanted, actual) => wanted == actual,
    }
}

/// Whether an index has the adapter's settings. A settings task makes the engine process the whole index
/// again even when nothing changes (seconds for tens of thousands of documents, minutes for a million),
/// so a server opening its index applies them only when they differ.
async fn has_settings(index: &Index) -> Result<bool, SearchError> {
    let what = "reading the index settings";
    let actual = timed(what, index.get_settings()).await?;
    let prefix = timed(what, index.get_prefix_search()).await?;
    let facet_search = timed(what, index.get_facet_search()).await?;
    let (Ok(wanted), Ok(actual)) = (
        serde_json::to_value(settings()),
        serde_json::to_value(actual),
    ) else {
        return Ok(false);
    };
    Ok(prefix == PrefixSearchSettings::Disabled
        && !facet_search
        && settings_hold(&wanted, &actual, false))
}

/// Applies the adapter's settings to an index.
async fn apply_settings(client: &Client, index: &Index) -> Result<(), SearchError> {
    let what = "applying the index settings";
    let task = timed(what, index.set_settings(&settings())).await?;
    finish(client, what, task).await?;
    let task = timed(
        what,
        index.set_prefix_search(PrefixSearchSettings::Disabled),
    )
    .await?;
    finish(client, what, task).await?;
    let task = timed(what, index.set_facet_search(false)).await?;
    finish(client, what, task).await
}

/// Creates an index with the adapter's settings, or applies them to the index there is.
async fn create_index(client: &Client, uid: &str) -> Result<Index, SearchError> {
    let reading = "reading the index";
    let index = match answer(reading, client.get_index(uid)).await? {
        Ok(index) => index,
        Err(MeiliError::Meilisearch(missing)) if missing.error_code == ErrorCode::IndexNotFound => {
            let what = "creating the index";
            let task = timed(what, client.create_index(uid, Some(field::ID))).await?;
            match outcome(client, what, task).await? {
                Ok(()) => {}
                // Created meanwhile by another process.
                Err(error) if error.error_code == ErrorCode::IndexAlreadyExists => {}
                Err(error) => {
                    return Err(SearchError::Internal(format!(
                        "{what}: the task failed: {error}"
                    )));
                }
            }
            client.index(uid)
        }
        Err(error) => return Err(failure(reading, error)),
    };
    if !has_settings(&index).await? {
        apply_settings(client, &index).await?;
    }
    Ok(index)
}

const ADDING: &str = "adding documents";

/// Enqueues the addition of documents to an index, the last copy of an id winning; `None` for no
/// documents.
async fn enqueue_documents(
    index: &Index,
    docs: &[CaseDoc],
) -> Result<Option<TaskInfo>, SearchError> {
    if docs.is_empty() {
        return Ok(None);
    }
    let mut last: BTreeMap<i64, &CaseDoc> = BTreeMap::new();
    for doc in docs {
        last.insert(doc.id, doc);
    }
    let documents: Vec<Value> = last.values().map(|doc| document::document(doc)).collect();
    timed(ADDING, index.add_or_replace(&documents, Some(field::ID)))
        .await
        .map(Some)
}

/// Adds documents to an index, the last copy of an id winning.
async fn add_documents(
    client: &Client,
    index: &Index,
    docs: &[CaseDoc],
) -> Result<(), SearchError> {
    match enqueue_documents(index, docs).await? {
        Some(task) => finish(client, ADDING, task).await,
        None => Ok(()),
    }
}

async fn delete_index(client: &Client, uid: &str) -> Result<(), SearchError> {
    let what = "deleting an index";
    let task = timed(what, client.delete_index(uid)).await?;
    finish(client, what, task).await
}

/// A stored hit.
#[derive(Debug, Deserialize)]
struct Stored {
    id: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
struct DigestDoc {
    id: i64,
    digest: String,
}

/// One query of a federated search: its words, where it looks for them, and its weight.
struct Ranker {
    words: Option<String>,
    fields: &'static [&'static str],
    weight: f32,
}

/// The words of a form in the ranking fields: a spelled word, or a phrase of them.
fn form_words(form: &Form) -> Option<String> {
    let words = spelled_sequence(form.terms.grams.iter().map(|(p, t)| (*p, t.as_str())));
    if words.is_empty() {
        None
    } else if words.contains(' ') {
        Some(format!("\"{words}\""))
    } else {
        Some(words)
    }
}

fn typed_words(concepts: &[Concept], replace: Option<(usize, &Form)>) -> String {
    concepts
        .iter()
        .enumerate()
        .filter_map(|(i, concept)| match replace {
            Some((at, form)) if at == i => form_words(form),
            _ => concept.forms.first().and_then(form_words),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The federated queries that rank what a plan matches.
fn rankers(plan: &QueryPlan) -> Vec<Ranker> {
    let mut out = Vec::new();
    if plan.is_empty() {
        out.push(Ranker {
            words: None,
            fields: &GRAM_FIELDS,
            weight: weight::TYPED,
        });
        return out;
    }
    // Meilisearch ranks by the first ten words of a query; the filter matches by all of them.
    let mut concepts: Vec<Concept> = Vec::new();
    for concept in &plan.concepts {
        if concepts.len() < MAX_RANKED_CONCEPTS
            && !concepts.iter().any(|c| c.typed() == concept.typed())
        {
            concepts.push(concept.clone());
        }
    }
    let typed = typed_words(&concepts, None);
    if !typed.is_empty() {
        out.push(Ranker {
            words: Some(typed),
            fields: &GRAM_FIELDS,
            weight: weight::TYPED,
        });
    }
    let synonyms = concepts
        .iter()
        .enumerate()
        .flat_map(|(i, concept)| concept.forms.iter().skip(1).map(move |form| (i, form)));
    // Each query evaluates the whole filter again: a long query, whose filter is long, ranks its synonyms
    // through the typed query's other words only.
    let budget = if concepts.len() <= SHORT_PLAN {
        MAX_SYNONYM_QUERIES
    } else {
        0
    };
    for (i, form) in synonyms.take(budget) {
        let words = typed_words(&concepts, Some((i, form)));
        if !words.is_empty() {
            out.push(Ranker {
                words: Some(words),
                fields: &GRAM_FIELDS,
                weight: weight::SYNONYM,
            });
        }
    }
    let sounds: Vec<&str> = concepts
        .iter()
        .filter_map(|c| c.forms.first())
        .flat_map(|f| f.terms.pinyin.iter().map(|(_, p)| p.as_str()))
        .take(MAX_RANKED_CONCEPTS)
        .collect();
    if !sounds.is_empty() {
        out.push(Ranker {
            words: Some(sounds.join(" ")),
            fields: &PINYIN_FIELDS,
            weight: weight::PINYIN,
        });
    }
    out.push(Ranker {
        words: Some(ANY_WORD.to_owned()),
        fields: &ANY_FIELDS,
        weight: weight::MATCHED,
    });
    out
}

fn counts<K: Ord>(
    distribution: Option<&HashMap<String, usize>>,
    parse: impl Fn(&str) -> Option<K>,
) -> Vec<Count<K>> {
    let mut out: Vec<Count<K>> = distribution
        .into_iter()
        .flatten()
        .filter_map(|(name, count)| {
            parse(name).map(|value| Count {
                value,
                count: *count as u64,
            })
        })
        .collect();
    sort_counts(&mut out);
    out
}

fn tenant_id(name: &str) -> Option<i64> {
    name.parse::<i64>().ok().or_else(|| {
        name.parse::<f64>()
            .ok()
            .filter(|v| v.fract() == 0.0)
            .map(|v| v as i64)
    })
}

/// A case index on a Meilisearch server.
#[derive(Clone)]
pub struct MeiliIndex {
    client: Client,
    url: String,
    uid: String,
}

impl std::fmt::Debug for MeiliIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeiliIndex")
            .field("url", &self.url)
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

impl MeiliIndex {
    /// The adapter for index `index_uid` of the server at `url`, without contacting it: a server process
    /// can start while Meilisearch is down and answer `Unavailable` until `prepare` succeeds. `api_key`
    /// needs the rights to write documents, settings, indexes and to swap them (an admin key).
    pub fn new(url: &str, api_key: &str, index_uid: &str) -> Result<MeiliIndex, SearchError> {
        let url = url.trim_end_matches('/').to_owned();
        if !url.starts_with("http://") {
            return Err(SearchError::internal(format!(
                "{url}: the Meilisearch adapter speaks plain HTTP (a server on the same host or network, \
                 or behind a TLS proxy); give an http:// address"
            )));
        }
        let client = Client::new(url.clone(), Some(api_key))
            .map_err(|e| SearchError::internal(format!("creating a Meilisearch client: {e}")))?;
        Ok(MeiliIndex {
            client,
            url,
            uid: index_uid.to_owned(),
        })
    }

    /// Connects to the server, creates the index if it is missing and applies the adapter's settings.
    pub async fn connect(
        url: &str,
        api_key: &str,
        index_uid: &str,
    ) -> Result<MeiliIndex, SearchError> {
        let index = MeiliIndex::new(url, api_key, index_uid)?;
        index.prepare().await?;
        Ok(index)
    }

    /// Creates the index if it is missing and applies the adapter's settings where the index lacks them
    /// (a settings task makes Meilisearch process every document again).
    pub async fn prepare(&self) -> Result<(), SearchError> {
        create_index(&self.client, &self.uid).await.map(|_| ())
    }

    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Deletes the index and everything in it.
    pub async fn delete_index(&self) -> Result<(), SearchError> {
        delete_index(&self.client, &self.uid).await
    }

    /// Creates an API key that may only search this index, with `master_key` (or another key allowed to
    /// create keys), and returns its uid and its value: what tenant tokens are signed with.
    pub async fn create_search_key(
        &self,
        master_key: &str,
    ) -> Result<(String, String), SearchError> {
        let admin = Client::new(self.url.clone(), Some(master_key))
            .map_err(|e| SearchError::internal(format!("creating a Meilisearch client: {e}")))?;
        let mut builder = KeyBuilder::new();
        builder
            .with_name(format!("search {}", self.uid))
            .with_action(Action::Search)
            .with_index(&self.uid);
        let key = timed("creating a search key", admin.create_key(builder)).await?;
        Ok((key.uid, key.key))
    }

    fn index(&self) -> Index {
        self.client.index(&self.uid)
    }
}

#[async_trait]
impl CaseIndex for MeiliIndex {
    async fn upsert(&self, docs: &[CaseDoc]) -> Result<(), SearchError> {
        add_documents(&self.client, &self.index(), docs).await
    }

    async fn delete(&self, ids: &[i64]) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        let what = "deleting documents";
        let task = timed(what, self.index().delete_documents(ids)).await?;
        finish(&self.client, what, task).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, SearchError> {
        query.validate()?;
        let empty_facets = Facets {
            level: query.facet_level,
            ..Facets::default()
        };
        if query.scope.is_empty() {
            return Ok(SearchPage {
                facets: empty_facets,
                ..SearchPage::default()
            });
        }
        let plan = QueryPlan::parse(&query.text);
        let Some(filter) = filter::search(query, &plan).write() else {
            return Err(SearchError::internal("a search without a scope"));
        };
        let rankers = rankers(&plan);
        let index = self.index();
        let mut facet_names = vec![field::CATEGORY.to_owned(), field::STATUS.to_owned()];
        if let Some(level) = query.facet_level {
            facet_names.push(level_field(level).to_owned());
        }
        let offset = query.offset();
        let mut multi = MultiSearchQuery::new(&self.client);
        for ranker in &rankers {
            let mut one = MeiliQuery::new(&index);
            one.with_filter(&filter)
                .with_sort(&SORT)
                .with_attributes_to_retrieve(Selectors::Some(&RETRIEVED));
            if let Some(words) = &ranker.words {
                one.with_query(words)
                    .with_attributes_to_search_on(ranker.fields)
                    .with_matching_strategy(MatchingStrategies::FREQUENCY)
                    .with_locales(&SPELLED_LOCALES);
            }
            multi.with_search_query_and_weight(one.build(), ranker.weight);
        }
        let federated = multi.with_federation(FederationOptions {
            offset: Some(offset),
            limit: Some(query.first),
            facets_by_index: Some(HashMap::from([(self.uid.clone(), facet_names)])),
            merge_facets: Some(MergeFacets {
                max_values_per_facet: Some(MAX_VALUES_PER_FACET),
            }),
            ..FederationOptions::default()
        });
        let found = timed("searching", federated.execute::<Stored>()).await?;

        let ranked = !plan.is_empty();
        let mut hits = Vec::with_capacity(found.hits.len());
        for (at, hit) in found.hits.into_iter().enumerate() {
            let score = match (&hit.federation, ranked) {
                (Some(federation), true) => federation.weighted_ranking_score,
                _ => 0.0,
            };
            hits.push(Hit {
                id: hit.result.id,
                score,
                title: highlight(&hit.result.title, &plan, TITLE_CHARS),
                description: highlight(&hit.result.description, &plan, DESCRIPTION_CHARS),
                cursor: Cursor::at(offset + at + 1),
            });
        }
        let total = found.estimated_total_hits as u64;
        let distribution = found.facet_distribution.unwrap_or_default();
        let mut facets = empty_facets;
        facets.categories = counts(distribution.get(field::CATEGORY), Category::parse);
        facets.statuses = counts(distribution.get(field::STATUS), CaseStatus::parse);
        if let Some(level) = query.facet_level {
            let mut tenants = counts(distribution.get(level_field(level)), |name| {
                tenant_id(name).map(Some)
            });
            let counted: u64 = tenants.iter().map(|c| c.count).sum();
            if total > counted {
                tenants.push(Count {
                    value: None,
                    count: total - counted,
                });
            }
            sort_counts(&mut tenants);
            facets.tenants = tenants;
        }
        Ok(SearchPage {
            has_next_page: total > (offset + hits.len()) as u64,
            hits,
            total,
            facets,
        })
    }

    async fn fingerprint(
        &self,
        county: i64,
        within: Option<Subtree>,
    ) -> Result<Fingerprint, SearchError> {
        let mut out = Fingerprint::default();
        for (_, digest) in self.digests(county, within).await? {
            out.add_digest(digest);
        }
        Ok(out)
    }

    async fn digests(
        &self,
        county: i64,
        within: Option<Subtree>,
    ) -> Result<Vec<(i64, u64)>, SearchError> {
        let Some(filter) = filter::part(county, within).write() else {
            return Err(SearchError::internal("a listing without a county"));
        };
        let index = self.index();
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let mut request = DocumentsQuery::new(&index);
            request
                .with_filter(&filter)
                .with_fields([field::ID, field::DIGEST])
                .with_sort([ID_ASCENDING])
                .with_limit(DIGEST_PAGE)
                .with_offset(offset);
            let page: DocumentsResults<DigestDoc> =
                timed("listing digests", request.execute()).await?;
            let fetched = page.results.len();
            for doc in page.results {
                let digest = doc.digest.parse::<u64>().map_err(|e| {
                    SearchError::internal(format!("the digest of case {}: {e}", doc.id))
                })?;
                out.push((doc.id, digest));
            }
            offset += fetched;
            if fetched == 0 || offset >= page.total as usize {
                break;
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild>, SearchError> {
        // Unique among the processes feeding the index: their clock, their id, their count.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let next = format!(
            "{}__rebuild_{started}_{}_{}",
            self.uid,
            std::process::id(),
            REBUILDS.fetch_add(1, Ordering::SeqCst)
        );
        let index = create_index(&self.client, &next).await?;
        Ok(Box::new(MeiliRebuild {
            client: self.client.clone(),
            live: self.uid.clone(),
            next: Some(index),
            pending: VecDeque::new(),
        }))
    }
}

/// An index being filled to replace the live one; deleted unless published.
struct MeiliRebuild {
    client: Client,
    live: String,
    next: Option<Index>,
    /// Additions enqueued and not yet seen done, oldest first.
    pending: VecDeque<TaskInfo>,
}

impl MeiliRebuild {
    fn next(&self) -> Result<&Index, SearchError> {
        self.next
            .as_ref()
            .ok_or_else(|| SearchError::internal("the rebuild is over"))
    }

    /// Waits for the oldest enqueued additions until at most `left` remain.
    async fn settle(&mut self, left: usize) -> Result<(), SearchError> {
        while self.pending.len() > left {
            let Some(task) = self.pending.pop_front() else {
                break;
            };
            outcome_within(&self.client, ADDING, task, REBUILD_TASK_TIMEOUT)
                .await?
                .map_err(|error| {
                    SearchError::Internal(format!("{ADDING}: the task failed: {error}"))
                })?;
        }
        Ok(())
    }
}

#[async_trait]
impl Rebuild for MeiliRebuild {
    /// Enqueues the documents and returns once no more than `REBUILD_IN_FLIGHT` additions wait; a failed
    /// addition fails this call or a later one, and always `publish`.
    async fn add(&mut self, docs: &[CaseDoc]) -> Result<(), SearchError> {
        if let Some(task) = enqueue_documents(self.next()?, docs).await? {
            self.pending.push_back(task);
        }
        self.settle(REBUILD_IN_FLIGHT).await
    }

    async fn publish(mut self: Box<Self>) -> Result<(), SearchError> {
        self.settle(0).await?;
        let next = self.next()?.uid.clone();
        let what = "swapping in the rebuilt index";
        let swap = SwapIndexes {
            indexes: (self.live.clone(), next.clone()),
            rename: None,
        };
        let task = timed(what, self.client.swap_indexes([&swap])).await?;
        finish(&self.client, what, task).await?;
        // The swap is done: `next` now holds the old documents. Failing to delete them leaves an unused
        // index behind but does not undo the publication.
        self.next = None;
        if let Err(error) = delete_index(&self.client, &next).await {
            tracing::warn!(%error, index = %next, "deleting the index replaced by a rebuild");
        }
        tracing::info!(index = %self.live, "published a rebuilt search index");
        Ok(())
    }
}

impl Drop for MeiliRebuild {
    fn drop(&mut self) {
        let Some(index) = self.next.take() else {
            return;
        };
        let client = self.client.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = delete_index(&client, &index.uid).await {
                        tracing::warn!(%error, index = %index.uid, "deleting an abandoned rebuild");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(index = %index.uid, "an abandoned rebuild was left on the server");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_rank_typed_forms_synonyms_and_sounds() {
        let plan = QueryPlan::parse("斗殴");
        let rankers = rankers(&plan);
        let weights: Vec<f32> = rankers.iter().map(|r| r.weight).collect();
        assert_eq!(weights.first(), Some(&weight::TYPED));
        assert!(weights.contains(&weight::SYNONYM));
        assert!(weights.contains(&weight::PINYIN));
        assert_eq!(weights.last(), Some(&weight::MATCHED));
        let pinyin = rankers.iter().find(|r| r.weight == weight::PINYIN);
        assert_eq!(pinyin.and_then(|r| r.words.as_deref()), Some("douou"));
    }

    #[test]
    fn a_form_of_several_pairs_is_a_phrase() {
        let plan = QueryPlan::parse("宅基地");
        let words = typed_words(&plan.concepts, None);
        assert!(words.starts_with('"') && words.ends_with('"'), "{words}");
        assert_eq!(words.split(' ').count(), 2);
    }

    #[test]
    fn tenant_facet_values_are_ids() {
        assert_eq!(tenant_id("10"), Some(10));
        assert_eq!(tenant_id("10.0"), Some(10));
        assert_eq!(tenant_id("x"), None);
    }
}
