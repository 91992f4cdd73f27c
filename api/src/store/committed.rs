//! What a committed write sets off. A store write that changes a case, an order or a summons returns its
//! result wrapped in `Committed`, with a `Change` saying what happened; the application takes the result out
//! only through `AppState::settle` (app/effects.rs), which raises everything the change calls for: the
//! dashboards' invalidation, live events, the search worker's wake-up and a risk re-grade. A new write
//! cannot commit and forget one of them, and which change raises which effect is one table there.
//!
//! What must happen inside the transaction (the rollup counters and the search outbox row) happens in
//! `Store::commit_case_write` (store/cases.rs), which every write to a case ends with.

use fengqiao_domain::Command;

use super::Store;
use super::case_record::CaseRecord;

/// A committed write's result and what it changed.
#[must_use = "settle it with AppState::settle, which raises what the change sets off"]
#[derive(Debug)]
pub struct Committed<T> {
    value: T,
    change: Change,
}

/// What a committed write changed.
// A change lives from its commit to its settling, one at a time: boxing the records would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Change {
    /// A case was registered.
    Registered(CaseRecord),
    /// A lifecycle command moved a case from `before` to `after`.
    Transitioned {
        command: Command,
        before: CaseRecord,
        after: CaseRecord,
    },
    /// A supervisor extended a case's conclusion deadline.
    Extended(CaseRecord),
    /// The deadline scanner marked a case overdue.
    MarkedOverdue(CaseRecord),
    /// A case's risk grade changed without an event.
    Regraded(CaseRecord),
    /// A supervision order was issued or raised on a case.
    OrderIssued(CaseRecord),
    /// A supervision order on a case was answered.
    OrderAnswered(CaseRecord),
    /// An on-call unit was summoned to a case.
    Summoned { case: CaseRecord, unit_id: i64 },
    /// A summoned unit reported.
    SummonsReported { case: CaseRecord, unit_id: i64 },
    /// A summons was released.
    SummonsReleased { case: CaseRecord, unit_id: i64 },
    /// A county's rollup counters were rebuilt from the timelines.
    RollupsRepaired { county: i64 },
    /// Nothing changed (a replayed registration, a mark another scanner made first).
    Nothing,
}

impl<T> Committed<T> {
    pub(crate) fn new(value: T, change: Change) -> Self {
        Committed { value, change }
    }

    /// The result and the change. Only `AppState::settle` opens a `Committed` (`tests/it/layers.rs`
    /// fails on any other caller), so no write skips its effects.
    pub fn into_parts(self) -> (T, Change) {
        (self.value, self.change)
    }

    /// The same change with another result.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Committed<U> {
        Committed {
            value: f(self.value),
            change: self.change,
        }
    }
}

impl Store {
    /// Wakes the search worker to take what the outbox holds.
    pub(crate) fn wake_search_worker(&self) {
        self.search_wake_ups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.outbox.notify_one();
    }

    /// How many times the search worker was woken since the store connected.
    pub fn search_wake_ups(&self) -> u64 {
        self.search_wake_ups
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
