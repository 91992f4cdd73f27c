//! Grants, unit memberships and in-memory rules kept the same on every replica: changes applied here and
//! told to the others over the bus.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use fengqiao_tenancy::Role;

use crate::bus::BusEvent;
use crate::error::{ApiError, ApiResult};
use crate::store::scope::{self};

use super::AppState;

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

impl AppState {
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
    pub(crate) async fn policy_changed(&self, change: PolicyChange) -> ApiResult<()> {
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
    pub(crate) async fn apply_policy_change(&self, change: &PolicyChange) -> ApiResult<()> {
        scope::as_system(self.apply_policy_change_here(change)).await
    }

    pub(crate) async fn apply_policy_change_here(&self, change: &PolicyChange) -> ApiResult<()> {
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

    pub(crate) async fn reload_everything(&self) -> ApiResult<()> {
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
}
