//! Configuration, layered: built-in defaults < a TOML file < `FENGQIAO_` environment variables (`__` for
//! nesting). Secrets may come from a file named by the matching `*_file` setting. Unknown keys are refused.
//! Secrets are never printed: `Debug` shows them redacted.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A secret value; `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the server listens.
    pub listen: String,
    /// Folder for the embedded database and generated keys.
    pub data_dir: PathBuf,
    /// A `sqlite://` or `postgres://` URL; empty means a SQLite file in `data_dir`.
    pub database_url: Secret,
    /// PostgreSQL only: a URL of the role that owns the schema. When set, migrations run as that role,
    /// which then grants `database_url`'s role the rows (never the tables) it works with, so row-level
    /// security holds for the server. Empty: migrations run as `database_url`'s role, which on PostgreSQL
    /// then owns the tables and the server refuses to start; migrate with `fengqiao migrate` under an
    /// owner role instead, or set this.
    pub database_owner_url: Secret,
    /// Largest number of pooled database connections.
    pub database_max_connections: u32,
    /// A `redis://` URL; empty means the in-process cache.
    pub redis_url: Secret,
    /// Prefix of every Redis key and channel, so that deployments sharing one Redis stay apart.
    pub redis_prefix: String,
    /// Migrate the database on start.
    pub auto_migrate: bool,
    /// Seed the demo county on start when the database has no tenant. Unset, it does so only on the
    /// embedded database (no `database_url`), so a production database never gets the demo accounts.
    pub seed_demo_if_empty: Option<bool>,
    /// How many cases the demo county is seeded with (1 to 100,000), spread over the past 150 days.
    pub demo_cases: usize,
    /// Minutes between runs of the deadline scanner; 0 turns it off in this process.
    pub deadline_scan_minutes: u64,
    pub auth: AuthConfig,
    pub personal_data: PersonalDataConfig,
    pub graphql: GraphqlConfig,
    pub http: HttpConfig,
    pub search: SearchConfig,
}

/// What browsers and HTTP intermediaries are told: which other origins may call the API (CORS), whether
/// responses are compressed, and how long browsers keep to HTTPS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Origins (`scheme://host[:port]`) whose pages may call the API from a browser; `"*"` allows every
    /// origin (only without credentials). The server's own origin (GraphiQL) needs no entry. The embedded
    /// default allows the web console's development origin only.
    pub cors_allowed_origins: Vec<String>,
    /// Let browsers send cookies and HTTP authentication with cross-origin calls. Fengqiao's tokens travel
    /// in the `Authorization` header, which needs no credentials mode, so off.
    pub cors_allow_credentials: bool,
    /// How long a browser may keep a preflight's answer, in seconds.
    pub cors_max_age_seconds: usize,
    /// Compress responses (gzip, brotli, zstd) for clients that accept it.
    pub compression: bool,
    /// `Strict-Transport-Security: max-age=…` on every response, in seconds; 0 sends none. Set it where
    /// the API is reached over HTTPS only (browsers ignore it over plain HTTP).
    pub hsts_seconds: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cors_allowed_origins: vec!["http://localhost:5173".into()],
            cors_allow_credentials: false,
            cors_max_age_seconds: 600,
            compression: true,
            hsts_seconds: 0,
        }
    }
}

/// Persisted queries: a client sends the SHA-256 hash of a query instead of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PersistedQueries {
    /// Only full query texts are accepted.
    Off,
    /// Automatic persisted queries (the `persistedQuery` extension Apollo Client and urql send): an
    /// unknown hash answers `PERSISTED_QUERY_NOT_FOUND`, the client sends the text with its hash once,
    /// and any replica runs it by hash from then on.
    #[default]
    Automatic,
    /// Only the operations of `graphql.persisted_query_manifest` run, by hash or by their exact text;
    /// anything else answers `PERSISTED_QUERY_NOT_ALLOWED`. What a county locks production down to.
    AllowList,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HS256 signing secret, at least 32 bytes; empty means a random one kept in `data_dir`.
    pub jwt_secret: Secret,
    pub jwt_secret_file: Option<PathBuf>,
    pub issuer: String,
    pub audience: String,
    pub access_token_minutes: i64,
    pub refresh_token_days: i64,
    /// Password checks (argon2id, 19 MiB each) run at once; more wait. Size it to the memory limit.
    pub password_check_concurrency: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersonalDataConfig {
    /// Key for encrypting ID numbers and phones and for their keyed hashes (64 hex characters); empty means
    /// a random one kept in `data_dir`.
    pub key: Secret,
    pub key_file: Option<PathBuf>,
}

