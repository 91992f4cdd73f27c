//! Signing in and out, sessions and their tokens, and who a bearer token stands for. Sign-in defences
//! (GB/T 22239-2019 8.1.4.1): wrong passwords locked per account and throttled per client address.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use fengqiao_tenancy::{Principal, RefreshToken, verify_password};

use crate::store::sessions::ended;

use crate::cache::{Bucket, Cache, Taken};
use crate::error::{ApiError, ApiResult};
use crate::store::audit::NewAuditRecord;
use crate::store::scope::{self};
use crate::store::signin::Attempt;
use crate::store::tokens::Spend;
use crate::store::users::UserRecord;

use super::AppState;

/// A signed-in caller: who, and which session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub family: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
}

/// The tokens handed out at sign-in and refresh. `Debug` shows neither token.
#[derive(Clone)]
pub struct Session {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub user: UserRecord,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user.id)
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

/// A hash that every argon2 verification of an unknown user is run against, so that the time taken
/// does not tell whether a username exists.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3yoNXIEg6ieH8vMiPRrCzQ8ORcXSIb2SaKOmnQoLlU0";

/// Wrong passwords in a row that lock an account, and for how long.
pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCK_MINUTES: i64 = 15;
/// Wrong passwords one client address may send in `ADDRESS_WINDOW`, whatever the accounts.
pub const ADDRESS_FAILURES: i64 = 20;
pub const ADDRESS_WINDOW: StdDuration = StdDuration::from_secs(15 * 60);

fn unauthenticated() -> ApiError {
    ApiError::Unauthenticated("wrong username or password")
}

