//! Grants, unit memberships and in-memory rules kept the same on every replica: changes applied here and
//! told to the others over the bus, and written to the policy change feed in the database, which every
//! server reads every few seconds: so a change made by another process (a command-line tool beside a
//! running server, a replica without Redis) reaches it without a restart.

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
    /// A grant was taken back.
    Revoked(fengqiao_tenancy::Grant),
    Member {
        unit_id: i64,
        user_id: i64,
    },
    /// An account left a unit.
    MemberRemoved {
        unit_id: i64,
        user_id: i64,
    },
    /// A center's clock policy changed: reload them.
    ClockPolicies,
    /// A county's security policy changed: reload them.
    SecurityPolicies,
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
    /// Much changed at once (a county bootstrapped): reload everything.
    Everything,
}

fn grant_json(g: &fengqiao_tenancy::Grant) -> serde_json::Value {
    serde_json::json!({
        "user": g.user_id,
        "role": g.role.as_str(),
        "tenant": g.tenant_id,
        "level": g.level.as_str(),
    })
}

fn grant_of_json(g: &serde_json::Value) -> Option<fengqiao_tenancy::Grant> {
    Some(fengqiao_tenancy::Grant {
        user_id: g.get("user")?.as_i64()?,
        role: Role::parse(g.get("role")?.as_str()?)?,
        tenant_id: g.get("tenant")?.as_i64()?,
        level: fengqiao_domain::TenantLevel::parse(g.get("level")?.as_str()?)?,
    })
}

impl PolicyChange {
    pub fn to_message(&self) -> String {
        match self {
            PolicyChange::Grant(g) => serde_json::json!({ "grant": grant_json(g) }),
            PolicyChange::Revoked(g) => serde_json::json!({ "revoke": grant_json(g) }),
            PolicyChange::Member { unit_id, user_id } => {
                serde_json::json!({ "member": { "unit": unit_id, "user": user_id } })
            }
            PolicyChange::MemberRemoved { unit_id, user_id } => {
                serde_json::json!({ "unmember": { "unit": unit_id, "user": user_id } })
            }
            PolicyChange::ClockPolicies => serde_json::json!({ "reload": "clock_policies" }),
            PolicyChange::SecurityPolicies => {
                serde_json::json!({ "reload": "security_policies" })
            }
            PolicyChange::Roster { unit_id } => serde_json::json!({ "roster": unit_id }),
            PolicyChange::Calendar => serde_json::json!({ "reload": "calendar" }),
            PolicyChange::Account { user_id } => serde_json::json!({ "account": user_id }),
            PolicyChange::Everything => serde_json::json!({ "reload": "everything" }),
        }
        .to_string()
    }

