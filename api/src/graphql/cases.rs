//! Cases: registration, the lifecycle commands, reads, the Relay connection and the timeline.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use fengqiao_domain as d;
use serde::Serialize;

use super::batches::{self, OrdersOf, PartiesOf, SummonsesOf, TimelineOf};
use super::enums::*;
use super::ids::{GlobalId, decode_id, encode_cursor, encode_id};
use super::nodes::{CaseNode, StaffNode, SummonsNode, TenantNode, UnitNode};
use super::paging::{self, Order};
use super::{caller, state};
use crate::app::AppState;
use crate::app::records::{CaseFilter, EventRecord, OrderRecord, PartyRecord};
use crate::error::{ApiError, ApiResult, personal_data_error};
use fengqiao_tenancy::Principal;

/// An exact look-up of cases by a party's ID card number or phone.
#[derive(InputObject)]
pub struct FindCasesByPartyInput {
    /// An 18-character resident ID number.
    pub id_card: Option<String>,
    /// A mobile number, or a landline with its area code.
    pub phone: Option<String>,
    /// Why the number is looked up (2 to 500 characters); kept in the audit record.
    pub reason: String,
}

impl CaseNode {
    /// Whether the caller may see this case's personal data in full.
    async fn reveals(&self, ctx: &Context<'_>) -> bool {
        match caller(ctx) {
            Ok(caller) => state(ctx).may_reveal(&caller.principal, &self.0).await,
            Err(_) => false,
        }
    }

    /// How free text typed about this case (timeline notes, supervision reasons and answers) is shown to
    /// the caller: none where the caller may reveal, else masked as the description is, with the parties'
    /// names.
    pub(super) async fn free_text_mask(&self, ctx: &Context<'_>) -> Result<Option<FreeTextMask>> {
        if self.reveals(ctx).await {
            return Ok(None);
        }
        let parties = batches::of_case(ctx, PartiesOf(self.0.id)).await?;
        Ok(Some(FreeTextMask {
            names: parties.into_iter().map(|p| p.name).collect(),
        }))
    }
}

/// Masks identity numbers, phones and the parties' names in free text (`mask_free_text`).
pub(super) struct FreeTextMask {
    names: Vec<String>,
}

impl FreeTextMask {
    pub(super) fn text(&self, text: &str) -> String {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        d::mask_free_text(text, &names)
    }

    /// Every string in a command's details.
    fn json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = self.text(text),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.json(v)),
            _ => {}
        }
    }
}

#[Object(name = "Case")]
impl CaseNode {
    pub async fn id(&self) -> ID {
        encode_id(GlobalId::Case, self.0.id)
    }

    /// The case code, kept for life: county code, registration date, sequence.
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn kind(&self) -> CaseKind {
        self.0.kind.into()
    }

    async fn channel(&self) -> Channel {
        self.0.channel.into()
    }

    async fn category(&self) -> Category {
        self.0.category.into()
    }

    async fn status(&self) -> CaseStatus {
        self.0.state.status.into()
    }

    async fn tier(&self) -> Tier {
        self.0.state.tier.into()
    }

    /// In full for who may reveal the case's personal data (`case.reveal_personal_data`); for anyone
    /// else with the parties' names, ID numbers and phones in it masked (`张*国`, `110105********002X`,
    /// `138****5678`).
    async fn title(&self, ctx: &Context<'_>) -> &str {
        if self.reveals(ctx).await {
            &self.0.title
        } else {
            &self.0.title_masked
        }
    }

    /// Masked as `title` is.
    async fn description(&self, ctx: &Context<'_>) -> &str {
        if self.reveals(ctx).await {
            &self.0.description
        } else {
            &self.0.description_masked
        }
    }

    async fn place(&self) -> &str {
        &self.0.place
    }

    async fn registered_at(&self) -> DateTime<Utc> {
        self.0.registered_at
    }

