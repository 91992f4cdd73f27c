//! Rollups read back: the supervision dashboard of a tenant over a period, its monthly report as CSV and
//! XLSX, and the verification of the counters against the raw timeline.
//!
//! Dashboards are cached (Redis, or in process) under a per-county generation that every write in the
//! county moves on, so a cached dashboard is never served after a change it does not show. Open and overdue
//! cases are gauges among the counters: a case counts as overdue once the deadline scanner (every few
//! minutes) or its last change found it past a deadline. Overdue supervision orders are counted live and
//! are at most `DASHBOARD_TTL` old.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use fengqiao_domain::Category;
use fengqiao_domain::rollup::{Metric, Month, rate};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::store::rollups::{Backlog, CountyCheck};
use crate::store::tenants::TenantRecord;

/// How long a computed dashboard is served from the cache at most.
pub const DASHBOARD_TTL: StdDuration = StdDuration::from_secs(60);

/// The longest period a dashboard covers.
pub const MAX_PERIOD_MONTHS: usize = 120;

/// Months of the trend, ending with the period's last month.
pub const TREND_MONTHS: usize = 12;

/// The months a dashboard covers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Month,
    pub to: Month,
}

impl Period {
    pub fn new(from: Month, to: Month) -> ApiResult<Period> {
        if to < from {
            return Err(ApiError::bad_input(
                "period.to",
                "must not be before period.from",
            ));
        }
        if from.through(to).count() > MAX_PERIOD_MONTHS {
            return Err(ApiError::bad_input(
                "period",
                format!("covers at most {MAX_PERIOD_MONTHS} months"),
            ));
        }
        Ok(Period { from, to })
    }

    pub fn month(month: Month) -> Period {
        Period {
            from: month,
            to: month,
        }
    }
}

/// The counted figures of docs/DOMAIN.md, with the rates read from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub intake: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub resolved: i64,
    pub unresolved: i64,
    pub mediation_concluded: i64,
    pub mediation_succeeded: i64,
    pub closed: i64,
    pub closed_on_time: i64,
    pub followed_up: i64,
    pub satisfied: i64,
    /// Gauge: open now.
    pub open: i64,
    /// Gauge: marked past a deadline now.
    pub overdue: i64,
}

impl Figures {
    pub fn add(&mut self, metric: Metric, value: i64) {
        let slot = match metric {
            Metric::Intake => &mut self.intake,
            Metric::Accepted => &mut self.accepted,
            Metric::Rejected => &mut self.rejected,
            Metric::Resolved => &mut self.resolved,
            Metric::Unresolved => &mut self.unresolved,
            Metric::MediationConcluded => &mut self.mediation_concluded,
            Metric::MediationSucceeded => &mut self.mediation_succeeded,
            Metric::Closed => &mut self.closed,
            Metric::ClosedOnTime => &mut self.closed_on_time,
            Metric::FollowedUp => &mut self.followed_up,
            Metric::Satisfied => &mut self.satisfied,
            Metric::Open => &mut self.open,
            Metric::Overdue => &mut self.overdue,
        };
        *slot += value;
    }

    /// 化解率: resolved ÷ (resolved + unresolved).
    pub fn resolution_rate(&self) -> Option<f64> {
        rate(self.resolved, self.resolved + self.unresolved)
    }

    /// 调解成功率: mediations succeeded ÷ mediations concluded.
    pub fn mediation_success_rate(&self) -> Option<f64> {
        rate(self.mediation_succeeded, self.mediation_concluded)
    }

    /// 办结率: closed ÷ accepted.
    pub fn closure_rate(&self) -> Option<f64> {
        rate(self.closed, self.accepted)
    }

    /// 按期办结率: closed by the deadline ÷ closed.
    pub fn on_time_rate(&self) -> Option<f64> {
        rate(self.closed_on_time, self.closed)
    }

    /// 满意率: (满意 + 基本满意) ÷ followed up.
    pub fn satisfaction_rate(&self) -> Option<f64> {
        rate(self.satisfied, self.followed_up)
    }
}

/// Open and overdue counts at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub open: i64,
    pub overdue: i64,
}

impl From<Backlog> for Pending {
    fn from(b: Backlog) -> Self {
        Pending {
            open: b.open,
            overdue: b.overdue,
        }
    }
}

impl std::ops::AddAssign for Pending {
    fn add_assign(&mut self, other: Pending) {
        self.open += other.open;
        self.overdue += other.overdue;
    }
}

