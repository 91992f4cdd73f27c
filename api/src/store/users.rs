//! Accounts, role grants, units and their members.

use chrono::{DateTime, Utc};
use fengqiao_domain::{TenantLevel, vocabulary};
use fengqiao_tenancy::{Act, Grant, Permit, Role, act};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::audit::{NewAuditRecord, append_audit_in};
use super::entities::{password_history, role_grant, unit, unit_member, user};
use super::passwords::remember_password_in;
pub use super::passwords::{NewPassword, PASSWORDS_REMEMBERED};
use super::sessions::{end_sessions_of_in, ended};
use super::tenants::TenantRecord;
use super::{Store, is_unique_violation, taken};
use crate::error::{ApiError, ApiResult, clean_text};

vocabulary! {
    /// How a unit is stationed in a center (常驻 / 轮驻 / 随驻).
    Residency {
        Resident = "resident",
        Rotating = "rotating",
        OnCall = "on_call",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub tenant_id: i64,
    pub county_id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// Wrong passwords in a row since the last sign-in or lock.
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    /// Someone else chose the password (a new account, a bootstrapped administrator): it must be changed
    /// before the account signs in.
    pub must_change_password: bool,
    /// When the password was last set (`None`: before this was kept; the account's creation counts).
    pub password_changed_at: Option<DateTime<Utc>>,
}

impl From<user::Model> for UserRecord {
    fn from(m: user::Model) -> Self {
        UserRecord {
            id: m.id,
            tenant_id: m.tenant_id,
            county_id: m.county_id,
            username: m.username,
            display_name: m.display_name,
            password_hash: m.password_hash,
            active: m.active,
            created_at: m.created_at,
            failed_logins: m.failed_logins,
            locked_until: m.locked_until,
            must_change_password: m.must_change_password,
            password_changed_at: m.password_changed_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRecord {
    pub id: i64,
    pub tenant_id: i64,
    pub county_id: i64,
    pub name: String,
    pub department: String,
    pub residency: Residency,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<unit::Model> for UnitRecord {
    type Error = ApiError;

    fn try_from(m: unit::Model) -> Result<Self, ApiError> {
        let residency = Residency::parse(&m.residency).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "unit {} has residency {:?}",
                m.id,
                m.residency
            ))
        })?;
        Ok(UnitRecord {
            id: m.id,
            tenant_id: m.tenant_id,
            county_id: m.county_id,
            name: m.name,
            department: m.department,
            residency,
            created_at: m.created_at,
        })
    }
}

fn check_permit<A: Act>(permit: &Permit<A>, resource: i64) -> ApiResult<()> {
    if permit.is_for(Some(resource)) {
        Ok(())
    } else {
        Err(ApiError::internal(anyhow::anyhow!(
            "permit {permit:?} does not cover {} on {resource}",
            permit.action()
        )))
    }
}

fn grant_of_row(g: role_grant::Model) -> ApiResult<Grant> {
    match (Role::parse(&g.role), TenantLevel::parse(&g.level)) {
        (Some(role), Some(level)) => Ok(Grant {
            user_id: g.user_id,
            role,
            tenant_id: g.tenant_id,
            level,
        }),
        _ => Err(ApiError::internal(anyhow::anyhow!(
            "grant {} is malformed",
            g.id
        ))),
    }
}

fn check_text(field: &str, text: &str, max: usize) -> ApiResult<()> {
    clean_text(field, text, 1, max, false).map(|_| ())
}

/// Usernames are ASCII letters, digits, `.`, `_` and `-`, 3 to 64 long.
pub fn check_username(username: &str) -> ApiResult<()> {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_input(
            "username",
            "use 3 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

impl Store {
    /// The hashes of an account's latest passwords, newest first (the current one, and those before it
    /// that the history kept).
    pub async fn recent_password_hashes(&self, account: &UserRecord) -> ApiResult<Vec<String>> {
        let mut hashes: Vec<String> = password_history::Entity::find()
            .filter(password_history::Column::UserId.eq(account.id))
            .order_by_desc(password_history::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(|h| h.password_hash)
            .collect();
        if !hashes.contains(&account.password_hash) {
            hashes.insert(0, account.password_hash.clone());
        }
        hashes.truncate(PASSWORDS_REMEMBERED);
        Ok(hashes)
    }

    /// Sets an account's own new password (its holder proved the old one), clears the demand to change
    /// it and the wrong-password count, and ends every session of the account, with the audit record, in
    /// one transaction. Answers the account as it now is and the families of the sessions ended.
    pub async fn change_password(
        &self,
        account: &UserRecord,
        password_hash: &str,
        at: DateTime<Utc>,
        audit: NewAuditRecord,
    ) -> ApiResult<(UserRecord, Vec<String>)> {
        let password = NewPassword {
            hash: password_hash,
            must_change: false,
            set_at: at,
        };
        self.set_password(account, password, ended::PASSWORD_CHANGED, audit)
            .await
    }

    /// Gives an account a password its administrator chose, to be changed at its next sign-in; the lock
    /// of wrong passwords is lifted. The permit is for `user.manage` on the account's home.
    pub async fn reset_password(
        &self,
        permit: &Permit<act::UserManage>,
        account: &UserRecord,
        password_hash: &str,
        at: DateTime<Utc>,
        audit: NewAuditRecord,
    ) -> ApiResult<(UserRecord, Vec<String>)> {
        check_permit(permit, account.tenant_id)?;
        let password = NewPassword {
            hash: password_hash,
            must_change: true,
            set_at: at,
        };
        self.set_password(account, password, ended::PASSWORD_RESET, audit)
            .await
    }

    /// A new password for an account, remembered in its history; every session of the account ends (as
    /// `why`), and the count of wrong passwords and any lock are cleared.
    async fn set_password(
        &self,
        account: &UserRecord,
        password: NewPassword<'_>,
        why: &'static str,
        audit: NewAuditRecord,
    ) -> ApiResult<(UserRecord, Vec<String>)> {
        let at = password.set_at;
        let txn = self.begin().await?;
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(password.hash))
            .col_expr(user::Column::PasswordChangedAt, Expr::value(Some(at)))
            .col_expr(
                user::Column::MustChangePassword,
                Expr::value(password.must_change),
            )
            .col_expr(user::Column::FailedLogins, Expr::value(0))
            .col_expr(
                user::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(user::Column::Id.eq(account.id))
            .exec(&txn)
            .await?;
        remember_password_in(&txn, account.id, account.county_id, password.hash, at).await?;
        let families = end_sessions_of_in(&txn, account.id, at, why).await?;
        append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        let changed = UserRecord {
            password_hash: password.hash.to_owned(),
            password_changed_at: Some(at),
            must_change_password: password.must_change,
            failed_logins: 0,
            locked_until: None,
            ..account.clone()
        };
        Ok((changed, families))
    }

    /// Creates an account in `tenant`; the permit is for `user.create` on that tenant.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_user(
        &self,
        permit: &Permit<act::UserCreate>,
        tenant: &TenantRecord,
        username: &str,
        display_name: &str,
        password: NewPassword<'_>,
        audit: NewAuditRecord,
    ) -> ApiResult<UserRecord> {
        check_permit(permit, tenant.id)?;
        let now = audit.at;
        check_username(username)?;
        check_text("displayName", display_name, 64)?;
        let txn = self.begin().await?;
        let model = user::ActiveModel {
            tenant_id: Set(tenant.id),
            county_id: Set(tenant.ancestry.county),
            username: Set(username.into()),
            display_name: Set(display_name.trim().into()),
            password_hash: Set(password.hash.into()),
            active: Set(true),
            created_at: Set(now),
            must_change_password: Set(password.must_change),
            password_changed_at: Set(Some(password.set_at)),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(taken("username", "this username is taken"))?;
        remember_password_in(
            &txn,
            model.id,
            model.county_id,
            password.hash,
            password.set_at,
        )
        .await?;
        append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(model.into())
    }

    pub async fn user(&self, id: i64) -> ApiResult<Option<UserRecord>> {
        Ok(user::Entity::find_by_id(id)
            .one(&self.read().await?)
            .await?
            .map(Into::into))
    }

    /// Several accounts in one statement; ids that name no account are left out.
    pub async fn users_by_ids(&self, ids: &[i64]) -> ApiResult<Vec<UserRecord>> {
        Ok(user::Entity::find()
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn user_by_username(&self, username: &str) -> ApiResult<Option<UserRecord>> {
        Ok(user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&self.read().await?)
            .await?
            .map(Into::into))
    }

    pub async fn users_of_tenant(&self, tenant_id: i64) -> ApiResult<Vec<UserRecord>> {
        Ok(user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant_id))
            .order_by_asc(user::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Records a grant and its audit record; the permit is for `role.grant` on the tenant. Granting a
    /// role twice is harmless (and recorded once).
    pub async fn grant_role(
        &self,
        permit: &Permit<act::RoleGrant>,
        grantee: &UserRecord,
        tenant: &TenantRecord,
        role: Role,
        audit: NewAuditRecord,
    ) -> ApiResult<Grant> {
        let now = audit.at;
        check_permit(permit, tenant.id)?;
        let grant = Grant {
            user_id: grantee.id,
            role,
            tenant_id: tenant.id,
            level: tenant.level,
        };
        let txn = self.begin().await?;
        let inserted = role_grant::ActiveModel {
            user_id: Set(grantee.id),
            tenant_id: Set(tenant.id),
            county_id: Set(tenant.ancestry.county),
            level: Set(tenant.level.as_str().into()),
            role: Set(role.as_str().into()),
            granted_by: Set(Some(permit.user_id())),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await;
        match inserted {
            Ok(_) => {
                append_audit_in(&txn, audit).await?;
                txn.commit().await?;
                Ok(grant)
            }
            Err(e) if is_unique_violation(&e) => Ok(grant),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes a grant back, with its audit record; the permit is for `role.revoke` on the grant's tenant.
    /// Whether the grant was held.
    pub async fn revoke_role(
        &self,
        permit: &Permit<act::RoleRevoke>,
        grant: Grant,
        audit: NewAuditRecord,
    ) -> ApiResult<bool> {
        check_permit(permit, grant.tenant_id)?;
        let txn = self.begin().await?;
        let removed = role_grant::Entity::delete_many()
            .filter(role_grant::Column::UserId.eq(grant.user_id))
            .filter(role_grant::Column::TenantId.eq(grant.tenant_id))
            .filter(role_grant::Column::Role.eq(grant.role.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if removed == 0 {
            return Ok(false);
        }
        append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The grants held by one account.
    pub async fn grants_of_user(&self, user_id: i64) -> ApiResult<Vec<Grant>> {
        role_grant::Entity::find()
            .filter(role_grant::Column::UserId.eq(user_id))
            .order_by_asc(role_grant::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(grant_of_row)
            .collect()
    }

    /// The active accounts holding `role` granted at `tenant_id` itself.
    pub async fn active_holders(&self, role: Role, tenant_id: i64) -> ApiResult<Vec<i64>> {
        let db = self.read().await?;
        let holders: Vec<i64> = role_grant::Entity::find()
            .filter(role_grant::Column::TenantId.eq(tenant_id))
            .filter(role_grant::Column::Role.eq(role.as_str()))
            .all(&db)
            .await?
            .into_iter()
            .map(|g| g.user_id)
            .collect();
        Ok(user::Entity::find()
            .filter(user::Column::Id.is_in(holders))
            .filter(user::Column::Active.eq(true))
            .all(&db)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect())
    }

    /// Deactivates or reactivates an account, with its audit record; the permit is for `user.manage` on
    /// the account's tenant. Deactivating also revokes every refresh token of the account, so that a
    /// reactivated account signs in afresh. Answers the account as it now is.
    pub async fn set_account_active(
        &self,
        permit: &Permit<act::UserManage>,
        account: &UserRecord,
        active: bool,
        audit: NewAuditRecord,
    ) -> ApiResult<UserRecord> {
        check_permit(permit, account.tenant_id)?;
        let now = audit.at;
        let txn = self.begin().await?;
        let changed = user::Entity::update_many()
            .col_expr(user::Column::Active, Expr::value(active))
            .filter(user::Column::Id.eq(account.id))
            .filter(user::Column::Active.eq(!active))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed == 0 {
            // Already so: nothing to record.
            return Ok(UserRecord {
                active,
                ..account.clone()
            });
        }
        if !active {
            end_sessions_of_in(&txn, account.id, now, ended::DEACTIVATED).await?;
        }
        append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(UserRecord {
            active,
            ..account.clone()
        })
    }

    pub async fn all_grants(&self) -> ApiResult<Vec<Grant>> {
        role_grant::Entity::find()
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(grant_of_row)
            .collect()
    }

    /// Creates a unit stationed in `tenant`; the permit is for `unit.create` on that tenant.
    pub async fn create_unit(
        &self,
        permit: &Permit<act::UnitCreate>,
        tenant: &TenantRecord,
        name: &str,
        department: &str,
        residency: Residency,
        now: DateTime<Utc>,
    ) -> ApiResult<UnitRecord> {
        check_permit(permit, tenant.id)?;
        check_text("name", name, 100)?;
        check_text("department", department, 64)?;
        let txn = self.begin().await?;
        let unit: UnitRecord = unit::ActiveModel {
            tenant_id: Set(tenant.id),
            county_id: Set(tenant.ancestry.county),
            name: Set(name.trim().into()),
            department: Set(department.trim().into()),
            residency: Set(residency.as_str().into()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(taken("name", "this center already has a unit of that name"))?
        .try_into()?;
        txn.commit().await?;
        Ok(unit)
    }

    /// Adds a member to a unit, with its audit record; the permit is for `unit.manage_members` on the
    /// unit's tenant. Adding a member twice is harmless (and recorded once).
    pub async fn add_unit_member(
        &self,
        permit: &Permit<act::UnitManageMembers>,
        unit: &UnitRecord,
        member: &UserRecord,
        audit: NewAuditRecord,
    ) -> ApiResult<()> {
        check_permit(permit, unit.tenant_id)?;
        let txn = self.begin().await?;
        let inserted = unit_member::ActiveModel {
            unit_id: Set(unit.id),
            user_id: Set(member.id),
            county_id: Set(unit.county_id),
        }
        .insert(&txn)
        .await;
        match inserted {
            Ok(_) => {
                append_audit_in(&txn, audit).await?;
                txn.commit().await?;
                Ok(())
            }
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a member from a unit, with its audit record; the permit is for `unit.manage_members` on
    /// the unit's tenant. Whether the account was a member.
    pub async fn remove_unit_member(
        &self,
        permit: &Permit<act::UnitManageMembers>,
        unit: &UnitRecord,
        member_id: i64,
        audit: NewAuditRecord,
    ) -> ApiResult<bool> {
        check_permit(permit, unit.tenant_id)?;
        let txn = self.begin().await?;
        let removed = unit_member::Entity::delete_many()
            .filter(unit_member::Column::UnitId.eq(unit.id))
            .filter(unit_member::Column::UserId.eq(member_id))
            .exec(&txn)
            .await?
            .rows_affected;
        if removed == 0 {
            return Ok(false);
        }
        append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// A unit's members, in the order they were made accounts.
    pub async fn unit_members(&self, unit_id: i64) -> ApiResult<Vec<UserRecord>> {
        let db = self.read().await?;
        let ids: Vec<i64> = unit_member::Entity::find()
            .filter(unit_member::Column::UnitId.eq(unit_id))
            .all(&db)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        Ok(user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .order_by_asc(user::Column::Id)
            .all(&db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn unit(&self, id: i64) -> ApiResult<Option<UnitRecord>> {
        unit::Entity::find_by_id(id)
            .one(&self.read().await?)
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Several units in one statement; ids that name no unit are left out.
    pub async fn units_by_ids(&self, ids: &[i64]) -> ApiResult<Vec<UnitRecord>> {
        unit::Entity::find()
            .filter(unit::Column::Id.is_in(ids.iter().copied()))
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    pub async fn units_of_tenant(&self, tenant_id: i64) -> ApiResult<Vec<UnitRecord>> {
        unit::Entity::find()
            .filter(unit::Column::TenantId.eq(tenant_id))
            .order_by_asc(unit::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// Every (unit, user) membership.
    pub async fn all_unit_members(&self) -> ApiResult<Vec<(i64, i64)>> {
        Ok(unit_member::Entity::find()
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(|m| (m.unit_id, m.user_id))
            .collect())
    }
}