impl AppState {
    /// Runs an argon2 computation on the blocking pool, at most `password_slots` at a time.
    pub(crate) async fn with_password_slot<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let _slot = self
            .password_slots
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(ApiError::internal)
    }

    /// Signs in with a password (GB/T 22239-2019 8.1.4.1). Wrong passwords are limited twice over: per
    /// account, `MAX_FAILED_LOGINS` in a row lock it for `LOCK_MINUTES` (counted in the database before
    /// the password is checked, so parallel guesses cannot share one count; an unknown username is
    /// counted alike in the cache, so the answers do not tell which names exist); and per client
    /// address, at most `ADDRESS_FAILURES` wrong passwords in `ADDRESS_WINDOW`, whatever the usernames.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        totp: Option<&str>,
        client: Option<std::net::IpAddr>,
        user_agent: &str,
    ) -> ApiResult<Session> {
        let user = self.check_password(username, password, client).await?;
        self.check_second_factor(&user, totp, client).await?;
        self.sign_in_proven(&user).await?;
        if let Some(reason) = self.password_change_due(&user) {
            self.audit_sign_in(&user, client, "password_change_required")
                .await?;
            return Err(ApiError::PasswordChangeRequired { reason });
        }
        self.audit_sign_in(&user, client, "allowed").await?;
        self.start_session(user, client, user_agent).await
    }

    /// Checks a password with every defence of `sign_in` and answers the active account it opens, without
    /// opening a session. Outcomes other than a right password of an active account are audit records.
    pub(crate) async fn check_password(
        &self,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<UserRecord> {
        if username.len() > 64 || password.len() > 1024 || username.chars().any(char::is_control) {
            return Err(unauthenticated());
        }
        let now = self.now();
        // Each attempt counts against its address before the password is checked; a right one is taken
        // back.
        let address_key = client.map(|a| format!("signin-failures:{a}"));
        if let Some(key) = &address_key {
            let n = self.count_limited(key, 1, ADDRESS_WINDOW).await;
            if n > ADDRESS_FAILURES {
                self.count_limited(key, -1, ADDRESS_WINDOW).await;
                return Err(ApiError::RateLimited {
                    why: "too many wrong passwords from this address",
                    retry_after: ADDRESS_WINDOW.as_secs(),
                });
            }
        }
        // The account is found before anyone is signed in: as the system.
        let user = scope::as_system(self.store.user_by_username(username)).await?;
        let attempt = match &user {
            Some(user) => scope::as_system(self.store.begin_password_attempt(user.id, now)).await?,
            None => self.unknown_name_attempt(username, now).await,
        };
        let locked = |until: DateTime<Utc>| ApiError::AccountLocked {
            retry_after: (until - now).num_seconds().max(1) as u64,
        };
        let counted = match attempt {
            Attempt::Locked(until) => {
                if let Some(user) = &user {
                    self.audit_sign_in(user, client, "locked").await?;
                }
                return Err(locked(until));
            }
            // Parallel attempts past the limit: the ones before it lock the account.
            Attempt::Counted(n) if n > MAX_FAILED_LOGINS => {
                let until = now + Duration::minutes(LOCK_MINUTES);
                if let Some(user) = &user {
                    scope::as_system(self.store.lock_account(user.id, until)).await?;
                    self.audit_sign_in(user, client, "locked").await?;
                }
                return Err(locked(until));
            }
            Attempt::Counted(n) => n,
        };
        let stored = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_owned());
        let password = password.to_owned();
        let matches = self
            .with_password_slot(move || verify_password(&password, &stored))
            .await?;
        match user {
            // The account's count is cleared once every factor is proven (`sign_in_proven`): a right
            // password with a wrong second-factor code stays counted.
            Some(user) if matches => {
                if let Some(key) = &address_key {
                    self.count_limited(key, -1, ADDRESS_WINDOW).await;
                }
                if !user.active {
                    self.audit_sign_in(&user, client, "disabled").await?;
                    return Err(unauthenticated());
                }
                Ok(user)
            }
            Some(user) => {
                if counted >= MAX_FAILED_LOGINS {
                    let until = now + Duration::minutes(LOCK_MINUTES);
                    scope::as_system(self.store.lock_account(user.id, until)).await?;
                    tracing::warn!(user = user.id, "account locked after wrong passwords");
                    self.audit_sign_in(&user, client, "locked").await?;
                } else {
                    self.audit_sign_in(&user, client, "wrong_password").await?;
                }
                Err(unauthenticated())
            }
            None => Err(unauthenticated()),
        }
    }

    /// Every factor of a sign-in was right: the account's count of wrong attempts starts again.
    pub(crate) async fn sign_in_proven(&self, user: &UserRecord) -> ApiResult<()> {
        scope::as_system(self.store.clear_failed_logins(user.id)).await
    }

    /// A wrong second-factor code after a right password counts as a wrong password: the attempt stays
    /// counted towards the account's lock (`check_password` counted it and did not clear it), it counts
    /// towards the address's limit again, and it is an audit record.
    pub(crate) async fn count_wrong_code(
        &self,
        user: &UserRecord,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<()> {
        let now = self.now();
        if let Some(address) = client {
            self.count_limited(&format!("signin-failures:{address}"), 1, ADDRESS_WINDOW)
                .await;
        }
        let counted = scope::as_system(self.store.user(user.id))
            .await?
            .map_or(0, |u| u.failed_logins);
        if counted >= MAX_FAILED_LOGINS {
            let until = now + Duration::minutes(LOCK_MINUTES);
            scope::as_system(self.store.lock_account(user.id, until)).await?;
            self.audit_sign_in(user, client, "locked").await
        } else {
            self.audit_sign_in(user, client, "wrong_totp").await
        }
    }

    /// Counts an attempt on a username that names no account, as an account's would be counted.
    pub(crate) async fn unknown_name_attempt(&self, username: &str, now: DateTime<Utc>) -> Attempt {
        let name = self.vault.lookup_hash(username);
        let lock_key = format!("signin-unknown-lock:{name}");
        if let Ok(Some(until)) = self.cache.get(&lock_key).await
            && let Some(until) = DateTime::parse_from_rfc3339(&until)
                .ok()
                .map(|t| t.with_timezone(&Utc))
                .filter(|t| *t > now)
        {
            return Attempt::Locked(until);
        }
        let n = self
            .count_limited(
                &format!("signin-unknown:{name}"),
                1,
                StdDuration::from_secs(24 * 3600),
            )
            .await as i32;
        if n >= MAX_FAILED_LOGINS {
            let until = now + Duration::minutes(LOCK_MINUTES);
            let lock = StdDuration::from_secs(LOCK_MINUTES as u64 * 60);
            let _ = self.cache.set(&lock_key, &until.to_rfc3339(), lock).await;
            let _ = self.cache.delete(&format!("signin-unknown:{name}")).await;
        }
        Attempt::Counted(n)
    }

    /// A limit's counter in the shared cache, or in this process while the cache does not answer (the
    /// limit then holds per replica instead of for all of them).
    pub(crate) async fn count_limited(&self, key: &str, delta: i64, window: StdDuration) -> i64 {
        match self.cache.count(key, delta, window).await {
            Ok(n) => n,
            Err(e) => {
                e.log("cache unavailable; counting a limit in this process");
                self.local_limits
                    .count(key, delta, window)
                    .await
                    .unwrap_or(i64::MAX)
            }
        }
    }

    /// Takes `cost` tokens from the bucket `key` in the shared cache, or in this process while the cache
    /// does not answer; `RATE_LIMITED` (saying `why`) when it has too few.
    pub async fn take_limited(
        &self,
        key: &str,
        bucket: Bucket,
        cost: u32,
        why: &'static str,
    ) -> ApiResult<()> {
        let taken = match self.cache.take(key, bucket, cost).await {
            Ok(taken) => taken,
            Err(e) => {
                tracing::debug!(error = %e, "cache unavailable; taking from a bucket in this process");
                self.local_limits
                    .take(key, bucket, cost)
                    .await
                    .map_err(ApiError::internal)?
            }
        };
        match taken {
            Taken::Yes => Ok(()),
            Taken::No { retry_after } => Err(ApiError::RateLimited {
                why,
                retry_after: retry_after.as_millis().div_ceil(1000).max(1) as u64,
            }),
        }
    }

    pub(crate) fn session(
        &self,
        user: UserRecord,
        family: &str,
        refresh_secret: String,
    ) -> ApiResult<Session> {
        let (access_token, access_expires_at) = self
            .tokens
            .issue_access(user.id, user.tenant_id, family, self.now())
            .map_err(ApiError::internal)?;
        Ok(Session {
            access_token,
            access_expires_at,
            refresh_token: refresh_secret,
            user,
        })
    }

    /// Trades a refresh token for a new pair. A refresh token that was already spent ends the session, and
    /// so does one whose session was idle too long or reached its time limit.
    pub async fn refresh(&self, secret: &str) -> ApiResult<Session> {
        let now = self.now();
        let next = RefreshToken::generate();
        let expires = now + self.tokens.settings().refresh_ttl;
        match self
            .store
            .rotate_refresh_token(&RefreshToken::hash_of(secret), &next.hash, now, expires)
            .await?
        {
            Spend::Spent { user_id, family } => {
                self.check_session(&family, true).await?;
                let user = scope::as_system(self.store.user(user_id))
                    .await?
                    .filter(|u| u.active)
                    .ok_or(ApiError::Unauthenticated("the account is disabled"))?;
                self.session(user, &family, next.secret)
            }
            Spend::Reused { family } => {
                self.end_session(&family, ended::REUSED, None).await?;
                Err(ApiError::Unauthenticated(
                    "this refresh token was already used; the session has been revoked",
                ))
            }
            Spend::Invalid => Err(ApiError::Unauthenticated(
                "the refresh token is invalid or expired",
            )),
        }
    }

    /// Whether a session authenticated earlier still holds: its access token has not expired, it has not
    /// ended (signed out, idle, past its lifetime) and its account is active. For long-lived connections
    /// (each websocket operation, and each event of a subscription).
    pub async fn still_valid(&self, caller: &Caller) -> ApiResult<()> {
        if self.now() >= caller.expires_at {
            return Err(ApiError::Unauthenticated(
                "the access token has expired; reconnect with a fresh one",
            ));
        }
        if self.session_ended_anywhere(&caller.family).await? {
            return Err(ApiError::Unauthenticated("the session has been signed out"));
        }
        if self.account_home(caller.principal.user_id).await? != Some(caller.principal.tenant_id) {
            return Err(ApiError::Unauthenticated("the account is disabled"));
        }
        self.check_session(&caller.family, false).await
    }

    pub async fn sign_out(
        &self,
        caller: &Caller,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<()> {
        let principal = &caller.principal;
        let home = self
            .directory
            .must(&self.store, principal.tenant_id)
            .await?;
        let record = NewAuditRecord::by(
            principal,
            home.ancestry.county,
            client,
            self.now(),
            "session.sign_out",
            format!("account {}", principal.user_id),
        );
        self.end_session(&caller.family, ended::SIGNED_OUT, Some(record))
            .await?;
        Ok(())
    }

    /// A password sign-in of a known account, with its outcome (`allowed`, `wrong_password`, `locked`,
    /// `disabled`). Names that are no account are counted but not recorded: they belong to no county.
    pub(crate) async fn audit_sign_in(
        &self,
        user: &UserRecord,
        client: Option<std::net::IpAddr>,
        outcome: &'static str,
    ) -> ApiResult<()> {
        let record = NewAuditRecord {
            at: self.now(),
            county_id: user.county_id,
            tenant_id: Some(user.tenant_id),
            user_id: Some(user.id),
            client_address: client.map(|a| a.to_string()),
            action: "session.sign_in",
            object: format!("account {}", user.id),
            outcome,
            reason: String::new(),
        };
        scope::as_system(self.store.append_audit(record)).await
    }

    /// Checks a bearer access token and that its session was not revoked.
    pub async fn authenticate(&self, bearer: &str) -> ApiResult<Caller> {
        let claims = self.tokens.verify_access(bearer).map_err(|e| match e {
            fengqiao_tenancy::TokenError::Expired => {
                ApiError::Unauthenticated("the access token has expired")
            }
            _ => ApiError::Unauthenticated("the access token is invalid"),
        })?;
        let user_id = claims
            .user_id()
            .map_err(|_| ApiError::Unauthenticated("the access token is invalid"))?;
        if self.session_ended_anywhere(&claims.fam).await? {
            return Err(ApiError::Unauthenticated("the session has been signed out"));
        }
        // A signature proves who issued the token, not that its account still holds.
        let home = self.account_home(user_id).await?;
        if home != Some(claims.tid) {
            return Err(ApiError::Unauthenticated("the access token is invalid"));
        }
        self.check_session(&claims.fam, true).await?;
        Ok(Caller {
            principal: Principal {
                user_id,
                tenant_id: claims.tid,
            },
            family: claims.fam,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or_default(),
        })
    }

    /// The home tenant of an active account, or `None` for an unknown or disabled one. Kept in memory
    /// until the account changes (`PolicyChange::Account`, on every replica).
    pub(crate) async fn account_home(&self, user_id: i64) -> ApiResult<Option<i64>> {
        if let Some(known) = self
            .accounts
            .read()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("account cache lock poisoned")))?
            .get(&user_id)
        {
            return Ok(*known);
        }
        let home = scope::as_system(self.store.user(user_id))
            .await?
            .filter(|u| u.active)
            .map(|u| u.tenant_id);
        // Only accounts that exist are kept: a forged id must not fill the map.
        if let Some(tenant) = home {
            self.accounts
                .write()
                .map_err(|_| ApiError::internal(anyhow::anyhow!("account cache lock poisoned")))?
                .insert(user_id, Some(tenant));
        }
        Ok(home)
    }

    pub(crate) fn forget_account(&self, user_id: Option<i64>) -> ApiResult<()> {
        let mut accounts = self
            .accounts
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("account cache lock poisoned")))?;
        match user_id {
            Some(id) => {
                accounts.remove(&id);
            }
            None => accounts.clear(),
        }
        Ok(())
    }
}
