//! The demo county: 清水县's shape (18 townships, 267 villages), staff in every role, units stationed in
//! every center, and a few thousand cases spread over the past five months in every state of the loop,
//! with Chinese text of the kind residents bring. Everything goes through `AppState`, so every case has a
//! real timeline, and the seed is deterministic.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use fengqiao_domain::{
    CaseKind, Category, Channel, Command, DivisionCode, EscalationTarget, IdCard, MediationMethod,
    Outcome, PartyRole, ReturnDecision, Satisfaction, TenantLevel,
};
use fengqiao_tenancy::{Principal, Role, hash_password};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::{AppState, Registration};
use crate::build_state;
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::Config;
use crate::store::cases::{NewCase, NewParty};
use crate::store::scope::{SystemPermit, as_system};
use crate::store::tenants::FirstAccount;
use crate::store::users::NewPassword;
use crate::store::users::Residency;
use fengqiao_domain::clocks::Complexity;

pub const DEMO_PASSWORD: &str = "fengqiao-demo";
pub const COUNTY_CODE: &str = "620521000000";
pub const SIGN_IN_HINT: &str = "Demo sign-in: username county.director (or county.supervisor, t01.clerk, t01.dispatcher, \
t01.sfs for a unit handler, admin and security for the system and security administrators), password fengqiao-demo \
(admin, security and county.auditor choose their own with changePassword at first sign-in)";
const DAYS: i64 = 150;

const TOWNSHIPS: [&str; 18] = [
    "永清镇",
    "红堡镇",
    "白驼镇",
    "金集镇",
    "秦亭镇",
    "山门镇",
    "白沙镇",
    "王河镇",
    "郭川镇",
    "黄门镇",
    "松树镇",
    "远门镇",
    "土门镇",
    "草川铺镇",
    "陇东镇",
    "丰望乡",
    "新城乡",
    "贾川乡",
];
const VILLAGE_FIRST: [&str; 24] = [
    "李", "王", "张", "赵", "刘", "陈", "杨", "马", "胡", "郭", "何", "高", "罗", "梁", "宋", "唐",
    "许", "韩", "冯", "邓", "曹", "彭", "曾", "田",
];
const VILLAGE_SECOND: [&str; 12] = [
    "家", "川", "湾", "沟", "坪", "庄", "山", "河", "峪", "塬", "堡", "岔",
];
const SURNAMES: [&str; 30] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧",
];
const GIVEN: [&str; 40] = [
    "建国", "秀英", "志强", "桂兰", "海燕", "玉梅", "德明", "春花", "永红", "小龙", "红霞", "国庆",
    "文杰", "丽娟", "长青", "金凤", "俊峰", "淑珍", "保平", "彩霞", "明", "强", "伟", "芳", "军",
    "静", "磊", "霞", "勇", "娟", "新民", "爱军", "晓东", "亚平", "学文", "凤英", "福顺", "来福",
    "巧云", "立新",
];

/// The text of one kind of complaint: a title and a description, with `{a}` and `{b}` for the parties and
/// `{v}` for the village.
struct Template {
    category: Category,
    kind: CaseKind,
    title: &'static str,
    description: &'static str,
}

