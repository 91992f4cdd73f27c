//! Signing in and out, refreshing a session, and `me`.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::enums::Role;
use super::ids::{GlobalId, encode_id};
use super::inputs::{input_or_arguments, required};
use super::nodes::{TenantNode, UnitNode, UserNode};
use super::{ClientAddress, PasswordBudget, UserAgent, caller, state};
use crate::app::records::{SecurityPolicy, SessionRecord};
use crate::app::{AppState, Caller, Session};
use crate::error::{ApiError, ApiResult};

#[derive(InputObject)]
pub struct SignInInput {
    pub username: String,
    pub password: String,
    /// The code of the account's authenticator app, where it has a second factor (`TOTP_REQUIRED`
    /// without it) or is enrolling one (the first code confirms it).
    pub totp: Option<String>,
}

/// Enrolling a second factor, proved by the account's password.
#[derive(InputObject)]
pub struct BeginTotpEnrollmentInput {
    pub username: String,
    pub password: String,
}

/// A TOTP secret for an authenticator app (RFC 6238: SHA-1, 6 digits, 30 s). Shown once; the next
/// `signIn` with a code of it confirms it.
#[derive(SimpleObject)]
pub struct TotpEnrollmentPayload {
    /// The secret in base32, to type in.
    pub secret: String,
    /// `otpauth://totp/…`, to show as a QR code.
    pub uri: String,
}

#[derive(InputObject)]
pub struct RemoveSecondFactorInput {
    pub user_id: async_graphql::ID,
    /// Why (2 to 500 characters), for the audit trail.
    pub reason: String,
}

/// A password change, proved by the current password: what an account whose sign-in answered
/// `PASSWORD_CHANGE_REQUIRED` does, and what any account may do.
#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub username: String,
    pub current_password: String,
    /// At least 8 characters of 3 classes (lower-case, upper-case, digits, other), not a commonly guessed
    /// one, not containing the username, and none of the account's last 5.
    pub new_password: String,
    /// The code of the account's second factor, where it has one.
    pub totp: Option<String>,
}

#[derive(InputObject)]
pub struct RefreshSessionInput {
    /// The refresh token of the pair being traded; it works once.
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct RevokeSessionInput {
    pub session_id: async_graphql::ID,
}

/// A county's rules for sessions and passwords.
#[derive(InputObject)]
pub struct SetSecurityPolicyInput {
    /// The county.
    pub tenant_id: async_graphql::ID,
    /// A session unused this long ends (5–240 minutes).
    pub idle_minutes: i32,
    /// A session ends this long after its sign-in (1–24 hours).
    pub absolute_hours: i32,
    /// Sessions an account may hold at once (1–20); signing in past it ends the oldest.
    pub max_sessions: i32,
    /// Days after which a password must be changed (30–365), or 0 for never.
    pub password_max_age_days: i32,
    /// Whether the administrators, auditors and supervisors sign in with a second factor (TOTP).
    pub require_totp: bool,
}

/// A county's rules for sessions and passwords, as in force.
#[derive(SimpleObject)]
#[graphql(name = "SecurityPolicy")]
pub struct SecurityPolicyNode {
    pub idle_minutes: i32,
    pub absolute_hours: i32,
    pub max_sessions: i32,
    pub password_max_age_days: i32,
    pub require_totp: bool,
}

impl From<SecurityPolicy> for SecurityPolicyNode {
    fn from(p: SecurityPolicy) -> Self {
        SecurityPolicyNode {
            idle_minutes: p.idle_minutes,
            absolute_hours: p.absolute_hours,
            max_sessions: p.max_sessions,
            password_max_age_days: p.password_max_age_days,
            require_totp: p.require_totp,
        }
    }
}

/// One of the signed-in account's sessions (a sign-in and the refreshes after it).
pub struct SessionNode {
    record: SessionRecord,
    current: bool,
}

impl SessionNode {
    /// One of the caller's own sessions, as `node` finds it.
    pub(super) async fn own(caller: &Caller, app: &AppState, id: i64) -> ApiResult<SessionNode> {
        let record = app.own_session(caller, id).await?;
        Ok(SessionNode {
            current: record.family_id == caller.family,
            record,
        })
    }
}

#[Object(name = "Session")]
impl SessionNode {
    pub async fn id(&self) -> async_graphql::ID {
        encode_id(GlobalId::Session, self.record.id)
    }
    /// Whether this is the session of the request's own token.
    async fn current(&self) -> bool {
        self.current
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.record.started_at
    }
    /// When it was last used (known to the minute).
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.record.last_seen_at
    }
    /// When it ends at the latest, however busy.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.record.expires_at
    }
    /// When it ended, if it has.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.record.ended_at
    }
    /// The address it signed in from.
    async fn client_address(&self) -> Option<&str> {
        self.record.client_address.as_deref()
    }
    /// The `User-Agent` it signed in with.
    async fn user_agent(&self) -> &str {
        &self.record.user_agent
    }
}

