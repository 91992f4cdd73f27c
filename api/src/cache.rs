//! The cache and coordination port, with a Redis adapter (used when `redis_url` is set, shared by every
//! replica) and an in-process adapter (the default, for a single process).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
#[error("cache: {0}")]
pub struct CacheError(String);

#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Adds one to the counter `key` (created at zero, never expiring) and returns the new value.
    async fn incr(&self, key: &str) -> Result<i64, CacheError>;
    /// Adds `delta` to the counter `key` within a window: a counter that is missing (or whose window has
    /// passed) starts at zero and lives `window` from then. Returns the new value. Atomic, for limits that
    /// parallel requests must not get around.
    async fn count(&self, key: &str, delta: i64, window: Duration) -> Result<i64, CacheError>;
    /// Takes the lease `key` for `ttl` if nobody holds it; says whether it was taken. Leases coordinate
    /// work between replicas (one scanner at a time); they are not locks for correctness.
    async fn try_lease(&self, key: &str, ttl: Duration) -> Result<bool, CacheError>;
    /// Checks that the backend answers.
    async fn ping(&self) -> Result<(), CacheError>;
    fn backend(&self) -> &'static str;
}

type Entries = HashMap<String, (String, Instant)>;

/// In-process cache: a map with expiry, swept as it is written.
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<Entries>,
}

impl MemoryCache {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries>, CacheError> {
        self.entries
            .lock()
            .map_err(|_| CacheError("in-process cache lock poisoned".into()))
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

/// Redis through a reconnecting connection manager.
pub struct RedisCache {
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError(e.to_string()))?;
        let conn = client
            .get_connection_manager()
            .await
            .map_err(|e| CacheError(e.to_string()))?;
        Ok(RedisCache {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn redis_error(error: redis::RedisError) -> CacheError {
    CacheError(error.to_string())
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let mut conn = self.conn.clone();
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let millis = ttl.as_millis().max(1) as u64;
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis)
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn incr(&self, key: &str) -> Result<i64, CacheError> {
        let mut conn = self.conn.clone();
        redis::cmd("INCR")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn count(&self, key: &str, delta: i64, window: Duration) -> Result<i64, CacheError> {
        // One script, so the increment and the window's start are one step.
        const SCRIPT: &str = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) \
             if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
             return v";
        let mut conn = self.conn.clone();
        redis::cmd("EVAL")
            .arg(SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(delta)
            .arg(window.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn try_lease(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let mut conn = self.conn.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg("lease")
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        Ok(taken.is_some())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(redis_error)
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
