//! Subscriptions over websocket (`graphql-transport-ws` or `graphql-ws` on `/graphql`): a unit hears of
//! its new assignments and summonses, a center of reports and returns. The access token is checked when
//! the connection opens; every event is checked again, as the caller, before it is sent: an event about a
//! case the caller may not read is never delivered.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::caller;
use super::enums::LiveEventKind;
use super::ids::{GlobalId, decode_id, encode_id};
use super::nodes::CaseNode;
use crate::app::{AppState, Caller};
use crate::error::ApiError;
use crate::live::LiveEvent;
use fengqiao_domain::TenantLevel;
use fengqiao_tenancy::act;

/// Something that happened to a case, as its subscriber may see it.
pub struct LiveEventNode {
    event: LiveEvent,
    case: CaseNode,
}

#[Object(name = "LiveEvent")]
impl LiveEventNode {
    async fn kind(&self) -> LiveEventKind {
        self.event.kind.into()
    }

    /// The case as it is now.
    async fn case(&self) -> &CaseNode {
        &self.case
    }

    /// The unit addressed (assignments, summonses) or concerned (returns, summons reports).
    async fn unit_id(&self) -> Option<ID> {
        self.event.unit_id.map(|u| encode_id(GlobalId::Unit, u))
    }

    /// The center handling the case.
    async fn center_id(&self) -> ID {
        encode_id(GlobalId::Tenant, self.event.center_id)
    }

    async fn at(&self) -> DateTime<Utc> {
        self.event.at
    }
}

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// A unit's new assignments (as lead or co-unit) and summonses. Only the unit's members listen.
    async fn unit_events(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
    ) -> Result<impl Stream<Item = Result<LiveEventNode>> + use<>> {
        let caller = caller(ctx)?.clone();
        let principal = caller.principal.clone();
        let unit = decode_id("unitId", GlobalId::Unit, &unit_id)?;
        let app = state_arc(ctx);
        app.unit(&principal, unit).await?;
        if !app.authz.units_of(principal.user_id).await.contains(&unit) {
            return Err(ApiError::Forbidden(
                "only members of the unit listen to its events".into(),
            )
            .into());
        }
        let wanted = move |e: &LiveEvent| e.kind.for_unit() && e.unit_id == Some(unit);
        Ok(deliver(app, caller, wanted, None, Some(unit)))
    }

    /// A center's reports: cases registered there or escalated to it, cases returned by their lead unit,
    /// summoned units reporting. With `subtree`, those of every center below it too. Needs the right to
    /// read the center's cases.
    async fn center_events(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        #[graphql(desc = "Also the events of every center below it (default: no).")]
        subtree: Option<bool>,
    ) -> Result<impl Stream<Item = Result<LiveEventNode>> + use<>> {
        let subtree = subtree.unwrap_or(false);
        let caller = caller(ctx)?.clone();
        let principal = caller.principal.clone();
        let center = decode_id("tenantId", GlobalId::Tenant, &tenant_id)?;
        let app = state_arc(ctx);
        let (tenant, _) = app
            .permit_on_tenant::<act::CaseRead>(&principal, center)
            .await?;
        let wanted = move |e: &LiveEvent| !e.kind.for_unit() && (subtree || e.center_id == center);
        let below = subtree.then_some((tenant.level, tenant.id));
        Ok(deliver(app, caller, wanted, below, None))
    }
}

fn state_arc(ctx: &Context<'_>) -> Arc<AppState> {
    ctx.data_unchecked::<Arc<AppState>>().clone()
}

/// The events `wanted` picks, of centers in the subtree `below` when it is given, each sent only if the
/// caller may read its case at that moment. When the caller's access token has expired, its session
/// was signed out or its account deactivated, the next event ends the subscription with
/// `UNAUTHENTICATED` instead; when the caller listens as a member of the unit `member_of` and has left
/// it, with `FORBIDDEN`.
fn deliver(
    app: Arc<AppState>,
    caller: Caller,
    wanted: impl Fn(&LiveEvent) -> bool + Send + Sync + 'static,
    below: Option<(TenantLevel, i64)>,
    member_of: Option<i64>,
) -> impl Stream<Item = Result<LiveEventNode>> {
    let events: Receiver<LiveEvent> = app.live.subscribe();
    let wanted = Arc::new(wanted);
    futures::stream::unfold(
        Some((events, app, caller, wanted)),
        move |open| async move {
            let (mut events, app, caller, wanted) = open?;
            let principal = &caller.principal;
            loop {
                match events.recv().await {
                    Ok(event) if wanted(&event) => {
                        if let Err(ended) = app.still_valid(&caller).await {
                            return Some((Err(ended.into()), None));
                        }
                        if let Some(unit) = member_of
                            && !app.authz.units_of(principal.user_id).await.contains(&unit)
                        {
                            let left = ApiError::Forbidden(
                                "no longer a member of the unit: its events end here".into(),
                            );
                            return Some((Err(left.into()), None));
                        }
                        if let Some((level, id)) = below {
                            match app.tenant_if_any(event.center_id).await {
                                Ok(Some(center)) if center.ancestry.is_within(level, id) => {}
                                _ => continue,
                            }
                        }
                        match app.case(principal, event.case_id).await {
                            Ok(case) => {
                                let node = LiveEventNode {
                                    event,
                                    case: CaseNode(case),
                                };
                                return Some((Ok(node), Some((events, app, caller, wanted))));
                            }
                            Err(ApiError::NotFound | ApiError::Forbidden(_)) => {}
                            Err(e) => tracing::warn!(
                                error = %e.detail(),
                                "checking a live event for a subscriber"
                            ),
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a subscriber fell behind and skipped events");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    )
}