/// The tokens of a session. Send the access token as `Authorization: Bearer …`; trade the refresh token,
/// once, for a new pair before the access token expires.
#[derive(SimpleObject)]
pub struct SessionPayload {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub user: UserNode,
}

impl From<Session> for SessionPayload {
    fn from(s: Session) -> Self {
        SessionPayload {
            access_token: s.access_token,
            access_token_expires_at: s.access_expires_at,
            refresh_token: s.refresh_token,
            user: UserNode(s.user),
        }
    }
}

/// A role an account holds, and where (it reaches the tenant's subtree).
#[derive(SimpleObject)]
pub struct RoleGrantNode {
    pub role: Role,
    pub tenant: TenantNode,
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The signed-in user, the tenant they act in, and their roles.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let caller = caller(ctx)?;
        let app = state(ctx);
        let user = app
            .user(&caller.principal, caller.principal.user_id)
            .await?;
        Ok(Me { user })
    }

    /// The rules for sessions and passwords in force at a county the caller may see.
    async fn security_policy(
        &self,
        ctx: &Context<'_>,
        tenant_id: async_graphql::ID,
    ) -> Result<SecurityPolicyNode> {
        let caller = caller(ctx)?;
        let county = super::ids::decode_id("tenantId", GlobalId::Tenant, &tenant_id)?;
        Ok(state(ctx)
            .security_policy(&caller.principal, county)
            .await?
            .into())
    }
}

pub struct Me {
    user: crate::app::records::UserRecord,
}

#[Object]
impl Me {
    async fn user(&self) -> UserNode {
        UserNode(self.user.clone())
    }

    async fn tenant(&self, ctx: &Context<'_>) -> Result<TenantNode> {
        let app = state(ctx);
        Ok(TenantNode(app.tenant_record(self.user.tenant_id).await?))
    }

    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<RoleGrantNode>> {
        let app = state(ctx);
        let mut out = Vec::new();
        for grant in app.authz.grants_of(self.user.id).await {
            let tenant = app.tenant_record(grant.tenant_id).await?;
            out.push(RoleGrantNode {
                role: grant.role.into(),
                tenant: TenantNode(tenant),
            });
        }
        Ok(out)
    }

    /// The units the user works in.
    async fn units(&self, ctx: &Context<'_>) -> Result<Vec<UnitNode>> {
        let ids = state(ctx).authz.units_of(self.user.id).await;
        super::batches::units(ctx, &ids).await
    }

    /// The global id of the user.
    #[graphql(
        deprecation = "Use user.id: Me is the viewer, not a node of its own (every type with an id is a Node)."
    )]
    async fn id(&self) -> async_graphql::ID {
        encode_id(GlobalId::User, self.user.id)
    }

    /// Whether the account signs in with a confirmed second factor (TOTP).
    async fn has_second_factor(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(state(ctx).has_second_factor(self.user.id).await?)
    }

    /// The account's live sessions, newest first (at most the county's `maxSessions`).
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<SessionNode>> {
        let caller = caller(ctx)?;
        let sessions = state(ctx).own_sessions(caller).await?;
        Ok(sessions
            .into_iter()
            .map(|record| SessionNode {
                current: record.family_id == caller.family,
                record,
            })
            .collect())
    }
}

