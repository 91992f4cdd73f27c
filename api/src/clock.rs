//! The one place the server reads the time. Everything else receives `now` from a `Clock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The wall clock shifted by an adjustable offset, so tests can move time forward (for deadlines and
/// windows) while token libraries that read the real clock still agree on the present.
#[derive(Debug, Default, Clone)]
pub struct OffsetClock {
    offset_seconds: Arc<AtomicI64>,
}

impl OffsetClock {
    pub fn advance(&self, by: Duration) {
        self.offset_seconds
            .fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + Duration::seconds(self.offset_seconds.load(Ordering::SeqCst))
    }
}

/// A clock that reads whatever it was last set to; the demo seed walks it through past months.
#[derive(Debug, Clone)]
pub struct ManualClock {
    seconds: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        ManualClock {
            seconds: Arc::new(AtomicI64::new(at.timestamp())),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.seconds.store(at.timestamp(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(self.seconds.load(Ordering::SeqCst), 0).unwrap_or_default()
    }
}
