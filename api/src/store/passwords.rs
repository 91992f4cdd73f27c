//! Passwords as set: the hash with when it was set and whether its holder must change it, and each
//! account's history of hashes (so that none of the latest is chosen again).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::entities::password_history;
use crate::error::ApiResult;

/// A password set for an account, as its hash.
#[derive(Debug, Clone, Copy)]
pub struct NewPassword<'a> {
    pub hash: &'a str,
    /// Someone else chose it: its holder changes it at first sign-in.
    pub must_change: bool,
    /// When it was set, on the session clock: its age counts from here.
    pub set_at: DateTime<Utc>,
}

/// How many of an account's latest passwords a new one may not repeat (the current one among them).
pub const PASSWORDS_REMEMBERED: usize = 5;

/// Keeps a password's hash in the account's history, forgetting all but the latest
/// `PASSWORDS_REMEMBERED`.
pub(crate) async fn remember_password_in(
    txn: &impl ConnectionTrait,
    user_id: i64,
    county_id: i64,
    password_hash: &str,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    password_history::ActiveModel {
        county_id: Set(county_id),
        user_id: Set(user_id),
        password_hash: Set(password_hash.into()),
        set_at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let older: Vec<i64> = password_history::Entity::find()
        .filter(password_history::Column::UserId.eq(user_id))
        .order_by_desc(password_history::Column::Id)
        .all(txn)
        .await?
        .into_iter()
        .skip(PASSWORDS_REMEMBERED)
        .map(|h| h.id)
        .collect();
    if !older.is_empty() {
        password_history::Entity::delete_many()
            .filter(password_history::Column::Id.is_in(older))
            .exec(txn)
            .await?;
    }
    Ok(())
}