    async fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.0.accepted_at
    }

    /// How involved the case is; it sets the legal time limits.
    async fn complexity(&self) -> Complexity {
        self.0.complexity.into()
    }

    /// The last day (China time) to accept or decline the case, on the working-day calendar.
    async fn accept_by(&self) -> Option<NaiveDate> {
        self.0.clocks.accept_by
    }

    /// The last day to conclude the case, once accepted.
    async fn conclude_by(&self) -> Option<NaiveDate> {
        self.0.clocks.conclude_by
    }

    /// The last day to follow up with the resident, once concluded.
    async fn follow_up_by(&self) -> Option<NaiveDate> {
        self.0.clocks.follow_up_by
    }

    /// The leader who owns a leader case (领导包案).
    async fn leader(&self, ctx: &Context<'_>) -> Result<Option<StaffNode>> {
        let Some(id) = self.0.state.leader else {
            return Ok(None);
        };
        batches::staff(ctx, id).await
    }

    /// The level of the center where the case was resolved.
    async fn resolved_level(&self) -> Option<TenantLevel> {
        self.0.resolved_level.map(Into::into)
    }

    /// The risk grade (预警) and the reasons for it, recomputed on every event.
    async fn risk(&self) -> RiskNode {
        RiskNode {
            level: self.0.risk.level.into(),
            reasons: self.0.risk.reasons.clone(),
        }
    }

    /// Whether a supervisor extended the conclusion deadline.
    async fn extended(&self) -> bool {
        self.0.extended
    }

    /// When the lead unit must be done.
    async fn deadline(&self) -> Option<DateTime<Utc>> {
        self.0.state.deadline
    }

    /// Past the unit's deadline or the legal clock of the stage the case is in.
    async fn overdue(&self, ctx: &Context<'_>) -> bool {
        self.0.is_overdue(state(ctx).now())
    }

    async fn outcome(&self) -> Option<Outcome> {
        self.0.state.outcome.map(Into::into)
    }

    async fn mediation_method(&self) -> Option<MediationMethod> {
        self.0.state.method.map(Into::into)
    }

    async fn satisfaction(&self) -> Option<Satisfaction> {
        self.0.state.satisfaction.map(Into::into)
    }

    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }

    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.state.closed_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Increases with every change.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The center where the case was registered.
    async fn registered_in(&self, ctx: &Context<'_>) -> Result<TenantNode> {
        let app = state(ctx);
        Ok(TenantNode(
            app.tenant_record(self.0.origin_tenant_id).await?,
        ))
    }

    /// The center handling the case now; differs from `registeredIn` after an escalation upward.
    async fn handled_by(&self, ctx: &Context<'_>) -> Result<TenantNode> {
        let app = state(ctx);
        Ok(TenantNode(app.tenant_record(self.0.tenant_id).await?))
    }

    /// The first-contact clerk (首问负责制), who registered the case.
    async fn registered_by(&self, ctx: &Context<'_>) -> Result<Option<StaffNode>> {
        batches::staff(ctx, self.0.registered_by).await
    }

    async fn lead_unit(&self, ctx: &Context<'_>) -> Result<Option<UnitNode>> {
        let Some(id) = self.0.state.lead_unit else {
            return Ok(None);
        };
        batches::unit(ctx, id).await
    }

    #[graphql(complexity = "3 * child_complexity")]
    async fn co_units(&self, ctx: &Context<'_>) -> Result<Vec<UnitNode>> {
        batches::units(ctx, &self.0.state.co_units).await
    }

    /// The parties, with names, ID numbers, phones and addresses masked. `revealParty` shows them in
    /// full to a role allowed to, with a reason, and records it on the timeline.
    #[graphql(complexity = "5 * child_complexity")]
    async fn parties(&self, ctx: &Context<'_>) -> Result<Vec<PartyNode>> {
        Ok(batches::of_case(ctx, PartiesOf(self.0.id))
            .await?
            .into_iter()
            .map(PartyNode)
            .collect())
    }

    /// Supervision orders on the case (督办), oldest first.
    #[graphql(
        complexity = "5 * child_complexity",
        deprecation = "Use supervisionOrdersConnection, which pages and counts."
    )]
    async fn supervision_orders(&self, ctx: &Context<'_>) -> Result<Vec<SupervisionOrderNode>> {
        self.orders(ctx).await
    }

    /// Supervision orders on the case (督办), oldest first, a page at a time.
    #[graphql(complexity = "paging::complexity(first, last, child_complexity)")]
    async fn supervision_orders_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 100.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<paging::Counting<SupervisionOrderNode>> {
        let window = paging::window(first, after, last, before)?;
        let orders = self.orders(ctx).await?;
        Ok(paging::of_list(
            orders,
            Order::OldestFirst,
            |o| o.0.id,
            |o| o,
            &window,
        ))
    }

    /// On-call units summoned to the case, oldest first.
    #[graphql(complexity = "5 * child_complexity")]
    async fn summonses(&self, ctx: &Context<'_>) -> Result<Vec<SummonsNode>> {
        Ok(batches::of_case(ctx, SummonsesOf(self.0.id))
            .await?
            .into_iter()
            .map(SummonsNode)
            .collect())
    }

    /// Every event of the case, oldest first: who did what, from which status to which, and when.
    #[graphql(
        complexity = "10 * child_complexity",
        deprecation = "Use timelineConnection, which pages and counts."
    )]
    async fn timeline(&self, ctx: &Context<'_>) -> Result<Vec<EventNode>> {
        self.events(ctx).await
    }

    /// The events of the case, oldest first, a page at a time: who did what, from which status to
    /// which, and when.
    #[graphql(complexity = "paging::complexity(first, last, child_complexity)")]
    async fn timeline_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 100.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<paging::Counting<EventNode>> {
        let window = paging::window(first, after, last, before)?;
        let events = self.events(ctx).await?;
        Ok(paging::of_list(
            events,
            Order::OldestFirst,
            |e| e.0.id,
            |e| e,
            &window,
        ))
    }
}

