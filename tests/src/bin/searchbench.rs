//! `searchbench`: case search at scale, through the API and straight to the index, side by side.
//!
//! `run` builds the server's state from the configuration in the environment (`FENGQIAO_*`: the database
//! holding the demo county and its bulk-loaded cases; the embedded index folder or a Meilisearch server),
//! serves the API on a loopback port inside this process, signs in demo users (the county supervisor and
//! township directors), and then alternates rounds of two arms, each with `--clients` concurrent clients in
//! a closed loop over a fixed mix of queries:
//!
//! - `api`: `searchCases` over HTTP: GraphQL, the access token, the scope the server builds, the index, and
//!   hydrating each hit from the database with its read check;
//! - `direct`: the very query the server sends for that user and text (`AppState::search_query`: scope,
//!   filters, page, facets), sent straight to the index adapter (`CaseIndex::search`).
//!
//! The API's overhead is the ratio of the two arms' medians. Both arms share the process and the machine,
//! so the ratio compares like with like; the absolute figures are this machine's. `report` turns the JSON
//! files of `run` (one per engine) into a Markdown table.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use fengqiao::app::AppState;
use fengqiao::clock::SystemClock;
use fengqiao::config::Config;
use fengqiao::search::SearchRequest;
use fengqiao_search::SearchQuery;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "searchbench",
    about = "Case search benchmark: API and index side by side"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure both arms, alternating, and write the figures.
    Run {
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Measured seconds per round and arm.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Unmeasured seconds at the start of each round.
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        /// Rounds; each runs `direct` then `api`.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Hits per page.
        #[arg(long, default_value_t = 20)]
        first: usize,
        /// Demo townships whose directors search (t01 … tNN), besides the county supervisor.
        #[arg(long, default_value_t = 6)]
        townships: usize,
        #[arg(long, default_value = "fengqiao-demo")]
        password: String,
        /// Indexing figures of the same run (`fengqiao reindex` output), kept with the results.
        #[arg(long)]
        reindex_log: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Turn `run` results into a Markdown table.
    Report {
        #[arg(long)]
        out: PathBuf,
        results: Vec<PathBuf>,
    },
}

/// What staff type: words of complaints, names, villages, a typo made with pinyin input, traditional
/// characters, two words.
const TEXTS: &[&str] = &[
    "宅基地",
    "工伤赔偿",
    "彩礼",
    "拖欠工资",
    "王建国",
    "漏水",
    "山林权属",
    "赡养 老人",
    "争收补偿",
    "電梯維修",
    "物业费",
    "",
];

const SEARCH: &str = "query($t: String!, $first: Int!) { searchCases(text: $t, first: $first) { \
    total hasNextPage endCursor \
    facets { level categories { category count } statuses { status count } tenants { tenant { id } count } } \
    hits { score cursor case { id code title status registeredAt } title { html } description { html } } } }";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match args.command {
            Command::Run {
                clients,
                seconds,
                warmup,
                rounds,
                first,
                townships,
                password,
                reindex_log,
                out,
            } => {
                let settings = RunSettings {
                    clients,
                    window: Duration::from_secs(seconds),
                    warmup: Duration::from_secs(warmup),
                    rounds,
                    first,
                    townships,
                    password,
                };
                let mut figures = run(&settings).await?;
                if let Some(log) = reindex_log {
                    // The command's result lines; not what libraries logged on the way.
                    let text = std::fs::read_to_string(&log)
                        .with_context(|| format!("reading {}", log.display()))?;
                    let lines: Vec<&str> = text
                        .lines()
                        .filter(|l| l.starts_with("rebuilt ") || l.starts_with("reindex: "))
                        .collect();
                    figures["reindex"] = Value::String(lines.join("\n"));
                }
                std::fs::write(&out, serde_json::to_string_pretty(&figures)?)?;
                println!("{}", markdown(&[figures]));
                Ok(())
            }
            Command::Report { out, results } => {
                let mut all = Vec::new();
                for path in results {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    all.push(serde_json::from_str(&text)?);
                }
                std::fs::write(&out, markdown(&all))?;
                Ok(())
            }
        }
    })
}

