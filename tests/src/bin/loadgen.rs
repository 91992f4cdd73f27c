//! `loadgen`: a closed-loop load generator for Fengqiao's GraphQL API.
//!
//! It signs in `--clients` demo users (client `i` works for township `(i % 18) + 1`, as `tNN.clerk`), then
//! each client sends one request after the other for `--warmup` plus `--duration`:
//!
//! - `register` mode: `registerCase` with fresh parties and a unique idempotency key, again and again;
//! - `loop` mode: the whole closed loop of one case at a time — register and accept (clerk), dispatch to the
//!   township's 司法所 (dispatcher), claim and resolve (`tNN.sfs`), follow up (clerk), close (dispatcher).
//!
//! Only requests that start after the warm-up and finish before the end are measured. A request counts as
//! an error when the HTTP exchange fails, the status is not 2xx, or the answer carries GraphQL `errors`; the
//! first few are printed to stderr. The result goes to stdout as one line per operation plus a summary line,
//! and with `--out` as JSON: per operation the requests, errors, throughput and p50/p90/p99/max latency. With
//! `--server-pid` it also samples the server's resident memory (`/proc/PID/status`: VmRSS during the run,
//! VmHWM at the end) and CPU time over the measured window.
//!
//! It only talks to a loopback URL, and stops after `--max-requests` requests at the latest.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use fengqiao_tests::{
    ACCEPT, CLAIM, CLOSE, CallError, DISPATCH, FOLLOW_UP, Gql, MY_UNITS, REGISTER, RESOLVE, Rng,
    Session, loopback_url, parse_duration, percentile, register_input, renew_if_old,
    rfc3339_days_from_now, sign_in, text_at,
};
use serde::Serialize;
use serde_json::{Value, json};

/// The number of demo townships (t01 … t18).
const DEMO_TOWNSHIPS: usize = 18;
/// The longest run accepted, warm-up included.
const MAX_RUN: Duration = Duration::from_secs(3600);

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    about = "Load generator for Fengqiao's registerCase and the case closed loop"
)]
struct Args {
    /// The GraphQL endpoint; must be on the loopback interface.
    #[arg(long, default_value = "http://127.0.0.1:18080/graphql")]
    url: String,
    /// Concurrent clients, each sending one request at a time.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// How long to measure, after the warm-up (e.g. 20s, 1500ms, 2m).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// How long to send unmeasured requests first.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    warmup: Duration,
    #[arg(long, value_enum, default_value_t = Mode::Register)]
    mode: Mode,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The server's process id, to sample its resident memory and CPU time from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Stop after this many requests in all (warm-up included), even before the time is up.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// How many demo townships to spread the clients over (tNN for NN = 01 … this).
    #[arg(long, default_value_t = DEMO_TOWNSHIPS)]
    townships: usize,
    /// The demo users' password.
    #[arg(long, default_value = "fengqiao-demo")]
    password: String,
    /// Give up on a single request after this long (counted as an error).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// How many error responses to print.
    #[arg(long, default_value_t = 10)]
    show_errors: usize,
    /// At most this many sign-ins at once (each one is an argon2 verification on the server).
    #[arg(long, default_value_t = 4)]
    sign_in_concurrency: usize,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    /// registerCase only.
    Register,
    /// register → accept → dispatch → claim → resolve → follow up → close, per case.
    Loop,
}

// ---- measuring ----------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Register,
    Accept,
    Dispatch,
    Claim,
    Resolve,
    FollowUp,
    Close,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Register => "register",
            Op::Accept => "accept",
            Op::Dispatch => "dispatch",
            Op::Claim => "claim",
            Op::Resolve => "resolve",
            Op::FollowUp => "follow_up",
            Op::Close => "close",
        }
    }
}

/// One operation's raw figures from one client.
#[derive(Default)]
struct OpSamples {
    /// Latencies of the measured successful requests, in microseconds.
    ok_micros: Vec<u64>,
    /// Latencies of the measured failed requests, in microseconds.
    error_micros: Vec<u64>,
    error_codes: BTreeMap<String, u64>,
}

