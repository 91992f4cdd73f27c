//! `authzbench`: what authorization costs at national scale.
//!
//! Part one builds the real `fengqiao_tenancy::Authorizer` over a national-size tree (by default 2,850
//! counties, 38,000 townships, 490,000 villages) with 1,000,000 role grants and a membership for every unit
//! handler, and measures the policy load time (median of `--loads` runs), the memory it holds (VmRSS before
//! and after, VmHWM), and the latency of `permit` (case actions for principals at every level, targets in
//! their subtree, in a sibling's, anywhere) and of `case_scope`.
//!
//! Part two measures the share of a `cases` query's time spent on authorization, side by side in one run:
//! the server's state on a fresh database with the demo county seeded, the national grants loaded into its
//! authorizer beside the demo's, and for demo principals the authorization work of a `cases` request (the
//! request's database scope and the case scope) against the whole request (the same, plus the query).
//!
//! Figures go to `--out` (JSON) and beside it as Markdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use fengqiao::clock::SystemClock;
use fengqiao::config::Config;
use fengqiao::paging::{Take, Window};
use fengqiao::store::cases::CaseFilter;
use fengqiao::store::scope;
use fengqiao_domain::{Ancestry, TenantLevel};
use fengqiao_tenancy::{Action, Authorizer, Grant, Principal, Role, Target};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Authorization cost at national scale")]
struct Args {
    #[arg(long, default_value_t = 2_850)]
    counties: usize,
    #[arg(long, default_value_t = 38_000)]
    townships: usize,
    #[arg(long, default_value_t = 490_000)]
    villages: usize,
    #[arg(long, default_value_t = 1_000_000)]
    grants: usize,
    /// Permit checks timed.
    #[arg(long, default_value_t = 200_000)]
    checks: usize,
    /// Policy loads timed (the median is reported).
    #[arg(long, default_value_t = 3)]
    loads: usize,
    /// `cases` requests timed per principal in part two.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Skip part two (the `cases` share).
    #[arg(long)]
    no_query: bool,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The national tree: each tenant's ancestry, counties first, then townships, then villages.
struct Tree {
    counties: Vec<Ancestry>,
    townships: Vec<Ancestry>,
    villages: Vec<Ancestry>,
}

/// Tenant ids start high so they never meet the demo county's ids in part two.
const FIRST_ID: i64 = 10_000_000;

fn national_tree(args: &Args) -> Tree {
    let mut next = FIRST_ID;
    let mut id = || {
        next += 1;
        next
    };
    let counties: Vec<Ancestry> = (0..args.counties).map(|_| Ancestry::county(id())).collect();
    let townships: Vec<Ancestry> = (0..args.townships)
        .map(|i| counties[i % counties.len()].child(TenantLevel::Township, id()))
        .collect();
    let villages: Vec<Ancestry> = (0..args.villages)
        .map(|i| townships[i % townships.len()].child(TenantLevel::Village, id()))
        .collect();
    Tree {
        counties,
        townships,
        villages,
    }
}

fn id_of(a: &Ancestry) -> (i64, TenantLevel) {
    if let Some(v) = a.village {
        (v, TenantLevel::Village)
    } else if let Some(t) = a.township {
        (t, TenantLevel::Township)
    } else {
        (a.county, TenantLevel::County)
    }
}

/// The national grants, the unit memberships (unit, user), and every user with its home tenant.
struct Staff {
    grants: Vec<Grant>,
    members: Vec<(i64, i64)>,
    users: Vec<(i64, Ancestry)>,
}

/// 1,000,000 grants as they fall in a real deployment: most staff at villages and townships, few at
/// counties; unit handlers with a membership each.
fn national_grants(tree: &Tree, count: usize, rng: &mut StdRng) -> Staff {
    let village_roles = [
        Role::IntakeClerk,
        Role::Mediator,
        Role::GridMember,
        Role::Dispatcher,
    ];
    let township_roles = [
        Role::CenterDirector,
        Role::IntakeClerk,
        Role::Dispatcher,
        Role::Mediator,
        Role::UnitHandler,
        Role::Supervisor,
    ];
    let county_roles = [
        Role::CenterDirector,
        Role::Dispatcher,
        Role::Supervisor,
        Role::Auditor,
        Role::UnitHandler,
    ];
    let mut grants = Vec::with_capacity(count);
    let mut members = Vec::new();
    let mut users = Vec::new();
    let mut user = FIRST_ID;
    while grants.len() < count {
        user += 1;
        let pick = rng.gen_range(0..100);
        let (home, roles): (Ancestry, &[Role]) = if pick < 62 {
            (
                tree.villages[rng.gen_range(0..tree.villages.len())],
                &village_roles,
            )
        } else if pick < 95 {
            (
                tree.townships[rng.gen_range(0..tree.townships.len())],
                &township_roles,
            )
        } else {
            (
                tree.counties[rng.gen_range(0..tree.counties.len())],
                &county_roles,
            )
        };
        let (tenant_id, level) = id_of(&home);
        // One role, sometimes two, at the home tenant.
        let first = rng.gen_range(0..roles.len());
        let mut held = vec![roles[first]];
        if rng.gen_bool(0.3) {
            held.push(roles[(first + 1) % roles.len()]);
        }
        for role in held {
            if grants.len() == count {
                break;
            }
            grants.push(Grant {
                user_id: user,
                role,
                tenant_id,
                level,
            });
            if role == Role::UnitHandler {
                // Units are numbered by their center.
                members.push((tenant_id * 10 + rng.gen_range(0..4), user));
            }
        }
        users.push((user, home));
    }
    Staff {
        grants,
        members,
        users,
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1e6
}

fn summary(mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort_unstable();
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len().max(1) as f64;
    json!({
        "n": samples.len(),
        "p50_us": percentile(&samples, 0.50),
        "p99_us": percentile(&samples, 0.99),
        "max_us": percentile(&samples, 1.0),
        "mean_us": mean * 1e6,
    })
}

const ACTIONS: [Action; 8] = [
    Action::CaseRead,
    Action::CaseAccept,
    Action::CaseDispatch,
    Action::CaseResolve,
    Action::CaseClose,
    Action::CaseEscalate,
    Action::CaseSupervise,
    Action::CaseRevealPersonalData,
];

/// A case target somewhere: in the principal's subtree, in a sibling's, or anywhere.
fn target(tree: &Tree, home: &Ancestry, rng: &mut StdRng) -> Target {
    let place = match rng.gen_range(0..3) {
        // A village of the principal's own county (often its subtree, often a sibling's).
        0 => {
            let candidates = &tree.villages;
            let start = rng.gen_range(0..candidates.len());
            candidates[start..]
                .iter()
                .chain(candidates[..start].iter())
                .take(2_000)
                .find(|v| v.county == home.county)
                .copied()
                .unwrap_or(candidates[start])
        }
        // The principal's own tenant, or a village under it.
        1 => *home,
        _ => tree.villages[rng.gen_range(0..tree.villages.len())],
    };
    let mut target = Target::in_tenant(Some(rng.gen_range(1..1_000_000)), place);
    if rng.gen_bool(0.3) {
        let (id, _) = id_of(&place);
        target.lead_unit = Some(id * 10 + rng.gen_range(0..4));
    }
    target
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let started = Instant::now();
    let tree = national_tree(&args);
    let Staff {
        grants,
        members,
        users,
    } = national_grants(&tree, args.grants, &mut rng);
    println!(
        "tree: {} counties, {} townships, {} villages; {} grants for {} users, {} unit memberships (built in {:.1} s)",
        tree.counties.len(),
        tree.townships.len(),
        tree.villages.len(),
        grants.len(),
        users.len(),
        members.len(),
        started.elapsed().as_secs_f64()
    );

    // ---- policy load ----
    let rss_before = rss_kib("VmRSS:");
    let mut loads = Vec::new();
    let mut authz = None;
    for _ in 0..args.loads.max(1) {
        drop(authz.take());
        let t = Instant::now();
        let fresh = Authorizer::new().await.context("the authorization model")?;
        fresh
            .load(&grants, &members)
            .await
            .context("loading grants")?;
        loads.push(t.elapsed());
        authz = Some(fresh);
    }
    let authz = authz.context("no load ran")?;
    let rss_after = rss_kib("VmRSS:");
    loads.sort_unstable();
    let load_median = loads[loads.len() / 2].as_secs_f64();
    println!(
        "policy load: median {:.2} s over {} runs; RSS {} MiB before, {} MiB loaded (+{} MiB); peak {} MiB",
        load_median,
        loads.len(),
        rss_before / 1024,
        rss_after / 1024,
        rss_after.saturating_sub(rss_before) / 1024,
        rss_kib("VmHWM:") / 1024
    );

    // ---- permit and case_scope ----
    let mut permits = Vec::with_capacity(args.checks);
    let (mut allowed, mut not_visible, mut forbidden) = (0usize, 0usize, 0usize);
    for _ in 0..args.checks {
        let (user, home) = users[rng.gen_range(0..users.len())];
        let principal = Principal {
            user_id: user,
            tenant_id: id_of(&home).0,
        };
        let action = ACTIONS[rng.gen_range(0..ACTIONS.len())];
        let target = target(&tree, &home, &mut rng);
        let t = Instant::now();
        let outcome = authz.check(&principal, action, &target).await;
        permits.push(t.elapsed());
        match outcome {
            Ok(_) => allowed += 1,
            Err(fengqiao_tenancy::Denied::NotVisible) => not_visible += 1,
            Err(fengqiao_tenancy::Denied::Forbidden(_)) => forbidden += 1,
        }
    }
    let permit = summary(permits);
    println!(
        "permit: {} checks ({allowed} allowed, {forbidden} forbidden, {not_visible} not visible): p50 {:.2} µs, p99 {:.2} µs",
        args.checks,
        permit["p50_us"].as_f64().unwrap_or(0.0),
        permit["p99_us"].as_f64().unwrap_or(0.0)
    );
    let mut scopes = Vec::with_capacity(args.checks / 4);
    for _ in 0..args.checks / 4 {
        let (user, home) = users[rng.gen_range(0..users.len())];
        let principal = Principal {
            user_id: user,
            tenant_id: id_of(&home).0,
        };
        let t = Instant::now();
        let scope = authz.case_scope(&principal).await;
        scopes.push(t.elapsed());
        std::hint::black_box(scope);
    }
    let case_scope = summary(scopes);
    println!(
        "case_scope (worked out, distinct users): p50 {:.2} µs, p99 {:.2} µs",
        case_scope["p50_us"].as_f64().unwrap_or(0.0),
        case_scope["p99_us"].as_f64().unwrap_or(0.0)
    );

    // ---- the share of a `cases` query ----
    let share = if args.no_query {
        serde_json::Value::Null
    } else {
        cases_share(&args, &grants, &members).await?
    };

    let result = json!({
        "tree": { "counties": tree.counties.len(), "townships": tree.townships.len(), "villages": tree.villages.len() },
        "grants": grants.len(),
        "users": users.len(),
        "memberships": members.len(),
        "policy_load_s": { "median": load_median, "runs": loads.iter().map(Duration::as_secs_f64).collect::<Vec<_>>() },
        "memory_mib": { "rss_before": rss_before / 1024, "rss_loaded": rss_after / 1024, "policy": rss_after.saturating_sub(rss_before) / 1024, "peak": rss_kib("VmHWM:") / 1024 },
        "permit": permit,
        "permit_outcomes": { "allowed": allowed, "forbidden": forbidden, "not_visible": not_visible },
        "case_scope": case_scope,
        "cases_query": share,
    });
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&result)?)?;
        std::fs::write(out.with_extension("md"), markdown(&result))?;
        println!(
            "wrote {} and {}",
            out.display(),
            out.with_extension("md").display()
        );
    }
    Ok(())
}

