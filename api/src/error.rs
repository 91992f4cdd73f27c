//! The API's error catalogue. Every error the API returns maps to one stable `extensions.code`; internal
//! causes are logged and never returned.

use async_graphql::ErrorExtensions;
use fengqiao_domain::{LifecycleError, PersonalDataError, TenantError};
use fengqiao_tenancy::Denied;

/// Deliberately not `Display`: async-graphql turns any `Display` error into a message without a code, so
/// every conversion must go through `extend`, which sets `extensions.code`.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated(&'static str),
    Forbidden(String),
    NotFound,
    BadUserInput {
        field: String,
        message: String,
    },
    InvalidTransition(String),
    IdempotencyConflict,
    Conflict(String),
    /// The search index cannot answer now; nothing was lost, the caller may retry.
    SearchUnavailable,
    /// Too many attempts of something limited (password checks from one address, look-ups by one
    /// principal); `retry_after` seconds until the next is taken.
    RateLimited {
        why: &'static str,
        retry_after: u64,
    },
    /// The account is locked after wrong passwords in a row, for `retry_after` more seconds.
    AccountLocked {
        retry_after: u64,
    },
    /// The password was right, but must be changed (`changePassword`) before the account signs in:
    /// someone else chose it (`first_sign_in`) or it is older than the county allows (`expired`).
    PasswordChangeRequired {
        reason: &'static str,
    },
    /// The password was right, but the sign-in needs a code of the account's second factor
    /// (`TOTP_REQUIRED`), or the account must enroll one first (`TOTP_ENROLLMENT_REQUIRED`).
    SecondFactorRequired {
        enrolled: bool,
    },
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::BadUserInput { .. } => "BAD_USER_INPUT",
            ApiError::InvalidTransition(_) => "INVALID_TRANSITION",
            ApiError::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::SearchUnavailable => "SEARCH_UNAVAILABLE",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::AccountLocked { .. } => "ACCOUNT_LOCKED",
            ApiError::PasswordChangeRequired { .. } => "PASSWORD_CHANGE_REQUIRED",
            ApiError::SecondFactorRequired { enrolled: true } => "TOTP_REQUIRED",
            ApiError::SecondFactorRequired { enrolled: false } => "TOTP_ENROLLMENT_REQUIRED",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The message returned to the client; internal causes are never part of it.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(why) => (*why).to_owned(),
            ApiError::Forbidden(why)
            | ApiError::InvalidTransition(why)
            | ApiError::Conflict(why) => why.clone(),
            ApiError::NotFound => "not found".to_owned(),
            ApiError::BadUserInput { field, message } => format!("{field}: {message}"),
            ApiError::IdempotencyConflict => {
                "this idempotency key was already used with different input".to_owned()
            }
            ApiError::SearchUnavailable => {
                "search is unavailable for a moment; cases are still being recorded, try again shortly"
                    .to_owned()
            }
            ApiError::RateLimited { why, retry_after } => {
                format!("{why}; try again in {retry_after} s")
            }
            ApiError::AccountLocked { retry_after } => format!(
                "the account is locked after too many wrong passwords; try again in {} min",
                retry_after.div_ceil(60)
            ),
            ApiError::PasswordChangeRequired { reason } => match *reason {
                "expired" => "the password has expired; choose a new one with changePassword".into(),
                _ => "choose your own password with changePassword before signing in".into(),
            },
            ApiError::SecondFactorRequired { enrolled: true } => {
                "send the code of your authenticator app as `totp`".into()
            }
            ApiError::SecondFactorRequired { enrolled: false } => {
                "this account signs in with a second factor: enroll one with beginTotpEnrollment, then sign in with its first code".into()
            }
            ApiError::Internal(_) => "internal error".to_owned(),
        }
    }

    /// Seconds until a refused attempt may be made again, where that is known.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after, .. } | ApiError::AccountLocked { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The message with any internal cause, for logs and the command line only.
    pub fn detail(&self) -> String {
        match self {
            ApiError::Internal(cause) => format!("internal error: {cause:#}"),
            other => format!("{} ({})", other.message(), other.code()),
        }
    }

    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(error.into())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        ApiError::Internal(error.into())
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::NotVisible => ApiError::NotFound,
            Denied::Forbidden(why) => ApiError::Forbidden(why),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        match error {
            LifecycleError::InvalidInput { field, reason } => ApiError::bad_input(field, reason),
            other => ApiError::InvalidTransition(other.to_string()),
        }
    }
}

impl From<TenantError> for ApiError {
    fn from(error: TenantError) -> Self {
        ApiError::bad_input("code", error.to_string())
    }
}

/// Checks free text from a client (length in characters, no control characters; line breaks only where
/// `multiline`) and returns it trimmed, or the `BAD_USER_INPUT` naming `field`.
pub fn clean_text(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> ApiResult<String> {
    fengqiao_domain::text::checked(value, min, max, multiline)
        .map(str::to_owned)
        .map_err(|e| ApiError::bad_input(field, e.to_string()))
}

/// Personal-data errors name the input field they came from.
pub fn personal_data_error(field: &str, error: PersonalDataError) -> ApiError {
    ApiError::bad_input(field, error.to_string())
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %format!("{cause:#}"), "internal error");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let ApiError::BadUserInput { field, .. } = self {
                ext.set("field", field.as_str());
            }
            if let Some(seconds) = self.retry_after() {
                ext.set("retryAfter", seconds);
            }
            if let ApiError::PasswordChangeRequired { reason } = self {
                ext.set("reason", *reason);
            }
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        error.extend()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
