//! Choosing a password (GB/T 22239-2019 8.1.4.1 a): the rules a new one meets, no reuse of the latest
//! five, expiry a county sets, and the change its holder makes before signing in when someone else chose
//! it (a new account, a bootstrapped administrator, an account whose administrator reset its password).

use std::net::IpAddr;

use chrono::Duration;
use fengqiao_tenancy::{Principal, check_password_rules, hash_password, verify_password};

use crate::error::{ApiError, ApiResult};
use crate::store::audit::NewAuditRecord;
use crate::store::scope;
use crate::store::users::{PASSWORDS_REMEMBERED, UserRecord};

use super::{AppState, Session};

impl AppState {
    /// Why the account must change its password before it signs in, if it must: `first_sign_in` (someone
    /// else chose it) or `expired` (older than its county's `password_max_age_days`).
    pub(crate) fn password_change_due(&self, user: &UserRecord) -> Option<&'static str> {
        if user.must_change_password {
            return Some("first_sign_in");
        }
        let days = self
            .security_policy_of(user.county_id)
            .password_max_age_days;
        let set_at = user.password_changed_at.unwrap_or(user.created_at);
        (days > 0 && self.session_now() >= set_at + Duration::days(i64::from(days)))
            .then_some("expired")
    }

    /// Changes an account's password, proved by the current one (checked with every defence of signing
    /// in: it counts towards the lock and the address's limit) and by its second factor where it has
    /// one. The new one meets the rules and is none
    /// of the account's latest `PASSWORDS_REMEMBERED`. Every session of the account ends, and a new one
    /// opens.
    pub async fn change_password(
        &self,
        username: &str,
        current: &str,
        new: &str,
        totp: Option<&str>,
        client: Option<IpAddr>,
        user_agent: &str,
    ) -> ApiResult<Session> {
        let user = self.check_password(username, current, client).await?;
        self.check_second_factor(&user, totp, client).await?;
        self.sign_in_proven(&user).await?;
        check_password_rules(new, &user.username)
            .map_err(|e| ApiError::bad_input("newPassword", e.to_string()))?;
        let recent = scope::as_system(self.store.recent_password_hashes(&user)).await?;
        let candidate = new.to_owned();
        let reused = self
            .with_password_slot(move || recent.iter().any(|h| verify_password(&candidate, h)))
            .await?;
        if reused {
            return Err(ApiError::bad_input(
                "newPassword",
                format!("choose a password other than your last {PASSWORDS_REMEMBERED}"),
            ));
        }
        let candidate = new.to_owned();
        let hash = self
            .with_password_slot(move || hash_password(&candidate))
            .await?
            .map_err(|e| ApiError::bad_input("newPassword", e.to_string()))?;
        let principal = fengqiao_tenancy::Principal {
            user_id: user.id,
            tenant_id: user.tenant_id,
        };
        let audit = NewAuditRecord::by(
            &principal,
            user.county_id,
            client,
            self.now(),
            "account.password_change",
            format!("account {}", user.id),
        );
        let at = self.session_now();
        let (user, ended) =
            scope::as_system(self.store.change_password(&user, &hash, at, audit)).await?;
        for family in &ended {
            self.mark_ended(family).await?;
        }
        self.audit_sign_in(&user, client, "allowed").await?;
        self.start_session(user, client, user_agent).await
    }

    /// The system administrator gives an account (not their own) a password of their choosing, for a
    /// holder who forgot theirs, with the reason: every session of the account ends, a lock of wrong
    /// passwords is lifted, and the holder changes the password before signing in again
    /// (`PASSWORD_CHANGE_REQUIRED`). The password meets the rules; it may not be one of the account's
    /// latest, which the holder's own change then checks against it too.
    pub async fn reset_password(
        &self,
        principal: &Principal,
        user_id: i64,
        password: &str,
        reason: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<UserRecord> {
        let (account, home, permit, reason) = self
            .account_to_manage(
                principal,
                user_id,
                reason,
                "nobody resets their own password: change it with changePassword",
            )
            .await?;
        check_password_rules(password, &account.username)
            .map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        let recent = scope::as_system(self.store.recent_password_hashes(&account)).await?;
        let candidate = password.to_owned();
        let (reused, hash) = self
            .with_password_slot(move || {
                let reused = recent.iter().any(|h| verify_password(&candidate, h));
                (reused, hash_password(&candidate))
            })
            .await?;
        if reused {
            return Err(ApiError::bad_input(
                "password",
                format!("choose a password other than the account's last {PASSWORDS_REMEMBERED}"),
            ));
        }
        let hash = hash.map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        let audit = NewAuditRecord::by(
            principal,
            home.ancestry.county,
            client,
            self.now(),
            "account.password_reset",
            format!("account {}", account.id),
        )
        .because(reason);
        let (account, ended) = self
            .store
            .reset_password(&permit, &account, &hash, self.session_now(), audit)
            .await?;
        for family in &ended {
            self.mark_ended(family).await?;
        }
        Ok(account)
    }
}
