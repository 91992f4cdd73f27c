//! Duty rosters of rotating units (轮驻): weekly shifts in China time and one-off changes.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday as ChronoWeekday};
use fengqiao_domain::roster::{DutyRoster, Hours, RosterEntry};

use super::ids::{GlobalId, decode_id, encode_id};
use super::inputs::{input_or_arguments, required};
use super::nodes::{CaseNode, SummonsNode, UnitNode};
use super::{caller, state};
use crate::error::ApiError;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl From<Weekday> for ChronoWeekday {
    fn from(d: Weekday) -> Self {
        match d {
            Weekday::Mon => ChronoWeekday::Mon,
            Weekday::Tue => ChronoWeekday::Tue,
            Weekday::Wed => ChronoWeekday::Wed,
            Weekday::Thu => ChronoWeekday::Thu,
            Weekday::Fri => ChronoWeekday::Fri,
            Weekday::Sat => ChronoWeekday::Sat,
            Weekday::Sun => ChronoWeekday::Sun,
        }
    }
}

impl From<ChronoWeekday> for Weekday {
    fn from(d: ChronoWeekday) -> Self {
        match d {
            ChronoWeekday::Mon => Weekday::Mon,
            ChronoWeekday::Tue => Weekday::Tue,
            ChronoWeekday::Wed => Weekday::Wed,
            ChronoWeekday::Thu => Weekday::Thu,
            ChronoWeekday::Fri => Weekday::Fri,
            ChronoWeekday::Sat => Weekday::Sat,
            ChronoWeekday::Sun => Weekday::Sun,
        }
    }
}

/// A weekly shift, in China time (`HH:MM`); an end at or before the start runs past midnight.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "ShiftInput")]
pub struct Shift {
    pub weekday: Weekday,
    pub start: String,
    pub end: String,
}

/// A one-off change: no weekly shift that day (`off: true`), or an extra shift (`start`, `end`).
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "RosterChangeInput")]
pub struct RosterChange {
    pub date: NaiveDate,
    #[graphql(default)]
    pub off: bool,
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(InputObject, SimpleObject, Clone)]
#[graphql(name = "DutyRoster", input_name = "DutyRosterInput")]
pub struct DutyRosterNode {
    pub weekly: Vec<Shift>,
    #[graphql(default)]
    pub changes: Vec<RosterChange>,
}

fn hours(field: &str, start: &str, end: &str) -> Result<Hours, ApiError> {
    let time = |t: &str| {
        NaiveTime::parse_from_str(t, "%H:%M")
            .map_err(|_| ApiError::bad_input(field, "write times as HH:MM"))
    };
    Hours::new(time(start)?, time(end)?).map_err(|e| ApiError::bad_input(field, e.to_string()))
}

impl DutyRosterNode {
    pub fn to_domain(&self) -> Result<DutyRoster, ApiError> {
        let mut entries = Vec::with_capacity(self.weekly.len() + self.changes.len());
        for s in &self.weekly {
            entries.push(RosterEntry::Weekly(
                s.weekday.into(),
                hours("roster.weekly", &s.start, &s.end)?,
            ));
        }
        for c in &self.changes {
            entries.push(match (c.off, c.start.as_deref(), c.end.as_deref()) {
                (true, None, None) => RosterEntry::Off(c.date),
                (false, Some(start), Some(end)) => {
                    RosterEntry::Extra(c.date, hours("roster.changes", start, end)?)
                }
                _ => {
                    return Err(ApiError::bad_input(
                        "roster.changes",
                        "a change is either `off: true` or an extra shift with start and end",
                    ));
                }
            });
        }
        DutyRoster::new(entries).map_err(|e| ApiError::bad_input("roster", e.to_string()))
    }

    pub fn from_domain(roster: &DutyRoster) -> Self {
        let time = |t: NaiveTime| t.format("%H:%M").to_string();
        let mut node = DutyRosterNode {
            weekly: Vec::new(),
            changes: Vec::new(),
        };
        for entry in &roster.entries {
            match entry {
                RosterEntry::Weekly(day, h) => node.weekly.push(Shift {
                    weekday: (*day).into(),
                    start: time(h.start),
                    end: time(h.end),
                }),
                RosterEntry::Off(date) => node.changes.push(RosterChange {
                    date: *date,
                    off: true,
                    start: None,
                    end: None,
                }),
                RosterEntry::Extra(date, h) => node.changes.push(RosterChange {
                    date: *date,
                    off: false,
                    start: Some(time(h.start)),
                    end: Some(time(h.end)),
                }),
            }
        }
        node
    }
}

#[Object(name = "Summons")]
impl SummonsNode {
    pub async fn id(&self) -> ID {
        encode_id(GlobalId::Summons, self.0.id)
    }

