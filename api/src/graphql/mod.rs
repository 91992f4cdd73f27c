//! The GraphQL API: one file per aggregate, merged into the schema here. Resolvers are thin: they decode
//! ids and inputs, call `AppState`, and map records to objects.

mod audit;
mod batches;
mod case_commands;
mod cases;
mod dashboard;
mod enums;
mod identity;
mod ids;
mod inputs;
mod limits;
mod live;
mod node;
mod nodes;
mod paging;
mod policies;
mod rosters;
mod search;
mod tenants;

use std::sync::Arc;

use async_graphql::{Context, MergedObject, MergedSubscription, Schema, ServerError};

use crate::app::{AppState, Caller};
use crate::config::GraphqlConfig;
use crate::error::{ApiError, ApiResult};

pub use ids::{GlobalId, decode_id, encode_id};
pub use limits::{Introspection, OverGet, RequestLimits, json_nesting};

#[derive(MergedObject, Default)]
pub struct Query(
    identity::IdentityQuery,
    tenants::TenantQuery,
    cases::CaseQuery,
    node::NodeQuery,
    policies::PolicyQuery,
    dashboard::DashboardQuery,
    search::CaseSearchQuery,
    audit::AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    identity::IdentityMutation,
    tenants::TenantMutation,
    case_commands::CaseMutation,
    policies::PolicyMutation,
    rosters::RosterMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(live::LiveSubscription);

pub type FengqiaoSchema = Schema<Query, Mutation, Subscription>;

/// Who is asking, as the HTTP layer found it.
#[derive(Debug, Clone)]
pub enum RequestAuth {
    Anonymous,
    Caller(Caller),
    /// A bearer token was sent but refused, with the reason.
    Refused(&'static str),
}

/// The client's address as the HTTP layer found it (the peer, or what a trusted proxy forwarded).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<std::net::IpAddr>);

/// The request's `User-Agent` (at most 200 characters), kept with the sessions it opens.
#[derive(Debug, Clone, Default)]
pub struct UserAgent(pub String);

/// One password check per request: aliased or batched `signIn` fields cannot try several passwords at
/// once. Each HTTP request and each websocket operation gets its own.
#[derive(Debug, Default)]
pub struct PasswordBudget(std::sync::atomic::AtomicBool);

impl PasswordBudget {
    pub fn one() -> Self {
        PasswordBudget(std::sync::atomic::AtomicBool::new(true))
    }

    /// Takes the request's one check; false once it is taken (or where none was given).
    pub fn take(&self) -> bool {
        self.0.swap(false, std::sync::atomic::Ordering::SeqCst)
    }
}

/// The count queries (`cases.totalCount`) one request may run: each is a `COUNT` over the caller's
/// whole scope, so aliases must not multiply them. Each HTTP request and websocket operation gets its
/// own.
#[derive(Debug)]
pub struct CountBudget(std::sync::atomic::AtomicU8);

impl CountBudget {
    /// Counts one request may run.
    pub const PER_REQUEST: u8 = 5;

    pub fn per_request() -> Self {
        CountBudget(std::sync::atomic::AtomicU8::new(Self::PER_REQUEST))
    }

    /// Takes one count; false once they are spent.
    pub fn take(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        self.0
            .fetch_update(SeqCst, SeqCst, |left| left.checked_sub(1))
            .is_ok()
    }
}

pub fn build_schema(state: Arc<AppState>, config: &GraphqlConfig) -> FengqiaoSchema {
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(state.clone())
    .extension(batches::Batching { state })
    .limit_depth(config.max_depth)
    .limit_complexity(config.max_complexity)
    .limit_directives(16)
    .extension(RequestLimits {
        max_nesting: config.max_nesting,
        max_fields: config.max_fields,
        introspection: config.introspection,
        max_query_time: std::time::Duration::from_millis(config.max_query_millis),
        mutations: crate::cache::Bucket {
            capacity: config.mutation_burst,
            per_minute: config.mutations_per_minute,
        },
    });
    if config.suggestions {
        builder.finish()
    } else {
        builder.disable_suggestions().finish()
    }
}

/// The schema as SDL, for `print-schema` and the drift check.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl()
}

pub(crate) fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<Arc<AppState>>()
}

/// The signed-in caller, or `UNAUTHENTICATED`.
pub(crate) fn caller<'a>(ctx: &Context<'a>) -> ApiResult<&'a Caller> {
    match ctx.data_opt::<RequestAuth>() {
        Some(RequestAuth::Caller(caller)) => Ok(caller),
        Some(RequestAuth::Refused(why)) => Err(ApiError::Unauthenticated(why)),
        _ => Err(ApiError::Unauthenticated(
            "sign in first: send an access token as 'Authorization: Bearer …'",
        )),
    }
}

/// Gives every error a stable `extensions.code` and the request's id (`extensions.requestId`, the id in
/// the server's log lines of that request): errors raised by resolvers carry a code already; errors
/// raised by the GraphQL engine before any resolver ran (syntax, unknown fields, wrong argument types,
/// depth and complexity limits) get one here.
pub fn assign_error_codes(errors: &mut [ServerError], request_id: &str) {
    for error in errors {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("requestId", request_id);
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        let message = error.message.as_str();
        let code = if message.contains("Invalid value for argument")
            || message.contains("Failed to parse")
        {
            "BAD_USER_INPUT"
        } else if message.contains("too complex") || message.contains("nested too deep") {
            "QUERY_TOO_COMPLEX"
        } else if message.starts_with("syntax error")
            || message.contains("Parse error")
            || message.starts_with(" -->")
            || message.contains("expected")
        {
            "GRAPHQL_PARSE_FAILED"
        } else {
            "GRAPHQL_VALIDATION_FAILED"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}
