//! Clock policies: the time limits a center sets for its subtree.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use fengqiao_domain::clocks::{ClockPolicy, Period};

use super::enums::{CaseKind, Complexity};
use super::ids::{GlobalId, decode_id};
use super::{caller, state};
use crate::app::records::TenantPolicy;
use crate::error::ApiError;

/// Time limits, each written `15d` (calendar days), `7wd` (working days) or `1m` (months).
#[derive(SimpleObject)]
#[graphql(name = "ClockPolicy")]
pub struct ClockPolicyNode {
    /// From registration to accepting or declining.
    pub accept_within: String,
    /// From acceptance to the conclusion.
    pub conclude_within: String,
    /// What a supervisor may add to the conclusion, once.
    pub extension: Option<String>,
    /// From the conclusion to the call-back.
    pub follow_up_within: String,
}

impl From<ClockPolicy> for ClockPolicyNode {
    fn from(p: ClockPolicy) -> Self {
        ClockPolicyNode {
            accept_within: p.accept_within.to_text(),
            conclude_within: p.conclude_within.to_text(),
            extension: p.extension.map(Period::to_text),
            follow_up_within: p.follow_up_within.to_text(),
        }
    }
}

#[derive(InputObject)]
pub struct SetClockPolicyInput {
    pub tenant_id: ID,
    pub kind: CaseKind,
    pub complexity: Complexity,
    pub accept_within: String,
    pub conclude_within: String,
    pub extension: Option<String>,
    pub follow_up_within: String,
}

fn period(field: &str, text: &str) -> Result<Period, ApiError> {
    Period::parse(text)
        .ok_or_else(|| ApiError::bad_input(field, "write a period as 15d, 7wd or 1m"))
}

#[derive(Default)]
pub struct PolicyQuery;

#[Object]
impl PolicyQuery {
    /// The clock policy in force at a tenant for a kind and complexity: the tenant's own, an ancestor's,
    /// or the default.
    async fn clock_policy(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        kind: CaseKind,
        complexity: Complexity,
    ) -> Result<ClockPolicyNode> {
        let principal = &caller(ctx)?.principal;
        let tenant_id = decode_id("tenantId", GlobalId::Tenant, &tenant_id)?;
        Ok(state(ctx)
            .clock_policy(principal, tenant_id, kind.into(), complexity.into())
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct PolicyMutation;

#[Object]
impl PolicyMutation {
    /// Sets a center's time limits for a kind and complexity; they apply to cases handled in its subtree
    /// from then on.
    async fn set_clock_policy(
        &self,
        ctx: &Context<'_>,
        input: SetClockPolicyInput,
    ) -> Result<ClockPolicyNode> {
        let principal = &caller(ctx)?.principal;
        let policy = ClockPolicy {
            accept_within: period("acceptWithin", &input.accept_within)?,
            conclude_within: period("concludeWithin", &input.conclude_within)?,
            extension: input
                .extension
                .as_deref()
                .map(|e| period("extension", e))
                .transpose()?,
            follow_up_within: period("followUpWithin", &input.follow_up_within)?,
        };
        let set = TenantPolicy {
            tenant_id: decode_id("tenantId", GlobalId::Tenant, &input.tenant_id)?,
            kind: input.kind.into(),
            complexity: input.complexity.into(),
            policy,
        };
        let client = ctx.data_opt::<super::ClientAddress>().and_then(|c| c.0);
        state(ctx).set_clock_policy(principal, set, client).await?;
        Ok(policy.into())
    }
}
