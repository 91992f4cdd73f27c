//! Rollup counters: kept exact in the transaction of every case change, read by the dashboards, and
//! verified against a replay of the raw timeline.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use fengqiao_domain::code::china_date;
use fengqiao_domain::rollup::{
    self, CaseFacts, Conclusion, Contribution, Dimension, Happened, Metric, Month,
};
use fengqiao_domain::{Ancestry, CaseKind, CaseStatus, Category, Satisfaction, TenantLevel};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, IsolationLevel, Statement, Value};

use super::Store;
use super::case_record::CaseRecord;
use super::committed::{Change, Committed};
use super::tenants::TenantRecord;
use crate::error::{ApiError, ApiResult};

/// Counters are split over this many rows (by case id) so that one county's writers do not queue on one row.
pub const STRIPES: i64 = 8;

/// Rows per multi-row statement when counters are rewritten in bulk.
const BULK_ROWS: usize = 500;

/// A counter's identity, summed over stripes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterKey {
    pub tenant_id: i64,
    pub month: i32,
    pub dim: String,
    pub metric: String,
}

/// What a case contributes, read from its current row.
pub fn facts_of(case: &CaseRecord) -> CaseFacts {
    let status = case.state.status;
    let concluded = matches!(
        status,
        CaseStatus::Resolved | CaseStatus::Unresolved | CaseStatus::FollowedUp | CaseStatus::Closed
    );
    let conclusion = case.resolved_at.filter(|_| concluded).map(|at| {
        let on = china_date(at);
        Conclusion {
            on,
            resolved: case.state.outcome.is_some(),
            mediation: case.state.method.is_some_and(|m| m.is_mediation()),
            tier: case.state.tier,
            level: case.resolved_level.filter(|_| case.state.outcome.is_some()),
            on_time: case.clocks.conclude_by.is_none_or(|by| on <= by),
        }
    });
    let followed_up = match (case.followed_up_at, case.state.satisfaction) {
        (Some(at), Some(s)) if matches!(status, CaseStatus::FollowedUp | CaseStatus::Closed) => {
            Some((china_date(at), s))
        }
        _ => None,
    };
    CaseFacts {
        kind: case.kind,
        category: case.category,
        registered: china_date(case.registered_at),
        accepted: case.accepted_at.map(china_date),
        rejected: case.rejected_at.map(china_date),
        conclusion,
        followed_up,
        closed: case
            .state
            .closed_at
            .filter(|_| status == CaseStatus::Closed)
            .map(china_date),
        open: status.is_open(),
        overdue: case.marked_overdue,
    }
}

/// The tenants a case counts in, with their parents: its registering center and every center above.
fn chain(origin: &Ancestry) -> Vec<(i64, Option<i64>)> {
    let ids = origin.chain();
    ids.iter()
        .enumerate()
        .map(|(i, id)| (*id, i.checked_sub(1).map(|p| ids[p])))
        .collect()
}

fn numbered(backend: DatabaseBackend, sql: String) -> String {
    // SQLite numbers its parameters ?N; the text is otherwise the same on both databases.
    match backend {
        DatabaseBackend::Sqlite => sql.replace('$', "?"),
        _ => sql,
    }
}

/// One counter row to add to.
struct Row {
    tenant_id: i64,
    parent_id: Option<i64>,
    county_id: i64,
    month: i32,
    dim: String,
    metric: &'static str,
    stripe: i64,
    value: i64,
}

