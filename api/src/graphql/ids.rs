//! Global object ids (Relay): `base64url("Case:42")`, opaque to clients, and keyset cursors.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{ApiError, ApiResult};

/// The object types that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalId {
    Case,
    Tenant,
    Unit,
    User,
    Party,
    SupervisionOrder,
    Summons,
    Session,
}

impl GlobalId {
    fn name(self) -> &'static str {
        match self {
            GlobalId::Case => "Case",
            GlobalId::Tenant => "Tenant",
            GlobalId::Unit => "Unit",
            GlobalId::User => "User",
            GlobalId::Party => "Party",
            GlobalId::SupervisionOrder => "SupervisionOrder",
            GlobalId::Summons => "Summons",
            GlobalId::Session => "Session",
        }
    }

    const ALL: [GlobalId; 8] = [
        GlobalId::Case,
        GlobalId::Tenant,
        GlobalId::Unit,
        GlobalId::User,
        GlobalId::Party,
        GlobalId::SupervisionOrder,
        GlobalId::Summons,
        GlobalId::Session,
    ];
}

pub fn encode_id(kind: GlobalId, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// Decodes any global id into its type and number.
pub fn decode_any(field: &str, id: &ID) -> ApiResult<(GlobalId, i64)> {
    let bad = || ApiError::bad_input(field, "not a valid id");
    let raw = URL_SAFE_NO_PAD.decode(id.as_str()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (name, number) = text.split_once(':').ok_or_else(bad)?;
    let kind = GlobalId::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(bad)?;
    let number: i64 = number.parse().map_err(|_| bad())?;
    if number <= 0 {
        return Err(bad());
    }
    Ok((kind, number))
}

/// Decodes a global id that must be of type `kind`.
pub fn decode_id(field: &str, kind: GlobalId, id: &ID) -> ApiResult<i64> {
    match decode_any(field, id)? {
        (found, number) if found == kind => Ok(number),
        _ => Err(ApiError::bad_input(
            field,
            format!("expected the id of a {}", kind.name()),
        )),
    }
}

pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("cursor:{id}"))
}

/// Decodes the cursor passed as `field` (`after` or `before`).
pub fn decode_cursor(field: &str, cursor: &str) -> ApiResult<i64> {
    let bad = || ApiError::bad_input(field, "not a cursor from this connection");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix("cursor:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_other_types() {
        let id = encode_id(GlobalId::Case, 42);
        assert_eq!(decode_id("id", GlobalId::Case, &id).unwrap(), 42);
        assert!(decode_id("id", GlobalId::Tenant, &id).is_err());
        assert!(decode_id("id", GlobalId::Case, &ID("garbage!".into())).is_err());
        assert!(decode_id("id", GlobalId::Case, &ID(URL_SAFE_NO_PAD.encode("Case:-1"))).is_err());
        assert_eq!(decode_cursor("after", &encode_cursor(7)).unwrap(), 7);
        assert!(decode_cursor("before", "nope").is_err());
    }
}
