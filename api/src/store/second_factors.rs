//! Accounts' second factors (TOTP secrets, sealed), their confirmation, and the last step a code was
//! accepted for.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, QueryFilter};

use super::Store;
use super::audit::{NewAuditRecord, append_audit_in};
use super::entities::second_factor;
use crate::error::ApiResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorRecord {
    pub user_id: i64,
    /// The secret, sealed by the personal-data key.
    pub secret_sealed: String,
    pub created_at: DateTime<Utc>,
    /// When a first code confirmed it; until then it is only being enrolled.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last step a code was accepted for.
    pub last_step: Option<i64>,
}

impl From<second_factor::Model> for SecondFactorRecord {
    fn from(m: second_factor::Model) -> Self {
        SecondFactorRecord {
            user_id: m.user_id,
            secret_sealed: m.secret_sealed,
            created_at: m.created_at,
            confirmed_at: m.confirmed_at,
            last_step: m.last_step,
        }
    }
}

impl Store {
    pub async fn second_factor(&self, user_id: i64) -> ApiResult<Option<SecondFactorRecord>> {
        Ok(second_factor::Entity::find()
            .filter(second_factor::Column::UserId.eq(user_id))
            .one(&self.read().await?)
            .await?
            .map(Into::into))
    }

    /// Keeps a new, unconfirmed secret for an account (replacing one not yet confirmed), with its audit
    /// record. A confirmed factor is not replaced: answers `false`.
    pub async fn begin_second_factor(
        &self,
        user_id: i64,
        county_id: i64,
        secret_sealed: &str,
        audit: NewAuditRecord,
    ) -> ApiResult<bool> {
        let at = audit.at;
        let txn = self.begin().await?;
        // The write comes first: on SQLite the transaction holds the write lock from here.
        second_factor::Entity::delete_many()
            .filter(second_factor::Column::UserId.eq(user_id))
            .filter(second_factor::Column::ConfirmedAt.is_null())
            .exec(&txn)
            .await?;
        let inserted = second_factor::Entity::insert(second_factor::ActiveModel {
            county_id: Set(county_id),
            user_id: Set(user_id),
            secret_sealed: Set(secret_sealed.into()),
            created_at: Set(at),
            confirmed_at: Set(None),
            last_step: Set(None),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::column(second_factor::Column::UserId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            return Ok(false);
        }
        append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Accepts a code of `step` for an account's factor, confirming it if it was not yet: only if no code
    /// of this step or a later one was accepted before (two requests with one code: one wins). With
    /// `audit` (the confirmation's) in the same transaction. Answers whether it was accepted.
    pub async fn use_second_factor(
        &self,
        user_id: i64,
        step: i64,
        at: DateTime<Utc>,
        audit: Option<NewAuditRecord>,
    ) -> ApiResult<bool> {
        let txn = self.begin().await?;
        let used = second_factor::Entity::update_many()
            .col_expr(second_factor::Column::LastStep, Expr::value(Some(step)))
            .col_expr(
                second_factor::Column::ConfirmedAt,
                Expr::col(second_factor::Column::ConfirmedAt).if_null(Expr::value(at)),
            )
            .filter(second_factor::Column::UserId.eq(user_id))
            .filter(
                second_factor::Column::LastStep
                    .is_null()
                    .or(second_factor::Column::LastStep.lt(step)),
            )
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if used && let Some(audit) = audit {
            append_audit_in(&txn, audit).await?;
        }
        txn.commit().await?;
        Ok(used)
    }

    /// Removes an account's factor (a lost device), with its audit record; answers whether it had one.
    pub async fn remove_second_factor(
        &self,
        user_id: i64,
        audit: NewAuditRecord,
    ) -> ApiResult<bool> {
        let txn = self.begin().await?;
        let removed = second_factor::Entity::delete_many()
            .filter(second_factor::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?
            .rows_affected
            > 0;
        if removed {
            append_audit_in(&txn, audit).await?;
        }
        txn.commit().await?;
        Ok(removed)
    }
}