/// Adds to counters with one statement. Rows are sorted by key so that concurrent writers lock rows
/// in the same order and cannot deadlock.
async fn add_rows(db: &impl ConnectionTrait, mut rows: Vec<Row>) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_by(|a, b| {
        (a.tenant_id, a.month, &a.dim, a.metric, a.stripe).cmp(&(
            b.tenant_id,
            b.month,
            &b.dim,
            b.metric,
            b.stripe,
        ))
    });
    let backend = db.get_database_backend();
    let mut sql = String::from(
        "INSERT INTO rollup_counters \
         (tenant_id, parent_id, county_id, month, dim, metric, stripe, value) VALUES ",
    );
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 8);
    for (i, row) in rows.into_iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let n = i * 8;
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            n + 6,
            n + 7,
            n + 8
        ));
        values.extend([
            row.tenant_id.into(),
            row.parent_id.into(),
            row.county_id.into(),
            row.month.into(),
            row.dim.into(),
            row.metric.into(),
            (row.stripe as i16).into(),
            row.value.into(),
        ]);
    }
    sql.push_str(
        " ON CONFLICT (tenant_id, month, dim, metric, stripe) \
         DO UPDATE SET value = rollup_counters.value + excluded.value",
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        numbered(backend, sql),
        values,
    ))
    .await?;
    Ok(())
}

/// Applies a case's change to the counters of every center in its chain, inside the caller's transaction.
pub(super) async fn bump(
    db: &impl ConnectionTrait,
    case_id: i64,
    origin: &Ancestry,
    before: Option<&CaseFacts>,
    after: &CaseFacts,
) -> Result<(), DbErr> {
    let changes = rollup::delta(before, after);
    if changes.is_empty() {
        return Ok(());
    }
    let stripe = case_id.rem_euclid(STRIPES);
    let mut rows = Vec::with_capacity(changes.len() * 4);
    for (tenant_id, parent_id) in chain(origin) {
        for (c, n) in &changes {
            rows.push(Row {
                tenant_id,
                parent_id,
                county_id: origin.county,
                month: c.month.number(),
                dim: c.dim.key(),
                metric: c.metric.as_str(),
                stripe,
                value: *n,
            });
        }
    }
    add_rows(db, rows).await
}

/// Applies the change of a stored case from `before` to `after` (same case) to the counters.
pub(super) async fn bump_change(
    db: &impl ConnectionTrait,
    before: &CaseRecord,
    after: &CaseRecord,
) -> Result<(), DbErr> {
    bump(
        db,
        before.id,
        &before.origin,
        Some(&facts_of(before)),
        &facts_of(after),
    )
    .await
}

/// A counter read back: breakdown, metric and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count<K> {
    pub key: K,
    pub metric: Metric,
    pub value: i64,
}

/// Open and overdue cases (and supervision orders) of one child tenant at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub open: i64,
    pub overdue: i64,
}

fn metric_of(text: &str) -> ApiResult<Metric> {
    Metric::parse(text)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown rollup metric {text}")))
}

fn child_column(level: TenantLevel) -> Option<&'static str> {
    match level {
        TenantLevel::County => Some("township_id"),
        TenantLevel::Township => Some("village_id"),
        TenantLevel::Village => Some("grid_id"),
        TenantLevel::Grid => None,
    }
}

fn own_column(level: TenantLevel) -> &'static str {
    match level {
        TenantLevel::County => "county_id",
        TenantLevel::Township => "township_id",
        TenantLevel::Village => "village_id",
        TenantLevel::Grid => "grid_id",
    }
}

impl Store {
    async fn query(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        query_on(&self.read().await?, sql, values).await
    }

