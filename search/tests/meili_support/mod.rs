//! A Meilisearch server for tests: `MEILI_URL` and `MEILI_MASTER_KEY`. Tests that need one print a
//! notice and pass when `MEILI_URL` is unset.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use fengqiao_search::MeiliIndex;

pub struct Server {
    pub url: String,
    pub master_key: String,
}

/// The server to test against, or `None` (with a notice) when there is none.
pub fn server(test: &str) -> Option<Server> {
    match std::env::var("MEILI_URL") {
        Ok(url) if !url.is_empty() => Some(Server {
            url,
            master_key: std::env::var("MEILI_MASTER_KEY").unwrap_or_default(),
        }),
        _ => {
            println!("{test}: skipped, MEILI_URL is not set");
            None
        }
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh, uniquely named index uid.
pub fn unique_uid(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "fq_test_{name}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Runs `test` on a fresh index of `server`, and deletes the index afterwards, also when the test fails.
pub async fn with_fresh_index<F, Fut>(server: &Server, name: &str, test: F)
where
    F: FnOnce(MeiliIndex) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let uid = unique_uid(name);
    let index = MeiliIndex::connect(&server.url, &server.master_key, &uid)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", server.url));
    let outcome = tokio::spawn(test(index.clone())).await;
    if let Err(error) = index.delete_index().await {
        println!("deleting the test index {uid}: {error}");
    }
    if let Err(error) = outcome {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
        panic!("the test did not finish: {error}");
    }
}