/// Case search: the embedded index in `data_dir` by default; Meilisearch when `meili_url` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// A Meilisearch server, e.g. `http://127.0.0.1:7700`; empty means the embedded index.
    pub meili_url: String,
    /// An API key that may manage the index (documents, settings, tasks, index swaps). Not the master key:
    /// create one with the keys API.
    pub meili_api_key: Secret,
    pub meili_api_key_file: Option<PathBuf>,
    /// The index's uid; several deployments on one server need different ones.
    pub meili_index: String,
    /// A search-only API key (and its uid) that signs the tenant tokens `searchToken` hands out. Empty:
    /// no tenant tokens.
    pub meili_search_key: Secret,
    pub meili_search_key_file: Option<PathBuf>,
    pub meili_search_key_uid: String,
    /// Where the embedded index is kept; empty means `data_dir/search`. One process at a time.
    pub index_dir: Option<PathBuf>,
    /// Feed the index from the outbox in this process. Every replica may (they take turns); a process that
    /// only runs commands needs not.
    pub worker: bool,
    /// Outbox rows taken at once.
    pub batch: u64,
    /// Minutes a tenant token lives, at most 60.
    pub token_minutes: i64,
    /// The counties (tenant ids) whose cases this server's index holds and feeds; unset, every county.
    /// For deployments that share one database but keep separate indexes, e.g.
    /// `FENGQIAO_SEARCH__COUNTIES=[3]`; `[]` feeds none.
    pub counties: Option<Vec<i64>>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            meili_url: String::new(),
            meili_api_key: Secret::default(),
            meili_api_key_file: None,
            meili_index: "fengqiao_cases".into(),
            meili_search_key: Secret::default(),
            meili_search_key_file: None,
            meili_search_key_uid: String::new(),
            index_dir: None,
            worker: true,
            batch: 500,
            token_minutes: 60,
            counties: None,
        }
    }
}

impl SearchConfig {
    /// The folder of the embedded index.
    pub fn index_dir(&self, data_dir: &Path) -> PathBuf {
        self.index_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("search"))
    }
}

/// An address or a CIDR range of addresses: `10.0.0.7`, `10.244.0.0/16`, `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    network: std::net::IpAddr,
    prefix: u8,
}

impl AddressRange {
    pub fn parse(text: &str) -> Option<AddressRange> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let network: std::net::IpAddr = address.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(AddressRange { network, prefix })
    }

    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        match (self.network, address) {
            (V4(net), V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (V6(net), V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for AddressRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for AddressRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AddressRange::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is no address or CIDR range (e.g. 10.0.0.7 or 10.244.0.0/16)"
            ))
        })
    }
}

