//! Why a search or an index change failed.

/// Every failure of a `CaseIndex`, by the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The query breaks a limit; the client can fix it.
    #[error("{field}: {message}")]
    BadQuery {
        field: &'static str,
        message: String,
    },
    /// The engine cannot answer now (unreachable, starting, being rebuilt); the caller may retry or fall
    /// back to listing cases from the store.
    #[error("the search index is unavailable: {0}")]
    Unavailable(String),
    /// A fault of the engine or of this crate. Logged, never shown to a client.
    #[error("search failed: {0}")]
    Internal(String),
}

impl SearchError {
    pub fn bad_query(field: &'static str, message: impl Into<String>) -> SearchError {
        SearchError::BadQuery {
            field,
            message: message.into(),
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> SearchError {
        SearchError::Internal(cause.to_string())
    }

    /// A stable, transport-neutral code.
    pub fn code(&self) -> &'static str {
        match self {
            SearchError::BadQuery { .. } => "BAD_USER_INPUT",
            SearchError::Unavailable(_) => "SEARCH_UNAVAILABLE",
            SearchError::Internal(_) => "INTERNAL",
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SearchError::Unavailable(_))
    }
}
