//! Persisted queries: a request may name its query by the SHA-256 hash of the text instead of sending it.
//!
//! The wire protocol is Apollo's automatic persisted queries, as Apollo Client and urql speak it:
//! `extensions: {"persistedQuery": {"version": 1, "sha256Hash": "<64 hex>"}}`. A hash the server does not
//! know answers `PERSISTED_QUERY_NOT_FOUND` (message `PersistedQueryNotFound`, which those clients look
//! for); the client then sends the text with its hash once, the server checks that the hash is the text's,
//! keeps it, and from then on every replica runs it by hash (over GET too, which HTTP caches can keep).
//!
//! Texts are kept in Redis (shared by the replicas, a day from their last registration) and in a bounded
//! map of the process, which answers alone while Redis is out of reach. In `allow_list` mode nothing is
//! registered: only the operations of the manifest a deployment ships run, by hash or by their exact text.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::config::PersistedQueries as Mode;

/// Texts kept in the process beside Redis.
const LOCAL_CAPACITY: usize = 2_000;
/// How long Redis keeps a registered text after its last registration: a day, so that texts registered
/// by anyone (registration needs no sign-in: `signIn` is registered so too) do not pile up.
const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);
/// The longest text that is registered; a longer one runs but is not kept (a front end's operations are
/// a few KiB; a caller filling the cache with megabyte texts gets nothing kept).
pub const MAX_REGISTERED_BYTES: usize = 64 * 1024;

/// Why a request's persisted query could not be had: each answers with its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The hash is unknown; send the text with it.
    NotFound,
    /// Persisted queries are off on this server.
    NotSupported,
    /// Allow-list mode: the operation is not in the manifest.
    NotAllowed,
    /// The `persistedQuery` extension is malformed, or its hash is not the text's.
    Invalid(String),
}

impl Refused {
    /// The stable code and the message (the clients match on the message of the first two).
    pub fn code_and_message(&self) -> (&'static str, String) {
        match self {
            Refused::NotFound => ("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound".into()),
            Refused::NotSupported => (
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "PersistedQueryNotSupported".into(),
            ),
            Refused::NotAllowed => (
                "PERSISTED_QUERY_NOT_ALLOWED",
                "this server runs only the operations registered with it (its allow-list); \
                 send a registered operation's hash"
                    .into(),
            ),
            Refused::Invalid(why) => ("BAD_REQUEST", why.clone()),
        }
    }
}

impl Refused {
    /// The refusal as a GraphQL request error, with its code.
    pub fn server_error(&self) -> async_graphql::ServerError {
        let (code, message) = self.code_and_message();
        let mut error = async_graphql::ServerError::new(message, None);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
        error
    }
}

/// The persisted queries of a server: its mode, its manifest's operations and the texts registered.
pub struct PersistedQueryStore {
    mode: Mode,
    manifest: HashMap<String, Arc<str>>,
    local: Mutex<Local>,
    cache: Arc<dyn Cache>,
}

impl std::fmt::Debug for PersistedQueryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedQueryStore")
            .field("mode", &self.mode)
            .field("manifest", &self.manifest.len())
            .finish_non_exhaustive()
    }
}

/// A map of at most `LOCAL_CAPACITY` texts; the oldest registered goes first.
#[derive(Default)]
struct Local {
    texts: HashMap<String, Arc<str>>,
    order: VecDeque<String>,
}

impl Local {
    fn insert(&mut self, hash: String, text: Arc<str>) {
        if self.texts.insert(hash.clone(), text).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > LOCAL_CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.texts.remove(&oldest);
            }
        }
    }
}

/// The SHA-256 of a text, as 64 lowercase hex digits.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash a request's `persistedQuery` extension names, if it has one.
pub fn requested_hash(
    extensions: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<String>, Refused> {
    let Some(persisted) = extensions.and_then(|e| e.get("persistedQuery")) else {
        return Ok(None);
    };
    let invalid = |why: &str| Refused::Invalid(format!("extensions.persistedQuery: {why}"));
    let persisted = persisted
        .as_object()
        .ok_or_else(|| invalid("must be an object {\"version\": 1, \"sha256Hash\": …}"))?;
    if persisted.get("version").and_then(|v| v.as_i64()) != Some(1) {
        return Err(invalid("only version 1 is known"));
    }
    let hash = persisted
        .get("sha256Hash")
        .and_then(|v| v.as_str())
        .ok_or_else(|| invalid("sha256Hash must be a string"))?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("sha256Hash must be 64 hexadecimal digits"));
    }
    Ok(Some(hash.to_ascii_lowercase()))
}