#[derive(Default)]
struct ClientResult {
    ops: BTreeMap<Op, OpSamples>,
    /// Full cycles (register … close) measured in loop mode, in microseconds.
    cycles_micros: Vec<u64>,
    /// Failed requests outside the measured window (warm-up, or finishing after the end).
    unmeasured_errors: u64,
    /// Requests sent in all.
    sent: u64,
}

/// What every client shares.
struct Shared {
    gql: Gql,
    password: String,
    measure_from: Instant,
    end: Instant,
    max_requests: u64,
    sent: AtomicU64,
    errors_shown: AtomicUsize,
    show_errors: usize,
    run_id: String,
}

impl Shared {
    fn running(&self) -> bool {
        Instant::now() < self.end && self.sent.load(Ordering::Relaxed) < self.max_requests
    }
}

/// One request of a client: what to send, as whom, and what the answer must say.
struct Request<'a> {
    op: Op,
    token: &'a str,
    query: &'static str,
    variables: Value,
    /// JSON pointers into `data` and the values they must have.
    expect: Vec<(&'static str, Value)>,
}

impl ClientResult {
    /// Sends one request, checks the answer, and records its outcome if it falls in the measured window.
    async fn timed(
        &mut self,
        shared: &Shared,
        client: usize,
        request: Request<'_>,
    ) -> Result<Value, CallError> {
        shared.sent.fetch_add(1, Ordering::Relaxed);
        self.sent += 1;
        let started = Instant::now();
        let result = shared
            .gql
            .call(Some(request.token), request.query, request.variables)
            .await
            .and_then(|data| {
                let wrong = request
                    .expect
                    .iter()
                    .find(|(pointer, expected)| data.pointer(pointer) != Some(expected));
                match wrong {
                    None => Ok(data),
                    Some((pointer, expected)) => Err(CallError::new(
                        "UNEXPECTED",
                        format!("expected {pointer} = {expected}, got {data}"),
                    )),
                }
            });
        let finished = Instant::now();
        let measured = started >= shared.measure_from && finished <= shared.end;
        let micros = finished.duration_since(started).as_micros() as u64;
        let op = request.op;
        let samples = self.ops.entry(op).or_default();
        match &result {
            Ok(_) if measured => samples.ok_micros.push(micros),
            Ok(_) => {}
            Err(e) => {
                if measured {
                    samples.error_micros.push(micros);
                    *samples.error_codes.entry(e.code.clone()).or_default() += 1;
                } else {
                    self.unmeasured_errors += 1;
                }
                if shared.errors_shown.fetch_add(1, Ordering::Relaxed) < shared.show_errors {
                    eprintln!(
                        "error: client {client} {}: {}: {}",
                        op.name(),
                        e.code,
                        e.message
                    );
                }
                // Do not spin on a server that refuses connections or falls over; not measured.
                if matches!(e.code.as_str(), "TRANSPORT" | "TIMEOUT")
                    || e.code.starts_with("HTTP_5")
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        result
    }
}

/// A client's sessions: the clerk always; in loop mode also the dispatcher, the 司法所 handler and its unit.
struct Client {
    index: usize,
    clerk: Session,
    loop_staff: Option<LoopStaff>,
}

struct LoopStaff {
    dispatcher: Session,
    handler: Session,
    lead_unit_id: String,
}

async fn prepare_client(
    gql: &Gql,
    index: usize,
    args: &Args,
    gate: &tokio::sync::Semaphore,
) -> anyhow::Result<Client> {
    let township = (index % args.townships) + 1;
    let who = |role: &str| format!("t{township:02}.{role}");
    let login = |username: String| async move {
        let _permit = gate.acquire().await.context("sign-in gate closed")?;
        sign_in(gql, &username, &args.password)
            .await
            .map_err(|e| anyhow::anyhow!("signing in {username}: {}: {}", e.code, e.message))
    };
    let clerk = login(who("clerk")).await?;
    let loop_staff = match args.mode {
        Mode::Register => None,
        Mode::Loop => {
            let dispatcher = login(who("dispatcher")).await?;
            let handler = login(who("sfs")).await?;
            let data = gql
                .call(Some(&handler.token), MY_UNITS, json!({}))
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "reading the units of {}: {}: {}",
                        handler.username,
                        e.code,
                        e.message
                    )
                })?;
            let units = data
                .pointer("/me/units")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let unit = units
                .iter()
                .find(|u| {
                    u.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.contains("司法所"))
                })
                .or_else(|| units.first())
                .and_then(|u| u.get("id").and_then(Value::as_str))
                .with_context(|| format!("{} belongs to no unit", handler.username))?
                .to_owned();
            Some(LoopStaff {
                dispatcher,
                handler,
                lead_unit_id: unit,
            })
        }
    };
    Ok(Client {
        index,
        clerk,
        loop_staff,
    })
}

