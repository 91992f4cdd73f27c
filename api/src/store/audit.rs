//! The audit trail: sign-ins and sign-outs, account, grant and membership changes, reveals of and
//! look-ups by residents' personal data, exports. Appended, never changed: on PostgreSQL the server's role
//! is granted no UPDATE or DELETE on the table.

use chrono::{DateTime, Utc};
use fengqiao_domain::TenantLevel;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::Store;
use super::entities::{audit_record, tenant};
use crate::error::ApiResult;

/// Which page of the audit trail to read (`Store::audit_page`).
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub county_id: i64,
    /// A township, village or grid whose accounts' records are wanted; `None`: the whole county.
    pub within: Option<(TenantLevel, i64)>,
    pub action: Option<String>,
    pub before: Option<i64>,
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
        }
    }
}

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

/// Appends an audit record inside a write's own transaction: the record stands or falls with the change.
pub(super) async fn append_audit_in(
    txn: &sea_orm::DatabaseTransaction,
    record: NewAuditRecord,
) -> ApiResult<()> {
    audit_record::ActiveModel {
        at: Set(record.at),
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
