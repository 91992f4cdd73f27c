//! GraphQL enums mirroring the domain's vocabularies (domain types derive no GraphQL traits).

use fengqiao_domain as d;
use fengqiao_tenancy as t;

use crate::app::records as s;

macro_rules! mirror {
    ($name:literal, $gql:ident => $domain:ty { $($variant:ident),+ $(,)? }) => {
        #[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug, serde::Serialize)]
        #[graphql(name = $name)]
        pub enum $gql { $($variant),+ }

        impl From<$gql> for $domain {
            fn from(value: $gql) -> Self {
                type D = $domain;
                match value { $($gql::$variant => D::$variant),+ }
            }
        }

        impl From<$domain> for $gql {
            fn from(value: $domain) -> Self {
                type D = $domain;
                match value { $(D::$variant => $gql::$variant),+ }
            }
        }
    };
}

mirror!("CaseStatus", CaseStatus => d::CaseStatus {
    Registered, Accepted, Rejected, Dispatched, Returned, InProgress, Resolved, Unresolved, FollowedUp, Closed
});
mirror!("CaseKind", CaseKind => d::CaseKind { Dispute, Petition, LegalConsultation, LegalAid, GridEvent });
mirror!("Channel", Channel => d::Channel { Window, Phone, Letter, Hotline12345, GridMember, Online, PlatformTransfer });
mirror!("Category", Category => d::Category {
    Neighbour, MarriageFamily, LandForest, Labour, Medical, Traffic, Lending, PropertyManagement, LandRequisition, Other
});
mirror!("SupervisionLevel", SupervisionLevel => d::supervision::SupervisionLevel { Remind, Urge, Notice, Accountability });
mirror!("SupervisionStatus", SupervisionStatus => d::supervision::SupervisionStatus { Open, Responded });
mirror!("RiskLevel", RiskLevel => d::risk::RiskLevel { Red, Orange, Yellow, Blue, Green });
mirror!("Complexity", Complexity => d::clocks::Complexity { Simple, General, Complex });
mirror!("Tier", Tier => d::Tier { InitialMediation, JointMediation, Litigation, LeaderCase });
mirror!("Outcome", Outcome => d::Outcome { Resolved, BasicallyResolved });
mirror!("MediationMethod", MediationMethod => d::MediationMethod {
    PeoplesMediation, AdministrativeMediation, JudicialMediation, ExplanationAccepted, ReferredToLitigation, Withdrawn
});
mirror!("Satisfaction", Satisfaction => d::Satisfaction { Satisfied, BasicallySatisfied, Dissatisfied });
mirror!("PartyRole", PartyRole => d::PartyRole { Applicant, Respondent, ThirdParty });
mirror!("TenantLevel", TenantLevel => d::TenantLevel { County, Township, Village, Grid });
mirror!("Role", Role => t::Role {
    CountyAdmin, SecurityAdmin, CenterDirector, IntakeClerk, Dispatcher, UnitHandler, Mediator, GridMember, Supervisor, Auditor
});
mirror!("Residency", Residency => s::Residency { Resident, Rotating, OnCall });

/// Where an escalation goes.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EscalationTarget {
    /// The next rung of the ladder, in the same center.
    NextTier,
    /// The parent tenant's center (逐级上报); the case keeps its code.
    ParentTenant,
}

/// The answer to a returned case.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ReturnReview {
    /// 改派: hand the case to a unit again.
    Redispatch,
    /// Take it back to the center, as accepted.
    TakeBack,
}

// What a subscriber hears of: ASSIGNED, CO_ASSIGNED and SUMMONED go to a unit; the others to a center.
mirror!("LiveEventKind", LiveEventKind => crate::live::LiveKind {
    Assigned, CoAssigned, Summoned, Registered, Escalated, Returned, SummonsReported
});
