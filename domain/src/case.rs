//! The vocabulary of cases: kinds, intake channels, categories, tiers, outcomes and follow-up grades.

use crate::vocabulary;

vocabulary! {
    /// What a resident brings (矛盾纠纷 / 信访 / 法律咨询 / 法律援助 / 网格事件).
    CaseKind {
        Dispute = "dispute",
        Petition = "petition",
        LegalConsultation = "legal_consultation",
        LegalAid = "legal_aid",
        GridEvent = "grid_event",
    }
}

vocabulary! {
    /// How a case reached the center.
    Channel {
        /// 窗口
        Window = "window",
        /// 电话
        Phone = "phone",
        /// 来信
        Letter = "letter",
        /// 12345 政务服务便民热线
        Hotline12345 = "hotline_12345",
        /// 网格员
        GridMember = "grid_member",
        /// 网上
        Online = "online",
        /// 平台转办
        PlatformTransfer = "platform_transfer",
    }
}

vocabulary! {
    /// The subject of a case, as the published statistics group them.
    Category {
        /// 邻里纠纷
        Neighbour = "neighbour",
        /// 婚姻家庭纠纷
        MarriageFamily = "marriage_family",
        /// 山林土地纠纷
        LandForest = "land_forest",
        /// 劳动争议
        Labour = "labour",
        /// 医疗纠纷
        Medical = "medical",
        /// 交通事故纠纷
        Traffic = "traffic",
        /// 借贷纠纷
        Lending = "lending",
        /// 物业纠纷
        PropertyManagement = "property_management",
        /// 征地拆迁
        LandRequisition = "land_requisition",
        /// 其他
        Other = "other",
    }
}

vocabulary! {
    /// The four-path ladder (初步调解 → 多元调解 → 诉讼裁决 → 领导包案).
    Tier {
        InitialMediation = "initial_mediation",
        JointMediation = "joint_mediation",
        Litigation = "litigation",
        LeaderCase = "leader_case",
    }
}

impl Tier {
    /// The next rung of the ladder, if any.
    pub const fn next(self) -> Option<Tier> {
        match self {
            Tier::InitialMediation => Some(Tier::JointMediation),
            Tier::JointMediation => Some(Tier::Litigation),
            Tier::Litigation => Some(Tier::LeaderCase),
            Tier::LeaderCase => None,
        }
    }
}

vocabulary! {
    /// The outcome of handling that counts as resolved (化解 / 基本化解).
    Outcome {
        Resolved = "resolved",
        BasicallyResolved = "basically_resolved",
    }
}

vocabulary! {
    /// How a case was resolved.
    MediationMethod {
        /// 人民调解协议
        PeoplesMediation = "peoples_mediation",
        /// 行政调解协议
        AdministrativeMediation = "administrative_mediation",
        /// 司法调解协议
        JudicialMediation = "judicial_mediation",
        /// 解释说明后接受
        ExplanationAccepted = "explanation_accepted",
        /// 引导诉讼或仲裁
        ReferredToLitigation = "referred_to_litigation",
        /// 撤回
        Withdrawn = "withdrawn",
    }
}

impl MediationMethod {
    /// Whether this method concludes a mediation (counted by the mediation success rate).
    pub const fn is_mediation(self) -> bool {
        matches!(
            self,
            MediationMethod::PeoplesMediation
                | MediationMethod::AdministrativeMediation
                | MediationMethod::JudicialMediation
        )
    }
}

vocabulary! {
    /// The resident's answer at follow-up (满意 / 基本满意 / 不满意).
    Satisfaction {
        Satisfied = "satisfied",
        BasicallySatisfied = "basically_satisfied",
        Dissatisfied = "dissatisfied",
    }
}

vocabulary! {
    /// A party's place in a case.
    PartyRole {
        /// 申请人 / 来访人
        Applicant = "applicant",
        /// 被申请人
        Respondent = "respondent",
        /// 第三人
        ThirdParty = "third_party",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for kind in CaseKind::ALL {
            assert_eq!(CaseKind::parse(kind.as_str()), Some(*kind));
        }
        for category in Category::ALL {
            assert_eq!(Category::parse(category.as_str()), Some(*category));
        }
        assert_eq!(Category::parse("Neighbour"), None);
        assert_eq!(Channel::parse(""), None);
    }

    #[test]
    fn the_ladder_ends_at_a_leader_case() {
        let mut tier = Tier::InitialMediation;
        let mut rungs = 1;
        while let Some(next) = tier.next() {
            tier = next;
            rungs += 1;
        }
        assert_eq!((tier, rungs), (Tier::LeaderCase, 4));
    }
}
