//! Administration of the tenant tree, accounts, role grants and units (三员分立: the system administrator
//! creates, the security administrator grants).

use fengqiao_domain::DivisionCode;
use fengqiao_tenancy::{Act, Permit, Principal, Role, Target, act, hash_password};

use crate::error::{ApiError, ApiResult};
use crate::store::tenants::TenantRecord;
use crate::store::users::{Residency, UnitRecord, UserRecord, check_username};

use super::{AppState, PolicyChange};

impl AppState {
    pub(crate) async fn tenant_target(&self, tenant_id: i64) -> ApiResult<(TenantRecord, Target)> {
        let tenant = self
            .directory
            .get(&self.store, tenant_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let target = Target::in_tenant(Some(tenant.id), tenant.ancestry);
        Ok((tenant, target))
    }

    pub(crate) async fn permit_on_tenant<A: Act>(
        &self,
        principal: &Principal,
        tenant_id: i64,
    ) -> ApiResult<(TenantRecord, Permit<A>)> {
        let (tenant, target) = self.tenant_target(tenant_id).await?;
        let permit = self.authz.permit::<A>(principal, &target).await?;
        Ok((tenant, permit))
    }

    /// A tenant the principal may see.
    pub async fn tenant(&self, principal: &Principal, tenant_id: i64) -> ApiResult<TenantRecord> {
        self.permit_on_tenant::<act::TenantRead>(principal, tenant_id)
            .await
            .map(|(t, _)| t)
    }

    /// Whether the principal may see the tenant (for optional links such as a parent).
    pub async fn can_see_tenant(
        &self,
        principal: &Principal,
        tenant_id: i64,
    ) -> ApiResult<Option<TenantRecord>> {
        match self.tenant(principal, tenant_id).await {
            Ok(t) => Ok(Some(t)),
            Err(ApiError::NotFound | ApiError::Forbidden(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn children(
        &self,
        principal: &Principal,
        tenant_id: i64,
    ) -> ApiResult<Vec<TenantRecord>> {
        self.tenant(principal, tenant_id).await?;
        let children = self.store.children(tenant_id).await?;
        for child in &children {
            self.directory.remember(child.clone())?;
        }
        Ok(children)
    }

    pub async fn create_tenant(
        &self,
        principal: &Principal,
        parent_id: i64,
        code: &str,
        name: &str,
    ) -> ApiResult<TenantRecord> {
        let (parent, permit) = self
            .permit_on_tenant::<act::TenantCreate>(principal, parent_id)
            .await?;
        let level = parent
            .level
            .child()
            .ok_or_else(|| ApiError::bad_input("parentId", "grids have no children"))?;
        let code = DivisionCode::parse(code, level)?;
        let tenant = self
            .store
            .create_tenant(&permit, &parent, &code, name, self.now())
            .await?;
        self.directory.remember(tenant.clone())?;
        Ok(tenant)
    }

    pub async fn create_user(
        &self,
        principal: &Principal,
        tenant_id: i64,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> ApiResult<UserRecord> {
        let (tenant, permit) = self
            .permit_on_tenant::<act::UserCreate>(principal, tenant_id)
            .await?;
        check_username(username)?;
        let password = password.to_owned();
        let hash = self
            .with_password_slot(move || hash_password(&password))
            .await?
            .map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        self.store
            .create_user(&permit, &tenant, username, display_name, &hash, self.now())
            .await
    }

    /// Like `create_user`, with a password hashed beforehand (the demo seed gives every account one password).
    pub async fn create_user_hashed(
        &self,
        principal: &Principal,
        tenant_id: i64,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> ApiResult<UserRecord> {
        let (tenant, permit) = self
            .permit_on_tenant::<act::UserCreate>(principal, tenant_id)
            .await?;
        self.store
            .create_user(
                &permit,
                &tenant,
                username,
                display_name,
                password_hash,
                self.now(),
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

    pub async fn grant_role(
        &self,
        principal: &Principal,
        user_id: i64,
        tenant_id: i64,
        role: Role,
    ) -> ApiResult<fengqiao_tenancy::Grant> {
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
        let grant = self
            .store
            .grant_role(&permit, &grantee, &tenant, role, self.now())
            .await?;
        self.policy_changed(PolicyChange::Grant(grant)).await?;
        Ok(grant)
    }

    pub async fn create_unit(
        &self,
        principal: &Principal,
        tenant_id: i64,
        name: &str,
        department: &str,
        residency: Residency,
    ) -> ApiResult<UnitRecord> {
        let (tenant, permit) = self
            .permit_on_tenant::<act::UnitCreate>(principal, tenant_id)
            .await?;
        self.store
            .create_unit(&permit, &tenant, name, department, residency, self.now())
            .await
    }

    pub async fn unit(&self, principal: &Principal, unit_id: i64) -> ApiResult<UnitRecord> {
        let unit = self.store.unit(unit_id).await?.ok_or(ApiError::NotFound)?;
        let own = self
            .authz
            .units_of(principal.user_id)
            .await
            .contains(&unit.id);
        if !own {
            self.permit_on_tenant::<act::UnitRead>(principal, unit.tenant_id)
                .await?;
        }
        Ok(unit)
    }

    pub async fn units(&self, principal: &Principal, tenant_id: i64) -> ApiResult<Vec<UnitRecord>> {
        self.permit_on_tenant::<act::UnitRead>(principal, tenant_id)
            .await?;
        self.store.units_of_tenant(tenant_id).await
    }

    pub async fn add_unit_member(
        &self,
        principal: &Principal,
        unit_id: i64,
        user_id: i64,
    ) -> ApiResult<UnitRecord> {
        let unit = self.store.unit(unit_id).await?.ok_or(ApiError::NotFound)?;
        let (_, permit) = self
            .permit_on_tenant::<act::UnitManageMembers>(principal, unit.tenant_id)
            .await?;
        let member = self.user(principal, user_id).await?;
        let home = self.directory.must(&self.store, member.tenant_id).await?;
        let unit_tenant = self.directory.must(&self.store, unit.tenant_id).await?;
        if !unit_tenant.ancestry.is_within(home.level, home.id) {
            return Err(ApiError::bad_input(
                "userId",
                "a unit member must belong to the unit's center or one above it",
            ));
        }
        self.store.add_unit_member(&permit, &unit, &member).await?;
        self.policy_changed(PolicyChange::Member {
            unit_id: unit.id,
            user_id: member.id,
        })
        .await?;
        Ok(unit)
    }
}
