//! Legal clock policies set by centers and the working-day calendar they are counted on.

use fengqiao_domain::calendar::WorkingCalendar;

use fengqiao_domain::clocks::{ClockPolicy, Complexity};
use fengqiao_domain::{Ancestry, CaseKind};
use fengqiao_tenancy::{Principal, act};

use crate::error::{ApiError, ApiResult};
use crate::store::policies::TenantPolicy;
use crate::store::scope::{self};

use super::{AppState, PolicyChange};

impl AppState {
    /// Runs `f` with the working-day calendar.
    pub(crate) fn with_calendar<T>(&self, f: impl FnOnce(&WorkingCalendar) -> T) -> ApiResult<T> {
        let calendar = self
            .calendar
            .read()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("calendar lock poisoned")))?;
        Ok(f(&calendar))
    }

    /// The clock policy of a case of `kind` and `complexity` that came in by `channel`, handled at
    /// `tenant`: the channel's own limits where it has them (the 12345 hotline), else `policy_for`.
    pub fn case_policy(
        &self,
        tenant: &Ancestry,
        kind: CaseKind,
        complexity: Complexity,
        channel: fengqiao_domain::Channel,
    ) -> ApiResult<ClockPolicy> {
        match ClockPolicy::of_channel(kind, channel) {
            Some(policy) => Ok(policy),
            None => self.policy_for(tenant, kind, complexity),
        }
    }

    /// The clock policy for a case of `kind` and `complexity` handled at `tenant`: the deepest policy set
    /// on the tenant's chain, or the default.
    pub fn policy_for(
        &self,
        tenant: &Ancestry,
        kind: CaseKind,
        complexity: Complexity,
    ) -> ApiResult<ClockPolicy> {
        let policies = self
            .policies
            .read()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("policy lock poisoned")))?;
        Ok(tenant
            .chain()
            .into_iter()
            .rev()
            .find_map(|id| policies.get(&(id, kind, complexity)).copied())
            .unwrap_or_else(|| ClockPolicy::default_for(kind, complexity)))
    }

    /// Loads every stored clock policy.
    pub async fn load_clock_policies(&self) -> ApiResult<()> {
        let stored = scope::as_system(self.store.clock_policies()).await?;
        let mut policies = self
            .policies
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("policy lock poisoned")))?;
        policies.clear();
        for p in stored {
            policies.insert((p.tenant_id, p.kind, p.complexity), p.policy);
        }
        Ok(())
    }

    /// Sets a center's clock policy for a case kind and complexity.
    pub async fn set_clock_policy(
        &self,
        principal: &Principal,
        set: TenantPolicy,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<()> {
        let (tenant, permit) = self
            .permit_on_tenant::<act::TenantConfigure>(principal, set.tenant_id)
            .await?;
        let p = set.policy;
        let audit = crate::store::audit::NewAuditRecord {
            at: self.now(),
            county_id: tenant.ancestry.county,
            tenant_id: Some(principal.tenant_id),
            user_id: Some(principal.user_id),
            client_address: client.map(|a| a.to_string()),
            action: "policy.clock",
            object: format!(
                "clock policy of tenant {} for {} {}: accept {}, conclude {}, extension {}, follow up {}",
                tenant.id,
                set.kind.as_str(),
                set.complexity.as_str(),
                p.accept_within.to_text(),
                p.conclude_within.to_text(),
                p.extension
                    .map(|e| e.to_text())
                    .unwrap_or_else(|| "none".into()),
                p.follow_up_within.to_text()
            ),
            outcome: "allowed",
            reason: String::new(),
        };
        self.store
            .set_clock_policy(&permit, &tenant, &set, audit)
            .await?;
        self.policies
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("policy lock poisoned")))?
            .insert((set.tenant_id, set.kind, set.complexity), set.policy);
        self.announce(&PolicyChange::ClockPolicies).await;
        Ok(())
    }

    /// The clock policy in force at a tenant the principal may see.
    pub async fn clock_policy(
        &self,
        principal: &Principal,
        tenant_id: i64,
        kind: CaseKind,
        complexity: Complexity,
    ) -> ApiResult<ClockPolicy> {
        let tenant = self.tenant(principal, tenant_id).await?;
        self.policy_for(&tenant.ancestry, kind, complexity)
    }

    /// Reloads the calendar from the store (after an administrator loaded a notice).
    pub async fn reload_calendar(&self) -> ApiResult<()> {
        let fresh = self.store.working_calendar().await?;
        *self
            .calendar
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("calendar lock poisoned")))? = fresh;
        Ok(())
    }
}