/// Takes the request's one password check (aliases and batches get no second), and answers the client's
/// address and `User-Agent` for the session it may open.
fn password_check<'a>(
    ctx: &'a Context<'_>,
) -> Result<(Option<std::net::IpAddr>, &'a str), ApiError> {
    let budget = ctx.data_opt::<PasswordBudget>();
    if !budget.is_some_and(PasswordBudget::take) {
        return Err(ApiError::RateLimited {
            why: "one request may check one password",
            retry_after: 0,
        });
    }
    let client = ctx.data_opt::<ClientAddress>().and_then(|c| c.0);
    let agent = ctx.data_opt::<UserAgent>().map_or("", |a| a.0.as_str());
    Ok((client, agent))
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Signs in with a username and password. One request checks at most one password (a second
    /// `signIn` in it answers `RATE_LIMITED`). Five wrong passwords in a row lock the account for 15
    /// minutes (`ACCOUNT_LOCKED`, with `extensions.retryAfter` in seconds), and one client address may
    /// send at most 20 wrong passwords in 15 minutes (`RATE_LIMITED`).
    #[graphql(complexity = 10)]
    async fn sign_in(&self, ctx: &Context<'_>, input: SignInInput) -> Result<SessionPayload> {
        let (client, agent) = password_check(ctx)?;
        Ok(state(ctx)
            .sign_in(
                &input.username,
                &input.password,
                input.totp.as_deref(),
                client,
                agent,
            )
            .await?
            .into())
    }

    /// Changes the account's password, proved by the current one, and signs in: every other session of
    /// the account ends. The current password is checked as `signIn` checks it (one per request, counted
    /// towards the lock and the address's limit). A new password that breaks a rule is `BAD_USER_INPUT`
    /// on `newPassword`.
    #[graphql(complexity = 10)]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> Result<SessionPayload> {
        let (client, agent) = password_check(ctx)?;
        Ok(state(ctx)
            .change_password(
                &input.username,
                &input.current_password,
                &input.new_password,
                input.totp.as_deref(),
                client,
                agent,
            )
            .await?
            .into())
    }

    /// Starts enrolling a second factor (TOTP) for the account whose password this is (checked as
    /// `signIn` checks it). Answers the secret for an authenticator app; the next `signIn` with a code
    /// of it confirms it, and from then on every sign-in needs a code. An account with a confirmed
    /// factor gets `CONFLICT` (the security administrator removes a lost one).
    #[graphql(complexity = 10)]
    async fn begin_totp_enrollment(
        &self,
        ctx: &Context<'_>,
        input: BeginTotpEnrollmentInput,
    ) -> Result<TotpEnrollmentPayload> {
        let (client, _) = password_check(ctx)?;
        let enrollment = state(ctx)
            .begin_second_factor(&input.username, &input.password, client)
            .await?;
        Ok(TotpEnrollmentPayload {
            secret: enrollment.secret,
            uri: enrollment.uri,
        })
    }

    /// Removes another account's second factor (a lost device): the security administrator's, with a
    /// reason. The account enrolls again where its county requires a second factor.
    async fn remove_second_factor(
        &self,
        ctx: &Context<'_>,
        input: RemoveSecondFactorInput,
    ) -> Result<UserNode> {
        let caller = caller(ctx)?;
        let id = super::ids::decode_id("userId", GlobalId::User, &input.user_id)?;
        let client = ctx.data_opt::<ClientAddress>().and_then(|c| c.0);
        Ok(UserNode(
            state(ctx)
                .remove_second_factor(&caller.principal, id, &input.reason, client)
                .await?,
        ))
    }

    /// Ends one of the signed-in account's own sessions (see `me.sessions`): its tokens stop working on
    /// every server from the next request. Another account's session is `NOT_FOUND`.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        input: RevokeSessionInput,
    ) -> Result<SessionNode> {
        let caller = caller(ctx)?;
        let id = super::ids::decode_id("sessionId", GlobalId::Session, &input.session_id)?;
        let client = ctx.data_opt::<ClientAddress>().and_then(|c| c.0);
        let record = state(ctx).end_own_session(caller, id, client).await?;
        Ok(SessionNode {
            current: record.family_id == caller.family,
            record,
        })
    }

    /// Sets a county's rules for sessions and passwords (the security administrator's). The idle timeout
    /// applies to open sessions at once; the absolute lifetime to sessions opened after.
    async fn set_security_policy(
        &self,
        ctx: &Context<'_>,
        input: SetSecurityPolicyInput,
    ) -> Result<SecurityPolicyNode> {
        let caller = caller(ctx)?;
        let county = super::ids::decode_id("tenantId", GlobalId::Tenant, &input.tenant_id)?;
        let client = ctx.data_opt::<ClientAddress>().and_then(|c| c.0);
        let policy = SecurityPolicy {
            idle_minutes: input.idle_minutes,
            absolute_hours: input.absolute_hours,
            max_sessions: input.max_sessions,
            password_max_age_days: input.password_max_age_days,
            require_totp: input.require_totp,
        };
        Ok(state(ctx)
            .set_security_policy(&caller.principal, county, policy, client)
            .await?
            .into())
    }

    /// Trades a refresh token for a new session pair. Each refresh token works once; presenting a spent
    /// one revokes the whole session.
    #[graphql(complexity = 1000)]
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: Option<RefreshSessionInput>,
        #[graphql(deprecation = "Use input.")] refresh_token: Option<String>,
    ) -> Result<SessionPayload> {
        let any = refresh_token.is_some();
        let input = input_or_arguments(input, any, || {
            Ok(RefreshSessionInput {
                refresh_token: required("refreshToken", refresh_token)?,
            })
        })?;
        Ok(state(ctx).refresh(&input.refresh_token).await?.into())
    }

    /// Ends the current session: its refresh tokens stop working and its access tokens are refused.
    async fn sign_out(&self, ctx: &Context<'_>) -> Result<bool> {
        let caller = caller(ctx)?;
        let client = ctx.data_opt::<ClientAddress>().and_then(|c| c.0);
        state(ctx).sign_out(caller, client).await?;
        Ok(true)
    }
}