impl CaseNode {
    /// The supervision orders, their free text masked for who may not reveal.
    async fn orders(&self, ctx: &Context<'_>) -> Result<Vec<SupervisionOrderNode>> {
        let orders = batches::of_case(ctx, OrdersOf(self.0.id)).await?;
        let mask = self.free_text_mask(ctx).await?;
        Ok(orders
            .into_iter()
            .map(|order| SupervisionOrderNode::shown(order, mask.as_ref()))
            .collect())
    }

    /// The timeline, its notes and details masked for who may not reveal.
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<EventNode>> {
        let events = batches::of_case(ctx, TimelineOf(self.0.id)).await?;
        let mask = self.free_text_mask(ctx).await?;
        Ok(events
            .into_iter()
            .map(|mut event: EventRecord| {
                if let Some(mask) = &mask {
                    event.note = mask.text(&event.note);
                    mask.json(&mut event.data);
                }
                EventNode(event)
            })
            .collect())
    }
}

pub struct PartyNode(PartyRecord);

/// A party to a case.
#[Object(name = "Party")]
impl PartyNode {
    pub async fn id(&self) -> ID {
        encode_id(GlobalId::Party, self.0.id)
    }

    async fn role(&self) -> PartyRole {
        self.0.role.into()
    }

    /// Masked, e.g. `张*明`.
    async fn name(&self) -> String {
        d::mask_name(&self.0.name)
    }

    /// Masked, e.g. `110101********1234`.
    async fn id_card(&self) -> Option<&str> {
        self.0.id_card_masked.as_deref()
    }

    /// Masked, e.g. `138****5678`.
    async fn phone(&self) -> Option<&str> {
        self.0.phone_masked.as_deref()
    }

    /// Masked: only the first half is shown, e.g. `李家村****`.
    async fn address(&self) -> String {
        mask_address(&self.0.address)
    }
}

impl PartyNode {
    /// A party as `node` finds it: when the caller may read its case.
    pub(super) async fn find(app: &AppState, principal: &Principal, id: i64) -> ApiResult<Self> {
        Ok(PartyNode(app.party(principal, id).await?.1))
    }
}

/// A supervision order (督办) on a case: raised by the deadline scanner or issued by a supervising center,
/// answered by the center handling the case.
pub struct SupervisionOrderNode(OrderRecord);

