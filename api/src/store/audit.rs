//! The audit trail: sign-ins and sign-outs, account, grant and membership changes, reveals of and
//! look-ups by residents' personal data, exports. Appended, never changed: on PostgreSQL the server's role
//! is granted no UPDATE or DELETE on the table, and each county's records form a hash chain
//! (`verify_audit_chain`, the `verify-audit` command) that shows where anyone who could write past the
//! grants changed, removed or added one.

use chrono::{DateTime, Timelike, Utc};
use fengqiao_domain::TenantLevel;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::Store;
use super::entities::{audit_anchor, audit_record, tenant};
use crate::error::{ApiError, ApiResult};

/// Which page of the audit trail to read (`Store::audit_page`).
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub county_id: i64,
    /// A township, village or grid whose accounts' records are wanted; `None`: the whole county.
    pub within: Option<(TenantLevel, i64)>,
    pub action: Option<String>,
    pub before: Option<i64>,
    /// Only records made before this time.
    pub until: Option<DateTime<Utc>>,
    pub limit: u64,
}

/// One audit record to append.
#[derive(Debug, Clone)]
pub struct NewAuditRecord {
    pub at: DateTime<Utc>,
    pub county_id: i64,
    pub tenant_id: Option<i64>,
    pub user_id: Option<i64>,
    pub client_address: Option<String>,
    /// What was done, e.g. `party.lookup`.
    pub action: &'static str,
    /// What it was done to; never personal data in the clear (a keyed hash stands for a number).
    pub object: String,
    /// `allowed`, `denied`, `rate_limited`, ….
    pub outcome: &'static str,
    pub reason: String,
}

impl NewAuditRecord {
    /// What an account did in its county, from `client`: allowed, with no reason (see `outcome`,
    /// `because`).
    pub fn by(
        principal: &fengqiao_tenancy::Principal,
        county_id: i64,
        client: Option<std::net::IpAddr>,
        at: DateTime<Utc>,
        action: &'static str,
        object: String,
    ) -> Self {
        NewAuditRecord {
            at,
            county_id,
            tenant_id: Some(principal.tenant_id),
            user_id: Some(principal.user_id),
            client_address: client.map(|a| a.to_string()),
            action,
            object,
            outcome: "allowed",
            reason: String::new(),
        }
    }

    pub fn outcome(self, outcome: &'static str) -> Self {
        NewAuditRecord { outcome, ..self }
    }

