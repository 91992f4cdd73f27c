//! Sessions (GB/T 22239-2019 8.1.4.1 d): opened at sign-in as a record, checked at every request (signed
//! out or ended elsewhere, idle longer than its county allows, past its absolute lifetime), listed and
//! ended by their own account; and each county's security policy, which the security administrator sets.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use fengqiao_tenancy::{Principal, RefreshToken, act};

use crate::error::{ApiError, ApiResult};
use crate::store::audit::NewAuditRecord;
use crate::store::scope;
use crate::store::sessions::{NewSession, SecurityPolicy, SessionRecord, ended};
use crate::store::users::UserRecord;

use super::{AppState, Caller, PolicyChange, Session};

/// How often a busy session's last use is written down: its idle time is known to this much.
pub const TOUCH_EVERY: Duration = Duration::seconds(60);

/// What this process knows of a live session.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub county_id: i64,
    pub expires_at: DateTime<Utc>,
    /// The last use known here (this process's, or the store's when it was loaded).
    pub last_seen_at: DateTime<Utc>,
    /// When this process last wrote `last_seen_at` down.
    pub written_at: DateTime<Utc>,
}

/// The cache's epoch: made when missing, so that a cache that lost its contents is noticed.
const CACHE_EPOCH: &str = "cache-epoch";

pub(crate) fn revoked_key(family: &str) -> String {
    format!("session-revoked:{family}")
}

fn ended_error(reason: &str) -> ApiError {
    ApiError::Unauthenticated(match reason {
        ended::SIGNED_OUT => "the session has been signed out",
        ended::IDLE => "the session was idle too long; sign in again",
        ended::EXPIRED => "the session reached its time limit; sign in again",
        ended::REPLACED => "the account signed in elsewhere too often; this session has ended",
        ended::PASSWORD_CHANGED => "the password was changed; sign in again",
        ended::PASSWORD_RESET => "the password was reset by an administrator; sign in again",
        ended::DEACTIVATED => "the account is disabled",
        _ => "the session has ended",
    })
}

impl AppState {
    /// The security policy of a county (its own, or the defaults).
    pub fn security_policy_of(&self, county_id: i64) -> SecurityPolicy {
        self.security
            .read()
            .ok()
            .and_then(|p| p.get(&county_id).copied())
            .unwrap_or_default()
    }

