//! The case's mutations: registration and each step of the closed loop, supervision orders, the deadline
//! extension and the audited reveal. Each takes one `input`; the separate arguments of the old shape
//! are deprecated and still read (`inputs.rs`).

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use fengqiao_domain::{Command, EscalationTarget as DomainTarget, ReturnDecision};

use super::cases::{
    CasePayload, RegisterCaseInput, RegisterCasePayload, RevealedPartyPayload,
    SupervisionOrderNode, SupervisionOrderPayload,
};
use super::enums::*;
use super::ids::{GlobalId, decode_id};
use super::inputs::{input_or_arguments, required};
use super::nodes::CaseNode;
use super::{caller, state};
use crate::app::Registration;
use crate::app::party_from_input;
use crate::app::records::{Idempotency, NewCase};
use crate::error::{ApiError, clean_text};

#[derive(InputObject)]
pub struct AcceptCaseInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct ClaimCaseInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct CloseCaseInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct RejectCaseInput {
    pub id: ID,
    pub reason: String,
    /// Where the resident should go instead (一次性告知).
    pub referral: String,
}

#[derive(InputObject)]
pub struct DispatchCaseInput {
    pub id: ID,
    pub lead_unit_id: ID,
    #[graphql(default)]
    pub co_unit_ids: Vec<ID>,
    pub deadline: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct ReturnCaseInput {
    pub id: ID,
    pub reason: String,
}

#[derive(InputObject)]
pub struct ReviewReturnInput {
    pub id: ID,
    pub decision: ReturnReview,
    /// Required to redispatch.
    pub lead_unit_id: Option<ID>,
    #[graphql(default)]
    pub co_unit_ids: Vec<ID>,
    /// Required to redispatch.
    pub deadline: Option<DateTime<Utc>>,
    #[graphql(default)]
    pub note: String,
}

#[derive(InputObject)]
pub struct ResolveCaseInput {
    pub id: ID,
    pub outcome: Outcome,
    pub method: MediationMethod,
    #[graphql(default)]
    pub note: String,
}

#[derive(InputObject)]
pub struct UnresolveCaseInput {
    pub id: ID,
    pub reason: String,
    /// The mediation that was attempted and failed, if the case was mediated; it counts against the
    /// mediation success rate.
    pub attempted: Option<MediationMethod>,
}

#[derive(InputObject)]
pub struct EscalateCaseInput {
    pub id: ID,
    pub target: EscalationTarget,
    #[graphql(default)]
    pub note: String,
    /// The leader who owns the case; required when it becomes a leader case (领导包案).
    pub leader_id: Option<ID>,
}

#[derive(InputObject)]
pub struct FollowUpCaseInput {
    pub id: ID,
    pub satisfaction: Satisfaction,
    #[graphql(default)]
    pub note: String,
}

#[derive(InputObject)]
pub struct ReopenCaseInput {
    pub id: ID,
    pub reason: String,
    pub deadline: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct IssueSupervisionOrderInput {
    pub case_id: ID,
    pub level: SupervisionLevel,
    pub reason: String,
    /// Three working days from now when absent.
    pub respond_by: Option<NaiveDate>,
}

#[derive(InputObject)]
pub struct RespondToSupervisionInput {
    pub order_id: ID,
    pub response: String,
}

#[derive(InputObject)]
pub struct ExtendCaseDeadlineInput {
    pub id: ID,
    pub reason: String,
}

#[derive(InputObject)]
pub struct RevealPartyInput {
    pub case_id: ID,
    pub party_id: ID,
    pub reason: String,
}

#[derive(Default)]
pub struct CaseMutation;

impl CaseMutation {
    async fn run(&self, ctx: &Context<'_>, id: &ID, command: Command) -> Result<CasePayload> {
        let principal = &caller(ctx)?.principal;
        let id = decode_id("id", GlobalId::Case, id)?;
        Ok(CasePayload {
            case: CaseNode(state(ctx).transition(principal, id, command).await?),
        })
    }

