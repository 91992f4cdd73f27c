//! Sessions as records (one per sign-in, a refresh-token family) and each county's security policy: how
//! long a session may be idle and may last, how many an account holds at once, when a password expires.

use chrono::{DateTime, Utc};
use fengqiao_tenancy::{Permit, act};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::Store;
use super::audit::{NewAuditRecord, append_audit_in};
use super::entities::{refresh_token, security_policy, session};
use crate::error::{ApiError, ApiResult};

/// A county's rules for sessions and passwords (GB/T 22239-2019 8.1.4.1 a, d). A county that set none has
/// `SecurityPolicy::default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityPolicy {
    /// A session unused this long ends (会话超时).
    pub idle_minutes: i32,
    /// A session ends this long after its sign-in, however busy.
    pub absolute_hours: i32,
    /// Sessions an account holds at once; signing in past it ends the oldest.
    pub max_sessions: i32,
    /// Days after which a password must be changed at the next sign-in; 0: never.
    pub password_max_age_days: i32,
    /// Whether the administrators, auditors and supervisors sign in with a second factor (TOTP).
    pub require_totp: bool,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            idle_minutes: 30,
            absolute_hours: 12,
            max_sessions: 5,
            password_max_age_days: 90,
            require_totp: false,
        }
    }
}

/// The bounds a county's policy is set within.
pub const IDLE_MINUTES: std::ops::RangeInclusive<i32> = 5..=240;
pub const ABSOLUTE_HOURS: std::ops::RangeInclusive<i32> = 1..=24;
pub const MAX_SESSIONS: std::ops::RangeInclusive<i32> = 1..=20;
/// 0 turns expiry off; otherwise 30 days to a year.
pub const PASSWORD_MAX_AGE_DAYS: std::ops::RangeInclusive<i32> = 30..=365;

impl SecurityPolicy {
    /// Checks every value against its bounds, naming the first field out of them.
    pub fn check(&self) -> ApiResult<()> {
        let within = |field: &'static str, value: i32, range: std::ops::RangeInclusive<i32>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(ApiError::bad_input(
                    field,
                    format!("between {} and {}", range.start(), range.end()),
                ))
            }
        };
        within("idleMinutes", self.idle_minutes, IDLE_MINUTES)?;
        within("absoluteHours", self.absolute_hours, ABSOLUTE_HOURS)?;
        within("maxSessions", self.max_sessions, MAX_SESSIONS)?;
        if self.password_max_age_days != 0 {
            within(
                "passwordMaxAgeDays",
                self.password_max_age_days,
                PASSWORD_MAX_AGE_DAYS,
            )?;
        }
        if i64::from(self.idle_minutes) > i64::from(self.absolute_hours) * 60 {
            return Err(ApiError::bad_input(
                "idleMinutes",
                "not longer than the absolute lifetime",
            ));
        }
        Ok(())
    }
}

/// Why a session ended.
pub mod ended {
    pub const SIGNED_OUT: &str = "signed_out";
    /// Its account ended it from another session.
    pub const REVOKED: &str = "revoked";
    /// A spent refresh token was presented again.
    pub const REUSED: &str = "refresh_reused";
    pub const IDLE: &str = "idle";
    pub const EXPIRED: &str = "expired";
    /// Its account signed in once too many.
    pub const REPLACED: &str = "replaced";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    /// Its administrator reset the account's password.
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const DEACTIVATED: &str = "account_deactivated";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: i64,
    pub family_id: String,
    pub county_id: i64,
    pub user_id: i64,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: String,
    pub client_address: Option<String>,
    pub user_agent: String,
}

impl From<session::Model> for SessionRecord {
    fn from(m: session::Model) -> Self {
        SessionRecord {
            id: m.id,
            family_id: m.family_id,
            county_id: m.county_id,
            user_id: m.user_id,
            started_at: m.started_at,
            last_seen_at: m.last_seen_at,
            expires_at: m.expires_at,
            ended_at: m.ended_at,
            end_reason: m.end_reason,
            client_address: m.client_address,
            user_agent: m.user_agent,
        }
    }
}

/// A session to open, with its first refresh token.
pub struct NewSession<'a> {
    pub family_id: &'a str,
    pub county_id: i64,
    pub user_id: i64,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: Option<String>,
    pub user_agent: &'a str,
    pub refresh_hash: &'a str,
    pub refresh_expires_at: DateTime<Utc>,
}

/// Ends the live sessions of `families` and revokes their refresh tokens, in `txn`; answers how many were
/// live. It writes before it reads anything, so on SQLite the transaction takes the write lock at once
/// (a read first would fail to upgrade beside a parallel writer).
async fn end_in(
    txn: &impl ConnectionTrait,
    families: &[String],
    at: DateTime<Utc>,
    reason: &str,
) -> ApiResult<u64> {
    if families.is_empty() {
        return Ok(0);
    }
    let ended = session::Entity::update_many()
        .col_expr(session::Column::EndedAt, Expr::value(Some(at)))
        .col_expr(session::Column::EndReason, Expr::value(reason))
        .filter(session::Column::FamilyId.is_in(families.iter().cloned()))
        .filter(session::Column::EndedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Some(at)))
        .filter(refresh_token::Column::FamilyId.is_in(families.iter().cloned()))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(ended)
}

/// Ends every session of an account and revokes all its refresh tokens, in `txn` (after the account's own
/// row was written, so that on SQLite the transaction holds the write lock); answers the families that
/// were live.
pub(crate) async fn end_sessions_of_in(
    txn: &impl ConnectionTrait,
    user_id: i64,
    at: DateTime<Utc>,
    reason: &str,
) -> ApiResult<Vec<String>> {
    let families: Vec<String> = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::EndedAt.is_null())
        .all(txn)
        .await?
        .into_iter()
        .map(|s| s.family_id)
        .collect();
    end_in(txn, &families, at, reason).await?;
    // Tokens of sessions from before sessions were kept have no record: revoke them by account.
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Some(at)))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(families)
}

