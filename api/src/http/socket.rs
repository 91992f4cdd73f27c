//! GraphQL over a websocket (`graphql-transport-ws` or `graphql-ws`): subscriptions, and any other
//! operation a client sends that way.

use std::any::TypeId;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::{Data, Executor};
use async_graphql_actix_web::GraphQLSubscription;
use futures::StreamExt;
use futures::stream::BoxStream;

use super::headers::RequestId;
use super::persisted::PersistedQueryStore;
use super::{BodyLimits, client_address, request_scope, user_agent};
use crate::app::AppState;
use crate::graphql::{
    ClientAddress, CountBudget, FengqiaoSchema, PasswordBudget, RequestAuth, UserAgent,
    assign_error_codes,
};
use crate::store::scope::{self, DbScope};

/// Subscriptions (and any other operation) over a websocket, `graphql-transport-ws` or `graphql-ws`.
pub(super) async fn graphql_ws(
    schema: web::Data<FengqiaoSchema>,
    state: web::Data<Arc<AppState>>,
    limits: web::Data<BodyLimits>,
    persisted: web::Data<PersistedQueryStore>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let state = state.get_ref().clone();
    let client = ClientAddress(client_address(&req, &limits.trusted_proxies));
    let agent = user_agent(&req);
    GraphQLSubscription::new(ScopedSchema {
        schema: schema.get_ref().clone(),
        state: state.clone(),
        request_id: RequestId::of(&req),
        persisted: persisted.into_inner(),
    })
    .on_connection_init(move |init| connection_init(state, init, client, agent))
    .start(&req, metered(payload, limits.max_bytes))
}

/// What a websocket may send: a burst of `burst` bytes, refilled at `burst` a minute. The websocket codec
/// caps a frame at 64 KiB, but a message sent in continuation frames is gathered whole before it is
/// parsed; past the budget the stream ends, and with it the connection.
fn metered(
    payload: web::Payload,
    burst: usize,
) -> impl futures::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + 'static {
    let burst = burst as f64;
    let per_second = burst / 60.0;
    let mut allowance = burst;
    let mut last = std::time::Instant::now();
    let mut exhausted = false;
    payload.map(move |chunk| {
        if exhausted {
            return Err(actix_web::error::PayloadError::Overflow);
        }
        let chunk = chunk?;
        let now = std::time::Instant::now();
        allowance = (allowance + now.duration_since(last).as_secs_f64() * per_second).min(burst);
        last = now;
        allowance -= chunk.len() as f64;
        if allowance < 0.0 {
            exhausted = true;
            tracing::warn!("a websocket sent more than its budget; closing it");
            return Err(actix_web::error::PayloadError::Overflow);
        }
        Ok(chunk)
    })
}

/// Checks the access token of a websocket's `connection_init` (`{"Authorization": "Bearer …"}`, or
/// `{"token": "…"}`) and keeps the caller and its database scope for the connection's operations. A
/// connection without a valid token is closed.
async fn connection_init(
    state: Arc<AppState>,
    init: serde_json::Value,
    client: ClientAddress,
    agent: UserAgent,
) -> async_graphql::Result<Data> {
    let bearer = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| init.get(*key).and_then(|v| v.as_str()))
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| init.get("token").and_then(|v| v.as_str()))
        .map(str::trim)
        .ok_or_else(|| {
            async_graphql::Error::new(
                "send the access token in connection_init: {\"Authorization\": \"Bearer …\"}",
            )
        })?;
    let caller = state
        .authenticate(bearer)
        .await
        .map_err(|e| async_graphql::Error::new(e.message()))?;
    let auth = RequestAuth::Caller(caller);
    let rows = request_scope(&state, &auth).await;
    let mut data = Data::default();
    data.insert(auth);
    data.insert(rows);
    data.insert(client);
    data.insert(agent);
    Ok(data)
}

/// The schema for websocket connections: every operation runs in its connection's database scope, only
/// while the connection's session is live (not signed out, its access token not expired), with a password
/// check of its own; its errors get stable codes as over HTTP.
/// Its errors name the id of the request that opened the connection.
#[derive(Clone)]
struct ScopedSchema {
    schema: FengqiaoSchema,
    state: Arc<AppState>,
    request_id: RequestId,
    /// In allow-list mode, only the manifest's operations run here too.
    persisted: Arc<PersistedQueryStore>,
}

fn session_value<T: Clone + Send + Sync + 'static>(data: Option<&Data>) -> Option<T> {
    data.and_then(|data| data.get(&TypeId::of::<T>()))
        .and_then(|value| value.downcast_ref::<T>())
        .cloned()
}

impl Executor for ScopedSchema {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        // Websocket operations arrive through `execute_stream`, with their connection's data; a request
        // on its own carries no caller.
        let mut response = scope::within(DbScope::Nobody, self.schema.execute(request)).await;
        assign_error_codes(&mut response.errors, &self.request_id.0);
        response
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let rows = session_value::<DbScope>(session_data.as_deref()).unwrap_or(DbScope::Nobody);
        let caller = match session_value::<RequestAuth>(session_data.as_deref()) {
            Some(RequestAuth::Caller(caller)) => Some(caller),
            _ => None,
        };
        let client =
            session_value::<ClientAddress>(session_data.as_deref()).unwrap_or(ClientAddress(None));
        let request = request
            .data(PasswordBudget::one())
            .data(CountBudget::per_request())
            .data(client);
        let (schema, state) = (self.schema.clone(), self.state.clone());
        let request_id = self.request_id.clone();
        let span = tracing::info_span!("request", request_id = %request_id.0);
        if let Err(refused) = self.persisted.check_text(&request.query) {
            let mut errors = vec![refused.server_error()];
            assign_error_codes(&mut errors, &request_id.0);
            return futures::stream::once(
                async move { async_graphql::Response::from_errors(errors) },
            )
            .boxed();
        }
        let operation = async move {
            if let Some(caller) = &caller
                && let Err(refused) = state.still_valid(caller).await
            {
                let error = async_graphql::ErrorExtensions::extend(&refused)
                    .into_server_error(async_graphql::Pos::default());
                return futures::stream::once(async move {
                    async_graphql::Response::from_errors(vec![error])
                })
                .boxed();
            }
            let responses =
                schema.execute_stream_with_session_data(request, session_data.unwrap_or_default());
            scope::within_stream(rows, responses).boxed()
        };
        InSpan {
            span,
            inner: futures::stream::once(operation)
                .flatten()
                .map(move |mut response| {
                    assign_error_codes(&mut response.errors, &request_id.0);
                    response
                })
                .boxed(),
        }
        .boxed()
    }
}

/// A stream polled inside a span, so that what its operation logs names its connection's request.
struct InSpan<S> {
    span: tracing::Span,
    inner: S,
}

impl<S: futures::Stream + Unpin> futures::Stream for InSpan<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        this.inner.poll_next_unpin(cx)
    }
}
