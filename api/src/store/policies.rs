//! Clock policies set by centers, overriding the defaults for their subtree.

use fengqiao_domain::CaseKind;
use fengqiao_domain::clocks::{ClockPolicy, Complexity, Period};
use fengqiao_tenancy::{Permit, act};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::Store;
use super::entities::clock_policy;
use super::tenants::TenantRecord;
use crate::error::{ApiError, ApiResult};

/// A stored policy: which tenant, kind and complexity it governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantPolicy {
    pub tenant_id: i64,
    pub kind: CaseKind,
    pub complexity: Complexity,
    pub policy: ClockPolicy,
}

fn period(id: i64, text: &str) -> ApiResult<Period> {
    Period::parse(text).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "clock policy {id}: stored period {text:?} is not valid"
        ))
    })
}

impl Store {
    /// Sets a tenant's policy for a kind and complexity; the permit is for `tenant.configure` on it.
    pub async fn set_clock_policy(
        &self,
        permit: &Permit<act::TenantConfigure>,
        tenant: &TenantRecord,
        set: &TenantPolicy,
        audit: super::audit::NewAuditRecord,
    ) -> ApiResult<()> {
        let now = audit.at;
        if !permit.is_for(Some(tenant.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover configuring {}",
                tenant.id
            )));
        }
        let p = set.policy;
        let row = clock_policy::ActiveModel {
            county_id: Set(tenant.ancestry.county),
            tenant_id: Set(tenant.id),
            kind: Set(set.kind.as_str().into()),
            complexity: Set(set.complexity.as_str().into()),
            accept_within: Set(p.accept_within.to_text()),
            conclude_within: Set(p.conclude_within.to_text()),
            extension: Set(p.extension.map(Period::to_text)),
            follow_up_within: Set(p.follow_up_within.to_text()),
            updated_by: Set(permit.user_id()),
            updated_at: Set(now),
            ..Default::default()
        };
        let txn = self.begin().await?;
        clock_policy::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    clock_policy::Column::TenantId,
                    clock_policy::Column::Kind,
                    clock_policy::Column::Complexity,
                ])
                .update_columns([
                    clock_policy::Column::AcceptWithin,
                    clock_policy::Column::ConcludeWithin,
                    clock_policy::Column::Extension,
                    clock_policy::Column::FollowUpWithin,
                    clock_policy::Column::UpdatedBy,
                    clock_policy::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        super::audit::append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every stored policy.
    pub async fn clock_policies(&self) -> ApiResult<Vec<TenantPolicy>> {
        clock_policy::Entity::find()
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(|m| {
                let corrupt =
                    || ApiError::internal(anyhow::anyhow!("clock policy {} is malformed", m.id));
                Ok(TenantPolicy {
                    tenant_id: m.tenant_id,
                    kind: CaseKind::parse(&m.kind).ok_or_else(corrupt)?,
                    complexity: Complexity::parse(&m.complexity).ok_or_else(corrupt)?,
                    policy: ClockPolicy {
                        accept_within: period(m.id, &m.accept_within)?,
                        conclude_within: period(m.id, &m.conclude_within)?,
                        extension: m
                            .extension
                            .as_deref()
                            .map(|t| period(m.id, t))
                            .transpose()?,
                        follow_up_within: period(m.id, &m.follow_up_within)?,
                    },
                })
            })
            .collect()
    }
}
