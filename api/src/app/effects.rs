//! Effects after commit, in one place. Every store write that changes a case, an order, a summons or the
//! rollups returns a `Committed` (store/committed.rs); `settle` is the only way to its result, and raises
//! what the change sets off:
//!
//! | change | dashboards | live event | search worker | risk re-grade |
//! |---|---|---|---|---|
//! | registered | ✓ | `REGISTERED` | ✓ | (graded at intake) |
//! | transitioned | ✓ | by command (`ASSIGNED`, `CO_ASSIGNED`, `RETURNED`, `ESCALATED`) | ✓ | (graded in the write) |
//! | extended | ✓ | | ✓ | ✓ |
//! | marked overdue | ✓ | | ✓ | ✓ |
//! | regraded | | | ✓ | |
//! | order issued, order answered | ✓ | | | |
//! | summoned | | `SUMMONED` | | |
//! | summons reported | | `SUMMONS_REPORTED` | | |
//! | summons released | | | | |
//! | rollups repaired | ✓ | | | |
//!
//! "Dashboards" moves the county's dashboard generation on (cached figures are dropped); "search worker"
//! wakes the worker that feeds the index from the outbox the write filled in its transaction. A failure to
//! raise an effect is logged and never the caller's error: the change stands (`tests/it/effects.rs` checks
//! every row of the table through the API).

use chrono::{DateTime, Utc};

use crate::error::ApiResult;
use crate::live::{LiveEvent, LiveKind};
use crate::store::cases::CaseRecord;
use crate::store::committed::{Change, Committed};

use super::AppState;
use super::handling::live_events;

/// What one change sets off.
#[derive(Debug, Default)]
struct Effects {
    /// The county whose dashboards must be recomputed.
    dashboards: Option<i64>,
    live: Vec<LiveEvent>,
    wake_search: bool,
    /// A case whose risk grade may no longer hold.
    regrade: Option<CaseRecord>,
}

fn effects_of(change: Change, now: DateTime<Utc>) -> Effects {
    let event = |case: &CaseRecord, kind, unit_id| LiveEvent {
        kind,
        case_id: case.id,
        unit_id,
        center_id: case.tenant_id,
        at: now,
    };
    match change {
        Change::Registered(case) => Effects {
            dashboards: Some(case.origin.county),
            live: vec![event(&case, LiveKind::Registered, None)],
            wake_search: true,
            regrade: None,
        },
        Change::Transitioned {
            command,
            before,
            after,
        } => Effects {
            dashboards: Some(after.origin.county),
            live: live_events(&command, &before, &after, now),
            wake_search: true,
            regrade: None,
        },
        Change::Extended(case) | Change::MarkedOverdue(case) => Effects {
            dashboards: Some(case.origin.county),
            wake_search: true,
            regrade: Some(case),
            ..Effects::default()
        },
        Change::Regraded(_) => Effects {
            wake_search: true,
            ..Effects::default()
        },
        Change::OrderIssued(case) | Change::OrderAnswered(case) => Effects {
            dashboards: Some(case.origin.county),
            ..Effects::default()
        },
        Change::Summoned { case, unit_id } => Effects {
            live: vec![event(&case, LiveKind::Summoned, Some(unit_id))],
            ..Effects::default()
        },
        Change::SummonsReported { case, unit_id } => Effects {
            live: vec![event(&case, LiveKind::SummonsReported, Some(unit_id))],
            ..Effects::default()
        },
        Change::SummonsReleased { .. } | Change::Nothing => Effects::default(),
        Change::RollupsRepaired { county } => Effects {
            dashboards: Some(county),
            ..Effects::default()
        },
    }
}

impl AppState {
    /// The result of a committed write, once what it sets off is raised (see the table above).
    pub(crate) async fn settle<T>(&self, committed: Committed<T>) -> T {
        let (value, change) = committed.into_parts();
        let effects = effects_of(change, self.now());
        self.raise_effects(effects).await;
        value
    }

    async fn raise_effects(&self, effects: Effects) {
        if let Some(county) = effects.dashboards {
            self.rollups_changed(county).await;
        }
        if effects.wake_search {
            self.store.wake_search_worker();
        }
        if !effects.live.is_empty() {
            self.raise(effects.live).await;
        }
        if let Some(case) = effects.regrade {
            match self.regraded(&case).await {
                Ok(Some(committed)) => {
                    let (_, change) = committed.into_parts();
                    // A re-grade sets off no re-grade of its own: this goes one level deep.
                    Box::pin(self.raise_effects(effects_of(change, self.now()))).await;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(case = case.id, error = %e.detail(), "could not re-grade a case's risk")
                }
            }
        }
    }

    /// Stores the case's risk grade as it stands now, if it changed.
    async fn regraded(&self, case: &CaseRecord) -> ApiResult<Option<Committed<()>>> {
        let now = self.now();
        let handler = self.directory.must(&self.store, case.tenant_id).await?;
        let grade = self
            .regrade(case, &case.state, case.clocks, &handler, now)
            .await?;
        if grade == case.risk {
            return Ok(None);
        }
        Ok(Some(self.store.update_risk(case, &grade, now).await?))
    }

    /// Re-grades a case that time has carried past a deadline without any event (the deadline scanner).
    pub(crate) async fn regrade_overdue(&self, case: &CaseRecord) -> ApiResult<()> {
        if let Some(committed) = self.regraded(case).await? {
            self.settle(committed).await;
        }
        Ok(())
    }
}
