//! Case search as the caller may see it: the scope built from the caller's grants, units and reports, the
//! query, every hit checked again; search tokens for front ends; feeding, rebuilding and verifying the index.

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::search::{
    CountyDrift, IssuedToken, ReindexReport, SearchHit, SearchRequest, SearchResult, child_level,
    search_error,
};
use crate::store::cases::CaseRecord;
use crate::store::scope::{self, SystemPermit};
use chrono::Duration;
use fengqiao_domain::TenantLevel;
use fengqiao_search::{Cursor, Grant, MAX_DEPTH, Scope, SearchQuery};
use fengqiao_tenancy::Principal;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration as StdDuration;

/// How often the worker looks at the outbox when nothing woke it: changes committed by other replicas.
const POLL: StdDuration = StdDuration::from_secs(1);
/// How long the worker waits after being woken, gathering changes into one batch.
const GATHER: StdDuration = StdDuration::from_millis(50);
/// The longest wait between attempts while the index is unavailable.
const MAX_BACKOFF: StdDuration = StdDuration::from_secs(30);
/// Done outbox rows are kept this long, for rebuilds to replay.
const KEEP_DONE: Duration = Duration::days(2);
/// A rebuild replays the changes made from this long before it started reading the store: a transaction
/// that began earlier and committed after the read started is still replayed.
const REPLAY_MARGIN: Duration = Duration::minutes(10);
/// Cases read from the store at once while rebuilding or verifying.
const READ_BATCH: u64 = 1000;

impl AppState {
    /// Feeds the index from the outbox until it is empty or another replica holds it. Returns the number
    /// of outbox rows taken; fails when the index does, leaving the rows for the next attempt.
    pub async fn drain_search_outbox(&self) -> ApiResult<u64> {
        let _turn = self.search.drain.lock().await;
        self.search.ready().await?;
        scope::as_system(async {
            let mut taken = 0;
            let counties = self.search.counties();
            while let Some(claim) = self
                .store
                .claim_outbox(self.search.batch, counties.as_deref())
                .await?
            {
                let docs = match claim.docs(&self.store).await {
                    Ok(docs) => docs,
                    Err(e) => {
                        claim.abandon().await?;
                        return Err(e);
                    }
                };
                let present: HashSet<i64> = docs.iter().map(|d| d.id).collect();
                let gone: Vec<i64> = claim
                    .case_ids
                    .iter()
                    .copied()
                    .filter(|id| !present.contains(id))
                    .collect();
                let fed = async {
                    self.search.index.upsert(&docs).await?;
                    self.search.index.delete(&gone).await
                }
                .await;
                if let Err(e) = fed {
                    claim.abandon().await?;
                    return Err(search_error(e));
                }
                taken += claim.rows() as u64;
                claim.done(&self.store, self.now()).await?;
            }
            Ok(taken)
        })
        .await
    }

    /// The counties this process's index holds: those it is limited to, else every county.
    async fn indexed_counties(&self) -> ApiResult<Vec<i64>> {
        match self.search.counties() {
            Some(counties) => Ok(counties),
            None => self.store.county_ids().await,
        }
    }

    /// Changes the index has not taken yet.
    pub async fn search_backlog(&self) -> ApiResult<u64> {
        let counties = self.search.counties();
        scope::as_system(self.store.outbox_backlog(counties.as_deref())).await
    }