async fn run_client(shared: Arc<Shared>, mut client: Client, seed: u64) -> ClientResult {
    let mut result = ClientResult::default();
    let mut rng = Rng::new(seed);
    let mut sequence = 0u64;
    let index = client.index;
    while shared.running() {
        // Renewals are rare (every ten minutes) and not measured.
        let mut renewed = renew_if_old(&shared.gql, &mut client.clerk, &shared.password).await;
        if let Some(staff) = client.loop_staff.as_mut() {
            renewed = renewed
                .and(renew_if_old(&shared.gql, &mut staff.dispatcher, &shared.password).await)
                .and(renew_if_old(&shared.gql, &mut staff.handler, &shared.password).await);
        }
        if let Err(e) = renewed {
            eprintln!(
                "error: client {index}: signing in again failed: {}: {}; the client stops",
                e.code, e.message
            );
            result.unmeasured_errors += 1;
            break;
        }
        sequence += 1;
        let key = format!("lg-{}-{index}-{sequence}", shared.run_id);
        let input = register_input(&mut rng, key);
        let cycle_started = Instant::now();
        let register = Request {
            op: Op::Register,
            token: &client.clerk.token,
            query: REGISTER,
            variables: json!({ "input": input }),
            expect: vec![
                ("/registerCase/case/status", json!("REGISTERED")),
                ("/registerCase/replayed", json!(false)),
            ],
        };
        let registered = result.timed(&shared, index, register).await;
        let Some(staff) = client.loop_staff.as_ref() else {
            continue;
        };
        let Ok(data) = registered else { continue };
        let Ok(id) = text_at(&data, "/registerCase/case/id").map(str::to_owned) else {
            eprintln!("error: client {index} register: no case id in {data}");
            continue;
        };
        let vars = json!({ "id": id });
        let deadline = rfc3339_days_from_now(30);
        let clerk = client.clerk.token.as_str();
        let dispatcher = staff.dispatcher.token.as_str();
        let handler = staff.handler.token.as_str();
        let dispatch_vars = json!({ "id": id, "lead": staff.lead_unit_id, "deadline": deadline });
        let request = |op, token, query, variables, expect| Request {
            op,
            token,
            query,
            variables,
            expect,
        };
        let steps = [
            request(
                Op::Accept,
                clerk,
                ACCEPT,
                vars.clone(),
                vec![("/acceptCase/case/status", json!("ACCEPTED"))],
            ),
            request(
                Op::Dispatch,
                dispatcher,
                DISPATCH,
                dispatch_vars,
                vec![("/dispatchCase/case/status", json!("DISPATCHED"))],
            ),
            request(
                Op::Claim,
                handler,
                CLAIM,
                vars.clone(),
                vec![("/claimCase/case/status", json!("IN_PROGRESS"))],
            ),
            request(
                Op::Resolve,
                handler,
                RESOLVE,
                vars.clone(),
                vec![("/resolveCase/case/status", json!("RESOLVED"))],
            ),
            request(
                Op::FollowUp,
                clerk,
                FOLLOW_UP,
                vars.clone(),
                vec![("/followUpCase/case/status", json!("FOLLOWED_UP"))],
            ),
            request(
                Op::Close,
                dispatcher,
                CLOSE,
                vars,
                vec![("/closeCase/case/status", json!("CLOSED"))],
            ),
        ];
        let mut completed = true;
        for step in steps {
            if !shared.running() || result.timed(&shared, index, step).await.is_err() {
                completed = false;
                break;
            }
        }
        let finished = Instant::now();
        if completed && cycle_started >= shared.measure_from && finished <= shared.end {
            result
                .cycles_micros
                .push(finished.duration_since(cycle_started).as_micros() as u64);
        }
    }
    result
}

