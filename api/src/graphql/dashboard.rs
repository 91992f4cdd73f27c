//! The supervision dashboard: a tenant's rollups over a period, by category, kind, tier, resolution
//! level and child tenant, with a monthly trend and what is open and overdue now.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use fengqiao_domain::rollup::Month;

use super::enums::{CaseKind, Category, TenantLevel, Tier};
use super::ids::{GlobalId, decode_id};
use super::nodes::{TenantNode, UnitNode};
use super::{caller, state};
use crate::app::records::TenantRecord;
use crate::error::ApiError;
use crate::reports::{self, DashboardData, Figures, Pending, Period};

/// Months, written `yyyy-mm` in China time, both ends included.
#[derive(InputObject)]
pub struct PeriodInput {
    /// The first month, e.g. "2026-01".
    pub from: String,
    /// The last month; the first when absent.
    pub to: Option<String>,
}

impl PeriodInput {
    pub fn parse(&self) -> Result<Period, ApiError> {
        let month = |field: &str, text: &str| {
            Month::parse(text).ok_or_else(|| ApiError::bad_input(field, "write a month as yyyy-mm"))
        };
        let from = month("period.from", &self.from)?;
        let to = match &self.to {
            Some(to) => month("period.to", to)?,
            None => from,
        };
        Period::new(from, to)
    }
}

/// The figures of docs/DOMAIN.md for a set of cases. Rates are ratios from 0 to 1, null when nothing was
/// counted below the line.
#[derive(SimpleObject)]
#[graphql(name = "RollupFigures")]
pub struct FiguresNode {
    /// Cases registered.
    pub intake: i64,
    pub accepted: i64,
    /// Declined with a one-time notice (不予受理).
    pub rejected: i64,
    /// Concluded resolved (化解 or 基本化解); a case counts in the month of its latest conclusion.
    pub resolved: i64,
    pub unresolved: i64,
    /// 化解率: resolved ÷ (resolved + unresolved).
    pub resolution_rate: Option<f64>,
    /// Mediations concluded: agreements reached, and mediations attempted that failed.
    pub mediations_concluded: i64,
    pub mediations_succeeded: i64,
    /// 调解成功率.
    pub mediation_success_rate: Option<f64>,
    pub closed: i64,
    /// 办结率: closed ÷ accepted.
    pub closure_rate: Option<f64>,
    /// Closed cases that were concluded by their conclusion deadline.
    pub closed_on_time: i64,
    /// 按期办结率: closed on time ÷ closed.
    pub on_time_rate: Option<f64>,
    pub followed_up: i64,
    /// 满意 + 基本满意.
    pub satisfied: i64,
    /// 满意率: satisfied ÷ followed up.
    pub satisfaction_rate: Option<f64>,
    /// Open now, whatever the period.
    pub open: i64,
    /// Past a deadline now, whatever the period (as of the deadline scanner's last run, every few
    /// minutes, or the case's last change): the current stage's legal clock or the unit's deadline; cases
    /// waiting for their follow-up count once its clock has run out.
    pub overdue: i64,
}

impl From<&Figures> for FiguresNode {
    fn from(f: &Figures) -> Self {
        FiguresNode {
            intake: f.intake,
            accepted: f.accepted,
            rejected: f.rejected,
            resolved: f.resolved,
            unresolved: f.unresolved,
            resolution_rate: f.resolution_rate(),
            mediations_concluded: f.mediation_concluded,
            mediations_succeeded: f.mediation_succeeded,
            mediation_success_rate: f.mediation_success_rate(),
            closed: f.closed,
            closure_rate: f.closure_rate(),
            closed_on_time: f.closed_on_time,
            on_time_rate: f.on_time_rate(),
            followed_up: f.followed_up,
            satisfied: f.satisfied,
            satisfaction_rate: f.satisfaction_rate(),
            open: f.open,
            overdue: f.overdue,
        }
    }
}

/// Open and overdue, now.
#[derive(SimpleObject)]
#[graphql(name = "Backlog")]
pub struct BacklogNode {
    pub open: i64,
    /// Past a deadline: for cases, as `RollupFigures.overdue`; for supervision orders, the response date.
    pub overdue: i64,
}

impl From<&Pending> for BacklogNode {
    fn from(p: &Pending) -> Self {
        BacklogNode {
            open: p.open,
            overdue: p.overdue,
        }
    }
}

#[derive(SimpleObject)]
pub struct CategoryFigures {
    pub category: Category,
    pub figures: FiguresNode,
}

#[derive(SimpleObject)]
pub struct KindFigures {
    pub kind: CaseKind,
    pub figures: FiguresNode,
}

/// Conclusions by the rung of the ladder where they were reached.
#[derive(SimpleObject)]
pub struct TierFigures {
    pub tier: Tier,
    pub resolved: i64,
    pub unresolved: i64,
}

/// Resolved cases by the level of the center that resolved them.
#[derive(SimpleObject)]
pub struct ResolutionLevelShare {
    pub level: TenantLevel,
    pub resolved: i64,
    /// Of all cases resolved in the period, from 0 to 1.
    pub share: Option<f64>,
}

#[derive(SimpleObject)]
pub struct MonthFigures {
    /// `yyyy-mm`.
    pub month: String,
    pub figures: FiguresNode,
}

/// A child tenant's line; drill down with `dashboard(tenantId: <its id>)`.
pub struct ChildFigures(reports::ChildLine, Option<TenantRecord>);

#[Object]
impl ChildFigures {
    async fn tenant(&self) -> Option<TenantNode> {
        self.1.clone().map(TenantNode)
    }

