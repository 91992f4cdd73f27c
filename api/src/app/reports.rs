//! Reports: the dashboard's figures, the monthly export and the check of the rollup counters against the
//! timelines.

use crate::app::AppState;
use crate::error::ApiResult;
use crate::reports::{
    ChildLine, CountyDrift, DASHBOARD_TTL, DashboardData, Figures, Pending, Period, TREND_MONTHS,
    generation_key, monthly_report_tables, to_csv, to_xlsx,
};
use crate::store::tenants::TenantRecord;
use fengqiao_domain::rollup::{Dimension, Month};
use fengqiao_domain::{CaseKind, Category, TenantLevel, Tier};
use fengqiao_tenancy::{Principal, act};
use std::collections::{BTreeMap, HashMap};

impl AppState {
    /// Invalidates the cached dashboards of a county after a change to its cases or orders. A cache that
    /// cannot be reached only costs freshness (bounded by `DASHBOARD_TTL`), never the write.
    pub async fn rollups_changed(&self, county_id: i64) {
        if let Err(e) = self.cache.incr(&generation_key(county_id)).await {
            e.log(&format!(
                "could not invalidate the cached dashboards of county {county_id}"
            ));
        }
    }

    /// The dashboard of `tenant_id` over `period`, for a principal who may read its rollups.
    pub async fn dashboard(
        &self,
        principal: &Principal,
        tenant_id: i64,
        period: Period,
    ) -> ApiResult<(TenantRecord, DashboardData)> {
        let (tenant, _permit) = self
            .permit_on_tenant::<act::RollupRead>(principal, tenant_id)
            .await?;
        let data = self.dashboard_cached(&tenant, period).await?;
        Ok((tenant, data))
    }