const TEMPLATES: [Template; 16] = [
    Template {
        category: Category::Neighbour,
        kind: CaseKind::Dispute,
        title: "宅基地界址纠纷",
        description: "{v}村民{a}反映，邻居{b}新建院墙时越过原界址约半米，占用其宅基地，双方多次争吵未果，请求中心调解。",
    },
    Template {
        category: Category::Neighbour,
        kind: CaseKind::Dispute,
        title: "排水沟堵塞引发邻里矛盾",
        description: "{a}称{b}将生活污水排入两家之间的排水沟，雨季积水倒灌其院内，协商无果，双方情绪激动。",
    },
    Template {
        category: Category::Neighbour,
        kind: CaseKind::GridEvent,
        title: "邻里因通行道路发生口角",
        description: "网格员巡查发现{v}{a}与{b}因门前通行道路宽窄问题发生口角，存在打架苗头，已现场劝解并上报。",
    },
    Template {
        category: Category::Neighbour,
        kind: CaseKind::Dispute,
        title: "树木遮挡采光纠纷",
        description: "{a}反映{b}在房后种植的核桃树遮挡其房屋采光，要求砍伐，{b}不同意，双方僵持。",
    },
    Template {
        category: Category::MarriageFamily,
        kind: CaseKind::Dispute,
        title: "赡养老人纠纷",
        description: "{v}七旬老人{a}反映其子{b}等兄弟三人对赡养费分担意见不一，老人生活困难，请求调解赡养问题。",
    },
    Template {
        category: Category::MarriageFamily,
        kind: CaseKind::Dispute,
        title: "彩礼返还纠纷",
        description: "{a}与{b}订婚后解除婚约，{a}一方要求返还彩礼八万八千元，{b}一方仅同意返还部分，双方家族矛盾加深。",
    },
    Template {
        category: Category::MarriageFamily,
        kind: CaseKind::LegalConsultation,
        title: "离婚财产分割咨询",
        description: "{a}来中心咨询离婚时婚后共同建房及承包地如何分割，已由驻中心律师解答并告知诉讼途径。",
    },
    Template {
        category: Category::LandForest,
        kind: CaseKind::Dispute,
        title: "承包地边界纠纷",
        description: "{a}与{b}两户承包地相邻，因地界石被移动，对约二分地归属产生争议，涉及二轮承包合同。",
    },
    Template {
        category: Category::LandForest,
        kind: CaseKind::Petition,
        title: "林地确权争议信访",
        description: "{a}来访反映{v}集体林地确权时其家庭承包的山林被划入{b}名下，多次反映未果，要求重新核实。",
    },
    Template {
        category: Category::Labour,
        kind: CaseKind::Dispute,
        title: "讨要拖欠工资",
        description: "{a}等六名农民工反映在{b}承包的工地务工，被拖欠工资共计四万六千元，多次讨要无果。",
    },
    Template {
        category: Category::Labour,
        kind: CaseKind::LegalAid,
        title: "工伤赔偿法律援助申请",
        description: "{a}在砖厂务工时右手受伤，厂方负责人{b}只支付部分医疗费，{a}经济困难，申请法律援助。",
    },
    Template {
        category: Category::Lending,
        kind: CaseKind::Dispute,
        title: "民间借贷纠纷",
        description: "{a}称{b}三年前借款五万元用于购买农机，约定一年归还，至今未还，催要时双方发生争执。",
    },
    Template {
        category: Category::Traffic,
        kind: CaseKind::Dispute,
        title: "农用车剐蹭赔偿纠纷",
        description: "{a}驾驶三轮车在村道与{b}的小型货车剐蹭，双方对责任划分和修理费用各执一词。",
    },
    Template {
        category: Category::Medical,
        kind: CaseKind::Petition,
        title: "卫生院诊疗纠纷",
        description: "{a}反映其父在镇卫生院输液后出现不良反应，认为医护人员{b}操作不当，要求说明情况并赔偿。",
    },
    Template {
        category: Category::PropertyManagement,
        kind: CaseKind::Dispute,
        title: "小区物业费纠纷",
        description: "县城小区业主{a}认为物业公司负责人{b}服务不到位，拒交物业费，物业停止为其提供服务，矛盾激化。",
    },
    Template {
        category: Category::Other,
        kind: CaseKind::GridEvent,
        title: "道路损坏影响出行",
        description: "网格员上报{v}通组道路被雨水冲毁约二十米，村民{a}、{b}等出行困难，需协调修复。",
    },
];

/// Where each seeded case stops, with its weight out of 100.
const ENDINGS: [(Ending, u32); 12] = [
    (Ending::Registered, 4),
    (Ending::Rejected, 3),
    (Ending::Accepted, 4),
    (Ending::Dispatched, 5),
    (Ending::Returned, 2),
    (Ending::InProgress, 9),
    (Ending::Resolved, 9),
    (Ending::Unresolved, 2),
    (Ending::FollowedUp, 9),
    (Ending::Closed, 47),
    (Ending::EscalatedAndClosed, 4),
    (Ending::Reopened, 2),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Registered,
    Rejected,
    Accepted,
    Dispatched,
    Returned,
    InProgress,
    Resolved,
    Unresolved,
    FollowedUp,
    Closed,
    EscalatedAndClosed,
    Reopened,
}