// ---- the server's process ------------------------------------------------------------------------------

/// A `kB` field of /proc/PID/status, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// User plus system CPU time of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
fn proc_cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; count from the closing parenthesis.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3, so fields 14 and 15 are at 11 and 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks per second; 100 on every mainstream Linux build (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Default)]
struct Sampled {
    peak_rss_kib: u64,
    rss_at_start_kib: Option<u64>,
    server_ticks: Option<(u64, u64)>,
    loadgen_ticks: Option<(u64, u64)>,
}

/// Samples the server's VmRSS every 100 ms, and both processes' CPU time at the start and end of the
/// measured window.
async fn sample(pid: Option<u32>, measure_from: Instant, end: Instant) -> Sampled {
    let mut sampled = Sampled::default();
    let server = pid.map(|p| p.to_string());
    let cpu = |who: Option<&str>| who.and_then(proc_cpu_ticks);
    let mut server_from = None;
    let mut self_from = None;
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    loop {
        interval.tick().await;
        let now = Instant::now();
        if let Some(rss) = pid.and_then(|p| proc_status_kib(p, "VmRSS")) {
            sampled.peak_rss_kib = sampled.peak_rss_kib.max(rss);
            sampled.rss_at_start_kib.get_or_insert(rss);
        }
        if now >= measure_from && self_from.is_none() {
            server_from = cpu(server.as_deref());
            self_from = cpu(Some("self"));
        }
        if now >= end {
            sampled.server_ticks = server_from.zip(cpu(server.as_deref()));
            sampled.loadgen_ticks = self_from.zip(cpu(Some("self")));
            return sampled;
        }
    }
}

// ---- the report ---------------------------------------------------------------------------------------

#[derive(Serialize)]
struct OpReport {
    /// Measured requests, failed ones included.
    requests: u64,
    errors: u64,
    /// Successful requests per second of the measured window.
    throughput_per_s: f64,
    /// Latency percentiles of the successful requests.
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_ms: f64,
    error_codes: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct ServerReport {
    pid: u32,
    /// The largest VmRSS sampled during the run (every 100 ms), in MiB.
    peak_rss_mib: Option<f64>,
    /// VmRSS when the load started (after sign-in), in MiB.
    rss_at_start_mib: Option<f64>,
    /// VmRSS at the end, in MiB.
    rss_at_end_mib: Option<f64>,
    /// VmHWM at the end: the kernel's peak resident set since the process started (seeding included), in MiB.
    vm_hwm_mib: Option<f64>,
    /// The server's user + system CPU seconds during the measured window.
    cpu_s: Option<f64>,
    /// Server CPU milliseconds per successful request in the window.
    cpu_ms_per_request: Option<f64>,
}

/// Operation reports keyed by name, serialised as a JSON object in the order of the loop.
struct Operations(Vec<(&'static str, OpReport)>);

impl Operations {
    fn get(&self, name: &str) -> Option<&OpReport> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, r)| r)
    }
}

impl Serialize for Operations {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, report)| (name, report)))
    }
}