    async fn dashboard_cached(
        &self,
        tenant: &TenantRecord,
        period: Period,
    ) -> ApiResult<DashboardData> {
        let generation = self
            .cache
            .get(&generation_key(tenant.ancestry.county))
            .await;
        let key = generation.as_ref().ok().map(|g| {
            format!(
                "dashboard:{}:{}:{}:{}",
                tenant.id,
                period.from.number(),
                period.to.number(),
                g.as_deref().unwrap_or("0")
            )
        });
        if let Some(key) = &key
            && let Ok(Some(hit)) = self.cache.get(key).await
            && let Ok(data) = serde_json::from_str::<DashboardData>(&hit)
        {
            return Ok(data);
        }
        let data = self.compute_dashboard(tenant, period).await?;
        if let Some(key) = key {
            match serde_json::to_string(&data) {
                Ok(json) => {
                    if let Err(e) = self.cache.set(&key, &json, DASHBOARD_TTL).await {
                        e.log("could not cache a dashboard");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not serialize a dashboard"),
            }
        }
        Ok(data)
    }

    /// Computes a dashboard from the counters and the open cases and orders, without the cache.
    pub async fn compute_dashboard(
        &self,
        tenant: &TenantRecord,
        period: Period,
    ) -> ApiResult<DashboardData> {
        let now = self.now();
        let trend_from = (1..TREND_MONTHS).fold(period.to, |m, _| m.prev());
        let (counts, child_counts, trend_counts, children) = tokio::try_join!(
            self.store.rollup_counts(tenant.id, period.from, period.to),
            self.store
                .rollup_children(tenant.id, period.from, period.to),
            self.store.rollup_trend(tenant.id, trend_from, period.to),
            self.store.children(tenant.id),
        )?;
        let orders = self.store.order_backlog(tenant, now).await?;

        let mut totals = Figures::default();
        let mut by_kind: BTreeMap<CaseKind, Figures> = BTreeMap::new();
        let mut by_category: BTreeMap<Category, Figures> = BTreeMap::new();
        let mut by_tier: BTreeMap<Tier, Figures> = BTreeMap::new();
        let mut by_level: BTreeMap<TenantLevel, Figures> = BTreeMap::new();
        for c in counts.into_iter().filter(|c| c.value != 0) {
            match c.key {
                Dimension::Total => totals.add(c.metric, c.value),
                Dimension::Kind(k) => by_kind.entry(k).or_default().add(c.metric, c.value),
                Dimension::Category(k) => by_category.entry(k).or_default().add(c.metric, c.value),
                Dimension::Tier(k) => by_tier.entry(k).or_default().add(c.metric, c.value),
                Dimension::Level(k) => by_level.entry(k).or_default().add(c.metric, c.value),
            }
        }
        let mut child_figures: HashMap<i64, Figures> = HashMap::new();
        for c in child_counts {
            child_figures
                .entry(c.key)
                .or_default()
                .add(c.metric, c.value);
        }
        let mut order_by_child: HashMap<Option<i64>, Pending> = HashMap::new();
        let mut order_by_unit: BTreeMap<Option<i64>, Pending> = BTreeMap::new();
        for (child, unit, b) in orders {
            *order_by_child.entry(child).or_default() += Pending::from(b);
            *order_by_unit.entry(unit).or_default() += Pending::from(b);
        }
        let mut orders = Pending::default();
        for p in order_by_child.values() {
            orders += *p;
        }
        let children = children
            .into_iter()
            .map(|child| {
                let figures = child_figures.get(&child.id).copied().unwrap_or_default();
                ChildLine {
                    tenant_id: child.id,
                    figures,
                    cases: Pending {
                        open: figures.open,
                        overdue: figures.overdue,
                    },
                    orders: order_by_child
                        .get(&Some(child.id))
                        .copied()
                        .unwrap_or_default(),
                }
            })
            .collect();
        let mut trend: BTreeMap<Month, Figures> = trend_from
            .through(period.to)
            .map(|m| (m, Figures::default()))
            .collect();
        for c in trend_counts {
            trend.entry(c.key).or_default().add(c.metric, c.value);
        }
        Ok(DashboardData {
            tenant_id: tenant.id,
            from: period.from.number(),
            to: period.to.number(),
            as_of: now,
            totals,
            by_kind: by_kind
                .into_iter()
                .map(|(k, f)| (k.as_str().into(), f))
                .collect(),
            by_category: by_category
                .into_iter()
                .map(|(k, f)| (k.as_str().into(), f))
                .collect(),
            by_tier: by_tier
                .into_iter()
                .map(|(k, f)| (k.as_str().into(), f))
                .collect(),
            by_level: by_level
                .into_iter()
                .map(|(k, f)| (k.as_str().into(), f))
                .collect(),
            children,
            cases: Pending {
                open: totals.open,
                overdue: totals.overdue,
            },
            orders,
            orders_by_unit: order_by_unit.into_iter().collect(),
            trend: trend.into_iter().map(|(m, f)| (m.number(), f)).collect(),
        })
    }

    /// Compares every county's counters with a replay of its timeline; with `repair`, rewrites the
    /// counters of a county that drifted from the replay.
    pub async fn verify_rollups(
        &self,
        county: Option<i64>,
        repair: bool,
    ) -> ApiResult<Vec<CountyDrift>> {
        // A system job: it reads the counters and timelines of every county it checks.
        crate::store::scope::as_system(self.verify_rollups_here(county, repair)).await
    }

    async fn verify_rollups_here(
        &self,
        county: Option<i64>,
        repair: bool,
    ) -> ApiResult<Vec<CountyDrift>> {
        let counties = match county {
            Some(id) => vec![id],
            None => self.store.county_ids().await?,
        };
        let mut out = Vec::with_capacity(counties.len());
        for county_id in counties {
            let checked = self.store.check_county_rollups(county_id, repair).await?;
            let check = self.settle(checked).await;
            out.push(CountyDrift { county_id, check });
        }
        Ok(out)
    }

    /// A tenant's month as a CSV or XLSX file: (body, file extension, media type). Every export is an
    /// audit record.
    pub async fn monthly_report(
        &self,
        principal: &Principal,
        tenant_id: i64,
        month: Month,
        xlsx: bool,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<(Vec<u8>, &'static str, &'static str)> {
        let (tenant, data) = self
            .dashboard(principal, tenant_id, Period::month(month))
            .await?;
        self.store
            .append_audit(crate::store::audit::NewAuditRecord {
                at: self.now(),
                county_id: tenant.ancestry.county,
                tenant_id: Some(principal.tenant_id),
                user_id: Some(principal.user_id),
                client_address: client.map(|a| a.to_string()),
                action: "report.export",
                object: format!(
                    "monthly report {month} of tenant {} as {}",
                    tenant.id,
                    if xlsx { "xlsx" } else { "csv" }
                ),
                outcome: "allowed",
                reason: String::new(),
            })
            .await?;
        let names: HashMap<i64, String> = self
            .store
            .children(tenant.id)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let tables = monthly_report_tables(&tenant, &data, &names);
        if xlsx {
            Ok((
                to_xlsx(&tables)?,
                "xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ))
        } else {
            Ok((to_csv(&tables)?, "csv", "text/csv; charset=utf-8"))
        }
    }

    /// Builds the counters of every county that has cases but no counters (data from before the rollups).
    pub async fn build_missing_rollups(&self) -> ApiResult<()> {
        crate::store::scope::as_system(self.build_missing_rollups_here()).await
    }

    async fn build_missing_rollups_here(&self) -> ApiResult<()> {
        for county in self.store.counties_without_rollups().await? {
            tracing::info!(county, "building rollup counters from the case timelines");
            self.verify_rollups(Some(county), true).await?;
        }
        Ok(())
    }
}