struct Township {
    id: i64,
    villages: Vec<(i64, String)>,
    clerk: Principal,
    dispatcher: Principal,
    director: Principal,
    mediator: Principal,
    /// (unit id, its handler)
    units: Vec<(i64, Principal)>,
}

struct County {
    director: Principal,
    dispatcher: Principal,
    units: Vec<(i64, Principal)>,
}

/// Seeds the demo county when the database has no tenant yet; says what it did.
pub async fn seed_demo_if_empty(config: &Config) -> anyhow::Result<Option<String>> {
    let probe = build_state(config, Arc::new(SystemClock)).await?;
    if as_system(probe.store.tenant_count()).await.map_err(err)? > 0 {
        return Ok(None);
    }
    drop(probe);
    seed_demo(config).await.map(Some)
}

/// Seeds the demo county; refuses if it exists.
pub async fn seed_demo(config: &Config) -> anyhow::Result<String> {
    let real_now = SystemClock.now();
    let clock = ManualClock::starting_at(real_now - Duration::days(DAYS));
    // The seed walks the case clock through past months; passwords and sessions are set now, or every
    // demo password would have expired by the time the demo starts.
    let state = crate::build_state_with_session_clock(
        config,
        Arc::new(clock.clone()),
        Arc::new(SystemClock),
    )
    .await?;
    println!(
        "Seeding the demo county 清水县 (18 townships, 267 villages, {} cases); this takes a minute the first time…",
        config.demo_cases
    );
    // Seeding is the operator's work: the system's, though each step is checked as the staff member
    // who would take it.
    as_system(Box::pin(seed(&state, &clock, real_now, config.demo_cases))).await
}

fn person(rng: &mut StdRng) -> String {
    format!(
        "{}{}",
        SURNAMES[rng.gen_range(0..SURNAMES.len())],
        GIVEN[rng.gen_range(0..GIVEN.len())]
    )
}

fn id_card(rng: &mut StdRng) -> IdCard {
    loop {
        let first = format!(
            "620521{:04}{:02}{:02}{:03}",
            rng.gen_range(1945..2004),
            rng.gen_range(1..13),
            rng.gen_range(1..29),
            rng.gen_range(1..999)
        );
        let check = IdCard::check_char(first.as_bytes()) as char;
        if let Ok(id) = IdCard::parse(&format!("{first}{check}")) {
            return id;
        }
    }
}

fn phone(rng: &mut StdRng) -> Option<fengqiao_domain::Phone> {
    let prefix = ["138", "139", "151", "187", "177", "199"][rng.gen_range(0..6)];
    fengqiao_domain::Phone::parse(&format!("{prefix}{:08}", rng.gen_range(0..100_000_000u32))).ok()
}

fn err(e: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!(e.detail())
}

