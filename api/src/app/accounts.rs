//! Accounts, role grants and unit memberships, from their beginning to their end, under the separation of
//! duties (三员分立, docs/SECURITY.md "Accounts and the separation of duties"): the system administrator
//! (`county_admin`) creates and deactivates accounts, the security administrator (`security_admin`) grants
//! and revokes roles, a center director or the administrator manages a unit's members, and the auditor reads
//! the audit trail that every one of these changes appends to.
//!
//! An ended account, grant or membership takes effect on the next request, on this server at once and on
//! the others through the policy feed (`replicas`): tokens of a deactivated account are refused, as are the
//! operations of its open subscriptions.

use std::net::IpAddr;

use fengqiao_tenancy::{Grant, Principal, Role, act, hash_password};

use crate::error::{ApiError, ApiResult, clean_text};
use crate::store::audit::NewAuditRecord;
use crate::store::users::{NewPassword, UnitRecord, UserRecord, check_username};

use super::{AppState, PolicyChange};

/// Roles a county cannot be left without: with no active holder at the county, nobody could create an
/// account, grant a role or read the audit trail there again.
const ROLES_A_COUNTY_KEEPS: [Role; 3] = [Role::CountyAdmin, Role::SecurityAdmin, Role::Auditor];

/// What an account change records: who, from where, what, and why.
struct Change<'a> {
    principal: &'a Principal,
    client: Option<IpAddr>,
    county_id: i64,
    action: &'static str,
    object: String,
    reason: String,
}

impl AppState {
    fn audit_of(&self, change: Change<'_>) -> NewAuditRecord {
        NewAuditRecord {
            at: self.now(),
            county_id: change.county_id,
            tenant_id: Some(change.principal.tenant_id),
            user_id: Some(change.principal.user_id),
            client_address: change.client.map(|a| a.to_string()),
            action: change.action,
            object: change.object,
            outcome: "allowed",
            reason: change.reason,
        }
    }

    pub async fn create_user(
        &self,
        principal: &Principal,
        tenant_id: i64,
        username: &str,
        display_name: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<UserRecord> {
        check_username(username)?;
        // Who may not create the account learns nothing of the rules, and spends no hashing.
        self.permit_on_tenant::<act::UserCreate>(principal, tenant_id)
            .await?;
        fengqiao_tenancy::check_password_rules(password, username)
            .map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        let password = password.to_owned();
        let hash = self
            .with_password_slot(move || hash_password(&password))
            .await?
            .map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        // The administrator chose the password: its holder changes it at first sign-in.
        self.create_user_hashed(
            principal,
            tenant_id,
            username,
            display_name,
            &hash,
            true,
            client,
        )
        .await
    }

    /// Like `create_user`, with a password hashed beforehand (the demo seed gives every account one
    /// password), and whether it must be changed at first sign-in.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_user_hashed(
        &self,
        principal: &Principal,
        tenant_id: i64,
        username: &str,
        display_name: &str,
        password_hash: &str,
        must_change: bool,
        client: Option<IpAddr>,
    ) -> ApiResult<UserRecord> {
        let (tenant, permit) = self
            .permit_on_tenant::<act::UserCreate>(principal, tenant_id)
            .await?;
        let audit = self.audit_of(Change {
            principal,
            client,
            county_id: tenant.ancestry.county,
            action: "account.create",
            object: format!("account {username} at tenant {}", tenant.id),
            reason: String::new(),
        });
        self.store
            .create_user(
                &permit,
                &tenant,
                username,
                display_name,
                NewPassword {
                    hash: password_hash,
                    must_change,
                    set_at: self.session_now(),
                },
                audit,
            )
            .await
    }

    /// A user the principal may see: one whose home tenant is in the principal's reach.
    pub async fn user(&self, principal: &Principal, user_id: i64) -> ApiResult<UserRecord> {
        let user = self.store.user(user_id).await?.ok_or(ApiError::NotFound)?;
        if user.id != principal.user_id {
            self.permit_on_tenant::<act::UserRead>(principal, user.tenant_id)
                .await?;
        }
        Ok(user)
    }

    /// The accounts whose home is the tenant (not those below it), active and not.
    pub async fn accounts(
        &self,
        principal: &Principal,
        tenant_id: i64,
    ) -> ApiResult<Vec<UserRecord>> {
        self.permit_on_tenant::<act::UserRead>(principal, tenant_id)
            .await?;
        self.store.users_of_tenant(tenant_id).await
    }