/// The families of an account's live sessions, newest first.
async fn live_families_in(
    txn: &impl ConnectionTrait,
    user_id: i64,
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::EndedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::StartedAt)
        .order_by_desc(session::Column::Id)
        .all(txn)
        .await?
        .into_iter()
        .map(|s| s.family_id)
        .collect())
}

impl Store {
    /// Opens a session with its first refresh token, ending the account's oldest live sessions past
    /// `max_sessions`; answers the families it ended.
    pub async fn open_session(
        &self,
        new: NewSession<'_>,
        max_sessions: i32,
    ) -> ApiResult<Vec<String>> {
        let txn = self.begin().await?;
        session::ActiveModel {
            family_id: Set(new.family_id.into()),
            county_id: Set(new.county_id),
            user_id: Set(new.user_id),
            started_at: Set(new.at),
            last_seen_at: Set(new.at),
            expires_at: Set(new.expires_at),
            ended_at: Set(None),
            end_reason: Set(String::new()),
            client_address: Set(new.client_address),
            user_agent: Set(new.user_agent.chars().take(200).collect()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        refresh_token::ActiveModel {
            family_id: Set(new.family_id.into()),
            user_id: Set(new.user_id),
            token_hash: Set(new.refresh_hash.into()),
            issued_at: Set(new.at),
            expires_at: Set(new.refresh_expires_at),
            used_at: Set(None),
            revoked_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let keep = usize::try_from(max_sessions.max(1)).unwrap_or(1);
        let over: Vec<String> = live_families_in(&txn, new.user_id, new.at)
            .await?
            .into_iter()
            .skip(keep)
            .collect();
        end_in(&txn, &over, new.at, ended::REPLACED).await?;
        txn.commit().await?;
        Ok(over)
    }

    pub async fn session(&self, family: &str) -> ApiResult<Option<SessionRecord>> {
        Ok(session::Entity::find()
            .filter(session::Column::FamilyId.eq(family))
            .one(&self.read().await?)
            .await?
            .map(Into::into))
    }

    pub async fn session_by_id(&self, id: i64) -> ApiResult<Option<SessionRecord>> {
        Ok(session::Entity::find_by_id(id)
            .one(&self.read().await?)
            .await?
            .map(Into::into))
    }

    /// Notes that a live session was used at `at`.
    pub async fn touch_session(&self, family: &str, at: DateTime<Utc>) -> ApiResult<()> {
        let txn = self.begin().await?;
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(at))
            .filter(session::Column::FamilyId.eq(family))
            .filter(session::Column::EndedAt.is_null())
            .filter(session::Column::LastSeenAt.lt(at))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Ends a session (if live) and revokes its refresh tokens, with `audit` (if any) in the same
    /// transaction; answers whether it was live.
    pub async fn end_session(
        &self,
        family: &str,
        at: DateTime<Utc>,
        reason: &str,
        audit: Option<NewAuditRecord>,
    ) -> ApiResult<bool> {
        let txn = self.begin().await?;
        let live = end_in(&txn, &[family.to_owned()], at, reason).await? == 1;
        if let Some(audit) = audit {
            append_audit_in(&txn, audit).await?;
        }
        txn.commit().await?;
        Ok(live)
    }

    /// An account's live sessions, newest first.
    pub async fn live_sessions_of(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<SessionRecord>> {
        Ok(session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::EndedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_desc(session::Column::StartedAt)
            .order_by_desc(session::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Every county's stored security policy.
    pub async fn security_policies(&self) -> ApiResult<Vec<(i64, SecurityPolicy)>> {
        Ok(security_policy::Entity::find()
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(|m| {
                (
                    m.county_id,
                    SecurityPolicy {
                        idle_minutes: m.idle_minutes,
                        absolute_hours: m.absolute_hours,
                        max_sessions: m.max_sessions,
                        password_max_age_days: m.password_max_age_days,
                        require_totp: m.require_totp,
                    },
                )
            })
            .collect())
    }

    /// Sets a county's security policy; the permit is for `security.configure` at the county.
    pub async fn set_security_policy(
        &self,
        permit: &Permit<act::SecurityConfigure>,
        county_id: i64,
        policy: SecurityPolicy,
        audit: NewAuditRecord,
    ) -> ApiResult<()> {
        if !permit.is_for(Some(county_id)) || audit.county_id != county_id {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover the security policy of county {county_id}"
            )));
        }
        policy.check()?;
        let row = security_policy::ActiveModel {
            county_id: Set(county_id),
            idle_minutes: Set(policy.idle_minutes),
            absolute_hours: Set(policy.absolute_hours),
            max_sessions: Set(policy.max_sessions),
            password_max_age_days: Set(policy.password_max_age_days),
            require_totp: Set(policy.require_totp),
            updated_at: Set(audit.at),
            updated_by: Set(Some(permit.user_id())),
            ..Default::default()
        };
        let txn = self.begin().await?;
        security_policy::Entity::insert(row)
            .on_conflict(
                OnConflict::column(security_policy::Column::CountyId)
                    .update_columns([
                        security_policy::Column::IdleMinutes,
                        security_policy::Column::AbsoluteHours,
                        security_policy::Column::MaxSessions,
                        security_policy::Column::PasswordMaxAgeDays,
                        security_policy::Column::RequireTotp,
                        security_policy::Column::UpdatedAt,
                        security_policy::Column::UpdatedBy,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(())
    }
}
