//! `fengqiao`: serve the API (default), migrate, seed the demo county, or print the GraphQL schema.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use fengqiao::clock::SystemClock;
use fengqiao::config::Config;
use fengqiao::store::scope::{SystemPermit, as_system};
use fengqiao::{build_state, graphql, seed};

/// mimalloc returns freed memory to the system; glibc's allocator keeps each thread arena's 19 MiB argon2
/// buffers after sign-ins, which grew the server past 1 GB under a burst of sign-ins.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "fengqiao",
    version,
    about = "Fengqiao: social-governance comprehensive centers, county to village"
)]
struct Cli {
    /// A TOML configuration file; FENGQIAO_* environment variables override it.
    #[arg(long, short, env = "FENGQIAO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the GraphQL API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create the demo county (清水县: 18 townships, 267 villages, staff in every role, cases in every state).
    SeedDemo,
    /// Print the GraphQL schema (SDL).
    PrintSchema,
    /// Run the deadline scanner once: raise supervision on every case past a legal deadline.
    ScanDeadlines,
    /// Compare every county's rollup counters with a replay of the case timelines and print any drift;
    /// exits with status 1 when drift remains. `--repair` adds the difference to the counters.
    VerifyRollups {
        #[arg(long)]
        repair: bool,
    },
    /// Build a new search index from the database and swap it in at once; changes made meanwhile are
    /// replayed. The embedded index can be rebuilt only while no server has it open.
    Reindex,
    /// Compare each county's cases in the database and in the search index, by count and content digest,
    /// and print any drift (by township); exits with status 1 when drift remains. `--repair` feeds the
    /// index what is missing or stale and removes what the database does not have.
    VerifyIndex {
        #[arg(long)]
        repair: bool,
    },
    /// Check every county's audit trail as a hash chain and print, per county, the records read, those
    /// from before the chain, and the head hash (an anchor to keep elsewhere); exits with status 1 at the
    /// first record that was changed, removed or slipped in. Runs beside a server.
    VerifyAudit,
    /// Remove every county's audit records older than `--before` (a date at least 180 days ago), leaving
    /// per county an anchor (the hash of the last record removed) from which `verify-audit` goes on.
    /// Refused for a county whose chain is broken. Connects as the database's owner
    /// (`database_owner_url`): the server's own role may not remove audit records.
    PruneAudit {
        /// yyyy-mm-dd: records before this day (UTC) are removed.
        #[arg(long)]
        before: String,
    },
    /// Load a year's working-day calendar notice (a file like domain/calendars/cn-2026.txt), replacing that
    /// year's days off and make-up working days. Running servers on the same Redis reload it at once; others
    /// read it when they start.
    LoadCalendar {
        /// The notice file.
        file: PathBuf,
    },
    /// Create a county with its system administrator and security administrator. Reads their two
    /// passwords from standard input, one per line.
    BootstrapCounty {
        /// The county's 12-digit administrative division code, e.g. 620521000000.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "admin")]
        admin_username: String,
        #[arg(long, default_value = "security")]
        security_username: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::PrintSchema) = cli.command {
        print!("{}", graphql::sdl());
        return Ok(());
    }
    fengqiao::init_logging();
    let config = Config::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Cmd::Serve) {
            Cmd::Migrate => {
                let mut config = config;
                config.auto_migrate = true;
                let store =
                    fengqiao::store::Store::connect(&config.effective_database_url(), 2).await?;
                fengqiao::migrate(&config, &store).await?;
                println!("migrations applied");
                Ok(())
            }
            Cmd::SeedDemo => {
                let summary = seed::seed_demo(&config).await?;
                println!("{summary}");
                Ok(())
            }
            Cmd::PrintSchema => Ok(()),
            Cmd::ScanDeadlines => {
                let state = build_state(&config, Arc::new(SystemClock)).await?;
                let report = state
                    .scan_deadlines(&SystemPermit::for_the_process())
                    .await
                    .map_err(|e| anyhow::anyhow!(e.detail()))?;
                println!("{report:?}");
                Ok(())
            }
            Cmd::VerifyRollups { repair } => verify_rollups(&config, repair).await,
            Cmd::VerifyAudit => verify_audit(&config).await,
            Cmd::PruneAudit { before } => prune_audit(&config, &before).await,
            Cmd::Reindex => reindex(&config).await,
            Cmd::VerifyIndex { repair } => verify_index(&config, repair).await,
            Cmd::LoadCalendar { file } => load_calendar(&config, &file).await,
            Cmd::BootstrapCounty {
                code,
                name,
                admin_username,
                security_username,
            } => bootstrap_county(&config, &code, &name, &admin_username, &security_username).await,
            Cmd::Serve => fengqiao::serve(config).await,
        }
    })
}

async fn verify_audit(config: &Config) -> anyhow::Result<()> {
    let state = fengqiao::build_state_for_command(config, Arc::new(SystemClock)).await?;
    let checks = state
        .verify_audit(&SystemPermit::for_the_process())
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    if checks.is_empty() {
        println!("no audit records yet");
    }
    let mut broken = 0;
    for check in &checks {
        match check.broken_at {
            None => println!(
                "county {}: {} records, {} from before the chain, chain intact, head {}",
                check.county_id, check.records, check.unchained, check.head
            ),
            Some((id, why)) => {
                broken += 1;
                println!(
                    "county {}: chain broken at record {id}: {why} ({} records read)",
                    check.county_id, check.records
                );
            }
        }
    }
    if broken > 0 {
        anyhow::bail!("{broken} counties' audit trails are broken");
    }
    Ok(())
}

