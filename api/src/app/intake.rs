//! Intake: registering a case from any channel, idempotently, with its accept-by clock and risk grade.

use fengqiao_domain::code::china_date;
use fengqiao_domain::risk::RiskFacts;
use fengqiao_domain::{IdCard, Phone};
use fengqiao_tenancy::{Principal, act};

use crate::error::{ApiResult, clean_text, personal_data_error};
use crate::store::cases::{Assessed, CaseRecord, NewCase, NewParty};
use crate::store::scope::{self};

use super::{AppState, RISK_WINDOW};

/// What a registration needs besides the stored fields.
pub struct Registration {
    /// Where to register; the caller's own tenant when absent.
    pub tenant_id: Option<i64>,
    pub case: NewCase,
}

/// Builds a party from raw input, naming the failing field by its position.
pub fn party_from_input(
    index: usize,
    role: fengqiao_domain::PartyRole,
    name: &str,
    id_card: Option<&str>,
    phone: Option<&str>,
    address: &str,
) -> ApiResult<NewParty> {
    let name = clean_text(&format!("parties[{index}].name"), name, 1, 64, false)?;
    let address = clean_text(&format!("parties[{index}].address"), address, 0, 200, false)?;
    let id_card = id_card
        .filter(|s| !s.trim().is_empty())
        .map(IdCard::parse)
        .transpose()
        .map_err(|e| personal_data_error(&format!("parties[{index}].idCard"), e))?;
    let phone = phone
        .filter(|s| !s.trim().is_empty())
        .map(Phone::parse)
        .transpose()
        .map_err(|e| personal_data_error(&format!("parties[{index}].phone"), e))?;
    Ok(NewParty {
        role,
        name,
        id_card,
        phone,
        address,
    })
}

impl AppState {
    pub async fn register_case(
        &self,
        principal: &Principal,
        registration: Registration,
    ) -> ApiResult<(CaseRecord, bool)> {
        let tenant_id = registration.tenant_id.unwrap_or(principal.tenant_id);
        let (origin, permit) = self
            .permit_on_tenant::<act::CaseRegister>(principal, tenant_id)
            .await?;
        let now = self.now();
        let case = registration.case;
        let policy =
            self.case_policy(&origin.ancestry, case.kind, case.complexity, case.channel)?;
        let accept_by =
            self.with_calendar(|cal| policy.accept_within.ends(cal, china_date(now)))?;
        let hashes: Vec<String> = case
            .parties
            .iter()
            .flat_map(|p| {
                let id = p
                    .id_card
                    .as_ref()
                    .map(|v| self.vault.lookup_hash(v.expose()));
                id.into_iter()
                    .chain(p.phone.as_ref().map(|v| self.vault.lookup_hash(v.expose())))
            })
            .collect();
        let facts = RiskFacts {
            // Earlier cases anywhere in the county count, including those the caller may not read.
            repeat_cases: scope::across_county(self.store.cases_sharing_parties(
                origin.ancestry.county,
                &hashes,
                now - RISK_WINDOW,
                None,
            ))
            .await?,
            sensitive: self.risk_rules.is_sensitive(case.kind, case.category),
            ..RiskFacts::default()
        };
        let risk = self.risk_rules.grade(&facts);
        let registered = self
            .store
            .register_case(
                &permit,
                &origin,
                case,
                &Assessed { accept_by, risk },
                &self.vault,
                now,
            )
            .await?;
        Ok(self.settle(registered).await)
    }
}
