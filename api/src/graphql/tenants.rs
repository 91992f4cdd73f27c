//! Tenants, accounts and units: creating them, and ending accounts, grants and memberships.

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use super::enums::{Residency, Role, TenantLevel};
use super::identity::RoleGrantNode;
use super::ids::{GlobalId, decode_id, encode_id};
use super::inputs::{input_or_arguments, required};
use super::nodes::{StaffNode, TenantNode, UnitNode, UserNode};
use super::paging::{self, Order};
use super::{ClientAddress, caller, state};
use crate::app::records::TenantRecord;

/// Children run by division code (as the store reads them): a code is 12 or 15 digits, checked when the
/// tenant was created, so it is its own keyset key and the cursor of its place in the list.
fn division_key(tenant: &TenantRecord) -> i64 {
    tenant.code.as_str().parse().unwrap_or(i64::MAX)
}

fn client(ctx: &Context<'_>) -> Option<std::net::IpAddr> {
    ctx.data_opt::<ClientAddress>().and_then(|c| c.0)
}

#[Object(name = "Tenant")]
impl TenantNode {
    pub async fn id(&self) -> ID {
        encode_id(GlobalId::Tenant, self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The administrative division code: 12 digits, 15 for a grid (its village's and 3 of its own).
    async fn code(&self) -> &str {
        self.0.code.as_str()
    }

    async fn level(&self) -> TenantLevel {
        self.0.level.into()
    }

    /// The parent center, when the caller may see it.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<TenantNode>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        let principal = &caller(ctx)?.principal;
        Ok(state(ctx)
            .can_see_tenant(principal, parent)
            .await?
            .map(TenantNode))
    }

    #[graphql(deprecation = "Use childrenConnection, which pages and counts.")]
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<TenantNode>> {
        let principal = &caller(ctx)?.principal;
        Ok(state(ctx)
            .children(principal, self.0.id)
            .await?
            .into_iter()
            .map(TenantNode)
            .collect())
    }

    /// The centers one level below, by division code, a page at a time.
    #[graphql(complexity = "paging::complexity(first, last, child_complexity)")]
    async fn children_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 100.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<paging::Counting<TenantNode>> {
        let window = paging::window(first, after, last, before)?;
        let principal = &caller(ctx)?.principal;
        let children = state(ctx).children(principal, self.0.id).await?;
        Ok(paging::of_list(
            children,
            Order::OldestFirst,
            division_key,
            TenantNode,
            &window,
        ))
    }

    /// The accounts whose home is this tenant, active and deactivated, oldest first. Needs the right to
    /// read accounts here (the administrators, a center director, a supervisor).
    #[graphql(deprecation = "Use accountsConnection, which pages and counts.")]
    async fn accounts(&self, ctx: &Context<'_>) -> Result<Vec<UserNode>> {
        let principal = &caller(ctx)?.principal;
        Ok(state(ctx)
            .accounts(principal, self.0.id)
            .await?
            .into_iter()
            .map(UserNode)
            .collect())
    }

    /// The accounts whose home is this tenant, active and deactivated, oldest first, a page at a time.
    /// Needs the right to read accounts here (the administrators, a center director, a supervisor).
    #[graphql(complexity = "paging::complexity(first, last, child_complexity)")]
    async fn accounts_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 100.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<paging::Counting<UserNode>> {
        let window = paging::window(first, after, last, before)?;
        let principal = &caller(ctx)?.principal;
        let accounts = state(ctx).accounts(principal, self.0.id).await?;
        Ok(paging::of_list(
            accounts,
            Order::OldestFirst,
            |u| u.id,
            UserNode,
            &window,
        ))
    }

    /// Units stationed in this center.
    #[graphql(deprecation = "Use unitsConnection, which pages and counts.")]
    async fn units(&self, ctx: &Context<'_>) -> Result<Vec<UnitNode>> {
        let principal = &caller(ctx)?.principal;
        Ok(state(ctx)
            .units(principal, self.0.id)
            .await?
            .into_iter()
            .map(UnitNode)
            .collect())
    }

    /// Units stationed in this center, oldest first, a page at a time.
    #[graphql(complexity = "paging::complexity(first, last, child_complexity)")]
    async fn units_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 100.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<paging::Counting<UnitNode>> {
        let window = paging::window(first, after, last, before)?;
        let principal = &caller(ctx)?.principal;
        let units = state(ctx).units(principal, self.0.id).await?;
        Ok(paging::of_list(
            units,
            Order::OldestFirst,
            |u| u.id,
            UnitNode,
            &window,
        ))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[Object(name = "User")]
impl UserNode {
    pub async fn id(&self) -> ID {
        encode_id(GlobalId::User, self.0.id)
    }

    async fn username(&self) -> &str {
        &self.0.username
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    async fn tenant_id(&self) -> ID {
        encode_id(GlobalId::Tenant, self.0.tenant_id)
    }

    /// False once the account is deactivated: it signs in no more and its tokens are refused.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// The roles the account holds, and where.
    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<RoleGrantNode>> {
        let app = state(ctx);
        let mut out = Vec::new();
        for grant in app.grants_of(&self.0).await {
            out.push(RoleGrantNode {
                role: grant.role.into(),
                tenant: TenantNode(app.tenant_record(grant.tenant_id).await?),
            });
        }
        Ok(out)
    }
}

#[Object(name = "Staff")]
impl StaffNode {
    /// The global id of the staff member's account.
    #[graphql(
        deprecation = "Use userId. In a later release Staff becomes a Node and this its own id, no longer the account's."
    )]
    async fn id(&self) -> ID {
        encode_id(GlobalId::User, self.0.id)
    }

    /// The global id of the staff member's account (`User`).
    async fn user_id(&self) -> ID {
        encode_id(GlobalId::User, self.0.id)
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
}

/// A unit's answers to summonses.
#[derive(async_graphql::SimpleObject)]
#[graphql(name = "SummonsRecord")]
pub struct SummonsRecordNode {
    pub summoned: u64,
    pub reported: u64,
    /// Reported after the report-by time, or not reported though it has passed.
    pub late: u64,
}

#[Object(name = "Unit")]
impl UnitNode {
    pub async fn id(&self) -> ID {
        encode_id(GlobalId::Unit, self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn department(&self) -> &str {
        &self.0.department
    }

    async fn residency(&self) -> Residency {
        self.0.residency.into()
    }

    async fn tenant_id(&self) -> ID {
        encode_id(GlobalId::Tenant, self.0.tenant_id)
    }

    /// The unit's members, oldest account first. Needs the right to read the accounts of the unit's center.
    #[graphql(deprecation = "Use membersConnection, which pages and counts.")]
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<UserNode>> {
        let principal = &caller(ctx)?.principal;
        Ok(state(ctx)
            .unit_members(principal, &self.0)
            .await?
            .into_iter()
            .map(UserNode)
            .collect())
    }

    /// The unit's members, oldest account first, a page at a time. Needs the right to read the accounts
    /// of the unit's center.
    #[graphql(complexity = "paging::complexity(first, last, child_complexity)")]
    async fn members_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 100.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<paging::Counting<UserNode>> {
        let window = paging::window(first, after, last, before)?;
        let principal = &caller(ctx)?.principal;
        let members = state(ctx).unit_members(principal, &self.0).await?;
        Ok(paging::of_list(
            members,
            Order::OldestFirst,
            |u| u.id,
            UserNode,
            &window,
        ))
    }

    /// A rotating unit's duty roster (null for other units, or a rotating unit without one yet).
    async fn duty_roster(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<super::rosters::DutyRosterNode>> {
        Ok(state(ctx)
            .unit_station(self.0.id)
            .await?
            .and_then(|s| s.roster)
            .map(|r| super::rosters::DutyRosterNode::from_domain(&r)))
    }

    /// How the unit has answered summonses (on-call units): late reports, and summonses past their
    /// report-by time without a report, count against it.
    async fn summons_record(&self, ctx: &Context<'_>) -> Result<SummonsRecordNode> {
        let app = state(ctx);
        let (summoned, reported, late) = app.summons_figures(self.0.id).await?;
        Ok(SummonsRecordNode {
            summoned,
            reported,
            late,
        })
    }

    /// Whether the unit's roster lets it act on its cases now: false only for a rotating unit outside its
    /// shifts (resident units always may; on-call units act on the cases they are summoned to).
    async fn on_duty_now(&self, ctx: &Context<'_>) -> Result<bool> {
        let app = state(ctx);
        let now = app.now();
        Ok(!app
            .unit_station(self.0.id)
            .await?
            .is_some_and(|s| s.off_shift(now)))
    }
}

#[derive(Default)]
pub struct TenantQuery;

#[Object]
impl TenantQuery {
    /// A tenant the caller may see.
    async fn tenant(&self, ctx: &Context<'_>, id: ID) -> Result<TenantNode> {
        let principal = &caller(ctx)?.principal;
        let id = decode_id("id", GlobalId::Tenant, &id)?;
        Ok(TenantNode(state(ctx).tenant(principal, id).await?))
    }

    /// A unit the caller may see.
    async fn unit(&self, ctx: &Context<'_>, id: ID) -> Result<UnitNode> {
        let principal = &caller(ctx)?.principal;
        let id = decode_id("id", GlobalId::Unit, &id)?;
        Ok(UnitNode(state(ctx).unit(principal, id).await?))
    }
}

#[derive(InputObject)]
pub struct CreateTenantInput {
    pub parent_id: ID,
    /// The division code, extending the parent's: 12 digits, or 15 for a grid under a village.
    pub code: String,
    pub name: String,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub tenant_id: ID,
    pub username: String,
    pub display_name: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct GrantRoleInput {
    pub user_id: ID,
    pub tenant_id: ID,
    pub role: Role,
}

#[derive(InputObject)]
pub struct RevokeRoleInput {
    pub user_id: ID,
    pub tenant_id: ID,
    pub role: Role,
    /// Why (2 to 500 characters): kept in the audit trail.
    pub reason: String,
}

#[derive(InputObject)]
pub struct AccountStatusInput {
    pub user_id: ID,
    /// Why (2 to 500 characters): kept in the audit trail.
    pub reason: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    pub user_id: ID,
    /// The password its holder signs in with once, to choose their own (the password rules apply).
    pub password: String,
    /// Why (2 to 500 characters): kept in the audit trail.
    pub reason: String,
}

#[derive(InputObject)]
pub struct RemoveUnitMemberInput {
    pub unit_id: ID,
    pub user_id: ID,
    /// Why (2 to 500 characters): kept in the audit trail.
    pub reason: String,
}

#[derive(InputObject)]
pub struct AddUnitMemberInput {
    pub unit_id: ID,
    pub user_id: ID,
}

#[derive(InputObject)]
pub struct CreateUnitInput {
    pub tenant_id: ID,
    pub name: String,
    pub department: String,
    pub residency: Residency,
}

#[derive(Default)]
pub struct TenantMutation;

#[Object]
impl TenantMutation {
    /// Creates a township under a county or a village under a township.
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        input: CreateTenantInput,
    ) -> Result<TenantNode> {
        let principal = &caller(ctx)?.principal;
        let parent = decode_id("parentId", GlobalId::Tenant, &input.parent_id)?;
        Ok(TenantNode(
            state(ctx)
                .create_tenant(principal, parent, &input.code, &input.name)
                .await?,
        ))
    }

    /// Creates a staff account in a tenant (one per request: it hashes a password).
    #[graphql(complexity = 1000)]
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<UserNode> {
        let principal = &caller(ctx)?.principal;
        let tenant = decode_id("tenantId", GlobalId::Tenant, &input.tenant_id)?;
        let user = state(ctx)
            .create_user(
                principal,
                tenant,
                &input.username,
                &input.display_name,
                &input.password,
                client(ctx),
            )
            .await?;
        Ok(UserNode(user))
    }

    /// Grants a role at a tenant; it reaches the tenant's subtree. Nobody can grant themselves a role.
    async fn grant_role(
        &self,
        ctx: &Context<'_>,
        input: GrantRoleInput,
    ) -> Result<super::identity::RoleGrantNode> {
        let principal = &caller(ctx)?.principal;
        let user = decode_id("userId", GlobalId::User, &input.user_id)?;
        let tenant = decode_id("tenantId", GlobalId::Tenant, &input.tenant_id)?;
        let app = state(ctx);
        let grant = app
            .grant_role(principal, user, tenant, input.role.into(), client(ctx))
            .await?;
        let tenant = app.tenant_record(grant.tenant_id).await?;
        Ok(RoleGrantNode {
            role: grant.role.into(),
            tenant: TenantNode(tenant),
        })
    }

    /// Takes a role back (the security administrator's). Nobody revokes their own roles; a grant not held
    /// is `NOT_FOUND`. Takes effect on the account's next request. Answers the account.
    async fn revoke_role(&self, ctx: &Context<'_>, input: RevokeRoleInput) -> Result<UserNode> {
        let principal = &caller(ctx)?.principal;
        let user = decode_id("userId", GlobalId::User, &input.user_id)?;
        let tenant = decode_id("tenantId", GlobalId::Tenant, &input.tenant_id)?;
        let account = state(ctx)
            .revoke_role(
                principal,
                user,
                tenant,
                input.role.into(),
                &input.reason,
                client(ctx),
            )
            .await?;
        Ok(UserNode(account))
    }

    /// Deactivates an account (the system administrator's): it signs in no more, and its tokens, refresh
    /// tokens and open subscriptions stop working from its next request. Nobody deactivates their own
    /// account, nor the county's last active administrator, security administrator or auditor
    /// (`CONFLICT`).
    async fn deactivate_account(
        &self,
        ctx: &Context<'_>,
        input: AccountStatusInput,
    ) -> Result<UserNode> {
        let principal = &caller(ctx)?.principal;
        let user = decode_id("userId", GlobalId::User, &input.user_id)?;
        let account = state(ctx)
            .deactivate_account(principal, user, &input.reason, client(ctx))
            .await?;
        Ok(UserNode(account))
    }

    /// Lets a deactivated account sign in again, with the roles and units it had.
    async fn reactivate_account(
        &self,
        ctx: &Context<'_>,
        input: AccountStatusInput,
    ) -> Result<UserNode> {
        let principal = &caller(ctx)?.principal;
        let user = decode_id("userId", GlobalId::User, &input.user_id)?;
        let account = state(ctx)
            .reactivate_account(principal, user, &input.reason, client(ctx))
            .await?;
        Ok(UserNode(account))
    }

    /// Gives an account a new password (the system administrator's, for a holder who forgot theirs; never
    /// one's own): every session of the account ends, a lock after wrong passwords is lifted, and its holder
    /// changes the password with `changePassword` before signing in (`PASSWORD_CHANGE_REQUIRED`). One per
    /// request: it hashes a password.
    #[graphql(complexity = 1000)]
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> Result<UserNode> {
        let principal = &caller(ctx)?.principal;
        let user = decode_id("userId", GlobalId::User, &input.user_id)?;
        let account = state(ctx)
            .reset_password(principal, user, &input.password, &input.reason, client(ctx))
            .await?;
        Ok(UserNode(account))
    }

    /// Stations a unit in a center.
    async fn create_unit(&self, ctx: &Context<'_>, input: CreateUnitInput) -> Result<UnitNode> {
        let principal = &caller(ctx)?.principal;
        let tenant = decode_id("tenantId", GlobalId::Tenant, &input.tenant_id)?;
        let unit = state(ctx)
            .create_unit(
                principal,
                tenant,
                &input.name,
                &input.department,
                input.residency.into(),
            )
            .await?;
        Ok(UnitNode(unit))
    }

    /// Adds a staff member to a unit.
    async fn add_unit_member(
        &self,
        ctx: &Context<'_>,
        input: Option<AddUnitMemberInput>,
        #[graphql(deprecation = "Use input.")] unit_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] user_id: Option<ID>,
    ) -> Result<UnitNode> {
        let any = unit_id.is_some() || user_id.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(AddUnitMemberInput {
                unit_id: required("unitId", unit_id)?,
                user_id: required("userId", user_id)?,
            })
        })?;
        let principal = &caller(ctx)?.principal;
        let unit = decode_id("unitId", GlobalId::Unit, &input.unit_id)?;
        let user = decode_id("userId", GlobalId::User, &input.user_id)?;
        Ok(UnitNode(
            state(ctx)
                .add_unit_member(principal, unit, user, client(ctx))
                .await?,
        ))
    }

    /// Takes an account out of a unit: it no longer acts for the unit nor hears its events. One that is
    /// not a member is `NOT_FOUND`.
    async fn remove_unit_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveUnitMemberInput,
    ) -> Result<UnitNode> {
        let principal = &caller(ctx)?.principal;
        let unit = decode_id("unitId", GlobalId::Unit, &input.unit_id)?;
        let user = decode_id("userId", GlobalId::User, &input.user_id)?;
        Ok(UnitNode(
            state(ctx)
                .remove_unit_member(principal, unit, user, &input.reason, client(ctx))
                .await?,
        ))
    }
}
