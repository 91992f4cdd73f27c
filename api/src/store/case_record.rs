//! A case as the store hands it out, and how a stored row becomes one.
//!
//! Kept apart from `cases.rs` (which writes cases) because the rollups and the search outbox read case
//! records too, and `cases.rs` calls both when it commits a change: with the record here, every arrow
//! points down.

use chrono::{DateTime, NaiveDate, Utc};
use fengqiao_domain::clocks::Complexity;
use fengqiao_domain::code::china_date;
use fengqiao_domain::risk::{RiskGrade, RiskLevel};
use fengqiao_domain::{
    Ancestry, CaseKind, CaseState, CaseStatus, Category, Channel, MediationMethod, Outcome,
    Satisfaction, TenantLevel, Tier,
};

use super::entities::case;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub id: i64,
    pub code: String,
    /// The ancestry of the tenant where the case was registered.
    pub origin: Ancestry,
    pub origin_tenant_id: i64,
    /// The center handling the case now.
    pub tenant_id: i64,
    pub kind: CaseKind,
    pub channel: Channel,
    pub category: Category,
    pub state: CaseState,
    pub title: String,
    pub description: String,
    /// The title and description with the parties' names, ID numbers and phones masked: what a role
    /// that may not reveal personal data sees, and what the search index holds.
    pub title_masked: String,
    pub description_masked: String,
    pub place: String,
    pub registered_by: i64,
    pub registered_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub rejected_at: Option<DateTime<Utc>>,
    /// When the case was concluded (resolved or unresolved), while it stands concluded.
    pub resolved_at: Option<DateTime<Utc>>,
    pub followed_up_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub complexity: Complexity,
    pub clocks: LegalClocks,
    /// Whether the conclusion deadline was extended (once, with a supervisor's approval).
    pub extended: bool,
    /// The level of the center where the case was resolved.
    pub resolved_level: Option<TenantLevel>,
    pub risk: RiskGrade,
    /// Marked past a deadline, by the deadline scanner or by the last change (what the overdue gauge of
    /// the rollups counts); `is_overdue` answers for any moment.
    pub marked_overdue: bool,
}

/// A case's legal deadlines, as dates in China: each is met by the end of its day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegalClocks {
    pub accept_by: Option<NaiveDate>,
    pub conclude_by: Option<NaiveDate>,
    pub follow_up_by: Option<NaiveDate>,
}

/// Statuses in which the conclusion clock runs.
pub(super) const CONCLUDING: [CaseStatus; 4] = [
    CaseStatus::Accepted,
    CaseStatus::Dispatched,
    CaseStatus::Returned,
    CaseStatus::InProgress,
];
/// Statuses in which the follow-up clock runs.
pub(super) const FOLLOWING_UP: [CaseStatus; 2] = [CaseStatus::Resolved, CaseStatus::Unresolved];

impl CaseRecord {
    /// Past a deadline that applies to where the case stands: the unit's dispatch deadline, or the legal
    /// clock of the current stage (accepting, concluding, following up).
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        let today = china_date(now);
        let status = self.state.status;
        let past = |day: Option<NaiveDate>| day.is_some_and(|d| d < today);
        (status.is_open() && self.state.deadline.is_some_and(|due| due < now))
            || (status == CaseStatus::Registered && past(self.clocks.accept_by))
            || (CONCLUDING.contains(&status) && past(self.clocks.conclude_by))
            || (FOLLOWING_UP.contains(&status) && past(self.clocks.follow_up_by))
    }
}

pub(super) fn corrupt(what: &str, id: i64) -> ApiError {
    ApiError::internal(anyhow::anyhow!("case {id}: stored {what} is not valid"))
}

pub(super) fn parse<T>(id: i64, what: &str, text: &str, f: fn(&str) -> Option<T>) -> ApiResult<T> {
    f(text).ok_or_else(|| corrupt(what, id))
}

pub(super) fn parse_opt<T>(
    id: i64,
    what: &str,
    text: Option<&str>,
    f: fn(&str) -> Option<T>,
) -> ApiResult<Option<T>> {
    text.map(|t| parse(id, what, t, f)).transpose()
}

pub(super) fn record(m: case::Model, co_units: Vec<i64>) -> ApiResult<CaseRecord> {
    let id = m.id;
    let state = CaseState {
        status: parse(id, "status", &m.status, CaseStatus::parse)?,
        tier: parse(id, "tier", &m.tier, Tier::parse)?,
        lead_unit: m.lead_unit_id,
        co_units,
        deadline: m.due_at,
        outcome: parse_opt(id, "outcome", m.outcome.as_deref(), Outcome::parse)?,
        method: parse_opt(
            id,
            "method",
            m.mediation_method.as_deref(),
            MediationMethod::parse,
        )?,
        satisfaction: parse_opt(
            id,
            "satisfaction",
            m.satisfaction.as_deref(),
            Satisfaction::parse,
        )?,
        closed_at: m.closed_at,
        leader: m.leader_id,
    };
    Ok(CaseRecord {
        id,
        code: m.code,
        origin: Ancestry {
            county: m.county_id,
            township: m.township_id,
            village: m.village_id,
            grid: m.grid_id,
        },
        origin_tenant_id: m.origin_tenant_id,
        tenant_id: m.tenant_id,
        kind: parse(id, "kind", &m.kind, CaseKind::parse)?,
        channel: parse(id, "channel", &m.channel, Channel::parse)?,
        category: parse(id, "category", &m.category, Category::parse)?,
        state,
        // Rows from before masked text was kept get their identifiers masked here (names once
        // `fill_masked_text` has run).
        title_masked: m
            .title_masked
            .unwrap_or_else(|| fengqiao_domain::mask_free_text(&m.title, &[])),
        description_masked: m
            .description_masked
            .unwrap_or_else(|| fengqiao_domain::mask_free_text(&m.description, &[])),
        title: m.title,
        description: m.description,
        place: m.place,
        registered_by: m.registered_by,
        registered_at: m.registered_at,
        accepted_at: m.accepted_at,
        rejected_at: m.rejected_at,
        resolved_at: m.resolved_at,
        followed_up_at: m.followed_up_at,
        updated_at: m.updated_at,
        version: m.version,
        complexity: parse(id, "complexity", &m.complexity, Complexity::parse)?,
        clocks: LegalClocks {
            accept_by: m.accept_by,
            conclude_by: m.conclude_by,
            follow_up_by: m.follow_up_by,
        },
        extended: m.extended,
        resolved_level: parse_opt(
            id,
            "resolved level",
            m.resolved_level.as_deref(),
            TenantLevel::parse,
        )?,
        risk: RiskGrade {
            level: parse(id, "risk level", &m.risk_level, RiskLevel::parse)?,
            reasons: serde_json::from_str(&m.risk_reasons)
                .map_err(|_| corrupt("risk reasons", id))?,
        },
        marked_overdue: m.overdue,
    })
}
