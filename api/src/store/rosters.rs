//! How units are stationed: duty rosters of rotating units and summonses of on-call units.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fengqiao_domain::roster::DutyRoster;
use fengqiao_tenancy::{Permit, act};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::cases::{CaseRecord, record_note};
use super::committed::{Change, Committed};
use super::entities::{duty_roster, summons, unit};
use super::users::{Residency, UnitRecord};
use super::{Store, taken};
use crate::error::{ApiError, ApiResult};

/// How a unit may act on its cases now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitStation {
    /// The center the unit is stationed in.
    pub tenant_id: i64,
    pub residency: Residency,
    /// The roster of a rotating unit; none set means no shift yet.
    pub roster: Option<DutyRoster>,
}

impl UnitStation {
    /// A rotating unit outside every shift of its roster: it may read its cases but not act on them.
    pub fn off_shift(&self, at: DateTime<Utc>) -> bool {
        self.residency == Residency::Rotating
            && !self.roster.as_ref().is_some_and(|r| r.on_duty(at))
    }
}

impl Store {
    /// Replaces a rotating unit's roster.
    pub async fn set_duty_roster(
        &self,
        permit: &Permit<act::UnitManageMembers>,
        unit: &UnitRecord,
        roster: &DutyRoster,
        audit: super::audit::NewAuditRecord,
    ) -> ApiResult<()> {
        let now = audit.at;
        if !permit.is_for(Some(unit.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover the roster of unit {}",
                unit.id
            )));
        }
        let txn = self.begin().await?;
        duty_roster::Entity::insert(duty_roster::ActiveModel {
            unit_id: Set(unit.id),
            county_id: Set(unit.county_id),
            roster: Set(roster.to_text()),
            updated_by: Set(permit.user_id()),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(duty_roster::Column::UnitId)
                .update_columns([
                    duty_roster::Column::Roster,
                    duty_roster::Column::UpdatedBy,
                    duty_roster::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
        super::audit::append_audit_in(&txn, audit).await?;
        txn.commit().await?;
        Ok(())
    }

    /// How each of `unit_ids` is stationed, with its roster.
    pub async fn unit_stations(&self, unit_ids: &[i64]) -> ApiResult<HashMap<i64, UnitStation>> {
        if unit_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let units = unit::Entity::find()
            .filter(unit::Column::Id.is_in(unit_ids.iter().copied()))
            .all(&self.read().await?)
            .await?;
        let rotating: Vec<i64> = units
            .iter()
            .filter(|u| u.residency == Residency::Rotating.as_str())
            .map(|u| u.id)
            .collect();
        let mut rosters: HashMap<i64, DutyRoster> = HashMap::new();
        if !rotating.is_empty() {
            for row in duty_roster::Entity::find()
                .filter(duty_roster::Column::UnitId.is_in(rotating))
                .all(&self.read().await?)
                .await?
            {
                let roster = DutyRoster::parse(&row.roster).map_err(|e| {
                    ApiError::internal(anyhow::anyhow!("roster of unit {}: {e}", row.unit_id))
                })?;
                rosters.insert(row.unit_id, roster);
            }
        }
        units
            .into_iter()
            .map(|u| {
                let residency = Residency::parse(&u.residency).ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!("unit {} residency {}", u.id, u.residency))
                })?;
                Ok((
                    u.id,
                    UnitStation {
                        tenant_id: u.tenant_id,
                        residency,
                        roster: rosters.remove(&u.id),
                    },
                ))
            })
            .collect()
    }
}

/// An on-call unit summoned to a case (中心吹哨): it must report (报到) by `report_by`, works the case,
/// and is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummonsRecord {
    pub id: i64,
    pub case_id: i64,
    pub unit_id: i64,
    pub summoned_by: i64,
    pub summoned_at: DateTime<Utc>,
    pub report_by: DateTime<Utc>,
    pub reported_at: Option<DateTime<Utc>>,
    /// Reported after `report_by`; counts against the unit.
    pub late: bool,
    pub released_at: Option<DateTime<Utc>>,
}

impl SummonsRecord {
    pub fn is_open(&self) -> bool {
        self.released_at.is_none()
    }
}