    pub fn from_message(text: &str) -> Option<PolicyChange> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        if let Some(g) = value.get("grant") {
            return Some(PolicyChange::Grant(grant_of_json(g)?));
        }
        if let Some(g) = value.get("revoke") {
            return Some(PolicyChange::Revoked(grant_of_json(g)?));
        }
        if let Some(m) = value.get("unmember") {
            return Some(PolicyChange::MemberRemoved {
                unit_id: m.get("unit")?.as_i64()?,
                user_id: m.get("user")?.as_i64()?,
            });
        }
        if let Some(unit_id) = value.get("roster").and_then(|u| u.as_i64()) {
            return Some(PolicyChange::Roster { unit_id });
        }
        if let Some(user_id) = value.get("account").and_then(|u| u.as_i64()) {
            return Some(PolicyChange::Account { user_id });
        }
        match value.get("reload").and_then(|r| r.as_str()) {
            Some("clock_policies") => return Some(PolicyChange::ClockPolicies),
            Some("security_policies") => return Some(PolicyChange::SecurityPolicies),
            Some("calendar") => return Some(PolicyChange::Calendar),
            Some("everything") => return Some(PolicyChange::Everything),
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

    /// Tells every other replica (and any process on the bus) about a change already made here: at once
    /// over the bus, and through the feed, which every server reads every `FEED_POLL`.
    pub async fn announce(&self, change: &PolicyChange) {
        let message = change.to_message();
        // Boxed: the use cases that change a policy await this inside a request, whose future a debug
        // build keeps on the worker's stack.
        let appended = Box::pin(self.store.append_policy_change(&message, self.now()));
        if let Err(e) = scope::as_system(appended).await {
            tracing::warn!(error = %e.detail(), "could not write a policy change to the feed");
        }
        if let Err(e) = self.bus.publish(POLICY_TOPIC, &message).await {
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
            PolicyChange::Revoked(grant) => self
                .authz
                .remove_grant(*grant)
                .await
                .map_err(ApiError::internal),
            PolicyChange::Member { unit_id, user_id } => {
                self.authz.add_member(*unit_id, *user_id).await;
                Ok(())
            }
            PolicyChange::MemberRemoved { unit_id, user_id } => {
                self.authz.remove_member(*unit_id, *user_id).await;
                Ok(())
            }
            PolicyChange::ClockPolicies => self.load_clock_policies().await,
            PolicyChange::SecurityPolicies => self.load_security_policies().await,
            PolicyChange::Roster { unit_id } => self.forget_stations(Some(*unit_id)),
            PolicyChange::Calendar => self.reload_calendar().await,
            PolicyChange::Account { user_id } => self.forget_account(Some(*user_id)),
            // Boxed: a reload of everything is a large future, and this match is awaited in requests.
            PolicyChange::Everything => Box::pin(self.reload_everything()).await,
        }
    }

    pub(crate) async fn reload_everything(&self) -> ApiResult<()> {
        self.forget_stations(None)?;
        self.forget_account(None)?;
        scope::as_system(async {
            self.load_policies().await?;
            self.load_clock_policies().await?;
            self.load_security_policies().await?;
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
        let fed_up_to = scope::as_system(self.store.policy_feed_end()).await?;
        self.load_policies().await?;
        self.start_feed_reader(fed_up_to);
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

    /// Reads the policy change feed from position `after` every `FEED_POLL` and applies what other
    /// processes wrote (and, harmlessly, this one's own changes again), for as long as the state lives;
    /// prunes changes older than `FEED_KEPT` now and then.
    fn start_feed_reader(self: &Arc<Self>, mut after: i64) {
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last_prune = std::time::Instant::now();
            loop {
                tokio::time::sleep(FEED_POLL).await;
                let Some(state) = state.upgrade() else { break };
                let read = scope::as_system(state.store.policy_changes_after(after, 500)).await;
                match read {
                    Ok(changes) => {
                        for (position, message) in changes {
                            after = position;
                            let outcome = match PolicyChange::from_message(&message) {
                                Some(change) => state.apply_policy_change(&change).await,
                                None => state.reload_everything().await,
                            };
                            if let Err(e) = outcome {
                                tracing::error!(error = %e.detail(), "could not apply a policy change from the feed");
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.detail(), "could not read the policy change feed")
                    }
                }
                if last_prune.elapsed() > FEED_KEPT / 24 {
                    last_prune = std::time::Instant::now();
                    let before =
                        state.now() - chrono::Duration::from_std(FEED_KEPT).unwrap_or_default();
                    if let Err(e) = scope::as_system(state.store.prune_policy_changes(before)).await
                    {
                        tracing::warn!(error = %e.detail(), "could not prune the policy change feed");
                    }
                }
            }
        });
    }
}

/// How often a server reads the policy change feed.
const FEED_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// How long changes stay in the feed.
const FEED_KEPT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_reads_back_as_it_was_written() {
        let changes = [
            PolicyChange::Grant(fengqiao_tenancy::Grant {
                user_id: 7,
                role: Role::Dispatcher,
                tenant_id: 70,
                level: fengqiao_domain::TenantLevel::Township,
            }),
            PolicyChange::Revoked(fengqiao_tenancy::Grant {
                user_id: 7,
                role: Role::Mediator,
                tenant_id: 71,
                level: fengqiao_domain::TenantLevel::Village,
            }),
            PolicyChange::Member {
                unit_id: 3,
                user_id: 7,
            },
            PolicyChange::MemberRemoved {
                unit_id: 3,
                user_id: 8,
            },
            PolicyChange::ClockPolicies,
            PolicyChange::Roster { unit_id: 3 },
            PolicyChange::Calendar,
            PolicyChange::Account { user_id: 7 },
            PolicyChange::Everything,
        ];
        for change in changes {
            assert_eq!(
                PolicyChange::from_message(&change.to_message()),
                Some(change)
            );
        }
        assert_eq!(PolicyChange::from_message("{\"reload\":\"nothing\"}"), None);
        assert_eq!(PolicyChange::from_message("not json"), None);
    }
}