    pub fn because(self, reason: impl Into<String>) -> Self {
        NewAuditRecord {
            reason: reason.into(),
            ..self
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub county_id: i64,
    pub tenant_id: Option<i64>,
    pub user_id: Option<i64>,
    pub client_address: Option<String>,
    pub action: String,
    pub object: String,
    pub outcome: String,
    pub reason: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<audit_record::Model> for AuditRecord {
    fn from(m: audit_record::Model) -> Self {
        AuditRecord {
            id: m.id,
            at: m.at,
            county_id: m.county_id,
            tenant_id: m.tenant_id,
            user_id: m.user_id,
            client_address: m.client_address,
            action: m.action,
            object: m.object,
            outcome: m.outcome,
            reason: m.reason,
            prev_hash: m.prev_hash,
            hash: m.hash,
        }
    }
}

/// The advisory lock (PostgreSQL) under which a county's next record is chained: this base with the
/// county's id in its low bits.
const CHAIN_LOCK: i64 = 0x0a0d_17c4 << 32;

/// The hash of a record chained after `prev_hash`: SHA-256 over a JSON array of the previous hash and every
/// field but the id (the chain's order is the ids'), hex. The time is taken to the microsecond, as both
/// databases keep it.
fn chain_hash(prev_hash: &str, r: &AuditFields<'_>) -> String {
    use sha2::Digest;
    let text = serde_json::json!([
        prev_hash,
        r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        r.county_id,
        r.tenant_id,
        r.user_id,
        r.client_address,
        r.action,
        r.object,
        r.outcome,
        r.reason,
    ])
    .to_string();
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hashed fields of a record, new or stored.
struct AuditFields<'a> {
    at: DateTime<Utc>,
    county_id: i64,
    tenant_id: Option<i64>,
    user_id: Option<i64>,
    client_address: Option<&'a str>,
    action: &'a str,
    object: &'a str,
    outcome: &'a str,
    reason: &'a str,
}

impl AuditRecord {
    fn fields(&self) -> AuditFields<'_> {
        AuditFields {
            at: self.at,
            county_id: self.county_id,
            tenant_id: self.tenant_id,
            user_id: self.user_id,
            client_address: self.client_address.as_deref(),
            action: &self.action,
            object: &self.object,
            outcome: &self.outcome,
            reason: &self.reason,
        }
    }
}

/// What `Store::verify_audit_chain` found of one county's trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    pub county_id: i64,
    /// Records read.
    pub records: u64,
    /// Records from before the chain (no hash), at its start.
    pub unchained: u64,
    /// The first record whose hash, or whose link to the record before, is not what it should be: its id
    /// and what is wrong.
    pub broken_at: Option<(i64, &'static str)>,
    /// The newest record's hash: an anchor to keep outside the database.
    pub head: String,
    /// When older records were pruned, the last of them: the chain was checked from its anchor.
    pub anchored_through: Option<i64>,
}

/// What a pruning removed, and the anchor it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub county_id: i64,
    pub records: u64,
    pub through_id: i64,
    pub hash: String,
}

/// Audit records are kept at least this long (GB/T 22239-2019 8.1.4.3 asks for six months).
pub const AUDIT_KEPT_DAYS: i64 = 180;

/// Records verified per read.
const VERIFY_BATCH: u64 = 5_000;

impl Store {
    pub async fn append_audit(&self, record: NewAuditRecord) -> ApiResult<()> {
        let txn = self.begin().await?;
        append_audit_in(&txn, record).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A page of the audit trail, newest first: the records of the county, or (`within` a township,
    /// village or grid) those made by accounts acting in that subtree; of one action if given; with ids
    /// below `before`. One more than `limit` is read, to tell whether there are more.
    pub async fn audit_page(&self, page: &AuditPage) -> ApiResult<(Vec<AuditRecord>, bool)> {
        let mut query =
            audit_record::Entity::find().filter(audit_record::Column::CountyId.eq(page.county_id));
        if let Some((level, tenant)) = page.within {
            let column = match level {
                TenantLevel::County => tenant::Column::CountyId,
                TenantLevel::Township => tenant::Column::TownshipId,
                TenantLevel::Village => tenant::Column::VillageId,
                TenantLevel::Grid => tenant::Column::GridId,
            };
            query = query.filter(
                audit_record::Column::TenantId.in_subquery(
                    Query::select()
                        .column(tenant::Column::Id)
                        .from(tenant::Entity)
                        .and_where(column.eq(tenant))
                        .to_owned(),
                ),
            );
        }
        if let Some(action) = &page.action {
            query = query.filter(audit_record::Column::Action.eq(action.as_str()));
        }
        if let Some(before) = page.before {
            query = query.filter(audit_record::Column::Id.lt(before));
        }
        if let Some(until) = page.until {
            query = query.filter(audit_record::Column::At.lt(until));
        }
        let mut records: Vec<AuditRecord> = query
            .order_by_desc(audit_record::Column::Id)
            .limit(page.limit + 1)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let more = records.len() as u64 > page.limit;
        records.truncate(page.limit as usize);
        Ok((records, more))
    }

    /// The counties that have audit records.
    pub async fn audited_counties(&self) -> ApiResult<Vec<i64>> {
        let mut counties: Vec<i64> = audit_record::Entity::find()
            .select_only()
            .column(audit_record::Column::CountyId)
            .distinct()
            .into_tuple()
            .all(&self.read().await?)
            .await?;
        counties.sort_unstable();
        Ok(counties)
    }

    /// Walks a county's trail in order and checks every record's hash and its link to the one before.
    pub async fn verify_audit_chain(&self, county_id: i64) -> ApiResult<ChainCheck> {
        let mut check = ChainCheck {
            county_id,
            records: 0,
            unchained: 0,
            broken_at: None,
            head: String::new(),
            anchored_through: None,
        };
        // After a pruning, the chain goes on from the newest anchor.
        let anchor = audit_anchor::Entity::find()
            .filter(audit_anchor::Column::CountyId.eq(county_id))
            .order_by_desc(audit_anchor::Column::Id)
            .one(&self.read().await?)
            .await?;
        let mut after = 0_i64;
        let mut chained = false;
        if let Some(anchor) = anchor {
            after = anchor.through_id;
            // An anchor of records from before the chain carries no hash: the chain starts after it.
            chained = !anchor.hash.is_empty();
            check.head = anchor.hash;
            check.anchored_through = Some(anchor.through_id);
        }
        loop {
            let batch: Vec<AuditRecord> = audit_record::Entity::find()
                .filter(audit_record::Column::CountyId.eq(county_id))
                .filter(audit_record::Column::Id.gt(after))
                .order_by_asc(audit_record::Column::Id)
                .limit(VERIFY_BATCH)
                .all(&self.read().await?)
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            let Some(last) = batch.last() else {
                return Ok(check);
            };
            after = last.id;
            for record in &batch {
                check.records += 1;
                if !chained && record.hash.is_empty() && record.prev_hash.is_empty() {
                    check.unchained += 1;
                    continue;
                }
                chained = true;
                let wrong = if record.prev_hash != check.head {
                    Some(
                        "its link does not name the record before it (one was removed, added or changed)",
                    )
                } else if record.hash != chain_hash(&record.prev_hash, &record.fields()) {
                    Some("its content does not match its hash (it was changed)")
                } else {
                    None
                };
                if let Some(wrong) = wrong {
                    check.broken_at = Some((record.id, wrong));
                    return Ok(check);
                }
                check.head = record.hash.clone();
            }
        }
    }

    /// Removes a county's records older than `before`, which must lie at least `AUDIT_KEPT_DAYS` before
    /// `now`, leaving an anchor (the hash of the last record removed) from which the chain goes on. Refused
    /// on a broken chain. Only the database's owner may: the server's role writes no anchor and deletes no
    /// record.
    pub async fn prune_audit(
        &self,
        county_id: i64,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> ApiResult<Option<Pruned>> {
        if before > now - chrono::Duration::days(AUDIT_KEPT_DAYS) {
            return Err(ApiError::bad_input(
                "before",
                format!("audit records are kept at least {AUDIT_KEPT_DAYS} days"),
            ));
        }
        let check = self.verify_audit_chain(county_id).await?;
        if let Some((id, why)) = check.broken_at {
            return Err(ApiError::Conflict(format!(
                "the chain is broken at record {id} ({why}): nothing is pruned"
            )));
        }
        let txn = self.begin().await?;
        hold_chain(&txn, county_id).await?;
        let Some(last) = audit_record::Entity::find()
            .filter(audit_record::Column::CountyId.eq(county_id))
            .filter(audit_record::Column::At.lt(before))
            .order_by_desc(audit_record::Column::Id)
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        let removed = audit_record::Entity::delete_many()
            .filter(audit_record::Column::CountyId.eq(county_id))
            .filter(audit_record::Column::Id.lte(last.id))
            .exec(&txn)
            .await?
            .rows_affected;
        audit_anchor::ActiveModel {
            county_id: Set(county_id),
            through_id: Set(last.id),
            through_at: Set(last.at),
            hash: Set(last.hash.clone()),
            pruned: Set(removed as i64),
            pruned_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(Some(Pruned {
            county_id,
            records: removed,
            through_id: last.id,
            hash: last.hash,
        }))
    }

    /// A county's audit records, oldest first.
    pub async fn audit_records(&self, county_id: i64) -> ApiResult<Vec<AuditRecord>> {
        Ok(audit_record::Entity::find()
            .filter(audit_record::Column::CountyId.eq(county_id))
            .order_by_asc(audit_record::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// Holds the county's chain still for the rest of the transaction `txn`: on PostgreSQL an advisory lock per
/// county, on SQLite the database's write lock, taken before anything is read.
async fn hold_chain(txn: &sea_orm::DatabaseTransaction, county_id: i64) -> ApiResult<()> {
    match txn.get_database_backend() {
        DatabaseBackend::Postgres => {
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [(CHAIN_LOCK | (county_id & 0xffff_ffff)).into()],
            ))
            .await?;
        }
        _ => {
            // A write that changes nothing, so that no other writer comes between the read and the insert.
            txn.execute_unprepared("DELETE FROM audit_records WHERE 0")
                .await?;
        }
    }
    Ok(())
}

/// Appends an audit record inside a write's own transaction: the record stands or falls with the change.
/// It is chained after the county's newest record, which the transaction first holds still: on PostgreSQL
/// with an advisory lock per county, on SQLite by taking the database's write lock before reading.
pub(super) async fn append_audit_in(
    txn: &sea_orm::DatabaseTransaction,
    record: NewAuditRecord,
) -> ApiResult<()> {
    hold_chain(txn, record.county_id).await?;
    let prev_hash = audit_record::Entity::find()
        .filter(audit_record::Column::CountyId.eq(record.county_id))
        .order_by_desc(audit_record::Column::Id)
        .one(txn)
        .await?
        .map(|r| r.hash)
        .unwrap_or_default();
    let at = record
        .at
        .with_nanosecond(record.at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(record.at);
    let hash = chain_hash(
        &prev_hash,
        &AuditFields {
            at,
            county_id: record.county_id,
            tenant_id: record.tenant_id,
            user_id: record.user_id,
            client_address: record.client_address.as_deref(),
            action: record.action,
            object: &record.object,
            outcome: record.outcome,
            reason: &record.reason,
        },
    );
    audit_record::ActiveModel {
        at: Set(at),
        prev_hash: Set(prev_hash),
        hash: Set(hash),
        county_id: Set(record.county_id),
        tenant_id: Set(record.tenant_id),
        user_id: Set(record.user_id),
        client_address: Set(record.client_address),
        action: Set(record.action.into()),
        object: Set(record.object),
        outcome: Set(record.outcome.into()),
        reason: Set(record.reason),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}
