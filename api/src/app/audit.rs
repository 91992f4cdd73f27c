//! The audit trail for the auditor (GB/T 22239-2019 8.1.4.3): what every use case appended — sign-ins and
//! sign-outs, account, grant and membership changes, reveals and look-ups of personal data, exports —
//! read page by page within the subtree the auditor's role reaches; and the check of every county's hash
//! chain (`verify-audit`).

use chrono::{FixedOffset, NaiveDate, Utc};
use fengqiao_domain::TenantLevel;
use fengqiao_tenancy::{Principal, act};

use crate::error::{ApiError, ApiResult};
use crate::store::audit::{AuditPage, AuditRecord, ChainCheck, NewAuditRecord};
use crate::store::scope::{SystemPermit, as_system};

use super::AppState;

/// Records a page holds at most.
pub const MAX_AUDIT_PAGE: u64 = 100;
/// Records an export holds at most.
pub const MAX_AUDIT_EXPORT: usize = 100_000;
/// Records read at a time for an export.
const EXPORT_PAGE: u64 = 1000;

/// A cell as a spreadsheet shows it: text that would start a formula (`=`, `+`, `-`, `@`, a tab or a
/// carriage return) gets a leading `'`, so a reason typed by an administrator never runs as one.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The records as CSV with a header, UTF-8 with a byte-order mark (as the monthly report).
fn audit_csv(records: &[AuditRecord]) -> ApiResult<Vec<u8>> {
    let fail = |e: csv::Error| ApiError::internal(anyhow::anyhow!(e));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "id",
            "at",
            "county",
            "tenant",
            "account",
            "address",
            "action",
            "object",
            "outcome",
            "reason",
            "prev_hash",
            "hash",
        ])
        .map_err(fail)?;
    for r in records {
        let optional = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        writer
            .write_record([
                r.id.to_string(),
                r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                r.county_id.to_string(),
                optional(r.tenant_id),
                optional(r.user_id),
                r.client_address.clone().unwrap_or_default(),
                cell(&r.action),
                cell(&r.object),
                cell(&r.outcome),
                cell(&r.reason),
                r.prev_hash.clone(),
                r.hash.clone(),
            ])
            .map_err(fail)?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e.to_string())))?;
    Ok([b"\xEF\xBB\xBF".as_slice(), &body].concat())
}

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
                until: None,
                limit: first,
            })
            .await
    }

    /// The audit trail of the tenant's subtree from day `from` to day `to` (China Standard Time, both
    /// included, at most 366 days and `MAX_AUDIT_EXPORT` records) as CSV, oldest first, each record with
    /// its hashes so that the file can be checked against the chain. The export is an audit record
    /// itself (`audit.export`).
    pub async fn export_audit(
        &self,
        principal: &Principal,
        tenant_id: i64,
        from: NaiveDate,
        to: NaiveDate,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<Vec<u8>> {
        let (tenant, _permit) = self
            .permit_on_tenant::<act::AuditRead>(principal, tenant_id)
            .await?;
        if to < from {
            return Err(ApiError::bad_input("to", "not before `from`"));
        }
        if (to - from).num_days() >= 366 {
            return Err(ApiError::bad_input("to", "at most 366 days after `from`"));
        }
        let china = FixedOffset::east_opt(8 * 3600)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the +08:00 offset")))?;
        let midnight = |day: NaiveDate| {
            day.and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(china).single())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| ApiError::bad_input("from", "not a day"))
        };
        let start = midnight(from)?;
        let end = midnight(to.succ_opt().unwrap_or(to))?;
        let within = match tenant.level {
            TenantLevel::County => None,
            level => Some((level, tenant.id)),
        };
        let mut records = Vec::new();
        let mut before = None;
        'pages: loop {
            let (page, more) = self
                .store
                .audit_page(&AuditPage {
                    county_id: tenant.ancestry.county,
                    within,
                    action: None,
                    before,
                    until: Some(end),
                    limit: EXPORT_PAGE,
                })
                .await?;
            before = page.last().map(|r| r.id);
            for record in page {
                if record.at < start {
                    break 'pages;
                }
                if records.len() == MAX_AUDIT_EXPORT {
                    return Err(ApiError::bad_input(
                        "from",
                        format!("more than {MAX_AUDIT_EXPORT} records: export a shorter range"),
                    ));
                }
                records.push(record);
            }
            if !more {
                break;
            }
        }
        records.reverse();
        let body = audit_csv(&records)?;
        let audit = NewAuditRecord::by(
            principal,
            tenant.ancestry.county,
            client,
            self.now(),
            "audit.export",
            format!(
                "audit trail of tenant {} from {from} to {to}: {} records",
                tenant.id,
                records.len()
            ),
        );
        self.store.append_audit(audit).await?;
        Ok(body)
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
