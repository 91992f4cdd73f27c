//! Records the API shows beside the one a caller asked for — a case's staff, units, centers, timeline and
//! supervision orders, a unit's summons record — read by id once the caller may see what holds them. The
//! GraphQL layer reaches the store only through here.

use crate::error::{ApiError, ApiResult};
use crate::store::cases::{CaseRecord, EventRecord, PartyRecord};
use crate::store::rosters::SummonsRecord;
use crate::store::supervision::OrderRecord;
use crate::store::tenants::TenantRecord;
use crate::store::users::{UnitRecord, UserRecord};
use fengqiao_tenancy::Principal;

use super::AppState;

impl AppState {
    /// A member of staff, by id (for the names on a case the caller reads).
    pub async fn staff(&self, user_id: i64) -> ApiResult<Option<UserRecord>> {
        self.store.user(user_id).await
    }

    /// A unit, by id.
    pub async fn unit_record(&self, unit_id: i64) -> ApiResult<Option<UnitRecord>> {
        self.store.unit(unit_id).await
    }

    /// A tenant that a record refers to.
    pub async fn tenant_record(&self, tenant_id: i64) -> ApiResult<TenantRecord> {
        self.directory.must(&self.store, tenant_id).await
    }

    /// A tenant, if it exists.
    pub async fn tenant_if_any(&self, tenant_id: i64) -> ApiResult<Option<TenantRecord>> {
        self.directory.get(&self.store, tenant_id).await
    }

    /// A case's timeline, oldest first.
    pub async fn timeline(&self, case: &CaseRecord) -> ApiResult<Vec<EventRecord>> {
        self.store.events(case.id).await
    }

    /// The supervision orders on a case.
    pub async fn supervision_orders(&self, case: &CaseRecord) -> ApiResult<Vec<OrderRecord>> {
        self.store.supervision_orders_of_case(case.id).await
    }

    // Batched reads, for the GraphQL child fields of a page of records (graphql/batches.rs). The case ids
    // come from cases the caller was allowed to read; on PostgreSQL the rows are also within the request's
    // database scope.

    /// Members of staff, by id.
    pub async fn staff_many(&self, user_ids: &[i64]) -> ApiResult<Vec<UserRecord>> {
        self.store.users_by_ids(user_ids).await
    }

    /// Units, by id.
    pub async fn units_many(&self, unit_ids: &[i64]) -> ApiResult<Vec<UnitRecord>> {
        self.store.units_by_ids(unit_ids).await
    }

    /// The timelines of cases the caller reads, oldest first.
    pub async fn timelines(&self, case_ids: &[i64]) -> ApiResult<Vec<EventRecord>> {
        self.store.events_of_cases(case_ids).await
    }

    /// The parties of cases the caller reads.
    pub async fn parties_of_cases(&self, case_ids: &[i64]) -> ApiResult<Vec<PartyRecord>> {
        self.store.parties_of_cases(case_ids).await
    }

    /// The supervision orders on cases the caller reads.
    pub async fn orders_of_cases(&self, case_ids: &[i64]) -> ApiResult<Vec<OrderRecord>> {
        self.store.supervision_orders_of_cases(case_ids).await
    }

    /// The summonses of cases the caller reads.
    pub async fn summonses_of_cases(&self, case_ids: &[i64]) -> ApiResult<Vec<SummonsRecord>> {
        self.store.summonses_of_cases(case_ids).await
    }

    /// A case by its code, as `case` reads it.
    pub async fn case_by_code(&self, principal: &Principal, code: &str) -> ApiResult<CaseRecord> {
        let id = self
            .store
            .case_id_by_code(code)
            .await?
            .ok_or(ApiError::NotFound)?;
        self.case(principal, id).await
    }

    // Objects by their own ids (`node`): each is visible exactly when what holds it is.

    /// A party, with its case, when the principal may read the case.
    pub async fn party(
        &self,
        principal: &Principal,
        party_id: i64,
    ) -> ApiResult<(CaseRecord, PartyRecord)> {
        let party = self
            .store
            .party(party_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok((self.case(principal, party.case_id).await?, party))
    }

    /// A supervision order, with its case, when the principal may read the case.
    pub async fn supervision_order(
        &self,
        principal: &Principal,
        order_id: i64,
    ) -> ApiResult<(CaseRecord, OrderRecord)> {
        let order = self
            .store
            .supervision_order(order_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok((self.case(principal, order.case_id).await?, order))
    }

    /// A summons, when the principal may read its case.
    pub async fn summons_by_id(
        &self,
        principal: &Principal,
        summons_id: i64,
    ) -> ApiResult<SummonsRecord> {
        let summons = self
            .store
            .summons(summons_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        self.case(principal, summons.case_id).await?;
        Ok(summons)
    }

    /// How a unit has answered its summonses: (summoned, reported, late or overdue).
    pub async fn summons_figures(&self, unit_id: i64) -> ApiResult<(u64, u64, u64)> {
        self.store.summons_record(unit_id, self.now()).await
    }
}
