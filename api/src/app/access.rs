//! Who may see a case: the authorization target of a case, reads of cases in the caller's scope, and the
//! database scope of a request.

use std::collections::HashMap;

use fengqiao_domain::Command;
use fengqiao_tenancy::{Act, Action, CaseScope, MemberAct, Permit, Principal, Target, act};

use crate::error::{ApiError, ApiResult};
use crate::paging::{Page, Window};
use crate::store::cases::{CaseFilter, CaseRecord, PartyRecord};
use crate::store::rosters::UnitStation;
use crate::store::scope::{self, DbScope, Reach};
use crate::store::users::Residency;

use super::AppState;

impl AppState {
    /// How `units` are stationed, from memory when known.
    pub(crate) async fn stations_of(&self, units: &[i64]) -> ApiResult<HashMap<i64, UnitStation>> {
        let poisoned = || ApiError::internal(anyhow::anyhow!("station cache lock poisoned"));
        let mut found = HashMap::with_capacity(units.len());
        let mut missing = Vec::new();
        {
            let cache = self.stations.read().map_err(|_| poisoned())?;
            for unit in units {
                match cache.get(unit) {
                    Some(station) => {
                        found.insert(*unit, station.clone());
                    }
                    None => missing.push(*unit),
                }
            }
        }
        if !missing.is_empty() {
            let loaded = self.store.unit_stations(&missing).await?;
            let mut cache = self.stations.write().map_err(|_| poisoned())?;
            for (unit, station) in loaded {
                cache.insert(unit, station.clone());
                found.insert(unit, station);
            }
        }
        Ok(found)
    }