impl From<summons::Model> for SummonsRecord {
    fn from(m: summons::Model) -> Self {
        SummonsRecord {
            id: m.id,
            case_id: m.case_id,
            unit_id: m.unit_id,
            summoned_by: m.summoned_by,
            summoned_at: m.summoned_at,
            report_by: m.report_by,
            reported_at: m.reported_at,
            late: m.late,
            released_at: m.released_at,
        }
    }
}

impl Store {
    /// Summons an on-call unit to a case, on the case's timeline. One open summons per case and unit.
    pub async fn summon(
        &self,
        permit: &Permit<act::CaseDispatch>,
        case: &CaseRecord,
        unit: &UnitRecord,
        report_by: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<SummonsRecord>> {
        if !permit.is_for(Some(case.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover summoning to case {}",
                case.id
            )));
        }
        let txn = self.begin().await?;
        let row = summons::ActiveModel {
            case_id: Set(case.id),
            county_id: Set(case.origin.county),
            unit_id: Set(unit.id),
            summoned_by: Set(permit.user_id()),
            summoned_at: Set(now),
            report_by: Set(report_by),
            reported_at: Set(None),
            reported_by: Set(None),
            late: Set(false),
            released_at: Set(None),
            released_by: Set(None),
            open_mark: Set(Some(1)),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(taken("unitId", "the unit is already summoned to this case"))?;
        let data = serde_json::json!({ "unit": unit.id, "reportBy": report_by });
        record_note(
            &txn,
            case,
            permit.user_id(),
            "summon",
            &unit.name,
            data,
            now,
        )
        .await?;
        txn.commit().await?;
        let change = Change::Summoned {
            case: case.clone(),
            unit_id: unit.id,
        };
        Ok(Committed::new(row.into(), change))
    }

    pub async fn summons(&self, id: i64) -> ApiResult<Option<SummonsRecord>> {
        Ok(summons::Entity::find_by_id(id)
            .one(&self.read().await?)
            .await?
            .map(Into::into))
    }

    pub async fn summonses_of_case(&self, case_id: i64) -> ApiResult<Vec<SummonsRecord>> {
        self.summonses_of_cases(&[case_id]).await
    }

