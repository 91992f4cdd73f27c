//! The application: everything a request can do, with authorization, validation and persistence in one
//! place, independent of GraphQL. Resolvers translate to and from these calls.
//!
//! One state, `AppState` (store, authorizer, tokens, cache, bus, clock, vault, search, live hub), and one
//! room per use case, each an `impl AppState` of its own:
//! - `identity`: signing in and out, sessions, what a bearer token stands for;
//! - `administration`: the tenant tree and its units; `accounts`: accounts, grants and memberships, from
//!   creation to their end;
//! - `access`: who may see a case, reads in the caller's scope, the database scope of a request;
//! - `intake`: registering a case; `handling`: the closed loop's commands, clocks and ladder;
//! - `rosters`: duty rosters and on-call summonses; `supervision`: the deadline scanner and 督办 orders;
//! - `audit`: the audit trail, for the auditor; `personal_data`: reveals and exact look-ups;
//! - `search`: case search and feeding the index;
//! - `reports`: dashboards, exports and rollup checks; `live`: events to subscribers;
//! - `clocks`: clock policies and the calendar; `replicas`: what every replica must hold alike;
//! - `effects`: what a committed change sets off (`settle`), in one table;
//! - `lookups`: the records shown beside the one asked for, one by one and in batches.

mod access;
mod accounts;
mod administration;
mod audit;
mod clocks;
mod effects;
mod handling;
mod identity;
mod intake;
mod live;
mod lookups;
mod passwords;
mod personal_data;
mod replicas;
mod reports;
mod rosters;
mod search;
mod second_factor;
mod sessions;
mod supervision;

/// The records the application hands out and takes in: what the API layer may name.
pub mod records {
    pub use crate::store::audit::AuditRecord;
    pub use crate::store::cases::{
        CaseFilter, CaseRecord, EventRecord, Idempotency, NewCase, NewParty, PartyRecord,
    };
    pub use crate::store::policies::TenantPolicy;
    pub use crate::store::rosters::SummonsRecord;
    pub use crate::store::sessions::{SecurityPolicy, SessionRecord};
    pub use crate::store::supervision::OrderRecord;
    pub use crate::store::tenants::TenantRecord;
    pub use crate::store::users::{Residency, UnitRecord, UserRecord};
}

/// For GraphQL's batched loads, which run in a task of their own.
pub use crate::store::scope::spawn_in_current_scope;
pub use audit::MAX_AUDIT_PAGE;
pub use identity::{
    ADDRESS_FAILURES, ADDRESS_WINDOW, Caller, LOCK_MINUTES, MAX_FAILED_LOGINS, Session,
};
pub use intake::{Registration, party_from_input};
pub use personal_data::{LOOKUP_WINDOW, LOOKUPS_PER_WINDOW, RevealedParty};
pub use replicas::PolicyChange;
pub use rosters::SUMMONS_REPORT_WITHIN;
pub use second_factor::{Enrollment, ROLES_WITH_SECOND_FACTOR};
pub use sessions::TOUCH_EVERY;
pub use supervision::ScanReport;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fengqiao_domain::calendar::WorkingCalendar;
use std::collections::HashMap;

use fengqiao_domain::CaseKind;
use fengqiao_domain::clocks::{ClockPolicy, Complexity};
use fengqiao_domain::risk::RiskRules;
use fengqiao_tenancy::{Authorizer, TokenIssuer};

use crate::bus::Bus;
use crate::cache::Cache;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::pii::Vault;
use crate::store::Store;
use crate::store::rosters::UnitStation;

pub struct AppState {
    pub store: Store,
    pub authz: Authorizer,
    pub tokens: TokenIssuer,
    pub cache: Arc<dyn Cache>,
    /// Carries changes between replicas (Redis pub/sub, or in process).
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
    /// What sessions and passwords are timed on: the same clock as `clock` in a server (see
    /// `build_state_with_session_clock`).
    pub session_clock: Arc<dyn Clock>,
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
    /// Live sessions this process has seen, by refresh-token family.
    pub sessions: std::sync::RwLock<HashMap<String, sessions::LiveSession>>,
    /// The cache's count of recoveries and its epoch when `sessions` was last trusted (see
    /// `session_ended_anywhere`).
    pub cache_recoveries_seen: std::sync::atomic::AtomicU64,
    pub cache_epoch_seen: std::sync::atomic::AtomicI64,
    /// Counties' security policies (a county without one has the defaults).
    pub security: std::sync::RwLock<HashMap<i64, crate::store::sessions::SecurityPolicy>>,
}

/// How far back the repeat-party rule looks.
pub(crate) const RISK_WINDOW: Duration = Duration::days(90);

impl AppState {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The time on the session clock: for sessions' lifetimes and passwords' ages.
    pub fn session_now(&self) -> DateTime<Utc> {
        self.session_clock.now()
    }
}