/// A manifest's operations, by hash. Each `id` must be the SHA-256 of its `body`.
pub fn read_manifest(path: &Path) -> anyhow::Result<HashMap<String, Arc<str>>> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        format: String,
        version: i64,
        operations: Vec<Operation>,
    }
    #[derive(serde::Deserialize)]
    struct Operation {
        id: String,
        body: String,
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "reading the persisted-query manifest {}: {e}",
            path.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "the persisted-query manifest {} is malformed: {e}",
            path.display()
        )
    })?;
    if manifest.format != "apollo-persisted-query-manifest" || manifest.version != 1 {
        anyhow::bail!(
            "the persisted-query manifest {} must have format \"apollo-persisted-query-manifest\" and version 1",
            path.display()
        );
    }
    let mut operations = HashMap::new();
    for operation in manifest.operations {
        let hash = sha256_hex(&operation.body);
        if !hash.eq_ignore_ascii_case(&operation.id) {
            anyhow::bail!(
                "the persisted-query manifest {}: operation {} is not the SHA-256 of its body",
                path.display(),
                operation.id
            );
        }
        operations.insert(hash, Arc::from(operation.body));
    }
    Ok(operations)
}

impl PersistedQueryStore {
    pub fn new(mode: Mode, manifest: HashMap<String, Arc<str>>, cache: Arc<dyn Cache>) -> Self {
        PersistedQueryStore {
            mode,
            manifest,
            local: Mutex::new(Local::default()),
            cache,
        }
    }

    /// The query text a request runs: its own `query` (checked against its hash when it names one, and
    /// registered), or the text its hash names.
    pub async fn resolve(
        &self,
        query: Option<String>,
        hash: Option<String>,
    ) -> Result<String, Refused> {
        match (self.mode, query, hash) {
            (_, None, None) => Err(Refused::Invalid(
                "the request has no query: send 'query' (or a persisted query's hash in \
                 extensions.persistedQuery)"
                    .into(),
            )),
            (Mode::Off, Some(query), _) => Ok(query),
            (Mode::Off, None, Some(_)) => Err(Refused::NotSupported),
            (Mode::AllowList, Some(query), hash) => {
                let own = sha256_hex(&query);
                if hash.is_some_and(|h| h != own) {
                    return Err(mismatch());
                }
                if self.manifest.contains_key(&own) {
                    Ok(query)
                } else {
                    Err(Refused::NotAllowed)
                }
            }
            (Mode::AllowList, None, Some(hash)) => self
                .manifest
                .get(&hash)
                .map(|text| text.to_string())
                .ok_or(Refused::NotAllowed),
            (Mode::Automatic, Some(query), None) => Ok(query),
            (Mode::Automatic, Some(query), Some(hash)) => {
                if sha256_hex(&query) != hash {
                    return Err(mismatch());
                }
                self.register(hash, &query).await;
                Ok(query)
            }
            (Mode::Automatic, None, Some(hash)) => self
                .lookup(&hash)
                .await
                .map(|t| t.to_string())
                .ok_or(Refused::NotFound),
        }
    }

    async fn lookup(&self, hash: &str) -> Option<Arc<str>> {
        if let Some(text) = self.manifest.get(hash) {
            return Some(text.clone());
        }
        if let Some(text) = self
            .local
            .lock()
            .ok()
            .and_then(|l| l.texts.get(hash).cloned())
        {
            return Some(text);
        }
        match self.cache.get(&cache_key(hash)).await {
            Ok(Some(text)) if sha256_hex(&text) == hash => {
                let text: Arc<str> = Arc::from(text);
                if let Ok(mut local) = self.local.lock() {
                    local.insert(hash.to_owned(), text.clone());
                }
                Some(text)
            }
            Ok(_) => None,
            Err(e) => {
                e.log("could not look up a persisted query in the cache");
                None
            }
        }
    }

    /// Whether a text sent without a hash may run: in `allow_list` mode only a manifest's. Websocket
    /// operations, which come with their text, pass this too.
    pub fn check_text(&self, query: &str) -> Result<(), Refused> {
        if self.mode == Mode::AllowList && !self.manifest.contains_key(&sha256_hex(query)) {
            return Err(Refused::NotAllowed);
        }
        Ok(())
    }

    async fn register(&self, hash: String, query: &str) {
        if self.manifest.contains_key(&hash) {
            return;
        }
        if query.len() > MAX_REGISTERED_BYTES {
            tracing::debug!(
                bytes = query.len(),
                "a persisted query too long to keep ran unkept"
            );
            return;
        }
        let known = self
            .local
            .lock()
            .ok()
            .is_some_and(|l| l.texts.contains_key(&hash));
        if known {
            return;
        }
        if let Err(e) = self.cache.set(&cache_key(&hash), query, KEPT_FOR).await {
            e.log("could not keep a persisted query in the cache");
        }
        if let Ok(mut local) = self.local.lock() {
            local.insert(hash, Arc::from(query));
        }
    }
}

fn cache_key(hash: &str) -> String {
    format!("apq:{hash}")
}

