//! What a search answers: one page of hits, the total, and facet counts over every hit.

use fengqiao_domain::{CaseStatus, Category, TenantLevel};

use crate::query::Cursor;
use crate::text::Snippet;

/// Characters of a hit's title and of its description snippet, the same for every adapter.
pub(crate) const TITLE_CHARS: usize = 60;
pub(crate) const DESCRIPTION_CHARS: usize = 120;

/// One case found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: i64,
    /// The engine's relevance score; 0 when the search had no text. Comparable within one page only.
    pub score: f32,
    /// The title, with the matches marked.
    pub title: Snippet,
    /// A piece of the description around its first match.
    pub description: Snippet,
    /// The cursor that continues after this hit.
    pub cursor: Cursor,
}

/// A facet value and the number of hits that have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count<K> {
    pub value: K,
    pub count: u64,
}

/// Counts over all hits of the search, not only the page. Each list is sorted by count, largest first,
/// then by value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub categories: Vec<Count<Category>>,
    pub statuses: Vec<Count<CaseStatus>>,
    /// By tenant at `level`; `None` counts the cases registered above that level.
    pub tenants: Vec<Count<Option<i64>>>,
    pub level: Option<TenantLevel>,
}

/// A page of hits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// Every hit of the search in the scope, not only this page.
    pub total: u64,
    pub facets: Facets,
    pub has_next_page: bool,
}

impl SearchPage {
    pub fn ids(&self) -> Vec<i64> {
        self.hits.iter().map(|hit| hit.id).collect()
    }

    /// The cursor after the last hit of this page.
    pub fn end_cursor(&self) -> Option<Cursor> {
        self.hits.last().map(|hit| hit.cursor)
    }
}

/// Sorts counts the way `Facets` promises.
pub(crate) fn sort_counts<K: Ord>(counts: &mut [Count<K>]) {
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
}
