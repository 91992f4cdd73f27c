//! Cases, their parties, co-units and append-only event timeline, and idempotent registration.

use chrono::{DateTime, NaiveDate, Utc};
use fengqiao_domain::clocks::Complexity;
use fengqiao_domain::code::china_date;
use fengqiao_domain::risk::{RiskGrade, RiskLevel};
use fengqiao_domain::supervision::SupervisionStatus;
use fengqiao_domain::{
    CaseCode, CaseKind, CaseState, CaseStatus, Category, Channel, Command, IdCard, PartyRole,
    Phone, TenantLevel, Tier,
};
use fengqiao_tenancy::{CaseScope, Permit, act};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::case_record::{CONCLUDING, FOLLOWING_UP, parse, parse_opt, record};
pub use super::case_record::{CaseRecord, LegalClocks};
use super::entities::{
    case, case_co_unit, case_event, case_party, idempotency_key, supervision_order,
};
use super::tenants::TenantRecord;
use sea_orm::DatabaseTransaction;

use super::committed::{Change, Committed};
use super::{Store, is_unique_violation, rollups, search};
use crate::error::{ApiError, ApiResult};
use crate::paging::{Page, Take, Window};
use crate::pii::Vault;

/// A party as entered at registration.
#[derive(Debug, Clone)]
pub struct NewParty {
    pub role: PartyRole,
    pub name: String,
    pub id_card: Option<IdCard>,
    pub phone: Option<Phone>,
    pub address: String,
}

/// A client's idempotency key and the hash of the input it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewCase {
    pub kind: CaseKind,
    pub complexity: Complexity,
    pub channel: Channel,
    pub category: Category,
    pub title: String,
    pub description: String,
    pub place: String,
    pub parties: Vec<NewParty>,
    pub idempotency: Option<Idempotency>,
}

/// What the application worked out about a case before registering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessed {
    /// The date by which the case must be accepted or declined.
    pub accept_by: NaiveDate,
    pub risk: RiskGrade,
}