/// Who may read the schema through `__schema` and `__type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Introspection {
    /// Anyone, signed in or not (a development setting).
    Everyone,
    /// Signed-in callers only: the production default. Front-end developers sign in to read the schema,
    /// or take the committed `schema.graphql`.
    #[default]
    SignedIn,
    /// Nobody.
    Nobody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphqlConfig {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Deepest nesting of brackets, braces and parentheses in a query's text, and of arrays and objects
    /// in a request's JSON body and variables.
    pub max_nesting: usize,
    /// Most fields one request may select (aliases and `__typename` included, fragments spread).
    pub max_fields: usize,
    /// Largest request body, in bytes; a larger one is refused with `REQUEST_TOO_LARGE` (HTTP 413)
    /// before it is read further.
    pub max_body_bytes: usize,
    /// How long a query (a read) may run, in milliseconds, before it is answered `REQUEST_TIMEOUT`;
    /// mutations are not cut short.
    pub max_query_millis: u64,
    /// Mutations one principal (a signed-in account; an anonymous caller by its address) may send in a
    /// burst, each root field of a mutation request counting one: the capacity of its token bucket.
    pub mutation_burst: u32,
    /// Mutations a minute a principal may go on sending once its burst is spent: the bucket's refill rate.
    /// More answers `RATE_LIMITED` with `extensions.retryAfter`. Shared by every replica through Redis;
    /// counted per replica while Redis is out of reach.
    pub mutations_per_minute: u32,
    /// Who may introspect the schema: `signed_in` (default), `everyone` or `nobody`.
    pub introspection: Introspection,
    /// Suggest field names in validation errors ("did you mean …"): a development aid that tells an
    /// anonymous caller the schema, so off by default.
    pub suggestions: bool,
    /// Serve GraphiQL at `/graphiql` (off by default; a development aid).
    pub graphiql: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed: addresses or CIDR ranges (`10.244.0.0/16` for
    /// an ingress whose pods move). The client address (for sign-in throttling and the audit) is the
    /// peer's, or the nearest address in `X-Forwarded-For` that is not a trusted proxy when the peer is one.
    pub trusted_proxies: Vec<AddressRange>,
    /// Persisted queries: `automatic` (default), `allow_list` or `off`.
    pub persisted_queries: PersistedQueries,
    /// The operations that may run in `allow_list` mode: a manifest as `generate-persisted-query-manifest`
    /// writes it (`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id":
    /// "<sha256 of body>", "name": …, "type": "query", "body": …}]}`). In `automatic` mode its
    /// operations are known from the start.
    pub persisted_query_manifest: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: Secret::default(),
            database_owner_url: Secret::default(),
            database_max_connections: 32,
            redis_url: Secret::default(),
            redis_prefix: "fengqiao:".into(),
            auto_migrate: true,
            seed_demo_if_empty: None,
            demo_cases: 3000,
            deadline_scan_minutes: 5,
            auth: AuthConfig::default(),
            personal_data: PersonalDataConfig::default(),
            graphql: GraphqlConfig::default(),
            http: HttpConfig::default(),
            search: SearchConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: Secret::default(),
            jwt_secret_file: None,
            issuer: "fengqiao".into(),
            audience: "fengqiao-api".into(),
            access_token_minutes: 15,
            refresh_token_days: 14,
            password_check_concurrency: 2,
        }
    }
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        GraphqlConfig {
            max_depth: 12,
            max_complexity: 2000,
            max_nesting: 64,
            max_fields: 500,
            max_body_bytes: 1024 * 1024,
            max_query_millis: 10_000,
            mutation_burst: 60,
            mutations_per_minute: 120,
            introspection: Introspection::SignedIn,
            suggestions: false,
            graphiql: false,
            trusted_proxies: Vec::new(),
            persisted_queries: PersistedQueries::Automatic,
            persisted_query_manifest: None,
        }
    }
}

impl HttpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for origin in &self.cors_allowed_origins {
            if origin == "*" {
                if self.cors_allow_credentials {
                    return Err(ConfigError::Invalid(
                        "http.cors_allowed_origins = [\"*\"] cannot go with cors_allow_credentials: \
                         name the origins"
                            .into(),
                    ));
                }
                continue;
            }
            if !is_origin(origin) {
                return Err(ConfigError::Invalid(format!(
                    "http.cors_allowed_origins: {origin:?} is no origin; write scheme://host[:port], \
                     e.g. https://console.example.gov.cn, without a path or a trailing slash"
                )));
            }
        }
        if self.cors_max_age_seconds > 86_400 {
            return Err(ConfigError::Invalid(
                "http.cors_max_age_seconds must be at most 86400".into(),
            ));
        }
        Ok(())
    }
}