    /// A step that names the case alone: the id of its `input`, or the deprecated `id`.
    async fn step(
        &self,
        ctx: &Context<'_>,
        input: Option<ID>,
        id: Option<ID>,
        command: Command,
    ) -> Result<CasePayload> {
        let any = id.is_some();
        let id = input_or_arguments(input, any, || required("id", id))?;
        self.run(ctx, &id, command).await
    }
}

#[Object]
impl CaseMutation {
    /// Registers what a resident brought (受理登记). Send an idempotency key to make retries safe.
    async fn register_case(
        &self,
        ctx: &Context<'_>,
        input: RegisterCaseInput,
    ) -> Result<RegisterCasePayload> {
        let principal = &caller(ctx)?.principal;
        let app = state(ctx);
        let title = clean_text("title", &input.title, 1, 200, false)?;
        let description = clean_text("description", &input.description, 1, 5000, true)?;
        let place = clean_text("place", &input.place, 0, 200, false)?;
        if input.parties.is_empty() || input.parties.len() > 20 {
            return Err(ApiError::bad_input("parties", "name 1 to 20 parties").into());
        }
        let idempotency = match &input.idempotency_key {
            Some(key) => {
                let key = clean_text("idempotencyKey", key, 1, 128, false)?;
                let canonical = serde_json::to_string(&input).map_err(ApiError::internal)?;
                Some(Idempotency {
                    key,
                    request_hash: app.vault.lookup_hash(&canonical),
                })
            }
            None => None,
        };
        let tenant_id = input
            .tenant_id
            .as_ref()
            .map(|id| decode_id("tenantId", GlobalId::Tenant, id))
            .transpose()?;
        let mut parties = Vec::with_capacity(input.parties.len());
        for (i, p) in input.parties.iter().enumerate() {
            parties.push(party_from_input(
                i,
                p.role.into(),
                &p.name,
                p.id_card.as_deref(),
                p.phone.as_deref(),
                &p.address,
            )?);
        }
        let case = NewCase {
            kind: input.kind.into(),
            complexity: input.complexity.unwrap_or(Complexity::General).into(),
            channel: input.channel.into(),
            category: input.category.into(),
            title,
            description,
            place,
            parties,
            idempotency,
        };
        let (case, replayed) = app
            .register_case(principal, Registration { tenant_id, case })
            .await?;
        Ok(RegisterCasePayload {
            case: CaseNode(case),
            replayed,
        })
    }

    /// Accepts a registered case (审核受理).
    async fn accept_case(
        &self,
        ctx: &Context<'_>,
        input: Option<AcceptCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
    ) -> Result<CasePayload> {
        self.step(ctx, input.map(|i| i.id), id, Command::Accept)
            .await
    }

