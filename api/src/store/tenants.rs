//! The tenant tree.

use chrono::{DateTime, Utc};
use fengqiao_domain::{Ancestry, DivisionCode, TenantLevel};
use fengqiao_tenancy::{Permit, act};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use super::entities::{role_grant, tenant, user};
use super::scope::SystemPermit;
use super::{Store, taken};
use crate::error::{ApiError, ApiResult, clean_text};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub level: TenantLevel,
    pub code: DivisionCode,
    pub name: String,
    pub ancestry: Ancestry,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<tenant::Model> for TenantRecord {
    type Error = ApiError;

    fn try_from(m: tenant::Model) -> Result<Self, ApiError> {
        let level = TenantLevel::parse(&m.level).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("tenant {} has level {:?}", m.id, m.level))
        })?;
        let code = DivisionCode::parse(&m.code, level)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("tenant {}: {e}", m.id)))?;
        Ok(TenantRecord {
            id: m.id,
            parent_id: m.parent_id,
            level,
            code,
            name: m.name,
            ancestry: Ancestry {
                county: m.county_id,
                township: m.township_id,
                village: m.village_id,
                grid: m.grid_id,
            },
            created_at: m.created_at,
        })
    }
}

/// One of the first accounts of a new county.
pub struct FirstAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password: super::passwords::NewPassword<'a>,
}

/// The ids of a new county's first accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstAccounts {
    /// The system administrator (`county_admin`): the tree, accounts and units.
    pub admin: i64,
    /// The security administrator (`security_admin`): role grants.
    pub security: i64,
}

fn check_name(name: &str) -> ApiResult<()> {
    clean_text("name", name, 1, 100, false).map(|_| ())
}

impl Store {
    /// Creates a county with its system administrator (`county_admin`) and security administrator
    /// (`security_admin`), two different people as 三员分立 requires, in one transaction. This is the operator's path (the command line and the demo seed); it is not reachable
    /// through the API, and everything after it is done by signed-in users holding permits.
    pub async fn bootstrap_county(
        &self,
        system: &SystemPermit,
        code: &DivisionCode,
        name: &str,
        admin: FirstAccount<'_>,
        security: FirstAccount<'_>,
        now: DateTime<Utc>,
    ) -> ApiResult<(TenantRecord, FirstAccounts)> {
        check_name(name)?;
        let txn = system.run(self.begin()).await?;
        let inserted = tenant::ActiveModel {
            parent_id: Set(None),
            level: Set(TenantLevel::County.as_str().into()),
            code: Set(code.as_str().into()),
            name: Set(name.trim().into()),
            county_id: Set(0),
            township_id: Set(None),
            village_id: Set(None),
            grid_id: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(taken("code", "a tenant with this code exists"))?;
        let mut county: tenant::ActiveModel = inserted.clone().into();
        county.county_id = Set(inserted.id);
        let county = county.update(&txn).await?;
        let mut ids = Vec::with_capacity(2);
        for (account, role) in [(&admin, "county_admin"), (&security, "security_admin")] {
            let user = user::ActiveModel {
                tenant_id: Set(county.id),
                county_id: Set(county.id),
                username: Set(account.username.into()),
                display_name: Set(account.display_name.into()),
                password_hash: Set(account.password.hash.into()),
                active: Set(true),
                created_at: Set(now),
                must_change_password: Set(account.password.must_change),
                password_changed_at: Set(Some(account.password.set_at)),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .map_err(taken("username", "this username is taken"))?;
            let (hash, set_at) = (account.password.hash, account.password.set_at);
            super::passwords::remember_password_in(&txn, user.id, county.id, hash, set_at).await?;
            role_grant::ActiveModel {
                user_id: Set(user.id),
                tenant_id: Set(county.id),
                county_id: Set(county.id),
                level: Set(TenantLevel::County.as_str().into()),
                role: Set(role.into()),
                granted_by: Set(None),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            ids.push(user.id);
        }
        txn.commit().await?;
        let accounts = FirstAccounts {
            admin: ids[0],
            security: ids[1],
        };
        Ok((county.try_into()?, accounts))
    }

    /// Creates a child tenant under `parent`.
    pub async fn create_tenant(
        &self,
        permit: &Permit<act::TenantCreate>,
        parent: &TenantRecord,
        code: &DivisionCode,
        name: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<TenantRecord> {
        if !permit.is_for(Some(parent.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit does not cover creating a tenant under {}",
                parent.id
            )));
        }
        check_name(name)?;
        let level = parent
            .level
            .child()
            .ok_or_else(|| ApiError::bad_input("parent", "grids have no children"))?;
        DivisionCode::check_child(&parent.code, parent.level, code, level)?;
        let txn = self.begin().await?;
        let inserted = tenant::ActiveModel {
            parent_id: Set(Some(parent.id)),
            level: Set(level.as_str().into()),
            code: Set(code.as_str().into()),
            name: Set(name.trim().into()),
            county_id: Set(parent.ancestry.county),
            township_id: Set(parent.ancestry.township),
            village_id: Set(parent.ancestry.village),
            grid_id: Set(parent.ancestry.grid),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(taken("code", "a tenant with this code exists"))?;
        let ancestry = parent.ancestry.child(level, inserted.id);
        let mut row: tenant::ActiveModel = inserted.into();
        row.township_id = Set(ancestry.township);
        row.village_id = Set(ancestry.village);
        row.grid_id = Set(ancestry.grid);
        let row = row.update(&txn).await?;
        txn.commit().await?;
        row.try_into()
    }

    pub async fn tenant(&self, id: i64) -> ApiResult<Option<TenantRecord>> {
        tenant::Entity::find_by_id(id)
            .one(&self.read().await?)
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    pub async fn children(&self, id: i64) -> ApiResult<Vec<TenantRecord>> {
        tenant::Entity::find()
            .filter(tenant::Column::ParentId.eq(id))
            .order_by_asc(tenant::Column::Code)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    pub async fn tenant_count(&self) -> ApiResult<u64> {
        Ok(tenant::Entity::find().count(&self.read().await?).await?)
    }
}
