//! Case search in the application: the index the configuration names, fed from the store's outbox by a
//! worker, searched in the caller's scope with every hit checked again, rebuilt and verified on command.
//!
//! The store is the truth and the index a copy of it. A case change commits its outbox row with it; the
//! worker (woken when this process commits, else every second) feeds the index and marks the rows done.
//! While the index cannot take changes (a Meilisearch server down) writes go on, the backlog grows, and
//! searches answer `SEARCH_UNAVAILABLE`; the worker retries and drains the backlog when it is back.

use std::collections::BTreeMap;
use std::sync::Arc;

use fengqiao_domain::TenantLevel;
use fengqiao_search::{CaseIndex, Facets, Filters, Fingerprint, SearchError, Snippet};
use tokio::sync::{Mutex, Notify};

use crate::error::{ApiError, ApiResult};
use crate::store::cases::CaseRecord;

/// Which engine answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Embedded,
    Meilisearch,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Embedded => "embedded",
            Engine::Meilisearch => "meilisearch",
        }
    }
}

/// The index of this process and what feeds it.
pub struct Search {
    pub index: Arc<dyn CaseIndex>,
    pub engine: Engine,
    /// Wakes the worker after this process committed a case change.
    pub(crate) wake: Arc<Notify>,
    /// One drain at a time in this process (on PostgreSQL, an advisory lock keeps replicas apart).
    pub(crate) drain: Mutex<()>,
    pub(crate) batch: u64,
    /// The index was found empty or of another format when opened: build it from the store.
    pub needs_rebuild: bool,
    /// The counties whose changes this process feeds to its index; `None`, every county. A process
    /// serving part of a shared database's counties (tests run many servers on one database) sets it.
    counties: std::sync::RwLock<Option<Vec<i64>>>,
    /// The Meilisearch adapter, when that is the index: its settings are applied before it is used.
    pub meili: Option<fengqiao_search::MeiliIndex>,
    prepared: std::sync::atomic::AtomicBool,
    /// What signs tenant tokens (Meilisearch with a search key only).
    pub tokens: Option<TokenKey>,
}

/// A Meilisearch search key that signs tenant tokens, and where the tokens are used.
#[derive(Clone)]
pub struct TokenKey {
    pub url: String,
    pub index_uid: String,
    pub key_uid: String,
    pub key: crate::config::Secret,
    pub minutes: i64,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("url", &self.url)
            .field("index_uid", &self.index_uid)
            .field("key_uid", &self.key_uid)
            .finish_non_exhaustive()
    }
}

/// A tenant token for querying Meilisearch directly.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub url: String,
    pub index_uid: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Search {
    pub fn new(
        index: Arc<dyn CaseIndex>,
        engine: Engine,
        wake: Arc<Notify>,
        batch: u64,
        counties: Option<Vec<i64>>,
    ) -> Search {
        Search {
            index,
            engine,
            wake,
            drain: Mutex::new(()),
            batch,
            needs_rebuild: false,
            counties: std::sync::RwLock::new(counties),
            meili: None,
            prepared: std::sync::atomic::AtomicBool::new(false),
            tokens: None,
        }
    }

    /// Applies the Meilisearch index's settings once it is reachable; says whether the index is ready.
    /// The embedded index is always ready.
    pub async fn prepare(&self) -> bool {
        use std::sync::atomic::Ordering;
        let Some(meili) = &self.meili else {
            return true;
        };
        if self.prepared.load(Ordering::SeqCst) {
            return true;
        }
        match meili.prepare().await {
            Ok(()) => {
                self.prepared.store(true, Ordering::SeqCst);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the Meilisearch index is not ready");
                false
            }
        }
    }

    pub(crate) async fn ready(&self) -> ApiResult<()> {
        if self.prepare().await {
            Ok(())
        } else {
            Err(ApiError::SearchUnavailable)
        }
    }

    /// Feeds this process's index with the changes of `counties` only.
    pub fn limit_to_counties(&self, counties: Vec<i64>) {
        if let Ok(mut limited) = self.counties.write() {
            *limited = Some(counties);
        }
    }

    pub(crate) fn counties(&self) -> Option<Vec<i64>> {
        self.counties.read().ok().and_then(|c| c.clone())
    }
}

/// What `searchCases` asks, as the client sent it: `first` hits after the cursor `after`, or, when `last`
/// is given, the `last` hits before the cursor `before` (before the end without it).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: String,
    pub filters: Filters,
    pub first: usize,
    pub after: Option<String>,
    pub last: Option<usize>,
    pub before: Option<String>,
}

/// One hit, checked and hydrated from the store.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub case: CaseRecord,
    pub score: f32,
    pub title: Snippet,
    pub description: Snippet,
    pub cursor: String,
}

