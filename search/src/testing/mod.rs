//! Test support for adapters (the `testing` feature): fixtures, and the contract every `CaseIndex` must
//! keep, written against `dyn CaseIndex` so each adapter's tests run the same suite.
//!
//! The suite panics on the first broken promise, with a message naming it.

mod contract;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fengqiao_domain::risk::RiskLevel;
use fengqiao_domain::{Ancestry, CaseKind, CaseStatus, Category, TenantLevel, Tier};

pub use contract::{contract_suite, rebuild_contract};

use crate::doc::CaseDoc;
use crate::error::SearchError;
use crate::page::SearchPage;
use crate::port::CaseIndex;
use crate::query::{Scope, SearchQuery};
use crate::text::Identifier;

/// The first tenant ids of a fixture county: siblings whose decimal forms share a prefix (1 and 10), so a
/// scope that compared ids as text would leak.
pub const TOWNSHIP_A: i64 = 1;
pub const TOWNSHIP_B: i64 = 10;
/// A village of township A, and one of township B.
pub const VILLAGE_A: i64 = 100;
pub const VILLAGE_B: i64 = 1000;
/// A grid of village A.
pub const GRID_A: i64 = 5;

/// The registration path of a case registered at `level` in a fixture county: county → township A →
/// village A → grid A, or township B → village B.
pub fn path(county: i64, level: TenantLevel, in_b: bool) -> Ancestry {
    let top = Ancestry::county(county);
    let (township, village) = if in_b {
        (TOWNSHIP_B, VILLAGE_B)
    } else {
        (TOWNSHIP_A, VILLAGE_A)
    };
    match level {
        TenantLevel::County => top,
        TenantLevel::Township => top.child(TenantLevel::Township, township),
        TenantLevel::Village => top
            .child(TenantLevel::Township, township)
            .child(TenantLevel::Village, village),
        TenantLevel::Grid => top
            .child(TenantLevel::Township, township)
            .child(TenantLevel::Village, village)
            .child(TenantLevel::Grid, GRID_A),
    }
}

/// A fixed moment: 2026-03-01 09:00 in China.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 1, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A case with neutral values; fill in what a test is about with struct update syntax.
pub fn case(id: i64, path: Ancestry) -> CaseDoc {
    CaseDoc {
        id,
        path,
        tenant_id: path.leaf(),
        code: format!("620521-20260301-{id:05}"),
        title: String::new(),
        description: String::new(),
        place: String::new(),
        addresses: Vec::new(),
        party_names: Vec::new(),
        id_card_hashes: Vec::new(),
        phone_hashes: Vec::new(),
        status: CaseStatus::Accepted,
        kind: CaseKind::Dispute,
        category: Category::Neighbour,
        tier: Tier::InitialMediation,
        risk: RiskLevel::Green,
        registered_at: base_time() + Duration::minutes(id),
        overdue: false,
        registered_by: 1,
        units: Vec::new(),
    }
}

/// The stand-in for the store's keyed hash in tests. It is not the value and not reversible by eye.
pub fn test_hash(value: &str) -> String {
    let mut acc: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.bytes() {
        acc ^= u64::from(byte);
        acc = acc.wrapping_mul(0x0100_0000_01b3);
    }
    format!("k{acc:016x}")
}

/// `test_hash` of a query's identifier, for `SearchQuery::with_text`.
pub fn hash_identifier(identifier: &Identifier) -> String {
    test_hash(identifier.expose())
}

/// A search of `text` in `scope`, identifiers hashed with `test_hash`.
pub fn query(scope: Scope, text: &str) -> SearchQuery {
    SearchQuery::new(scope).with_text(text, hash_identifier)
}

/// Unwraps a result of the index under test, failing the suite with what was being done.
pub fn must<T>(what: &str, result: Result<T, SearchError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what}: {error}"),
    }
}

/// Runs a search and returns its page.
pub async fn page(index: &dyn CaseIndex, query: &SearchQuery) -> SearchPage {
    must(
        &format!("searching {:?}", query.text),
        index.search(query).await,
    )
}

/// The ids a search returns, in rank order.
pub async fn ids(index: &dyn CaseIndex, query: &SearchQuery) -> Vec<i64> {
    page(index, query).await.ids()
}

/// The ids a search returns, sorted.
pub async fn id_set(index: &dyn CaseIndex, query: &SearchQuery) -> Vec<i64> {
    let mut out = ids(index, query).await;
    out.sort_unstable();
    out
}
