//! Residents' personal data: audited reveals, exact look-ups by ID number or phone, and the masked free text
//! of older cases.

use std::sync::Arc;

use std::time::Duration as StdDuration;

use fengqiao_tenancy::{Principal, act};

use crate::error::{ApiError, ApiResult, clean_text};
use crate::store::audit::NewAuditRecord;
use crate::store::cases::CaseRecord;
use crate::store::scope::{self};

use super::AppState;

/// A party's personal data in full, after an audited reveal. `Debug` never shows it.
#[derive(Clone)]
pub struct RevealedParty {
    pub name: String,
    pub address: String,
    pub id_card: Option<String>,
    pub phone: Option<String>,
}

impl std::fmt::Debug for RevealedParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevealedParty(<redacted>)")
    }
}

/// Look-ups by ID number or phone one account may make in `LOOKUP_WINDOW`.
pub const LOOKUPS_PER_WINDOW: i64 = 20;
pub const LOOKUP_WINDOW: StdDuration = StdDuration::from_secs(3600);

impl AppState {
    /// Shows a party's name, address, ID number and phone in full, recording who asked and why on the case's timeline.
    /// Writes the masked free text of cases registered before it was kept, in the background, as the
    /// system. Until a case's turn comes its identifiers are masked when it is read (names after).
    pub fn start_masking_backfill(self: &Arc<Self>) {
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(state) = state.upgrade() else { break };
                match scope::as_system(state.store.fill_masked_text(500)).await {
                    Ok(0) => break,
                    Ok(n) => tracing::debug!(cases = n, "masked the free text of older cases"),
                    Err(e) => {
                        tracing::warn!(error = %e.detail(), "masking older cases' free text");
                        tokio::time::sleep(StdDuration::from_secs(30)).await;
                    }
                }
            }
        });
    }

    /// The cases with a party whose ID number or phone is exactly `identifier`, among those on which the
    /// principal may reveal personal data. A reveal: it needs a reason, is limited to
    /// `LOOKUPS_PER_WINDOW` an account in `LOOKUP_WINDOW`, and every look-up (allowed or refused) is an
    /// audit record naming the number by its keyed hash only.
    pub async fn find_cases_by_party(
        &self,
        principal: &Principal,
        identifier: &fengqiao_search::Identifier,
        reason: &str,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<Vec<CaseRecord>> {
        let reason = clean_text("reason", reason, 2, 500, true)?;
        let (kind, hash) = match identifier {
            fengqiao_search::Identifier::IdCard(id) => {
                ("id_card", self.vault.lookup_hash(id.expose()))
            }
            fengqiao_search::Identifier::Phone(p) => ("phone", self.vault.lookup_hash(p.expose())),
        };
        let home = self
            .directory
            .must(&self.store, principal.tenant_id)
            .await?;
        let audit = |outcome: &'static str, found: usize| NewAuditRecord {
            at: self.now(),
            county_id: home.ancestry.county,
            tenant_id: Some(principal.tenant_id),
            user_id: Some(principal.user_id),
            client_address: client.map(|a| a.to_string()),
            action: "party.lookup",
            object: format!("{kind} {}: {found} cases", &hash[..hash.len().min(16)]),
            outcome,
            reason: reason.clone(),
        };
        let n = self
            .count_limited(
                &format!("party-lookups:{}", principal.user_id),
                1,
                LOOKUP_WINDOW,
            )
            .await;
        if n > LOOKUPS_PER_WINDOW {
            self.store.append_audit(audit("rate_limited", 0)).await?;
            return Err(ApiError::RateLimited {
                why: "too many look-ups by ID number or phone",
                retry_after: LOOKUP_WINDOW.as_secs(),
            });
        }
        let ids = self.store.cases_with_party_hash(&hash, 200).await?;
        let mut found = Vec::new();
        for case in self.store.cases_by_ids(&ids).await? {
            if self.may_reveal(principal, &case).await {
                found.push(case);
            }
        }
        found.sort_by_key(|c| std::cmp::Reverse(c.id));
        self.store
            .append_audit(audit("allowed", found.len()))
            .await?;
        Ok(found)
    }

    pub async fn reveal_party(
        &self,
        principal: &Principal,
        case_id: i64,
        party_id: i64,
        reason: &str,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<RevealedParty> {
        let reason = clean_text("reason", reason, 2, 500, true)?;
        let reason = reason.as_str();
        let (case, permit) = self
            .case_for::<act::CaseRevealPersonalData>(principal, case_id)
            .await?;
        let party = self
            .store
            .parties(case.id)
            .await?
            .into_iter()
            .find(|p| p.id == party_id)
            .ok_or(ApiError::NotFound)?;
        let decrypt = |c: &Option<String>| {
            c.as_deref()
                .map(|v| self.vault.decrypt(v).map_err(ApiError::internal))
                .transpose()
        };
        let revealed = RevealedParty {
            name: party.name.clone(),
            address: party.address.clone(),
            id_card: decrypt(&party.id_card_cipher)?,
            phone: decrypt(&party.phone_cipher)?,
        };
        let audit = NewAuditRecord {
            at: self.now(),
            county_id: case.origin.county,
            tenant_id: Some(principal.tenant_id),
            user_id: Some(principal.user_id),
            client_address: client.map(|a| a.to_string()),
            action: "party.reveal",
            object: format!("party {} of case {}", party.id, case.id),
            outcome: "allowed",
            reason: reason.to_owned(),
        };
        self.store
            .record_reveal(&permit, &case, party.id, reason, audit)
            .await?;
        Ok(revealed)
    }
}
