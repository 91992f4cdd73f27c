//! The carriers of the object types that aggregates show one another: each wraps the record it shows.
//!
//! Their fields are resolved in the file of their aggregate (`impl CaseNode` is in `cases.rs`, `impl
//! UnitNode` in `tenants.rs`). A case shows its units and summonses and a summons shows its case, so if
//! every carrier lived beside its fields the aggregates' files would import one another in a circle;
//! here they import this file alone. See docs/ARCHITECTURE.md.

use crate::app::records::{CaseRecord, SummonsRecord, TenantRecord, UnitRecord, UserRecord};

/// A case (一件一码): everything a resident brought, and where it stands in the closed loop.
pub struct CaseNode(pub CaseRecord);

/// A center in the county → township → village tree.
pub struct TenantNode(pub TenantRecord);

/// A staff account.
pub struct UserNode(pub UserRecord);

/// A staff member as others see them on a case or its timeline: a name, not the account.
pub struct StaffNode(pub UserRecord);

/// A department stationed in a center (入驻单位).
pub struct UnitNode(pub UnitRecord);

/// An on-call unit summoned to a case (中心吹哨、部门报到).
pub struct SummonsNode(pub SummonsRecord);
