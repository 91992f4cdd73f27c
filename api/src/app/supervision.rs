//! Supervision (督办): the deadline scanner that marks what is overdue and raises orders, and orders issued
//! and answered by centers.

use std::time::Duration as StdDuration;

use fengqiao_domain::CaseStatus;
use fengqiao_domain::code::china_date;
use fengqiao_domain::supervision::SupervisionLevel;
use fengqiao_tenancy::{Principal, act};

use crate::error::{ApiError, ApiResult, clean_text};
use crate::store::cases::{CaseFilter, CaseRecord};
use crate::store::scope::SystemPermit;
use crate::store::supervision::{NewOrder, OrderRecord};

use super::AppState;

/// What one run of the deadline scanner did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Another replica held the scanner's lease, so this run did nothing.
    pub skipped: bool,
    pub examined: u64,
    /// Cases newly marked overdue (counted by the dashboards' overdue gauge).
    pub marked: u64,
    pub raised: u64,
}

/// The legal deadline a case has missed at the stage it is in, named.
fn missed_deadline(case: &CaseRecord) -> Option<(&'static str, chrono::NaiveDate)> {
    match case.state.status {
        CaseStatus::Registered => case.clocks.accept_by.map(|d| ("accept", d)),
        CaseStatus::Accepted
        | CaseStatus::Dispatched
        | CaseStatus::Returned
        | CaseStatus::InProgress => case.clocks.conclude_by.map(|d| ("conclude", d)),
        CaseStatus::Resolved | CaseStatus::Unresolved => {
            case.clocks.follow_up_by.map(|d| ("follow_up", d))
        }
        _ => None,
    }
}

impl AppState {
    /// Raises supervision on every case past a legal deadline: 催办 the day after, 通报 five working days
    /// later. Each missed deadline raises each level once, however many scanners run and however often
    /// (the store's unique trigger guarantees it); the lease only keeps replicas from repeating the work.
    pub async fn scan_deadlines(&self, system: &SystemPermit) -> ApiResult<ScanReport> {
        self.scan_deadlines_in(system, None).await
    }

    /// The deadline scanner over one county's cases only (`None`: every county).
    /// A system job: it runs as the system whoever calls it.
    pub async fn scan_deadlines_in(
        &self,
        system: &SystemPermit,
        county: Option<i64>,
    ) -> ApiResult<ScanReport> {
        system.run(self.scan_deadlines_here(county)).await
    }

    pub(crate) async fn scan_deadlines_here(&self, county: Option<i64>) -> ApiResult<ScanReport> {
        // One scan of a scope at a time; scans of overlapping scopes only repeat idempotent work.
        let lease = match county {
            Some(county) => format!("lease:deadline-scanner:{county}"),
            None => "lease:deadline-scanner".to_owned(),
        };
        let mut report = ScanReport::default();
        if !self
            .cache
            .try_lease(&lease, StdDuration::from_secs(240))
            .await
            .map_err(ApiError::internal)?
        {
            report.skipped = true;
            return Ok(report);
        }
        let now = self.now();
        let today = china_date(now);
        let filter = CaseFilter {
            overdue_at: Some(now),
            subtree: county.map(|c| (fengqiao_domain::TenantLevel::County, c)),
            ..CaseFilter::default()
        };
        let mut after = 0;
        loop {
            let batch = self.store.cases_for_system(&filter, after, 500).await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for case in &batch {
                report.examined += 1;
                let marked = self.store.mark_overdue(case, now).await?;
                if self.settle(marked).await {
                    report.marked += 1;
                } else {
                    // Marked before: time may still have changed its grade.
                    self.regrade_overdue(case).await?;
                }
                let Some((stage, missed)) = missed_deadline(case) else {
                    continue;
                };
                let due = self.with_calendar(|cal| {
                    let levels = fengqiao_domain::supervision::automatic(cal, stage, missed, today);
                    let respond_by = fengqiao_domain::supervision::RESPOND_WITHIN.ends(cal, today);
                    (levels, respond_by)
                })?;
                let handler = self.directory.must(&self.store, case.tenant_id).await?;
                let issuer = handler.parent_id.unwrap_or(handler.id);
                for (level, trigger) in due.0 {
                    let reason = format!("{stage} deadline {missed} missed");
                    let new = NewOrder {
                        level,
                        reason: &reason,
                        respond_by: due.1,
                        issuer_tenant_id: issuer,
                    };
                    let raised = self
                        .store
                        .raise_supervision(case, &new, &trigger, now)
                        .await?;
                    if self.settle(raised).await {
                        report.raised += 1;
                    }
                }
            }
        }
        self.cache
            .delete(&lease)
            .await
            .map_err(ApiError::internal)?;
        Ok(report)
    }

    /// Issues a supervision order on a case handled by a center below the supervisor's.
    pub async fn issue_supervision(
        &self,
        principal: &Principal,
        case_id: i64,
        level: SupervisionLevel,
        reason: &str,
        respond_by: Option<chrono::NaiveDate>,
    ) -> ApiResult<OrderRecord> {
        let reason = clean_text("reason", reason, 2, 2000, true)?;
        let (case, permit) = self
            .case_for::<act::CaseSupervise>(principal, case_id)
            .await?;
        if permit.granted_at() == case.tenant_id {
            return Err(ApiError::Forbidden(
                "a center supervises the centers below it, not its own cases".into(),
            ));
        }
        let today = china_date(self.now());
        let respond_by = match respond_by {
            Some(day) if day < today => {
                return Err(ApiError::bad_input("respondBy", "must not be in the past"));
            }
            Some(day) => day,
            None => self.with_calendar(|cal| {
                fengqiao_domain::supervision::RESPOND_WITHIN.ends(cal, today)
            })?,
        };
        let new = NewOrder {
            level,
            reason: &reason,
            respond_by,
            issuer_tenant_id: permit.granted_at(),
        };
        let order = self
            .store
            .issue_supervision(&permit, &case, &new, self.now())
            .await?;
        Ok(self.settle(order).await)
    }

    /// Answers an open supervision order on one of the principal's center's cases.
    pub async fn respond_supervision(
        &self,
        principal: &Principal,
        order_id: i64,
        response: &str,
    ) -> ApiResult<OrderRecord> {
        let response = clean_text("response", response, 2, 2000, true)?;
        let order = self
            .store
            .supervision_order(order_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let (case, permit) = self
            .case_for::<act::CaseRespondSupervision>(principal, order.case_id)
            .await?;
        let answered = self
            .store
            .respond_supervision(&permit, &case, order.id, &response, self.now())
            .await?;
        Ok(self.settle(answered).await)
    }
}
