//! The policy change feed (migration `m20261207_000001_policy_changes`): what every server reads to learn
//! of changes made by other processes.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::Store;
use super::entities::policy_change;
use crate::error::ApiResult;

impl Store {
    /// Appends a change to the feed; returns its position.
    pub async fn append_policy_change(&self, message: &str, at: DateTime<Utc>) -> ApiResult<i64> {
        let txn = self.begin().await?;
        let row = policy_change::ActiveModel {
            message: Set(message.to_owned()),
            at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(row.id)
    }

    /// Up to `limit` changes after position `after`, in order.
    pub async fn policy_changes_after(
        &self,
        after: i64,
        limit: u64,
    ) -> ApiResult<Vec<(i64, String)>> {
        let db = self.read().await?;
        Ok(policy_change::Entity::find()
            .filter(policy_change::Column::Id.gt(after))
            .order_by_asc(policy_change::Column::Id)
            .limit(limit)
            .all(&db)
            .await?
            .into_iter()
            .map(|m| (m.id, m.message))
            .collect())
    }

    /// The position of the last change in the feed (0 when empty): where a starting server begins, having
    /// loaded everything.
    pub async fn policy_feed_end(&self) -> ApiResult<i64> {
        let db = self.read().await?;
        let last = policy_change::Entity::find()
            .order_by_desc(policy_change::Column::Id)
            .one(&db)
            .await?;
        Ok(last.map_or(0, |m| m.id))
    }

    /// Removes changes older than `before`: every server has read them long since.
    pub async fn prune_policy_changes(&self, before: DateTime<Utc>) -> ApiResult<u64> {
        let txn = self.begin().await?;
        let pruned = policy_change::Entity::delete_many()
            .filter(policy_change::Column::At.lt(before))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(pruned)
    }
}
