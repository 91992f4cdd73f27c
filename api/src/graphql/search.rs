//! Case search: `searchCases` over the index, in the caller's scope, each hit checked and read from the
//! store.

use async_graphql::connection::PageInfo;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use fengqiao_search::{Filters, Snippet};

use super::enums::*;
use super::nodes::{CaseNode, TenantNode};
use super::paging::{self, Take};
use super::{caller, state};
use crate::search::{SearchHit, SearchRequest, SearchResult};

/// What to search among, besides the text.
#[derive(InputObject, Default)]
pub struct CaseSearchFilter {
    pub statuses: Option<Vec<CaseStatus>>,
    pub kinds: Option<Vec<CaseKind>>,
    pub categories: Option<Vec<Category>>,
    pub tiers: Option<Vec<Tier>>,
    pub risks: Option<Vec<RiskLevel>>,
    pub registered_from: Option<DateTime<Utc>>,
    pub registered_before: Option<DateTime<Utc>>,
    /// Only cases marked past a deadline (true) or only those not (false).
    pub overdue: Option<bool>,
}

fn mapped<G: Copy, D: From<G>>(values: Option<Vec<G>>) -> Vec<D> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect()
}

impl From<CaseSearchFilter> for Filters {
    fn from(f: CaseSearchFilter) -> Self {
        Filters {
            statuses: mapped(f.statuses),
            kinds: mapped(f.kinds),
            categories: mapped(f.categories),
            tiers: mapped(f.tiers),
            risks: mapped(f.risks),
            registered_from: f.registered_from,
            registered_before: f.registered_before,
            overdue: f.overdue,
        }
    }
}

/// A piece of text with what matched the search marked.
#[derive(SimpleObject)]
pub struct Highlight {
    /// The text, cut around the first match.
    pub text: String,
    /// The text as HTML: escaped, each match in `<em>`.
    pub html: String,
    /// What matched, in order.
    pub matches: Vec<String>,
}

impl From<&Snippet> for Highlight {
    fn from(s: &Snippet) -> Self {
        Highlight {
            text: s.text.clone(),
            html: s.to_html(),
            matches: s.marked().into_iter().map(str::to_owned).collect(),
        }
    }
}

/// One case found: the edge of a search's connection.
pub struct CaseSearchEdge(SearchHit);

#[Object(name = "CaseSearchHit")]
impl CaseSearchEdge {
    /// The case, as `case` shows it (parties masked).
    async fn node(&self) -> CaseNode {
        CaseNode(self.0.case.clone())
    }

    /// The case, as `case` shows it (parties masked).
    #[graphql(deprecation = "Use node, as Relay reads it.")]
    async fn case(&self) -> CaseNode {
        CaseNode(self.0.case.clone())
    }

    /// The engine's relevance; comparable within one page only.
    async fn score(&self) -> f64 {
        f64::from(self.0.score)
    }

    async fn title(&self) -> Highlight {
        (&self.0.title).into()
    }

    async fn description(&self) -> Highlight {
        (&self.0.description).into()
    }

    /// Continues the search after this hit (`after`), or before it (`before`).
    async fn cursor(&self) -> &str {
        &self.0.cursor
    }
}

#[derive(SimpleObject)]
pub struct CategoryCount {
    pub category: Category,
    pub count: u64,
}

#[derive(SimpleObject)]
pub struct StatusCount {
    pub status: CaseStatus,
    pub count: u64,
}

/// Hits registered in the subtree of one tenant below the caller's own.
pub struct TenantCount {
    tenant: Option<i64>,
    count: u64,
}

#[Object]
impl TenantCount {
    /// The tenant; null counts the hits registered above that level (at the caller's own center).
    async fn tenant(&self, ctx: &Context<'_>) -> Result<Option<TenantNode>> {
        let Some(id) = self.tenant else {
            return Ok(None);
        };
        let principal = &caller(ctx)?.principal;
        Ok(Some(TenantNode(state(ctx).tenant(principal, id).await?)))
    }

    async fn count(&self) -> u64 {
        self.count
    }
}

/// Counts over every hit of the search, not only the page; largest first.
pub struct CaseSearchFacets(fengqiao_search::Facets);

#[Object]
impl CaseSearchFacets {
    async fn categories(&self) -> Vec<CategoryCount> {
        self.0
            .categories
            .iter()
            .map(|c| CategoryCount {
                category: c.value.into(),
                count: c.count,
            })
            .collect()
    }

    async fn statuses(&self) -> Vec<StatusCount> {
        self.0
            .statuses
            .iter()
            .map(|c| StatusCount {
                status: c.value.into(),
                count: c.count,
            })
            .collect()
    }

