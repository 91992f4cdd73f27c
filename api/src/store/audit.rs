//! Audit records of what is done with residents' personal data outside a case's timeline. Appended,
//! never changed: on PostgreSQL the server's role is granted no UPDATE or DELETE on the table.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::Store;
use super::entities::audit_record;
use crate::error::ApiResult;

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