impl SupervisionOrderNode {
    /// An order as `node` finds it: when the caller may read its case, masked as the case masks it.
    pub(super) async fn find(app: &AppState, principal: &Principal, id: i64) -> ApiResult<Self> {
        let (case, order) = app.supervision_order(principal, id).await?;
        let mask = if app.may_reveal(principal, &case).await {
            None
        } else {
            let names = app.parties(&case).await?.into_iter().map(|p| p.name);
            Some(FreeTextMask {
                names: names.collect(),
            })
        };
        Ok(SupervisionOrderNode::shown(order, mask.as_ref()))
    }

    /// The order as the caller sees it: its reason and answer masked by `mask`, if any.
    pub(super) fn shown(mut order: OrderRecord, mask: Option<&FreeTextMask>) -> Self {
        if let Some(mask) = mask {
            order.reason = mask.text(&order.reason);
            order.response = order.response.map(|r| mask.text(&r));
        }
        SupervisionOrderNode(order)
    }
}

#[Object(name = "SupervisionOrder")]
impl SupervisionOrderNode {
    pub async fn id(&self) -> ID {
        encode_id(GlobalId::SupervisionOrder, self.0.id)
    }

    async fn level(&self) -> SupervisionLevel {
        self.0.level.into()
    }

    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Raised by the deadline scanner rather than issued by a person.
    async fn automatic(&self) -> bool {
        self.0.issued_by.is_none()
    }

    async fn issued_by(&self, ctx: &Context<'_>) -> Result<Option<StaffNode>> {
        let Some(id) = self.0.issued_by else {
            return Ok(None);
        };
        batches::staff(ctx, id).await
    }

    /// The supervising center.
    async fn issuer(&self, ctx: &Context<'_>) -> Result<TenantNode> {
        let app = state(ctx);
        Ok(TenantNode(
            app.tenant_record(self.0.issuer_tenant_id).await?,
        ))
    }

    /// The center that must answer.
    async fn target(&self, ctx: &Context<'_>) -> Result<TenantNode> {
        let app = state(ctx);
        Ok(TenantNode(
            app.tenant_record(self.0.target_tenant_id).await?,
        ))
    }

    async fn respond_by(&self) -> NaiveDate {
        self.0.respond_by
    }

    async fn status(&self) -> SupervisionStatus {
        self.0.status.into()
    }

    async fn response(&self) -> Option<&str> {
        self.0.response.as_deref()
    }

    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.responded_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A risk grade with the rules that produced it.
#[derive(SimpleObject)]
#[graphql(name = "Risk")]
pub struct RiskNode {
    pub level: RiskLevel,
    pub reasons: Vec<String>,
}

#[derive(SimpleObject)]
pub struct SupervisionOrderPayload {
    pub order: SupervisionOrderNode,
}

/// One step of a case's timeline.
pub struct EventNode(EventRecord);

#[Object(name = "CaseEvent")]
impl EventNode {
    /// The command: register, accept, reject, dispatch, claim, return, redispatch, take_back, resolve,
    /// unresolve, escalate_tier, escalate_parent, follow_up, close, reopen, reveal_personal_data.
    async fn command(&self) -> &str {
        &self.0.command
    }

    async fn from_status(&self) -> Option<CaseStatus> {
        self.0.from_status.map(Into::into)
    }

    async fn to_status(&self) -> CaseStatus {
        self.0.to_status.into()
    }

    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<StaffNode>> {
        batches::staff(ctx, self.0.actor_id).await
    }

    /// The unit the actor acted for, if any.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<UnitNode>> {
        let Some(id) = self.0.unit_id else {
            return Ok(None);
        };
        batches::unit(ctx, id).await
    }

    /// The center that held the case when this happened.
    async fn tenant(&self, ctx: &Context<'_>) -> Result<TenantNode> {
        let app = state(ctx);
        Ok(TenantNode(app.tenant_record(self.0.tenant_id).await?))
    }

    async fn note(&self) -> &str {
        &self.0.note
    }