    /// A unit's members: for whoever may see the unit's center's accounts.
    pub async fn unit_members(
        &self,
        principal: &Principal,
        unit: &UnitRecord,
    ) -> ApiResult<Vec<UserRecord>> {
        self.permit_on_tenant::<act::UserRead>(principal, unit.tenant_id)
            .await?;
        self.store.unit_members(unit.id).await
    }

    /// The grants an account holds, as every server applies them.
    pub async fn grants_of(&self, account: &UserRecord) -> Vec<Grant> {
        self.authz.grants_of(account.id).await
    }

    pub async fn grant_role(
        &self,
        principal: &Principal,
        user_id: i64,
        tenant_id: i64,
        role: Role,
        client: Option<IpAddr>,
    ) -> ApiResult<Grant> {
        let (tenant, permit) = self
            .permit_on_tenant::<act::RoleGrant>(principal, tenant_id)
            .await?;
        let grantee = self.user(principal, user_id).await?;
        if grantee.id == principal.user_id {
            return Err(ApiError::Forbidden(
                "nobody can grant themselves a role".into(),
            ));
        }
        let home = self.directory.must(&self.store, grantee.tenant_id).await?;
        if !tenant.ancestry.is_within(home.level, home.id) {
            return Err(ApiError::bad_input(
                "tenantId",
                "a role can only be granted at the user's own tenant or below it",
            ));
        }
        let audit = self.audit_of(Change {
            principal,
            client,
            county_id: tenant.ancestry.county,
            action: "role.grant",
            object: grant_object(grantee.id, role, tenant.id),
            reason: String::new(),
        });
        let grant = self
            .store
            .grant_role(&permit, &grantee, &tenant, role, audit)
            .await?;
        self.policy_changed(PolicyChange::Grant(grant)).await?;
        Ok(grant)
    }

