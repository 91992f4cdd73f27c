//! Case search: the `CaseIndex` port the server searches and feeds, the embedded tantivy adapter (the
//! default: an index in a folder, no server to run), and the Chinese text processing every adapter shares
//! (`text`: folding, jieba words, character and pinyin pairs, synonyms, identifiers, highlights).
//!
//! The index is a copy of the store, never the truth: the server feeds it, checks it (`fingerprint`,
//! `digests`) and rebuilds it from the store. Visibility is a `Scope` the server builds from the
//! principal, applied inside the engine's query. Personal identifiers reach this crate only as the keyed
//! hashes the store keeps.
//!
//! Depends on the domain only: no sea-orm, async-graphql, actix or redis.

pub mod doc;
pub mod embedded;
pub mod error;
#[cfg(feature = "meilisearch")]
pub mod meili;
pub mod page;
pub mod port;
pub mod query;
pub mod text;

#[cfg(feature = "testing")]
pub mod testing;

pub use doc::{CaseDoc, Fingerprint, category_label, kind_label};
pub use embedded::EmbeddedIndex;
pub use error::SearchError;
#[cfg(feature = "meilisearch")]
pub use meili::{MeiliIndex, tenant_token};
pub use page::{Count, Facets, Hit, SearchPage};
pub use port::{CaseIndex, Rebuild, Subtree};
pub use query::{Cursor, Filters, Grant, MAX_DEPTH, Scope, SearchQuery};
pub use text::{Identifier, Snippet};