    /// Loads every county's stored security policy.
    pub async fn load_security_policies(&self) -> ApiResult<()> {
        let stored = scope::as_system(self.store.security_policies()).await?;
        let mut policies = self
            .security
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("security policy lock poisoned")))?;
        policies.clear();
        policies.extend(stored);
        Ok(())
    }

    /// Opens a session for an account that proved its password: a record (ending the account's oldest
    /// past its county's limit) and the first pair of tokens.
    pub(crate) async fn start_session(
        &self,
        user: UserRecord,
        client: Option<IpAddr>,
        user_agent: &str,
    ) -> ApiResult<Session> {
        let now = self.session_now();
        let policy = self.security_policy_of(user.county_id);
        let family = RefreshToken::new_family();
        let refresh = RefreshToken::generate();
        let expires_at = now + Duration::hours(i64::from(policy.absolute_hours));
        let refresh_expires_at = (now + self.tokens.settings().refresh_ttl).min(expires_at);
        let replaced = scope::as_system(self.store.open_session(
            NewSession {
                family_id: &family,
                county_id: user.county_id,
                user_id: user.id,
                at: now,
                expires_at,
                client_address: client.map(|a| a.to_string()),
                user_agent,
                refresh_hash: &refresh.hash,
                refresh_expires_at,
            },
            policy.max_sessions,
        ))
        .await?;
        for family in &replaced {
            self.mark_ended(family).await?;
        }
        self.remember_session(
            &family,
            LiveSession {
                county_id: user.county_id,
                expires_at,
                last_seen_at: now,
                written_at: now,
            },
        )?;
        self.session(user, &family, refresh.secret)
    }

    fn remember_session(&self, family: &str, live: LiveSession) -> ApiResult<()> {
        let mut sessions = self
            .sessions
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("session lock poisoned")))?;
        // Forget the sessions that are over by the clock before the map grows past what is live.
        if sessions.len() >= 4096 {
            let now = self.session_now();
            sessions.retain(|_, s| s.expires_at > now);
        }
        sessions.insert(family.to_owned(), live);
        Ok(())
    }

    fn known_session(&self, family: &str) -> ApiResult<Option<LiveSession>> {
        Ok(self
            .sessions
            .read()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("session lock poisoned")))?
            .get(family)
            .cloned())
    }

    /// Loads a session from the store into memory; an unknown or ended one answers why not.
    async fn load_session(&self, family: &str) -> ApiResult<LiveSession> {
        let record = scope::as_system(self.store.session(family)).await?;
        match record {
            Some(SessionRecord {
                ended_at: Some(_),
                end_reason,
                ..
            }) => Err(ended_error(&end_reason)),
            Some(s) => {
                let live = LiveSession {
                    county_id: s.county_id,
                    expires_at: s.expires_at,
                    last_seen_at: s.last_seen_at,
                    written_at: s.last_seen_at,
                };
                self.remember_session(family, live.clone())?;
                Ok(live)
            }
            None => Err(ApiError::Unauthenticated("the session has ended")),
        }
    }

    /// Whether the session `family` is live now: not ended, not past its absolute lifetime, not idle
    /// longer than its county allows. A session found over is ended. With `touch`, this is a use of it
    /// (written down at most every `TOUCH_EVERY`).
    pub(crate) async fn check_session(&self, family: &str, touch: bool) -> ApiResult<()> {
        let now = self.session_now();
        let mut live = match self.known_session(family)? {
            Some(live) => live,
            None => self.load_session(family).await?,
        };
        if now >= live.expires_at {
            self.end_session(family, ended::EXPIRED, None).await?;
            return Err(ended_error(ended::EXPIRED));
        }
        let idle = Duration::minutes(i64::from(
            self.security_policy_of(live.county_id).idle_minutes,
        ));
        if now - live.last_seen_at > idle {
            // Another replica may have seen it used since.
            live = self.load_session(family).await?;
            if now - live.last_seen_at > idle {
                self.end_session(family, ended::IDLE, None).await?;
                return Err(ended_error(ended::IDLE));
            }
        }
        if touch {
            live.last_seen_at = now;
            if now - live.written_at >= TOUCH_EVERY {
                live.written_at = now;
                scope::as_system(self.store.touch_session(family, now)).await?;
            }
            self.remember_session(family, live)?;
        }
        Ok(())
    }

    /// Ends a session: its record, its refresh tokens, and its access tokens on every replica (through
    /// the cache) with `audit`, if any, in the same transaction.
    pub(crate) async fn end_session(
        &self,
        family: &str,
        reason: &str,
        audit: Option<NewAuditRecord>,
    ) -> ApiResult<bool> {
        let was_live =
            scope::as_system(
                self.store
                    .end_session(family, self.session_now(), reason, audit),
            )
            .await?;
        self.mark_ended(family).await?;
        Ok(was_live)
    }

    /// Tells every replica that the session `family` has ended: its access tokens are refused from the
    /// next request (until they would have expired anyway).
    pub(crate) async fn mark_ended(&self, family: &str) -> ApiResult<()> {
        if let Ok(mut sessions) = self.sessions.write() {
            sessions.remove(family);
        }
        let ttl = self.tokens.settings().access_ttl
            + Duration::seconds(fengqiao_tenancy::token::LEEWAY_SECONDS as i64 + 1);
        let written = self
            .cache
            .set(
                &revoked_key(family),
                "1",
                ttl.to_std().unwrap_or(StdDuration::from_secs(960)),
            )
            .await;
        if let Err(e) = written {
            // The session's record says it ended; while the cache is out of reach, replicas read that.
            tracing::debug!(error = %e, "cache unavailable; the session's end is in its record only");
        }
        Ok(())
    }

    /// Whether the session `family` was ended, here or on another replica. The cache says so at once for
    /// every replica; while it is out of reach, the session's record does (a read per request until the
    /// cache answers again). What this process remembers of sessions is forgotten, to be read again from
    /// their records, whenever the cache may have missed an end: when it comes back after being out of
    /// reach (ends written meanwhile reached the records only), and when it lost its contents (a
    /// restarted Redis keeps nothing), which its epoch key tells in the same round trip.
    pub(crate) async fn session_ended_anywhere(&self, family: &str) -> ApiResult<bool> {
        let recoveries = self.cache.recoveries();
        if self
            .cache_recoveries_seen
            .swap(recoveries, Ordering::Relaxed)
            != recoveries
        {
            self.forget_sessions();
        }
        let revoked = revoked_key(family);
        match self.cache.get_many(&[&revoked, CACHE_EPOCH]).await {
            Ok(found) => {
                let mut found = found.into_iter();
                let ended = found.next().flatten().is_some();
                self.check_cache_epoch(found.next().flatten()).await;
                Ok(ended)
            }
            Err(e) => {
                tracing::debug!(error = %e, "cache unavailable; reading the session's record");
                let record = scope::as_system(self.store.session(family)).await?;
                let ended = record.is_none_or(|s| s.ended_at.is_some());
                if ended && let Ok(mut sessions) = self.sessions.write() {
                    sessions.remove(family);
                }
                Ok(ended)
            }
        }
    }

    /// Compares the cache's epoch with the one this process last saw; a missing one (the cache lost its
    /// contents, or was never given one) is made, and any change forgets the sessions remembered.
    async fn check_cache_epoch(&self, epoch: Option<String>) {
        let epoch = match epoch.and_then(|e| e.parse::<i64>().ok()) {
            Some(epoch) => epoch,
            // Replicas that find it missing at once each count it up; they agree after one more look.
            None => match self.cache.incr(CACHE_EPOCH).await {
                Ok(n) => n,
                Err(_) => return,
            },
        };
        if self.cache_epoch_seen.swap(epoch, Ordering::Relaxed) != epoch {
            self.forget_sessions();
        }
    }

    fn forget_sessions(&self) {
        if let Ok(mut sessions) = self.sessions.write() {
            sessions.clear();
        }
    }

    /// The caller's own live sessions, newest first.
    pub async fn own_sessions(&self, caller: &Caller) -> ApiResult<Vec<SessionRecord>> {
        scope::as_system(
            self.store
                .live_sessions_of(caller.principal.user_id, self.session_now()),
        )
        .await
    }

    /// One of the caller's own live sessions; another account's, or one over, is `NOT_FOUND`.
    pub async fn own_session(&self, caller: &Caller, session_id: i64) -> ApiResult<SessionRecord> {
        self.own_sessions(caller)
            .await?
            .into_iter()
            .find(|s| s.id == session_id)
            .ok_or(ApiError::NotFound)
    }

    /// Ends one of the caller's own sessions (the current one included). Another account's session, or
    /// one already over, is `NOT_FOUND`.
    pub async fn end_own_session(
        &self,
        caller: &Caller,
        session_id: i64,
        client: Option<IpAddr>,
    ) -> ApiResult<SessionRecord> {
        let now = self.session_now();
        let session = scope::as_system(self.store.session_by_id(session_id))
            .await?
            .filter(|s| {
                s.user_id == caller.principal.user_id && s.ended_at.is_none() && s.expires_at > now
            })
            .ok_or(ApiError::NotFound)?;
        let audit = NewAuditRecord::by(
            &caller.principal,
            session.county_id,
            client,
            now,
            "session.revoke",
            format!("session {} of account {}", session.id, session.user_id),
        );
        self.end_session(&session.family_id, ended::REVOKED, Some(audit))
            .await?;
        Ok(SessionRecord {
            ended_at: Some(now),
            end_reason: ended::REVOKED.into(),
            ..session
        })
    }

    /// The security policy in force at a county the principal may see.
    pub async fn security_policy(
        &self,
        principal: &Principal,
        county_id: i64,
    ) -> ApiResult<SecurityPolicy> {
        let county = self.tenant(principal, county_id).await?;
        if county.ancestry.county != county.id {
            return Err(ApiError::bad_input(
                "tenantId",
                "a security policy is a county's",
            ));
        }
        Ok(self.security_policy_of(county.id))
    }

    /// Sets a county's security policy (the security administrator's, `security.configure`). Sessions
    /// already open keep the absolute lifetime they began with; the idle timeout applies at once.
    pub async fn set_security_policy(
        &self,
        principal: &Principal,
        county_id: i64,
        policy: SecurityPolicy,
        client: Option<IpAddr>,
    ) -> ApiResult<SecurityPolicy> {
        let (county, permit) = self
            .permit_on_tenant::<act::SecurityConfigure>(principal, county_id)
            .await?;
        if county.ancestry.county != county.id {
            return Err(ApiError::bad_input(
                "tenantId",
                "a security policy is a county's",
            ));
        }
        policy.check()?;
        let audit = NewAuditRecord::by(
            principal,
            county.id,
            client,
            self.session_now(),
            "policy.security",
            format!(
                "security policy of county {}: idle {} min, absolute {} h, {} sessions, password expiry {} days",
                county.id,
                policy.idle_minutes,
                policy.absolute_hours,
                policy.max_sessions,
                policy.password_max_age_days
            ),
        );
        self.store
            .set_security_policy(&permit, county.id, policy, audit)
            .await?;
        self.security
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("security policy lock poisoned")))?
            .insert(county.id, policy);
        self.announce(&PolicyChange::SecurityPolicies).await;
        Ok(policy)
    }
}