    async fn figures(&self) -> FiguresNode {
        (&self.0.figures).into()
    }

    /// Cases registered in the child's subtree, open and overdue now.
    async fn cases(&self) -> BacklogNode {
        (&self.0.cases).into()
    }

    /// Supervision orders on those cases, open and past their response date now.
    async fn supervision(&self) -> BacklogNode {
        (&self.0.orders).into()
    }
}

/// Open supervision orders on the cases of one lead unit.
pub struct UnitOrders(Option<i64>, Pending);

#[Object]
impl UnitOrders {
    /// The lead unit; null for orders on cases that no unit holds (at the center), or a unit the viewer
    /// may not see.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<UnitNode>> {
        let Some(unit_id) = self.0 else {
            return Ok(None);
        };
        let principal = &caller(ctx)?.principal;
        match state(ctx).unit(principal, unit_id).await {
            Ok(unit) => Ok(Some(UnitNode(unit))),
            Err(ApiError::NotFound | ApiError::Forbidden(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn orders(&self) -> BacklogNode {
        (&self.1).into()
    }
}

pub struct DashboardNode {
    tenant: TenantRecord,
    data: DashboardData,
    children: Vec<Option<TenantRecord>>,
}

#[Object(name = "Dashboard")]
impl DashboardNode {
    async fn tenant(&self) -> TenantNode {
        TenantNode(self.tenant.clone())
    }

    /// The first month of the period (`yyyy-mm`).
    async fn from(&self) -> String {
        self.data.months().0.to_string()
    }

    /// The last month of the period (`yyyy-mm`).
    async fn to(&self) -> String {
        self.data.months().1.to_string()
    }

    /// When the figures were computed; `cases` and `supervision` are counted at this moment. A dashboard is
    /// recomputed after any change in the county, and at least every minute.
    async fn as_of(&self) -> DateTime<Utc> {
        self.data.as_of
    }

    /// Cases registered in this tenant's subtree, each counted once.
    async fn totals(&self) -> FiguresNode {
        (&self.data.totals).into()
    }

    async fn by_category(&self) -> Vec<CategoryFigures> {
        self.data
            .by_category
            .iter()
            .filter_map(|(k, f)| {
                Some(CategoryFigures {
                    category: fengqiao_domain::Category::parse(k)?.into(),
                    figures: f.into(),
                })
            })
            .collect()
    }

    async fn by_kind(&self) -> Vec<KindFigures> {
        self.data
            .by_kind
            .iter()
            .filter_map(|(k, f)| {
                Some(KindFigures {
                    kind: fengqiao_domain::CaseKind::parse(k)?.into(),
                    figures: f.into(),
                })
            })
            .collect()
    }

    async fn by_tier(&self) -> Vec<TierFigures> {
        self.data
            .by_tier
            .iter()
            .filter_map(|(k, f)| {
                Some(TierFigures {
                    tier: fengqiao_domain::Tier::parse(k)?.into(),
                    resolved: f.resolved,
                    unresolved: f.unresolved,
                })
            })
            .collect()
    }

    /// Where resolved cases were resolved: village, township or county.
    async fn resolution_levels(&self) -> Vec<ResolutionLevelShare> {
        let total = self.data.totals.resolved;
        self.data
            .by_level
            .iter()
            .filter_map(|(k, f)| {
                Some(ResolutionLevelShare {
                    level: fengqiao_domain::TenantLevel::parse(k)?.into(),
                    resolved: f.resolved,
                    share: fengqiao_domain::rollup::rate(f.resolved, total),
                })
            })
            .collect()
    }

    /// Each child tenant (township of a county, village of a township), in code order.
    async fn by_child(&self) -> Vec<ChildFigures> {
        self.data
            .children
            .iter()
            .zip(&self.children)
            .map(|(line, tenant)| ChildFigures(line.clone(), tenant.clone()))
            .collect()
    }

    /// Cases registered in this subtree, open and overdue now.
    async fn cases(&self) -> BacklogNode {
        (&self.data.cases).into()
    }

    /// Supervision orders on cases of this subtree, open and past their response date now.
    async fn supervision(&self) -> BacklogNode {
        (&self.data.orders).into()
    }

    /// Open supervision orders by the lead unit of their case.
    async fn supervision_by_unit(&self) -> Vec<UnitOrders> {
        self.data
            .orders_by_unit
            .iter()
            .map(|(unit, p)| UnitOrders(*unit, *p))
            .collect()
    }

    /// The twelve months ending with the period's last month.
    async fn trend(&self) -> Vec<MonthFigures> {
        self.data
            .trend
            .iter()
            .filter_map(|(m, f)| {
                Some(MonthFigures {
                    month: Month::from_number(*m)?.to_string(),
                    figures: f.into(),
                })
            })
            .collect()
    }
}

#[derive(Default)]
pub struct DashboardQuery;

#[Object]
impl DashboardQuery {
    /// A center's rollups over a period (needs `rollup.read`: center directors, supervisors, auditors).
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        period: PeriodInput,
    ) -> Result<DashboardNode> {
        let principal = &caller(ctx)?.principal;
        let tenant_id = decode_id("tenantId", GlobalId::Tenant, &tenant_id)?;
        let period = period.parse()?;
        let app = state(ctx);
        let (tenant, data) = app.dashboard(principal, tenant_id, period).await?;
        let mut children = Vec::with_capacity(data.children.len());
        for line in &data.children {
            children.push(app.can_see_tenant(principal, line.tenant_id).await?);
        }
        Ok(DashboardNode {
            tenant,
            data,
            children,
        })
    }
}