async fn prune_audit(config: &Config, before: &str) -> anyhow::Result<()> {
    let day = chrono::NaiveDate::parse_from_str(before, "%Y-%m-%d")
        .context("--before: write a day as yyyy-mm-dd")?;
    let before = day
        .and_hms_opt(0, 0, 0)
        .context("--before: not a day")?
        .and_utc();
    let url = if config.database_owner_url.is_empty() {
        config.effective_database_url()
    } else {
        config.database_owner_url.expose().to_owned()
    };
    let owner = fengqiao::store::Store::connect(&url, 2)
        .await
        .context("connecting to the database as its owner")?;
    let now = fengqiao::clock::Clock::now(&SystemClock);
    let counties = as_system(owner.audited_counties())
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    if counties.is_empty() {
        println!("no audit records yet");
    }
    for county in counties {
        match as_system(owner.prune_audit(county, before, now))
            .await
            .map_err(|e| anyhow::anyhow!(e.detail()))?
        {
            Some(pruned) => println!(
                "county {county}: {} records removed through record {}; anchor {}",
                pruned.records, pruned.through_id, pruned.hash
            ),
            None => println!("county {county}: nothing before {day}"),
        }
    }
    owner.close().await;
    Ok(())
}

async fn verify_rollups(config: &Config, repair: bool) -> anyhow::Result<()> {
    let state = fengqiao::build_state_for_command(config, Arc::new(SystemClock)).await?;
    let started = std::time::Instant::now();
    let counties = state
        .verify_rollups(None, repair)
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    let mut drifted = 0;
    for county in &counties {
        let check = &county.check;
        println!(
            "county {}: {} counters compared, {} differ{}{}",
            county.county_id,
            check.compared,
            check.differences.len(),
            if check.repaired { ", repaired" } else { "" },
            if check.unreadable_cases.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} cases with an unreadable timeline: {:?}",
                    check.unreadable_cases.len(),
                    check.unreadable_cases
                )
            }
        );
        for (key, stored, replayed) in check.differences.iter().take(20) {
            println!(
                "  tenant {} month {} {}{} stored {stored} replayed {replayed}",
                key.tenant_id,
                key.month,
                key.metric,
                if key.dim.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", key.dim)
                },
            );
        }
        if !check.differences.is_empty() && !check.repaired {
            drifted += 1;
        }
    }
    println!(
        "{} counties verified in {:.1} s; {drifted} with drift",
        counties.len(),
        started.elapsed().as_secs_f64()
    );
    if drifted > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// The state of a command that works on the search index: no outbox worker of its own (the command drains
/// the outbox itself) and no rebuild on opening (the command decides).
async fn search_command_state(config: &Config) -> anyhow::Result<Arc<fengqiao::app::AppState>> {
    let mut config = config.clone();
    config.search.worker = false;
    build_state(&config, Arc::new(SystemClock)).await
}

async fn reindex(config: &Config) -> anyhow::Result<()> {
    let mut config = config.clone();
    config.search.worker = false;
    let state = fengqiao::build_state_for_reindex(&config, Arc::new(SystemClock)).await?;
    let started = std::time::Instant::now();
    let report = state
        .reindex(&SystemPermit::for_the_process())
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rebuilt the {} search index: {} cases in {seconds:.1} s ({:.0} cases/s); {} changes made meanwhile replayed",
        state.search.engine.as_str(),
        report.cases,
        report.cases as f64 / seconds.max(0.001),
        report.replayed
    );
    Ok(())
}

async fn verify_index(config: &Config, repair: bool) -> anyhow::Result<()> {
    let state = search_command_state(config).await?;
    let started = std::time::Instant::now();
    let counties = state
        .verify_index(repair)
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    let mut drifted = 0;
    for county in &counties {
        println!("{county}");
        if county.drifted() && !county.repaired {
            drifted += 1;
        }
    }
    println!(
        "{} counties verified against the {} search index in {:.1} s; {drifted} with drift",
        counties.len(),
        state.search.engine.as_str(),
        started.elapsed().as_secs_f64()
    );
    if drifted > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn load_calendar(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let notice = fengqiao_domain::calendar::YearNotice::parse(&text)
        .with_context(|| format!("in {}", file.display()))?;
    let mut config = config.clone();
    config.auto_migrate = true;
    let state = fengqiao::build_state_for_command(&config, Arc::new(SystemClock)).await?;
    let now = fengqiao::clock::Clock::now(&SystemClock);
    as_system(state.store.save_calendar_notice(&notice, &text, now))
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    // Running servers on the same Redis reload the calendar now; the others when they start.
    state.announce(&fengqiao::app::PolicyChange::Calendar).await;
    println!(
        "loaded the {} calendar: {} days off, {} make-up working days",
        notice.year,
        notice.days_off.len(),
        notice.working_days.len()
    );
    Ok(())
}

async fn bootstrap_county(
    config: &Config,
    code: &str,
    name: &str,
    admin: &str,
    security: &str,
) -> anyhow::Result<()> {
    use fengqiao::OperatorAccount;
    use fengqiao_domain::{DivisionCode, TenantLevel};

    let code = DivisionCode::parse(code, TenantLevel::County)?;
    let mut lines = std::io::stdin().lines();
    let mut next_password = |who: &str| -> anyhow::Result<String> {
        let line = lines
            .next()
            .with_context(|| format!("standard input ended before the {who} password"))??;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let admin_password = next_password("system administrator's")?;
    let security_password = next_password("security administrator's")?;
    let county = fengqiao::bootstrap_county(
        config,
        &code,
        name,
        OperatorAccount {
            username: admin,
            password: &admin_password,
        },
        OperatorAccount {
            username: security,
            password: &security_password,
        },
    )
    .await?;
    println!(
        "created county {} ({}) with administrators {admin} and {security}",
        county.name, county.code
    );
    Ok(())
}
