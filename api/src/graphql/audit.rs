//! The audit trail, for the auditor: `auditRecords(tenantId)`, newest first.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::ids::{GlobalId, decode_cursor, decode_id, encode_cursor, encode_id};
use super::nodes::{StaffNode, TenantNode};
use super::{caller, state};
use crate::app::MAX_AUDIT_PAGE;
use crate::app::records::AuditRecord;

const DEFAULT_AUDIT_PAGE: i32 = 50;

/// One audit record: who did what, from where, to what, with which outcome, and why.
pub struct AuditRecordNode(AuditRecord);

#[Object(name = "AuditRecord")]
impl AuditRecordNode {
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// What was done, such as `session.sign_in`, `account.deactivate`, `role.grant`, `party.reveal`,
    /// `party.lookup`, `report.export`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// What it was done to, by id (a number looked up stands as its keyed hash, never in the clear).
    async fn object(&self) -> &str {
        &self.0.object
    }

    /// `allowed`, or why not: `wrong_password`, `locked`, `disabled`, `rate_limited`, ….
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }

    async fn reason(&self) -> &str {
        &self.0.reason
    }

    async fn client_address(&self) -> Option<&str> {
        self.0.client_address.as_deref()
    }

    /// The account that acted.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<StaffNode>> {
        match self.0.user_id {
            Some(id) => super::batches::staff(ctx, id).await,
            None => Ok(None),
        }
    }

    /// The tenant the account acted in.
    async fn tenant(&self, ctx: &Context<'_>) -> Result<Option<TenantNode>> {
        match self.0.tenant_id {
            Some(id) => Ok(state(ctx).tenant_if_any(id).await?.map(TenantNode)),
            None => Ok(None),
        }
    }

    async fn tenant_id(&self) -> Option<ID> {
        self.0.tenant_id.map(|id| encode_id(GlobalId::Tenant, id))
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail of a tenant's subtree (of the whole county at a county), newest first. Needs
    /// `audit.read` there (the auditor's).
    #[graphql(
        complexity = "first.unwrap_or(DEFAULT_AUDIT_PAGE).clamp(1, MAX_AUDIT_PAGE as i32) as usize * child_complexity + 1"
    )]
    async fn audit_records(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        #[graphql(desc = "Only records of this action, e.g. `session.sign_in`.")] action: Option<
            String,
        >,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditRecordNode>> {
        let principal = &caller(ctx)?.principal;
        let tenant = decode_id("tenantId", GlobalId::Tenant, &tenant_id)?;
        let first = first.unwrap_or(DEFAULT_AUDIT_PAGE).max(0) as u64;
        let after = after
            .as_deref()
            .map(|c| decode_cursor("after", c))
            .transpose()?;
        let (records, more) = state(ctx)
            .audit_trail(principal, tenant, action.as_deref(), after, first)
            .await?;
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(
            records
                .into_iter()
                .map(|r| Edge::new(encode_cursor(r.id), AuditRecordNode(r))),
        );
        Ok(connection)
    }
}