    /// A tenant's counters over the months `from..=to`, by breakdown, with its gauges.
    pub async fn rollup_counts(
        &self,
        tenant_id: i64,
        from: Month,
        to: Month,
    ) -> ApiResult<Vec<Count<Dimension>>> {
        let rows = self
            .query(
                "SELECT dim, metric, CAST(SUM(value) AS BIGINT) FROM rollup_counters \
                 WHERE tenant_id = $1 AND (month BETWEEN $2 AND $3 OR month = 0) \
                 GROUP BY dim, metric",
                vec![tenant_id.into(), from.number().into(), to.number().into()],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                let dim: String = r.try_get_by_index(0)?;
                let metric: String = r.try_get_by_index(1)?;
                Ok(Count {
                    key: Dimension::parse(&dim).ok_or_else(|| {
                        ApiError::internal(anyhow::anyhow!("unknown rollup breakdown {dim}"))
                    })?,
                    metric: metric_of(&metric)?,
                    value: sum_of(&r, 2)?,
                })
            })
            .collect()
    }

    /// The totals of each child of `parent_id` over the months `from..=to`, with their gauges.
    pub async fn rollup_children(
        &self,
        parent_id: i64,
        from: Month,
        to: Month,
    ) -> ApiResult<Vec<Count<i64>>> {
        let rows = self
            .query(
                "SELECT tenant_id, metric, CAST(SUM(value) AS BIGINT) FROM rollup_counters \
                 WHERE parent_id = $1 AND dim = '' AND (month BETWEEN $2 AND $3 OR month = 0) \
                 GROUP BY tenant_id, metric",
                vec![parent_id.into(), from.number().into(), to.number().into()],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                let metric: String = r.try_get_by_index(1)?;
                Ok(Count {
                    key: r.try_get_by_index(0)?,
                    metric: metric_of(&metric)?,
                    value: sum_of(&r, 2)?,
                })
            })
            .collect()
    }

    /// A tenant's totals month by month over `from..=to`.
    pub async fn rollup_trend(
        &self,
        tenant_id: i64,
        from: Month,
        to: Month,
    ) -> ApiResult<Vec<Count<Month>>> {
        let rows = self
            .query(
                "SELECT month, metric, CAST(SUM(value) AS BIGINT) FROM rollup_counters \
                 WHERE tenant_id = $1 AND dim = '' AND month BETWEEN $2 AND $3 \
                 GROUP BY month, metric",
                vec![tenant_id.into(), from.number().into(), to.number().into()],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                let month: i32 = r.try_get_by_index(0)?;
                let metric: String = r.try_get_by_index(1)?;
                Ok(Count {
                    key: Month::from_number(month).ok_or_else(|| {
                        ApiError::internal(anyhow::anyhow!("bad rollup month {month}"))
                    })?,
                    metric: metric_of(&metric)?,
                    value: sum_of(&r, 2)?,
                })
            })
            .collect()
    }

    /// Open and overdue supervision orders on cases registered in the subtree of `tenant`, by child
    /// tenant (`None`: cases registered at the tenant itself) and by the case's lead unit, in one pass.
    pub async fn order_backlog(
        &self,
        tenant: &TenantRecord,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<(Option<i64>, Option<i64>, Backlog)>> {
        let own = own_column(tenant.level);
        if own == "grid_id" {
            // Orders are kept per village; a grid's are its village's.
            return Ok(Vec::new());
        }
        let child = child_column(tenant.level).filter(|c| *c != "grid_id");
        let (select, group) = match child {
            Some(c) => (c, format!("GROUP BY {c}, lead_unit_id")),
            None => ("CAST(NULL AS BIGINT)", "GROUP BY lead_unit_id".to_owned()),
        };
        let sql = format!(
            "SELECT {select}, lead_unit_id, COUNT(*), \
               CAST(SUM(CASE WHEN respond_by < $2 THEN 1 ELSE 0 END) AS BIGINT) \
             FROM supervision_orders WHERE {own} = $1 AND county_id = $3 AND status = 'open' {group}"
        );
        let rows = self
            .query(
                &sql,
                vec![
                    tenant.id.into(),
                    china_date(now).into(),
                    tenant.ancestry.county.into(),
                ],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get_by_index::<Option<i64>>(0)?,
                    r.try_get_by_index::<Option<i64>>(1)?,
                    Backlog {
                        open: sum_of(&r, 2)?,
                        overdue: sum_of(&r, 3)?,
                    },
                ))
            })
            .collect()
    }

    /// Compares a county's counters with a replay of its timeline and, with `repair`, adds the
    /// difference. Both are read in one snapshot and the difference is added (not overwritten) in the
    /// same transaction, so writes that commit meanwhile are kept; a conflicting write makes the check
    /// start again.
    pub async fn check_county_rollups(
        &self,
        county_id: i64,
        repair: bool,
    ) -> ApiResult<Committed<CountyCheck>> {
        const ATTEMPTS: usize = 3;
        let mut attempt = 1;
        loop {
            match self.check_county_once(county_id, repair).await {
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(county_id, attempt, error = %e.detail(), "rollup check retried");
                    attempt += 1;
                }
                other => {
                    let check = other?;
                    let change = if check.repaired {
                        Change::RollupsRepaired { county: county_id }
                    } else {
                        Change::Nothing
                    };
                    return Ok(Committed::new(check, change));
                }
            }
        }
    }

    async fn check_county_once(&self, county_id: i64, repair: bool) -> ApiResult<CountyCheck> {
        let postgres = self.backend() == DatabaseBackend::Postgres;
        let txn = if postgres {
            self.begin_isolated(IsolationLevel::RepeatableRead).await?
        } else {
            self.begin().await?
        };
        if postgres && repair {
            // Repairs of one county take turns; the later one then fails to write over the earlier's
            // rows in its older snapshot and starts again with a fresh one.
            query_on(
                &txn,
                "SELECT pg_advisory_xact_lock($1, CAST($2 AS INTEGER))",
                vec![0x726f6c6c_i32.into(), (county_id % 1_000_000_000).into()],
            )
            .await?;
        }
        if !postgres && repair {
            // SQLite: a transaction that reads and then writes fails ("database is locked") when another
            // connection wrote in between; a write that changes nothing takes the write lock first.
            txn.execute_unprepared("DELETE FROM rollup_counters WHERE 0")
                .await?;
        }
        let stored = stored_counters(&txn, county_id).await?;
        let (replayed, unreadable_cases) = replayed_counters(&txn, county_id).await?;
        let mut keys: Vec<&CounterKey> = stored.keys().chain(replayed.keys()).collect();
        keys.sort();
        keys.dedup();
        let differences: Vec<(CounterKey, i64, i64)> = keys
            .iter()
            .filter_map(|k| {
                let s = stored.get(*k).copied().unwrap_or(0);
                let r = replayed.get(*k).copied().unwrap_or(0);
                (s != r).then(|| ((*k).clone(), s, r))
            })
            .collect();
        let mut check = CountyCheck {
            compared: keys.len(),
            differences,
            unreadable_cases,
            repaired: false,
        };
        if repair && !check.differences.is_empty() {
            let parents: HashMap<i64, Option<i64>> = query_on(
                &txn,
                "SELECT id, parent_id FROM tenants WHERE county_id = $1",
                vec![county_id.into()],
            )
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
            .collect::<ApiResult<_>>()?;
            let rows: Vec<Row> = check
                .differences
                .iter()
                .filter_map(|(k, stored, replayed)| {
                    Some(Row {
                        tenant_id: k.tenant_id,
                        parent_id: parents.get(&k.tenant_id).copied().flatten(),
                        county_id,
                        month: k.month,
                        dim: k.dim.clone(),
                        metric: Metric::parse(&k.metric)?.as_str(),
                        stripe: 0,
                        value: replayed - stored,
                    })
                })
                .collect();
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                add_rows(&txn, rows.by_ref().take(BULK_ROWS).collect()).await?;
            }
            check.repaired = true;
        }
        txn.commit().await?;
        Ok(check)
    }

    /// Ids of every county.
    pub async fn county_ids(&self) -> ApiResult<Vec<i64>> {
        self.query(
            "SELECT id FROM tenants WHERE level = 'county' ORDER BY id",
            Vec::new(),
        )
        .await?
        .into_iter()
        .map(|r| Ok(r.try_get_by_index(0)?))
        .collect()
    }

    /// A county's counters as stored, summed over stripes, without zeros.
    pub async fn stored_counters(&self, county_id: i64) -> ApiResult<BTreeMap<CounterKey, i64>> {
        stored_counters(&self.read().await?, county_id).await
    }

    /// Counties that have cases but no counters: data from before the rollups, to build once.
    pub async fn counties_without_rollups(&self) -> ApiResult<Vec<i64>> {
        self.query(
            "SELECT t.id FROM tenants t WHERE t.level = 'county' \
               AND EXISTS (SELECT 1 FROM cases c WHERE c.county_id = t.id) \
               AND NOT EXISTS (SELECT 1 FROM rollup_counters r WHERE r.county_id = t.id) \
             ORDER BY t.id",
            Vec::new(),
        )
        .await?
        .into_iter()
        .map(|r| Ok(r.try_get_by_index(0)?))
        .collect()
    }
}