    /// Drains the outbox until nothing is left, waiting out another replica's turn: for commands and
    /// tests that need every change searchable before they go on.
    pub async fn settle_search(&self) -> ApiResult<()> {
        loop {
            self.drain_search_outbox().await?;
            if self.search_backlog().await? == 0 {
                return Ok(());
            }
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
    }

    /// Runs the outbox worker for as long as the state lives: woken by this process's commits, else every
    /// second; backing off while the index is unavailable; pruning done rows now and then.
    pub fn start_search_worker(self: &Arc<Self>) {
        let state: Weak<AppState> = Arc::downgrade(self);
        let wake = self.search.wake.clone();
        tokio::spawn(async move {
            let mut backoff = POLL;
            let mut failing = false;
            let mut last_prune = std::time::Instant::now();
            loop {
                tokio::select! {
                    // A moment for the changes of a burst to gather into one batch (one index commit).
                    _ = wake.notified() => tokio::time::sleep(GATHER).await,
                    _ = tokio::time::sleep(if failing { backoff } else { POLL }) => {}
                }
                let Some(state) = state.upgrade() else { break };
                match state.drain_search_outbox().await {
                    Ok(_) => {
                        if failing {
                            tracing::info!("search index reachable again; backlog drained");
                        }
                        failing = false;
                        backoff = POLL;
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e.detail(), "search index not fed; retrying");
                        }
                        failing = true;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
                if last_prune.elapsed() > StdDuration::from_secs(3600) {
                    last_prune = std::time::Instant::now();
                    let before = state.now() - KEEP_DONE;
                    if let Err(e) = scope::as_system(state.store.prune_outbox(before)).await {
                        tracing::warn!(error = %e.detail(), "pruning the search outbox");
                    }
                }
            }
        });
    }

    /// Builds a new index from the store and swaps it in at once; then replays the changes made while it
    /// read, so nothing committed meanwhile is missing.
    pub async fn reindex(&self, system: &SystemPermit) -> ApiResult<ReindexReport> {
        self.search.ready().await?;
        system
            .run(async {
                let started = self.now();
                let mut rebuild = self.search.index.rebuild().await.map_err(search_error)?;
                let mut report = ReindexReport::default();
                let counties = self.search.counties();
                let parts: Vec<Option<i64>> = match &counties {
                    Some(counties) => counties.iter().copied().map(Some).collect(),
                    None => vec![None],
                };
                for county in parts {
                    let mut after = 0;
                    loop {
                        let docs = self
                            .store
                            .case_docs_after(county, after, READ_BATCH)
                            .await?;
                        let Some(last) = docs.last() else { break };
                        after = last.id;
                        report.cases += docs.len() as u64;
                        rebuild.add(&docs).await.map_err(search_error)?;
                    }
                }
                rebuild.publish().await.map_err(search_error)?;
                report.replayed = self
                    .store
                    .reopen_outbox(started - REPLAY_MARGIN, counties.as_deref())
                    .await?;
                self.settle_search().await?;
                Ok(report)
            })
            .await
    }

    /// Rebuilds the index when it lacks a county that has cases (a new Meilisearch server or index uid).
    pub async fn fill_empty_index(&self, system: &SystemPermit) -> ApiResult<()> {
        self.search.ready().await?;
        let empty = scope::as_system(async {
            for county in self.indexed_counties().await? {
                let has_cases = !self
                    .store
                    .case_docs_after(Some(county), 0, 1)
                    .await?
                    .is_empty();
                if has_cases
                    && self
                        .search
                        .index
                        .fingerprint(county, None)
                        .await
                        .map_err(search_error)?
                        .count
                        == 0
                {
                    return Ok::<_, ApiError>(true);
                }
            }
            Ok(false)
        })
        .await?;
        if empty {
            tracing::info!("the search index lacks counties that have cases; rebuilding it");
            let report = self.reindex(system).await?;
            tracing::info!(cases = report.cases, "search index rebuilt");
        }
        Ok(())
    }

    /// A Meilisearch tenant token for the caller's search scope, for front ends that query Meilisearch
    /// directly: signed with the search key (never the master key), expiring within the hour.
    pub async fn search_token(&self, principal: &Principal) -> ApiResult<IssuedToken> {
        let Some(key) = &self.search.tokens else {
            return Err(ApiError::Forbidden(
                "this server issues no search tokens: it needs a Meilisearch index and a search key".into(),
            ));
        };
        let (scope, _) = self.search_scope(principal).await?;
        if scope.is_empty() {
            return Err(ApiError::Forbidden(
                "the caller may read no case to search".into(),
            ));
        }
        let now = self.now();
        let expires_at = now + Duration::minutes(key.minutes);
        let token = fengqiao_search::tenant_token(
            &scope,
            &key.key_uid,
            key.key.expose(),
            &key.index_uid,
            expires_at,
            now,
        )
        .map_err(search_error)?;
        Ok(IssuedToken {
            token,
            url: key.url.clone(),
            index_uid: key.index_uid.clone(),
            expires_at,
        })
    }

    /// Compares every county's cases in the store with the index, by count and content digest; with
    /// `repair`, upserts what is missing or stale and deletes what the store does not have.
    pub async fn verify_index(&self, repair: bool) -> ApiResult<Vec<CountyDrift>> {
        scope::as_system(async {
            self.settle_search().await?;
            let mut out = Vec::new();
            for county in self.indexed_counties().await? {
                out.push(self.verify_county(county, repair).await?);
            }
            Ok(out)
        })
        .await
    }

    async fn verify_county(&self, county: i64, repair: bool) -> ApiResult<CountyDrift> {
        let mut drift = CountyDrift {
            county,
            ..CountyDrift::default()
        };
        let mut stored: Vec<(i64, u64, Option<i64>)> = Vec::new();
        let mut after = 0;
        loop {
            let docs = self
                .store
                .case_docs_after(Some(county), after, READ_BATCH)
                .await?;
            let Some(last) = docs.last() else { break };
            after = last.id;
            for doc in &docs {
                let digest = doc.digest();
                drift.store.add_digest(digest);
                stored.push((doc.id, digest, doc.path.township));
            }
        }
        drift.index = self
            .search
            .index
            .fingerprint(county, None)
            .await
            .map_err(search_error)?;
        if !drift.drifted() {
            return Ok(drift);
        }
        let indexed = self
            .search
            .index
            .digests(county, None)
            .await
            .map_err(search_error)?;
        let indexed: std::collections::HashMap<i64, u64> = indexed.into_iter().collect();
        let mut known = HashSet::with_capacity(stored.len());
        for (id, digest, township) in &stored {
            known.insert(*id);
            match indexed.get(id) {
                None => drift.missing.push(*id),
                Some(d) if d != digest => drift.stale.push(*id),
                Some(_) => continue,
            }
            *drift.by_township.entry(*township).or_default() += 1;
        }
        for id in indexed.keys() {
            if !known.contains(id) {
                drift.extra.push(*id);
                *drift.by_township.entry(None).or_default() += 1;
            }
        }
        drift.extra.sort_unstable();
        if repair {
            let fix: Vec<i64> = drift.missing.iter().chain(&drift.stale).copied().collect();
            for chunk in fix.chunks(READ_BATCH as usize) {
                let docs = self.store.case_docs(chunk).await?;
                self.search
                    .index
                    .upsert(&docs)
                    .await
                    .map_err(search_error)?;
            }
            self.search
                .index
                .delete(&drift.extra)
                .await
                .map_err(search_error)?;
            drift.repaired = true;
        }
        Ok(drift)
    }

    /// The search scope of a principal: the same cases `cases` lists, built here from the authorizer,
    /// never from the request.
    pub async fn search_scope(&self, principal: &Principal) -> ApiResult<(Scope, TenantLevel)> {
        let home = self
            .directory
            .must(&self.store, principal.tenant_id)
            .await?;
        let county = home.ancestry.county;
        let case_scope = self.case_scope(principal).await?;
        if case_scope
            .subtrees
            .iter()
            .any(|(level, tenant)| *level == TenantLevel::County && *tenant == county)
        {
            return Ok((Scope::county(county), home.level));
        }
        let mut grants: Vec<Grant> = case_scope
            .subtrees
            .iter()
            .map(|(level, tenant)| Grant::Subtree {
                level: *level,
                tenant: *tenant,
            })
            .collect();
        if !case_scope.units.is_empty() {
            grants.extend(case_scope.unit_subtrees.iter().map(|(level, tenant)| {
                Grant::UnitCases {
                    level: *level,
                    tenant: *tenant,
                    units: case_scope.units.clone(),
                }
            }));
        }
        if let Some(reporter) = case_scope.reporter {
            grants.extend(case_scope.report_subtrees.iter().map(|(level, tenant)| {
                Grant::Reports {
                    level: *level,
                    tenant: *tenant,
                    reporter,
                }
            }));
        }
        if !case_scope.summoned_cases.is_empty() {
            // As in `cases`: a summons shows a case only where the member's unit role reaches.
            let summoned = self.store.case_docs(&case_scope.summoned_cases).await?;
            let within: Vec<i64> = summoned
                .iter()
                .filter(|doc| {
                    case_scope
                        .unit_subtrees
                        .iter()
                        .any(|(level, tenant)| doc.path.at(*level) == Some(*tenant))
                })
                .map(|doc| doc.id)
                .collect();
            if !within.is_empty() {
                grants.push(Grant::Cases(within));
            }
        }
        Ok((Scope::grants(county, grants), home.level))
    }

    /// Searches the cases the principal may read. Every hit is read from the store and checked again as
    /// `case` would; one that fails the check (an index that lags a change of permissions or of the case)
    /// is left out.
    /// What `search_cases` asks the index for `request`: the caller's scope (built here, never taken
    /// from the client), the text with identifiers as keyed hashes, the filters, the page and the facets.
    pub async fn search_query(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> ApiResult<SearchQuery> {
        let after = request
            .after
            .as_deref()
            .map(Cursor::decode)
            .transpose()
            .map_err(search_error)?;
        // A whole number would be matched exactly through its keyed hash: a side channel around the masks
        // (a masked ID number leaves a few thousand candidates). Exact look-up is a reveal of its own.
        if !fengqiao_search::text::extract_identifiers(&request.text)
            .1
            .is_empty()
        {
            return Err(ApiError::bad_input(
                "text",
                "full-text search does not match ID card or phone numbers; look them up with \
                 findCasesByParty, which needs the reveal permission and a reason, and is audited",
            ));
        }
        let (scope, home_level) = self.search_scope(principal).await?;
        let mut query = SearchQuery::new(scope)
            .with_text(&request.text, |id| self.vault.lookup_hash(id.expose()))
            .with_filters(request.filters)
            .page(request.first, after);
        if let Some(level) = child_level(home_level) {
            query = query.with_facet_level(level);
        }
        query.validate().map_err(search_error)?;
        Ok(query)
    }

    pub async fn search_cases(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> ApiResult<SearchResult> {
        let Some(last) = request.last else {
            let query = self.search_query(principal, request).await?;
            let has_previous = query.offset() > 0;
            let mut result = self.search_page(principal, query).await?;
            result.has_previous_page = has_previous;
            return Ok(result);
        };
        // Backwards: the hits at [start, end), where `end` is the position of the hit `before` names, or
        // the number of hits (read by a first, one-hit search) without it.
        let too_deep = |field: &str| {
            ApiError::bad_input(
                field,
                format!("results past the first {MAX_DEPTH} are not served; narrow the search"),
            )
        };
        let end = match &request.before {
            Some(before) => Cursor::decode(before)
                .map_err(|_| ApiError::bad_input("before", "not a cursor of this search"))?
                .offset()
                .saturating_sub(1),
            None => {
                let probe = SearchRequest {
                    first: 1,
                    after: None,
                    ..request.clone()
                };
                let query = self.search_query(principal, probe).await?;
                let total = self.search_page(principal, query).await?.total;
                // Meilisearch counts up to the served depth and no further: at it, the end is unknown.
                if total >= MAX_DEPTH as u64 {
                    return Err(too_deep("last"));
                }
                total as usize
            }
        };
        if end > MAX_DEPTH {
            return Err(too_deep("before"));
        }
        let start = end.saturating_sub(last);
        let forward = SearchRequest {
            first: (end - start).max(1),
            after: Some(Cursor::at(start).encode()),
            last: None,
            before: None,
            ..request
        };
        let query = self.search_query(principal, forward).await?;
        let mut result = self.search_page(principal, query).await?;
        result
            .hits
            .retain(|hit| Cursor::decode(&hit.cursor).is_ok_and(|c| c.offset() <= end));
        result.end_cursor = result.hits.last().map(|h| h.cursor.clone());
        result.has_previous_page = start > 0;
        result.has_next_page = (end as u64) < result.total;
        Ok(result)
    }

    /// One page of hits for a query built by `search_query`, each read from the store and checked.
    async fn search_page(
        &self,
        principal: &Principal,
        query: SearchQuery,
    ) -> ApiResult<SearchResult> {
        self.search.ready().await?;
        let page = self
            .search
            .index
            .search(&query)
            .await
            .map_err(search_error)?;
        // Every hit is read from the store (one query for the page) and checked as `case` checks it.
        let ids: Vec<i64> = page.hits.iter().map(|hit| hit.id).collect();
        let mut stored: HashMap<i64, CaseRecord> = self
            .store
            .cases_by_ids(&ids)
            .await?
            .into_iter()
            .map(|case| (case.id, case))
            .collect();
        let mut hits = Vec::with_capacity(page.hits.len());
        for hit in page.hits {
            let readable = match stored.remove(&hit.id) {
                Some(case) => self.readable(principal, case).await,
                None => Err(ApiError::NotFound),
            };
            match readable {
                Ok(case) => hits.push(SearchHit {
                    case,
                    score: hit.score,
                    title: hit.title,
                    description: hit.description,
                    cursor: hit.cursor.encode(),
                }),
                Err(ApiError::NotFound | ApiError::Forbidden(_)) => {
                    tracing::warn!(
                        case = hit.id,
                        user = principal.user_id,
                        "a search hit failed the read check; left out"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let end_cursor = hits.last().map(|h| h.cursor.clone());
        Ok(SearchResult {
            hits,
            total: page.total,
            facets: page.facets,
            has_previous_page: false,
            has_next_page: page.has_next_page,
            end_cursor,
        })
    }
}
