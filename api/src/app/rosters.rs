//! Stationed units on duty rosters, and on-call units summoned to a case (随驻): summon, report, release.

use chrono::{DateTime, Duration, Utc};

use fengqiao_tenancy::{Principal, Target, act};

use crate::error::{ApiError, ApiResult};
use crate::store::cases::CaseRecord;
use crate::store::rosters::SummonsRecord;
use crate::store::users::{Residency, UnitRecord};

use super::{AppState, PolicyChange};

/// How long a summoned on-call unit has to report, unless the dispatcher says otherwise.
pub const SUMMONS_REPORT_WITHIN: Duration = Duration::hours(2);

impl AppState {
    /// Sets a rotating unit's duty roster (who may manage the unit's members may set it).
    pub async fn set_duty_roster(
        &self,
        principal: &Principal,
        unit_id: i64,
        roster: &fengqiao_domain::roster::DutyRoster,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<UnitRecord> {
        let unit = self.store.unit(unit_id).await?.ok_or(ApiError::NotFound)?;
        let (_, target) = self.tenant_target(unit.tenant_id).await?;
        let target = Target {
            resource_id: Some(unit.id),
            ..target
        };
        let permit = self
            .authz
            .permit::<act::UnitManageMembers>(principal, &target)
            .await?;
        if unit.residency != Residency::Rotating {
            return Err(ApiError::bad_input(
                "unitId",
                "only a rotating (轮驻) unit has a duty roster",
            ));
        }
        let audit = crate::store::audit::NewAuditRecord {
            at: self.now(),
            county_id: unit.county_id,
            tenant_id: Some(principal.tenant_id),
            user_id: Some(principal.user_id),
            client_address: client.map(|a| a.to_string()),
            action: "policy.roster",
            object: format!("duty roster of unit {}: {}", unit.id, roster.to_text()),
            outcome: "allowed",
            reason: String::new(),
        };
        self.store
            .set_duty_roster(&permit, &unit, roster, audit)
            .await?;
        self.policy_changed(PolicyChange::Roster { unit_id: unit.id })
            .await?;
        Ok(unit)
    }

    /// Summons an on-call unit to a case (中心吹哨); it must report by `report_by` (two hours by default).
    pub async fn summon_unit(
        &self,
        principal: &Principal,
        case_id: i64,
        unit_id: i64,
        report_by: Option<DateTime<Utc>>,
    ) -> ApiResult<SummonsRecord> {
        let (case, permit) = self
            .case_for::<act::CaseDispatch>(principal, case_id)
            .await?;
        let now = self.now();
        let report_by = report_by.unwrap_or(now + SUMMONS_REPORT_WITHIN);
        if report_by <= now {
            return Err(ApiError::bad_input("reportBy", "must be in the future"));
        }
        if !case.state.status.is_open() {
            return Err(ApiError::InvalidTransition(
                "only an open case can have a unit summoned to it".into(),
            ));
        }
        let handler = self.directory.must(&self.store, case.tenant_id).await?;
        let unit = self.store.unit(unit_id).await?;
        let unit = match unit {
            Some(unit) => {
                let home = self.directory.must(&self.store, unit.tenant_id).await?;
                handler
                    .ancestry
                    .is_within(home.level, home.id)
                    .then_some(unit)
            }
            None => None,
        }
        .ok_or_else(|| {
            ApiError::bad_input(
                "unitId",
                format!("unit {unit_id} is not stationed in this center or above it"),
            )
        })?;
        if unit.residency != Residency::OnCall {
            return Err(ApiError::bad_input(
                "unitId",
                "only an on-call (随驻) unit is summoned; resident and rotating units are dispatched",
            ));
        }
        let summons = self
            .store
            .summon(&permit, &case, &unit, report_by, now)
            .await?;
        Ok(self.settle(summons).await)
    }

    /// The unit reports (报到) to a summons; a report after the report-by time is recorded as late.
    pub async fn report_summons(
        &self,
        principal: &Principal,
        summons_id: i64,
    ) -> ApiResult<SummonsRecord> {
        let summons = self
            .store
            .summons(summons_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let (case, permit) = self
            .case_for_member::<act::ReportSummons>(principal, summons.case_id, summons.unit_id)
            .await?;
        let now = self.now();
        let reported = self
            .store
            .report_summons(&permit, &case, &summons, now)
            .await?;
        Ok(self.settle(reported).await)
    }

    /// Releases a summons (the center, or the unit itself): the unit no longer sees the case.
    pub async fn release_summons(
        &self,
        principal: &Principal,
        summons_id: i64,
    ) -> ApiResult<SummonsRecord> {
        let summons = self
            .store
            .summons(summons_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let member = self
            .authz
            .units_of(principal.user_id)
            .await
            .contains(&summons.unit_id);
        let (case, permit) = if member {
            self.case_for_member::<act::ReleaseSummons>(principal, summons.case_id, summons.unit_id)
                .await?
        } else {
            self.case_for::<act::ReleaseSummons>(principal, summons.case_id)
                .await?
        };
        let released = self
            .store
            .release_summons(&permit, &case, &summons, self.now())
            .await?;
        Ok(self.settle(released).await)
    }

    /// The summonses of a case the principal may read.
    pub async fn summonses(&self, case: &CaseRecord) -> ApiResult<Vec<SummonsRecord>> {
        self.store.summonses_of_case(case.id).await
    }
}