/// A page of hits with the counts over every hit.
#[derive(Debug, Clone)]
pub struct SearchResult {
    pub hits: Vec<SearchHit>,
    pub total: u64,
    pub facets: Facets,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReindexReport {
    pub cases: u64,
    pub replayed: u64,
}

/// The comparison of one county's cases in the store and in the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountyDrift {
    pub county: i64,
    pub store: Fingerprint,
    pub index: Fingerprint,
    /// Cases the index lacks.
    pub missing: Vec<i64>,
    /// Cases the index holds in another form than the store.
    pub stale: Vec<i64>,
    /// Documents of cases the store does not have.
    pub extra: Vec<i64>,
    /// Drifted cases by township (`None`: registered at the county, or unknown to the store).
    pub by_township: BTreeMap<Option<i64>, u64>,
    pub repaired: bool,
}

impl CountyDrift {
    pub fn drifted(&self) -> bool {
        self.store != self.index
    }
}

impl std::fmt::Display for CountyDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "county {}: store {} · index {}",
            self.county, self.store, self.index
        )?;
        if self.drifted() {
            write!(
                f,
                " · {} missing, {} stale, {} extra",
                self.missing.len(),
                self.stale.len(),
                self.extra.len()
            )?;
            for (township, n) in &self.by_township {
                match township {
                    Some(t) => write!(f, " · township {t}: {n}")?,
                    None => write!(f, " · county level: {n}")?,
                }
            }
            if self.repaired {
                write!(f, " · repaired")?;
            }
        } else {
            write!(f, " · in step")?;
        }
        Ok(())
    }
}

pub(crate) fn search_error(error: SearchError) -> ApiError {
    match error {
        SearchError::BadQuery { field, message } => ApiError::bad_input(field, message),
        SearchError::Unavailable(cause) => {
            // While the index is down every search and every try of the worker fails the same way: one
            // warning a minute says so, the rest go to debug.
            if UNAVAILABLE_WARNING.due(std::time::Instant::now()) {
                tracing::warn!(%cause, "search index unavailable");
            } else {
                tracing::debug!(%cause, "search index unavailable");
            }
            ApiError::SearchUnavailable
        }
        SearchError::Internal(cause) => ApiError::internal(anyhow::anyhow!(cause)),
    }
}

static UNAVAILABLE_WARNING: Throttle = Throttle::new(std::time::Duration::from_secs(60));

/// At most one "yes" per `every`: for a warning that every request would otherwise repeat.
pub(crate) struct Throttle {
    every: std::time::Duration,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Throttle {
    pub(crate) const fn new(every: std::time::Duration) -> Self {
        Throttle {
            every,
            last: std::sync::Mutex::new(None),
        }
    }

    /// Whether `every` has passed since the last "yes" (and, if so, this is the next one).
    pub(crate) fn due(&self, now: std::time::Instant) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        match *last {
            Some(at) if now.duration_since(at) < self.every => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

/// The level below `level`: what facets count by.
pub(crate) fn child_level(level: TenantLevel) -> Option<TenantLevel> {
    match level {
        TenantLevel::County => Some(TenantLevel::Township),
        TenantLevel::Township => Some(TenantLevel::Village),
        TenantLevel::Village => Some(TenantLevel::Grid),
        TenantLevel::Grid => None,
    }
}

/// The index of a command that needs none (`bootstrap-county`, `load-calendar`, `verify-rollups`): the
/// embedded index belongs to the server that runs on the same data directory (and cannot be opened twice),
/// and what the command changes reaches that server's index through the outbox. Every call is refused.
pub struct NotOpened;

impl NotOpened {
    fn refused() -> SearchError {
        SearchError::Unavailable(
            "this command does not open the search index; the server's worker feeds it from the outbox"
                .into(),
        )
    }
}

#[async_trait::async_trait]
impl CaseIndex for NotOpened {
    async fn upsert(&self, _: &[fengqiao_search::CaseDoc]) -> Result<(), SearchError> {
        Err(Self::refused())
    }

    async fn delete(&self, _: &[i64]) -> Result<(), SearchError> {
        Err(Self::refused())
    }

    async fn search(
        &self,
        _: &fengqiao_search::SearchQuery,
    ) -> Result<fengqiao_search::SearchPage, SearchError> {
        Err(Self::refused())
    }

    async fn fingerprint(
        &self,
        _: i64,
        _: Option<fengqiao_search::Subtree>,
    ) -> Result<Fingerprint, SearchError> {
        Err(Self::refused())
    }

    async fn digests(
        &self,
        _: i64,
        _: Option<fengqiao_search::Subtree>,
    ) -> Result<Vec<(i64, u64)>, SearchError> {
        Err(Self::refused())
    }

    async fn rebuild(&self) -> Result<Box<dyn fengqiao_search::Rebuild>, SearchError> {
        Err(Self::refused())
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;
    use std::time::{Duration, Instant};

    #[test]
    fn a_throttle_says_yes_once_per_period() {
        let throttle = Throttle::new(Duration::from_secs(60));
        let start = Instant::now();
        assert!(throttle.due(start));
        assert!(!throttle.due(start + Duration::from_secs(1)));
        assert!(!throttle.due(start + Duration::from_secs(59)));
        assert!(throttle.due(start + Duration::from_secs(60)));
        assert!(!throttle.due(start + Duration::from_secs(61)));
    }
}