/// Appends a timeline event that leaves the case's status as it is (an extension, a reveal, a supervision
/// order and its answer). Actor 0 is the system.
pub(super) async fn record_note(
    db: &impl ConnectionTrait,
    case: &CaseRecord,
    actor: i64,
    command: &str,
    note: &str,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let status = case.state.status.as_str();
    case_event::ActiveModel {
        case_id: Set(case.id),
        county_id: Set(case.origin.county),
        tenant_id: Set(case.tenant_id),
        actor_id: Set(actor),
        unit_id: Set(None),
        command: Set(command.into()),
        from_status: Set(Some(status.into())),
        to_status: Set(status.into()),
        note: Set(note.into()),
        data: Set(data.to_string()),
        at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

fn reasons_json(risk: &RiskGrade) -> String {
    serde_json::to_string(&risk.reasons).unwrap_or_else(|_| "[]".to_owned())
}

/// The SQL form of a case filter (visibility excepted).
fn filter_condition(filter: &CaseFilter) -> Condition {
    let mut all = Condition::all();
    if !filter.statuses.is_empty() {
        all = all.add(case::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if !filter.kinds.is_empty() {
        all = all.add(case::Column::Kind.is_in(filter.kinds.iter().map(|k| k.as_str())));
    }
    if !filter.categories.is_empty() {
        all = all.add(case::Column::Category.is_in(filter.categories.iter().map(|c| c.as_str())));
    }
    if !filter.risks.is_empty() {
        all = all.add(case::Column::RiskLevel.is_in(filter.risks.iter().map(|r| r.as_str())));
    }
    if let Some((level, tenant)) = filter.subtree {
        all = all.add(level_column(level).eq(tenant));
    }
    if let Some(from) = filter.registered_from {
        all = all.add(case::Column::RegisteredAt.gte(from));
    }
    if let Some(before) = filter.registered_before {
        all = all.add(case::Column::RegisteredAt.lt(before));
    }
    if let Some(now) = filter.overdue_at {
        all = all.add(overdue_condition(now));
    }
    all
}

/// The SQL form of `CaseRecord::is_overdue`.
fn overdue_condition(now: DateTime<Utc>) -> Condition {
    let today = china_date(now);
    let names = |statuses: &[CaseStatus]| statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>();
    Condition::any()
        .add(
            Condition::all()
                .add(case::Column::Status.is_in(names(CaseStatus::OPEN)))
                .add(case::Column::DueAt.lt(now)),
        )
        .add(
            Condition::all()
                .add(case::Column::Status.eq(CaseStatus::Registered.as_str()))
                .add(case::Column::AcceptBy.lt(today)),
        )
        .add(
            Condition::all()
                .add(case::Column::Status.is_in(names(&CONCLUDING)))
                .add(case::Column::ConcludeBy.lt(today)),
        )
        .add(
            Condition::all()
                .add(case::Column::Status.is_in(names(&FOLLOWING_UP)))
                .add(case::Column::FollowUpBy.lt(today)),
        )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRecord {
    pub id: i64,
    pub case_id: i64,
    pub role: PartyRole,
    pub name: String,
    pub id_card_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub id_card_cipher: Option<String>,
    pub phone_cipher: Option<String>,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: i64,
    pub case_id: i64,
    pub tenant_id: i64,
    pub actor_id: i64,
    pub unit_id: Option<i64>,
    pub command: String,
    pub from_status: Option<CaseStatus>,
    pub to_status: CaseStatus,
    pub note: String,
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Filters of the case list. Visibility is not a filter: it comes from the principal's scope.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub statuses: Vec<CaseStatus>,
    pub kinds: Vec<CaseKind>,
    pub categories: Vec<Category>,
    pub risks: Vec<RiskLevel>,
    /// Only cases registered in this subtree.
    pub subtree: Option<(TenantLevel, i64)>,
    pub registered_from: Option<DateTime<Utc>>,
    pub registered_before: Option<DateTime<Utc>>,
    /// Only open cases past their deadline at this moment.
    pub overdue_at: Option<DateTime<Utc>>,
}

/// One transition to persist.
pub struct Transition<'a> {
    pub command: &'a Command,
    pub next: &'a CaseState,
    /// The center handling the case afterwards (differs only after an escalation to the parent).
    pub tenant_after: i64,
    pub unit_id: Option<i64>,
    pub note: &'a str,
    pub data: serde_json::Value,
    /// The legal clocks afterwards.
    pub clocks: LegalClocks,
    /// The level of the resolving center afterwards.
    pub resolved_level: Option<TenantLevel>,
    /// The risk grade afterwards.
    pub risk: RiskGrade,
}

fn level_column(level: TenantLevel) -> case::Column {
    match level {
        TenantLevel::County => case::Column::CountyId,
        TenantLevel::Township => case::Column::TownshipId,
        TenantLevel::Village => case::Column::VillageId,
        TenantLevel::Grid => case::Column::GridId,
    }
}

/// The SQL form of a principal's case scope, or `None` when it can see no case at all.
fn scope_condition(scope: &CaseScope) -> Option<Condition> {
    let mut any = Condition::any();
    let mut empty = true;
    for (level, tenant) in &scope.subtrees {
        any = any.add(level_column(*level).eq(*tenant));
        empty = false;
    }
    if !scope.units.is_empty() {
        for (level, tenant) in &scope.unit_subtrees {
            let of_units = Condition::any()
                .add(case::Column::LeadUnitId.is_in(scope.units.clone()))
                .add(
                    case::Column::Id.in_subquery(
                        Query::select()
                            .column(case_co_unit::Column::CaseId)
                            .from(case_co_unit::Entity)
                            .and_where(case_co_unit::Column::UnitId.is_in(scope.units.clone()))
                            .to_owned(),
                    ),
                );
            any = any.add(
                Condition::all()
                    .add(level_column(*level).eq(*tenant))
                    .add(of_units),
            );
            empty = false;
        }
    }
    // A summons shows a case to its unit's members only where their unit role reaches, as for
    // dispatched cases.
    if !scope.summoned_cases.is_empty() {
        for (level, tenant) in &scope.unit_subtrees {
            any = any.add(
                Condition::all()
                    .add(level_column(*level).eq(*tenant))
                    .add(case::Column::Id.is_in(scope.summoned_cases.clone())),
            );
            empty = false;
        }
    }
    if let Some(reporter) = scope.reporter {
        for (level, tenant) in &scope.report_subtrees {
            any = any.add(
                Condition::all()
                    .add(level_column(*level).eq(*tenant))
                    .add(case::Column::RegisteredBy.eq(reporter)),
            );
            empty = false;
        }
    }
    (!empty).then_some(any)
}

impl Store {
    /// Registers a case with its parties and first event, its acceptance clock and first risk grade. With an idempotency key, a repeat of the same
    /// input returns the case first registered (`true` in the pair) and other input under the same key is
    /// refused.
    pub async fn register_case(
        &self,
        permit: &Permit<act::CaseRegister>,
        origin: &TenantRecord,
        new: NewCase,
        assessed: &Assessed,
        vault: &Vault,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<(CaseRecord, bool)>> {
        if !permit.is_for(Some(origin.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit does not cover registering at {}",
                origin.id
            )));
        }
        let county = origin.ancestry.county;
        let sequence = self.codes.next(self, county).await?;
        let code = CaseCode::new(
            origin.code.county_part(),
            fengqiao_domain::code::china_date(now),
            sequence as u64,
        )
        .map_err(|e| ApiError::internal(anyhow::anyhow!("case code: {e}")))?
        .to_string();
        let mut parties = Vec::with_capacity(new.parties.len());
        for party in &new.parties {
            let encrypt = |value: &str| vault.encrypt(value).map_err(ApiError::internal);
            parties.push((
                party,
                party
                    .id_card
                    .as_ref()
                    .map(|v| encrypt(v.expose()))
                    .transpose()?,
                party
                    .phone
                    .as_ref()
                    .map(|v| encrypt(v.expose()))
                    .transpose()?,
            ));
        }

        let names: Vec<String> = parties.iter().map(|(p, _, _)| p.name.clone()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let txn = self.begin().await?;
        let row = case::ActiveModel {
            code: Set(code),
            county_id: Set(county),
            township_id: Set(origin.ancestry.township),
            village_id: Set(origin.ancestry.village),
            grid_id: Set(origin.ancestry.grid),
            origin_tenant_id: Set(origin.id),
            // A grid is no center: its village's center handles what is reported from it.
            tenant_id: Set(match origin.level {
                TenantLevel::Grid => origin.parent_id.unwrap_or(origin.id),
                _ => origin.id,
            }),
            kind: Set(new.kind.as_str().into()),
            channel: Set(new.channel.as_str().into()),
            category: Set(new.category.as_str().into()),
            status: Set(CaseStatus::Registered.as_str().into()),
            tier: Set(Tier::InitialMediation.as_str().into()),
            title_masked: Set(Some(fengqiao_domain::mask_free_text(&new.title, &names))),
            description_masked: Set(Some(fengqiao_domain::mask_free_text(
                &new.description,
                &names,
            ))),
            title: Set(new.title),
            description: Set(new.description),
            place: Set(new.place),
            registered_by: Set(permit.user_id()),
            registered_at: Set(now),
            accepted_at: Set(None),
            due_at: Set(None),
            lead_unit_id: Set(None),
            outcome: Set(None),
            mediation_method: Set(None),
            satisfaction: Set(None),
            resolved_at: Set(None),
            closed_at: Set(None),
            updated_at: Set(now),
            version: Set(1),
            complexity: Set(new.complexity.as_str().into()),
            accept_by: Set(Some(assessed.accept_by)),
            conclude_by: Set(None),
            follow_up_by: Set(None),
            extended: Set(false),
            leader_id: Set(None),
            resolved_level: Set(None),
            risk_level: Set(assessed.risk.level.as_str().into()),
            risk_reasons: Set(reasons_json(&assessed.risk)),
            rejected_at: Set(None),
            followed_up_at: Set(None),
            overdue: Set(false),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        if !parties.is_empty() {
            let models = parties
                .into_iter()
                .map(
                    |(party, id_card_cipher, phone_cipher)| case_party::ActiveModel {
                        case_id: Set(row.id),
                        county_id: Set(county),
                        role: Set(party.role.as_str().into()),
                        name: Set(party.name.clone()),
                        id_card_hash: Set(party
                            .id_card
                            .as_ref()
                            .map(|v| vault.lookup_hash(v.expose()))),
                        id_card_masked: Set(party.id_card.as_ref().map(IdCard::masked)),
                        id_card_cipher: Set(id_card_cipher),
                        phone_hash: Set(party
                            .phone
                            .as_ref()
                            .map(|v| vault.lookup_hash(v.expose()))),
                        phone_masked: Set(party.phone.as_ref().map(Phone::masked)),
                        phone_cipher: Set(phone_cipher),
                        address: Set(party.address.clone()),
                        ..Default::default()
                    },
                );
            case_party::Entity::insert_many(models).exec(&txn).await?;
        }
        case_event::ActiveModel {
            case_id: Set(row.id),
            county_id: Set(county),
            tenant_id: Set(origin.id),
            actor_id: Set(permit.user_id()),
            unit_id: Set(None),
            command: Set("register".into()),
            from_status: Set(None),
            to_status: Set(CaseStatus::Registered.as_str().into()),
            note: Set(String::new()),
            data: Set(serde_json::json!({ "channel": new.channel.as_str() }).to_string()),
            at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        if let Some(idem) = &new.idempotency {
            let inserted = idempotency_key::ActiveModel {
                user_id: Set(permit.user_id()),
                key: Set(idem.key.clone()),
                request_hash: Set(idem.request_hash.clone()),
                case_id: Set(row.id),
                county_id: Set(county),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await;
            if let Err(e) = inserted {
                txn.rollback().await?;
                if !is_unique_violation(&e) {
                    return Err(e.into());
                }
                let first = self.replay(permit.user_id(), idem).await?;
                return Ok(Committed::new((first, true), Change::Nothing));
            }
        }
        let registered = record(row, Vec::new())?;
        self.commit_case_write(txn, None, &registered, now).await?;
        Ok(Committed::new(
            (registered.clone(), false),
            Change::Registered(registered),
        ))
    }

    async fn replay(&self, user_id: i64, idem: &Idempotency) -> ApiResult<CaseRecord> {
        let first = idempotency_key::Entity::find()
            .filter(idempotency_key::Column::UserId.eq(user_id))
            .filter(idempotency_key::Column::Key.eq(idem.key.as_str()))
            .one(&self.read().await?)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("idempotency key vanished")))?;
        if first.request_hash != idem.request_hash {
            return Err(ApiError::IdempotencyConflict);
        }
        self.case(first.case_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("idempotent case vanished")))
    }

    pub async fn case(&self, id: i64) -> ApiResult<Option<CaseRecord>> {
        let Some(model) = case::Entity::find_by_id(id)
            .one(&self.read().await?)
            .await?
        else {
            return Ok(None);
        };
        let co_units = self
            .co_units(&[id])
            .await?
            .into_iter()
            .map(|(_, unit)| unit)
            .collect();
        record(model, co_units).map(Some)
    }

    /// The cases `ids` that exist, in no particular order, with their co-units: two queries.
    pub async fn cases_by_ids(&self, ids: &[i64]) -> ApiResult<Vec<CaseRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = case::Entity::find()
            .filter(case::Column::Id.is_in(ids.to_vec()))
            .all(&self.read().await?)
            .await?;
        self.records(rows).await
    }

    /// The cases (at most `limit`) with a party whose ID number or phone has this keyed hash, in the
    /// current scope.
    pub async fn cases_with_party_hash(&self, hash: &str, limit: u64) -> ApiResult<Vec<i64>> {
        let ids: Vec<i64> = case_party::Entity::find()
            .select_only()
            .column(case_party::Column::CaseId)
            .filter(
                Condition::any()
                    .add(case_party::Column::IdCardHash.eq(hash))
                    .add(case_party::Column::PhoneHash.eq(hash)),
            )
            .distinct()
            .order_by_desc(case_party::Column::CaseId)
            .limit(limit)
            .into_tuple()
            .all(&self.read().await?)
            .await?;
        Ok(ids)
    }

    /// Writes the masked title and description of up to `batch` cases that were registered before they
    /// were kept, as the system; returns how many it wrote (0 when none is left).
    pub async fn fill_masked_text(&self, batch: u64) -> ApiResult<usize> {
        let txn = self.begin().await?;
        let rows: Vec<(i64, String, String)> = case::Entity::find()
            .select_only()
            .columns([
                case::Column::Id,
                case::Column::Title,
                case::Column::Description,
            ])
            .filter(case::Column::TitleMasked.is_null())
            .limit(batch)
            .into_tuple()
            .all(&txn)
            .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let mut names: std::collections::HashMap<i64, Vec<String>> = Default::default();
        for party in case_party::Entity::find()
            .filter(case_party::Column::CaseId.is_in(ids))
            .all(&txn)
            .await?
        {
            names.entry(party.case_id).or_default().push(party.name);
        }
        for (id, title, description) in &rows {
            let of_case: Vec<&str> = names
                .get(id)
                .map(|n| n.iter().map(String::as_str).collect())
                .unwrap_or_default();
            case::Entity::update_many()
                .col_expr(
                    case::Column::TitleMasked,
                    Expr::value(fengqiao_domain::mask_free_text(title, &of_case)),
                )
                .col_expr(
                    case::Column::DescriptionMasked,
                    Expr::value(fengqiao_domain::mask_free_text(description, &of_case)),
                )
                .filter(case::Column::Id.eq(*id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(rows.len())
    }

    /// Other cases of the county registered since `since` that share a party with these keyed hashes
    /// (of ID numbers or phones).
    pub async fn cases_sharing_parties(
        &self,
        county: i64,
        hashes: &[String],
        since: DateTime<Utc>,
        except: Option<i64>,
    ) -> ApiResult<u32> {
        if hashes.is_empty() {
            return Ok(0);
        }
        let party = |c: case_party::Column| Expr::col((case_party::Entity, c));
        let mut query = Query::select();
        query
            .expr(party(case_party::Column::CaseId).count_distinct())
            .from(case_party::Entity)
            .inner_join(
                case::Entity,
                Expr::col((case::Entity, case::Column::Id))
                    .equals((case_party::Entity, case_party::Column::CaseId)),
            )
            .and_where(party(case_party::Column::CountyId).eq(county))
            .and_where(Expr::col((case::Entity, case::Column::RegisteredAt)).gte(since))
            .cond_where(
                Condition::any()
                    .add(party(case_party::Column::IdCardHash).is_in(hashes.to_vec()))
                    .add(party(case_party::Column::PhoneHash).is_in(hashes.to_vec())),
            );
        if let Some(except) = except {
            query.and_where(party(case_party::Column::CaseId).ne(except));
        }
        let row = self
            .read()
            .await?
            .query_one(&query)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("COUNT returned no row")))?;
        let n: i64 = row.try_get_by_index(0)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The keyed hashes of a case's parties' ID numbers and phones.
    pub async fn party_hashes(&self, case_id: i64) -> ApiResult<Vec<String>> {
        let rows = case_party::Entity::find()
            .filter(case_party::Column::CaseId.eq(case_id))
            .all(&self.read().await?)
            .await?;
        Ok(rows
            .into_iter()
            .flat_map(|p| p.id_card_hash.into_iter().chain(p.phone_hash))
            .collect())
    }

    /// Replaces a case's risk grade when time alone changed it (a deadline passed); a system update.
    pub async fn update_risk(
        &self,
        case: &CaseRecord,
        risk: &RiskGrade,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<()>> {
        let txn = self.begin().await?;
        case::Entity::update_many()
            .col_expr(case::Column::RiskLevel, Expr::value(risk.level.as_str()))
            .col_expr(case::Column::RiskReasons, Expr::value(reasons_json(risk)))
            .filter(case::Column::Id.eq(case.id))
            .exec(&txn)
            .await?;
        let after = CaseRecord {
            risk: risk.clone(),
            ..case.clone()
        };
        self.commit_case_write(txn, Some(case), &after, now).await?;
        Ok(Committed::new((), Change::Regraded(after)))
    }

    pub async fn case_id_by_code(&self, code: &str) -> ApiResult<Option<i64>> {
        Ok(case::Entity::find()
            .filter(case::Column::Code.eq(code))
            .one(&self.read().await?)
            .await?
            .map(|m| m.id))
    }

    async fn co_units(&self, case_ids: &[i64]) -> ApiResult<Vec<(i64, i64)>> {
        Ok(case_co_unit::Entity::find()
            .filter(case_co_unit::Column::CaseId.is_in(case_ids.to_vec()))
            .order_by_asc(case_co_unit::Column::UnitId)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(|m| (m.case_id, m.unit_id))
            .collect())
    }

    /// Persists one transition and its event, if the case is still at the version it was read at.
    pub async fn apply_transition(
        &self,
        permit: &Permit<act::Lifecycle>,
        case: &CaseRecord,
        t: Transition<'_>,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<CaseRecord>> {
        if !permit.covers(t.command, Some(case.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover case {}",
                case.id
            )));
        }
        let next = t.next;
        let to = next.status;
        let accepted_at = case
            .accepted_at
            .or((to == CaseStatus::Accepted).then_some(now));
        let resolved_at = match to {
            CaseStatus::Resolved | CaseStatus::Unresolved => Some(now),
            CaseStatus::Dispatched | CaseStatus::Accepted => None,
            _ => case.resolved_at,
        };
        let rejected_at = (to == CaseStatus::Rejected)
            .then_some(now)
            .or(case.rejected_at);
        let followed_up_at = match to {
            CaseStatus::FollowedUp => Some(now),
            CaseStatus::Closed => case.followed_up_at,
            _ => None,
        };
        let marked_overdue = CaseRecord {
            state: next.clone(),
            clocks: t.clocks,
            ..case.clone()
        }
        .is_overdue(now);
        let txn = self.begin().await?;
        let updated = case::Entity::update_many()
            .col_expr(case::Column::Status, Expr::value(to.as_str()))
            .col_expr(case::Column::Tier, Expr::value(next.tier.as_str()))
            .col_expr(case::Column::TenantId, Expr::value(t.tenant_after))
            .col_expr(case::Column::LeadUnitId, Expr::value(next.lead_unit))
            .col_expr(case::Column::DueAt, Expr::value(next.deadline))
            .col_expr(
                case::Column::Outcome,
                Expr::value(next.outcome.map(|o| o.as_str())),
            )
            .col_expr(
                case::Column::MediationMethod,
                Expr::value(next.method.map(|m| m.as_str())),
            )
            .col_expr(
                case::Column::Satisfaction,
                Expr::value(next.satisfaction.map(|s| s.as_str())),
            )
            .col_expr(case::Column::AcceptedAt, Expr::value(accepted_at))
            .col_expr(case::Column::ResolvedAt, Expr::value(resolved_at))
            .col_expr(case::Column::RejectedAt, Expr::value(rejected_at))
            .col_expr(case::Column::FollowedUpAt, Expr::value(followed_up_at))
            .col_expr(case::Column::Overdue, Expr::value(marked_overdue))
            .col_expr(case::Column::ClosedAt, Expr::value(next.closed_at))
            .col_expr(case::Column::UpdatedAt, Expr::value(now))
            .col_expr(case::Column::Version, Expr::value(case.version + 1))
            .col_expr(case::Column::AcceptBy, Expr::value(t.clocks.accept_by))
            .col_expr(case::Column::ConcludeBy, Expr::value(t.clocks.conclude_by))
            .col_expr(case::Column::FollowUpBy, Expr::value(t.clocks.follow_up_by))
            .col_expr(case::Column::LeaderId, Expr::value(next.leader))
            .col_expr(
                case::Column::ResolvedLevel,
                Expr::value(t.resolved_level.map(|l| l.as_str())),
            )
            .filter(case::Column::Id.eq(case.id))
            .filter(case::Column::Version.eq(case.version))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ApiError::Conflict(
                "the case was changed by someone else meanwhile; reload it and try again".into(),
            ));
        }
        if next.co_units != case.state.co_units {
            case_co_unit::Entity::delete_many()
                .filter(case_co_unit::Column::CaseId.eq(case.id))
                .exec(&txn)
                .await?;
            if !next.co_units.is_empty() {
                let rows = next.co_units.iter().map(|unit| case_co_unit::ActiveModel {
                    case_id: Set(case.id),
                    unit_id: Set(*unit),
                    county_id: Set(case.origin.county),
                });
                case_co_unit::Entity::insert_many(rows).exec(&txn).await?;
            }
        }
        if next.lead_unit != case.state.lead_unit {
            supervision_order::Entity::update_many()
                .col_expr(
                    supervision_order::Column::LeadUnitId,
                    Expr::value(next.lead_unit),
                )
                .filter(supervision_order::Column::CaseId.eq(case.id))
                .filter(supervision_order::Column::Status.eq(SupervisionStatus::Open.as_str()))
                .exec(&txn)
                .await?;
        }
        case_event::ActiveModel {
            case_id: Set(case.id),
            county_id: Set(case.origin.county),
            tenant_id: Set(case.tenant_id),
            actor_id: Set(permit.user_id()),
            unit_id: Set(t.unit_id),
            command: Set(t.command.name().into()),
            from_status: Set(Some(case.state.status.as_str().into())),
            to_status: Set(to.as_str().into()),
            note: Set(t.note.into()),
            data: Set(t.data.to_string()),
            at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let after = CaseRecord {
            tenant_id: t.tenant_after,
            clocks: t.clocks,
            resolved_level: t.resolved_level,
            risk: t.risk,
            state: next.clone(),
            accepted_at,
            rejected_at,
            resolved_at,
            followed_up_at,
            marked_overdue,
            updated_at: now,
            version: case.version + 1,
            ..case.clone()
        };
        self.commit_case_write(txn, Some(case), &after, now).await?;
        Ok(Committed::new(
            after.clone(),
            Change::Transitioned {
                command: t.command.clone(),
                before: case.clone(),
                after,
            },
        ))
    }

    /// A page of the cases visible in `scope` that match `filter`, newest first, cut by `window` (a
    /// keyset on the id: `last` reads the oldest end of the window upward and turns it round).
    pub async fn cases(
        &self,
        scope: &CaseScope,
        filter: &CaseFilter,
        window: &Window,
    ) -> ApiResult<Page<CaseRecord>> {
        let Some(visible) = scope_condition(scope) else {
            return Ok(Page {
                items: Vec::new(),
                has_previous: false,
                has_next: false,
            });
        };
        let mut query = case::Entity::find()
            .filter(visible)
            .filter(filter_condition(filter));
        if let Some(after) = window.after {
            query = query.filter(case::Column::Id.lt(after));
        }
        if let Some(before) = window.before {
            query = query.filter(case::Column::Id.gt(before));
        }
        let (n, query) = match window.take {
            Take::First(n) => (n, query.order_by_desc(case::Column::Id)),
            Take::Last(n) => (n, query.order_by_asc(case::Column::Id)),
        };
        let mut rows = query.limit(n + 1).all(&self.read().await?).await?;
        let more = rows.len() as u64 > n;
        rows.truncate(n as usize);
        let (has_previous, has_next) = match window.take {
            // Forwards, a cursor means the record it names (at least) lies before; backwards, after.
            Take::First(_) => (window.after.is_some(), more),
            Take::Last(_) => {
                rows.reverse();
                (more, window.before.is_some())
            }
        };
        Ok(Page {
            items: self.records(rows).await?,
            has_previous,
            has_next,
        })
    }

    /// How many cases visible in `scope` match `filter`.
    pub async fn count_cases(&self, scope: &CaseScope, filter: &CaseFilter) -> ApiResult<u64> {
        let Some(visible) = scope_condition(scope) else {
            return Ok(0);
        };
        Ok(case::Entity::find()
            .filter(visible)
            .filter(filter_condition(filter))
            .count(&self.read().await?)
            .await?)
    }

    /// Cases with ids above `after` matching `filter` in every tenant, oldest first: for system tasks
    /// such as the deadline scanner, never for answering a principal.
    pub async fn cases_for_system(
        &self,
        filter: &CaseFilter,
        after: i64,
        limit: u64,
    ) -> ApiResult<Vec<CaseRecord>> {
        let rows = case::Entity::find()
            .filter(filter_condition(filter))
            .filter(case::Column::Id.gt(after))
            .order_by_asc(case::Column::Id)
            .limit(limit)
            .all(&self.read().await?)
            .await?;
        self.records(rows).await
    }

    /// Turns rows into records, loading their co-units in one query.
    async fn records(&self, rows: Vec<case::Model>) -> ApiResult<Vec<CaseRecord>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let co = if ids.is_empty() {
            Vec::new()
        } else {
            self.co_units(&ids).await?
        };
        rows.into_iter()
            .map(|row| {
                let units = co
                    .iter()
                    .filter(|(case, _)| *case == row.id)
                    .map(|(_, unit)| *unit)
                    .collect();
                record(row, units)
            })
            .collect()
    }

    /// Extends the conclusion deadline to `to`, once per case, recording the approval and its reason on
    /// the timeline; refused as a conflict if the case changed since it was read.
    pub async fn extend_conclusion(
        &self,
        permit: &Permit<act::CaseExtend>,
        case: &CaseRecord,
        to: NaiveDate,
        reason: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<CaseRecord>> {
        if !permit.is_for(Some(case.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover extending case {}",
                case.id
            )));
        }
        let mut after = CaseRecord {
            clocks: LegalClocks {
                conclude_by: Some(to),
                ..case.clocks
            },
            extended: true,
            updated_at: now,
            version: case.version + 1,
            ..case.clone()
        };
        after.marked_overdue = after.is_overdue(now);
        let txn = self.begin().await?;
        let updated = case::Entity::update_many()
            .col_expr(case::Column::ConcludeBy, Expr::value(Some(to)))
            .col_expr(case::Column::Extended, Expr::value(true))
            .col_expr(case::Column::Overdue, Expr::value(after.marked_overdue))
            .col_expr(case::Column::UpdatedAt, Expr::value(now))
            .col_expr(case::Column::Version, Expr::value(case.version + 1))
            .filter(case::Column::Id.eq(case.id))
            .filter(case::Column::Version.eq(case.version))
            .filter(case::Column::Extended.eq(false))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ApiError::Conflict(
                "the case was changed by someone else meanwhile; reload it and try again".into(),
            ));
        }
        let data = serde_json::json!({ "from": case.clocks.conclude_by, "to": to });
        record_note(&txn, case, permit.user_id(), "extend", reason, data, now).await?;
        self.commit_case_write(txn, Some(case), &after, now).await?;
        Ok(Committed::new(after.clone(), Change::Extended(after)))
    }

    /// Marks a case that time has carried past a deadline (the deadline scanner), counting it in the
    /// overdue gauge. The version moves on, so a change racing with the mark starts again from the marked
    /// case. Says whether this call marked it.
    pub async fn mark_overdue(
        &self,
        case: &CaseRecord,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<bool>> {
        if case.marked_overdue {
            return Ok(Committed::new(false, Change::Nothing));
        }
        let txn = self.begin().await?;
        let updated = case::Entity::update_many()
            .col_expr(case::Column::Overdue, Expr::value(true))
            .col_expr(case::Column::Version, Expr::value(case.version + 1))
            .filter(case::Column::Id.eq(case.id))
            .filter(case::Column::Version.eq(case.version))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(Committed::new(false, Change::Nothing));
        }
        let after = CaseRecord {
            marked_overdue: true,
            version: case.version + 1,
            ..case.clone()
        };
        self.commit_case_write(txn, Some(case), &after, now).await?;
        Ok(Committed::new(true, Change::MarkedOverdue(after)))
    }

    /// Records on the timeline that a party's personal data was shown in full, by whom and why.
    pub async fn record_reveal(
        &self,
        permit: &Permit<act::CaseRevealPersonalData>,
        case: &CaseRecord,
        party_id: i64,
        reason: &str,
        audit: super::audit::NewAuditRecord,
    ) -> ApiResult<()> {
        let now = audit.at;
        if !permit.is_for(Some(case.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover revealing on case {}",
                case.id
            )));
        }
        let data = serde_json::json!({ "party": party_id });
        let txn = self.begin().await?;
        record_note(
            &txn,
            case,
            permit.user_id(),
            "reveal_personal_data",
            reason,
            data,
            now,
        )
        .await?;
        super::audit::append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Ends a write to a case: counts the change (from `before`, none for a new case, to `after`) in the
    /// county's rollup counters, queues the case for the search index, and commits, all in one transaction.
    /// The search worker is woken when the change is settled.
    pub(crate) async fn commit_case_write(
        &self,
        txn: DatabaseTransaction,
        before: Option<&CaseRecord>,
        after: &CaseRecord,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        search::enqueue(&txn, after.id, after.origin.county, now).await?;
        match before {
            Some(before) => rollups::bump_change(&txn, before, after).await?,
            None => {
                rollups::bump(
                    &txn,
                    after.id,
                    &after.origin,
                    None,
                    &rollups::facts_of(after),
                )
                .await?
            }
        }
        txn.commit().await?;
        Ok(())
    }

    pub async fn events(&self, case_id: i64) -> ApiResult<Vec<EventRecord>> {
        self.events_of_cases(&[case_id]).await
    }

    /// The timelines of several cases in one statement, each oldest first.
    pub async fn events_of_cases(&self, case_ids: &[i64]) -> ApiResult<Vec<EventRecord>> {
        case_event::Entity::find()
            .filter(case_event::Column::CaseId.is_in(case_ids.iter().copied()))
            .order_by_asc(case_event::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(|m| {
                Ok(EventRecord {
                    id: m.id,
                    case_id: m.case_id,
                    tenant_id: m.tenant_id,
                    actor_id: m.actor_id,
                    unit_id: m.unit_id,
                    from_status: parse_opt(
                        m.case_id,
                        "event status",
                        m.from_status.as_deref(),
                        CaseStatus::parse,
                    )?,
                    to_status: parse(m.case_id, "event status", &m.to_status, CaseStatus::parse)?,
                    command: m.command,
                    note: m.note,
                    data: serde_json::from_str(&m.data).unwrap_or(serde_json::Value::Null),
                    at: m.at,
                })
            })
            .collect()
    }

    pub async fn parties(&self, case_id: i64) -> ApiResult<Vec<PartyRecord>> {
        self.parties_of_cases(&[case_id]).await
    }

    /// The parties of several cases in one statement, in the order they were registered.
    pub async fn parties_of_cases(&self, case_ids: &[i64]) -> ApiResult<Vec<PartyRecord>> {
        case_party::Entity::find()
            .filter(case_party::Column::CaseId.is_in(case_ids.iter().copied()))
            .order_by_asc(case_party::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(party_record)
            .collect()
    }

    /// One party, by id.
    pub async fn party(&self, id: i64) -> ApiResult<Option<PartyRecord>> {
        case_party::Entity::find_by_id(id)
            .one(&self.read().await?)
            .await?
            .map(party_record)
            .transpose()
    }
}

fn party_record(m: case_party::Model) -> ApiResult<PartyRecord> {
    Ok(PartyRecord {
        id: m.id,
        case_id: m.case_id,
        role: parse(m.case_id, "party role", &m.role, PartyRole::parse)?,
        name: m.name,
        id_card_masked: m.id_card_masked,
        phone_masked: m.phone_masked,
        id_card_cipher: m.id_card_cipher,
        phone_cipher: m.phone_cipher,
        address: m.address,
    })
}