async fn seed(
    state: &AppState,
    clock: &ManualClock,
    real_now: DateTime<Utc>,
    cases: usize,
) -> anyhow::Result<String> {
    let mut rng = StdRng::seed_from_u64(20261123);
    let hash = tokio::task::spawn_blocking(|| hash_password(DEMO_PASSWORD))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let code = DivisionCode::parse(COUNTY_CODE, TenantLevel::County)?;
    let (county, first) = state
        .store
        .bootstrap_county(
            &SystemPermit::for_the_process(),
            &code,
            "清水县",
            FirstAccount {
                username: "admin",
                display_name: "系统管理员",
                password: NewPassword {
                    hash: &hash,
                    must_change: true,
                    set_at: real_now,
                },
            },
            FirstAccount {
                username: "security",
                display_name: "安全保密管理员",
                password: NewPassword {
                    hash: &hash,
                    must_change: true,
                    set_at: real_now,
                },
            },
            clock.now(),
        )
        .await
        .map_err(err)
        .context("the demo county exists already")?;
    state.load_policies().await.map_err(err)?;
    let admin = Principal {
        user_id: first.admin,
        tenant_id: county.id,
    };
    let security = Principal {
        user_id: first.security,
        tenant_id: county.id,
    };

    let staff = |tenant: i64, username: String, name: String, role: Role| {
        let hash = hash.clone();
        let admin = admin.clone();
        let security = security.clone();
        // The demo's staff sign in with the demo password; an administrator of the three (三员) changes it
        // first, as a bootstrapped one does.
        let administrator = role == Role::Auditor;
        async move {
            let user = state
                .create_user_hashed(&admin, tenant, &username, &name, &hash, administrator, None)
                .await
                .map_err(err)?;
            state
                .grant_role(&security, user.id, tenant, role, None)
                .await
                .map_err(err)?;
            anyhow::Ok(Principal {
                user_id: user.id,
                tenant_id: tenant,
            })
        }
    };
    let unit = |tenant: i64,
                name: String,
                department: &'static str,
                residency: Residency,
                handler: String| {
        let hash = hash.clone();
        let admin = admin.clone();
        let security = security.clone();
        async move {
            let unit = state
                .create_unit(&admin, tenant, &name, department, residency)
                .await
                .map_err(err)?;
            let user = state
                .create_user_hashed(
                    &admin,
                    tenant,
                    &handler,
                    &format!("{name}经办人"),
                    &hash,
                    false,
                    None,
                )
                .await
                .map_err(err)?;
            state
                .grant_role(&security, user.id, tenant, Role::UnitHandler, None)
                .await
                .map_err(err)?;
            state
                .add_unit_member(&admin, unit.id, user.id, None)
                .await
                .map_err(err)?;
            if residency == Residency::Rotating {
                // 轮驻: on duty Monday, Wednesday and Friday.
                let roster = fengqiao_domain::roster::DutyRoster::parse(
                    "mon 08:30-17:30\nwed 08:30-17:30\nfri 08:30-17:30",
                )
                .map_err(|e| anyhow::anyhow!("demo roster: {e}"))?;
                state
                    .set_duty_roster(&admin, unit.id, &roster, None)
                    .await
                    .map_err(err)?;
            }
            anyhow::Ok((
                unit.id,
                Principal {
                    user_id: user.id,
                    tenant_id: tenant,
                },
            ))
        }
    };

    let c = county.id;
    let county_staff = County {
        director: staff(
            c,
            "county.director".into(),
            "县综治中心主任".into(),
            Role::CenterDirector,
        )
        .await?,
        dispatcher: staff(
            c,
            "county.dispatcher".into(),
            "县综治中心调度员".into(),
            Role::Dispatcher,
        )
        .await?,
        units: vec![
            unit(
                c,
                "县人民法院".into(),
                "法院",
                Residency::Resident,
                "county.court".into(),
            )
            .await?,
            unit(
                c,
                "县司法局".into(),
                "司法",
                Residency::Resident,
                "county.justice".into(),
            )
            .await?,
            unit(
                c,
                "县信访局".into(),
                "信访",
                Residency::Resident,
                "county.petition".into(),
            )
            .await?,
            unit(
                c,
                "县人社局".into(),
                "人社",
                Residency::Rotating,
                "county.hrss".into(),
            )
            .await?,
        ],
    };
    staff(
        c,
        "county.supervisor".into(),
        "县委政法委督导员".into(),
        Role::Supervisor,
    )
    .await?;
    staff(
        c,
        "county.auditor".into(),
        "安全审计员".into(),
        Role::Auditor,
    )
    .await?;
    staff(
        c,
        "county.clerk".into(),
        "县中心窗口受理员".into(),
        Role::IntakeClerk,
    )
    .await?;
    staff(
        c,
        "county.mediator".into(),
        "县人民调解员".into(),
        Role::Mediator,
    )
    .await?;

    let mut townships = Vec::new();
    let mut village_names = std::collections::HashSet::new();
    for (i, name) in TOWNSHIPS.iter().enumerate() {
        let n = i + 1;
        let code = if n <= 15 {
            format!("620521{}000", 100 + i)
        } else {
            format!("620521{}000", 200 + i - 15)
        };
        let tenant = state
            .create_tenant(&admin, c, &code, name)
            .await
            .map_err(err)?;
        let t = tenant.id;
        let short = name.trim_end_matches(['镇', '乡']);
        let count = if n <= 15 { 15 } else { 14 };
        let mut villages = Vec::new();
        for v in 0..count {
            let vname = loop {
                let candidate = format!(
                    "{}{}{}",
                    VILLAGE_FIRST[rng.gen_range(0..VILLAGE_FIRST.len())],
                    VILLAGE_SECOND[rng.gen_range(0..VILLAGE_SECOND.len())],
                    if rng.gen_bool(0.85) { "村" } else { "社区" }
                );
                if village_names.insert(candidate.clone()) {
                    break candidate;
                }
            };
            let vcode = format!("{}{}", &code[..9], 200 + v);
            let village = state
                .create_tenant(&admin, t, &vcode, &vname)
                .await
                .map_err(err)?;
            villages.push((village.id, vname));
        }
        let p = format!("t{n:02}");
        townships.push(Township {
            id: t,
            villages,
            director: staff(
                t,
                format!("{p}.director"),
                format!("{short}综治中心主任"),
                Role::CenterDirector,
            )
            .await?,
            clerk: staff(
                t,
                format!("{p}.clerk"),
                format!("{short}窗口受理员"),
                Role::IntakeClerk,
            )
            .await?,
            dispatcher: staff(
                t,
                format!("{p}.dispatcher"),
                format!("{short}调度员"),
                Role::Dispatcher,
            )
            .await?,
            mediator: staff(
                t,
                format!("{p}.mediator"),
                format!("{short}人民调解员"),
                Role::Mediator,
            )
            .await?,
            units: vec![
                unit(
                    t,
                    format!("{short}司法所"),
                    "司法",
                    Residency::Resident,
                    format!("{p}.sfs"),
                )
                .await?,
                unit(
                    t,
                    format!("{short}派出所"),
                    "公安",
                    Residency::Resident,
                    format!("{p}.pcs"),
                )
                .await?,
                unit(
                    t,
                    format!("{short}人社服务站"),
                    "人社",
                    Residency::Rotating,
                    format!("{p}.rss"),
                )
                .await?,
            ],
        });
        staff(
            t,
            format!("{p}.grid"),
            format!("{short}网格员"),
            Role::GridMember,
        )
        .await?;
    }

    let start = real_now - Duration::days(DAYS);
    let mut counts = std::collections::BTreeMap::new();
    for i in 0..cases {
        let registered = start
            + Duration::seconds((DAYS * 86_400) * i as i64 / cases as i64)
            + Duration::minutes(rng.gen_range(0..240));
        let township = &townships[rng.gen_range(0..townships.len())];
        let ending = {
            let mut roll = rng.gen_range(0..100);
            let mut chosen = Ending::Closed;
            for (ending, weight) in ENDINGS {
                if roll < weight {
                    chosen = ending;
                    break;
                }
                roll -= weight;
            }
            chosen
        };
        let reached = seed_case(
            state,
            clock,
            &mut rng,
            &county_staff,
            township,
            registered,
            real_now,
            ending,
        )
        .await?;
        *counts.entry(reached).or_insert(0usize) += 1;
        if (i + 1) % 500 == 0 {
            println!("  {} cases…", i + 1);
        }
    }
    clock.set(real_now);
    let summary: Vec<String> = counts
        .iter()
        .map(|(status, n)| format!("{status} {n}"))
        .collect();
    Ok(format!(
        "Seeded 清水县 ({COUNTY_CODE}): 18 townships, {} villages, {cases} cases ({}).",
        townships.iter().map(|t| t.villages.len()).sum::<usize>(),
        summary.join(", ")
    ))
}