/// Empties the authorizer's cache of case scopes, as a change of the caller's grants or units does.
async fn forget_scopes(state: &fengqiao::app::AppState) {
    state.authz.forget_scopes(None);
}

/// Part two: the demo county on a fresh database, the national grants beside its own.
async fn cases_share(
    args: &Args,
    national: &[Grant],
    national_members: &[(i64, i64)],
) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::load(None)?;
    config.data_dir = dir.path().to_owned();
    config.seed_demo_if_empty = Some(true);
    config.deadline_scan_minutes = 0;
    let t = Instant::now();
    fengqiao::seed::seed_demo(&config).await?;
    println!("demo county seeded in {:.1} s", t.elapsed().as_secs_f64());
    let state = fengqiao::build_state(&config, Arc::new(SystemClock)).await?;
    let (mut grants, mut members) = scope::as_system(async {
        Ok::<_, fengqiao::error::ApiError>((
            state.store.all_grants().await?,
            state.store.all_unit_members().await?,
        ))
    })
    .await
    .map_err(|e| anyhow::anyhow!(e.detail()))?;
    grants.extend_from_slice(national);
    members.extend_from_slice(national_members);
    state.authz.load(&grants, &members).await?;

    let mut rows = Vec::new();
    for username in [
        "county.director",
        "county.supervisor",
        "t01.dispatcher",
        "t01.clerk",
        "t01.sfs",
    ] {
        let user = scope::as_system(state.store.user_by_username(username))
            .await
            .map_err(|e| anyhow::anyhow!(e.detail()))?
            .with_context(|| format!("no demo user {username}"))?;
        let principal = Principal {
            user_id: user.id,
            tenant_id: user.tenant_id,
        };
        let filter = CaseFilter::default();
        let mut listed = 0;
        // Warm: the caller's case scope is cached (every request after the first since the policy last
        // changed). Cold: the policy has just changed, so the scope is worked out again.
        let mut timings: [Vec<Duration>; 4] = Default::default();
        for round in 0..args.queries + 20 {
            for cold in [true, false] {
                // Authorization alone: the request's database scope and the case scope.
                if cold {
                    forget_scopes(&state).await;
                }
                let first_page = Window {
                    after: None,
                    before: None,
                    take: Take::First(20),
                };
                let t = Instant::now();
                let rows_scope = state
                    .db_scope(&principal)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.detail()))?;
                let cases_scope = state
                    .case_scope(&principal)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.detail()))?;
                let a = t.elapsed();
                std::hint::black_box((rows_scope, cases_scope));
                // The whole request: the same scope, then the query (which works out the case scope).
                if cold {
                    forget_scopes(&state).await;
                }
                let t = Instant::now();
                let rows_scope = state
                    .db_scope(&principal)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.detail()))?;
                let page = scope::within(rows_scope, state.cases(&principal, &filter, &first_page))
                    .await
                    .map_err(|e| anyhow::anyhow!(e.detail()))?;
                let w = t.elapsed();
                listed = page.items.len();
                // The first rounds warm the caches and are not counted.
                if round >= 20 {
                    let at = if cold { 0 } else { 2 };
                    timings[at].push(a);
                    timings[at + 1].push(w);
                }
            }
        }
        let [cold_authz, cold_whole, warm_authz, warm_whole] = timings;
        let share = |authz: &[Duration], whole: &[Duration]| {
            let mut a = authz.to_vec();
            let mut w = whole.to_vec();
            a.sort_unstable();
            w.sort_unstable();
            (percentile(&a, 0.5), percentile(&w, 0.5))
        };
        let (ca, cw) = share(&cold_authz, &cold_whole);
        let (wa, ww) = share(&warm_authz, &warm_whole);
        println!(
            "cases as {username}: {listed} listed; authorization p50 {wa:.1} µs of {ww:.1} µs ({:.2} %) warm, {ca:.1} µs of {cw:.1} µs ({:.2} %) right after a policy change",
            100.0 * wa / ww.max(f64::MIN_POSITIVE),
            100.0 * ca / cw.max(f64::MIN_POSITIVE)
        );
        rows.push(json!({
            "principal": username,
            "listed": listed,
            "warm": {
                "authorization": summary(warm_authz),
                "whole": summary(warm_whole),
                "share_of_p50": wa / ww.max(f64::MIN_POSITIVE),
            },
            "cold": {
                "authorization": summary(cold_authz),
                "whole": summary(cold_whole),
                "share_of_p50": ca / cw.max(f64::MIN_POSITIVE),
            },
        }));
    }
    Ok(json!({
        "database": if config.database_url.is_empty() { "sqlite (embedded)" } else { "configured" },
        "grants_loaded": grants.len(),
        "principals": rows,
    }))
}

