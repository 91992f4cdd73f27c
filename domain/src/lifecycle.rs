//! The case lifecycle: a closed loop from registration to closing, as a pure state machine.
//!
//! `CaseState::apply` is the only way a case changes status. It takes the moment as a parameter and
//! returns the next state or a typed refusal; it never half-applies a command.

use chrono::{DateTime, Duration, Utc};

use crate::case::{MediationMethod, Outcome, Satisfaction, Tier};
use crate::vocabulary;

/// How long after closing a dissatisfied resident may have a case reopened.
pub const REOPEN_WINDOW: Duration = Duration::days(30);

/// The longest free-text reason or note accepted, in characters.
pub const MAX_TEXT: usize = 2000;

vocabulary! {
    /// Where a case stands in the closed loop.
    CaseStatus {
        Registered = "registered",
        Accepted = "accepted",
        Rejected = "rejected",
        Dispatched = "dispatched",
        Returned = "returned",
        InProgress = "in_progress",
        Resolved = "resolved",
        Unresolved = "unresolved",
        FollowedUp = "followed_up",
        Closed = "closed",
    }
}

impl CaseStatus {
    /// Statuses in which the center still owes the resident work against a deadline.
    pub const OPEN: &'static [CaseStatus] = &[
        CaseStatus::Registered,
        CaseStatus::Accepted,
        CaseStatus::Dispatched,
        CaseStatus::Returned,
        CaseStatus::InProgress,
    ];

    pub fn is_open(self) -> bool {
        CaseStatus::OPEN.contains(&self)
    }
}

/// Where an escalation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationTarget {
    /// The next rung of the ladder, in the same center.
    NextTier,
    /// The parent tenant's center (逐级上报); the case keeps its code.
    ParentTenant,
}

/// The dispatcher's answer to a returned case (异议审核).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnDecision {
    /// 改派: hand the case to a unit again.
    Redispatch {
        lead_unit: i64,
        co_units: Vec<i64>,
        deadline: DateTime<Utc>,
    },
    /// Take it back to the center, as accepted.
    TakeBack { note: String },
}

/// Every command that moves a registered case. Registration itself creates the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Accept,
    /// 不予受理 with 一次性告知: the reason, and where the resident should go instead.
    Reject {
        reason: String,
        referral: String,
    },
    Dispatch {
        lead_unit: i64,
        co_units: Vec<i64>,
        deadline: DateTime<Utc>,
    },
    Claim,
    Return {
        reason: String,
    },
    ReviewReturn(ReturnDecision),
    Resolve {
        outcome: Outcome,
        method: MediationMethod,
        note: String,
    },
    Unresolve {
        reason: String,
        /// The mediation that was attempted and failed, if the case was mediated (counts against the
        /// mediation success rate).
        attempted: Option<MediationMethod>,
    },
    /// Up the ladder or to the parent center. Reaching `leader_case` names the leader who owns the case.
    Escalate {
        target: EscalationTarget,
        note: String,
        leader: Option<i64>,
    },
    FollowUp {
        satisfaction: Satisfaction,
        note: String,
    },
    Close,
    Reopen {
        reason: String,
        deadline: DateTime<Utc>,
    },
}

