//! Duty rosters of rotating units.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fengqiao_domain::roster::DutyRoster;
use fengqiao_tenancy::{Action, Permit};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::Store;
use super::entities::{duty_roster, unit};
use super::users::{Residency, UnitRecord};
use crate::error::{ApiError, ApiResult};

/// How a unit may act on its cases now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitStation {
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
        permit: &Permit,
        unit: &UnitRecord,
        roster: &DutyRoster,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        if !permit.covers(Action::UnitManageMembers, Some(unit.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover the roster of unit {}",
                unit.id
            )));
        }
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
        .exec(&self.db)
        .await?;
        Ok(())
    }

    /// How each of `unit_ids` is stationed, with its roster.
    pub async fn unit_stations(&self, unit_ids: &[i64]) -> ApiResult<HashMap<i64, UnitStation>> {
        if unit_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let units = unit::Entity::find()
            .filter(unit::Column::Id.is_in(unit_ids.iter().copied()))
            .all(&self.db)
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
                .all(&self.db)
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
                        residency,
                        roster: rosters.remove(&u.id),
                    },
                ))
            })
            .collect()
    }
}