    /// Declines a registered case with the reason and where the resident should go instead (一次性告知).
    async fn reject_case(
        &self,
        ctx: &Context<'_>,
        input: Option<RejectCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] reason: Option<String>,
        #[graphql(deprecation = "Use input.")] referral: Option<String>,
    ) -> Result<CasePayload> {
        let any = id.is_some() || reason.is_some() || referral.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(RejectCaseInput {
                id: required("id", id)?,
                reason: required("reason", reason)?,
                referral: required("referral", referral)?,
            })
        })?;
        let command = Command::Reject {
            reason: input.reason,
            referral: input.referral,
        };
        self.run(ctx, &input.id, command).await
    }

    /// Hands an accepted case to a lead unit, with co-units and a deadline (分流交办).
    async fn dispatch_case(
        &self,
        ctx: &Context<'_>,
        input: Option<DispatchCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] lead_unit_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] co_unit_ids: Option<Vec<ID>>,
        #[graphql(deprecation = "Use input.")] deadline: Option<DateTime<Utc>>,
    ) -> Result<CasePayload> {
        let any =
            id.is_some() || lead_unit_id.is_some() || co_unit_ids.is_some() || deadline.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(DispatchCaseInput {
                id: required("id", id)?,
                lead_unit_id: required("leadUnitId", lead_unit_id)?,
                co_unit_ids: co_unit_ids.unwrap_or_default(),
                deadline: required("deadline", deadline)?,
            })
        })?;
        let command = Command::Dispatch {
            lead_unit: decode_id("leadUnitId", GlobalId::Unit, &input.lead_unit_id)?,
            co_units: unit_ids("coUnitIds", &input.co_unit_ids)?,
            deadline: input.deadline,
        };
        self.run(ctx, &input.id, command).await
    }

    /// The lead unit takes the case on (签收).
    async fn claim_case(
        &self,
        ctx: &Context<'_>,
        input: Option<ClaimCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
    ) -> Result<CasePayload> {
        self.step(ctx, input.map(|i| i.id), id, Command::Claim)
            .await
    }

    /// The lead unit sends the case back, saying why (退单).
    async fn return_case(
        &self,
        ctx: &Context<'_>,
        input: Option<ReturnCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] reason: Option<String>,
    ) -> Result<CasePayload> {
        let any = id.is_some() || reason.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(ReturnCaseInput {
                id: required("id", id)?,
                reason: required("reason", reason)?,
            })
        })?;
        let command = Command::Return {
            reason: input.reason,
        };
        self.run(ctx, &input.id, command).await
    }

    /// Decides on a returned case: redispatch it (with units and a deadline) or take it back (异议审核).
    #[allow(clippy::too_many_arguments)]
    async fn review_return(
        &self,
        ctx: &Context<'_>,
        input: Option<ReviewReturnInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] decision: Option<ReturnReview>,
        #[graphql(deprecation = "Use input.")] lead_unit_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] co_unit_ids: Option<Vec<ID>>,
        #[graphql(deprecation = "Use input.")] deadline: Option<DateTime<Utc>>,
        #[graphql(deprecation = "Use input.")] note: Option<String>,
    ) -> Result<CasePayload> {
        let any = id.is_some()
            || decision.is_some()
            || lead_unit_id.is_some()
            || co_unit_ids.is_some()
            || deadline.is_some()
            || note.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(ReviewReturnInput {
                id: required("id", id)?,
                decision: required("decision", decision)?,
                lead_unit_id,
                co_unit_ids: co_unit_ids.unwrap_or_default(),
                deadline,
                note: note.unwrap_or_default(),
            })
        })?;
        let decision = match input.decision {
            ReturnReview::TakeBack => ReturnDecision::TakeBack { note: input.note },
            ReturnReview::Redispatch => {
                let lead = input.lead_unit_id.ok_or_else(|| {
                    ApiError::bad_input("leadUnitId", "a redispatch names the lead unit")
                })?;
                let deadline = input.deadline.ok_or_else(|| {
                    ApiError::bad_input("deadline", "a redispatch sets a deadline")
                })?;
                ReturnDecision::Redispatch {
                    lead_unit: decode_id("leadUnitId", GlobalId::Unit, &lead)?,
                    co_units: unit_ids("coUnitIds", &input.co_unit_ids)?,
                    deadline,
                }
            }
        };
        self.run(ctx, &input.id, Command::ReviewReturn(decision))
            .await
    }

    /// Records that the case was resolved, and how (化解).
    async fn resolve_case(
        &self,
        ctx: &Context<'_>,
        input: Option<ResolveCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] outcome: Option<Outcome>,
        #[graphql(deprecation = "Use input.")] method: Option<MediationMethod>,
        #[graphql(deprecation = "Use input.")] note: Option<String>,
    ) -> Result<CasePayload> {
        let any = id.is_some() || outcome.is_some() || method.is_some() || note.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(ResolveCaseInput {
                id: required("id", id)?,
                outcome: required("outcome", outcome)?,
                method: required("method", method)?,
                note: note.unwrap_or_default(),
            })
        })?;
        let command = Command::Resolve {
            outcome: input.outcome.into(),
            method: input.method.into(),
            note: input.note,
        };
        self.run(ctx, &input.id, command).await
    }

    /// Records that handling failed to resolve the case (未化解).
    async fn unresolve_case(
        &self,
        ctx: &Context<'_>,
        input: Option<UnresolveCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] reason: Option<String>,
        #[graphql(deprecation = "Use input.")] attempted: Option<MediationMethod>,
    ) -> Result<CasePayload> {
        let any = id.is_some() || reason.is_some() || attempted.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(UnresolveCaseInput {
                id: required("id", id)?,
                reason: required("reason", reason)?,
                attempted,
            })
        })?;
        let command = Command::Unresolve {
            reason: input.reason,
            attempted: input.attempted.map(Into::into),
        };
        self.run(ctx, &input.id, command).await
    }

    /// Moves the case up the ladder, or hands it to the parent tenant's center with the same code (逐级上报).
    async fn escalate_case(
        &self,
        ctx: &Context<'_>,
        input: Option<EscalateCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] target: Option<EscalationTarget>,
        #[graphql(deprecation = "Use input.")] note: Option<String>,
        #[graphql(deprecation = "Use input.")] leader_id: Option<ID>,
    ) -> Result<CasePayload> {
        let any = id.is_some() || target.is_some() || note.is_some() || leader_id.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(EscalateCaseInput {
                id: required("id", id)?,
                target: required("target", target)?,
                note: note.unwrap_or_default(),
                leader_id,
            })
        })?;
        let target = match input.target {
            EscalationTarget::NextTier => DomainTarget::NextTier,
            EscalationTarget::ParentTenant => DomainTarget::ParentTenant,
        };
        let leader = input
            .leader_id
            .as_ref()
            .map(|id| decode_id("leaderId", GlobalId::User, id))
            .transpose()?;
        let command = Command::Escalate {
            target,
            note: input.note,
            leader,
        };
        self.run(ctx, &input.id, command).await
    }

    /// Records the call-back to the resident and their satisfaction (回访).
    async fn follow_up_case(
        &self,
        ctx: &Context<'_>,
        input: Option<FollowUpCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] satisfaction: Option<Satisfaction>,
        #[graphql(deprecation = "Use input.")] note: Option<String>,
    ) -> Result<CasePayload> {
        let any = id.is_some() || satisfaction.is_some() || note.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(FollowUpCaseInput {
                id: required("id", id)?,
                satisfaction: required("satisfaction", satisfaction)?,
                note: note.unwrap_or_default(),
            })
        })?;
        let command = Command::FollowUp {
            satisfaction: input.satisfaction.into(),
            note: input.note,
        };
        self.run(ctx, &input.id, command).await
    }

    /// Closes a followed-up case (办结).
    async fn close_case(
        &self,
        ctx: &Context<'_>,
        input: Option<CloseCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
    ) -> Result<CasePayload> {
        self.step(ctx, input.map(|i| i.id), id, Command::Close)
            .await
    }

    /// Reopens a closed case to its lead unit, within 30 days of closing.
    async fn reopen_case(
        &self,
        ctx: &Context<'_>,
        input: Option<ReopenCaseInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] reason: Option<String>,
        #[graphql(deprecation = "Use input.")] deadline: Option<DateTime<Utc>>,
    ) -> Result<CasePayload> {
        let any = id.is_some() || reason.is_some() || deadline.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(ReopenCaseInput {
                id: required("id", id)?,
                reason: required("reason", reason)?,
                deadline: required("deadline", deadline)?,
            })
        })?;
        let command = Command::Reopen {
            reason: input.reason,
            deadline: input.deadline,
        };
        self.run(ctx, &input.id, command).await
    }

    /// Issues a supervision order (督办) on a case handled by a center below the caller's. The handling
    /// center must answer by `respondBy` (three working days when absent).
    async fn issue_supervision_order(
        &self,
        ctx: &Context<'_>,
        input: Option<IssueSupervisionOrderInput>,
        #[graphql(deprecation = "Use input.")] case_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] level: Option<SupervisionLevel>,
        #[graphql(deprecation = "Use input.")] reason: Option<String>,
        #[graphql(deprecation = "Use input.")] respond_by: Option<NaiveDate>,
    ) -> Result<SupervisionOrderPayload> {
        let any = case_id.is_some() || level.is_some() || reason.is_some() || respond_by.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(IssueSupervisionOrderInput {
                case_id: required("caseId", case_id)?,
                level: required("level", level)?,
                reason: required("reason", reason)?,
                respond_by,
            })
        })?;
        let principal = &caller(ctx)?.principal;
        let case_id = decode_id("caseId", GlobalId::Case, &input.case_id)?;
        let order = state(ctx)
            .issue_supervision(
                principal,
                case_id,
                input.level.into(),
                &input.reason,
                input.respond_by,
            )
            .await?;
        Ok(SupervisionOrderPayload {
            order: SupervisionOrderNode::shown(order, None),
        })
    }

    /// Answers a supervision order on one of the caller's center's cases.
    async fn respond_to_supervision(
        &self,
        ctx: &Context<'_>,
        input: Option<RespondToSupervisionInput>,
        #[graphql(deprecation = "Use input.")] order_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] response: Option<String>,
    ) -> Result<SupervisionOrderPayload> {
        let any = order_id.is_some() || response.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(RespondToSupervisionInput {
                order_id: required("orderId", order_id)?,
                response: required("response", response)?,
            })
        })?;
        let principal = &caller(ctx)?.principal;
        let order_id = decode_id("orderId", GlobalId::SupervisionOrder, &input.order_id)?;
        let app = state(ctx);
        let mut order = app
            .respond_supervision(principal, order_id, &input.response)
            .await?;
        // The order's reason was written by the supervisor: shown to the answering center as the case's
        // free text is (the answer is the caller's own).
        let case = CaseNode(app.case(principal, order.case_id).await?);
        if let Some(mask) = case.free_text_mask(ctx).await? {
            order.reason = mask.text(&order.reason);
        }
        Ok(SupervisionOrderPayload {
            order: SupervisionOrderNode::shown(order, None),
        })
    }

    /// Extends the conclusion deadline by the case's policy (e.g. 30 days for a petition), once, with a
    /// supervisor's approval and a reason recorded on the timeline.
    async fn extend_case_deadline(
        &self,
        ctx: &Context<'_>,
        input: Option<ExtendCaseDeadlineInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
        #[graphql(deprecation = "Use input.")] reason: Option<String>,
    ) -> Result<CasePayload> {
        let any = id.is_some() || reason.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(ExtendCaseDeadlineInput {
                id: required("id", id)?,
                reason: required("reason", reason)?,
            })
        })?;
        let principal = &caller(ctx)?.principal;
        let id = decode_id("id", GlobalId::Case, &input.id)?;
        Ok(CasePayload {
            case: CaseNode(
                state(ctx)
                    .extend_conclusion(principal, id, &input.reason)
                    .await?,
            ),
        })
    }

    /// Shows a party's name, address, ID number and phone in full. Needs the permission, a reason, and
    /// leaves an entry on the case's timeline.
    async fn reveal_party(
        &self,
        ctx: &Context<'_>,
        input: Option<RevealPartyInput>,
        #[graphql(deprecation = "Use input.")] case_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] party_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] reason: Option<String>,
    ) -> Result<RevealedPartyPayload> {
        let any = case_id.is_some() || party_id.is_some() || reason.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(RevealPartyInput {
                case_id: required("caseId", case_id)?,
                party_id: required("partyId", party_id)?,
                reason: required("reason", reason)?,
            })
        })?;
        let principal = &caller(ctx)?.principal;
        let case_id = decode_id("caseId", GlobalId::Case, &input.case_id)?;
        let party_id = decode_id("partyId", GlobalId::Party, &input.party_id)?;
        let revealed = state(ctx)
            .reveal_party(
                principal,
                case_id,
                party_id,
                &input.reason,
                ctx.data_opt::<super::ClientAddress>().and_then(|c| c.0),
            )
            .await?;
        Ok(RevealedPartyPayload {
            name: revealed.name,
            address: revealed.address,
            id_card: revealed.id_card,
            phone: revealed.phone,
        })
    }
}

fn unit_ids(field: &str, ids: &[ID]) -> Result<Vec<i64>, ApiError> {
    ids.iter()
        .map(|id| decode_id(field, GlobalId::Unit, id))
        .collect()
}
