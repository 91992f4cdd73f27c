//! The application: everything a request can do, with authorization, validation and persistence in one
//! place, independent of GraphQL. Resolvers translate to and from these calls.

use std::sync::Arc;

use std::time::Duration as StdDuration;
use tokio::sync::broadcast::error::RecvError;

use chrono::{DateTime, Duration, Utc};
use fengqiao_domain::calendar::WorkingCalendar;
use std::collections::HashMap;

use fengqiao_domain::clocks::{ClockPolicy, Complexity};
use fengqiao_domain::code::china_date;
use fengqiao_domain::lifecycle::Context;
use fengqiao_domain::risk::{RiskFacts, RiskRules};
use fengqiao_domain::supervision::SupervisionLevel;
use fengqiao_domain::{Ancestry, CaseKind};
use fengqiao_domain::{CaseStatus, Command, DivisionCode, IdCard, Phone};
use fengqiao_tenancy::{
    Action, Authorizer, CaseScope, Permit, Principal, RefreshToken, Role, Target, TokenIssuer,
    hash_password, verify_password,
};

use crate::bus::{Bus, BusEvent};
use crate::cache::Cache;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::error::{ApiError, ApiResult, clean_text, personal_data_error};
use crate::live::{LiveEvent, LiveKind};
use crate::pii::Vault;
use crate::store::Store;
use crate::store::audit::NewAuditRecord;
use crate::store::cases::{
    Assessed, CaseFilter, CaseRecord, LegalClocks, NewCase, NewParty, PartyRecord, Transition,
};
use crate::store::policies::TenantPolicy;
use crate::store::rosters::{SummonsRecord, UnitStation};
use crate::store::scope::{self, DbScope, Reach};
use crate::store::signin::Attempt;
use crate::store::supervision::{NewOrder, OrderRecord};
use crate::store::tenants::TenantRecord;
use crate::store::tokens::Spend;
use crate::store::users::{Residency, UnitRecord, UserRecord, check_username};

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

/// A party's personal data in full, after an audited reveal. `Debug` never shows it.
#[derive(Clone)]
pub struct RevealedParty {
    pub name: String,
    pub address: String,
    pub id_card: Option<String>,
    pub phone: Option<String>,
}

impl std::fmt::Debug for RevealedParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevealedParty(<redacted>)")
    }
}

/// What a registration needs besides the stored fields.
pub struct Registration {
    /// Where to register; the caller's own tenant when absent.
    pub tenant_id: Option<i64>,
    pub case: NewCase,
}

/// A hash that every argon2 verification of an unknown user is run against, so that the time taken
/// does not tell whether a username exists.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3yoNXIEg6ieH8vMiPRrCzQ8ORcXSIb2SaKOmnQoLlU0";

pub struct AppState {
    pub store: Store,
    pub authz: Authorizer,
    pub tokens: TokenIssuer,
    pub cache: Arc<dyn Cache>,
    /// Carries changes between replicas (Redis pub/sub, or in process).
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
    pub vault: Vault,
    pub directory: Directory,
    /// How units are stationed (residency never changes; rosters are dropped here when they change, on
    /// every replica).
    pub stations: std::sync::RwLock<HashMap<i64, UnitStation>>,
    /// The rules that grade cases' risk.
    pub risk_rules: RiskRules,
    /// Clock policies set by centers, by (tenant, kind, complexity).
    pub policies: std::sync::RwLock<HashMap<(i64, CaseKind, Complexity), ClockPolicy>>,
    /// The working-day calendar: shipped notices with the administrator's loaded over them.
    pub calendar: std::sync::RwLock<WorkingCalendar>,
    /// Bounds concurrent argon2 computations (19 MiB and tens of milliseconds each), so a burst of
    /// sign-ins queues instead of exhausting memory and starving every other request of CPU.
    pub password_slots: tokio::sync::Semaphore,
    /// This process's subscribers to live events.
    pub live: crate::live::LiveHub,
    /// The case search index and what feeds it.
    pub search: crate::search::Search,
    /// Active accounts' home tenants, for checking access tokens' claims.
    pub accounts: std::sync::RwLock<HashMap<i64, Option<i64>>>,
    /// Counters of limits while the shared cache does not answer.
    pub local_limits: crate::cache::MemoryCache,
}

impl AppState {
    /// Runs `f` with the working-day calendar.
    fn with_calendar<T>(&self, f: impl FnOnce(&WorkingCalendar) -> T) -> ApiResult<T> {
        let calendar = self
            .calendar
            .read()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("calendar lock poisoned")))?;
        Ok(f(&calendar))
    }

    /// The clock policy for a case of `kind` and `complexity` handled at `tenant`: the deepest policy set
    /// on the tenant's chain, or the default.
    pub fn policy_for(
        &self,
        tenant: &Ancestry,
        kind: CaseKind,
        complexity: Complexity,
    ) -> ApiResult<ClockPolicy> {
        let policies = self
            .policies
            .read()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("policy lock poisoned")))?;
        Ok(tenant
            .chain()
            .into_iter()
            .rev()
            .find_map(|id| policies.get(&(id, kind, complexity)).copied())
            .unwrap_or_else(|| ClockPolicy::default_for(kind, complexity)))
    }

    /// Loads every stored clock policy.
    pub async fn load_clock_policies(&self) -> ApiResult<()> {
        let stored = scope::as_system(self.store.clock_policies()).await?;
        let mut policies = self
            .policies
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("policy lock poisoned")))?;
        policies.clear();
        for p in stored {
            policies.insert((p.tenant_id, p.kind, p.complexity), p.policy);
        }
        Ok(())
    }

    /// Sets a center's clock policy for a case kind and complexity.
    pub async fn set_clock_policy(
        &self,
        principal: &Principal,
        set: TenantPolicy,
    ) -> ApiResult<()> {
        let (tenant, permit) = self
            .permit_on_tenant(principal, Action::TenantConfigure, set.tenant_id)
            .await?;
        self.store
            .set_clock_policy(&permit, &tenant, &set, self.now())
            .await?;
        self.policies
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("policy lock poisoned")))?
            .insert((set.tenant_id, set.kind, set.complexity), set.policy);
        self.announce(&PolicyChange::ClockPolicies).await;
        Ok(())
    }

    /// The clock policy in force at a tenant the principal may see.
    pub async fn clock_policy(
        &self,
        principal: &Principal,
        tenant_id: i64,
        kind: CaseKind,
        complexity: Complexity,
    ) -> ApiResult<ClockPolicy> {
        let tenant = self.tenant(principal, tenant_id).await?;
        self.policy_for(&tenant.ancestry, kind, complexity)
    }

    /// Reloads the calendar from the store (after an administrator loaded a notice).
    pub async fn reload_calendar(&self) -> ApiResult<()> {
        let fresh = self.store.working_calendar().await?;
        *self
            .calendar
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("calendar lock poisoned")))? = fresh;
        Ok(())
    }

    /// Runs an argon2 computation on the blocking pool, at most `password_slots` at a time.
    async fn with_password_slot<T: Send + 'static>(
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
}

/// How far back the repeat-party rule looks.
const RISK_WINDOW: Duration = Duration::days(90);

fn revoked_key(family: &str) -> String {
    format!("session-revoked:{family}")
}