impl Command {
    /// The stable name recorded on the timeline.
    pub const fn name(&self) -> &'static str {
        match self {
            Command::Accept => "accept",
            Command::Reject { .. } => "reject",
            Command::Dispatch { .. } => "dispatch",
            Command::Claim => "claim",
            Command::Return { .. } => "return",
            Command::ReviewReturn(ReturnDecision::Redispatch { .. }) => "redispatch",
            Command::ReviewReturn(ReturnDecision::TakeBack { .. }) => "take_back",
            Command::Resolve { .. } => "resolve",
            Command::Unresolve { .. } => "unresolve",
            Command::Escalate {
                target: EscalationTarget::NextTier,
                ..
            } => "escalate_tier",
            Command::Escalate {
                target: EscalationTarget::ParentTenant,
                ..
            } => "escalate_parent",
            Command::FollowUp { .. } => "follow_up",
            Command::Close => "close",
            Command::Reopen { .. } => "reopen",
        }
    }

    /// The statuses from which this command is allowed.
    pub const fn allowed_from(&self) -> &'static [CaseStatus] {
        use CaseStatus::*;
        match self {
            Command::Accept | Command::Reject { .. } => &[Registered],
            Command::Dispatch { .. } => &[Accepted],
            Command::Claim | Command::Return { .. } => &[Dispatched],
            Command::ReviewReturn(_) => &[Returned],
            Command::Resolve { .. } | Command::Unresolve { .. } => &[InProgress],
            Command::Escalate { .. } => &[Accepted, InProgress, Unresolved],
            Command::FollowUp { .. } => &[Resolved, Unresolved],
            Command::Close => &[FollowedUp],
            Command::Reopen { .. } => &[Closed],
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("a case that is {from} cannot be {command}")]
    InvalidTransition {
        from: CaseStatus,
        command: &'static str,
    },
    #[error("{field}: {reason}")]
    InvalidInput {
        field: &'static str,
        reason: &'static str,
    },
    #[error("the case is already at the top of the escalation ladder")]
    TopOfLadder,
    #[error("the case is at the county center, which has no parent center")]
    NoParentTenant,
    #[error("the case was closed more than {days} days ago and can no longer be reopened", days = REOPEN_WINDOW.num_days())]
    ReopenWindowClosed,
}

/// What the lifecycle needs to know about the world outside the case.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub now: DateTime<Utc>,
    /// Whether the case's current center has a parent center to escalate to.
    pub has_parent_tenant: bool,
}

/// The part of a case the lifecycle rules read and write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseState {
    pub status: CaseStatus,
    pub tier: Tier,
    pub lead_unit: Option<i64>,
    pub co_units: Vec<i64>,
    pub deadline: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub method: Option<MediationMethod>,
    pub satisfaction: Option<Satisfaction>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The leader who owns a leader case (领导包案).
    pub leader: Option<i64>,
}

impl CaseState {
    /// A case just registered.
    pub fn registered() -> Self {
        CaseState {
            status: CaseStatus::Registered,
            tier: Tier::InitialMediation,
            lead_unit: None,
            co_units: Vec::new(),
            deadline: None,
            outcome: None,
            method: None,
            satisfaction: None,
            closed_at: None,
            leader: None,
        }
    }

    /// Applies a command, returning the next state or why it was refused.
    pub fn apply(&self, command: &Command, ctx: Context) -> Result<CaseState, LifecycleError> {
        if !command.allowed_from().contains(&self.status) {
            return Err(LifecycleError::InvalidTransition {
                from: self.status,
                command: command.name(),
            });
        }
        let mut next = self.clone();
        match command {
            Command::Accept => next.status = CaseStatus::Accepted,
            Command::Reject { reason, referral } => {
                required_text("reason", reason)?;
                required_text("referral", referral)?;
                next.status = CaseStatus::Rejected;
            }
            Command::Dispatch {
                lead_unit,
                co_units,
                deadline,
            } => {
                next.assign(*lead_unit, co_units, *deadline, ctx.now)?;
            }
            Command::Claim => next.status = CaseStatus::InProgress,
            Command::Return { reason } => {
                required_text("reason", reason)?;
                next.status = CaseStatus::Returned;
            }
            Command::ReviewReturn(ReturnDecision::Redispatch {
                lead_unit,
                co_units,
                deadline,
            }) => {
                next.assign(*lead_unit, co_units, *deadline, ctx.now)?;
            }
            Command::ReviewReturn(ReturnDecision::TakeBack { note }) => {
                optional_text("note", note)?;
                next.unassign();
                next.status = CaseStatus::Accepted;
            }
            Command::Resolve {
                outcome,
                method,
                note,
            } => {
                optional_text("note", note)?;
                next.outcome = Some(*outcome);
                next.method = Some(*method);
                next.status = CaseStatus::Resolved;
            }
            Command::Unresolve { reason, attempted } => {
                required_text("reason", reason)?;
                if attempted.is_some_and(|m| !m.is_mediation()) {
                    return Err(LifecycleError::InvalidInput {
                        field: "attempted",
                        reason: "names a mediation (people's, administrative or judicial)",
                    });
                }
                next.outcome = None;
                next.method = *attempted;
                next.status = CaseStatus::Unresolved;
            }
            Command::Escalate {
                target,
                note,
                leader,
            } => {
                optional_text("note", note)?;
                match target {
                    EscalationTarget::NextTier => {
                        next.tier = self.tier.next().ok_or(LifecycleError::TopOfLadder)?;
                        if next.tier == Tier::LeaderCase {
                            next.leader = Some(leader.ok_or(LifecycleError::InvalidInput {
                                field: "leaderId",
                                reason: "a leader case names the leader who owns it",
                            })?);
                        }
                    }
                    EscalationTarget::ParentTenant if !ctx.has_parent_tenant => {
                        return Err(LifecycleError::NoParentTenant);
                    }
                    EscalationTarget::ParentTenant => {}
                }
                next.unassign();
                next.status = CaseStatus::Accepted;
            }
            Command::FollowUp { satisfaction, note } => {
                optional_text("note", note)?;
                next.satisfaction = Some(*satisfaction);
                next.status = CaseStatus::FollowedUp;
            }
            Command::Close => {
                next.closed_at = Some(ctx.now);
                next.status = CaseStatus::Closed;
            }
            Command::Reopen { reason, deadline } => {
                required_text("reason", reason)?;
                let closed_at = self.closed_at.unwrap_or(ctx.now);
                if ctx.now - closed_at > REOPEN_WINDOW {
                    return Err(LifecycleError::ReopenWindowClosed);
                }
                let lead = self.lead_unit.ok_or(LifecycleError::InvalidInput {
                    field: "leadUnit",
                    reason: "the case has no unit to reopen to",
                })?;
                let co_units = self.co_units.clone();
                next.assign(lead, &co_units, *deadline, ctx.now)?;
                next.outcome = None;
                next.method = None;
                next.satisfaction = None;
                next.closed_at = None;
            }
        }
        Ok(next)
    }

