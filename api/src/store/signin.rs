//! Wrong passwords in a row per account and the lock they lead to (GB/T 22239-2019 8.1.4.1: 登录失败处理),
//! kept in the users table so that every replica and every restart sees the same count.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Store;
use super::entities::user;
use crate::error::ApiResult;

/// What counting a password attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The attempt is the `n`th in a row that has not (yet) succeeded; its password may be checked.
    Counted(i32),
    /// The account is locked until then; no password is checked.
    Locked(DateTime<Utc>),
}

impl Store {
    /// Counts an attempt on `user_id` as a failure before its password is checked, in one statement, so
    /// that parallel attempts cannot all read the same count: the `n`th attempt in a row learns `n`. A
    /// locked account is not counted.
    pub async fn begin_password_attempt(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> ApiResult<Attempt> {
        let txn = self.begin().await?;
        let counted = user::Entity::update_many()
            .col_expr(
                user::Column::FailedLogins,
                Expr::col(user::Column::FailedLogins).add(1),
            )
            .filter(user::Column::Id.eq(user_id))
            .filter(
                Condition::any()
                    .add(user::Column::LockedUntil.is_null())
                    .add(user::Column::LockedUntil.lte(now)),
            )
            .exec_with_returning(&txn)
            .await?;
        let outcome = match counted.first() {
            Some(row) => Attempt::Counted(row.failed_logins),
            None => {
                let row = user::Entity::find_by_id(user_id).one(&txn).await?;
                Attempt::Locked(row.and_then(|r| r.locked_until).unwrap_or(now))
            }
        };
        txn.commit().await?;
        Ok(outcome)
    }

    /// The password was right: the count starts again.
    pub async fn clear_failed_logins(&self, user_id: i64) -> ApiResult<()> {
        let txn = self.begin().await?;
        user::Entity::update_many()
            .col_expr(user::Column::FailedLogins, Expr::value(0))
            .col_expr(
                user::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(user::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Locks the account until `until`; the count starts again after the lock.
    pub async fn lock_account(&self, user_id: i64, until: DateTime<Utc>) -> ApiResult<()> {
        let txn = self.begin().await?;
        user::Entity::update_many()
            .col_expr(user::Column::FailedLogins, Expr::value(0))
            .col_expr(user::Column::LockedUntil, Expr::value(Some(until)))
            .filter(user::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}
