//! The audit trail for the auditor (GB/T 22239-2019 8.1.4.3): what every use case appended — sign-ins and
//! sign-outs, account, grant and membership changes, reveals and look-ups of personal data, exports —
//! read page by page within the subtree the auditor's role reaches; and the check of every county's hash
//! chain (`verify-audit`).

use fengqiao_domain::TenantLevel;
use fengqiao_tenancy::{Principal, act};

use crate::error::{ApiError, ApiResult};
use crate::store::audit::{AuditPage, AuditRecord, ChainCheck};
use crate::store::scope::{SystemPermit, as_system};

use super::AppState;

/// Records a page holds at most.
pub const MAX_AUDIT_PAGE: u64 = 100;

impl AppState {
    /// The newest audit records made in the tenant's subtree (for a county, every record of the county),
    /// of one `action` if given, older than the record `before`; and whether there are more.
    pub async fn audit_trail(
        &self,
        principal: &Principal,
        tenant_id: i64,
        action: Option<&str>,
        before: Option<i64>,
        first: u64,
    ) -> ApiResult<(Vec<AuditRecord>, bool)> {
        let (tenant, _permit) = self
            .permit_on_tenant::<act::AuditRead>(principal, tenant_id)
            .await?;
        if !(1..=MAX_AUDIT_PAGE).contains(&first) {
            return Err(ApiError::bad_input(
                "first",
                format!("must be between 1 and {MAX_AUDIT_PAGE}"),
            ));
        }
        if let Some(action) = action {
            let known = action.len() <= 64
                && action
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_');
            if !known {
                return Err(ApiError::bad_input(
                    "action",
                    "an action is written like `session.sign_in`",
                ));
            }
        }
        let within = match tenant.level {
            TenantLevel::County => None,
            level => Some((level, tenant.id)),
        };
        self.store
            .audit_page(&AuditPage {
                county_id: tenant.ancestry.county,
                within,
                action: action.map(str::to_owned),
                before,
                limit: first,
            })
            .await
    }

    /// Checks every county's audit chain (the `verify-audit` command): system work, over every county.
    pub async fn verify_audit(&self, _system: &SystemPermit) -> ApiResult<Vec<ChainCheck>> {
        as_system(async {
            let mut checks = Vec::new();
            for county in self.store.audited_counties().await? {
                checks.push(self.store.verify_audit_chain(county).await?);
            }
            Ok(checks)
        })
        .await
    }
}
