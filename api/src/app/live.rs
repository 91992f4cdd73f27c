//! Live events: published to subscribers on every replica after a change commits, and relayed from the bus
//! to this process's subscribers.

use crate::app::AppState;
use crate::bus::BusEvent;
use crate::error::{ApiError, ApiResult};
use crate::live::{LiveEvent, TOPIC};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

impl AppState {
    /// Publishes events of a change already stored. A failure to publish is never the caller's error:
    /// the change stands, and the event still reaches this process's subscribers (those of other
    /// replicas miss it, and are told on their bus's reconnection that they may have).
    pub async fn raise(&self, events: Vec<LiveEvent>) {
        for event in events {
            let text = match serde_json::to_string(&event) {
                Ok(text) => text,
                Err(e) => {
                    tracing::error!(error = %e, "could not encode a live event");
                    continue;
                }
            };
            if let Err(e) = self.bus.publish(TOPIC, &text).await {
                // Debug: while Redis is out of reach every event fails, and its breaker says so once.
                tracing::debug!(error = %e, case = event.case_id, "could not publish a live event");
                drop(self.live.local.send(event));
            }
        }
    }

    /// Subscribes to the bus topic and relays its events to this process's subscribers for as long as
    /// the process runs.
    pub async fn start_live_relay(self: &Arc<Self>) -> ApiResult<()> {
        let mut incoming = self
            .bus
            .subscribe(TOPIC)
            .await
            .map_err(ApiError::internal)?;
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let event = incoming.recv().await;
                let Some(state) = state.upgrade() else { break };
                match event {
                    Ok(BusEvent::Message(text)) => match serde_json::from_str::<LiveEvent>(&text) {
                        // No local subscriber is not an error.
                        Ok(event) => drop(state.live.local.send(event)),
                        Err(e) => tracing::warn!(error = %e, "unreadable live event"),
                    },
                    Ok(BusEvent::Reconnected) => {
                        tracing::warn!("live events published during the break were missed")
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "the live relay fell behind")
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        Ok(())
    }
}
