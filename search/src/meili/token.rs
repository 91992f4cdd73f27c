//! Tenant tokens: a browser may search Meilisearch directly with a token that carries the principal's
//! scope as a filter Meilisearch applies to every search made with it.

use chrono::{DateTime, Duration, Utc};
use meilisearch_sdk::client::Client;
use meilisearch_sdk::errors::Error as MeiliError;
use serde_json::json;

use super::filter;
use crate::error::SearchError;
use crate::query::Scope;

/// The longest a tenant token may live.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::hours(1);

/// A Meilisearch tenant token (a JWT signed with HS256) that may search `index_uid` within `scope` until
/// `expires_at`: its search rules hold the scope's filter, the same one `MeiliIndex` applies.
///
/// Sign it with a key that may only search (see `MeiliIndex::create_search_key`), given as its uid and
/// its value. Never sign with the master key or an admin key: a token is only as narrow as the key that
/// signed it, and Meilisearch cannot tell here which kind of key it is given.
///
/// `expires_at` must be after `now` (the caller's clock) and at most an hour ahead of it; a scope that
/// allows nothing gets no token.
pub fn tenant_token(
    scope: &Scope,
    api_key_uid: &str,
    api_key: &str,
    index_uid: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<String, SearchError> {
    if expires_at <= now {
        return Err(SearchError::bad_query("expiresAt", "must be in the future"));
    }
    if expires_at > now + MAX_TOKEN_LIFETIME {
        return Err(SearchError::bad_query(
            "expiresAt",
            "must be at most an hour ahead",
        ));
    }
    if api_key.is_empty() {
        return Err(SearchError::bad_query("apiKey", "must not be empty"));
    }
    if index_uid.is_empty() {
        return Err(SearchError::bad_query("indexUid", "must not be empty"));
    }
    if scope.is_empty() {
        return Err(SearchError::bad_query("scope", "allows no case"));
    }
    let Some(scope_filter) = filter::scope(scope).write() else {
        return Err(SearchError::internal("a scope without a county"));
    };
    let rules = json!({ index_uid: { "filter": scope_filter } });
    let expires = time::OffsetDateTime::from_unix_timestamp(expires_at.timestamp())
        .map_err(|e| SearchError::bad_query("expiresAt", e.to_string()))?;
    // The client only signs: it never connects.
    let signer = Client::new("http://127.0.0.1", Some(api_key))
        .map_err(|e| SearchError::internal(format!("creating a token signer: {e}")))?;
    signer
        .generate_tenant_token(api_key_uid.to_owned(), rules, None, Some(expires))
        .map_err(|error| match error {
            MeiliError::Uuid(_) | MeiliError::InvalidUuid4Version => {
                SearchError::bad_query("apiKeyUid", "must be the uid of an API key")
            }
            MeiliError::TenantTokensExpiredSignature => {
                SearchError::bad_query("expiresAt", "must be in the future")
            }
            other => SearchError::internal(format!("signing a tenant token: {other}")),
        })
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use fengqiao_domain::TenantLevel;

    use super::*;

    const UID: &str = "76cf8b87-fd12-4688-ad34-260d930ca4f4";

    fn claims(token: &str) -> serde_json::Value {
        let payload = token.split('.').nth(1).unwrap();
        let mut bytes = Vec::new();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut buffer = 0u32;
        let mut bits = 0;
        for c in payload.bytes() {
            let value = alphabet.iter().position(|a| *a == c).unwrap() as u32;
            buffer = (buffer << 6) | value;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                bytes.push((buffer >> bits) as u8);
                buffer &= (1 << bits) - 1;
            }
        }
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn a_token_carries_the_scope_filter_and_its_expiry() {
        let scope = Scope::subtree(7, TenantLevel::Township, 1);
        let expires = Utc::now() + Duration::minutes(10);
        let token = tenant_token(
            &scope,
            UID,
            "a-search-key-value",
            "cases",
            expires,
            Utc::now(),
        )
        .unwrap();
        let claims = claims(&token);
        assert_eq!(
            claims["searchRules"]["cases"]["filter"],
            "county = 7 AND township = 1"
        );
        assert_eq!(claims["apiKeyUid"], UID);
        assert_eq!(claims["exp"], expires.timestamp());
    }

    #[test]
    fn expiry_is_bounded_and_keys_are_checked() {
        let scope = Scope::county(7);
        for expires in [
            Utc::now() - Duration::seconds(1),
            Utc::now() + Duration::minutes(61),
        ] {
            assert!(matches!(
                tenant_token(&scope, UID, "key", "cases", expires, Utc::now()),
                Err(SearchError::BadQuery { .. })
            ));
        }
        let soon = Utc::now() + Duration::minutes(5);
        assert!(matches!(
            tenant_token(&scope, "not-a-uid", "key", "cases", soon, Utc::now()),
            Err(SearchError::BadQuery { .. })
        ));
        assert!(matches!(
            tenant_token(
                &Scope::grants(7, vec![]),
                UID,
                "key",
                "cases",
                soon,
                Utc::now()
            ),
            Err(SearchError::BadQuery { .. })
        ));
    }
}