/// `http://` or `https://`, a host of letters, digits, dots, hyphens (or a bracketed IPv6 address), an
/// optional port, nothing after.
fn is_origin(text: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    host_ok && port_ok
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration: cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Config {
    /// Loads defaults, then the TOML file if given, then `FENGQIAO_` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Self::from_figment(Self::figment(file))?;
        config.read_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // FENGQIAO_CONFIG (the file) and FENGQIAO_LOG (the log filter) belong to the command line.
        figment.merge(
            Env::prefixed("FENGQIAO_")
                .ignore(&["config", "log"])
                .split("__"),
        )
    }

    /// Extracts and checks a configuration; secret files are not read yet.
    pub fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Replaces secrets with the content of their `*_file` settings.
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.auth.jwt_secret_file {
            self.auth.jwt_secret = Secret::new(read_secret(path)?);
        }
        if let Some(path) = &self.personal_data.key_file {
            self.personal_data.key = Secret::new(read_secret(path)?);
        }
        if let Some(path) = &self.search.meili_api_key_file {
            self.search.meili_api_key = Secret::new(read_secret(path)?);
        }
        if let Some(path) = &self.search.meili_search_key_file {
            self.search.meili_search_key = Secret::new(read_secret(path)?);
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.expose().len() < 32 {
            return Err(ConfigError::Invalid(
                "auth.jwt_secret must be at least 32 bytes".into(),
            ));
        }
        if !(1..=120).contains(&self.auth.access_token_minutes) {
            return Err(ConfigError::Invalid(
                "auth.access_token_minutes must be between 1 and 120".into(),
            ));
        }
        if !(1..=600_000).contains(&self.graphql.max_query_millis) {
            return Err(ConfigError::Invalid(
                "graphql.max_query_millis must be between 1 and 600000".into(),
            ));
        }
        for (value, name) in [
            (self.graphql.mutation_burst, "graphql.mutation_burst"),
            (
                self.graphql.mutations_per_minute,
                "graphql.mutations_per_minute",
            ),
        ] {
            if !(1..=1_000_000).contains(&value) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be between 1 and 1000000"
                )));
            }
        }
        if !(1..=100_000).contains(&self.demo_cases) {
            return Err(ConfigError::Invalid(
                "demo_cases must be between 1 and 100000".into(),
            ));
        }
        if !(1..=64).contains(&self.auth.password_check_concurrency) {
            return Err(ConfigError::Invalid(
                "auth.password_check_concurrency must be between 1 and 64".into(),
            ));
        }
        if self.redis_prefix.is_empty()
            || self.redis_prefix.len() > 64
            || self
                .redis_prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError::Invalid(
                "redis_prefix must be 1 to 64 characters without spaces".into(),
            ));
        }
        let search = &self.search;
        let url_ok = search.meili_url.is_empty()
            || search.meili_url.starts_with("http://")
            || search.meili_url.starts_with("https://");
        if !url_ok {
            return Err(ConfigError::Invalid(
                "search.meili_url must be an http:// or https:// URL".into(),
            ));
        }
        if search.meili_index.is_empty()
            || !search
                .meili_index
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::Invalid(
                "search.meili_index must be letters, digits, - and _".into(),
            ));
        }
        // Checked before the secret files are read too: a key named by its file counts as given.
        let search_key_given =
            !search.meili_search_key.is_empty() || search.meili_search_key_file.is_some();
        if search_key_given == search.meili_search_key_uid.is_empty() {
            return Err(ConfigError::Invalid(
                "search.meili_search_key and search.meili_search_key_uid go together".into(),
            ));
        }
        if !(1..=10_000).contains(&search.batch) {
            return Err(ConfigError::Invalid(
                "search.batch must be between 1 and 10000".into(),
            ));
        }
        if !(1..=60).contains(&search.token_minutes) {
            return Err(ConfigError::Invalid(
                "search.token_minutes must be between 1 and 60".into(),
            ));
        }
        if self.graphql.persisted_queries == PersistedQueries::AllowList
            && self.graphql.persisted_query_manifest.is_none()
        {
            return Err(ConfigError::Invalid(
                "graphql.persisted_queries = \"allow_list\" needs graphql.persisted_query_manifest"
                    .into(),
            ));
        }
        self.http.validate()?;
        if self.database_max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database_max_connections must be at least 1".into(),
            ));
        }
        let url = self.database_url.expose();
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(
                "database_url must be a sqlite: or postgres:// URL".into(),
            ));
        }
        let owner = self.database_owner_url.expose();
        if !owner.is_empty() {
            if !(owner.starts_with("postgres://") || owner.starts_with("postgresql://")) {
                return Err(ConfigError::Invalid(
                    "database_owner_url must be a postgres:// URL".into(),
                ));
            }
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::Invalid(
                    "database_owner_url needs a PostgreSQL database_url".into(),
                ));
            }
        }
        Ok(())
    }

    /// Whether to seed the demo county into an empty database on start.
    pub fn seeds_demo(&self) -> bool {
        self.seed_demo_if_empty
            .unwrap_or(self.database_url.is_empty())
    }

    /// The database URL in force: the configured one, or a SQLite file in the data folder.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("fengqiao.db").display()
            )
        } else {
            self.database_url.expose().to_owned()
        }
    }
}

