//! Signing in and out, refreshing a session, and `me`.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::enums::Role;
use super::ids::{GlobalId, encode_id};
use super::nodes::{TenantNode, UnitNode, UserNode};
use super::{ClientAddress, PasswordBudget, caller, state};
use crate::app::Session;
use crate::error::ApiError;

#[derive(InputObject)]
pub struct SignInInput {
    pub username: String,
    pub password: String,
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
    async fn id(&self) -> async_graphql::ID {
        encode_id(GlobalId::User, self.user.id)
    }
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
        let budget = ctx.data_opt::<PasswordBudget>();
        if !budget.is_some_and(PasswordBudget::take) {
            return Err(ApiError::RateLimited {
                why: "one request may check one password",
                retry_after: 0,
            }
            .into());
        }
        let client = ctx.data_opt::<ClientAddress>().and_then(|c| c.0);
        Ok(state(ctx)
            .sign_in(&input.username, &input.password, client)
            .await?
            .into())
    }

    /// Trades a refresh token for a new session pair. Each refresh token works once; presenting a spent
    /// one revokes the whole session.
    #[graphql(complexity = 1000)]
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<SessionPayload> {
        Ok(state(ctx).refresh(&refresh_token).await?.into())
    }

    /// Ends the current session: its refresh tokens stop working and its access tokens are refused.
    async fn sign_out(&self, ctx: &Context<'_>) -> Result<bool> {
        let caller = caller(ctx)?;
        let client = ctx.data_opt::<ClientAddress>().and_then(|c| c.0);
        state(ctx).sign_out(caller, client).await?;
        Ok(true)
    }
}