#[derive(Serialize)]
struct Report {
    mode: Mode,
    url: String,
    clients: usize,
    townships: usize,
    warmup_s: f64,
    duration_s: f64,
    /// Measured requests of all operations, failed ones included.
    requests: u64,
    /// Measured failed requests.
    errors: u64,
    /// Successful requests of all operations per second.
    throughput_per_s: f64,
    /// Successful registerCase requests per second (the figure compared with pgbench).
    register_per_s: f64,
    /// Loop mode: cases taken through the whole closed loop per second, and the latency of a whole loop.
    cycles: Option<OpReport>,
    /// Per operation, in the order of the loop.
    operations: Operations,
    /// Failed requests outside the measured window (warm-up, or finishing after the end).
    unmeasured_errors: u64,
    /// Requests sent in all, warm-up included.
    requests_sent: u64,
    /// The load generator's own user + system CPU seconds in the measured window (it shares the machine).
    loadgen_cpu_s: Option<f64>,
    server: Option<ServerReport>,
    started_at_unix_s: u64,
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn op_report(
    mut ok: Vec<u64>,
    errors: u64,
    error_codes: BTreeMap<String, u64>,
    seconds: f64,
) -> OpReport {
    ok.sort_unstable();
    let mean = if ok.is_empty() {
        0.0
    } else {
        ok.iter().sum::<u64>() as f64 / ok.len() as f64
    };
    OpReport {
        requests: ok.len() as u64 + errors,
        errors,
        throughput_per_s: round(ok.len() as f64 / seconds, 2),
        p50_ms: millis(percentile(&ok, 50.0)),
        p90_ms: millis(percentile(&ok, 90.0)),
        p99_ms: millis(percentile(&ok, 99.0)),
        max_ms: millis(ok.last().copied().unwrap_or_default()),
        mean_ms: round(mean / 1000.0, 3),
        error_codes,
    }
}

fn mib(kib: u64) -> f64 {
    round(kib as f64 / 1024.0, 1)
}

fn summary_line(name: &str, r: &OpReport) -> String {
    format!(
        "{name}: {} requests, {} errors, {:.1}/s, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        r.requests, r.errors, r.throughput_per_s, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms
    )
}

// ---- main ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = loopback_url(&args.url)?;
    if args.clients == 0 || args.clients > 1024 {
        bail!("--clients must be between 1 and 1024");
    }
    if args.townships == 0 || args.townships > 99 {
        bail!("--townships must be between 1 and 99");
    }
    if args.duration.is_zero() || args.duration + args.warmup > MAX_RUN {
        bail!(
            "--duration must be positive and --warmup plus --duration at most {} s",
            MAX_RUN.as_secs()
        );
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(args.request_timeout)
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.clients * 2)
        .build()
        .context("building the HTTP client")?;
    let gql = Gql { http, url };

    let gate = tokio::sync::Semaphore::new(args.sign_in_concurrency.max(1));
    let signing_in = Instant::now();
    let mut clients = Vec::with_capacity(args.clients);
    {
        let mut pending = Vec::with_capacity(args.clients);
        for index in 0..args.clients {
            pending.push(prepare_client(&gql, index, &args, &gate));
        }
        for (index, prepared) in futures_join_all(pending).await.into_iter().enumerate() {
            clients.push(prepared.with_context(|| format!("preparing client {index}"))?);
        }
    }
    let sessions = if args.mode == Mode::Loop {
        3 * args.clients
    } else {
        args.clients
    };
    eprintln!(
        "signed in {sessions} sessions in {:.1} s; running {} mode",
        signing_in.elapsed().as_secs_f64(),
        match args.mode {
            Mode::Register => "register",
            Mode::Loop => "loop",
        }
    );

