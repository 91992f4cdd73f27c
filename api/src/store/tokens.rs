//! Refresh tokens: stored as hashes, spent once, grouped by family (one family per sign-in).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::Store;
use super::entities::refresh_token;
use crate::error::ApiResult;

/// What spending a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spend {
    /// The token was live and is now spent.
    Spent { user_id: i64, family: String },
    /// The token had been spent before: a replay, so its family must be revoked.
    Reused { family: String },
    /// Unknown, expired or revoked.
    Invalid,
}

impl Store {
    /// Spends the token with this hash and saves its successor in the same family, in one transaction.
    ///
    /// Of two concurrent uses of one token only one spends it; the other waits on the spent row, finds it
    /// spent, and reports a reuse. Because the successor commits together with the spend, a revocation
    /// that follows the reuse always sees, and revokes, the successor too.
    pub async fn rotate_refresh_token(
        &self,
        hash: &str,
        successor: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> ApiResult<Spend> {
        let txn = self.begin().await?;
        let spent = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(Some(now)))
            .filter(refresh_token::Column::TokenHash.eq(hash))
            .filter(refresh_token::Column::UsedAt.is_null())
            .filter(refresh_token::Column::RevokedAt.is_null())
            .filter(refresh_token::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?;
        let row = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(hash))
            .one(&txn)
            .await?;
        let outcome = match row {
            Some(row) if spent.rows_affected == 1 => {
                refresh_token::ActiveModel {
                    family_id: Set(row.family_id.clone()),
                    user_id: Set(row.user_id),
                    token_hash: Set(successor.into()),
                    issued_at: Set(now),
                    expires_at: Set(expires),
                    used_at: Set(None),
                    revoked_at: Set(None),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                Spend::Spent {
                    user_id: row.user_id,
                    family: row.family_id,
                }
            }
            Some(row) if row.used_at.is_some() && row.revoked_at.is_none() => Spend::Reused {
                family: row.family_id,
            },
            _ => Spend::Invalid,
        };
        txn.commit().await?;
        Ok(outcome)
    }
}