/// What `check_county_rollups` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountyCheck {
    /// Counters compared (the union of stored and replayed keys).
    pub compared: usize,
    /// (key, stored, replayed) where they differ.
    pub differences: Vec<(CounterKey, i64, i64)>,
    /// Cases whose timeline could not be replayed.
    pub unreadable_cases: Vec<i64>,
    pub repaired: bool,
}

async fn query_on(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_sql_and_values(
        backend,
        numbered(backend, sql.to_owned()),
        values,
    ))
    .await
}

/// The counters of a county as stored, summed over stripes, without zeros.
async fn stored_counters(
    db: &impl ConnectionTrait,
    county_id: i64,
) -> ApiResult<BTreeMap<CounterKey, i64>> {
    let rows = query_on(
        db,
        "SELECT tenant_id, month, dim, metric, CAST(SUM(value) AS BIGINT) FROM rollup_counters \
         WHERE county_id = $1 GROUP BY tenant_id, month, dim, metric",
        vec![county_id.into()],
    )
    .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let value = sum_of(&r, 4)?;
        if value != 0 {
            out.insert(
                CounterKey {
                    tenant_id: r.try_get_by_index(0)?,
                    month: r.try_get_by_index(1)?,
                    dim: r.try_get_by_index(2)?,
                    metric: r.try_get_by_index(3)?,
                },
                value,
            );
        }
    }
    Ok(out)
}