    async fn case(&self, ctx: &Context<'_>) -> Result<CaseNode> {
        let principal = &caller(ctx)?.principal;
        Ok(CaseNode(state(ctx).case(principal, self.0.case_id).await?))
    }

    async fn unit_id(&self) -> ID {
        encode_id(GlobalId::Unit, self.0.unit_id)
    }

    async fn summoned_at(&self) -> DateTime<Utc> {
        self.0.summoned_at
    }

    /// When the unit must report (报到).
    async fn report_by(&self) -> DateTime<Utc> {
        self.0.report_by
    }

    async fn reported_at(&self) -> Option<DateTime<Utc>> {
        self.0.reported_at
    }

    /// Reported after the report-by time; counts against the unit.
    async fn late(&self) -> bool {
        self.0.late
    }

    async fn released_at(&self) -> Option<DateTime<Utc>> {
        self.0.released_at
    }

    /// Open until released: while open, the unit's members see and work the case.
    async fn open(&self) -> bool {
        self.0.is_open()
    }
}

#[derive(Default)]
pub struct RosterMutation;

#[Object]
impl RosterMutation {
    /// Replaces a rotating unit's duty roster. Its members act on their cases only during a shift; outside
    /// one they may read them.
    async fn set_duty_roster(
        &self,
        ctx: &Context<'_>,
        input: Option<SetDutyRosterInput>,
        #[graphql(deprecation = "Use input.")] unit_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] roster: Option<DutyRosterNode>,
    ) -> Result<UnitNode> {
        let any = unit_id.is_some() || roster.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(SetDutyRosterInput {
                unit_id: required("unitId", unit_id)?,
                roster: required("roster", roster)?,
            })
        })?;
        let principal = &caller(ctx)?.principal;
        let unit_id = decode_id("unitId", GlobalId::Unit, &input.unit_id)?;
        let roster = input.roster.to_domain()?;
        Ok(UnitNode(
            state(ctx)
                .set_duty_roster(
                    principal,
                    unit_id,
                    &roster,
                    ctx.data_opt::<super::ClientAddress>().and_then(|c| c.0),
                )
                .await?,
        ))
    }

    /// Summons an on-call unit to a case; it must report by `reportBy` (two hours from now by default).
    /// While the summons is open the unit's members see the case and may be dispatched to it.
    async fn summon_unit(
        &self,
        ctx: &Context<'_>,
        input: Option<SummonUnitInput>,
        #[graphql(deprecation = "Use input.")] case_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] unit_id: Option<ID>,
        #[graphql(deprecation = "Use input.")] report_by: Option<DateTime<Utc>>,
    ) -> Result<SummonsNode> {
        let any = case_id.is_some() || unit_id.is_some() || report_by.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(SummonUnitInput {
                case_id: required("caseId", case_id)?,
                unit_id: required("unitId", unit_id)?,
                report_by,
            })
        })?;
        let principal = &caller(ctx)?.principal;
        let case_id = decode_id("caseId", GlobalId::Case, &input.case_id)?;
        let unit_id = decode_id("unitId", GlobalId::Unit, &input.unit_id)?;
        Ok(SummonsNode(
            state(ctx)
                .summon_unit(principal, case_id, unit_id, input.report_by)
                .await?,
        ))
    }

    /// The summoned unit reports (报到); after the report-by time the report is recorded as late.
    async fn report_summons(
        &self,
        ctx: &Context<'_>,
        input: Option<ReportSummonsInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
    ) -> Result<SummonsNode> {
        let id = summons_id(input.map(|i| i.id), id)?;
        let principal = &caller(ctx)?.principal;
        Ok(SummonsNode(state(ctx).report_summons(principal, id).await?))
    }

    /// Releases the unit from the case (the center, or the unit itself).
    async fn release_summons(
        &self,
        ctx: &Context<'_>,
        input: Option<ReleaseSummonsInput>,
        #[graphql(deprecation = "Use input.")] id: Option<ID>,
    ) -> Result<SummonsNode> {
        let id = summons_id(input.map(|i| i.id), id)?;
        let principal = &caller(ctx)?.principal;
        Ok(SummonsNode(
            state(ctx).release_summons(principal, id).await?,
        ))
    }
}

#[derive(InputObject)]
pub struct SetDutyRosterInput {
    pub unit_id: ID,
    pub roster: DutyRosterNode,
}

#[derive(InputObject)]
pub struct SummonUnitInput {
    pub case_id: ID,
    pub unit_id: ID,
    /// Two hours from now when absent.
    pub report_by: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ReportSummonsInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct ReleaseSummonsInput {
    pub id: ID,
}

/// The summons named by the id of the `input`, or by the deprecated `id`.
fn summons_id(input: Option<ID>, id: Option<ID>) -> Result<i64, ApiError> {
    let any = id.is_some();
    let id = input_or_arguments(input, any, || required("id", id))?;
    decode_id("id", GlobalId::Summons, &id)
}