/// Look-ups by ID number or phone one account may make in `LOOKUP_WINDOW`.
pub const LOOKUPS_PER_WINDOW: i64 = 20;
pub const LOOKUP_WINDOW: StdDuration = StdDuration::from_secs(3600);
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
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Loads every grant and unit membership into the authorizer.
    pub async fn load_policies(&self) -> ApiResult<()> {
        let (grants, members) = scope::as_system(async {
            Ok::<_, ApiError>((
                self.store.all_grants().await?,
                self.store.all_unit_members().await?,
            ))
        })
        .await?;
        self.authz
            .load(&grants, &members)
            .await
            .map_err(ApiError::internal)
    }

    /// Applies a grant or membership change here at once and tells every other replica.
    async fn policy_changed(&self, change: PolicyChange) -> ApiResult<()> {
        self.apply_policy_change(&change).await?;
        self.announce(&change).await;
        Ok(())
    }

    /// Tells every other replica (and any process on the bus) about a change already made here.
    pub async fn announce(&self, change: &PolicyChange) {
        if let Err(e) = self.bus.publish(POLICY_TOPIC, &change.to_message()).await {
            // The other replicas reload everything when their subscription comes back.
            tracing::warn!(error = %e, "could not publish a policy change");
        }
    }

    /// Reloads run as the system: a change made in one county's request reloads what every county shares.
    async fn apply_policy_change(&self, change: &PolicyChange) -> ApiResult<()> {
        scope::as_system(self.apply_policy_change_here(change)).await
    }

    async fn apply_policy_change_here(&self, change: &PolicyChange) -> ApiResult<()> {
        match change {
            PolicyChange::Grant(grant) => self
                .authz
                .add_grant(*grant)
                .await
                .map_err(ApiError::internal),
            PolicyChange::Member { unit_id, user_id } => {
                self.authz.add_member(*unit_id, *user_id).await;
                Ok(())
            }
            PolicyChange::ClockPolicies => self.load_clock_policies().await,
            PolicyChange::Roster { unit_id } => self.forget_stations(Some(*unit_id)),
            PolicyChange::Calendar => self.reload_calendar().await,
            PolicyChange::Account { user_id } => self.forget_account(Some(*user_id)),
        }
    }

    async fn reload_everything(&self) -> ApiResult<()> {
        self.forget_stations(None)?;
        self.forget_account(None)?;
        scope::as_system(async {
            self.load_policies().await?;
            self.load_clock_policies().await?;
            self.reload_calendar().await
        })
        .await
    }

    /// Subscribes to other replicas' policy changes, then loads the policy, and keeps applying changes
    /// for as long as the process runs; after a break in the subscription (or falling behind) it loads
    /// everything again.
    pub async fn start_policy_sync(self: &Arc<Self>) -> ApiResult<()> {
        let mut changes = self
            .bus
            .subscribe(POLICY_TOPIC)
            .await
            .map_err(ApiError::internal)?;
        self.load_policies().await?;
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let event = changes.recv().await;
                let Some(state) = state.upgrade() else { break };
                let outcome = match event {
                    Ok(BusEvent::Message(text)) => match PolicyChange::from_message(&text) {
                        Some(change) => state.apply_policy_change(&change).await,
                        None => {
                            tracing::warn!("unreadable policy change; reloading the policy");
                            state.load_policies().await
                        }
                    },
                    Ok(BusEvent::Reconnected) | Err(RecvError::Lagged(_)) => {
                        state.reload_everything().await
                    }
                    Err(RecvError::Closed) => break,
                };
                if let Err(e) = outcome {
                    tracing::error!(error = %e.detail(), "could not apply a policy change");
                }
            }
        });
        Ok(())
    }

    // ---- identity ------------------------------------------------------------------------------------

    /// Signs in with a password (GB/T 22239-2019 8.1.4.1). Wrong passwords are limited twice over: per
    /// account, `MAX_FAILED_LOGINS` in a row lock it for `LOCK_MINUTES` (counted in the database before
    /// the password is checked, so parallel guesses cannot share one count; an unknown username is
    /// counted alike in the cache, so the answers do not tell which names exist); and per client
    /// address, at most `ADDRESS_FAILURES` wrong passwords in `ADDRESS_WINDOW`, whatever the usernames.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<Session> {
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
            Attempt::Locked(until) => return Err(locked(until)),
            // Parallel attempts past the limit: the ones before it lock the account.
            Attempt::Counted(n) if n > MAX_FAILED_LOGINS => {
                let until = now + Duration::minutes(LOCK_MINUTES);
                if let Some(user) = &user {
                    scope::as_system(self.store.lock_account(user.id, until)).await?;
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
            Some(user) if matches => {
                scope::as_system(self.store.clear_failed_logins(user.id)).await?;
                if let Some(key) = &address_key {
                    self.count_limited(key, -1, ADDRESS_WINDOW).await;
                }
                if !user.active {
                    return Err(unauthenticated());
                }
                let family = RefreshToken::new_family();
                self.open_session(user, &family).await
            }
            Some(user) => {
                if counted >= MAX_FAILED_LOGINS {
                    let until = now + Duration::minutes(LOCK_MINUTES);
                    scope::as_system(self.store.lock_account(user.id, until)).await?;
                    tracing::warn!(user = user.id, "account locked after wrong passwords");
                }
                Err(unauthenticated())
            }
            None => Err(unauthenticated()),
        }
    }

    /// Counts an attempt on a username that names no account, as an account's would be counted.
    async fn unknown_name_attempt(&self, username: &str, now: DateTime<Utc>) -> Attempt {
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
                tracing::warn!(error = %e, "cache unavailable; counting a limit in this process");
                self.local_limits
                    .count(key, delta, window)
                    .await
                    .unwrap_or(i64::MAX)
            }
        }
    }

    async fn open_session(&self, user: UserRecord, family: &str) -> ApiResult<Session> {
        let now = self.now();
        let refresh = RefreshToken::generate();
        let expires = now + self.tokens.settings().refresh_ttl;
        self.store
            .save_refresh_token(user.id, family, &refresh.hash, now, expires)
            .await?;
        self.session(user, family, refresh.secret)
    }

    fn session(
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

    /// Trades a refresh token for a new pair. A refresh token that was already spent ends the session.
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
                let user = scope::as_system(self.store.user(user_id))
                    .await?
                    .filter(|u| u.active)
                    .ok_or(ApiError::Unauthenticated("the account is disabled"))?;
                self.session(user, &family, next.secret)
            }
            Spend::Reused { family } => {
                self.revoke_session(&family).await?;
                Err(ApiError::Unauthenticated(
                    "this refresh token was already used; the session has been revoked",
                ))
            }
            Spend::Invalid => Err(ApiError::Unauthenticated(
                "the refresh token is invalid or expired",
            )),
        }
    }

    /// Whether a session authenticated earlier still holds: its access token has not expired and it has
    /// not been signed out. For long-lived connections (subscriptions).
    pub async fn still_valid(&self, caller: &Caller) -> ApiResult<()> {
        if self.now() >= caller.expires_at {
            return Err(ApiError::Unauthenticated(
                "the access token has expired; reconnect with a fresh one",
            ));
        }
        let revoked = self
            .cache
            .get(&revoked_key(&caller.family))
            .await
            .map_err(ApiError::internal)?;
        if revoked.is_some() {
            return Err(ApiError::Unauthenticated("the session has been signed out"));
        }
        if self.account_home(caller.principal.user_id).await? != Some(caller.principal.tenant_id) {
            return Err(ApiError::Unauthenticated("the account is disabled"));
        }
        Ok(())
    }

    pub async fn sign_out(&self, caller: &Caller) -> ApiResult<()> {
        self.revoke_session(&caller.family).await
    }

    async fn revoke_session(&self, family: &str) -> ApiResult<()> {
        self.store.revoke_refresh_family(family, self.now()).await?;
        let ttl = self.tokens.settings().access_ttl
            + Duration::seconds(fengqiao_tenancy::token::LEEWAY_SECONDS as i64 + 1);
        self.cache
            .set(
                &revoked_key(family),
                "1",
                ttl.to_std().unwrap_or(StdDuration::from_secs(960)),
            )
            .await
            .map_err(ApiError::internal)
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
        if self
            .cache
            .get(&revoked_key(&claims.fam))
            .await
            .map_err(ApiError::internal)?
            .is_some()
        {
            return Err(ApiError::Unauthenticated("the session has been signed out"));
        }
        // A signature proves who issued the token, not that its account still holds.
        let home = self.account_home(user_id).await?;
        if home != Some(claims.tid) {
            return Err(ApiError::Unauthenticated("the access token is invalid"));
        }
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
    async fn account_home(&self, user_id: i64) -> ApiResult<Option<i64>> {
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

    fn forget_account(&self, user_id: Option<i64>) -> ApiResult<()> {
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

    // ---- tenants, users, units -----------------------------------------------------------------------

    async fn tenant_target(&self, tenant_id: i64) -> ApiResult<(TenantRecord, Target)> {
        let tenant = self
            .directory
            .get(&self.store, tenant_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let target = Target::in_tenant(Some(tenant.id), tenant.ancestry);
        Ok((tenant, target))
    }

    pub(crate) async fn permit_on_tenant(
        &self,
        principal: &Principal,
        action: Action,
        tenant_id: i64,
    ) -> ApiResult<(TenantRecord, Permit)> {
        let (tenant, target) = self.tenant_target(tenant_id).await?;
        let permit = self.authz.permit(principal, action, &target).await?;
        Ok((tenant, permit))
    }

    /// A tenant the principal may see.
    pub async fn tenant(&self, principal: &Principal, tenant_id: i64) -> ApiResult<TenantRecord> {
        self.permit_on_tenant(principal, Action::TenantRead, tenant_id)
            .await
            .map(|(t, _)| t)
    }

    /// Whether the principal may see the tenant (for optional links such as a parent).
    pub async fn can_see_tenant(
        &self,
        principal: &Principal,
        tenant_id: i64,
    ) -> ApiResult<Option<TenantRecord>> {
        match self.tenant(principal, tenant_id).await {
            Ok(t) => Ok(Some(t)),
            Err(ApiError::NotFound | ApiError::Forbidden(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn children(
        &self,
        principal: &Principal,
        tenant_id: i64,
    ) -> ApiResult<Vec<TenantRecord>> {
        self.tenant(principal, tenant_id).await?;
        let children = self.store.children(tenant_id).await?;
        for child in &children {
            self.directory.remember(child.clone())?;
        }
        Ok(children)
    }

    pub async fn create_tenant(
        &self,
        principal: &Principal,
        parent_id: i64,
        code: &str,
        name: &str,
    ) -> ApiResult<TenantRecord> {
        let (parent, permit) = self
            .permit_on_tenant(principal, Action::TenantCreate, parent_id)
            .await?;
        let level = parent
            .level
            .child()
            .ok_or_else(|| ApiError::bad_input("parentId", "grids have no children"))?;
        let code = DivisionCode::parse(code, level)?;
        let tenant = self
            .store
            .create_tenant(&permit, &parent, &code, name, self.now())
            .await?;
        self.directory.remember(tenant.clone())?;
        Ok(tenant)
    }

    pub async fn create_user(
        &self,
        principal: &Principal,
        tenant_id: i64,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> ApiResult<UserRecord> {
        let (tenant, permit) = self
            .permit_on_tenant(principal, Action::UserCreate, tenant_id)
            .await?;
        check_username(username)?;
        let password = password.to_owned();
        let hash = self
            .with_password_slot(move || hash_password(&password))
            .await?
            .map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        self.store
            .create_user(&permit, &tenant, username, display_name, &hash, self.now())
            .await
    }

    /// Like `create_user`, with a password hashed beforehand (the demo seed gives every account one password).
    pub async fn create_user_hashed(
        &self,
        principal: &Principal,
        tenant_id: i64,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> ApiResult<UserRecord> {
        let (tenant, permit) = self
            .permit_on_tenant(principal, Action::UserCreate, tenant_id)
            .await?;
        self.store
            .create_user(
                &permit,
                &tenant,
                username,
                display_name,
                password_hash,
                self.now(),
            )
            .await
    }

    /// A user the principal may see: one whose home tenant is in the principal's reach.
    pub async fn user(&self, principal: &Principal, user_id: i64) -> ApiResult<UserRecord> {
        let user = self.store.user(user_id).await?.ok_or(ApiError::NotFound)?;
        if user.id != principal.user_id {
            self.permit_on_tenant(principal, Action::UserRead, user.tenant_id)
                .await?;
        }
        Ok(user)
    }

    pub async fn grant_role(
        &self,
        principal: &Principal,
        user_id: i64,
        tenant_id: i64,
        role: Role,
    ) -> ApiResult<fengqiao_tenancy::Grant> {
        let (tenant, permit) = self
            .permit_on_tenant(principal, Action::RoleGrant, tenant_id)
            .await?;
        let grantee = self.user(principal, user_id).await?;
        if grantee.id == principal.user_id {
            return Err(ApiError::Forbidden(
                "nobody can grant themselves a role".into(),
            ));
        }
        let home = self.directory.must(&self.store, grantee.tenant_id).await?;
        if !tenant.ancestry.is_within(home.level, home.id) {
            return Err(ApiError::bad_input(
                "tenantId",
                "a role can only be granted at the user's own tenant or below it",
            ));
        }
        let grant = self
            .store
            .grant_role(&permit, &grantee, &tenant, role, self.now())
            .await?;
        self.policy_changed(PolicyChange::Grant(grant)).await?;
        Ok(grant)
    }

    pub async fn create_unit(
        &self,
        principal: &Principal,
        tenant_id: i64,
        name: &str,
        department: &str,
        residency: Residency,
    ) -> ApiResult<UnitRecord> {
        let (tenant, permit) = self
            .permit_on_tenant(principal, Action::UnitCreate, tenant_id)
            .await?;
        self.store
            .create_unit(&permit, &tenant, name, department, residency, self.now())
            .await
    }

    pub async fn unit(&self, principal: &Principal, unit_id: i64) -> ApiResult<UnitRecord> {
        let unit = self.store.unit(unit_id).await?.ok_or(ApiError::NotFound)?;
        let own = self
            .authz
            .units_of(principal.user_id)
            .await
            .contains(&unit.id);
        if !own {
            self.permit_on_tenant(principal, Action::UnitRead, unit.tenant_id)
                .await?;
        }
        Ok(unit)
    }

    pub async fn units(&self, principal: &Principal, tenant_id: i64) -> ApiResult<Vec<UnitRecord>> {
        self.permit_on_tenant(principal, Action::UnitRead, tenant_id)
            .await?;
        self.store.units_of_tenant(tenant_id).await
    }

    pub async fn add_unit_member(
        &self,
        principal: &Principal,
        unit_id: i64,
        user_id: i64,
    ) -> ApiResult<UnitRecord> {
        let unit = self.store.unit(unit_id).await?.ok_or(ApiError::NotFound)?;
        let (_, permit) = self
            .permit_on_tenant(principal, Action::UnitManageMembers, unit.tenant_id)
            .await?;
        let member = self.user(principal, user_id).await?;
        let home = self.directory.must(&self.store, member.tenant_id).await?;
        let unit_tenant = self.directory.must(&self.store, unit.tenant_id).await?;
        if !unit_tenant.ancestry.is_within(home.level, home.id) {
            return Err(ApiError::bad_input(
                "userId",
                "a unit member must belong to the unit's center or one above it",
            ));
        }
        self.store.add_unit_member(&permit, &unit, &member).await?;
        self.policy_changed(PolicyChange::Member {
            unit_id: unit.id,
            user_id: member.id,
        })
        .await?;
        Ok(unit)
    }

    // ---- cases ---------------------------------------------------------------------------------------

    /// How `units` are stationed, from memory when known.
    async fn stations_of(&self, units: &[i64]) -> ApiResult<HashMap<i64, UnitStation>> {
        let poisoned = || ApiError::internal(anyhow::anyhow!("station cache lock poisoned"));
        let mut found = HashMap::with_capacity(units.len());
        let mut missing = Vec::new();
        {
            let cache = self.stations.read().map_err(|_| poisoned())?;
            for unit in units {
                match cache.get(unit) {
                    Some(station) => {
                        found.insert(*unit, station.clone());
                    }
                    None => missing.push(*unit),
                }
            }
        }
        if !missing.is_empty() {
            let loaded = self.store.unit_stations(&missing).await?;
            let mut cache = self.stations.write().map_err(|_| poisoned())?;
            for (unit, station) in loaded {
                cache.insert(unit, station.clone());
                found.insert(unit, station);
            }
        }
        Ok(found)
    }

    fn forget_stations(&self, unit: Option<i64>) -> ApiResult<()> {
        let mut cache = self
            .stations
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("station cache lock poisoned")))?;
        match unit {
            Some(unit) => {
                cache.remove(&unit);
            }
            None => cache.clear(),
        }
        Ok(())
    }

    async fn case_target(&self, case: &CaseRecord, principal: &Principal) -> ApiResult<Target> {
        let handler = if case.tenant_id == case.origin_tenant_id {
            case.origin
        } else {
            self.directory
                .must(&self.store, case.tenant_id)
                .await?
                .ancestry
        };
        let units: Vec<i64> = case
            .state
            .lead_unit
            .iter()
            .chain(&case.state.co_units)
            .copied()
            .collect();
        let now = self.now();
        let stations = self.stations_of(&units).await?;
        // Summonses matter only to on-call units: of the case, or of the principal.
        let on_call = |s: &HashMap<i64, UnitStation>| {
            s.values()
                .any(|station| station.residency == Residency::OnCall)
        };
        let summoned_units = if on_call(&stations)
            || on_call(
                &self
                    .stations_of(&self.authz.units_of(principal.user_id).await)
                    .await?,
            ) {
            self.store.summoned_units(case.id).await?
        } else {
            Vec::new()
        };
        let off_shift_units = stations
            .iter()
            .filter(|(_, station)| station.off_shift(now))
            .map(|(unit, _)| *unit)
            .collect();
        let hidden_units = stations
            .iter()
            .filter(|(unit, station)| {
                station.residency == Residency::OnCall && !summoned_units.contains(unit)
            })
            .map(|(unit, _)| *unit)
            .collect();
        Ok(Target {
            resource_id: Some(case.id),
            visible_in: case.origin,
            owned_by: handler,
            lead_unit: case.state.lead_unit,
            co_units: case.state.co_units.clone(),
            off_shift_units,
            hidden_units,
            summoned_units,
            reported_by: Some(case.registered_by),
        })
    }

    /// Sets a rotating unit's duty roster (who may manage the unit's members may set it).
    pub async fn set_duty_roster(
        &self,
        principal: &Principal,
        unit_id: i64,
        roster: &fengqiao_domain::roster::DutyRoster,
    ) -> ApiResult<UnitRecord> {
        let unit = self.store.unit(unit_id).await?.ok_or(ApiError::NotFound)?;
        let (_, target) = self.tenant_target(unit.tenant_id).await?;
        let target = Target {
            resource_id: Some(unit.id),
            ..target
        };
        let permit = self
            .authz
            .permit(principal, Action::UnitManageMembers, &target)
            .await?;
        if unit.residency != Residency::Rotating {
            return Err(ApiError::bad_input(
                "unitId",
                "only a rotating (轮驻) unit has a duty roster",
            ));
        }
        self.store
            .set_duty_roster(&permit, &unit, roster, self.now())
            .await?;
        self.policy_changed(PolicyChange::Roster { unit_id: unit.id })
            .await?;
        Ok(unit)
    }

    /// A unit's roster and whether it is on duty now (rotating units only).
    pub async fn unit_station(&self, unit_id: i64) -> ApiResult<Option<UnitStation>> {
        Ok(self.stations_of(&[unit_id]).await?.remove(&unit_id))
    }

    /// Loads a case and checks `action` on it. A case the principal may not see is `NOT_FOUND`.
    pub async fn case_for(
        &self,
        principal: &Principal,
        case_id: i64,
        action: Action,
    ) -> ApiResult<(CaseRecord, Permit)> {
        let case = self.store.case(case_id).await?.ok_or(ApiError::NotFound)?;
        let target = self.case_target(&case, principal).await?;
        let permit = self.authz.permit(principal, action, &target).await?;
        Ok((case, permit))
    }

    pub async fn case(&self, principal: &Principal, case_id: i64) -> ApiResult<CaseRecord> {
        self.case_for(principal, case_id, Action::CaseRead)
            .await
            .map(|(case, _)| case)
    }

    /// `case` already read from the store, if `principal` may read it (the check `case` makes).
    pub async fn readable(&self, principal: &Principal, case: CaseRecord) -> ApiResult<CaseRecord> {
        let target = self.case_target(&case, principal).await?;
        self.authz
            .permit(principal, Action::CaseRead, &target)
            .await?;
        Ok(case)
    }

    /// Where the principal may read cases from. On-call units see only the cases they are summoned to,
    /// while the summons is open.
    /// The rows the database lets `principal`'s requests reach (the second wall behind casbin, see
    /// `store::scope`): its county's, and of the county's cases those registered under a tenant where it
    /// holds a role. A role at the county reaches every case of the county; casbin still decides which of
    /// them the principal may read.
    pub async fn db_scope(&self, principal: &Principal) -> ApiResult<DbScope> {
        let home = scope::as_system(self.directory.get(&self.store, principal.tenant_id)).await?;
        let Some(home) = home else {
            return Ok(DbScope::Nobody);
        };
        let county = home.ancestry.county;
        let grants = self.authz.grants_of(principal.user_id).await;
        if grants
            .iter()
            .any(|g| g.level == fengqiao_domain::TenantLevel::County)
        {
            return Ok(DbScope::Principal {
                county,
                reach: Reach::County,
            });
        }
        // Every case permission needs a grant on the case's chain, a unit member's too: the tenants of
        // the grants bound everything the principal may reach.
        let mut tenants: Vec<i64> = grants.iter().map(|g| g.tenant_id).collect();
        tenants.sort_unstable();
        tenants.dedup();
        Ok(DbScope::Principal {
            county,
            reach: Reach::Subtrees(tenants),
        })
    }

    pub async fn case_scope(&self, principal: &Principal) -> ApiResult<CaseScope> {
        let mut scope = self.authz.case_scope(principal).await;
        if scope.units.is_empty() {
            return Ok(scope);
        }
        let stations = self.stations_of(&scope.units).await?;
        let on_call: Vec<i64> = scope
            .units
            .iter()
            .copied()
            .filter(|u| {
                stations
                    .get(u)
                    .is_some_and(|s| s.residency == Residency::OnCall)
            })
            .collect();
        if !on_call.is_empty() {
            scope.units.retain(|u| !on_call.contains(u));
            scope.summoned_cases = self.store.summoned_cases(&on_call).await?;
        }
        Ok(scope)
    }

    pub async fn cases(
        &self,
        principal: &Principal,
        filter: &CaseFilter,
        first: u64,
        after: Option<i64>,
    ) -> ApiResult<(Vec<CaseRecord>, bool)> {
        let scope = self.case_scope(principal).await?;
        self.store.cases(&scope, filter, first, after).await
    }

    pub async fn register_case(
        &self,
        principal: &Principal,
        registration: Registration,
    ) -> ApiResult<(CaseRecord, bool)> {
        let tenant_id = registration.tenant_id.unwrap_or(principal.tenant_id);
        let (origin, permit) = self
            .permit_on_tenant(principal, Action::CaseRegister, tenant_id)
            .await?;
        let now = self.now();
        let case = registration.case;
        let policy = self.policy_for(&origin.ancestry, case.kind, case.complexity)?;
        let accept_by =
            self.with_calendar(|cal| policy.accept_within.ends(cal, china_date(now)))?;
        let hashes: Vec<String> = case
            .parties
            .iter()
            .flat_map(|p| {
                let id = p
                    .id_card
                    .as_ref()
                    .map(|v| self.vault.lookup_hash(v.expose()));
                id.into_iter()
                    .chain(p.phone.as_ref().map(|v| self.vault.lookup_hash(v.expose())))
            })
            .collect();
        let facts = RiskFacts {
            // Earlier cases anywhere in the county count, including those the caller may not read.
            repeat_cases: scope::across_county(self.store.cases_sharing_parties(
                origin.ancestry.county,
                &hashes,
                now - RISK_WINDOW,
                None,
            ))
            .await?,
            sensitive: self.risk_rules.is_sensitive(case.kind, case.category),
            ..RiskFacts::default()
        };
        let risk = self.risk_rules.grade(&facts);
        let registered = self
            .store
            .register_case(
                &permit,
                &origin,
                case,
                &Assessed { accept_by, risk },
                &self.vault,
                now,
            )
            .await?;
        self.rollups_changed(origin.ancestry.county).await;
        let (case, replayed) = &registered;
        if !replayed {
            self.raise(vec![LiveEvent {
                kind: LiveKind::Registered,
                case_id: case.id,
                unit_id: None,
                center_id: case.tenant_id,
                at: now,
            }])
            .await;
        }
        Ok(registered)
    }

    /// Applies a lifecycle command to a case on behalf of the principal.
    ///
    /// When another request changed the case between reading and writing it, the command is checked
    /// again against the fresh case (a few times), so a race ends in the same answer as if the two
    /// requests had come one after the other.
    pub async fn transition(
        &self,
        principal: &Principal,
        case_id: i64,
        command: Command,
    ) -> ApiResult<CaseRecord> {
        const ATTEMPTS: usize = 3;
        let mut attempt = 1;
        loop {
            match self.transition_once(principal, case_id, &command).await {
                Err(ApiError::Conflict(_)) if attempt < ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    async fn transition_once(
        &self,
        principal: &Principal,
        case_id: i64,
        command: &Command,
    ) -> ApiResult<CaseRecord> {
        let command = command.clone();
        let action = Action::for_command(&command);
        let (case, permit) = self.case_for(principal, case_id, action).await?;
        if let Command::Dispatch {
            lead_unit,
            co_units,
            ..
        }
        | Command::ReviewReturn(fengqiao_domain::ReturnDecision::Redispatch {
            lead_unit,
            co_units,
            ..
        }) = &command
        {
            self.check_units(&case, *lead_unit, co_units).await?;
        }
        let handler = self.directory.must(&self.store, case.tenant_id).await?;
        let now = self.now();
        let next = case.state.apply(
            &command,
            Context {
                now,
                has_parent_tenant: handler.parent_id.is_some(),
            },
        )?;
        let tenant_after = match &command {
            Command::Escalate {
                target: fengqiao_domain::EscalationTarget::ParentTenant,
                ..
            } => handler.parent_id.unwrap_or(handler.id),
            _ => case.tenant_id,
        };
        if let Command::Escalate {
            leader: Some(leader),
            ..
        } = &command
        {
            self.check_leader(&handler, *leader).await?;
        }
        let units = self.authz.units_of(principal.user_id).await;
        let unit_id = case.state.lead_unit.filter(|lead| units.contains(lead));
        let (note, mut data) = describe(&command);
        let clocks = self.clocks_after(&case, &handler, &command, now).await?;
        if let (Command::Resolve { .. } | Command::Unresolve { .. }, Some(map)) =
            (&command, data.as_object_mut())
        {
            // The deadline in force when the case was concluded: whether it was on time.
            map.insert("concludeBy".into(), serde_json::json!(clocks.conclude_by));
        }
        let handler_after = if tenant_after == handler.id {
            handler.clone()
        } else {
            self.directory.must(&self.store, tenant_after).await?
        };
        let risk = self
            .regrade(&case, &next, clocks, &handler_after, now)
            .await?;
        let resolved_level = match command {
            Command::Resolve { .. } => Some(handler.level),
            Command::Reopen { .. } => None,
            _ => case.resolved_level,
        };
        let after = self
            .store
            .apply_transition(
                &permit,
                &case,
                Transition {
                    command: &command,
                    next: &next,
                    tenant_after,
                    unit_id,
                    note: &note,
                    data,
                    clocks,
                    resolved_level,
                    risk,
                },
                now,
            )
            .await?;
        self.rollups_changed(case.origin.county).await;
        self.raise(live_events(&command, &case, &after, now)).await;
        Ok(after)
    }

    /// The legal clocks after a command: acceptance starts the conclusion clock (so does arriving at a
    /// parent center, or a reopening), and a conclusion starts the follow-up clock.
    async fn clocks_after(
        &self,
        case: &CaseRecord,
        handler: &TenantRecord,
        command: &Command,
        now: DateTime<Utc>,
    ) -> ApiResult<LegalClocks> {
        // After an escalation upward the parent center's policy governs the new clock.
        let governing = match command {
            Command::Escalate {
                target: fengqiao_domain::EscalationTarget::ParentTenant,
                ..
            } => handler.parent_id,
            _ => None,
        };
        let ancestry = match governing {
            Some(parent) => self.directory.must(&self.store, parent).await?.ancestry,
            None => handler.ancestry,
        };
        let policy = self.policy_for(&ancestry, case.kind, case.complexity)?;
        let today = china_date(now);
        let mut clocks = case.clocks;
        self.with_calendar(|cal| {
            match command {
                Command::Accept
                | Command::Escalate {
                    target: fengqiao_domain::EscalationTarget::ParentTenant,
                    ..
                } => {
                    clocks.conclude_by = Some(policy.conclude_within.ends(cal, today));
                }
                Command::Reopen { .. } => {
                    clocks.conclude_by = Some(policy.conclude_within.ends(cal, today));
                    clocks.follow_up_by = None;
                }
                Command::Resolve { .. } | Command::Unresolve { .. } => {
                    clocks.follow_up_by = Some(policy.follow_up_within.ends(cal, today));
                }
                _ => {}
            }
            clocks
        })
    }

    /// Extends a case's conclusion deadline by its policy's extension, once, with a supervisor's approval
    /// and a reason recorded on the timeline.
    pub async fn extend_conclusion(
        &self,
        principal: &Principal,
        case_id: i64,
        reason: &str,
    ) -> ApiResult<CaseRecord> {
        let reason = clean_text("reason", reason, 2, 500, true)?;
        let (case, permit) = self
            .case_for(principal, case_id, Action::CaseExtend)
            .await?;
        let policy = ClockPolicy::default_for(case.kind, case.complexity);
        let refuse = |why: &str| Err(ApiError::InvalidTransition(why.to_owned()));
        let (Some(extension), Some(conclude_by)) = (policy.extension, case.clocks.conclude_by)
        else {
            return refuse(
                "this kind of case has no extension, or its conclusion clock has not started",
            );
        };
        if case.extended {
            return refuse(
                "the deadline of this case was extended already; it can be extended once",
            );
        }
        if !matches!(
            case.state.status,
            CaseStatus::Accepted
                | CaseStatus::Dispatched
                | CaseStatus::Returned
                | CaseStatus::InProgress
        ) {
            return refuse("only a case that is being worked can have its deadline extended");
        }
        let to = self.with_calendar(|cal| extension.ends(cal, conclude_by))?;
        let extended = self
            .store
            .extend_conclusion(&permit, &case, to, &reason, self.now())
            .await?;
        self.rollups_changed(case.origin.county).await;
        Ok(extended)
    }

    /// The risk grade of a case in state `next` with `clocks`, handled by `handler`.
    ///
    /// Escalations need no query: each one either moved the case a rung up the ladder (tiers never go
    /// down) or a level up the tenant tree, so their count is the tier's rung plus the levels between
    /// where the case was registered and where it is handled.
    async fn regrade(
        &self,
        case: &CaseRecord,
        next: &fengqiao_domain::CaseState,
        clocks: LegalClocks,
        handler: &TenantRecord,
        now: DateTime<Utc>,
    ) -> ApiResult<fengqiao_domain::risk::RiskGrade> {
        let hashes = self.store.party_hashes(case.id).await?;
        let after = CaseRecord {
            state: next.clone(),
            clocks,
            ..case.clone()
        };
        let facts = RiskFacts {
            repeat_cases: scope::across_county(self.store.cases_sharing_parties(
                case.origin.county,
                &hashes,
                now - RISK_WINDOW,
                Some(case.id),
            ))
            .await?,
            escalations: escalations(next.tier, &case.origin, handler.level),
            overdue: after.is_overdue(now),
            sensitive: self.risk_rules.is_sensitive(case.kind, case.category),
        };
        Ok(self.risk_rules.grade(&facts))
    }

    /// A leader case's leader is staff of the handling center or of a center above it.
    async fn check_leader(&self, handler: &TenantRecord, leader: i64) -> ApiResult<()> {
        let user = self.store.user(leader).await?.filter(|u| u.active);
        let ok = match user {
            Some(user) => {
                let home = self.directory.must(&self.store, user.tenant_id).await?;
                handler.ancestry.is_within(home.level, home.id)
            }
            None => false,
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::bad_input(
                "leaderId",
                "the leader must be staff of this center or one above it",
            ))
        }
    }

    /// Dispatch targets must be units stationed in the handling center or above it in the same county.
    async fn check_units(&self, case: &CaseRecord, lead: i64, co_units: &[i64]) -> ApiResult<()> {
        let handler = self.directory.must(&self.store, case.tenant_id).await?;
        for (field, unit_id) in
            std::iter::once(("leadUnitId", lead)).chain(co_units.iter().map(|u| ("coUnitIds", *u)))
        {
            let unit = self.store.unit(unit_id).await?;
            let ok = match &unit {
                Some(unit) => {
                    let home = self.directory.must(&self.store, unit.tenant_id).await?;
                    handler.ancestry.is_within(home.level, home.id)
                }
                None => false,
            };
            if !ok {
                return Err(ApiError::bad_input(
                    field,
                    format!("unit {unit_id} is not stationed in this center or above it"),
                ));
            }
            if unit.is_some_and(|u| u.residency == Residency::OnCall)
                && !self.store.summoned_units(case.id).await?.contains(&unit_id)
            {
                return Err(ApiError::bad_input(
                    field,
                    format!("unit {unit_id} is on call: summon it to the case first"),
                ));
            }
        }
        Ok(())
    }

    /// Summons an on-call unit to a case (中心吹哨); it must report by `report_by` (two hours by default).
    pub async fn summon_unit(
        &self,
        principal: &Principal,
        case_id: i64,
        unit_id: i64,
        report_by: Option<DateTime<Utc>>,
    ) -> ApiResult<SummonsRecord> {
        let (case, permit) = self
            .case_for(principal, case_id, Action::CaseDispatch)
            .await?;
        let now = self.now();
        let report_by = report_by.unwrap_or(now + SUMMONS_REPORT_WITHIN);
        if report_by <= now {
            return Err(ApiError::bad_input("reportBy", "must be in the future"));
        }
        if !case.state.status.is_open() {
            return Err(ApiError::InvalidTransition(
                "only an open case can have a unit summoned to it".into(),
            ));
        }
        let handler = self.directory.must(&self.store, case.tenant_id).await?;
        let unit = self.store.unit(unit_id).await?;
        let unit = match unit {
            Some(unit) => {
                let home = self.directory.must(&self.store, unit.tenant_id).await?;
                handler
                    .ancestry
                    .is_within(home.level, home.id)
                    .then_some(unit)
            }
            None => None,
        }
        .ok_or_else(|| {
            ApiError::bad_input(
                "unitId",
                format!("unit {unit_id} is not stationed in this center or above it"),
            )
        })?;
        if unit.residency != Residency::OnCall {
            return Err(ApiError::bad_input(
                "unitId",
                "only an on-call (随驻) unit is summoned; resident and rotating units are dispatched",
            ));
        }
        let summons = self
            .store
            .summon(&permit, &case, &unit, report_by, now)
            .await?;
        self.raise(vec![LiveEvent {
            kind: LiveKind::Summoned,
            case_id: case.id,
            unit_id: Some(unit.id),
            center_id: case.tenant_id,
            at: now,
        }])
        .await;
        Ok(summons)
    }

    /// The unit reports (报到) to a summons; a report after the report-by time is recorded as late.
    pub async fn report_summons(
        &self,
        principal: &Principal,
        summons_id: i64,
    ) -> ApiResult<SummonsRecord> {
        let summons = self
            .store
            .summons(summons_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let (case, permit) = self
            .case_for(principal, summons.case_id, Action::CaseRead)
            .await?;
        if !self
            .authz
            .units_of(principal.user_id)
            .await
            .contains(&summons.unit_id)
        {
            return Err(ApiError::Forbidden(
                "only a member of the summoned unit reports for it".into(),
            ));
        }
        let now = self.now();
        let reported = self
            .store
            .report_summons(&permit, &case, &summons, now)
            .await?;
        self.raise(vec![LiveEvent {
            kind: LiveKind::SummonsReported,
            case_id: case.id,
            unit_id: Some(summons.unit_id),
            center_id: case.tenant_id,
            at: now,
        }])
        .await;
        Ok(reported)
    }

    /// Releases a summons (the center, or the unit itself): the unit no longer sees the case.
    pub async fn release_summons(
        &self,
        principal: &Principal,
        summons_id: i64,
    ) -> ApiResult<SummonsRecord> {
        let summons = self
            .store
            .summons(summons_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let member = self
            .authz
            .units_of(principal.user_id)
            .await
            .contains(&summons.unit_id);
        let action = if member {
            Action::CaseRead
        } else {
            Action::CaseDispatch
        };
        let (case, permit) = self.case_for(principal, summons.case_id, action).await?;
        self.store
            .release_summons(&permit, &case, &summons, self.now())
            .await
    }

    /// The summonses of a case the principal may read.
    pub async fn summonses(&self, case: &CaseRecord) -> ApiResult<Vec<SummonsRecord>> {
        self.store.summonses_of_case(case.id).await
    }

    pub async fn parties(&self, case: &CaseRecord) -> ApiResult<Vec<PartyRecord>> {
        self.store.parties(case.id).await
    }

    /// Raises supervision on every case past a legal deadline: 催办 the day after, 通报 five working days
    /// later. Each missed deadline raises each level once, however many scanners run and however often
    /// (the store's unique trigger guarantees it); the lease only keeps replicas from repeating the work.
    pub async fn scan_deadlines(&self) -> ApiResult<ScanReport> {
        self.scan_deadlines_in(None).await
    }

    /// The deadline scanner over one county's cases only (`None`: every county).
    /// A system job: it runs as the system whoever calls it.
    pub async fn scan_deadlines_in(&self, county: Option<i64>) -> ApiResult<ScanReport> {
        scope::as_system(self.scan_deadlines_here(county)).await
    }

    async fn scan_deadlines_here(&self, county: Option<i64>) -> ApiResult<ScanReport> {
        // One scan of a scope at a time; scans of overlapping scopes only repeat idempotent work.
        let lease = match county {
            Some(county) => format!("lease:deadline-scanner:{county}"),
            None => "lease:deadline-scanner".to_owned(),
        };
        let mut report = ScanReport::default();
        if !self
            .cache
            .try_lease(&lease, StdDuration::from_secs(240))
            .await
            .map_err(ApiError::internal)?
        {
            report.skipped = true;
            return Ok(report);
        }
        let now = self.now();
        let today = china_date(now);
        let filter = CaseFilter {
            overdue_at: Some(now),
            subtree: county.map(|c| (fengqiao_domain::TenantLevel::County, c)),
            ..CaseFilter::default()
        };
        let mut after = 0;
        loop {
            let batch = self.store.cases_for_system(&filter, after, 500).await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for case in &batch {
                report.examined += 1;
                self.regrade_overdue(case, now).await?;
                if self.store.mark_overdue(case, now).await? {
                    report.marked += 1;
                    self.rollups_changed(case.origin.county).await;
                }
                let Some((stage, missed)) = missed_deadline(case) else {
                    continue;
                };
                let due = self.with_calendar(|cal| {
                    let levels = fengqiao_domain::supervision::automatic(cal, stage, missed, today);
                    let respond_by = fengqiao_domain::supervision::RESPOND_WITHIN.ends(cal, today);
                    (levels, respond_by)
                })?;
                let handler = self.directory.must(&self.store, case.tenant_id).await?;
                let issuer = handler.parent_id.unwrap_or(handler.id);
                for (level, trigger) in due.0 {
                    let reason = format!("{stage} deadline {missed} missed");
                    let new = NewOrder {
                        level,
                        reason: &reason,
                        respond_by: due.1,
                        issuer_tenant_id: issuer,
                    };
                    if self
                        .store
                        .raise_supervision(case, &new, &trigger, now)
                        .await?
                    {
                        report.raised += 1;
                        self.rollups_changed(case.origin.county).await;
                    }
                }
            }
        }
        self.cache
            .delete(&lease)
            .await
            .map_err(ApiError::internal)?;
        Ok(report)
    }

    /// Updates the risk grade of a case that became overdue without any event.
    async fn regrade_overdue(&self, case: &CaseRecord, now: DateTime<Utc>) -> ApiResult<()> {
        let handler = self.directory.must(&self.store, case.tenant_id).await?;
        let grade = self
            .regrade(case, &case.state, case.clocks, &handler, now)
            .await?;
        if grade != case.risk {
            self.store.update_risk(case, &grade, now).await?;
        }
        Ok(())
    }

    /// Issues a supervision order on a case handled by a center below the supervisor's.
    pub async fn issue_supervision(
        &self,
        principal: &Principal,
        case_id: i64,
        level: SupervisionLevel,
        reason: &str,
        respond_by: Option<chrono::NaiveDate>,
    ) -> ApiResult<OrderRecord> {
        let reason = clean_text("reason", reason, 2, 2000, true)?;
        let (case, permit) = self
            .case_for(principal, case_id, Action::CaseSupervise)
            .await?;
        if permit.granted_at() == case.tenant_id {
            return Err(ApiError::Forbidden(
                "a center supervises the centers below it, not its own cases".into(),
            ));
        }
        let today = china_date(self.now());
        let respond_by = match respond_by {
            Some(day) if day < today => {
                return Err(ApiError::bad_input("respondBy", "must not be in the past"));
            }
            Some(day) => day,
            None => self.with_calendar(|cal| {
                fengqiao_domain::supervision::RESPOND_WITHIN.ends(cal, today)
            })?,
        };
        let new = NewOrder {
            level,
            reason: &reason,
            respond_by,
            issuer_tenant_id: permit.granted_at(),
        };
        let order = self
            .store
            .issue_supervision(&permit, &case, &new, self.now())
            .await?;
        self.rollups_changed(case.origin.county).await;
        Ok(order)
    }

    /// Answers an open supervision order on one of the principal's center's cases.
    pub async fn respond_supervision(
        &self,
        principal: &Principal,
        order_id: i64,
        response: &str,
    ) -> ApiResult<OrderRecord> {
        let response = clean_text("response", response, 2, 2000, true)?;
        let order = self
            .store
            .supervision_order(order_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let (case, permit) = self
            .case_for(principal, order.case_id, Action::CaseRespondSupervision)
            .await?;
        let answered = self
            .store
            .respond_supervision(&permit, &case, order.id, &response, self.now())
            .await?;
        self.rollups_changed(case.origin.county).await;
        Ok(answered)
    }

    /// Shows a party's name, address, ID number and phone in full, recording who asked and why on the case's timeline.
    /// Writes the masked free text of cases registered before it was kept, in the background, as the
    /// system. Until a case's turn comes its identifiers are masked when it is read (names after).
    pub fn start_masking_backfill(self: &Arc<Self>) {
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(state) = state.upgrade() else { break };
                match scope::as_system(state.store.fill_masked_text(500)).await {
                    Ok(0) => break,
                    Ok(n) => tracing::debug!(cases = n, "masked the free text of older cases"),
                    Err(e) => {
                        tracing::warn!(error = %e.detail(), "masking older cases' free text");
                        tokio::time::sleep(StdDuration::from_secs(30)).await;
                    }
                }
            }
        });
    }

    /// Whether the principal may see this case's personal data in full (`case.reveal_personal_data`):
    /// who may not sees its free text masked.
    pub async fn may_reveal(&self, principal: &Principal, case: &CaseRecord) -> bool {
        let Ok(target) = self.case_target(case, principal).await else {
            return false;
        };
        self.authz
            .permit(principal, Action::CaseRevealPersonalData, &target)
            .await
            .is_ok()
    }

    /// The cases with a party whose ID number or phone is exactly `identifier`, among those on which the
    /// principal may reveal personal data. A reveal: it needs a reason, is limited to
    /// `LOOKUPS_PER_WINDOW` an account in `LOOKUP_WINDOW`, and every look-up (allowed or refused) is an
    /// audit record naming the number by its keyed hash only.
    pub async fn find_cases_by_party(
        &self,
        principal: &Principal,
        identifier: &fengqiao_search::Identifier,
        reason: &str,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<Vec<CaseRecord>> {
        let reason = clean_text("reason", reason, 2, 500, true)?;
        let (kind, hash) = match identifier {
            fengqiao_search::Identifier::IdCard(id) => {
                ("id_card", self.vault.lookup_hash(id.expose()))
            }
            fengqiao_search::Identifier::Phone(p) => ("phone", self.vault.lookup_hash(p.expose())),
        };
        let home = self
            .directory
            .must(&self.store, principal.tenant_id)
            .await?;
        let audit = |outcome: &'static str, found: usize| NewAuditRecord {
            at: self.now(),
            county_id: home.ancestry.county,
            tenant_id: Some(principal.tenant_id),
            user_id: Some(principal.user_id),
            client_address: client.map(|a| a.to_string()),
            action: "party.lookup",
            object: format!("{kind} {}: {found} cases", &hash[..hash.len().min(16)]),
            outcome,
            reason: reason.clone(),
        };
        let n = self
            .count_limited(
                &format!("party-lookups:{}", principal.user_id),
                1,
                LOOKUP_WINDOW,
            )
            .await;
        if n > LOOKUPS_PER_WINDOW {
            self.store.append_audit(audit("rate_limited", 0)).await?;
            return Err(ApiError::RateLimited {
                why: "too many look-ups by ID number or phone",
                retry_after: LOOKUP_WINDOW.as_secs(),
            });
        }
        let ids = self.store.cases_with_party_hash(&hash, 200).await?;
        let mut found = Vec::new();
        for case in self.store.cases_by_ids(&ids).await? {
            if self.may_reveal(principal, &case).await {
                found.push(case);
            }
        }
        found.sort_by_key(|c| std::cmp::Reverse(c.id));
        self.store
            .append_audit(audit("allowed", found.len()))
            .await?;
        Ok(found)
    }

    pub async fn reveal_party(
        &self,
        principal: &Principal,
        case_id: i64,
        party_id: i64,
        reason: &str,
    ) -> ApiResult<RevealedParty> {
        let reason = clean_text("reason", reason, 2, 500, true)?;
        let reason = reason.as_str();
        let (case, permit) = self
            .case_for(principal, case_id, Action::CaseRevealPersonalData)
            .await?;
        let party = self
            .store
            .parties(case.id)
            .await?
            .into_iter()
            .find(|p| p.id == party_id)
            .ok_or(ApiError::NotFound)?;
        let decrypt = |c: &Option<String>| {
            c.as_deref()
                .map(|v| self.vault.decrypt(v).map_err(ApiError::internal))
                .transpose()
        };
        let revealed = RevealedParty {
            name: party.name.clone(),
            address: party.address.clone(),
            id_card: decrypt(&party.id_card_cipher)?,
            phone: decrypt(&party.phone_cipher)?,
        };
        self.store
            .record_reveal(&permit, &case, party.id, reason, self.now())
            .await?;
        Ok(revealed)
    }
}

/// How many times a case was escalated: rungs climbed on the ladder plus levels climbed in the tree.
fn escalations(
    tier: fengqiao_domain::Tier,
    origin: &Ancestry,
    handler: fengqiao_domain::TenantLevel,
) -> u32 {
    let rungs = fengqiao_domain::Tier::ALL
        .iter()
        .position(|t| *t == tier)
        .unwrap_or(0);
    let origin_depth = origin.chain().len() - 1;
    let levels = origin_depth.saturating_sub(handler.depth());
    u32::try_from(rungs + levels).unwrap_or(u32::MAX)
}

/// How long a summoned on-call unit has to report, unless the dispatcher says otherwise.
pub const SUMMONS_REPORT_WITHIN: Duration = Duration::hours(2);

/// The bus topic of grant and membership changes.
const POLICY_TOPIC: &str = "policy";

/// A change to who may do what, or to the rules every replica holds in memory, as replicas tell each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    Grant(fengqiao_tenancy::Grant),
    Member {
        unit_id: i64,
        user_id: i64,
    },
    /// A center's clock policy changed: reload them.
    ClockPolicies,
    /// A unit's duty roster changed: forget what was known of it.
    Roster {
        unit_id: i64,
    },
    /// A calendar notice was loaded: reload the working-day calendar.
    Calendar,
    /// An account changed (disabled, moved): forget what was known of it.
    Account {
        user_id: i64,
    },
}

impl PolicyChange {
    pub fn to_message(&self) -> String {
        match self {
            PolicyChange::Grant(g) => serde_json::json!({
                "grant": {
                    "user": g.user_id,
                    "role": g.role.as_str(),
                    "tenant": g.tenant_id,
                    "level": g.level.as_str(),
                }
            }),
            PolicyChange::Member { unit_id, user_id } => {
                serde_json::json!({ "member": { "unit": unit_id, "user": user_id } })
            }
            PolicyChange::ClockPolicies => serde_json::json!({ "reload": "clock_policies" }),
            PolicyChange::Roster { unit_id } => serde_json::json!({ "roster": unit_id }),
            PolicyChange::Calendar => serde_json::json!({ "reload": "calendar" }),
            PolicyChange::Account { user_id } => serde_json::json!({ "account": user_id }),
        }
        .to_string()
    }

    pub fn from_message(text: &str) -> Option<PolicyChange> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        if let Some(g) = value.get("grant") {
            return Some(PolicyChange::Grant(fengqiao_tenancy::Grant {
                user_id: g.get("user")?.as_i64()?,
                role: Role::parse(g.get("role")?.as_str()?)?,
                tenant_id: g.get("tenant")?.as_i64()?,
                level: fengqiao_domain::TenantLevel::parse(g.get("level")?.as_str()?)?,
            }));
        }
        if let Some(unit_id) = value.get("roster").and_then(|u| u.as_i64()) {
            return Some(PolicyChange::Roster { unit_id });
        }
        if let Some(user_id) = value.get("account").and_then(|u| u.as_i64()) {
            return Some(PolicyChange::Account { user_id });
        }
        match value.get("reload").and_then(|r| r.as_str()) {
            Some("clock_policies") => return Some(PolicyChange::ClockPolicies),
            Some("calendar") => return Some(PolicyChange::Calendar),
            _ => {}
        }
        let m = value.get("member")?;
        Some(PolicyChange::Member {
            unit_id: m.get("unit")?.as_i64()?,
            user_id: m.get("user")?.as_i64()?,
        })
    }
}

/// What one run of the deadline scanner did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Another replica held the scanner's lease, so this run did nothing.
    pub skipped: bool,
    pub examined: u64,
    /// Cases newly marked overdue (counted by the dashboards' overdue gauge).
    pub marked: u64,
    pub raised: u64,
}

/// The legal deadline a case has missed at the stage it is in, named.
fn missed_deadline(case: &CaseRecord) -> Option<(&'static str, chrono::NaiveDate)> {
    match case.state.status {
        CaseStatus::Registered => case.clocks.accept_by.map(|d| ("accept", d)),
        CaseStatus::Accepted
        | CaseStatus::Dispatched
        | CaseStatus::Returned
        | CaseStatus::InProgress => case.clocks.conclude_by.map(|d| ("conclude", d)),
        CaseStatus::Resolved | CaseStatus::Unresolved => {
            case.clocks.follow_up_by.map(|d| ("follow_up", d))
        }
        _ => None,
    }
}

/// The note and structured data a command leaves on the timeline.
fn describe(command: &Command) -> (String, serde_json::Value) {
    use fengqiao_domain::ReturnDecision;
    use serde_json::json;
    match command {
        Command::Accept | Command::Claim | Command::Close => (String::new(), json!({})),
        Command::Reject { reason, referral } => (reason.clone(), json!({ "referral": referral })),
        Command::Dispatch {
            lead_unit,
            co_units,
            deadline,
        }
        | Command::ReviewReturn(ReturnDecision::Redispatch {
            lead_unit,
            co_units,
            deadline,
        }) => (
            String::new(),
            json!({ "leadUnit": lead_unit, "coUnits": co_units, "deadline": deadline }),
        ),
        Command::Return { reason } => (reason.clone(), json!({})),
        Command::Unresolve { reason, attempted } => (
            reason.clone(),
            json!({ "attempted": attempted.map(|m| m.as_str()) }),
        ),
        Command::ReviewReturn(ReturnDecision::TakeBack { note }) => (note.clone(), json!({})),
        Command::Resolve {
            outcome,
            method,
            note,
        } => (
            note.clone(),
            json!({ "outcome": outcome.as_str(), "method": method.as_str() }),
        ),
        Command::Escalate {
            target,
            note,
            leader,
        } => (
            note.clone(),
            json!({ "target": format!("{target:?}"), "leader": leader }),
        ),
        Command::FollowUp { satisfaction, note } => (
            note.clone(),
            json!({ "satisfaction": satisfaction.as_str() }),
        ),
        Command::Reopen { reason, deadline } => (reason.clone(), json!({ "deadline": deadline })),
    }
}

/// Builds a party from raw input, naming the failing field by its position.
pub fn party_from_input(
    index: usize,
    role: fengqiao_domain::PartyRole,
    name: &str,
    id_card: Option<&str>,
    phone: Option<&str>,
    address: &str,
) -> ApiResult<NewParty> {
    let name = clean_text(&format!("parties[{index}].name"), name, 1, 64, false)?;
    let address = clean_text(&format!("parties[{index}].address"), address, 0, 200, false)?;
    let id_card = id_card
        .filter(|s| !s.trim().is_empty())
        .map(IdCard::parse)
        .transpose()
        .map_err(|e| personal_data_error(&format!("parties[{index}].idCard"), e))?;
    let phone = phone
        .filter(|s| !s.trim().is_empty())
        .map(Phone::parse)
        .transpose()
        .map_err(|e| personal_data_error(&format!("parties[{index}].phone"), e))?;
    Ok(NewParty {
        role,
        name,
        id_card,
        phone,
        address,
    })
}

/// The live events of a lifecycle command that took `before` to `after`.
fn live_events(
    command: &Command,
    before: &CaseRecord,
    after: &CaseRecord,
    at: DateTime<Utc>,
) -> Vec<LiveEvent> {
    let event = |kind, unit_id| LiveEvent {
        kind,
        case_id: after.id,
        unit_id,
        center_id: after.tenant_id,
        at,
    };
    match command {
        Command::Dispatch {
            lead_unit,
            co_units,
            ..
        }
        | Command::ReviewReturn(fengqiao_domain::ReturnDecision::Redispatch {
            lead_unit,
            co_units,
            ..
        }) => std::iter::once(event(LiveKind::Assigned, Some(*lead_unit)))
            .chain(
                co_units
                    .iter()
                    .map(|unit| event(LiveKind::CoAssigned, Some(*unit))),
            )
            .collect(),
        Command::Reopen { .. } => after
            .state
            .lead_unit
            .map(|lead| event(LiveKind::Assigned, Some(lead)))
            .into_iter()
            .collect(),
        Command::Return { .. } => vec![event(LiveKind::Returned, before.state.lead_unit)],
        Command::Escalate {
            target: fengqiao_domain::EscalationTarget::ParentTenant,
            ..
        } => vec![event(LiveKind::Escalated, None)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use fengqiao_domain::{Ancestry, TenantLevel, Tier};

    use super::escalations;

    #[test]
    fn escalations_count_rungs_and_levels_climbed() {
        let village = Ancestry::county(1)
            .child(TenantLevel::Township, 2)
            .child(TenantLevel::Village, 3);
        assert_eq!(
            escalations(Tier::InitialMediation, &village, TenantLevel::Village),
            0
        );
        assert_eq!(
            escalations(Tier::JointMediation, &village, TenantLevel::Village),
            1
        );
        assert_eq!(
            escalations(Tier::InitialMediation, &village, TenantLevel::County),
            2
        );
        assert_eq!(
            escalations(Tier::LeaderCase, &village, TenantLevel::Township),
            4
        );
    }
}
