//! Identity tokens. Access tokens are JWTs signed with HS256 only (the algorithm is pinned when
//! verifying), valid 15 minutes, and must carry `exp`, `nbf`, `iss`, `aud` and `sub`. Refresh tokens are
//! random, stored only as a SHA-256 hash, used once, and grouped in families: reusing a spent refresh token
//! revokes its whole family (and, through the family id in every access token, the session).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The one algorithm accepted.
const ALGORITHM: Algorithm = Algorithm::HS256;
/// The media type of an access token (RFC 9068 §2.1), set and required in its `typ` header, so that no
/// other JWT signed with the same key (nor one of another profile) passes for one (RFC 8725 §3.11).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Allowed clock skew between servers, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            issuer: "fengqiao".into(),
            audience: "fengqiao-api".into(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(14),
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The tenant the user acts in.
    pub tid: i64,
    /// The refresh-token family (the session) this token belongs to.
    pub fam: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

impl AccessClaims {
    pub fn user_id(&self) -> Result<i64, TokenError> {
        self.sub.parse().map_err(|_| TokenError::Invalid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is invalid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the signing secret must be at least 32 bytes")]
    WeakSecret,
    #[error("the token could not be signed")]
    Signing,
}

pub struct TokenIssuer {
    settings: TokenSettings,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    pub fn new(secret: &[u8], settings: TokenSettings) -> Result<Self, TokenError> {
        if secret.len() < 32 {
            return Err(TokenError::WeakSecret);
        }
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(&[settings.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Ok(TokenIssuer {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            settings,
            validation,
        })
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Signs an access token for `user_id` acting in `tenant_id`, in session `family`.
    pub fn issue_access(
        &self,
        user_id: i64,
        tenant_id: i64,
        family: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), TokenError> {
        let expires = now + self.settings.access_ttl;
        let claims = AccessClaims {
            sub: user_id.to_string(),
            tid: tenant_id,
            fam: family.to_owned(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires.timestamp(),
        };
        let mut header = Header::new(ALGORITHM);
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        let token = encode(&header, &claims, &self.encoding).map_err(|_| TokenError::Signing)?;
        Ok((token, expires))
    }

    /// Verifies an access token against the current time, as jsonwebtoken reads it. Its header must say
    /// `typ: at+jwt` and carry nothing this issuer does not set: a `crit` list names extensions that must
    /// be understood, and none are (RFC 7515 §4.1.11); a key id or key location points at keys this
    /// issuer does not have.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok
            || header.crit.is_some()
            || header.kid.is_some()
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
        {
            return Err(TokenError::Invalid);
        }
        decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// A freshly minted refresh token: the secret goes to the client once, only the hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub secret: String,
    pub hash: String,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        let hash = Self::hash_of(&secret);
        RefreshToken { secret, hash }
    }

    /// The stored form of a refresh token.
    pub fn hash_of(secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
    }

    /// A new random session (family) id.
    pub fn new_family() -> String {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(SECRET, TokenSettings::default()).unwrap()
    }

    #[test]
    fn round_trips_and_pins_the_algorithm() {
        let issuer = issuer();
        let now = Utc::now();
        let (token, _) = issuer.issue_access(42, 7, "fam", now).unwrap();
        let claims = issuer.verify_access(&token).unwrap();
        assert_eq!(
            (claims.user_id().unwrap(), claims.tid, claims.fam.as_str()),
            (42, 7, "fam")
        );

        let forged = encode(
            &typed(Header::new(Algorithm::HS384)),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(issuer.verify_access(&forged), Err(TokenError::Invalid));
        let other = TokenIssuer::new(
            b"another secret of thirty-two bytes!",
            TokenSettings::default(),
        )
        .unwrap();
        assert_eq!(other.verify_access(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn expiry_and_not_before_are_enforced_with_bounded_leeway() {
        let issuer = issuer();
        let (old, _) = issuer
            .issue_access(1, 1, "f", Utc::now() - Duration::minutes(16))
            .unwrap();
        assert_eq!(issuer.verify_access(&old), Err(TokenError::Expired));
        let (skewed, _) = issuer
            .issue_access(1, 1, "f", Utc::now() + Duration::seconds(20))
            .unwrap();
        assert!(issuer.verify_access(&skewed).is_ok());
        let (future, _) = issuer
            .issue_access(1, 1, "f", Utc::now() + Duration::seconds(120))
            .unwrap();
        assert_eq!(issuer.verify_access(&future), Err(TokenError::Invalid));
    }

    #[test]
    fn required_claims_and_audience_are_checked() {
        let issuer = issuer();
        let now = Utc::now().timestamp();
        #[derive(Serialize)]
        struct NoSub<'a> {
            iss: &'a str,
            aud: &'a str,
            nbf: i64,
            exp: i64,
            tid: i64,
            fam: &'a str,
        }
        let token = encode(
            &typed(Header::new(ALGORITHM)),
            &NoSub {
                iss: "fengqiao",
                aud: "fengqiao-api",
                nbf: now,
                exp: now + 60,
                tid: 1,
                fam: "f",
            },
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(issuer.verify_access(&token), Err(TokenError::Invalid));
        let wrong_aud = TokenIssuer::new(
            SECRET,
            TokenSettings {
                audience: "elsewhere".into(),
                ..TokenSettings::default()
            },
        )
        .unwrap();
        let (token, _) = wrong_aud.issue_access(1, 1, "f", Utc::now()).unwrap();
        assert_eq!(issuer.verify_access(&token), Err(TokenError::Invalid));
        assert!(matches!(
            TokenIssuer::new(b"short", TokenSettings::default()),
            Err(TokenError::WeakSecret)
        ));
    }

    fn typed(mut header: Header) -> Header {
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header
    }

    /// A token with our claims and key, signed under `header`.
    fn signed_with(header: Header) -> String {
        let now = Utc::now();
        let claims = AccessClaims {
            sub: "1".into(),
            tid: 1,
            fam: "f".into(),
            iss: "fengqiao".into(),
            aud: "fengqiao-api".into(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: now.timestamp() + 60,
        };
        encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    #[test]
    fn the_header_must_be_an_access_tokens_and_carry_nothing_unknown() {
        let issuer = issuer();
        assert!(
            issuer
                .verify_access(&signed_with(typed(Header::new(ALGORITHM))))
                .is_ok()
        );
        // A plain JWT (typ JWT or none) is no access token.
        let mut plain = Header::new(ALGORITHM);
        assert_eq!(
            issuer.verify_access(&signed_with(plain.clone())),
            Err(TokenError::Invalid)
        );
        plain.typ = None;
        assert_eq!(
            issuer.verify_access(&signed_with(plain)),
            Err(TokenError::Invalid)
        );
        let mut crit = typed(Header::new(ALGORITHM));
        crit.crit = Some(vec!["exp".into()]);
        assert_eq!(
            issuer.verify_access(&signed_with(crit)),
            Err(TokenError::Invalid)
        );
        let mut kid = typed(Header::new(ALGORITHM));
        kid.kid = Some("other-key".into());
        assert_eq!(
            issuer.verify_access(&signed_with(kid)),
            Err(TokenError::Invalid)
        );
        let mut jku = typed(Header::new(ALGORITHM));
        jku.jku = Some("http://127.0.0.1/keys".into());
        assert_eq!(
            issuer.verify_access(&signed_with(jku)),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn refresh_tokens_are_stored_as_hashes() {
        let token = RefreshToken::generate();
        assert_ne!(token.secret, token.hash);
        assert_eq!(RefreshToken::hash_of(&token.secret), token.hash);
        assert_ne!(RefreshToken::generate().secret, token.secret);
    }
}
