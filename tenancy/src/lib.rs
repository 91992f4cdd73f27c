//! Who may do what, where: the tenant tree as ancestry chains, principals, roles, the casbin-backed
//! `Authorizer` that hands out `Permit`s, password hashing, and identity tokens (JWT access tokens and
//! rotating refresh tokens).
//!
//! Depends on the domain only; it knows nothing of storage, GraphQL or HTTP.

pub mod authz;
pub mod password;
pub mod token;
pub mod totp;

pub use authz::{
    Act, Action, Authorizer, AuthzError, CaseScope, Denied, Grant, MemberAct, Permit, Principal,
    Relation, Role, Target, act,
};
pub use password::{PasswordError, check_password_rules, hash_password, verify_password};
pub use token::{AccessClaims, RefreshToken, TokenError, TokenIssuer, TokenSettings};
