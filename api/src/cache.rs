//! The cache and coordination port, with a Redis adapter (used when `redis_url` is set, shared by every
//! replica) and an in-process adapter (the default, for a single process).
//!
//! Redis is a help, never a dependency of a request: every call to it is bounded in time, and once a call
//! finds it gone (refused, dropped, timed out) a [`Breaker`] answers every further call at once with an
//! error, which callers meet with their in-process fallback, until a probe in the background finds Redis
//! answering again. So a request while Redis is down costs what it costs without Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
#[error("cache: {message}")]
pub struct CacheError {
    message: String,
    known_gone: bool,
}

impl CacheError {
    fn new(message: impl Into<String>) -> Self {
        CacheError {
            message: message.into(),
            known_gone: false,
        }
    }

    /// Redis was already known to be out of reach: the call was not tried, and the outage was logged once
    /// when it began. A caller that only loses freshness need not log it again.
    pub fn known_gone(&self) -> bool {
        self.known_gone
    }

    /// Logs a failure that costs only freshness or sharing: a warning, or at debug level while Redis is
    /// known to be gone (every request would say so again).
    pub fn log(&self, what: &str) {
        if self.known_gone {
            tracing::debug!(error = %self, "{what}");
        } else {
            tracing::warn!(error = %self, "{what}");
        }
    }
}

/// Why a call through a [`Breaker`] failed.
#[derive(Debug)]
pub(crate) struct CallFailed {
    pub(crate) message: String,
    /// The breaker was open, so the call was not tried.
    pub(crate) known_gone: bool,
}

impl From<CallFailed> for CacheError {
    fn from(failed: CallFailed) -> Self {
        CacheError {
            message: failed.message,
            known_gone: failed.known_gone,
        }
    }
}

#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    /// Several keys in one round trip, in order.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, CacheError>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Adds one to the counter `key` (created at zero, never expiring) and returns the new value.
    async fn incr(&self, key: &str) -> Result<i64, CacheError>;
    /// Adds `delta` to the counter `key` within a window: a counter that is missing (or whose window has
    /// passed) starts at zero and lives `window` from then. Returns the new value. Atomic, for limits that
    /// parallel requests must not get around.
    async fn count(&self, key: &str, delta: i64, window: Duration) -> Result<i64, CacheError>;
    /// Takes `cost` tokens from the token bucket `key` (full when first seen) if it holds them. Atomic, for
    /// rate limits that parallel requests must not get around.
    async fn take(&self, key: &str, bucket: Bucket, cost: u32) -> Result<Taken, CacheError>;
    /// Takes the lease `key` for `ttl` if nobody holds it; says whether it was taken. Leases coordinate
    /// work between replicas (one scanner at a time); they are not locks for correctness.
    async fn try_lease(&self, key: &str, ttl: Duration) -> Result<bool, CacheError>;
    /// Checks that the backend answers.
    async fn ping(&self) -> Result<(), CacheError>;
    fn backend(&self) -> &'static str;
    /// How many times the backend came back after being out of reach. What was written to it meanwhile
    /// was not, and a restarted Redis holds nothing: whoever keeps copies beside it forgets them when this
    /// changes.
    fn recoveries(&self) -> u64 {
        0
    }
}

/// A token bucket's shape: it holds at most `capacity` tokens and gains `per_minute` a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub capacity: u32,
    pub per_minute: u32,
}

impl Bucket {
    fn per_milli(self) -> f64 {
        f64::from(self.per_minute.max(1)) / 60_000.0
    }

    /// The bucket `elapsed_ms` after it held `tokens`, and whether `cost` could be taken from it then:
    /// (tokens left, milliseconds until `cost` would be there; 0 when it was taken).
    fn after(self, tokens: f64, elapsed_ms: f64, cost: u32) -> (f64, u64) {
        let capacity = f64::from(self.capacity);
        let tokens = (tokens + elapsed_ms.max(0.0) * self.per_milli()).min(capacity);
        let cost = f64::from(cost);
        if tokens >= cost {
            (tokens - cost, 0)
        } else {
            (
                tokens,
                ((cost - tokens) / self.per_milli()).ceil().max(1.0) as u64,
            )
        }
    }
}

/// What [`Cache::take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Yes,
    /// Not enough tokens: this long until there are (when nothing else is taken meanwhile).
    No {
        retry_after: Duration,
    },
}

type Entries = HashMap<String, (String, Instant)>;
type Buckets = HashMap<String, (f64, Instant)>;

/// In-process cache: a map with expiry, swept as it is written.
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<Entries>,
    buckets: Mutex<Buckets>,
}

fn poisoned<T>(_: T) -> CacheError {
    CacheError::new("in-process cache lock poisoned")
}

impl MemoryCache {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries>, CacheError> {
        self.entries.lock().map_err(poisoned)
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let entries = self.lock()?;
        Ok(entries
            .get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.clone()))
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, CacheError> {
        let entries = self.lock()?;
        let now = Instant::now();
        Ok(keys
            .iter()
            .map(|key| {
                entries
                    .get(*key)
                    .filter(|(_, until)| *until > now)
                    .map(|(v, _)| v.clone())
            })
            .collect())
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let mut entries = self.lock()?;
        let now = Instant::now();
        if entries.len() > 10_000 {
            entries.retain(|_, (_, until)| *until > now);
        }
        entries.insert(key.to_owned(), (value.to_owned(), now + ttl));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.lock()?.remove(key);
        Ok(())
    }