    pub(crate) fn forget_stations(&self, unit: Option<i64>) -> ApiResult<()> {
        let mut cache = self
            .stations
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("station cache lock poisoned")))?;
        match unit {
            Some(unit) => {
                cache.remove(&unit);
            }
            None => cache.clear(),
        }
        Ok(())
    }

    pub(crate) async fn case_target(
        &self,
        case: &CaseRecord,
        principal: &Principal,
    ) -> ApiResult<Target> {
        let handler = if case.tenant_id == case.origin_tenant_id {
            case.origin
        } else {
            self.directory
                .must(&self.store, case.tenant_id)
                .await?
                .ancestry
        };
        let units: Vec<i64> = case
            .state
            .lead_unit
            .iter()
            .chain(&case.state.co_units)
            .copied()
            .collect();
        let now = self.now();
        let stations = self.stations_of(&units).await?;
        // Summonses matter only to on-call units: of the case, or of the principal.
        let on_call = |s: &HashMap<i64, UnitStation>| {
            s.values()
                .any(|station| station.residency == Residency::OnCall)
        };
        let summoned_units = if on_call(&stations)
            || on_call(
                &self
                    .stations_of(&self.authz.units_of(principal.user_id).await)
                    .await?,
            ) {
            self.store.summoned_units(case.id).await?
        } else {
            Vec::new()
        };
        let off_shift_units = stations
            .iter()
            .filter(|(_, station)| station.off_shift(now))
            .map(|(unit, _)| *unit)
            .collect();
        let hidden_units = stations
            .iter()
            .filter(|(unit, station)| {
                station.residency == Residency::OnCall && !summoned_units.contains(unit)
            })
            .map(|(unit, _)| *unit)
            .collect();
        Ok(Target {
            resource_id: Some(case.id),
            visible_in: case.origin,
            owned_by: handler,
            lead_unit: case.state.lead_unit,
            co_units: case.state.co_units.clone(),
            off_shift_units,
            hidden_units,
            summoned_units,
            reported_by: Some(case.registered_by),
        })
    }

    /// A unit's roster and whether it is on duty now (rotating units only).
    pub async fn unit_station(&self, unit_id: i64) -> ApiResult<Option<UnitStation>> {
        Ok(self.stations_of(&[unit_id]).await?.remove(&unit_id))
    }

    /// Loads a case and checks the act `A` on it. A case the principal may not see is `NOT_FOUND`.
    pub async fn case_for<A: Act>(
        &self,
        principal: &Principal,
        case_id: i64,
    ) -> ApiResult<(CaseRecord, Permit<A>)> {
        let case = self.store.case(case_id).await?.ok_or(ApiError::NotFound)?;
        let target = self.case_target(&case, principal).await?;
        let permit = self.authz.permit::<A>(principal, &target).await?;
        Ok((case, permit))
    }

    /// Loads a case and checks a lifecycle command on it.
    pub async fn case_for_command(
        &self,
        principal: &Principal,
        case_id: i64,
        command: &Command,
    ) -> ApiResult<(CaseRecord, Permit<act::Lifecycle>)> {
        let case = self.store.case(case_id).await?.ok_or(ApiError::NotFound)?;
        let target = self.case_target(&case, principal).await?;
        let permit = self
            .authz
            .permit_command(principal, command, &target)
            .await?;
        Ok((case, permit))
    }

    /// Loads a case and checks that `principal` is a member of `unit_id` taking the act `A` for it.
    pub(crate) async fn case_for_member<A: MemberAct>(
        &self,
        principal: &Principal,
        case_id: i64,
        unit_id: i64,
    ) -> ApiResult<(CaseRecord, Permit<A>)> {
        let case = self.store.case(case_id).await?.ok_or(ApiError::NotFound)?;
        let target = self.case_target(&case, principal).await?;
        let permit = self
            .authz
            .permit_member::<A>(principal, &target, unit_id)
            .await?;
        Ok((case, permit))
    }

    pub async fn case(&self, principal: &Principal, case_id: i64) -> ApiResult<CaseRecord> {
        self.case_for::<act::CaseRead>(principal, case_id)
            .await
            .map(|(case, _)| case)
    }

    /// `case` already read from the store, if `principal` may read it (the check `case` makes).
    pub async fn readable(&self, principal: &Principal, case: CaseRecord) -> ApiResult<CaseRecord> {
        let target = self.case_target(&case, principal).await?;
        self.authz
            .check(principal, Action::CaseRead, &target)
            .await?;
        Ok(case)
    }

    /// Where the principal may read cases from. On-call units see only the cases they are summoned to,
    /// while the summons is open.
    /// The rows the database lets `principal`'s requests reach (the second wall behind casbin, see
    /// `store::scope`): its county's, and of the county's cases those registered under a tenant where it
    /// holds a role. A role at the county reaches every case of the county; casbin still decides which of
    /// them the principal may read.
    pub async fn db_scope(&self, principal: &Principal) -> ApiResult<DbScope> {
        let home = scope::as_system(self.directory.get(&self.store, principal.tenant_id)).await?;
        let Some(home) = home else {
            return Ok(DbScope::Nobody);
        };
        let county = home.ancestry.county;
        let grants = self.authz.grants_of(principal.user_id).await;
        if grants
            .iter()
            .any(|g| g.level == fengqiao_domain::TenantLevel::County)
        {
            return Ok(DbScope::Principal {
                county,
                reach: Reach::County,
            });
        }
        // Every case permission needs a grant on the case's chain, a unit member's too: the tenants of
        // the grants bound everything the principal may reach.
        let mut tenants: Vec<i64> = grants.iter().map(|g| g.tenant_id).collect();
        tenants.sort_unstable();
        tenants.dedup();
        Ok(DbScope::Principal {
            county,
            reach: Reach::Subtrees(tenants),
        })
    }

    pub async fn case_scope(&self, principal: &Principal) -> ApiResult<CaseScope> {
        let mut scope = self.authz.case_scope(principal).await;
        if scope.units.is_empty() {
            return Ok(scope);
        }
        let stations = self.stations_of(&scope.units).await?;
        let on_call: Vec<i64> = scope
            .units
            .iter()
            .copied()
            .filter(|u| {
                stations
                    .get(u)
                    .is_some_and(|s| s.residency == Residency::OnCall)
            })
            .collect();
        if !on_call.is_empty() {
            scope.units.retain(|u| !on_call.contains(u));
            scope.summoned_cases = self.store.summoned_cases(&on_call).await?;
        }
        Ok(scope)
    }

    /// A page of the cases the principal may see that match `filter`, newest first.
    pub async fn cases(
        &self,
        principal: &Principal,
        filter: &CaseFilter,
        window: &Window,
    ) -> ApiResult<Page<CaseRecord>> {
        let scope = self.case_scope(principal).await?;
        self.store.cases(&scope, filter, window).await
    }

    /// How many cases the principal may see match `filter`.
    pub async fn count_cases(&self, principal: &Principal, filter: &CaseFilter) -> ApiResult<u64> {
        let scope = self.case_scope(principal).await?;
        self.store.count_cases(&scope, filter).await
    }

    pub async fn parties(&self, case: &CaseRecord) -> ApiResult<Vec<PartyRecord>> {
        self.store.parties(case.id).await
    }

    /// Whether the principal may see this case's personal data in full (`case.reveal_personal_data`):
    /// who may not sees its free text masked.
    pub async fn may_reveal(&self, principal: &Principal, case: &CaseRecord) -> bool {
        let Ok(target) = self.case_target(case, principal).await else {
            return false;
        };
        self.authz
            .check(principal, Action::CaseRevealPersonalData, &target)
            .await
            .is_ok()
    }
}