#[allow(clippy::too_many_arguments)]
async fn seed_case(
    state: &AppState,
    clock: &ManualClock,
    rng: &mut StdRng,
    county: &County,
    township: &Township,
    registered: DateTime<Utc>,
    real_now: DateTime<Utc>,
    ending: Ending,
) -> anyhow::Result<&'static str> {
    let template = &TEMPLATES[rng.gen_range(0..TEMPLATES.len())];
    let (village_id, village) = &township.villages[rng.gen_range(0..township.villages.len())];
    let (a, b) = (person(rng), person(rng));
    let fill = |text: &str| {
        text.replace("{a}", &a)
            .replace("{b}", &b)
            .replace("{v}", village)
    };
    let in_village = rng.gen_bool(0.6);
    let channel = match template.kind {
        CaseKind::GridEvent => Channel::GridMember,
        _ => [
            Channel::Window,
            Channel::Window,
            Channel::Phone,
            Channel::Hotline12345,
            Channel::Letter,
            Channel::Online,
        ][rng.gen_range(0..6)],
    };
    let applicant_id = id_card(rng);
    let applicant_phone = phone(rng);
    // As windows write them: some descriptions carry the applicant's phone or ID number too; roles that
    // may not reveal see them masked, as they see the names.
    let mut description = fill(template.description);
    // (Chosen from a digit of the ID number, so the random sequence, and every other seeded value, stays.)
    match (applicant_id.expose().as_bytes()[15] % 10, &applicant_phone) {
        (0..=2, Some(p)) => description.push_str(&format!("（联系电话：{}）", p.expose())),
        (3, _) => description.push_str(&format!("（身份证号：{}）", applicant_id.expose())),
        _ => {}
    }
    let parties = vec![
        NewParty {
            role: PartyRole::Applicant,
            name: a.clone(),
            id_card: Some(applicant_id),
            phone: applicant_phone,
            address: format!("{village}{}组", rng.gen_range(1..9)),
        },
        NewParty {
            role: PartyRole::Respondent,
            name: b.clone(),
            id_card: None,
            phone: phone(rng),
            address: format!("{village}{}组", rng.gen_range(1..9)),
        },
    ];
    let new = NewCase {
        kind: template.kind,
        complexity: [
            Complexity::Simple,
            Complexity::General,
            Complexity::General,
            Complexity::Complex,
        ][rng.gen_range(0..4)],
        channel,
        category: template.category,
        title: template.title.into(),
        description,
        place: format!("{village}{}组", rng.gen_range(1..9)),
        parties,
        idempotency: None,
    };
    clock.set(registered);
    let tenant_id = if in_village { *village_id } else { township.id };
    let (case, _) = state
        .register_case(
            &township.clerk,
            Registration {
                tenant_id: Some(tenant_id),
                case: new,
            },
        )
        .await
        .map_err(err)?;
    let id = case.id;
    let mut at = registered;
    // Advances the clock, unless that would pass the present: the case then stays where it is.
    macro_rules! step {
        ($hours:expr) => {{
            let hours: i64 = $hours;
            at += Duration::minutes(hours * 60 + rng.gen_range(0..50));
            clock.set(at);
            at < real_now
        }};
    }
    let go = |who: &Principal, command: Command| {
        let who = who.clone();
        async move { state.transition(&who, id, command).await.map_err(err) }
    };
    // The resident units (司法所, 派出所) lead; the rotating 人社服务站 helps as a co-unit now and then, as it
    // can only act during its shifts.
    let lead_index = (id as usize) % 2;
    let (lead, handler) = township.units[lead_index].clone();
    let co = township.units[if id % 3 == 0 { 2 } else { 1 - lead_index }].0;

    if ending == Ending::Registered || !step!(2) {
        return Ok("registered");
    }
    if ending == Ending::Rejected {
        go(
            &township.clerk,
            Command::Reject {
                reason: "该事项属于法院已受理的诉讼案件，不属于中心受理范围".into(),
                referral: "县人民法院立案庭".into(),
            },
        )
        .await?;
        return Ok("rejected");
    }
    go(&township.clerk, Command::Accept).await?;
    if ending == Ending::Accepted || !step!(3) {
        return Ok("accepted");
    }
    let deadline = at + Duration::days(7);
    let co_units = if rng.gen_bool(0.3) { vec![co] } else { vec![] };
    go(
        &township.dispatcher,
        Command::Dispatch {
            lead_unit: lead,
            co_units,
            deadline,
        },
    )
    .await?;
    if ending == Ending::Dispatched || !step!(5) {
        return Ok("dispatched");
    }
    if ending == Ending::Returned {
        go(
            &handler,
            Command::Return {
                reason: "该事项涉及土地权属，不属本单位职责，建议改派自然资源所".into(),
            },
        )
        .await?;
        return Ok("returned");
    }
    if rng.gen_bool(0.05) {
        go(
            &handler,
            Command::Return {
                reason: "当事人已外出务工，需改由其他单位联系".into(),
            },
        )
        .await?;
        let _ = step!(4);
        go(
            &township.dispatcher,
            Command::ReviewReturn(ReturnDecision::Redispatch {
                lead_unit: lead,
                co_units: vec![],
                deadline: at + Duration::days(7),
            }),
        )
        .await?;
        let _ = step!(2);
    }
    go(&handler, Command::Claim).await?;
    let work = rng.gen_range(12..24 * 12);
    if ending == Ending::InProgress || !step!(work) {
        return Ok("in_progress");
    }
    if ending == Ending::Unresolved || ending == Ending::EscalatedAndClosed {
        go(
            &handler,
            Command::Unresolve {
                reason: "双方分歧较大，经三次调解未能达成一致".into(),
                attempted: Some(MediationMethod::PeoplesMediation),
            },
        )
        .await?;
        if ending == Ending::Unresolved || !step!(24) {
            return Ok("unresolved");
        }
        go(
            &township.dispatcher,
            Command::Escalate {
                target: EscalationTarget::ParentTenant,
                note: "乡镇调解未果，逐级上报县综治中心".into(),
                leader: None,
            },
        )
        .await?;
        if !step!(6) {
            return Ok("accepted");
        }
        let (county_lead, county_handler) = county.units[(id as usize) % 2].clone();
        go(
            &county.dispatcher,
            Command::Dispatch {
                lead_unit: county_lead,
                co_units: vec![],
                deadline: at + Duration::days(20),
            },
        )
        .await?;
        if !step!(4) {
            return Ok("dispatched");
        }
        go(&county_handler, Command::Claim).await?;
        if !step!(24 * 6) {
            return Ok("in_progress");
        }
        go(
            &county_handler,
            Command::Resolve {
                outcome: Outcome::Resolved,
                method: MediationMethod::JudicialMediation,
                note: "经县法院诉前调解达成协议并申请司法确认".into(),
            },
        )
        .await?;
        if !step!(48) {
            return Ok("resolved");
        }
        go(
            &county.director,
            Command::FollowUp {
                satisfaction: Satisfaction::BasicallySatisfied,
                note: "电话回访，当事人基本满意".into(),
            },
        )
        .await?;
        if !step!(24) {
            return Ok("followed_up");
        }
        go(&county.dispatcher, Command::Close).await?;
        return Ok("closed");
    }
    let resolver = if rng.gen_bool(0.3) {
        &township.mediator
    } else {
        &handler
    };
    let (outcome, method) = match rng.gen_range(0..10) {
        0..=5 => (Outcome::Resolved, MediationMethod::PeoplesMediation),
        6 => (Outcome::Resolved, MediationMethod::AdministrativeMediation),
        7 => (
            Outcome::BasicallyResolved,
            MediationMethod::ExplanationAccepted,
        ),
        8 => (Outcome::Resolved, MediationMethod::Withdrawn),
        _ => (
            Outcome::BasicallyResolved,
            MediationMethod::ReferredToLitigation,
        ),
    };
    go(
        resolver,
        Command::Resolve {
            outcome,
            method,
            note: "经调解双方达成一致，签订人民调解协议书".into(),
        },
    )
    .await?;
    if ending == Ending::Resolved || !step!(48) {
        return Ok("resolved");
    }
    let satisfaction = match rng.gen_range(0..20) {
        0 => Satisfaction::Dissatisfied,
        1..=4 => Satisfaction::BasicallySatisfied,
        _ => Satisfaction::Satisfied,
    };
    go(
        &township.clerk,
        Command::FollowUp {
            satisfaction,
            note: "电话回访当事人".into(),
        },
    )
    .await?;
    if ending == Ending::FollowedUp || !step!(24) {
        return Ok("followed_up");
    }
    go(&township.dispatcher, Command::Close).await?;
    if ending == Ending::Reopened && step!(24 * 3) {
        go(
            &township.director,
            Command::Reopen {
                reason: "当事人反映对方未履行调解协议".into(),
                deadline: at + Duration::days(7),
            },
        )
        .await?;
        return Ok("dispatched");
    }
    Ok("closed")
}
