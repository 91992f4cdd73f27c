//! What the search index is fed from: the outbox of changed cases, and each case as the index holds it
//! (`CaseDoc`). See the migration `m20261127_000001_search_outbox`.
//!
//! Every transaction that changes a case calls `enqueue` before it commits, so a case is never stored
//! without the index hearing of it. The worker `claim`s open rows (on PostgreSQL one worker of all replicas
//! at a time, under a transaction-scoped advisory lock, its rows `FOR UPDATE SKIP LOCKED`), reads those cases
//! as they stand in the same transaction, feeds the index and marks the rows done, or leaves them open when
//! the index fails. Replaying a row is harmless: it upserts the case as it stands or deletes a missing one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fengqiao_search::CaseDoc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::Store;
use super::case_record::{CaseRecord, record};
use super::entities::{case, case_co_unit, case_party, search_outbox};
use crate::error::ApiResult;

/// The advisory lock key of the outbox worker on PostgreSQL.
const WORKER_LOCK: i64 = 0x0f3a_5ea7_c000_0001;

/// Records, in the transaction `db` that changes it, that a case changed.
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    case_id: i64,
    county_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    search_outbox::Entity::insert(search_outbox::ActiveModel {
        case_id: Set(case_id),
        county_id: Set(county_id),
        at: Set(now),
        done_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Open outbox rows claimed by this worker. On PostgreSQL the claim holds the transaction that locked the
/// rows and will mark them done; on SQLite (one process, one drain at a time) it holds none, and marking
/// them done is a short write of its own: a read transaction upgraded to a write fails when another writer
/// committed meanwhile.
pub struct Claim {
    txn: Option<DatabaseTransaction>,
    rows: Vec<i64>,
    /// The distinct cases the rows name, in the order they first changed.
    pub case_ids: Vec<i64>,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("rows", &self.rows.len())
            .field("cases", &self.case_ids.len())
            .finish()
    }
}

impl Claim {
    /// How many outbox rows are claimed.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// The claimed cases as they stand now; a case the store no longer has is missing from the answer.
    pub async fn docs(&self, store: &Store) -> ApiResult<Vec<CaseDoc>> {
        match &self.txn {
            Some(txn) => case_docs(txn, &self.case_ids).await,
            None => store.case_docs(&self.case_ids).await,
        }
    }

    /// Marks the claimed rows done and ends the claim.
    pub async fn done(self, store: &Store, now: DateTime<Utc>) -> ApiResult<()> {
        let txn = match self.txn {
            Some(txn) => txn,
            None => store.begin().await?,
        };
        for chunk in self.rows.chunks(1000) {
            search_outbox::Entity::update_many()
                .col_expr(search_outbox::Column::DoneAt, Expr::value(now))
                .filter(search_outbox::Column::Id.is_in(chunk.to_vec()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Leaves the claimed rows open for the next attempt.
    pub async fn abandon(self) -> ApiResult<()> {
        if let Some(txn) = self.txn {
            txn.rollback().await?;
        }
        Ok(())
    }
}

/// The cases `ids` as the index holds them, in no particular order.
pub(crate) async fn case_docs<C: ConnectionTrait>(db: &C, ids: &[i64]) -> ApiResult<Vec<CaseDoc>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows = case::Entity::find()
            .filter(case::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?;
        out.extend(docs_of(db, rows).await?);
    }
    Ok(out)
}

async fn docs_of<C: ConnectionTrait>(db: &C, rows: Vec<case::Model>) -> ApiResult<Vec<CaseDoc>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut co_units: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in case_co_unit::Entity::find()
        .filter(case_co_unit::Column::CaseId.is_in(ids.clone()))
        .all(db)
        .await?
    {
        co_units.entry(row.case_id).or_default().push(row.unit_id);
    }
    let mut parties: HashMap<i64, Vec<case_party::Model>> = HashMap::new();
    for party in case_party::Entity::find()
        .filter(case_party::Column::CaseId.is_in(ids))
        .order_by_asc(case_party::Column::Id)
        .all(db)
        .await?
    {
        parties.entry(party.case_id).or_default().push(party);
    }
    rows.into_iter()
        .map(|row| {
            let id = row.id;
            let units = co_units.remove(&id).unwrap_or_default();
            let case = record(row, units)?;
            let parties = parties.remove(&id).unwrap_or_default();
            Ok(doc_of(case, &parties))
        })
        .collect()
}

/// The index holds free text with the parties' personal data masked (as the roles that may not reveal it
/// see it), so that neither a search nor a highlight nor a document read with a tenant token shows it.
fn doc_of(case: CaseRecord, parties: &[case_party::Model]) -> CaseDoc {
    let names: Vec<&str> = parties.iter().map(|p| p.name.as_str()).collect();
    let mut units: Vec<i64> = case.state.lead_unit.into_iter().collect();
    units.extend(case.state.co_units.iter().copied());
    CaseDoc {
        id: case.id,
        path: case.origin,
        tenant_id: case.tenant_id,
        code: case.code,
        title: fengqiao_domain::mask_free_text(&case.title, &names),
        description: fengqiao_domain::mask_free_text(&case.description, &names),
        place: case.place,
        addresses: parties
            .iter()
            .filter(|p| !p.address.is_empty())
            .map(|p| p.address.clone())
            .collect(),
        party_names: parties.iter().map(|p| p.name.clone()).collect(),
        id_card_hashes: parties
            .iter()
            .filter_map(|p| p.id_card_hash.clone())
            .collect(),
        phone_hashes: parties
            .iter()
            .filter_map(|p| p.phone_hash.clone())
            .collect(),
        status: case.state.status,
        kind: case.kind,
        category: case.category,
        tier: case.state.tier,
        risk: case.risk.level,
        registered_at: case.registered_at,
        overdue: case.marked_overdue,
        registered_by: case.registered_by,
        units,
    }
}

impl Store {
    /// Claims up to `limit` open outbox rows, oldest first (of `counties` only, when given). `None` when another replica's worker holds the
    /// outbox (PostgreSQL) or nothing is open.
    pub async fn claim_outbox(
        &self,
        limit: u64,
        counties: Option<&[i64]>,
    ) -> ApiResult<Option<Claim>> {
        if counties.is_some_and(<[i64]>::is_empty) {
            return Ok(None);
        }
        let postgres = self.backend() == DatabaseBackend::Postgres;
        let txn = if postgres {
            let txn = self.begin().await?;
            let locked = txn
                .query_one_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT pg_try_advisory_xact_lock($1) AS locked",
                    [WORKER_LOCK.into()],
                ))
                .await?
                .map(|row| row.try_get::<bool>("", "locked"))
                .transpose()?
                .unwrap_or(false);
            if !locked {
                txn.rollback().await?;
                return Ok(None);
            }
            Some(txn)
        } else {
            None
        };
        let mut select = search_outbox::Entity::find()
            .filter(search_outbox::Column::DoneAt.is_null())
            .order_by_asc(search_outbox::Column::Id)
            .limit(limit);
        if let Some(counties) = counties {
            select = select.filter(search_outbox::Column::CountyId.is_in(counties.to_vec()));
        }
        let rows = match &txn {
            Some(txn) => {
                select
                    .lock_with_behavior(
                        sea_orm::sea_query::LockType::Update,
                        sea_orm::sea_query::LockBehavior::SkipLocked,
                    )
                    .all(txn)
                    .await?
            }
            None => select.all(&self.read().await?).await?,
        };
        if rows.is_empty() {
            if let Some(txn) = txn {
                txn.rollback().await?;
            }
            return Ok(None);
        }
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        let case_ids: Vec<i64> = rows
            .iter()
            .map(|row| row.case_id)
            .filter(|id| seen.insert(*id))
            .collect();
        Ok(Some(Claim {
            txn,
            rows: rows.into_iter().map(|r| r.id).collect(),
            case_ids,
        }))
    }

    /// Open outbox rows: changes the index has not taken yet.
    pub async fn outbox_backlog(&self, counties: Option<&[i64]>) -> ApiResult<u64> {
        if counties.is_some_and(<[i64]>::is_empty) {
            return Ok(0);
        }
        let mut select =
            search_outbox::Entity::find().filter(search_outbox::Column::DoneAt.is_null());
        if let Some(counties) = counties {
            select = select.filter(search_outbox::Column::CountyId.is_in(counties.to_vec()));
        }
        Ok(select.count(&self.read().await?).await?)
    }

    /// Opens again the rows of changes made at or after `since` (of `counties` only, when given), so the
    /// worker feeds them once more (after a rebuild that read the store from `since` on). Returns how many.
    pub async fn reopen_outbox(
        &self,
        since: DateTime<Utc>,
        counties: Option<&[i64]>,
    ) -> ApiResult<u64> {
        if counties.is_some_and(<[i64]>::is_empty) {
            return Ok(0);
        }
        let txn = self.begin().await?;
        let mut update = search_outbox::Entity::update_many()
            .col_expr(
                search_outbox::Column::DoneAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(search_outbox::Column::At.gte(since))
            .filter(search_outbox::Column::DoneAt.is_not_null());
        if let Some(counties) = counties {
            update = update.filter(search_outbox::Column::CountyId.is_in(counties.to_vec()));
        }
        let reopened = update.exec(&txn).await?.rows_affected;
        txn.commit().await?;
        Ok(reopened)
    }

    /// Deletes rows done before `before`. Returns how many.
    pub async fn prune_outbox(&self, before: DateTime<Utc>) -> ApiResult<u64> {
        let txn = self.begin().await?;
        let pruned = search_outbox::Entity::delete_many()
            .filter(search_outbox::Column::DoneAt.lt(before))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(pruned)
    }

    /// Up to `limit` cases with ids above `after`, in id order, as the index holds them: what a rebuild
    /// reads, county by county (`None`: every county).
    pub async fn case_docs_after(
        &self,
        county: Option<i64>,
        after: i64,
        limit: u64,
    ) -> ApiResult<Vec<CaseDoc>> {
        let db = self.read().await?;
        let mut select = case::Entity::find()
            .filter(case::Column::Id.gt(after))
            .order_by_asc(case::Column::Id)
            .limit(limit);
        if let Some(county) = county {
            select = select.filter(case::Column::CountyId.eq(county));
        }
        let rows = select.all(&db).await?;
        let mut docs = docs_of(&db, rows).await?;
        docs.sort_by_key(|d| d.id);
        Ok(docs)
    }

    /// The cases `ids` as the index holds them.
    pub async fn case_docs(&self, ids: &[i64]) -> ApiResult<Vec<CaseDoc>> {
        case_docs(&self.read().await?, ids).await
    }
}
