//! The Fengqiao domain: tenant levels and division codes, case vocabulary, the case lifecycle state
//! machine, case codes, and the personal-data value types.
//!
//! This crate is pure. It must not depend on tokio, sea-orm, async-graphql, actix or redis, and it never
//! reads the clock: every rule that depends on time takes the moment as a parameter.

pub mod calendar;
pub mod case;
pub mod clocks;
pub mod code;
pub mod lifecycle;
pub mod personal;
pub mod risk;
pub mod rollup;
pub mod roster;
pub mod supervision;
pub mod tenant;
pub mod text;

pub use case::{
    CaseKind, Category, Channel, MediationMethod, Outcome, PartyRole, Satisfaction, Tier,
};
pub use code::{CaseCode, CaseCodeError};
pub use lifecycle::{
    CaseState, CaseStatus, Command, EscalationTarget, LifecycleError, ReturnDecision,
};
pub use personal::{IdCard, PersonalDataError, Phone, mask_free_text, mask_name};
pub use tenant::{Ancestry, DivisionCode, TenantError, TenantLevel};

/// Declares a closed vocabulary: a fieldless enum with stable snake_case names used in storage and on the
/// wire, and a `parse` that rejects anything else.
#[doc(hidden)]
#[macro_export]
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable storage and wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a stable name; unknown names are refused, never defaulted.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
