//! The second factor of a sign-in (GB/T 22239-2019 8.1.4.1 d): a TOTP code (RFC 6238) from an
//! authenticator app, after the password. An account enrolls by proving its password
//! (`begin_second_factor`) and confirms with its first code at the next sign-in; once confirmed, every
//! sign-in and password change of the account needs a code. A county may require it of its
//! administrators, auditors and supervisors; the security administrator removes a lost one.

use std::net::IpAddr;

use fengqiao_tenancy::{Principal, Role, act, totp};

use crate::error::{ApiError, ApiResult, clean_text};
use crate::store::audit::NewAuditRecord;
use crate::store::scope;
use crate::store::users::UserRecord;

use super::AppState;

/// The roles that must sign in with a second factor where the county requires it.
pub const ROLES_WITH_SECOND_FACTOR: [Role; 4] = [
    Role::CountyAdmin,
    Role::SecurityAdmin,
    Role::Auditor,
    Role::Supervisor,
];

/// A secret being enrolled: what the authenticator app takes.
#[derive(Clone)]
pub struct Enrollment {
    /// Base32, for typing in.
    pub secret: String,
    /// `otpauth://…`, for a QR code.
    pub uri: String,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrollment").finish_non_exhaustive()
    }
}

fn principal_of(user: &UserRecord) -> Principal {
    Principal {
        user_id: user.id,
        tenant_id: user.tenant_id,
    }
}

impl AppState {
    /// Whether `user` must sign in with a second factor: its county requires one and it holds a role
    /// that needs it.
    async fn second_factor_required(&self, user: &UserRecord) -> bool {
        if !self.security_policy_of(user.county_id).require_totp {
            return false;
        }
        self.authz
            .grants_of(user.id)
            .await
            .iter()
            .any(|g| ROLES_WITH_SECOND_FACTOR.contains(&g.role))
    }

    /// Checks the second factor of an account whose password was right, before a session opens:
    /// `TOTP_REQUIRED` without a code where it has a factor, `TOTP_ENROLLMENT_REQUIRED` where it needs one
    /// and has none confirmed, `UNAUTHENTICATED` (counted as a wrong password) for a wrong or replayed
    /// code. A first right code confirms a factor being enrolled.
    pub(crate) async fn check_second_factor(
        &self,
        user: &UserRecord,
        code: Option<&str>,
        client: Option<IpAddr>,
    ) -> ApiResult<()> {
        let factor = scope::as_system(self.store.second_factor(user.id)).await?;
        let required = self.second_factor_required(user).await;
        let Some(factor) = factor else {
            return if required {
                self.audit_sign_in(user, client, "totp_enrollment_required")
                    .await?;
                Err(ApiError::SecondFactorRequired { enrolled: false })
            } else {
                Ok(())
            };
        };
        let confirmed = factor.confirmed_at.is_some();
        let Some(code) = code else {
            return if confirmed || required {
                self.audit_sign_in(user, client, "totp_required").await?;
                // Enrolling: the code of the new factor is what is missing.
                Err(ApiError::SecondFactorRequired { enrolled: true })
            } else {
                Ok(())
            };
        };
        let secret = self
            .vault
            .decrypt(&factor.secret_sealed)
            .ok()
            .and_then(|text| totp::secret_bytes(&text))
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "the second factor of account {} cannot be unsealed",
                    user.id
                ))
            })?;
        let now = self.session_now();
        let step = totp::verify(&secret, code, now.timestamp(), factor.last_step);
        let accepted = match step {
            Some(step) => {
                let audit = (!confirmed).then(|| {
                    NewAuditRecord::by(
                        &principal_of(user),
                        user.county_id,
                        client,
                        self.now(),
                        "account.totp_confirm",
                        format!("account {}", user.id),
                    )
                });
                scope::as_system(self.store.use_second_factor(user.id, step, now, audit)).await?
            }
            None => false,
        };
        if !accepted {
            self.count_wrong_code(user, client).await?;
            return Err(ApiError::Unauthenticated(
                "wrong username, password or code",
            ));
        }
        Ok(())
    }

    /// Starts (or starts again) enrolling a second factor for the account whose password this is: every
    /// defence of signing in applies. A confirmed factor is not replaced (`CONFLICT`: the security
    /// administrator removes a lost one).
    pub async fn begin_second_factor(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<Enrollment> {
        let user = self.check_password(username, password, client).await?;
        let secret = totp::new_secret();
        let text = totp::secret_text(&secret);
        let sealed = self.vault.encrypt(&text).map_err(ApiError::internal)?;
        let audit = NewAuditRecord::by(
            &principal_of(&user),
            user.county_id,
            client,
            self.now(),
            "account.totp_begin",
            format!("account {}", user.id),
        );
        let begun = scope::as_system(self.store.begin_second_factor(
            user.id,
            user.county_id,
            &sealed,
            audit,
        ))
        .await?;
        if begun {
            self.sign_in_proven(&user).await?;
        } else {
            return Err(ApiError::Conflict(
                "this account has a second factor; the security administrator removes a lost one"
                    .into(),
            ));
        }
        let county = self.directory.must(&self.store, user.county_id).await?;
        Ok(Enrollment {
            uri: totp::otpauth_uri(&format!("枫桥 {}", county.name), &user.username, &secret),
            secret: text,
        })
    }

    /// Removes another account's second factor (a lost or replaced device): the security
    /// administrator's (`security.configure` where the account belongs), with a reason. The account
    /// enrolls again at its next sign-in where its county requires it.
    pub async fn remove_second_factor(
        &self,
        principal: &Principal,
        user_id: i64,
        reason: &str,
        client: Option<IpAddr>,
    ) -> ApiResult<UserRecord> {
        let account = self.user(principal, user_id).await?;
        if account.id == principal.user_id {
            return Err(ApiError::Forbidden(
                "nobody removes their own second factor".into(),
            ));
        }
        let (home, _permit) = self
            .permit_on_tenant::<act::SecurityConfigure>(principal, account.tenant_id)
            .await?;
        let reason = clean_text("reason", reason, 2, 500, true)?;
        let audit = NewAuditRecord::by(
            principal,
            home.ancestry.county,
            client,
            self.now(),
            "account.totp_remove",
            format!("account {}", account.id),
        )
        .because(reason);
        if !self.store.remove_second_factor(account.id, audit).await? {
            return Err(ApiError::NotFound);
        }
        Ok(account)
    }

    /// Whether the account has a confirmed second factor.
    pub async fn has_second_factor(&self, user_id: i64) -> ApiResult<bool> {
        Ok(scope::as_system(self.store.second_factor(user_id))
            .await?
            .is_some_and(|f| f.confirmed_at.is_some()))
    }
}