/// One child tenant's line of a dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildLine {
    pub tenant_id: i64,
    pub figures: Figures,
    pub cases: Pending,
    pub orders: Pending,
}

/// A dashboard as computed (and cached): breakdown keys are stable names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardData {
    pub tenant_id: i64,
    pub from: i32,
    pub to: i32,
    pub as_of: DateTime<Utc>,
    pub totals: Figures,
    pub by_kind: Vec<(String, Figures)>,
    pub by_category: Vec<(String, Figures)>,
    pub by_tier: Vec<(String, Figures)>,
    pub by_level: Vec<(String, Figures)>,
    pub children: Vec<ChildLine>,
    /// Cases registered here and below, open and overdue now.
    pub cases: Pending,
    /// Supervision orders on those cases, open and past their response date now.
    pub orders: Pending,
    /// Open supervision orders by the lead unit of their case (`None`: not with a unit).
    pub orders_by_unit: Vec<(Option<i64>, Pending)>,
    pub trend: Vec<(i32, Figures)>,
}

impl DashboardData {
    pub fn months(&self) -> (Month, Month) {
        let m = |n| Month::from_number(n).unwrap_or_else(|| Month::of(self.as_of.date_naive()));
        (m(self.from), m(self.to))
    }
}

/// What `verify-rollups` found in one county.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountyDrift {
    pub county_id: i64,
    pub check: CountyCheck,
}

/// The cache key whose value moves on whenever a county's figures change: cached dashboards carry the value
/// they were computed under and are dropped once it moves.
pub fn generation_key(county_id: i64) -> String {
    format!("rollup-gen:{county_id}")
}

/// A monthly report as rows of text cells: the figures of the dashboard, in the same order for CSV and
/// XLSX. The first row of each table is its header.
pub fn monthly_report_tables(
    tenant: &TenantRecord,
    data: &DashboardData,
    child_names: &HashMap<i64, String>,
) -> Vec<(String, Vec<Vec<Cell>>)> {
    let (from, _) = data.months();
    let header = |first: &str| {
        std::iter::once(Cell::Text(first.to_owned()))
            .chain(
                FIGURE_COLUMNS
                    .iter()
                    .map(|(h, _)| Cell::Text((*h).to_owned())),
            )
            .collect::<Vec<_>>()
    };
    let line = |name: String, f: &Figures| {
        std::iter::once(Cell::Text(name))
            .chain(FIGURE_COLUMNS.iter().map(|(_, get)| get(f)))
            .collect::<Vec<_>>()
    };
    let mut summary = vec![
        vec![
            Cell::Text("中心 tenant".into()),
            Cell::Text(tenant.name.clone()),
        ],
        vec![
            Cell::Text("区划代码 division code".into()),
            Cell::Text(tenant.code.as_str().to_owned()),
        ],
        vec![
            Cell::Text("月份 month".into()),
            Cell::Text(from.to_string()),
        ],
        vec![
            Cell::Text("截至 as of".into()),
            Cell::Text(data.as_of.to_rfc3339()),
        ],
        vec![
            Cell::Text("在办 open now".into()),
            Cell::Int(data.cases.open),
        ],
        vec![
            Cell::Text("超期 overdue now".into()),
            Cell::Int(data.cases.overdue),
        ],
        vec![
            Cell::Text("未结督办 open supervision orders".into()),
            Cell::Int(data.orders.open),
        ],
        vec![
            Cell::Text("超期督办 overdue supervision orders".into()),
            Cell::Int(data.orders.overdue),
        ],
    ];
    summary.push(Vec::new());
    summary.push(header("合计 total"));
    summary.push(line(tenant.name.clone(), &data.totals));
    let mut categories = vec![header("类别 category")];
    categories.extend(
        data.by_category
            .iter()
            .map(|(k, f)| line(category_label(k), f)),
    );
    let mut children = vec![header("下级 child")];
    children.extend(data.children.iter().map(|c| {
        line(
            child_names
                .get(&c.tenant_id)
                .cloned()
                .unwrap_or_else(|| c.tenant_id.to_string()),
            &c.figures,
        )
    }));
    vec![
        ("summary".into(), summary),
        ("by category".into(), categories),
        ("by child tenant".into(), children),
    ]
}

/// A report cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A ratio in 0..=1, or empty when undefined.
    Rate(Option<f64>),
}