    /// By tenant one level below the caller's (townships for a county, villages for a township).
    async fn tenants(&self) -> Vec<TenantCount> {
        self.0
            .tenants
            .iter()
            .map(|c| TenantCount {
                tenant: c.value,
                count: c.count,
            })
            .collect()
    }

    /// The level `tenants` counts by; null when the caller's level has none below.
    async fn level(&self) -> Option<TenantLevel> {
        self.0.level.map(Into::into)
    }
}

/// One page of a search: a Relay connection of the cases found, most relevant first (newest first for
/// an empty text), with the counts over every hit.
pub struct CaseSearchResult(SearchResult);

#[Object]
impl CaseSearchResult {
    #[graphql(complexity = "10 * child_complexity")]
    async fn edges(&self) -> Vec<CaseSearchEdge> {
        self.0.hits.iter().cloned().map(CaseSearchEdge).collect()
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.0.has_previous_page,
            has_next_page: self.0.has_next_page,
            start_cursor: self.0.hits.first().map(|h| h.cursor.clone()),
            end_cursor: self.0.hits.last().map(|h| h.cursor.clone()),
        }
    }

    /// Every hit in the caller's scope, not only this page.
    async fn total_count(&self) -> u64 {
        self.0.total
    }

    #[graphql(
        complexity = "10 * child_complexity",
        deprecation = "Use edges, as Relay reads them."
    )]
    async fn hits(&self) -> Vec<CaseSearchEdge> {
        self.0.hits.iter().cloned().map(CaseSearchEdge).collect()
    }

    /// Every hit in the caller's scope, not only this page.
    #[graphql(deprecation = "Use totalCount.")]
    async fn total(&self) -> u64 {
        self.0.total
    }

    async fn facets(&self) -> CaseSearchFacets {
        CaseSearchFacets(self.0.facets.clone())
    }

    #[graphql(deprecation = "Use pageInfo.hasNextPage.")]
    async fn has_next_page(&self) -> bool {
        self.0.has_next_page
    }

    /// Pass as `after` for the next page.
    #[graphql(deprecation = "Use pageInfo.endCursor.")]
    async fn end_cursor(&self) -> Option<&str> {
        self.0.end_cursor.as_deref()
    }
}

fn one_way(field: &str) -> crate::error::ApiError {
    crate::error::ApiError::bad_input(
        field,
        "a search pages forwards (first, after) or backwards (last, before), not both ways at once",
    )
}

/// A Meilisearch tenant token: query the index `indexUid` at `url` directly with it as the bearer; it
/// finds only the cases of the caller's scope, shows no personal data, and expires at `expiresAt`.
#[derive(SimpleObject)]
pub struct SearchToken {
    pub token: String,
    pub url: String,
    pub index_uid: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct CaseSearchQuery;

#[Object]
impl CaseSearchQuery {
    /// Full-text search of the cases the caller may read: words of the title, description or place, a
    /// party's name or address, or a case code. A text with an ID card or phone number is refused
    /// (`BAD_USER_INPUT`): look numbers up with `findCasesByParty`. Titles and descriptions are indexed
    /// with personal data masked, so highlights show none. Synonyms, traditional characters and homophone typos find what they mean. An empty text
    /// lists the scope, newest first. `SEARCH_UNAVAILABLE` when the index cannot answer for a moment.
    // The field's GraphQL arguments, each a parameter as async-graphql reads them.
    #[allow(clippy::too_many_arguments)]
    async fn search_cases(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 200 characters.")] text: String,
        filter: Option<CaseSearchFilter>,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 100.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<CaseSearchResult> {
        let principal = &caller(ctx)?.principal;
        // A search's cursors are places in its ranking: one page lies after one of them or before one.
        let (first, last) = match paging::take(first, last)? {
            Take::First(_) if before.is_some() => return Err(one_way("before").into()),
            Take::Last(_) if after.is_some() => return Err(one_way("after").into()),
            Take::First(n) => (n as usize, None),
            Take::Last(n) => (0, Some(n as usize)),
        };
        let request = SearchRequest {
            text,
            filters: filter.map(Filters::from).unwrap_or_default(),
            first,
            after,
            last,
            before,
        };
        Ok(CaseSearchResult(
            state(ctx).search_cases(principal, request).await?,
        ))
    }

    /// A tenant token for front ends that query Meilisearch directly, restricted to the caller's scope and
    /// expiring within an hour. `FORBIDDEN` when the server searches an embedded index or the caller may
    /// read no case.
    async fn search_token(&self, ctx: &Context<'_>) -> Result<SearchToken> {
        let principal = &caller(ctx)?.principal;
        let issued = state(ctx).search_token(principal).await?;
        Ok(SearchToken {
            token: issued.token,
            url: issued.url,
            index_uid: issued.index_uid,
            expires_at: issued.expires_at,
        })
    }
}
