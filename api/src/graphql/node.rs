//! The Relay `Node` interface and `node(id)`.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::ids::{GlobalId, decode_any};
use super::nodes::{CaseNode, TenantNode, UnitNode, UserNode};
use super::{caller, state};
use crate::error::ApiError;

// A short-lived value per response, so the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Case(CaseNode),
    Tenant(TenantNode),
    Unit(UnitNode),
    User(UserNode),
}

#[derive(Default)]
pub struct NodeQuery;

/// Most ids one `nodes` call may ask for.
const MAX_NODES: usize = 100;

#[Object]
impl NodeQuery {
    /// Any object by its global id: `null` when there is none the caller may see (whether it exists
    /// elsewhere is not told).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let principal = &caller(ctx)?.principal;
        Ok(visible(found(state(ctx), principal, &id).await)?)
    }

    /// Several objects by their global ids (at most 100), in the order asked, each `null` when there is
    /// none the caller may see.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        let principal = &caller(ctx)?.principal;
        if ids.len() > MAX_NODES {
            return Err(ApiError::bad_input("ids", "ask for at most 100 ids at once").into());
        }
        let app = state(ctx);
        let mut nodes = Vec::with_capacity(ids.len());
        for id in &ids {
            nodes.push(visible(found(app, principal, id).await)?);
        }
        Ok(nodes)
    }
}

/// `NOT_FOUND` (also for an id of a kind that is no node) as `None`; other errors, a malformed id's
/// `BAD_USER_INPUT` among them, stay.
fn visible(found: Result<Node, ApiError>) -> Result<Option<Node>, ApiError> {
    match found {
        Ok(node) => Ok(Some(node)),
        Err(ApiError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

async fn found(
    app: &crate::app::AppState,
    principal: &fengqiao_tenancy::Principal,
    id: &ID,
) -> Result<Node, ApiError> {
    Ok(match decode_any("id", id)? {
        (GlobalId::Case, id) => Node::Case(CaseNode(app.case(principal, id).await?)),
        (GlobalId::Tenant, id) => Node::Tenant(TenantNode(app.tenant(principal, id).await?)),
        (GlobalId::Unit, id) => Node::Unit(UnitNode(app.unit(principal, id).await?)),
        (GlobalId::User, id) => Node::User(UserNode(app.user(principal, id).await?)),
        (
            GlobalId::Party | GlobalId::SupervisionOrder | GlobalId::Summons | GlobalId::Session,
            _,
        ) => return Err(ApiError::NotFound),
    })
}
