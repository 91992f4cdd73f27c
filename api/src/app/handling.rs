//! Handling a case through the closed loop: every lifecycle command, the clocks it restarts, the ladder,
//! deadline extensions and the risk grade recomputed on each event.

use chrono::{DateTime, Utc};

use fengqiao_domain::Ancestry;
use fengqiao_domain::code::china_date;
use fengqiao_domain::lifecycle::Context;
use fengqiao_domain::risk::RiskFacts;
use fengqiao_domain::{CaseStatus, Command};
use fengqiao_tenancy::{Principal, act};

use crate::error::{ApiError, ApiResult, clean_text};
use crate::live::{LiveEvent, LiveKind};
use crate::store::cases::{CaseRecord, LegalClocks, Transition};
use crate::store::scope::{self};
use crate::store::tenants::TenantRecord;
use crate::store::users::Residency;

use super::{AppState, RISK_WINDOW};

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

/// The live events of a lifecycle command that took `before` to `after`.
pub(super) fn live_events(
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

impl AppState {
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

    pub(crate) async fn transition_once(
        &self,
        principal: &Principal,
        case_id: i64,
        command: &Command,
    ) -> ApiResult<CaseRecord> {
        let command = command.clone();
        let (case, permit) = self.case_for_command(principal, case_id, &command).await?;
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
        Ok(self.settle(after).await)
    }

    /// The legal clocks after a command: acceptance starts the conclusion clock (so does arriving at a
    /// parent center, or a reopening), and a conclusion starts the follow-up clock.
    pub(crate) async fn clocks_after(
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
        let policy = self.case_policy(&ancestry, case.kind, case.complexity, case.channel)?;
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
        let (case, permit) = self.case_for::<act::CaseExtend>(principal, case_id).await?;
        // The extension of the case's own policy: the one its handling center's chain sets.
        let handler = self.directory.must(&self.store, case.tenant_id).await?;
        let policy =
            self.case_policy(&handler.ancestry, case.kind, case.complexity, case.channel)?;
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
        let extended = self.settle(extended).await;
        // Settling may have re-graded the case: answer it as it now stands.
        Ok(self.store.case(extended.id).await?.unwrap_or(extended))
    }

    /// The risk grade of a case in state `next` with `clocks`, handled by `handler`.
    ///
    /// Escalations need no query: each one either moved the case a rung up the ladder (tiers never go
    /// down) or a level up the tenant tree, so their count is the tier's rung plus the levels between
    /// where the case was registered and where it is handled.
    pub(crate) async fn regrade(
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
    pub(crate) async fn check_leader(&self, handler: &TenantRecord, leader: i64) -> ApiResult<()> {
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
    pub(crate) async fn check_units(
        &self,
        case: &CaseRecord,
        lead: i64,
        co_units: &[i64],
    ) -> ApiResult<()> {
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