    let started_at_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let run_id = format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let start = Instant::now();
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;
    let shared = Arc::new(Shared {
        gql,
        password: args.password.clone(),
        measure_from,
        end,
        max_requests: args.max_requests,
        sent: AtomicU64::new(0),
        errors_shown: AtomicUsize::new(0),
        show_errors: args.show_errors,
        run_id,
    });
    let sampler = tokio::spawn(sample(args.server_pid, measure_from, end));
    let mut tasks = Vec::with_capacity(clients.len());
    for client in clients {
        let seed = started_at_unix_s ^ ((client.index as u64 + 1) << 20);
        tasks.push(tokio::spawn(run_client(shared.clone(), client, seed)));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.context("a client task failed")?);
    }
    let finished = Instant::now();
    let sampled = sampler.await.context("the sampler failed")?;

    // When --max-requests stopped the run early, the window is shorter than asked.
    let window_end = finished.min(end);
    let seconds = window_end
        .saturating_duration_since(measure_from)
        .as_secs_f64()
        .max(1e-3);
    let mut merged: BTreeMap<Op, OpSamples> = BTreeMap::new();
    let mut cycles = Vec::new();
    let mut unmeasured_errors = 0;
    let mut requests_sent = 0;
    for result in results {
        unmeasured_errors += result.unmeasured_errors;
        requests_sent += result.sent;
        cycles.extend(result.cycles_micros);
        for (op, samples) in result.ops {
            let into = merged.entry(op).or_default();
            into.ok_micros.extend(samples.ok_micros);
            into.error_micros.extend(samples.error_micros);
            for (code, n) in samples.error_codes {
                *into.error_codes.entry(code).or_default() += n;
            }
        }
    }
    let mut operations = Operations(Vec::new());
    let (mut requests, mut errors, mut ok_total) = (0, 0, 0);
    for (op, samples) in merged {
        let failed = samples.error_micros.len() as u64;
        ok_total += samples.ok_micros.len() as u64;
        let report = op_report(samples.ok_micros, failed, samples.error_codes, seconds);
        requests += report.requests;
        errors += report.errors;
        operations.0.push((op.name(), report));
    }
    let register_per_s = operations
        .get("register")
        .map(|r| r.throughput_per_s)
        .unwrap_or_default();
    let cycles = (args.mode == Mode::Loop).then(|| op_report(cycles, 0, BTreeMap::new(), seconds));
    let cpu_seconds = |ticks: Option<(u64, u64)>| {
        ticks.map(|(a, b)| round(b.saturating_sub(a) as f64 / TICKS_PER_SECOND, 2))
    };
    let server = args.server_pid.map(|pid| {
        let cpu_s = cpu_seconds(sampled.server_ticks);
        ServerReport {
            pid,
            peak_rss_mib: (sampled.peak_rss_kib > 0).then(|| mib(sampled.peak_rss_kib)),
            rss_at_start_mib: sampled.rss_at_start_kib.map(mib),
            rss_at_end_mib: proc_status_kib(pid, "VmRSS").map(mib),
            vm_hwm_mib: proc_status_kib(pid, "VmHWM").map(mib),
            cpu_s,
            cpu_ms_per_request: cpu_s
                .filter(|_| ok_total > 0)
                .map(|s| round(s * 1000.0 / ok_total as f64, 3)),
        }
    });
    let report = Report {
        mode: args.mode,
        url: args.url.clone(),
        clients: args.clients,
        townships: args.townships,
        warmup_s: args.warmup.as_secs_f64(),
        duration_s: round(seconds, 3),
        requests,
        errors,
        throughput_per_s: round(ok_total as f64 / seconds, 2),
        register_per_s,
        cycles,
        operations,
        unmeasured_errors,
        requests_sent,
        loadgen_cpu_s: cpu_seconds(sampled.loadgen_ticks),
        server,
        started_at_unix_s,
    };

    for (name, op) in &report.operations.0 {
        println!("  {}", summary_line(name, op));
    }
    if let Some(c) = &report.cycles {
        println!(
            "  whole loop: {} cases closed, {:.2}/s, p50 {:.1} ms, p99 {:.1} ms",
            c.requests, c.throughput_per_s, c.p50_ms, c.p99_ms
        );
    }
    let memory = report
        .server
        .as_ref()
        .and_then(|s| {
            s.peak_rss_mib.map(|peak| {
                format!(
                    "; server peak RSS {peak:.1} MiB (VmHWM {:.1} MiB)",
                    s.vm_hwm_mib.unwrap_or(0.0)
                )
            })
        })
        .unwrap_or_default();
    let headline = match report.mode {
        Mode::Register => report
            .operations
            .get("register")
            .map(|r| summary_line("registerCase", r))
            .unwrap_or_default(),
        Mode::Loop => format!(
            "closed loop: {} requests, {} errors, {:.1} requests/s, {:.2} cases/s",
            report.requests,
            report.errors,
            report.throughput_per_s,
            report
                .cycles
                .as_ref()
                .map(|c| c.throughput_per_s)
                .unwrap_or_default()
        ),
    };
    println!(
        "{} clients, {:.1} s, {headline}{memory}",
        report.clients, report.duration_s
    );
    if let Some(path) = &args.out {
        let text = serde_json::to_string_pretty(&report).context("serialising the report")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if ok_total == 0 {
        bail!("no request succeeded in the measured window");
    }
    Ok(())
}

/// Awaits futures concurrently on this task (sign-ins are few; no need for the `futures` crate).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in futures.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *slot = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}
