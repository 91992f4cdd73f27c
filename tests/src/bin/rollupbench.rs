//! `rollupbench`: the county dashboard at scale, on PostgreSQL.
//!
//! `load` adds `--cases` cases (with their full timelines and their counters) to the demo county of the
//! database named by `FENGQIAO_DATABASE_URL`, in bulk: cases spread over the 35 months before now,
//! registered in every village, most closed, some rejected, escalated, awaiting follow-up or still open
//! (a share of those past their deadlines). The loader works out each case's figures from its own plan,
//! not from the timeline it writes, so `fengqiao verify-rollups` (which replays the timeline) checks one
//! against the other.
//!
//! `measure` then times, side by side: the dashboard computed from the counters (uncached) and served from
//! the cache, for one month and for twelve, and the same figures computed by a naive `GROUP BY` over the
//! cases table; then one run of the deadline scanner over the county (which raises supervision orders on
//! every overdue case), the dashboards again (now counting those orders), and verify-rollups. Figures go to stdout and, with
//! `--out`, to JSON.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use fengqiao::clock::{Clock as _, SystemClock};
use fengqiao::config::Config;
use fengqiao::reports::Period;
use fengqiao_domain::code::china_date;
use fengqiao_domain::rollup::{CaseFacts, Conclusion, Month};
use fengqiao_domain::{CaseKind, Category, Satisfaction, TenantLevel, Tier};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "rollupbench",
    about = "County dashboard benchmark on PostgreSQL"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add cases in bulk to the demo county.
    Load {
        #[arg(long, default_value_t = 1_000_000)]
        cases: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Give every case a varied complaint (subject, village, parties, what happened) and two parties
        /// with names and addresses, as the search benchmark needs; without it every case of a category has
        /// the same title and description and no parties.
        #[arg(long)]
        searchable: bool,
    },
    /// Time the dashboard (uncached, cached), the naive GROUP BY and the deadline scanner.
    Measure {
        /// Timed repetitions of each dashboard variant.
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Timed repetitions of the naive query.
        #[arg(long, default_value_t = 7)]
        naive_runs: usize,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip the deadline scanner.
        #[arg(long)]
        no_scan: bool,
    },
}

const ROWS_PER_INSERT: usize = 1_000;

struct Place {
    township: i64,
    village: i64,
    village_name: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = Config::load(None)?;
        if !config.effective_database_url().starts_with("postgres") {
            bail!("set FENGQIAO_DATABASE_URL to a PostgreSQL database holding the demo county");
        }
        // The benchmark loads and measures beneath every check, as the system.
        let work = async {
            match args.command {
                Command::Load {
                    cases,
                    seed,
                    searchable,
                } => load(&config, cases, seed, searchable).await,
                Command::Measure {
                    runs,
                    naive_runs,
                    out,
                    no_scan,
                } => measure(&config, runs, naive_runs, out, no_scan).await,
            }
        };
        fengqiao::store::scope::as_system(Box::pin(work)).await
    })
}

async fn query(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> anyhow::Result<Vec<sea_orm::QueryResult>> {
    Ok(db
        .query_all_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            values,
        ))
        .await?)
}

async fn demo_county(db: &impl ConnectionTrait) -> anyhow::Result<(i64, String)> {
    let rows = query(
        db,
        "SELECT id, code FROM tenants WHERE level = 'county' ORDER BY id LIMIT 1",
        vec![],
    )
    .await?;
    let row = rows
        .first()
        .context("no county: run `fengqiao seed-demo` first")?;
    Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
}