/// The counters of a county recomputed from the raw timeline: every case's events are replayed into its
/// facts, independently of the case columns the counters are kept from. Cases whose timeline cannot be
/// replayed are listed by id.
async fn replayed_counters(
    db: &impl ConnectionTrait,
    county_id: i64,
) -> ApiResult<(BTreeMap<CounterKey, i64>, Vec<i64>)> {
    const PAGE: i64 = 2_000;
    let levels: HashMap<i64, TenantLevel> = query_on(
        db,
        "SELECT id, level FROM tenants WHERE county_id = $1",
        vec![county_id.into()],
    )
    .await?
    .into_iter()
    .map(|r| {
        let id: i64 = r.try_get_by_index(0)?;
        let level: String = r.try_get_by_index(1)?;
        Ok((id, TenantLevel::parse(&level).unwrap_or(TenantLevel::Grid)))
    })
    .collect::<ApiResult<_>>()?;
    let mut totals: BTreeMap<CounterKey, i64> = BTreeMap::new();
    let mut broken = Vec::new();
    let mut after = 0_i64;
    loop {
        let cases = query_on(
            db,
            "SELECT id, kind, category, county_id, township_id, village_id, grid_id, overdue \
             FROM cases WHERE county_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            vec![county_id.into(), after.into(), PAGE.into()],
        )
        .await?;
        let Some(last) = cases.last() else { break };
        let last_id: i64 = last.try_get_by_index(0)?;
        let events = query_on(
            db,
            "SELECT case_id, command, tenant_id, data, at FROM case_events \
             WHERE county_id = $1 AND case_id > $2 AND case_id <= $3 ORDER BY case_id, id",
            vec![county_id.into(), after.into(), last_id.into()],
        )
        .await?;
        let mut by_case: HashMap<i64, Vec<(chrono::NaiveDate, Happened)>> = HashMap::new();
        for e in events {
            let case_id: i64 = e.try_get_by_index(0)?;
            let command: String = e.try_get_by_index(1)?;
            let tenant_id: i64 = e.try_get_by_index(2)?;
            let data: String = e.try_get_by_index(3)?;
            let at: DateTime<Utc> = e.try_get_by_index(4)?;
            let on = china_date(at);
            let level = levels.get(&tenant_id).copied().unwrap_or(TenantLevel::Grid);
            by_case
                .entry(case_id)
                .or_default()
                .push((on, happened(&command, level, &data, on)));
        }
        for c in &cases {
            let id: i64 = c.try_get_by_index(0)?;
            let kind: String = c.try_get_by_index(1)?;
            let category: String = c.try_get_by_index(2)?;
            let origin = Ancestry {
                county: c.try_get_by_index(3)?,
                township: c.try_get_by_index(4)?,
                village: c.try_get_by_index(5)?,
                grid: c.try_get_by_index(6)?,
            };
            let facts = match (CaseKind::parse(&kind), Category::parse(&category)) {
                (Some(kind), Some(category)) => {
                    rollup::replay(kind, category, by_case.remove(&id).unwrap_or_default())
                }
                _ => None,
            };
            let Some(mut facts) = facts else {
                broken.push(id);
                continue;
            };
            // The overdue mark is state, not an event: the gauge is checked against the cases' marks.
            facts.overdue = c.try_get_by_index(7)?;
            let tenants = chain(&origin);
            for contribution in facts.contributions() {
                for (tenant_id, _) in &tenants {
                    *totals.entry(key(*tenant_id, &contribution)).or_default() += 1;
                }
            }
        }
        after = last_id;
    }
    Ok((totals, broken))
}