fn read_secret(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graphql_surface_defaults_to_production_and_can_be_opened() {
        let defaults = Config::from_figment(Config::figment(None)).unwrap().graphql;
        assert_eq!(
            (
                defaults.graphiql,
                defaults.introspection,
                defaults.suggestions,
                defaults.max_body_bytes,
                defaults.max_nesting,
                defaults.max_query_millis,
            ),
            (
                false,
                Introspection::SignedIn,
                false,
                1024 * 1024,
                64,
                10_000
            )
        );
        let opened = Config::from_figment(
            Config::figment(None)
                .merge(Serialized::default("graphql.introspection", "everyone"))
                .merge(Serialized::default(
                    "graphql.trusted_proxies",
                    ["10.0.0.1", "10.244.0.0/16"],
                )),
        )
        .unwrap()
        .graphql;
        assert_eq!(opened.introspection, Introspection::Everyone);
        let [single, range] = opened.trusted_proxies.as_slice() else {
            panic!("{:?}", opened.trusted_proxies);
        };
        let ip = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
        assert!(single.contains(ip("10.0.0.1")) && !single.contains(ip("10.0.0.2")));
        assert!(range.contains(ip("10.244.3.9")) && !range.contains(ip("10.245.0.1")));
        assert!(!range.contains(ip("::1")));
        assert!(
            AddressRange::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("192.0.2.1"))
        );
        assert!(
            AddressRange::parse("fd00::/8")
                .unwrap()
                .contains(ip("fd12::1"))
        );
        for bad in ["10.0.0.1/33", "not-an-address", "10.0.0.0/x"] {
            assert_eq!(AddressRange::parse(bad), None, "{bad}");
        }
        assert!(
            Config::from_figment(Config::figment(None).merge(Serialized::default(
                "graphql.trusted_proxies",
                ["10.0.0.0/40"]
            )))
            .is_err()
        );
        assert!(
            Config::from_figment(
                Config::figment(None).merge(Serialized::default("graphql.introspection", "some"))
            )
            .is_err()
        );
    }

    #[test]
    fn the_example_file_parses_and_env_overrides_it() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/example.toml");
        let config = Config::from_figment(Config::figment(Some(&example))).unwrap();
        assert_eq!(config.listen, "0.0.0.0:8080");
        // The production example locks the schema and the operations down.
        assert_eq!(config.graphql.introspection, Introspection::Nobody);
        assert!(!config.graphql.suggestions && !config.graphql.graphiql);
        assert_eq!(
            config.graphql.persisted_queries,
            PersistedQueries::AllowList
        );
        assert_eq!(config.http.hsts_seconds, 31_536_000);
        let overridden = Config::from_figment(
            Config::figment(Some(&example)).merge(Serialized::default("graphql.max_depth", 7)),
        )
        .unwrap();
        assert_eq!(overridden.graphql.max_depth, 7);
    }

    #[test]
    fn unknown_keys_and_weak_secrets_are_refused() {
        let unknown = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("lisen = \"x\""));
        assert!(Config::from_figment(unknown).is_err());
        let weak = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[auth]\njwt_secret = \"short\""));
        assert!(Config::from_figment(weak).is_err());
        let spaced = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("redis_prefix = \"two words\""));
        assert!(Config::from_figment(spaced).is_err());
        let prefixed = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("redis_prefix = \"county-a:\""));
        assert_eq!(
            Config::from_figment(prefixed).map(|c| c.redis_prefix).ok(),
            Some("county-a:".to_owned())
        );
    }

    #[test]
    fn a_search_key_from_a_file_goes_with_its_uid() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("meili-search-key");
        std::fs::write(&key_file, "a-search-key\n").unwrap();
        let file = dir.path().join("fengqiao.toml");
        let toml = |uid: &str| {
            format!(
                "[search]\nmeili_url = \"http://127.0.0.1:7700\"\nmeili_search_key_file = {:?}\n{uid}",
                key_file.display().to_string()
            )
        };
        std::fs::write(&file, toml("meili_search_key_uid = \"0b86cd0c-371e\"")).unwrap();
        let config = Config::load(Some(&file)).unwrap();
        assert_eq!(config.search.meili_search_key.expose(), "a-search-key");
        assert_eq!(config.search.meili_search_key_uid, "0b86cd0c-371e");

        std::fs::write(&file, toml("")).unwrap();
        let refused = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(refused.contains("go together"), "{refused}");
    }

    #[test]
    fn the_demo_county_size_is_bounded() {
        let config = |toml: &str| {
            Config::from_figment(
                Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml)),
            )
        };
        assert_eq!(config("").unwrap().demo_cases, 3000);
        assert_eq!(config("demo_cases = 120").unwrap().demo_cases, 120);
        for refused in [
            "demo_cases = 0",
            "demo_cases = 100001",
            "demo_cases = -1",
            "demo_cases = \"many\"",
        ] {
            assert!(config(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn cors_origins_and_persisted_queries_are_checked() {
        let config = |toml: &str| {
            Config::from_figment(
                Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml)),
            )
        };
        let defaults = config("").unwrap();
        assert_eq!(
            defaults.http.cors_allowed_origins,
            ["http://localhost:5173"]
        );
        assert_eq!(
            defaults.graphql.persisted_queries,
            PersistedQueries::Automatic
        );
        for accepted in [
            "[http]\ncors_allowed_origins = [\"https://console.example.gov.cn\", \"http://10.0.0.7:8080\", \"http://[::1]:3000\"]",
            "[http]\ncors_allowed_origins = [\"*\"]",
            "[http]\ncors_allowed_origins = []",
            "[graphql]\npersisted_queries = \"allow_list\"\npersisted_query_manifest = \"/etc/fengqiao/operations.json\"",
        ] {
            assert!(config(accepted).is_ok(), "{accepted}");
        }
        for refused in [
            "[http]\ncors_allowed_origins = [\"https://console.example.gov.cn/\"]",
            "[http]\ncors_allowed_origins = [\"console.example.gov.cn\"]",
            "[http]\ncors_allowed_origins = [\"ftp://example.gov.cn\"]",
            "[http]\ncors_allowed_origins = [\"https://a b\"]",
            "[http]\ncors_allowed_origins = [\"http://host:99999\"]",
            "[http]\ncors_allowed_origins = \"https://console.example.gov.cn\"",
            "[http]\ncors_allowed_origins = [\"*\"]\ncors_allow_credentials = true",
            "[http]\ncors_max_age_seconds = 100000",
            "[graphql]\npersisted_queries = \"allow_list\"",
            "[graphql]\npersisted_queries = \"sometimes\"",
        ] {
            assert!(config(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn an_owner_url_needs_postgresql_on_both_urls() {
        let config = |toml: &str| {
            Config::from_figment(
                Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml)),
            )
        };
        assert!(config("database_owner_url = \"postgres://owner@db/f\"").is_err());
        assert!(
            config(
                "database_url = \"postgres://app@db/f\"\ndatabase_owner_url = \"sqlite://x.db\""
            )
            .is_err()
        );
        let both = config(
            "database_url = \"postgres://app@db/f\"\ndatabase_owner_url = \"postgres://owner@db/f\"",
        )
        .unwrap();
        assert_eq!(both.database_owner_url.expose(), "postgres://owner@db/f");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut config = Config::default();
        config.auth.jwt_secret = Secret::new("a-very-secret-signing-key-of-32-bytes");
        config.database_url = Secret::new("postgres://app:hunter2@db/fengqiao");
        let printed = format!("{config:?}");
        assert!(!printed.contains("a-very-secret") && !printed.contains("hunter2"));
    }
}