    async fn incr(&self, key: &str) -> Result<i64, CacheError> {
        let mut entries = self.lock()?;
        let forever = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
        let entry = entries
            .entry(key.to_owned())
            .or_insert_with(|| ("0".to_owned(), forever));
        let next = entry.0.parse::<i64>().unwrap_or(0) + 1;
        *entry = (next.to_string(), forever);
        Ok(next)
    }

    async fn count(&self, key: &str, delta: i64, window: Duration) -> Result<i64, CacheError> {
        let mut entries = self.lock()?;
        let now = Instant::now();
        let entry = entries
            .entry(key.to_owned())
            .or_insert_with(|| ("0".to_owned(), now + window));
        if entry.1 <= now {
            *entry = ("0".to_owned(), now + window);
        }
        let next = entry.0.parse::<i64>().unwrap_or(0) + delta;
        entry.0 = next.to_string();
        Ok(next)
    }

    async fn take(&self, key: &str, bucket: Bucket, cost: u32) -> Result<Taken, CacheError> {
        let mut buckets = self.buckets.lock().map_err(poisoned)?;
        let now = Instant::now();
        if buckets.len() > 10_000 {
            // A bucket that has refilled is the same as one never seen.
            buckets.retain(|_, (tokens, at)| {
                bucket
                    .after(*tokens, now.duration_since(*at).as_secs_f64() * 1000.0, 0)
                    .0
                    < f64::from(bucket.capacity)
            });
        }
        let (tokens, at) = buckets
            .get(key)
            .copied()
            .unwrap_or((f64::from(bucket.capacity), now));
        let (left, wait_ms) =
            bucket.after(tokens, now.duration_since(at).as_secs_f64() * 1000.0, cost);
        buckets.insert(key.to_owned(), (left, now));
        Ok(if wait_ms == 0 {
            Taken::Yes
        } else {
            Taken::No {
                retry_after: Duration::from_millis(wait_ms),
            }
        })
    }

    async fn try_lease(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let mut entries = self.lock()?;
        let now = Instant::now();
        if entries.get(key).is_some_and(|(_, until)| *until > now) {
            return Ok(false);
        }
        entries.insert(key.to_owned(), ("lease".to_owned(), now + ttl));
        Ok(true)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.lock().map(|_| ())
    }

    fn backend(&self) -> &'static str {
        "in-process"
    }
}

/// How long one call to Redis may take before Redis counts as gone.
const REDIS_CALL_LIMIT: Duration = Duration::from_millis(250);
/// How often the breaker asks a gone Redis whether it is back.
const REDIS_PROBE_EVERY: Duration = Duration::from_millis(500);

/// A reconnecting connection manager whose reconnection gives up quickly: the breaker, not the manager,
/// decides when to try again.
pub(crate) async fn connection_manager(
    client: &redis::Client,
) -> redis::RedisResult<redis::aio::ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_CALL_LIMIT))
        .set_response_timeout(Some(REDIS_CALL_LIMIT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(20))
        .set_max_delay(Duration::from_millis(100));
    client.get_connection_manager_with_config(config).await
}

/// Fails calls to Redis at once while Redis is known to be gone, and finds out in the background when it is
/// back (see the module's header).
#[derive(Clone)]
pub(crate) struct Breaker {
    open: Arc<AtomicBool>,
    /// Times Redis answered again after being out of reach.
    recoveries: Arc<AtomicU64>,
    conn: redis::aio::ConnectionManager,
    /// What this connection serves, for the log.
    serves: &'static str,
}

/// Whether an error says Redis is out of reach (rather than that it refused one command).
fn out_of_reach(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
}

impl Breaker {
    pub(crate) fn new(conn: redis::aio::ConnectionManager, serves: &'static str) -> Self {
        Breaker {
            open: Arc::new(AtomicBool::new(false)),
            recoveries: Arc::new(AtomicU64::new(0)),
            conn,
            serves,
        }
    }

    /// Runs one call on the connection, within [`REDIS_CALL_LIMIT`], unless Redis is known to be gone.
    pub(crate) async fn call<T, F, Fut>(&self, call: F) -> Result<T, CallFailed>
    where
        F: FnOnce(redis::aio::ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let failed = |message: String| CallFailed {
            message,
            known_gone: false,
        };
        if self.open.load(Ordering::Relaxed) {
            return Err(CallFailed {
                message: "Redis is out of reach (waiting for it to answer again)".into(),
                known_gone: true,
            });
        }
        match tokio::time::timeout(REDIS_CALL_LIMIT, call(self.conn.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if out_of_reach(&error) {
                    self.trip();
                }
                Err(failed(error.to_string()))
            }
            Err(_) => {
                self.trip();
                Err(failed(format!(
                    "Redis did not answer within {} ms",
                    REDIS_CALL_LIMIT.as_millis()
                )))
            }
        }
    }