fn key(tenant_id: i64, c: &Contribution) -> CounterKey {
    CounterKey {
        tenant_id,
        month: c.month.number(),
        dim: c.dim.key(),
        metric: c.metric.as_str().to_owned(),
    }
}

/// Reads a `COUNT` or bigint-cast `SUM` column (null when nothing was summed).
fn sum_of(row: &sea_orm::QueryResult, index: usize) -> Result<i64, DbErr> {
    Ok(row.try_get_by_index::<Option<i64>>(index)?.unwrap_or(0))
}

/// What a stored timeline event means to the rollups.
fn happened(command: &str, level: TenantLevel, data: &str, on: chrono::NaiveDate) -> Happened {
    let data: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
    let text = |field: &str| data.get(field).and_then(|v| v.as_str()).map(str::to_owned);
    let on_time = text("concludeBy")
        .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
        .is_none_or(|by| on <= by);
    let mediation = |field: &str| {
        text(field)
            .and_then(|m| fengqiao_domain::MediationMethod::parse(&m))
            .is_some_and(|m| m.is_mediation())
    };
    match command {
        "register" => Happened::Registered,
        "accept" => Happened::Accepted,
        "reject" => Happened::Rejected,
        "escalate_tier" => Happened::TierRaised,
        "escalate_parent" => Happened::MovedUp,
        "resolve" => Happened::Concluded {
            resolved: true,
            mediation: mediation("method"),
            level,
            on_time,
        },
        "unresolve" => Happened::Concluded {
            resolved: false,
            mediation: mediation("attempted"),
            level,
            on_time,
        },
        "follow_up" => match text("satisfaction").and_then(|s| Satisfaction::parse(&s)) {
            Some(s) => Happened::FollowedUp(s),
            None => Happened::Other,
        },
        "close" => Happened::Closed,
        "reopen" => Happened::Reopened,
        _ => Happened::Other,
    }
}
