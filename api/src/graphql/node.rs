//! The Relay `Node` interface, `node(id)` and `nodes(ids)`: every object with an `id` is a node, found by
//! its global id exactly when the caller may see it where it appears.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::cases::{PartyNode, SupervisionOrderNode};
use super::identity::SessionNode;
use super::ids::{GlobalId, decode_any};
use super::nodes::{CaseNode, SummonsNode, TenantNode, UnitNode, UserNode};
use super::{caller, state};
use crate::app::Caller;
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
    Party(PartyNode),
    SupervisionOrder(SupervisionOrderNode),
    Summons(SummonsNode),
    Session(SessionNode),
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
        Ok(visible(found(state(ctx), caller(ctx)?, &id).await)?)
    }

    /// Several objects by their global ids (at most 100), in the order asked, each `null` when there is
    /// none the caller may see.
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        let caller = caller(ctx)?;
        if ids.len() > MAX_NODES {
            return Err(ApiError::bad_input("ids", "ask for at most 100 ids at once").into());
        }
        let app = state(ctx);
        let mut nodes = Vec::with_capacity(ids.len());
        for id in &ids {
            nodes.push(visible(found(app, caller, id).await)?);
        }
        Ok(nodes)
    }
}

/// `NOT_FOUND` as `None`; other errors, a malformed id's `BAD_USER_INPUT` among them, stay.
fn visible(found: Result<Node, ApiError>) -> Result<Option<Node>, ApiError> {
    match found {
        Ok(node) => Ok(Some(node)),
        Err(ApiError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

/// The object an id names, read as the field that shows it reads it: a case, tenant, unit or account
/// by its own rights, a party, supervision order or summons when its case is readable, a session when
/// it is the caller's own.
async fn found(app: &crate::app::AppState, caller: &Caller, id: &ID) -> Result<Node, ApiError> {
    let principal = &caller.principal;
    Ok(match decode_any("id", id)? {
        (GlobalId::Case, id) => Node::Case(CaseNode(app.case(principal, id).await?)),
        (GlobalId::Tenant, id) => Node::Tenant(TenantNode(app.tenant(principal, id).await?)),
        (GlobalId::Unit, id) => Node::Unit(UnitNode(app.unit(principal, id).await?)),
        (GlobalId::User, id) => Node::User(UserNode(app.user(principal, id).await?)),
        (GlobalId::Party, id) => Node::Party(PartyNode::find(app, principal, id).await?),
        (GlobalId::SupervisionOrder, id) => {
            Node::SupervisionOrder(SupervisionOrderNode::find(app, principal, id).await?)
        }
        (GlobalId::Summons, id) => {
            Node::Summons(SummonsNode(app.summons_by_id(principal, id).await?))
        }
        (GlobalId::Session, id) => Node::Session(SessionNode::own(caller, app, id).await?),
    })
}