    /// Takes a role back from an account at a tenant. Nobody revokes their own roles (so the last security
    /// administrator of a county stays one); a grant that is not held is `NOT_FOUND`.
    pub async fn revoke_role(
        &self,
        principal: &Principal,
        user_id: i64,
        tenant_id: i64,
        role: Role,
        reason: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<UserRecord> {
        let (tenant, permit) = self
            .permit_on_tenant::<act::RoleRevoke>(principal, tenant_id)
            .await?;
        let holder = self.user(principal, user_id).await?;
        if holder.id == principal.user_id {
            return Err(ApiError::Forbidden(
                "nobody can revoke their own roles".into(),
            ));
        }
        let reason = clean_text("reason", reason, 2, 500, true)?;
        let grant = Grant {
            user_id: holder.id,
            role,
            tenant_id: tenant.id,
            level: tenant.level,
        };
        let audit = self.audit_of(Change {
            principal,
            client,
            county_id: tenant.ancestry.county,
            action: "role.revoke",
            object: grant_object(holder.id, role, tenant.id),
            reason,
        });
        if !self.store.revoke_role(&permit, grant, audit).await? {
            return Err(ApiError::NotFound);
        }
        self.policy_changed(PolicyChange::Revoked(grant)).await?;
        Ok(holder)
    }

    /// Deactivates an account: it signs in no more, its tokens and refresh tokens are refused from the next
    /// request on, and its open subscriptions end. Its grants and memberships stay, for a reactivation.
    /// Nobody deactivates their own account, nor the last active holder of a role a county keeps.
    pub async fn deactivate_account(
        &self,
        principal: &Principal,
        user_id: i64,
        reason: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<UserRecord> {
        self.set_account_active(principal, user_id, false, reason, client)
            .await
    }

    /// Lets a deactivated account sign in again (with its grants and memberships as they were; its old
    /// sessions stay ended).
    pub async fn reactivate_account(
        &self,
        principal: &Principal,
        user_id: i64,
        reason: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<UserRecord> {
        self.set_account_active(principal, user_id, true, reason, client)
            .await
    }

    async fn set_account_active(
        &self,
        principal: &Principal,
        user_id: i64,
        active: bool,
        reason: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<UserRecord> {
        let (account, home, permit, reason) = self
            .account_to_manage(
                principal,
                user_id,
                reason,
                "nobody can deactivate or reactivate their own account",
            )
            .await?;
        if account.active && !active {
            self.refuse_if_last_holder(&account).await?;
        }
        let audit = self.audit_of(Change {
            principal,
            client,
            county_id: home.ancestry.county,
            action: if active {
                "account.reactivate"
            } else {
                "account.deactivate"
            },
            object: format!("account {}", account.id),
            reason,
        });
        let account = self
            .store
            .set_account_active(&permit, &account, active, audit)
            .await?;
        self.policy_changed(PolicyChange::Account {
            user_id: account.id,
        })
        .await?;
        Ok(account)
    }

    /// Another account the principal manages (`user.manage` on its home), with the change's reason
    /// checked: `NOT_FOUND` when it is out of reach, `FORBIDDEN` (saying `own`) for one's own account.
    pub(crate) async fn account_to_manage(
        &self,
        principal: &Principal,
        user_id: i64,
        reason: &str,
        own: &str,
    ) -> ApiResult<(
        UserRecord,
        crate::store::tenants::TenantRecord,
        fengqiao_tenancy::Permit<act::UserManage>,
        String,
    )> {
        let account = self.user(principal, user_id).await?;
        if account.id == principal.user_id {
            return Err(ApiError::Forbidden(own.into()));
        }
        let (home, permit) = self
            .permit_on_tenant::<act::UserManage>(principal, account.tenant_id)
            .await?;
        let reason = clean_text("reason", reason, 2, 500, true)?;
        Ok((account, home, permit, reason))
    }

    /// `CONFLICT` when the account is the last active one holding, at its county, a role the county keeps.
    async fn refuse_if_last_holder(&self, account: &UserRecord) -> ApiResult<()> {
        let held = self.store.grants_of_user(account.id).await?;
        for role in ROLES_A_COUNTY_KEEPS {
            if !held
                .iter()
                .any(|g| g.role == role && g.tenant_id == account.county_id)
            {
                continue;
            }
            let others = self
                .store
                .active_holders(role, account.county_id)
                .await?
                .into_iter()
                .filter(|id| *id != account.id)
                .count();
            if others == 0 {
                return Err(ApiError::Conflict(format!(
                    "this is the county's last active {}: grant the role to another account first",
                    role.as_str()
                )));
            }
        }
        Ok(())
    }

    pub async fn add_unit_member(
        &self,
        principal: &Principal,
        unit_id: i64,
        user_id: i64,
        client: Option<IpAddr>,
    ) -> ApiResult<UnitRecord> {
        let unit = self.store.unit(unit_id).await?.ok_or(ApiError::NotFound)?;
        let (unit_tenant, permit) = self
            .permit_on_tenant::<act::UnitManageMembers>(principal, unit.tenant_id)
            .await?;
        let member = self.user(principal, user_id).await?;
        let home = self.directory.must(&self.store, member.tenant_id).await?;
        if !unit_tenant.ancestry.is_within(home.level, home.id) {
            return Err(ApiError::bad_input(
                "userId",
                "a unit member must belong to the unit's center or one above it",
            ));
        }
        let audit = self.audit_of(Change {
            principal,
            client,
            county_id: unit.county_id,
            action: "unit.add_member",
            object: format!("account {} in unit {}", member.id, unit.id),
            reason: String::new(),
        });
        self.store
            .add_unit_member(&permit, &unit, &member, audit)
            .await?;
        self.policy_changed(PolicyChange::Member {
            unit_id: unit.id,
            user_id: member.id,
        })
        .await?;
        Ok(unit)
    }

    /// Takes an account out of a unit: it no longer acts for the unit nor hears its events. One that is not
    /// a member is `NOT_FOUND`.
    pub async fn remove_unit_member(
        &self,
        principal: &Principal,
        unit_id: i64,
        user_id: i64,
        reason: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<UnitRecord> {
        let unit = self.store.unit(unit_id).await?.ok_or(ApiError::NotFound)?;
        let (_, permit) = self
            .permit_on_tenant::<act::UnitManageMembers>(principal, unit.tenant_id)
            .await?;
        let member = self.user(principal, user_id).await?;
        let reason = clean_text("reason", reason, 2, 500, true)?;
        let audit = self.audit_of(Change {
            principal,
            client,
            county_id: unit.county_id,
            action: "unit.remove_member",
            object: format!("account {} in unit {}", member.id, unit.id),
            reason,
        });
        if !self
            .store
            .remove_unit_member(&permit, &unit, member.id, audit)
            .await?
        {
            return Err(ApiError::NotFound);
        }
        self.policy_changed(PolicyChange::MemberRemoved {
            unit_id: unit.id,
            user_id: member.id,
        })
        .await?;
        Ok(unit)
    }
}

fn grant_object(user_id: i64, role: Role, tenant_id: i64) -> String {
    format!(
        "account {user_id} as {} at tenant {tenant_id}",
        role.as_str()
    )
}