impl Cell {
    /// The cell as CSV text: rates as percentages with two decimals (98.61).
    pub fn to_text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Rate(Some(r)) => format!("{:.2}", r * 100.0),
            Cell::Rate(None) => String::new(),
        }
    }
}

type Column = (&'static str, fn(&Figures) -> Cell);

/// The figure columns of every report table.
pub const FIGURE_COLUMNS: &[Column] = &[
    ("受理 intake", |f| Cell::Int(f.intake)),
    ("已受理 accepted", |f| Cell::Int(f.accepted)),
    ("不予受理 rejected", |f| Cell::Int(f.rejected)),
    ("化解 resolved", |f| Cell::Int(f.resolved)),
    ("未化解 unresolved", |f| Cell::Int(f.unresolved)),
    ("化解率% resolution rate", |f| {
        Cell::Rate(f.resolution_rate())
    }),
    ("调解 mediations concluded", |f| {
        Cell::Int(f.mediation_concluded)
    }),
    ("调解成功 mediations succeeded", |f| {
        Cell::Int(f.mediation_succeeded)
    }),
    ("调解成功率% mediation success rate", |f| {
        Cell::Rate(f.mediation_success_rate())
    }),
    ("办结 closed", |f| Cell::Int(f.closed)),
    ("办结率% closure rate", |f| Cell::Rate(f.closure_rate())),
    ("按期办结 closed on time", |f| {
        Cell::Int(f.closed_on_time)
    }),
    ("按期办结率% on-time rate", |f| {
        Cell::Rate(f.on_time_rate())
    }),
    ("回访 followed up", |f| Cell::Int(f.followed_up)),
    ("满意 satisfied", |f| Cell::Int(f.satisfied)),
    ("满意率% satisfaction rate", |f| {
        Cell::Rate(f.satisfaction_rate())
    }),
];

fn category_label(key: &str) -> String {
    let zh = match Category::parse(key) {
        Some(Category::Neighbour) => "邻里纠纷",
        Some(Category::MarriageFamily) => "婚姻家庭纠纷",
        Some(Category::LandForest) => "山林土地纠纷",
        Some(Category::Labour) => "劳动争议",
        Some(Category::Medical) => "医疗纠纷",
        Some(Category::Traffic) => "交通事故纠纷",
        Some(Category::Lending) => "借贷纠纷",
        Some(Category::PropertyManagement) => "物业纠纷",
        Some(Category::LandRequisition) => "征地拆迁",
        Some(Category::Other) | None => "其他",
    };
    format!("{zh} {key}")
}

/// The report as CSV: the tables one after another, separated by an empty line.
pub fn to_csv(tables: &[(String, Vec<Vec<Cell>>)]) -> ApiResult<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for (i, (_, rows)) in tables.iter().enumerate() {
        if i > 0 {
            writer
                .write_record([""])
                .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
        }
        for row in rows {
            writer
                .write_record(row.iter().map(Cell::to_text))
                .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
        }
    }
    let body = writer
        .into_inner()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e.to_string())))?;
    // A byte-order mark so that spreadsheet programs read the Chinese headers as UTF-8.
    Ok([b"\xEF\xBB\xBF".as_slice(), &body].concat())
}

/// The report as an XLSX workbook, one worksheet per table; rates are numbers formatted as percentages.
pub fn to_xlsx(tables: &[(String, Vec<Vec<Cell>>)]) -> ApiResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let fail = |e: rust_xlsxwriter::XlsxError| ApiError::internal(anyhow::anyhow!(e));
    let mut book = Workbook::new();
    let percent = Format::new().set_num_format("0.00%");
    let bold = Format::new().set_bold();
    for (name, rows) in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(name).map_err(fail)?;
        for (r, row) in rows.iter().enumerate() {
            let r = u32::try_from(r).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
                match cell {
                    Cell::Text(t) if r == 0 || c == 0 => sheet
                        .write_string_with_format(r, c, t, &bold)
                        .map_err(fail)?,
                    Cell::Text(t) => sheet.write_string(r, c, t).map_err(fail)?,
                    Cell::Int(n) => sheet.write_number(r, c, *n as f64).map_err(fail)?,
                    Cell::Rate(Some(x)) => sheet
                        .write_number_with_format(r, c, *x, &percent)
                        .map_err(fail)?,
                    Cell::Rate(None) => sheet.write_blank(r, c, &Format::new()).map_err(fail)?,
                };
            }
        }
        sheet.set_column_width(0, 28).map_err(fail)?;
    }
    book.save_to_buffer().map_err(fail)
}