fn mismatch() -> Refused {
    Refused::Invalid(
        "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent with it".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MemoryCache;

    const QUERY: &str = "{ __typename }";

    fn store(mode: Mode, manifest: &[&str]) -> PersistedQueryStore {
        let manifest = manifest
            .iter()
            .map(|body| (sha256_hex(body), Arc::from(*body)))
            .collect();
        PersistedQueryStore::new(mode, manifest, Arc::new(MemoryCache::default()))
    }

    #[test]
    fn the_hash_is_sha256_in_lowercase_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn an_unknown_hash_is_not_found_until_its_text_is_sent_with_it() {
        let store = store(Mode::Automatic, &[]);
        let hash = sha256_hex(QUERY);
        assert_eq!(
            store.resolve(None, Some(hash.clone())).await,
            Err(Refused::NotFound)
        );
        assert_eq!(
            store
                .resolve(Some(QUERY.into()), Some(hash.clone()))
                .await
                .as_deref(),
            Ok(QUERY)
        );
        assert_eq!(store.resolve(None, Some(hash)).await.as_deref(), Ok(QUERY));
    }

    #[tokio::test]
    async fn a_text_too_long_to_keep_runs_but_is_not_kept() {
        let store = store(Mode::Automatic, &[]);
        let long = format!("{{ __typename {} }}", " ".repeat(MAX_REGISTERED_BYTES));
        let hash = sha256_hex(&long);
        assert_eq!(
            store.resolve(Some(long.clone()), Some(hash.clone())).await,
            Ok(long)
        );
        assert_eq!(
            store.resolve(None, Some(hash)).await,
            Err(Refused::NotFound)
        );
    }

    #[tokio::test]
    async fn a_text_is_not_registered_under_another_texts_hash() {
        let store = store(Mode::Automatic, &[]);
        let other = sha256_hex("{ me { user { username } } }");
        assert!(matches!(
            store.resolve(Some(QUERY.into()), Some(other.clone())).await,
            Err(Refused::Invalid(_))
        ));
        assert_eq!(
            store.resolve(None, Some(other)).await,
            Err(Refused::NotFound)
        );
    }

    #[tokio::test]
    async fn the_allow_list_runs_its_operations_only() {
        let store = store(Mode::AllowList, &[QUERY]);
        let hash = sha256_hex(QUERY);
        assert_eq!(store.resolve(None, Some(hash)).await.as_deref(), Ok(QUERY));
        assert_eq!(
            store.resolve(Some(QUERY.into()), None).await.as_deref(),
            Ok(QUERY)
        );
        let other = "{ me { user { username } } }";
        assert_eq!(
            store.resolve(Some(other.into()), None).await,
            Err(Refused::NotAllowed)
        );
        // Sending a text with its own hash registers nothing in allow-list mode.
        assert_eq!(
            store
                .resolve(Some(other.into()), Some(sha256_hex(other)))
                .await,
            Err(Refused::NotAllowed)
        );
        assert_eq!(
            store.resolve(None, Some(sha256_hex(other))).await,
            Err(Refused::NotAllowed)
        );
    }

    #[tokio::test]
    async fn with_persisted_queries_off_a_hash_alone_is_refused() {
        let store = store(Mode::Off, &[]);
        assert_eq!(
            store.resolve(None, Some(sha256_hex(QUERY))).await,
            Err(Refused::NotSupported)
        );
        assert_eq!(
            store.resolve(Some(QUERY.into()), None).await.as_deref(),
            Ok(QUERY)
        );
    }

    #[test]
    fn a_malformed_extension_is_refused() {
        let ext = |v: serde_json::Value| {
            let map = serde_json::json!({ "persistedQuery": v });
            requested_hash(map.as_object()).map_err(|e| e.code_and_message().0)
        };
        let hash = sha256_hex(QUERY);
        assert_eq!(
            ext(serde_json::json!({"version": 1, "sha256Hash": hash})),
            Ok(Some(hash.clone()))
        );
        assert_eq!(
            ext(serde_json::json!({"version": 1, "sha256Hash": hash.to_uppercase()})),
            Ok(Some(hash.clone()))
        );
        for bad in [
            serde_json::json!("x"),
            serde_json::json!({"version": 2, "sha256Hash": hash}),
            serde_json::json!({"version": 1}),
            serde_json::json!({"version": 1, "sha256Hash": 7}),
            serde_json::json!({"version": 1, "sha256Hash": "abc"}),
            serde_json::json!({"version": 1, "sha256Hash": "z".repeat(64)}),
        ] {
            assert_eq!(ext(bad.clone()), Err("BAD_REQUEST"), "{bad}");
        }
        assert_eq!(requested_hash(None), Ok(None));
    }

    #[test]
    fn a_manifest_whose_ids_are_not_their_bodies_hashes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("operations.json");
        let write = |id: &str| {
            std::fs::write(
                &path,
                serde_json::json!({
                    "format": "apollo-persisted-query-manifest",
                    "version": 1,
                    "operations": [{"id": id, "name": "T", "type": "query", "body": QUERY}],
                })
                .to_string(),
            )
            .unwrap();
        };
        write(&sha256_hex(QUERY));
        assert_eq!(read_manifest(&path).unwrap().len(), 1);
        write(&sha256_hex("{ me { id } }"));
        assert!(read_manifest(&path).is_err());
        std::fs::write(
            &path,
            "{\"format\": \"other\", \"version\": 1, \"operations\": []}",
        )
        .unwrap();
        assert!(read_manifest(&path).is_err());
    }
}
