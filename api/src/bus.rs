//! The event bus port: messages published by one replica reach every replica's subscribers. Redis pub/sub
//! when `redis_url` is set; a tokio broadcast channel in process otherwise (one process, nothing to reach).
//!
//! Delivery is at most once, as pub/sub is: a subscriber that loses its connection is told so
//! (`BusEvent::Reconnected`) and must catch up from the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::broadcast;

#[derive(Debug, thiserror::Error)]
#[error("bus: {0}")]
pub struct BusError(String);

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    Message(String),
    /// The subscription was (re-)established after a break: messages may have been missed.
    Reconnected,
}

#[async_trait]
pub trait Bus: Send + Sync {
    async fn publish(&self, topic: &str, payload: &str) -> Result<(), BusError>;
    /// Receives what is published on `topic` from now on, for as long as the receiver is kept.
    async fn subscribe(&self, topic: &str) -> Result<broadcast::Receiver<BusEvent>, BusError>;
    fn backend(&self) -> &'static str;
}

/// Buffered messages per topic and subscriber; a subscriber that falls further behind is told to catch up.
const BUFFER: usize = 1024;

/// One process: a broadcast channel per topic.
#[derive(Default)]
pub struct LocalBus {
    topics: Mutex<HashMap<String, broadcast::Sender<BusEvent>>>,
}

impl LocalBus {
    fn sender(&self, topic: &str) -> Result<broadcast::Sender<BusEvent>, BusError> {
        let mut topics = self
            .topics
            .lock()
            .map_err(|_| BusError("bus lock poisoned".into()))?;
        Ok(topics
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .clone())
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, topic: &str, payload: &str) -> Result<(), BusError> {
        // No receiver is not an error: nobody is listening.
        let _ = self
            .sender(topic)?
            .send(BusEvent::Message(payload.to_owned()));
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<broadcast::Receiver<BusEvent>, BusError> {
        Ok(self.sender(topic)?.subscribe())
    }

    fn backend(&self) -> &'static str {
        "in-process"
    }
}

/// Redis pub/sub: one publishing connection (the reconnecting manager) and one subscriber connection per
/// topic, re-established with back-off when it breaks.
pub struct RedisBus {
    client: redis::Client,
    publisher: crate::cache::Breaker,
    prefix: String,
    local: LocalBus,
    listening: Mutex<HashMap<String, ()>>,
}

impl RedisBus {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BusError> {
        let client = redis::Client::open(url).map_err(|e| BusError(e.to_string()))?;
        let conn = crate::cache::connection_manager(&client)
            .await
            .map_err(|e| BusError(e.to_string()))?;
        Ok(RedisBus {
            client,
            publisher: crate::cache::Breaker::new(conn, "event bus"),
            prefix: prefix.to_owned(),
            local: LocalBus::default(),
            listening: Mutex::new(HashMap::new()),
        })
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// Forwards the Redis channel to the local subscribers of `topic`, for the life of the process.
    fn listen(
        &self,
        topic: &str,
        sender: broadcast::Sender<BusEvent>,
        ready: tokio::sync::oneshot::Sender<()>,
    ) {
        let client = self.client.clone();
        let channel = self.channel(topic);
        tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut backoff = Duration::from_millis(100);
            loop {
                match subscribe_once(&client, &channel).await {
                    Ok(mut stream) => {
                        backoff = Duration::from_millis(100);
                        match ready.take() {
                            Some(ready) => {
                                let _ = ready.send(());
                            }
                            None => {
                                let _ = sender.send(BusEvent::Reconnected);
                            }
                        }
                        while let Some(msg) = stream.next().await {
                            match msg.get_payload::<String>() {
                                Ok(payload) => {
                                    let _ = sender.send(BusEvent::Message(payload));
                                }
                                Err(e) => {
                                    tracing::warn!(channel = %channel, error = %e, "unreadable bus message")
                                }
                            }
                        }
                        tracing::warn!(channel = %channel, "bus subscription ended; reconnecting");
                    }
                    Err(e) => {
                        tracing::warn!(channel = %channel, error = %e, "bus subscription failed; retrying");
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
    }
}

async fn subscribe_once(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSubStream> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub.into_on_message())
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, topic: &str, payload: &str) -> Result<(), BusError> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(self.channel(topic)).arg(payload);
        self.publisher
            .call(|mut conn| async move { cmd.query_async::<i64>(&mut conn).await })
            .await
            .map(|_| ())
            .map_err(|failed| BusError(failed.message))
    }

    async fn subscribe(&self, topic: &str) -> Result<broadcast::Receiver<BusEvent>, BusError> {
        let sender = self.local.sender(topic)?;
        let receiver = sender.subscribe();
        let start = {
            let mut listening = self
                .listening
                .lock()
                .map_err(|_| BusError("bus lock poisoned".into()))?;
            listening.insert(topic.to_owned(), ()).is_none()
        };
        if start {
            let (ready, subscribed) = tokio::sync::oneshot::channel();
            self.listen(topic, sender, ready);
            // Messages published after this returns are received.
            tokio::time::timeout(Duration::from_secs(10), subscribed)
                .await
                .map_err(|_| BusError(format!("could not subscribe to {topic} in time")))?
                .map_err(|_| BusError(format!("subscription to {topic} ended")))?;
        }
        Ok(receiver)
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