/// One planned case: what happened to it and when.
struct Plan {
    place: usize,
    kind: CaseKind,
    category: Category,
    registered: DateTime<Utc>,
    /// (command, tenant is the township, at, data)
    events: Vec<(&'static str, bool, DateTime<Utc>, serde_json::Value)>,
    facts: CaseFacts,
    status: &'static str,
    escalated: bool,
    accept_by: NaiveDate,
    conclude_by: Option<NaiveDate>,
    follow_up_by: Option<NaiveDate>,
}

/// A planned case with its gauges: open, and marked overdue as the deadline scanner would mark it.
fn plan(rng: &mut StdRng, now: DateTime<Utc>, places: usize) -> Plan {
    let mut p = plan_events(rng, now, places);
    let today = china_date(now);
    let past = |d: Option<NaiveDate>| d.is_some_and(|d| d < today);
    p.facts.open = matches!(
        p.status,
        "registered" | "accepted" | "dispatched" | "in_progress"
    );
    p.facts.overdue = match p.status {
        "registered" => p.accept_by < today,
        "accepted" | "dispatched" | "in_progress" => past(p.conclude_by),
        "resolved" | "unresolved" => past(p.follow_up_by),
        _ => false,
    };
    p
}

fn plan_events(rng: &mut StdRng, now: DateTime<Utc>, places: usize) -> Plan {
    let kind = match rng.gen_range(0..100) {
        0..60 => CaseKind::Dispute,
        60..85 => CaseKind::GridEvent,
        85..93 => CaseKind::Petition,
        93..97 => CaseKind::LegalConsultation,
        _ => CaseKind::LegalAid,
    };
    let category = Category::ALL[rng.gen_range(0..Category::ALL.len())];
    let age_days = rng.gen_range(0..(35 * 30));
    let registered = now - Duration::days(age_days) - Duration::minutes(rng.gen_range(0..24 * 60));
    let day = |at: DateTime<Utc>| china_date(at);
    let mut at = registered;
    let mut step = |rng: &mut StdRng, hours: i64| {
        at += Duration::minutes(rng.gen_range(10..hours * 60));
        at
    };
    let accept_by = day(registered) + Duration::days(3);
    let mut p = Plan {
        place: rng.gen_range(0..places),
        kind,
        category,
        registered,
        events: vec![("register", false, registered, json!({"channel": "window"}))],
        facts: CaseFacts::registered(kind, category, day(registered)),
        status: "registered",
        escalated: false,
        accept_by,
        conclude_by: None,
        follow_up_by: None,
    };
    // Recent cases are more often still open.
    let open_chance = if age_days < 90 { 12 } else { 0 };
    let roll = rng.gen_range(0..100);
    if roll < 3 {
        let t = step(rng, 30);
        p.events
            .push(("reject", false, t, json!({"referral": "县人民法院"})));
        p.facts.rejected = Some(day(t));
        p.status = "rejected";
        return p;
    }
    if roll < 3 + open_chance / 3 {
        return p;
    }
    let accepted = step(rng, 30);
    p.events.push(("accept", false, accepted, json!({})));
    p.facts.accepted = Some(day(accepted));
    p.status = "accepted";
    let conclude_by = day(accepted) + Duration::days(if rng.gen_bool(0.5) { 10 } else { 30 });
    p.conclude_by = Some(conclude_by);
    if roll < 3 + open_chance {
        let t = step(rng, 24);
        p.events
            .push(("dispatch", false, t, json!({"leadUnit": null})));
        p.status = "dispatched";
        if rng.gen_bool(0.5) {
            p.events.push(("claim", false, step(rng, 24), json!({})));
            p.status = "in_progress";
        }
        return p;
    }
    p.events.push(("dispatch", false, step(rng, 24), json!({})));
    p.events.push(("claim", false, step(rng, 24), json!({})));
    let mut tier = Tier::InitialMediation;
    let mut township = false;
    if rng.gen_range(0..100) < 5 {
        let t = step(rng, 24 * 5);
        p.events.push((
            "unresolve",
            false,
            t,
            json!({"attempted": "peoples_mediation", "concludeBy": conclude_by}),
        ));
        p.events.push((
            "escalate_parent",
            false,
            step(rng, 24),
            json!({"target": "ParentTenant"}),
        ));
        township = true;
        p.escalated = true;
        p.events.push(("dispatch", true, step(rng, 24), json!({})));
        p.events.push(("claim", true, step(rng, 24), json!({})));
    } else if rng.gen_range(0..100) < 4 {
        p.events
            .push(("escalate_tier", false, step(rng, 24 * 3), json!({})));
        tier = Tier::JointMediation;
        p.events.push(("dispatch", false, step(rng, 24), json!({})));
        p.events.push(("claim", false, step(rng, 24), json!({})));
    }
    let concluded = step(rng, 24 * 12);
    let resolved = rng.gen_range(0..100) < 97;
    let mediation = rng.gen_range(0..100) < 70;
    let method = if mediation {
        "peoples_mediation"
    } else {
        "explanation_accepted"
    };
    let on_time = day(concluded) <= conclude_by;
    if resolved {
        p.events.push((
            "resolve",
            township,
            concluded,
            json!({"outcome": "resolved", "method": method, "concludeBy": conclude_by}),
        ));
    } else {
        p.events.push((
            "unresolve",
            township,
            concluded,
            json!({"attempted": if mediation { Some(method) } else { None }, "concludeBy": conclude_by}),
        ));
    }
    p.facts.conclusion = Some(Conclusion {
        on: day(concluded),
        resolved,
        mediation,
        tier,
        level: resolved.then_some(if township {
            TenantLevel::Township
        } else {
            TenantLevel::Village
        }),
        on_time,
    });
    p.status = if resolved { "resolved" } else { "unresolved" };
    p.follow_up_by = Some(day(concluded) + Duration::days(30));
    if age_days < 20 && rng.gen_bool(0.5) {
        return p;
    }
    let followed = step(rng, 24 * 3);
    let satisfaction = match rng.gen_range(0..100) {
        0..85 => Satisfaction::Satisfied,
        85..95 => Satisfaction::BasicallySatisfied,
        _ => Satisfaction::Dissatisfied,
    };
    p.events.push((
        "follow_up",
        township,
        followed,
        json!({"satisfaction": satisfaction.as_str()}),
    ));
    p.facts.followed_up = Some((day(followed), satisfaction));
    p.status = "followed_up";
    if age_days < 10 && rng.gen_bool(0.5) {
        return p;
    }
    let closed = step(rng, 24 * 2);
    p.events.push(("close", township, closed, json!({})));
    p.facts.closed = Some(day(closed));
    p.status = "closed";
    p
}

async fn load(config: &Config, count: usize, seed: u64, searchable: bool) -> anyhow::Result<()> {
    let store = fengqiao::store::Store::connect(&config.effective_database_url(), 4).await?;
    // Outside any request the store acts as the system, which row-level security lets load every row.
    let txn = store.begin().await?;
    let db = &txn;
    let (county, county_code) = demo_county(db).await?;
    let places: Vec<Place> = query(
        db,
        "SELECT township_id, id, name FROM tenants WHERE county_id = $1 AND level = 'village' ORDER BY id",
        vec![county.into()],
    )
    .await?
    .into_iter()
    .map(|r| {
        Ok(Place {
            township: r.try_get_by_index(0)?,
            village: r.try_get_by_index(1)?,
            village_name: r.try_get_by_index(2)?,
        })
    })
    .collect::<anyhow::Result<_>>()?;
    if places.is_empty() {
        bail!("the county has no villages: run `fengqiao seed-demo` first");
    }
    let clerk: i64 = query(
        db,
        "SELECT id FROM users WHERE county_id = $1 ORDER BY id LIMIT 1",
        vec![county.into()],
    )
    .await?
    .first()
    .context("no user")?
    .try_get_by_index(0)?;
    let now = SystemClock.now();
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut counters: HashMap<(i64, i32, String, &'static str), i64> = HashMap::new();
    let mut per_day: HashMap<NaiveDate, u32> = HashMap::new();
    let mut written = 0;
    let mut events_written = 0;
    while written < count {
        let n = ROWS_PER_INSERT.min(count - written);
        let ids: Vec<i64> = query(
            db,
            "SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, $1)",
            vec![(n as i64).into()],
        )
        .await?
        .into_iter()
        .map(|r| r.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
        let plans: Vec<Plan> = (0..n).map(|_| plan(&mut rng, now, places.len())).collect();
        let mut case_sql = String::from(
            "INSERT INTO cases (id, code, county_id, township_id, village_id, origin_tenant_id, tenant_id, \
             kind, channel, category, status, tier, title, description, place, registered_by, registered_at, \
             accepted_at, resolved_at, closed_at, rejected_at, followed_up_at, updated_at, version, complexity, \
             accept_by, conclude_by, follow_up_by, extended, resolved_level, outcome, mediation_method, \
             satisfaction, risk_level, risk_reasons, overdue) VALUES ",
        );
        let mut case_values: Vec<Value> = Vec::with_capacity(n * 35);
        let mut event_rows: Vec<Vec<Value>> = Vec::new();
        let mut party_rows: Vec<Vec<Value>> = Vec::new();
        for (i, (id, p)) in ids.iter().zip(&plans).enumerate() {
            let place = &places[p.place];
            let text = if searchable {
                let text = searchable_text(&mut rng, p.category, &place.village_name);
                for (role, (name, address)) in ["applicant", "respondent"].iter().zip(&text.parties)
                {
                    party_rows.push(vec![
                        (*id).into(),
                        county.into(),
                        (*role).into(),
                        name.clone().into(),
                        address.clone().into(),
                    ]);
                }
                text
            } else {
                CaseText {
                    title: format!("{}纠纷", p.category.as_str()),
                    description: "村民反映纠纷，请求调解。".into(),
                    place: "一组".into(),
                    parties: Vec::new(),
                }
            };
            let day = china_date(p.registered);
            let seq = per_day.entry(day).or_insert(60_000);
            *seq += 1;
            let code = format!("{}-{}-{:05}", &county_code[..6], day.format("%Y%m%d"), seq);
            let last = p.events.last().map(|e| e.2).unwrap_or(p.registered);
            let at_of = |cmd: &str| p.events.iter().rev().find(|e| e.0 == cmd).map(|e| e.2);
            let conclusion = p.facts.conclusion;
            let handler = if p.escalated {
                place.township
            } else {
                place.village
            };
            let row: Vec<Value> = vec![
                (*id).into(),
                code.into(),
                county.into(),
                place.township.into(),
                place.village.into(),
                place.village.into(),
                handler.into(),
                p.kind.as_str().into(),
                "window".into(),
                p.category.as_str().into(),
                p.status.into(),
                conclusion
                    .map(|c| c.tier)
                    .unwrap_or(Tier::InitialMediation)
                    .as_str()
                    .into(),
                text.title.into(),
                text.description.into(),
                text.place.into(),
                clerk.into(),
                p.registered.into(),
                at_of("accept").into(),
                conclusion
                    .and(at_of("resolve").or(at_of("unresolve")))
                    .into(),
                at_of("close").into(),
                at_of("reject").into(),
                at_of("follow_up").into(),
                last.into(),
                (p.events.len() as i32).into(),
                "general".into(),
                p.accept_by.into(),
                p.conclude_by.into(),
                p.follow_up_by.into(),
                false.into(),
                conclusion
                    .and_then(|c| c.level)
                    .map(|l| l.as_str().to_owned())
                    .into(),
                conclusion
                    .filter(|c| c.resolved)
                    .map(|_| "resolved".to_owned())
                    .into(),
                conclusion
                    .filter(|c| c.mediation)
                    .map(|_| "peoples_mediation".to_owned())
                    .into(),
                p.facts.followed_up.map(|f| f.1.as_str().to_owned()).into(),
                "green".into(),
                "[]".into(),
                p.facts.overdue.into(),
            ];
            let base = i * row.len();
            if i > 0 {
                case_sql.push(',');
            }
            case_sql.push('(');
            for k in 0..row.len() {
                if k > 0 {
                    case_sql.push(',');
                }
                case_sql.push_str(&format!("${}", base + k + 1));
            }
            case_sql.push(')');
            case_values.extend(row);
            for (command, at_township, at, data) in &p.events {
                event_rows.push(vec![
                    (*id).into(),
                    county.into(),
                    if *at_township {
                        place.township.into()
                    } else {
                        place.village.into()
                    },
                    clerk.into(),
                    (*command).into(),
                    status_after(command).into(),
                    String::new().into(),
                    data.to_string().into(),
                    (*at).into(),
                ]);
            }
            for c in p.facts.contributions() {
                for tenant in [county, place.township, place.village] {
                    *counters
                        .entry((tenant, c.month.number(), c.dim.key(), c.metric.as_str()))
                        .or_default() += 1;
                }
            }
        }
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            case_sql,
            case_values,
        ))
        .await?;
        for chunk in event_rows.chunks(ROWS_PER_INSERT * 3) {
            let mut sql = String::from(
                "INSERT INTO case_events (case_id, county_id, tenant_id, actor_id, command, to_status, note, data, at) VALUES ",
            );
            let mut values = Vec::with_capacity(chunk.len() * 9);
            for (i, row) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for k in 0..9 {
                    if k > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${}", i * 9 + k + 1));
                }
                sql.push(')');
                values.extend(row.iter().cloned());
            }
            db.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                values,
            ))
            .await?;
            events_written += chunk.len();
        }
        for chunk in party_rows.chunks(ROWS_PER_INSERT * 2) {
            let mut sql = String::from(
                "INSERT INTO case_parties (case_id, county_id, role, name, address) VALUES ",
            );
            let mut values = Vec::with_capacity(chunk.len() * 5);
            for (i, row) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                let b = i * 5;
                sql.push_str(&format!(
                    "(${},${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                ));
                values.extend(row.iter().cloned());
            }
            db.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                values,
            ))
            .await?;
        }
        written += n;
        if written % 100_000 == 0 {
            eprintln!(
                "{written} cases, {events_written} events, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Counters: the loader's own figures, added to what the county had.
    let parents: HashMap<i64, Option<i64>> = query(
        db,
        "SELECT id, parent_id FROM tenants WHERE county_id = $1",
        vec![county.into()],
    )
    .await?
    .into_iter()
    .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
    .collect::<anyhow::Result<_>>()?;
    let rows: Vec<_> = counters.into_iter().collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO rollup_counters (tenant_id, parent_id, county_id, month, dim, metric, stripe, value) VALUES ",
        );
        let mut values: Vec<Value> = Vec::new();
        for (i, ((tenant, month, dim, metric), value)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let b = i * 8;
            sql.push_str(&format!(
                "(${},${},${},${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            ));
            values.extend([
                (*tenant).into(),
                parents.get(tenant).copied().flatten().into(),
                county.into(),
                (*month).into(),
                dim.clone().into(),
                (*metric).into(),
                0_i16.into(),
                (*value).into(),
            ]);
        }
        sql.push_str(
            " ON CONFLICT (tenant_id, month, dim, metric, stripe) \
             DO UPDATE SET value = rollup_counters.value + excluded.value",
        );
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    }
    txn.commit().await?;
    println!(
        "loaded {written} cases and {events_written} events into county {county} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What a case says: its title, complaint, place and parties (name, address).
struct CaseText {
    title: String,
    description: String,
    place: String,
    parties: Vec<(String, String)>,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧",
];
const GIVEN: &[&str] = &[
    "建国", "建华", "秀英", "桂兰", "志强", "海燕", "德明", "玉梅", "国庆", "春生", "丽娟", "永福",
    "金花", "卫东", "红梅", "长生", "淑芬", "宏伟", "小军", "文静", "家豪", "子涵", "振华", "素珍",
    "明亮", "凤英", "光荣", "雪梅", "俊杰", "翠兰",
];
/// Per category: subjects of the title and what happened, in the words of intake records.
fn subjects(category: Category) -> (&'static [&'static str], &'static [&'static str]) {
    match category {
        Category::Neighbour => (
            &[
                "宅基地边界纠纷",
                "相邻通行纠纷",
                "夜间噪音扰民",
                "楼上漏水纠纷",
                "排水沟堵塞纠纷",
                "违建遮挡采光",
            ],
            &[
                "双方因围墙砌筑位置发生争执",
                "一方在公共通道堆放杂物",
                "深夜跳广场舞影响休息",
                "卫生间渗水导致楼下天花板发霉",
                "雨后积水淹了菜地",
                "新建房屋挡住了阳光",
            ],
        ),
        Category::MarriageFamily => (
            &[
                "彩礼返还纠纷",
                "老人赡养纠纷",
                "离婚财产分割",
                "子女抚养费纠纷",
                "遗产继承纠纷",
            ],
            &[
                "订婚后女方悔婚要求退还彩礼",
                "三个子女互相推诿不愿赡养母亲",
                "夫妻双方就共同房产分割协商不成",
                "父亲拖欠抚养费已有半年",
                "兄弟姐妹对老宅继承份额有争议",
            ],
        ),
        Category::LandForest => (
            &[
                "土地承包经营权纠纷",
                "山林权属纠纷",
                "灌溉用水纠纷",
                "宅基地使用权纠纷",
                "林地流转纠纷",
            ],
            &[
                "承包地边界被邻户侵占",
                "两村对一片山林的权属各执一词",
                "上游截水导致下游稻田缺水",
                "老宅拆除后宅基地被他人占用",
                "流转合同到期后对方拒不退地",
            ],
        ),
        Category::Labour => (
            &[
                "拖欠工资纠纷",
                "工伤赔偿纠纷",
                "劳动合同解除纠纷",
                "农民工讨薪",
            ],
            &[
                "包工头拖欠十二名工人工资",
                "在建筑工地摔伤后老板不愿赔偿",
                "公司未提前通知即解除合同",
                "年底结算时老板失联",
            ],
        ),
        Category::Medical => (
            &["医疗纠纷", "医疗费用争议"],
            &["患者家属对手术结果不满", "卫生院收费明细不清"],
        ),
        Category::Traffic => (
            &["交通事故赔偿纠纷", "电动车碰撞纠纷"],
            &[
                "三轮车与摩托车相撞一人受伤",
                "电动车撞伤老人后双方对赔偿金额有分歧",
            ],
        ),
        Category::Lending => (
            &["民间借贷纠纷", "拖欠货款纠纷", "欠款纠纷"],
            &[
                "借款到期后对方拒不归还",
                "养殖场拖欠饲料款八万元",
                "亲戚之间借钱未打欠条",
            ],
        ),
        Category::PropertyManagement => (
            &["物业费纠纷", "电梯维修纠纷", "停车位纠纷"],
            &[
                "业主以服务差为由拒交物业费",
                "电梯停运一个月无人维修",
                "小区车位被外来车辆占用",
            ],
        ),
        Category::LandRequisition => (
            &["房屋征收补偿纠纷", "征地补偿款分配纠纷", "拆迁安置纠纷"],
            &[
                "对征收补偿标准有异议",
                "村民小组内部对补偿款分配方案不认可",
                "安置房面积与协议不符",
            ],
        ),
        Category::Other => (
            &["养殖污染纠纷", "合同纠纷", "其他纠纷"],
            &[
                "养猪场气味影响周边村民",
                "买卖合同履行发生争议",
                "村民反映问题请求调解",
            ],
        ),
    }
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

fn searchable_text(rng: &mut StdRng, category: Category, village: &str) -> CaseText {
    let (titles, events) = subjects(category);
    let person = |rng: &mut StdRng| {
        let name = format!("{}{}", pick(rng, SURNAMES), pick(rng, GIVEN));
        let address = format!(
            "{village}{}组{}号",
            rng.gen_range(1..=12),
            rng.gen_range(1..=80)
        );
        (name, address)
    };
    let parties = vec![person(rng), person(rng)];
    let group = rng.gen_range(1..=12);
    CaseText {
        title: format!("{village}{}", pick(rng, titles)),
        description: format!(
            "{}反映：与{}{}，{}，请求{village}调委会调解。",
            parties[0].0,
            parties[1].0,
            pick(rng, &["之间", "两家", "双方"]),
            pick(rng, events)
        ),
        place: format!("{village}{group}组"),
        parties,
    }
}

/// The status a timeline command leaves the case in.
fn status_after(command: &str) -> &'static str {
    match command {
        "register" => "registered",
        "reject" => "rejected",
        "dispatch" => "dispatched",
        "claim" => "in_progress",
        "resolve" => "resolved",
        "unresolve" => "unresolved",
        "follow_up" => "followed_up",
        "close" => "closed",
        _ => "accepted",
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    json!({
        "runs": ms.len(),
        "p50_ms": percentile(&ms, 50.0),
        "p99_ms": percentile(&ms, 99.0),
        "max_ms": ms.last(),
    })
}

/// The dashboard's figures by child tenant and category, computed from the cases table for the period.
const NAIVE: &str = "SELECT township_id, category, \
  COUNT(*) FILTER (WHERE registered_at >= $2 AND registered_at < $3) AS intake, \
  COUNT(*) FILTER (WHERE accepted_at >= $2 AND accepted_at < $3) AS accepted, \
  COUNT(*) FILTER (WHERE rejected_at >= $2 AND rejected_at < $3) AS rejected, \
  COUNT(*) FILTER (WHERE status IN ('resolved','followed_up','closed') AND outcome IS NOT NULL AND resolved_at >= $2 AND resolved_at < $3) AS resolved, \
  COUNT(*) FILTER (WHERE status IN ('unresolved','followed_up','closed') AND outcome IS NULL AND resolved_at >= $2 AND resolved_at < $3) AS unresolved, \
  COUNT(*) FILTER (WHERE mediation_method IN ('peoples_mediation','administrative_mediation','judicial_mediation') AND resolved_at >= $2 AND resolved_at < $3) AS mediations, \
  COUNT(*) FILTER (WHERE status = 'closed' AND closed_at >= $2 AND closed_at < $3) AS closed, \
  COUNT(*) FILTER (WHERE status = 'closed' AND closed_at >= $2 AND closed_at < $3 AND resolved_at::date <= conclude_by) AS closed_on_time, \
  COUNT(*) FILTER (WHERE followed_up_at >= $2 AND followed_up_at < $3) AS followed_up, \
  COUNT(*) FILTER (WHERE followed_up_at >= $2 AND followed_up_at < $3 AND satisfaction <> 'dissatisfied') AS satisfied \
  FROM cases WHERE county_id = $1 GROUP BY township_id, category";

async fn measure(
    config: &Config,
    runs: usize,
    naive_runs: usize,
    out: Option<PathBuf>,
    no_scan: bool,
) -> anyhow::Result<()> {
    let state = fengqiao::build_state(config, Arc::new(SystemClock))
        .await
        .context("starting")?;
    let txn = state.store.begin().await?;
    let db = &txn;
    let (county, _) = demo_county(db).await?;
    let cases: i64 = query(
        db,
        "SELECT COUNT(*) FROM cases WHERE county_id = $1",
        vec![county.into()],
    )
    .await?[0]
        .try_get_by_index(0)?;
    let tenant = state
        .store
        .tenant(county)
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?
        .context("county")?;
    let supervisor: i64 = query(
        db,
        "SELECT id FROM users WHERE username = 'county.supervisor'",
        vec![],
    )
    .await?
    .first()
    .context("no county.supervisor: run `fengqiao seed-demo` first")?
    .try_get_by_index(0)?;
    let principal = fengqiao_tenancy::Principal {
        user_id: supervisor,
        tenant_id: county,
    };
    let this = Month::of(china_date(state.now()));
    let year = Period::new((1..12).fold(this, |m, _| m.prev()), this)
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    let mut report = serde_json::Map::new();
    report.insert("cases_in_county".into(), json!(cases));
    // Twice: with the orders the county has, and after the scanner has raised orders on every overdue case
    // (which every dashboard then counts).
    for pass in ["before_scan", "after_scan"] {
        if pass == "after_scan" {
            if no_scan {
                break;
            }
            if !no_scan {
                let t = Instant::now();
                let scan = state
                    .scan_deadlines(&fengqiao::store::scope::SystemPermit::for_the_process())
                    .await
                    .map_err(|e| anyhow::anyhow!(e.detail()))?;
                let secs = t.elapsed().as_secs_f64();
                println!(
                    "deadline scan: {:.1} s, {} overdue cases examined, {} orders raised",
                    secs, scan.examined, scan.raised
                );
                report.insert(
                    "deadline_scan".into(),
                    json!({ "seconds": secs, "examined": scan.examined, "raised": scan.raised }),
                );
            }
        }
        let orders: i64 = query(
            db,
            "SELECT COUNT(*) FROM supervision_orders WHERE county_id = $1 AND status = 'open'",
            vec![county.into()],
        )
        .await?[0]
            .try_get_by_index(0)?;
        println!("{pass}: {orders} open supervision orders in the county");
        report.insert(format!("{pass}_open_orders"), json!(orders));
        for (name, period) in [("month", Period::month(this)), ("twelve_months", year)] {
            // Uncached: computed from the counters every time.
            let mut uncached = Vec::with_capacity(runs);
            for _ in 0..runs {
                let t = Instant::now();
                state
                    .compute_dashboard(&tenant, period)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.detail()))?;
                uncached.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            // Cached: the first call fills the cache, the timed ones hit it.
            state
                .dashboard(&principal, county, period)
                .await
                .map_err(|e| anyhow::anyhow!(e.detail()))?;
            let mut cached = Vec::with_capacity(runs);
            for _ in 0..runs {
                let t = Instant::now();
                state
                    .dashboard(&principal, county, period)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.detail()))?;
                cached.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let from: DateTime<Utc> = period
                .from
                .first_day()
                .and_hms_opt(0, 0, 0)
                .context("date")?
                .and_utc()
                - Duration::hours(8);
            let to: DateTime<Utc> = period
                .to
                .next()
                .first_day()
                .and_hms_opt(0, 0, 0)
                .context("date")?
                .and_utc()
                - Duration::hours(8);
            let mut naive = Vec::with_capacity(naive_runs);
            for _ in 0..naive_runs {
                let t = Instant::now();
                query(db, NAIVE, vec![county.into(), from.into(), to.into()]).await?;
                naive.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let (u, c, n) = (summary(uncached), summary(cached), summary(naive));
            let ratio =
                n["p50_ms"].as_f64().unwrap_or(f64::NAN) / u["p50_ms"].as_f64().unwrap_or(f64::NAN);
            println!(
                "  {name}: uncached p50 {:.2} ms p99 {:.2} ms; cached p50 {:.3} ms p99 {:.3} ms; naive GROUP BY p50 {:.1} ms; naive/uncached {:.0}x",
                u["p50_ms"].as_f64().unwrap_or(f64::NAN),
                u["p99_ms"].as_f64().unwrap_or(f64::NAN),
                c["p50_ms"].as_f64().unwrap_or(f64::NAN),
                c["p99_ms"].as_f64().unwrap_or(f64::NAN),
                n["p50_ms"].as_f64().unwrap_or(f64::NAN),
                ratio
            );
            report.insert(
            format!("{pass}_{name}"),
            json!({ "uncached": u, "cached": c, "naive_group_by": n, "naive_over_uncached_p50": ratio }),
        );
        }
    }
    let t = Instant::now();
    let verify = state
        .verify_rollups(Some(county), false)
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    let check = &verify[0].check;
    println!(
        "verify-rollups: {} counters compared, {} differ, {} unreadable timelines, {:.1} s",
        check.compared,
        check.differences.len(),
        check.unreadable_cases.len(),
        t.elapsed().as_secs_f64()
    );
    report.insert(
        "verify_rollups".into(),
        json!({
            "compared": check.compared,
            "differences": check.differences.len(),
            "unreadable_cases": check.unreadable_cases.len(),
            "seconds": t.elapsed().as_secs_f64(),
        }),
    );
    report.insert("cache".into(), json!(state.cache.backend()));
    if let Some(out) = out {
        std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