struct RunSettings {
    clients: usize,
    window: Duration,
    warmup: Duration,
    rounds: usize,
    first: usize,
    townships: usize,
    password: String,
}

/// One searcher: the access token for the API arm, and per text the query the server sends for them.
struct Searcher {
    username: String,
    token: String,
    queries: Vec<(String, SearchQuery)>,
}

async fn run(settings: &RunSettings) -> anyhow::Result<Value> {
    let mut config = Config::load(None)?;
    config.search.worker = false;
    config.deadline_scan_minutes = 0;
    let state = fengqiao::build_state(&config, Arc::new(SystemClock)).await?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/graphql", listener.local_addr()?);
    tokio::spawn(fengqiao::http::server(state.clone(), &config, listener)?);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(settings.clients * 2)
        .build()?;

    let mut usernames = vec!["county.supervisor".to_owned()];
    usernames.extend((1..=settings.townships).map(|n| format!("t{n:02}.director")));
    let mut searchers = Vec::new();
    for username in usernames {
        let data = call(
            &http,
            &url,
            None,
            "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken } }",
            json!({ "u": username, "p": settings.password }),
        )
        .await
        .with_context(|| format!("signing in as {username}"))?;
        let token = data["signIn"]["accessToken"]
            .as_str()
            .context("no access token")?
            .to_owned();
        let caller = state
            .authenticate(&token)
            .await
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        let mut queries = Vec::new();
        for text in TEXTS {
            let query = state
                .search_query(
                    &caller.principal,
                    SearchRequest {
                        text: (*text).to_owned(),
                        first: settings.first,
                        ..SearchRequest::default()
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!(e.detail()))?;
            queries.push(((*text).to_owned(), query));
        }
        searchers.push(Searcher {
            username,
            token,
            queries,
        });
    }
    let searchers = Arc::new(searchers);

    // How many hits each text has for the county and for the first township, as the index counts them.
    let mut totals = serde_json::Map::new();
    for searcher in searchers.iter().take(2) {
        let mut per_text = serde_json::Map::new();
        for (text, query) in &searcher.queries {
            let page = state
                .search
                .index
                .search(query)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            per_text.insert(text.clone(), json!(page.total));
        }
        totals.insert(searcher.username.clone(), Value::Object(per_text));
    }
    let cases = state
        .search
        .index
        .fingerprint(searchers[0].queries[0].1.scope.county_id(), None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .count;

    let mut rounds = Vec::new();
    for round in 0..settings.rounds {
        for arm in [Arm::Direct, Arm::Api] {
            let measured = measure(settings, arm, &state, &http, &url, &searchers).await?;
            eprintln!(
                "round {} {}: {} requests, {} errors, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
                round + 1,
                arm.name(),
                measured.latencies.len(),
                measured.errors,
                measured.latencies.len() as f64 / settings.window.as_secs_f64(),
                percentile(&measured.latencies, 50.0),
                percentile(&measured.latencies, 99.0),
            );
            rounds.push(json!({
                "round": round + 1,
                "arm": arm.name(),
                "requests": measured.latencies.len(),
                "errors": measured.errors,
                "first_error": measured.first_error,
                "per_second": measured.latencies.len() as f64 / settings.window.as_secs_f64(),
                "p50_ms": percentile(&measured.latencies, 50.0),
                "p90_ms": percentile(&measured.latencies, 90.0),
                "p99_ms": percentile(&measured.latencies, 99.0),
                "max_ms": percentile(&measured.latencies, 100.0),
                "p50_ms_by_text": TEXTS
                    .iter()
                    .zip(&measured.by_text)
                    .map(|(text, latencies)| ((*text).to_owned(), json!(percentile(latencies, 50.0))))
                    .collect::<serde_json::Map<_, _>>(),
            }));
        }
    }
    let median_of = |arm: &str, key: &str| {
        let mut values: Vec<f64> = rounds
            .iter()
            .filter(|r| r["arm"] == arm)
            .filter_map(|r| r[key].as_f64())
            .collect();
        values.sort_by(f64::total_cmp);
        median(&values)
    };
    let summary = json!({
        "api_p50_ms": median_of("api", "p50_ms"),
        "api_p99_ms": median_of("api", "p99_ms"),
        "api_per_second": median_of("api", "per_second"),
        "direct_p50_ms": median_of("direct", "p50_ms"),
        "direct_p99_ms": median_of("direct", "p99_ms"),
        "direct_per_second": median_of("direct", "per_second"),
        "overhead_ratio_p50": median_of("api", "p50_ms") / median_of("direct", "p50_ms"),
        "overhead_ratio_p99": median_of("api", "p99_ms") / median_of("direct", "p99_ms"),
    });
    Ok(json!({
        "engine": state.search.engine.as_str(),
        "cases_in_index": cases,
        "clients": settings.clients,
        "seconds_per_round": settings.window.as_secs(),
        "first": settings.first,
        "searchers": searchers.iter().map(|s| s.username.clone()).collect::<Vec<_>>(),
        "texts": TEXTS,
        "totals": totals,
        "rounds": rounds,
        "summary": summary,
        "threads": std::thread::available_parallelism().map(usize::from).unwrap_or(0),
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arm {
    Direct,
    Api,
}

impl Arm {
    fn name(self) -> &'static str {
        match self {
            Arm::Direct => "direct",
            Arm::Api => "api",
        }
    }
}

#[derive(Default)]
struct Measured {
    latencies: Vec<f64>,
    /// The same latencies by text (index into `TEXTS`).
    by_text: Vec<Vec<f64>>,
    errors: u64,
    first_error: Option<String>,
}

/// `clients` closed loops over (searcher, text) pairs, each client starting at a different pair; the
/// requests that start after the warm-up and end before the window closes count.
async fn measure(
    settings: &RunSettings,
    arm: Arm,
    state: &Arc<AppState>,
    http: &reqwest::Client,
    url: &str,
    searchers: &Arc<Vec<Searcher>>,
) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let count_from = started + settings.warmup;
    let end = count_from + settings.window;
    let pairs: Vec<(usize, usize)> = (0..searchers.len())
        .flat_map(|s| (0..TEXTS.len()).map(move |t| (s, t)))
        .collect();
    let pairs = Arc::new(pairs);
    let mut tasks = Vec::new();
    for client in 0..settings.clients {
        let state = state.clone();
        let http = http.clone();
        let url = url.to_owned();
        let searchers = searchers.clone();
        let pairs = pairs.clone();
        let first = settings.first;
        let clients = settings.clients;
        tasks.push(tokio::spawn(async move {
            let mut measured = Measured::default();
            let mut next = client * pairs.len() / clients;
            loop {
                let (s, t) = pairs[next % pairs.len()];
                next += 1;
                let searcher = &searchers[s];
                let (text, query) = &searcher.queries[t];
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let outcome: Result<(), String> = match arm {
                    Arm::Direct => state
                        .search
                        .index
                        .search(query)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Arm::Api => call(
                        &http,
                        &url,
                        Some(&searcher.token),
                        SEARCH,
                        json!({ "t": text, "first": first }),
                    )
                    .await
                    .and_then(|data| {
                        if data["searchCases"]["hits"].is_array() {
                            Ok(())
                        } else {
                            Err(anyhow::anyhow!("no hits in {data}"))
                        }
                    })
                    .map_err(|e| format!("{e:#}")),
                };
                let done = Instant::now();
                if sent < count_from || done > end {
                    continue;
                }
                match outcome {
                    Ok(()) => {
                        let ms = (done - sent).as_secs_f64() * 1000.0;
                        measured.latencies.push(ms);
                        if measured.by_text.len() <= t {
                            measured.by_text.resize(TEXTS.len(), Vec::new());
                        }
                        measured.by_text[t].push(ms);
                    }
                    Err(e) => {
                        measured.errors += 1;
                        measured.first_error.get_or_insert(e);
                    }
                }
            }
            measured
        }));
    }
    let mut all = Measured::default();
    for task in tasks {
        let measured = task.await?;
        all.latencies.extend(measured.latencies);
        all.by_text.resize(TEXTS.len(), Vec::new());
        for (t, latencies) in measured.by_text.into_iter().enumerate() {
            all.by_text[t].extend(latencies);
        }
        all.errors += measured.errors;
        if all.first_error.is_none() {
            all.first_error = measured.first_error;
        }
    }
    all.latencies.sort_by(f64::total_cmp);
    for latencies in &mut all.by_text {
        latencies.sort_by(f64::total_cmp);
    }
    if all.latencies.is_empty() {
        bail!(
            "{}: no request succeeded; first error: {:?}",
            arm.name(),
            all.first_error
        );
    }
    Ok(all)
}

async fn call(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() || body.get("errors").is_some() {
        bail!("{status}: {body}");
    }
    Ok(body["data"].clone())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn markdown(results: &[Value]) -> String {
    let mut out = String::from(
        "| engine | cases in index | clients | API p50 ms | API p99 ms | API req/s | direct p50 ms | direct p99 ms | direct req/s | overhead p50 | overhead p99 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let s = &r["summary"];
        let f = |key: &str| s[key].as_f64().unwrap_or(f64::NAN);
        out.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} |\n",
            r["engine"].as_str().unwrap_or("?"),
            r["cases_in_index"],
            r["clients"],
            f("api_p50_ms"),
            f("api_p99_ms"),
            f("api_per_second"),
            f("direct_p50_ms"),
            f("direct_p99_ms"),
            f("direct_per_second"),
            f("overhead_ratio_p50"),
            f("overhead_ratio_p99"),
        ));
    }
    out.push_str(
        "\nRounds (each arm's figures per round; the table shows the medians over rounds):\n\n",
    );
    out.push_str("| engine | round | arm | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        for round in r["rounds"].as_array().into_iter().flatten() {
            let f = |key: &str| round[key].as_f64().unwrap_or(f64::NAN);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
                r["engine"].as_str().unwrap_or("?"),
                round["round"],
                round["arm"].as_str().unwrap_or("?"),
                round["requests"],
                round["errors"],
                f("per_second"),
                f("p50_ms"),
                f("p90_ms"),
                f("p99_ms"),
                f("max_ms"),
            ));
        }
    }
    out.push_str("\nMedian latency by text in the last round, ms (\"\" lists the whole scope):\n\n| engine | arm |");
    for text in TEXTS {
        out.push_str(&format!(" {text:?} |"));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---:|".repeat(TEXTS.len()));
    out.push('\n');
    for r in results {
        let rounds = r["rounds"].as_array().cloned().unwrap_or_default();
        for arm in ["direct", "api"] {
            let Some(last) = rounds.iter().rev().find(|round| round["arm"] == arm) else {
                continue;
            };
            out.push_str(&format!(
                "| {} | {arm} |",
                r["engine"].as_str().unwrap_or("?")
            ));
            for text in TEXTS {
                let ms = last["p50_ms_by_text"][*text].as_f64().unwrap_or(f64::NAN);
                out.push_str(&format!(" {ms:.1} |"));
            }
            out.push('\n');
        }
    }
    for r in results {
        if let Some(reindex) = r["reindex"].as_str() {
            out.push_str(&format!(
                "\nIndexing ({}): {reindex}\n",
                r["engine"].as_str().unwrap_or("?")
            ));
        }
        out.push_str(&format!(
            "\nHits per text ({}): {}\n",
            r["engine"].as_str().unwrap_or("?"),
            r["totals"]
        ));
    }
    out
}