fn markdown(r: &serde_json::Value) -> String {
    let mut out = String::from("# Authorization at national scale\n\n");
    out.push_str(&format!(
        "Tree: {} counties, {} townships, {} villages; {} grants for {} users; {} unit memberships.\n\n",
        r["tree"]["counties"], r["tree"]["townships"], r["tree"]["villages"], r["grants"], r["users"], r["memberships"]
    ));
    out.push_str("| measure | figure |\n|---|---|\n");
    out.push_str(&format!(
        "| policy load (median) | {:.2} s |\n",
        r["policy_load_s"]["median"].as_f64().unwrap_or(0.0)
    ));
    out.push_str(&format!(
        "| memory held by the policy (RSS growth) | {} MiB (peak RSS {} MiB) |\n",
        r["memory_mib"]["policy"], r["memory_mib"]["peak"]
    ));
    out.push_str(&format!(
        "| permit p50 / p99 | {:.2} / {:.2} µs |\n",
        r["permit"]["p50_us"].as_f64().unwrap_or(0.0),
        r["permit"]["p99_us"].as_f64().unwrap_or(0.0)
    ));
    out.push_str(&format!(
        "| case_scope p50 / p99 | {:.2} / {:.2} µs |\n",
        r["case_scope"]["p50_us"].as_f64().unwrap_or(0.0),
        r["case_scope"]["p99_us"].as_f64().unwrap_or(0.0)
    ));
    if let Some(rows) = r["cases_query"]["principals"].as_array() {
        out.push_str(
            "\n`cases` (first 20) with the national grants loaded, medians side by side:\n\n",
        );
        out.push_str("| principal | listed | authorization p50 | whole p50 | share | after a policy change: authorization p50 | whole p50 | share |\n|---|---|---|---|---|---|---|---|\n");
        for row in rows {
            let f = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
            out.push_str(&format!(
                "| {} | {} | {:.1} µs | {:.1} µs | {:.2} % | {:.1} µs | {:.1} µs | {:.2} % |\n",
                row["principal"].as_str().unwrap_or("?"),
                row["listed"],
                f(&row["warm"]["authorization"]["p50_us"]),
                f(&row["warm"]["whole"]["p50_us"]),
                100.0 * f(&row["warm"]["share_of_p50"]),
                f(&row["cold"]["authorization"]["p50_us"]),
                f(&row["cold"]["whole"]["p50_us"]),
                100.0 * f(&row["cold"]["share_of_p50"]),
            ));
        }
    }
    out
}
