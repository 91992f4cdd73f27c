//! Administration of the tenant tree and the units stationed in it (the system administrator's, and a
//! center director's for units). Accounts, grants and memberships are in `accounts`.

use fengqiao_domain::DivisionCode;
use fengqiao_tenancy::{Act, Permit, Principal, Target, act};

use crate::error::{ApiError, ApiResult};
use crate::store::tenants::TenantRecord;
use crate::store::users::{Residency, UnitRecord};

use super::AppState;

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
}