    /// The command's details (units, deadline, outcome, …).
    async fn data(&self) -> Json<serde_json::Value> {
        Json(self.0.data.clone())
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

#[derive(InputObject)]
pub struct CaseFilterInput {
    pub statuses: Option<Vec<CaseStatus>>,
    pub kinds: Option<Vec<CaseKind>>,
    pub categories: Option<Vec<Category>>,
    pub risks: Option<Vec<RiskLevel>>,
    /// Only cases registered in this tenant's subtree.
    pub tenant_id: Option<ID>,
    pub registered_from: Option<DateTime<Utc>>,
    pub registered_before: Option<DateTime<Utc>>,
    /// Only open cases past their deadline.
    pub overdue: Option<bool>,
}

#[derive(InputObject, Serialize)]
pub struct PartyInput {
    pub role: PartyRole,
    pub name: String,
    /// An 18-character resident ID number; stored encrypted and shown masked.
    pub id_card: Option<String>,
    /// Stored encrypted and shown masked.
    pub phone: Option<String>,
    #[graphql(default)]
    pub address: String,
}

#[derive(InputObject, Serialize)]
pub struct RegisterCaseInput {
    /// Where to register; the caller's own tenant when absent.
    pub tenant_id: Option<ID>,
    pub kind: CaseKind,
    /// Sets the legal time limits; general when absent.
    pub complexity: Option<Complexity>,
    pub channel: Channel,
    pub category: Category,
    pub title: String,
    pub description: String,
    #[graphql(default)]
    pub place: String,
    pub parties: Vec<PartyInput>,
    /// A key of the client's choosing: sending the same input with the same key again returns the case
    /// registered the first time instead of a duplicate.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct RegisterCasePayload {
    pub case: CaseNode,
    /// True when this answers a repeat of an earlier request with the same idempotency key.
    pub replayed: bool,
}

#[derive(SimpleObject)]
pub struct CasePayload {
    pub case: CaseNode,
}

/// A party's full personal data, shown after an audited reveal.
#[derive(SimpleObject)]
pub struct RevealedPartyPayload {
    pub name: String,
    pub address: String,
    pub id_card: Option<String>,
    pub phone: Option<String>,
}

#[derive(Default)]
pub struct CaseQuery;

#[Object]
impl CaseQuery {
    /// A case the caller may see; `NOT_FOUND` otherwise, whether or not it exists.
    async fn case(&self, ctx: &Context<'_>, id: ID) -> Result<CaseNode> {
        let principal = &caller(ctx)?.principal;
        let id = decode_id("id", GlobalId::Case, &id)?;
        Ok(CaseNode(state(ctx).case(principal, id).await?))
    }

    /// A case by its code.
    async fn case_by_code(&self, ctx: &Context<'_>, code: String) -> Result<CaseNode> {
        let principal = &caller(ctx)?.principal;
        d::CaseCode::parse(&code).map_err(|e| ApiError::bad_input("code", e.to_string()))?;
        Ok(CaseNode(state(ctx).case_by_code(principal, &code).await?))
    }

    /// The cases with a party whose ID card number or phone is exactly the one given (one of the two),
    /// among those on which the caller may reveal personal data, newest first (at most 200). This is a
    /// reveal: it needs a reason, every look-up is an audit record, and an account may make 20 an hour
    /// (`RATE_LIMITED` after). Full-text search (`searchCases`) does not match these numbers.
    #[graphql(complexity = "100 * child_complexity + 100")]
    async fn find_cases_by_party(
        &self,
        ctx: &Context<'_>,
        input: FindCasesByPartyInput,
    ) -> Result<Vec<CaseNode>> {
        let principal = &caller(ctx)?.principal;
        let identifier = match (input.id_card.as_deref(), input.phone.as_deref()) {
            (Some(id), None) => fengqiao_search::Identifier::IdCard(
                d::IdCard::parse(id).map_err(|e| personal_data_error("idCard", e))?,
            ),
            (None, Some(phone)) => fengqiao_search::Identifier::Phone(
                d::Phone::parse(phone).map_err(|e| personal_data_error("phone", e))?,
            ),
            _ => {
                return Err(ApiError::bad_input("idCard", "give one of idCard and phone").into());
            }
        };
        let client = ctx.data_opt::<super::ClientAddress>().and_then(|c| c.0);
        Ok(state(ctx)
            .find_cases_by_party(principal, &identifier, &input.reason, client)
            .await?
            .into_iter()
            .map(CaseNode)
            .collect())
    }

    /// The cases the caller may see, newest first: `first` (at most 100) after a cursor, or `last`
    /// before one.
    #[graphql(complexity = "paging::complexity(first, last, child_complexity)")]
    async fn cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilterInput>,
        #[graphql(desc = "At most 100.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 100.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, CaseNode, CaseCount>> {
        let principal = &caller(ctx)?.principal;
        let window = paging::window(first, after, last, before)?;
        let app = state(ctx);
        let filter = match filter {
            Some(f) => case_filter(app, principal, f).await?,
            None => CaseFilter::default(),
        };
        let page = app.cases(principal, &filter, &window).await?;
        let mut connection =
            Connection::with_additional_fields(page.has_previous, page.has_next, CaseCount(filter));
        connection.edges.extend(
            page.items
                .into_iter()
                .map(|case| Edge::new(encode_cursor(case.id), CaseNode(case))),
        );
        Ok(connection)
    }
}

/// The count of a case list, read only when asked for.
pub struct CaseCount(CaseFilter);

#[Object]
impl CaseCount {
    /// How many cases the whole list holds (the caller's, with the filter), on every page alike. A count
    /// query of its own: at most 5 in one request (`BAD_USER_INPUT` past them).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let principal = &caller(ctx)?.principal;
        // Entry points give every request a budget; a request without one (the server's own) is not
        // limited.
        if ctx
            .data_opt::<super::CountBudget>()
            .is_some_and(|budget| !budget.take())
        {
            return Err(ApiError::bad_input(
                "totalCount",
                format!(
                    "at most {} case counts in one request",
                    super::CountBudget::PER_REQUEST
                ),
            )
            .into());
        }
        Ok(state(ctx).count_cases(principal, &self.0).await?)
    }
}

