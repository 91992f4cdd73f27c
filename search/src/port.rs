//! The port every search engine adapter implements.

use async_trait::async_trait;
use fengqiao_domain::TenantLevel;

use crate::doc::{CaseDoc, Fingerprint};
use crate::error::SearchError;
use crate::page::SearchPage;
use crate::query::SearchQuery;

/// A part of a county: the subtree of `tenant` at `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subtree {
    pub level: TenantLevel,
    pub tenant: i64,
}

/// A case index. The store stays the truth: the index is fed from it (an outbox of changed case ids,
/// each turned into an `upsert` of the case as it stands or a `delete`), checked against it
/// (`fingerprint`, `digests`), and rebuilt from it (`rebuild`).
///
/// Every method is idempotent: upserting a document again replaces it, deleting a missing id does nothing.
/// A change is visible to `search` once the call returns.
#[async_trait]
pub trait CaseIndex: Send + Sync {
    /// Adds documents, replacing any with the same id.
    async fn upsert(&self, docs: &[CaseDoc]) -> Result<(), SearchError>;

    /// Removes documents by case id.
    async fn delete(&self, ids: &[i64]) -> Result<(), SearchError>;

    /// One page of the cases in the query's scope that match it, with totals and facets.
    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, SearchError>;

    /// The count and digest sum of the documents of a county, or of one subtree of it (by registration
    /// path), to compare with the same computed from the store (`Fingerprint::of`). Comparing by subtree
    /// narrows drift down to a township, then a village.
    async fn fingerprint(
        &self,
        county: i64,
        within: Option<Subtree>,
    ) -> Result<Fingerprint, SearchError>;

    /// The id and digest of every document of a county or subtree, sorted by id: what repairs drift
    /// (upsert the ids whose digest differs or is missing, delete the ids the store no longer has).
    async fn digests(
        &self,
        county: i64,
        within: Option<Subtree>,
    ) -> Result<Vec<(i64, u64)>, SearchError>;

    /// Starts building a replacement of the whole index. Searches and changes keep using the live index
    /// until `Rebuild::publish` swaps the new one in at once; dropping the rebuild abandons it.
    ///
    /// Changes made to the live index while a rebuild runs are not in the new one: the caller notes its
    /// outbox position before reading the store, and after publishing replays the outbox from there (each
    /// entry an idempotent upsert or delete of the case as the store has it then).
    async fn rebuild(&self) -> Result<Box<dyn Rebuild>, SearchError>;
}

/// An index being built to replace the live one.
#[async_trait]
pub trait Rebuild: Send {
    /// Adds documents to the new index, replacing any with the same id.
    async fn add(&mut self, docs: &[CaseDoc]) -> Result<(), SearchError>;

    /// Makes the new index the live one, atomically, and discards the old one.
    async fn publish(self: Box<Self>) -> Result<(), SearchError>;
}
