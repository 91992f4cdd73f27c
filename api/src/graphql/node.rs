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

#[Object]
impl NodeQuery {
    /// Any object by its global id, if the caller may see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Node> {
        let principal = &caller(ctx)?.principal;
        let app = state(ctx);
        Ok(match decode_any("id", &id)? {
            (GlobalId::Case, id) => Node::Case(CaseNode(app.case(principal, id).await?)),
            (GlobalId::Tenant, id) => Node::Tenant(TenantNode(app.tenant(principal, id).await?)),
            (GlobalId::Unit, id) => Node::Unit(UnitNode(app.unit(principal, id).await?)),
            (GlobalId::User, id) => Node::User(UserNode(app.user(principal, id).await?)),
            (
                GlobalId::Party
                | GlobalId::SupervisionOrder
                | GlobalId::Summons
                | GlobalId::Session,
                _,
            ) => {
                return Err(ApiError::NotFound.into());
            }
        })
    }
}