    fn trip(&self) {
        if self.open.swap(true, Ordering::Relaxed) {
            return;
        }
        tracing::warn!(
            serves = self.serves,
            "Redis is out of reach; working without it until it answers again"
        );
        let breaker = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REDIS_PROBE_EVERY).await;
                let mut conn = breaker.conn.clone();
                let cmd = redis::cmd("PING");
                let ping = cmd.query_async::<String>(&mut conn);
                if matches!(
                    tokio::time::timeout(REDIS_CALL_LIMIT, ping).await,
                    Ok(Ok(_))
                ) {
                    breaker.recoveries.fetch_add(1, Ordering::Relaxed);
                    breaker.open.store(false, Ordering::Relaxed);
                    tracing::info!(serves = breaker.serves, "Redis answers again");
                    return;
                }
            }
        });
    }
}

/// Redis through a reconnecting connection manager, behind a [`Breaker`].
pub struct RedisCache {
    redis: Breaker,
    prefix: String,
}

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError::new(e.to_string()))?;
        let conn = connection_manager(&client)
            .await
            .map_err(|e| CacheError::new(e.to_string()))?;
        Ok(RedisCache {
            redis: Breaker::new(conn, "cache"),
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn query<T: redis::FromRedisValue + Send>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, CacheError> {
        self.redis
            .call(|mut conn| async move { cmd.query_async::<T>(&mut conn).await })
            .await
            .map_err(CacheError::from)
    }
}

/// A token bucket in one script, so that reading, refilling and taking are one step; Redis's clock times
/// it, so replicas whose clocks differ share one bucket. Answers {taken (0 or 1), ms until `cost` is there}.
const TAKE_SCRIPT: &str = "\
local now = redis.call('TIME') \
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) \
local capacity, per_ms, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) \
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at') \
local tokens, at = tonumber(held[1]) or capacity, tonumber(held[2]) or now \
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms) \
local wait = 0 \
if tokens >= cost then tokens = tokens - cost else wait = math.max(1, math.ceil((cost - tokens) / per_ms)) end \
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now) \
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / per_ms) + 1000) \
return {wait == 0 and 1 or 0, wait}";

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        self.query(cmd).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, CacheError> {
        let mut cmd = redis::cmd("MGET");
        for key in keys {
            cmd.arg(self.key(key));
        }
        self.query(cmd).await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64);
        self.query(cmd).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        self.query(cmd).await
    }

    async fn incr(&self, key: &str) -> Result<i64, CacheError> {
        let mut cmd = redis::cmd("INCR");
        cmd.arg(self.key(key));
        self.query(cmd).await
    }

    async fn count(&self, key: &str, delta: i64, window: Duration) -> Result<i64, CacheError> {
        // One script, so the increment and the window's start are one step.
        const SCRIPT: &str = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) \
             if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
             return v";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(delta)
            .arg(window.as_millis().max(1) as u64);
        self.query(cmd).await
    }

    async fn take(&self, key: &str, bucket: Bucket, cost: u32) -> Result<Taken, CacheError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(TAKE_SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(bucket.capacity)
            .arg(bucket.per_milli())
            .arg(cost);
        let (taken, wait_ms): (i64, i64) = self.query(cmd).await?;
        Ok(if taken == 1 {
            Taken::Yes
        } else {
            Taken::No {
                retry_after: Duration::from_millis(wait_ms.max(1) as u64),
            }
        })
    }

    async fn try_lease(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg("lease")
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64);
        let taken: Option<String> = self.query(cmd).await?;
        Ok(taken.is_some())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.query::<String>(redis::cmd("PING")).await.map(|_| ())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    fn recoveries(&self) -> u64 {
        self.redis.recoveries.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: Bucket = Bucket {
        capacity: 3,
        per_minute: 60,
    };

    #[tokio::test]
    async fn a_bucket_gives_its_capacity_then_refills_at_its_rate() {
        let cache = MemoryCache::default();
        for _ in 0..3 {
            assert_eq!(cache.take("k", BUCKET, 1).await.unwrap(), Taken::Yes);
        }
        let Taken::No { retry_after } = cache.take("k", BUCKET, 1).await.unwrap() else {
            panic!("a fourth token was taken from a bucket of three");
        };
        // One token a second: the next is at most a second away.
        assert!(retry_after <= Duration::from_secs(1), "{retry_after:?}");
        assert_eq!(
            cache.take("other", BUCKET, 1).await.unwrap(),
            Taken::Yes,
            "buckets are per key"
        );
        assert!(matches!(
            cache.take("k", BUCKET, 4).await.unwrap(),
            Taken::No { .. }
        ));
    }

    #[test]
    fn refilling_stops_at_the_capacity_and_waits_are_rounded_up() {
        assert_eq!(BUCKET.after(0.0, 1_000_000.0, 0).0, 3.0);
        assert_eq!(BUCKET.after(0.0, 500.0, 1), (0.5, 500));
        assert_eq!(BUCKET.after(2.0, 0.0, 2), (0.0, 0));
        assert_eq!(BUCKET.after(0.9999, 0.0, 1).1, 1);
    }
}