    fn assign(
        &mut self,
        lead_unit: i64,
        co_units: &[i64],
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), LifecycleError> {
        if co_units.contains(&lead_unit) {
            return Err(LifecycleError::InvalidInput {
                field: "coUnits",
                reason: "the lead unit cannot also be a co-unit",
            });
        }
        let mut seen = co_units.to_vec();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != co_units.len() {
            return Err(LifecycleError::InvalidInput {
                field: "coUnits",
                reason: "a co-unit is named twice",
            });
        }
        if deadline <= now {
            return Err(LifecycleError::InvalidInput {
                field: "deadline",
                reason: "the deadline must be in the future",
            });
        }
        self.lead_unit = Some(lead_unit);
        self.co_units = co_units.to_vec();
        self.deadline = Some(deadline);
        self.status = CaseStatus::Dispatched;
        Ok(())
    }

    fn unassign(&mut self) {
        self.lead_unit = None;
        self.co_units.clear();
        self.deadline = None;
    }
}

fn required_text(field: &'static str, text: &str) -> Result<(), LifecycleError> {
    checked_text(field, text, 1)
}

fn optional_text(field: &'static str, text: &str) -> Result<(), LifecycleError> {
    checked_text(field, text, 0)
}

fn checked_text(field: &'static str, text: &str, min: usize) -> Result<(), LifecycleError> {
    crate::text::checked(text, min, MAX_TEXT, true)
        .map(|_| ())
        .map_err(|e| LifecycleError::InvalidInput {
            field,
            reason: match e {
                crate::text::TextError::Length { .. } if min > 0 && text.trim().is_empty() => {
                    "must not be empty"
                }
                crate::text::TextError::Length { .. } => "is too long",
                crate::text::TextError::ControlCharacter => "must not contain control characters",
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_790_000_000 + hours * 3600, 0).unwrap_or_default()
    }

    fn ctx(hours: i64) -> Context {
        Context {
            now: at(hours),
            has_parent_tenant: true,
        }
    }

    /// The lifecycle table of docs/DOMAIN.md, written out independently of `Command::allowed_from`.
    fn oracle(from: CaseStatus, command: &Command) -> Option<CaseStatus> {
        use CaseStatus::*;
        match (from, command) {
            (Registered, Command::Accept) => Some(Accepted),
            (Registered, Command::Reject { .. }) => Some(Rejected),
            (Accepted, Command::Dispatch { .. }) => Some(Dispatched),
            (Dispatched, Command::Claim) => Some(InProgress),
            (Dispatched, Command::Return { .. }) => Some(Returned),
            (Returned, Command::ReviewReturn(ReturnDecision::Redispatch { .. })) => {
                Some(Dispatched)
            }
            (Returned, Command::ReviewReturn(ReturnDecision::TakeBack { .. })) => Some(Accepted),
            (InProgress, Command::Resolve { .. }) => Some(Resolved),
            (InProgress, Command::Unresolve { .. }) => Some(Unresolved),
            (Accepted | InProgress | Unresolved, Command::Escalate { .. }) => Some(Accepted),
            (Resolved | Unresolved, Command::FollowUp { .. }) => Some(FollowedUp),
            (FollowedUp, Command::Close) => Some(Closed),
            (Closed, Command::Reopen { .. }) => Some(Dispatched),
            _ => None,
        }
    }

    fn command() -> impl Strategy<Value = Command> {
        let deadline = (1i64..400).prop_map(at);
        let units = (1i64..5, proptest::collection::vec(5i64..9, 0..3));
        prop_oneof![
            Just(Command::Accept),
            Just(Command::Reject {
                reason: "不属于受理范围".into(),
                referral: "县人民法院".into()
            }),
            (units.clone(), deadline.clone()).prop_map(|((lead_unit, mut co_units), deadline)| {
                co_units.sort_unstable();
                co_units.dedup();
                Command::Dispatch {
                    lead_unit,
                    co_units,
                    deadline,
                }
            }),
            Just(Command::Claim),
            Just(Command::Return {
                reason: "不属本单位职责".into()
            }),
            (units, deadline.clone()).prop_map(|((lead_unit, mut co_units), deadline)| {
                co_units.sort_unstable();
                co_units.dedup();
                Command::ReviewReturn(ReturnDecision::Redispatch {
                    lead_unit,
                    co_units,
                    deadline,
                })
            }),
            Just(Command::ReviewReturn(ReturnDecision::TakeBack {
                note: String::new()
            })),
            Just(Command::Resolve {
                outcome: Outcome::Resolved,
                method: MediationMethod::PeoplesMediation,
                note: String::new()
            }),
            Just(Command::Unresolve {
                reason: "双方分歧较大".into(),
                attempted: Some(MediationMethod::PeoplesMediation),
            }),
            Just(Command::Escalate {
                target: EscalationTarget::NextTier,
                note: String::new(),
                leader: Some(9)
            }),
            Just(Command::Escalate {
                target: EscalationTarget::ParentTenant,
                note: String::new(),
                leader: None
            }),
            Just(Command::FollowUp {
                satisfaction: Satisfaction::Satisfied,
                note: String::new()
            }),
            Just(Command::Close),
            deadline.prop_map(|deadline| Command::Reopen {
                reason: "当事人不满意".into(),
                deadline
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_command_follows_the_lifecycle_table(commands in proptest::collection::vec(command(), 1..60)) {
            let mut state = CaseState::registered();
            for command in &commands {
                let before = state.clone();
                match state.apply(command, ctx(0)) {
                    Ok(next) => {
                        prop_assert_eq!(Some(next.status), oracle(before.status, command));
                        if matches!(next.status, CaseStatus::Dispatched | CaseStatus::InProgress | CaseStatus::Returned) {
                            prop_assert!(next.lead_unit.is_some() && next.deadline.is_some());
                            prop_assert!(!next.co_units.contains(&next.lead_unit.unwrap_or_default()));
                        }
                        if next.status == CaseStatus::Resolved {
                            prop_assert!(next.outcome.is_some() && next.method.is_some());
                        }
                        prop_assert_eq!(next.status == CaseStatus::Closed, next.closed_at.is_some());
                        state = next;
                    }
                    Err(LifecycleError::InvalidTransition { from, .. }) => {
                        prop_assert_eq!(from, before.status);
                        prop_assert_eq!(oracle(before.status, command), None);
                    }
                    Err(LifecycleError::TopOfLadder) => {
                        prop_assert_eq!(before.tier, Tier::LeaderCase);
                        let is_next_tier = matches!(command, Command::Escalate { target: EscalationTarget::NextTier, .. });
                        prop_assert!(is_next_tier);
                    }
                    Err(other) => prop_assert!(false, "a valid command was refused: {other}"),
                }
            }
        }

        #[test]
        fn a_rejected_case_takes_no_command_and_a_closed_one_only_reopens(commands in proptest::collection::vec(command(), 1..40)) {
            let rejected = CaseState { status: CaseStatus::Rejected, ..CaseState::registered() };
            let closed = CaseState { status: CaseStatus::Closed, lead_unit: Some(1), closed_at: Some(at(0)), ..CaseState::registered() };
            for command in &commands {
                prop_assert!(rejected.apply(command, ctx(0)).is_err());
                prop_assert_eq!(closed.apply(command, ctx(0)).is_ok(), matches!(command, Command::Reopen { .. }));
            }
        }
    }

    #[test]
    fn escalation_climbs_the_ladder_once_per_rung() {
        let mut state = CaseState {
            status: CaseStatus::Accepted,
            ..CaseState::registered()
        };
        let up = Command::Escalate {
            target: EscalationTarget::NextTier,
            note: String::new(),
            leader: Some(9),
        };
        for _ in 0..3 {
            state = state.apply(&up, ctx(0)).unwrap();
        }
        assert_eq!(state.tier, Tier::LeaderCase);
        assert_eq!(state.apply(&up, ctx(0)), Err(LifecycleError::TopOfLadder));
        let parent = Command::Escalate {
            target: EscalationTarget::ParentTenant,
            note: String::new(),
            leader: Some(9),
        };
        let county = Context {
            now: at(0),
            has_parent_tenant: false,
        };
        assert_eq!(
            state.apply(&parent, county),
            Err(LifecycleError::NoParentTenant)
        );
    }

    #[test]
    fn a_leader_case_names_its_leader() {
        let state = CaseState {
            status: CaseStatus::Accepted,
            tier: Tier::Litigation,
            ..CaseState::registered()
        };
        let anonymous = Command::Escalate {
            target: EscalationTarget::NextTier,
            note: String::new(),
            leader: None,
        };
        assert!(matches!(
            state.apply(&anonymous, ctx(0)),
            Err(LifecycleError::InvalidInput {
                field: "leaderId",
                ..
            })
        ));
        let named = Command::Escalate {
            target: EscalationTarget::NextTier,
            note: String::new(),
            leader: Some(42),
        };
        let next = state.apply(&named, ctx(0)).unwrap();
        assert_eq!((next.tier, next.leader), (Tier::LeaderCase, Some(42)));
    }

    #[test]
    fn refused_inputs_name_their_field() {
        let accepted = CaseState {
            status: CaseStatus::Accepted,
            ..CaseState::registered()
        };
        let past = Command::Dispatch {
            lead_unit: 1,
            co_units: vec![],
            deadline: at(-1),
        };
        assert_eq!(
            accepted.apply(&past, ctx(0)),
            Err(LifecycleError::InvalidInput {
                field: "deadline",
                reason: "the deadline must be in the future"
            })
        );
        let twice = Command::Dispatch {
            lead_unit: 1,
            co_units: vec![1],
            deadline: at(5),
        };
        assert!(matches!(
            accepted.apply(&twice, ctx(0)),
            Err(LifecycleError::InvalidInput {
                field: "coUnits",
                ..
            })
        ));
        let registered = CaseState::registered();
        let blank = Command::Reject {
            reason: "  ".into(),
            referral: "县司法局".into(),
        };
        assert!(matches!(
            registered.apply(&blank, ctx(0)),
            Err(LifecycleError::InvalidInput {
                field: "reason",
                ..
            })
        ));
    }

    #[test]
    fn reopening_is_only_possible_within_the_window() {
        let mut state = CaseState {
            status: CaseStatus::FollowedUp,
            lead_unit: Some(3),
            ..CaseState::registered()
        };
        state = state.apply(&Command::Close, ctx(0)).unwrap();
        let reopen = |deadline| Command::Reopen {
            reason: "当事人不满意".into(),
            deadline,
        };
        assert_eq!(
            state.apply(&reopen(at(24 * 40)), ctx(24 * 31)),
            Err(LifecycleError::ReopenWindowClosed)
        );
        let reopened = state.apply(&reopen(at(24 * 12)), ctx(24 * 10)).unwrap();
        assert_eq!(
            (reopened.status, reopened.lead_unit, reopened.closed_at),
            (CaseStatus::Dispatched, Some(3), None)
        );
    }
}