    /// The summonses of several cases in one statement, oldest first.
    pub async fn summonses_of_cases(&self, case_ids: &[i64]) -> ApiResult<Vec<SummonsRecord>> {
        Ok(summons::Entity::find()
            .filter(summons::Column::CaseId.is_in(case_ids.iter().copied()))
            .order_by_asc(summons::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// How a unit has answered its summonses: (summoned, reported, reported late or not yet though due).
    pub async fn summons_record(
        &self,
        unit_id: i64,
        now: DateTime<Utc>,
    ) -> ApiResult<(u64, u64, u64)> {
        let all = summons::Entity::find()
            .filter(summons::Column::UnitId.eq(unit_id))
            .all(&self.read().await?)
            .await?;
        let reported = all.iter().filter(|s| s.reported_at.is_some()).count() as u64;
        let late = all
            .iter()
            .filter(|s| s.late || (s.reported_at.is_none() && s.report_by < now))
            .count() as u64;
        Ok((all.len() as u64, reported, late))
    }

    /// The units with an open summons to a case.
    pub async fn summoned_units(&self, case_id: i64) -> ApiResult<Vec<i64>> {
        Ok(summons::Entity::find()
            .filter(summons::Column::CaseId.eq(case_id))
            .filter(summons::Column::OpenMark.is_not_null())
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(|s| s.unit_id)
            .collect())
    }

    /// The cases that `units` have an open summons to.
    pub async fn summoned_cases(&self, units: &[i64]) -> ApiResult<Vec<i64>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        Ok(summons::Entity::find()
            .filter(summons::Column::UnitId.is_in(units.iter().copied()))
            .filter(summons::Column::OpenMark.is_not_null())
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(|s| s.case_id)
            .collect())
    }

    /// Records the unit's report (报到), late when after the report-by time; once.
    ///
    /// The permit is for reporting, which only a member of the summoned unit gets
    /// (`AppState::case_for_member`); a permit to read the case does not compile here:
    ///
    /// ```compile_fail
    /// # use fengqiao::{app::AppState, store::rosters::SummonsRecord};
    /// # use fengqiao_tenancy::{Principal, act};
    /// async fn report(app: &AppState, who: &Principal, summons: &SummonsRecord) {
    ///     let (case, read) = app.case_for::<act::CaseRead>(who, summons.case_id).await.unwrap();
    ///     app.store.report_summons(&read, &case, summons, app.now()).await.unwrap();
    /// }
    /// ```
    ///
    /// nor does a permit to release it (`release_summons` takes that one, as this compiles):
    ///
    /// ```compile_fail
    /// # use fengqiao::{app::AppState, store::rosters::SummonsRecord};
    /// # use fengqiao_tenancy::{Principal, act};
    /// async fn report(app: &AppState, who: &Principal, summons: &SummonsRecord) {
    ///     let (case, p) = app.case_for::<act::ReleaseSummons>(who, summons.case_id).await.unwrap();
    ///     app.store.report_summons(&p, &case, summons, app.now()).await.unwrap();
    /// }
    /// ```
    ///
    /// ```no_run
    /// # use fengqiao::{app::AppState, store::rosters::SummonsRecord};
    /// # use fengqiao_tenancy::{Principal, act};
    /// async fn release(app: &AppState, who: &Principal, summons: &SummonsRecord) {
    ///     let (case, p) = app.case_for::<act::ReleaseSummons>(who, summons.case_id).await.unwrap();
    ///     app.store.release_summons(&p, &case, summons, app.now()).await.unwrap();
    /// }
    /// ```
    pub async fn report_summons(
        &self,
        permit: &Permit<act::ReportSummons>,
        case: &CaseRecord,
        summons: &SummonsRecord,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<SummonsRecord>> {
        if !permit.is_for(Some(case.id)) || summons.case_id != case.id {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover summons {} of case {}",
                summons.id,
                case.id
            )));
        }
        let late = now > summons.report_by;
        let txn = self.begin().await?;
        let updated = summons::Entity::update_many()
            .col_expr(summons::Column::ReportedAt, Expr::value(Some(now)))
            .col_expr(
                summons::Column::ReportedBy,
                Expr::value(Some(permit.user_id())),
            )
            .col_expr(summons::Column::Late, Expr::value(late))
            .filter(summons::Column::Id.eq(summons.id))
            .filter(summons::Column::ReportedAt.is_null())
            .filter(summons::Column::OpenMark.is_not_null())
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ApiError::InvalidTransition(
                "the unit has reported already, or the summons is released".into(),
            ));
        }
        let data = serde_json::json!({ "unit": summons.unit_id, "late": late });
        record_note(&txn, case, permit.user_id(), "report", "", data, now).await?;
        txn.commit().await?;
        let reported = SummonsRecord {
            reported_at: Some(now),
            late,
            ..summons.clone()
        };
        let change = Change::SummonsReported {
            case: case.clone(),
            unit_id: summons.unit_id,
        };
        Ok(Committed::new(reported, change))
    }

    /// Releases an open summons: the unit no longer sees the case.
    pub async fn release_summons(
        &self,
        permit: &Permit<act::ReleaseSummons>,
        case: &CaseRecord,
        summons: &SummonsRecord,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<SummonsRecord>> {
        if !permit.is_for(Some(case.id)) || summons.case_id != case.id {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover summons {} of case {}",
                summons.id,
                case.id
            )));
        }
        let txn = self.begin().await?;
        let updated = summons::Entity::update_many()
            .col_expr(summons::Column::ReleasedAt, Expr::value(Some(now)))
            .col_expr(
                summons::Column::ReleasedBy,
                Expr::value(Some(permit.user_id())),
            )
            .col_expr(summons::Column::OpenMark, Expr::value(Option::<i16>::None))
            .filter(summons::Column::Id.eq(summons.id))
            .filter(summons::Column::OpenMark.is_not_null())
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ApiError::InvalidTransition(
                "the summons is released already".into(),
            ));
        }
        let data = serde_json::json!({ "unit": summons.unit_id });
        record_note(&txn, case, permit.user_id(), "release", "", data, now).await?;
        txn.commit().await?;
        let released = SummonsRecord {
            released_at: Some(now),
            ..summons.clone()
        };
        let change = Change::SummonsReleased {
            case: case.clone(),
            unit_id: summons.unit_id,
        };
        Ok(Committed::new(released, change))
    }
}
