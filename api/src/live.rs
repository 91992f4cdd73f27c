//! Live updates for GraphQL subscriptions: what a unit or a center should hear of at once (中心吹哨、部门报到).
//!
//! A change is stored first; then its event is published on the bus topic `live` (Redis pub/sub across
//! replicas, in process without Redis). Every replica relays what arrives on the topic, its own events
//! included, to its local subscribers, and each subscriber checks per event, as its caller and in its
//! caller's database scope, that the caller may read the case before anything is sent.
//!
//! Delivery is at most once: an event published while a replica's Redis subscription is broken is not
//! replayed to that replica's subscribers. The case itself is always current in the database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The bus topic of live events.
pub(crate) const TOPIC: &str = "live";
/// Events buffered per local subscriber; one that falls further behind skips the oldest.
const BUFFER: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveKind {
    /// Unit: dispatched to it as the lead unit (also on redispatch and reopening).
    Assigned,
    /// Unit: dispatched to it as a co-unit (协办).
    CoAssigned,
    /// Unit: an on-call unit summoned to the case (吹哨).
    Summoned,
    /// Center: a case registered in it (上报 from a village, a grid or the window).
    Registered,
    /// Center: a case escalated up to it.
    Escalated,
    /// Center: the lead unit returned the case (退回).
    Returned,
    /// Center: a summoned unit reported (报到).
    SummonsReported,
}

impl LiveKind {
    /// Events addressed to a unit rather than to a center.
    pub fn for_unit(self) -> bool {
        matches!(
            self,
            LiveKind::Assigned | LiveKind::CoAssigned | LiveKind::Summoned
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub kind: LiveKind,
    pub case_id: i64,
    /// The unit addressed (unit events) or concerned (a summons report).
    pub unit_id: Option<i64>,
    /// The center concerned: the one handling the case after the change.
    pub center_id: i64,
    pub at: DateTime<Utc>,
}

/// This process's subscribers.
pub struct LiveHub {
    pub(crate) local: broadcast::Sender<LiveEvent>,
}

impl Default for LiveHub {
    fn default() -> Self {
        LiveHub {
            local: broadcast::channel(BUFFER).0,
        }
    }
}

impl LiveHub {
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.local.subscribe()
    }

    /// How many subscriptions this process holds now.
    pub fn subscribers(&self) -> usize {
        self.local.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_travel_as_json_and_back() {
        let event = LiveEvent {
            kind: LiveKind::CoAssigned,
            case_id: 10,
            unit_id: Some(1),
            center_id: 101,
            at: DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
        };
        let text = serde_json::to_string(&event).unwrap_or_default();
        assert!(text.contains("\"co_assigned\""), "{text}");
        assert_eq!(serde_json::from_str::<LiveEvent>(&text).ok(), Some(event));
    }

    #[test]
    fn only_assignments_and_summonses_address_a_unit() {
        assert!(LiveKind::Assigned.for_unit());
        assert!(LiveKind::CoAssigned.for_unit());
        assert!(LiveKind::Summoned.for_unit());
        assert!(!LiveKind::Registered.for_unit());
        assert!(!LiveKind::Returned.for_unit());
        assert!(!LiveKind::Escalated.for_unit());
        assert!(!LiveKind::SummonsReported.for_unit());
    }
}