async fn case_filter(
    app: &crate::app::AppState,
    principal: &fengqiao_tenancy::Principal,
    f: CaseFilterInput,
) -> Result<CaseFilter, ApiError> {
    let subtree = match f.tenant_id {
        Some(id) => {
            let id = decode_id("filter.tenantId", GlobalId::Tenant, &id)?;
            // A tenant the caller may not see is NOT_FOUND, whether or not it exists.
            let tenant = app.tenant(principal, id).await?;
            Some((tenant.level, tenant.id))
        }
        None => None,
    };
    if let (Some(from), Some(before)) = (f.registered_from, f.registered_before)
        && from >= before
    {
        return Err(ApiError::bad_input(
            "filter.registeredBefore",
            "must be after registeredFrom",
        ));
    }
    Ok(CaseFilter {
        risks: f
            .risks
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
        statuses: f
            .statuses
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
        kinds: f
            .kinds
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
        categories: f
            .categories
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
        subtree,
        registered_from: f.registered_from,
        registered_before: f.registered_before,
        overdue_at: f.overdue.unwrap_or(false).then(|| app.now()),
    })
}

/// The first half of an address (the village or street), the rest starred.
pub fn mask_address(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    let shown = chars.len() / 2;
    let mut masked: String = chars[..shown].iter().collect();
    masked.push_str(&"*".repeat(chars.len() - shown));
    masked
}

#[cfg(test)]
mod tests {
    use super::mask_address;
    use fengqiao_domain::mask_name;

    #[test]
    fn names_keep_only_their_first_and_last_characters() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳明月"), "欧**月");
        assert_eq!(mask_name("李"), "*");
    }

    #[test]
    fn addresses_keep_only_their_first_half() {
        assert_eq!(mask_address("李家村3组12号"), "李家村3****");
        assert_eq!(mask_address(""), "");
    }
}
