//! `faults`: Fengqiao under load while the parts beneath it fail, one at a time (GB/T 22239-2019 8.1.5
//! availability; docs/SECURITY.md "Faults under load").
//!
//! It starts a PostgreSQL cluster and a Redis server of its own (so nothing else on the machine is
//! disturbed), the release server against them with the demo county, and clients that register cases
//! (`registerCase` with an idempotency key) and take cases through the closed loop (accept, dispatch, claim,
//! resolve, follow up, close). A client whose request fails sends the same request again, with the same
//! key, until it is answered: that is what a front end does, and what the idempotency key is for. Then,
//! phase by phase:
//!
//! 1. `baseline`: nothing fails;
//! 2. `redis_killed`: Redis is killed with SIGKILL and stays down for the phase (then comes back, empty);
//! 3. `redis_back`: Redis is up again;
//! 4. `postgres_restarted`: PostgreSQL is restarted in immediate mode (a crash and its recovery);
//! 5. `server_killed`: the server is killed with SIGKILL and started again.
//!
//! Afterwards it checks, in the database, that every case a client was told was registered exists exactly
//! once with its code, that its timeline holds every step a client was told was done (each once), that no
//! case exists twice; times how long the search outbox takes to drain; stops the server and runs
//! `fengqiao verify-index` and `fengqiao verify-rollups`. Figures per phase (requests, errors, p50 and p99
//! latency) go to `OUT/faults.json` and `OUT/faults.md`. It exits with status 1 when anything acknowledged
//! was lost or duplicated, or a verification fails.
//!
//! It needs PostgreSQL's server programs (`initdb`, `pg_ctl`; found under /usr/lib/postgresql) and
//! `redis-server`. Run as root, it runs PostgreSQL as the `postgres` account.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::Parser;
use fengqiao::graphql::{GlobalId, decode_id};
use fengqiao_tests::{
    ACCEPT, CLAIM, CLOSE, CallError, DISPATCH, FOLLOW_UP, Gql, MY_UNITS, REGISTER, RESOLVE, Rng,
    parse_duration, percentile, register_input, rfc3339_days_from_now, sign_in, text_at,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, Value as SqlValue};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(
    name = "faults",
    about = "Fengqiao under load while Redis, PostgreSQL and the server fail: nothing acknowledged is lost"
)]
struct Args {
    /// The `fengqiao` server binary (a release build).
    #[arg(long)]
    server: PathBuf,
    /// Folder for faults.json and faults.md.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Clients that only register cases.
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Clients that take each case they register through the whole closed loop.
    #[arg(long, default_value_t = 2)]
    loop_clients: usize,
    /// How long each phase lasts (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    phase: Duration,
    /// Folder of PostgreSQL's server programs (initdb, pg_ctl); the newest under /usr/lib/postgresql by
    /// default.
    #[arg(long)]
    pg_bin: Option<PathBuf>,
    /// The demo users' password.
    #[arg(long, default_value = "fengqiao-demo")]
    password: String,
    /// Keep the working folder (databases, logs) for a look afterwards.
    #[arg(long)]
    keep: bool,
}

const PHASES: [&str; 5] = [
    "baseline",
    "redis_killed",
    "redis_back",
    "postgres_restarted",
    "server_killed",
];
/// How long a client may go on retrying a request after the load stopped, before it gives it up.
const DRAIN: Duration = Duration::from_secs(60);
const APP_ROLE: &str = "fengqiao_app";
const DATABASE: &str = "fengqiao";

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn run(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

// ---- PostgreSQL, Redis and the server, as processes of this run -----------------------------------------

/// A PostgreSQL cluster of this run's own.
#[derive(Clone)]
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Run as root: PostgreSQL's programs run as `postgres`.
    as_postgres: bool,
}

impl Postgres {
    fn newest_bin() -> anyhow::Result<PathBuf> {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .context(
                "PostgreSQL's server programs are not under /usr/lib/postgresql (use --pg-bin)",
            )?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").exists().then_some((version, bin))
            })
            .collect();
        found.sort();
        found
            .pop()
            .map(|(_, bin)| bin)
            .context("no initdb under /usr/lib/postgresql/*/bin (use --pg-bin)")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn start(work: &Path, bin: PathBuf) -> anyhow::Result<Postgres> {
        let as_postgres = run(Command::new("id").arg("-u"))?.trim() == "0";
        let root = work.join("postgres");
        std::fs::create_dir_all(&root)?;
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root))?;
        }
        let pg = Postgres {
            bin,
            data: root.join("data"),
            port: free_port()?,
            as_postgres,
        };
        run(pg
            .command("initdb")
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "-D",
            ])
            .arg(&pg.data)
            .stdout(Stdio::null()))?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            pg.port,
            root.display()
        );
        run(pg
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&pg.data)
            .arg("-l")
            .arg(root.join("postgres.log"))
            .args(["-o", &options, "start"])
            .stdout(Stdio::null()))?;
        Ok(pg)
    }

    fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    /// `pg_ctl restart -m immediate`: every backend is cut off at once, and the next start recovers from
    /// the write-ahead log, as after a crash.
    fn restart_immediately(&self) -> anyhow::Result<()> {
        run(self
            .command("pg_ctl")
            .args(["-w", "-t", "120", "-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("restart")
            .stdout(Stdio::null()))
        .map(|_| ())
    }

    fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A Redis server of this run's own; it keeps nothing on disk, so it comes back empty.
struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    fn start(port: u16) -> anyhow::Result<Redis> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("redis-server did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Redis {
            child: Some(child),
            port,
        })
    }

    /// SIGKILL.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server under test, started again after it is killed, on the same port, data and keys.
struct Server {
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        // The server refuses FENGQIAO_* settings it does not know: it gets only this run's.
        for (name, _) in std::env::vars() {
            if name.starts_with("FENGQIAO_") {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = self
            .command()
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the server")?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_ready(&mut self, http: &reqwest::Client, limit: Duration) -> anyhow::Result<()> {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let deadline = Instant::now() + limit;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("the server exited ({status}); see {}", self.log.display());
            }
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the server was not ready within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and a wait for the graceful end.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs a `fengqiao` command on the same configuration; answers whether it succeeded, and its output.
    fn command_output(&self, args: &[&str]) -> anyhow::Result<(bool, String)> {
        let output = self.command().args(args).output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok((output.status.success(), text))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---- the clients --------------------------------------------------------------------------------------

/// A case a client was told was registered, with the steps it was told were done.
#[derive(Debug, Clone)]
struct Acknowledged {
    key: String,
    case_id: i64,
    code: String,
    /// The statuses the case was told it reached after registering (the loop's steps).
    steps: Vec<String>,
}

#[derive(Default, Clone)]
struct Ledger {
    acknowledged: Vec<Acknowledged>,
    /// Keys sent but never answered before the clients gave up.
    unanswered: Vec<String>,
    /// Retries of `registerCase` answered `replayed: true`: the first attempt had committed, its answer lost.
    replayed: u64,
    /// Loop steps whose retry was refused as already done, and which the case's status confirmed.
    confirmed_by_reading: u64,
    /// Per phase: (latency in µs, answered without error).
    samples: Vec<Vec<(u64, bool)>>,
    errors_seen: BTreeMap<String, u64>,
    /// The first message of each kind of error, for the log.
    first_messages: BTreeMap<String, String>,
}

struct Shared {
    gql: Gql,
    phase: AtomicUsize,
    /// No new case is started once set.
    stopping: AtomicBool,
    /// A pending request is given up once this is set (the drain time is over).
    abandon: AtomicBool,
    ledger: Mutex<Ledger>,
    marker: String,
    run_id: String,
}

impl Shared {
    /// One request, timed and counted in the current phase.
    async fn call(&self, token: &str, query: &str, variables: Value) -> Result<Value, CallError> {
        let phase = self.phase.load(Ordering::Relaxed);
        let started = Instant::now();
        let result = self.gql.call(Some(token), query, variables).await;
        let micros = started.elapsed().as_micros() as u64;
        if let Ok(mut ledger) = self.ledger.lock() {
            if let Some(samples) = ledger.samples.get_mut(phase) {
                samples.push((micros, result.is_ok()));
            }
            if let Err(e) = &result {
                let kind = format!("{}: {}", PHASES[phase], e.code);
                *ledger.errors_seen.entry(kind.clone()).or_default() += 1;
                ledger
                    .first_messages
                    .entry(kind)
                    .or_insert_with(|| e.message.chars().take(300).collect());
            }
        }
        result
    }

    /// Sends the request until it is answered (or the drain time is over): what a front end does with an
    /// idempotent request.
    async fn until_answered(
        &self,
        token: &str,
        query: &str,
        variables: &Value,
    ) -> Option<Result<Value, CallError>> {
        loop {
            match self.call(token, query, variables.clone()).await {
                Ok(data) => return Some(Ok(data)),
                // Refusals of the request itself are answers; the rest (transport, HTTP 5xx, unavailable
                // parts, internal errors) are retried.
                Err(e) if is_answer(&e) => return Some(Err(e)),
                Err(_) => {}
            }
            if self.abandon.load(Ordering::Relaxed) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Whether an error is the server's considered answer to the request (rather than a part failing).
fn is_answer(error: &CallError) -> bool {
    matches!(
        error.code.as_str(),
        "INVALID_TRANSITION" | "BAD_USER_INPUT" | "FORBIDDEN" | "NOT_FOUND" | "CONFLICT"
    )
}

struct LoopStaff {
    dispatcher: String,
    handler: String,
    lead_unit: String,
}

struct Client {
    index: usize,
    clerk: String,
    staff: Option<LoopStaff>,
}

async fn sign_in_client(
    gql: &Gql,
    index: usize,
    looping: bool,
    password: &str,
) -> anyhow::Result<Client> {
    let township = index % 18 + 1;
    let login = |role: &str| {
        let username = format!("t{township:02}.{role}");
        async move {
            sign_in(gql, &username, password)
                .await
                .map(|s| s.token)
                .map_err(|e| anyhow::anyhow!("signing in {username}: {}: {}", e.code, e.message))
        }
    };
    let clerk = login("clerk").await?;
    let staff = if looping {
        let handler = login("sfs").await?;
        let units = gql
            .call(Some(&handler), MY_UNITS, json!({}))
            .await
            .map_err(|e| anyhow::anyhow!("reading the 司法所 handler's units: {}", e.message))?;
        let lead_unit = units
            .pointer("/me/units/0/id")
            .and_then(Value::as_str)
            .context("the 司法所 handler belongs to no unit")?
            .to_owned();
        Some(LoopStaff {
            dispatcher: login("dispatcher").await?,
            handler,
            lead_unit,
        })
    } else {
        None
    };
    Ok(Client {
        index,
        clerk,
        staff,
    })
}

async fn run_client(shared: Arc<Shared>, client: Client) {
    let mut rng = Rng::new(client.index as u64 + 1);
    let mut sequence = 0u64;
    while !shared.stopping.load(Ordering::Relaxed) {
        sequence += 1;
        let key = format!("faults-{}-{}-{sequence}", shared.run_id, client.index);
        let mut input = register_input(&mut rng, key.clone());
        input["place"] = json!(shared.marker);
        let variables = json!({ "input": input });
        let Some(answer) = shared
            .until_answered(&client.clerk, REGISTER, &variables)
            .await
        else {
            if let Ok(mut ledger) = shared.ledger.lock() {
                ledger.unanswered.push(key);
            }
            break;
        };
        let Ok(data) = answer else {
            eprintln!("client {}: registerCase refused: {answer:?}", client.index);
            break;
        };
        let (Ok(gid), Ok(code)) = (
            text_at(&data, "/registerCase/case/id"),
            text_at(&data, "/registerCase/case/code"),
        ) else {
            eprintln!("client {}: an answer without a case: {data}", client.index);
            break;
        };
        let Ok(case_id) = decode_id("id", GlobalId::Case, &gid.into()) else {
            eprintln!("client {}: an unreadable case id {gid}", client.index);
            break;
        };
        let replayed = data.pointer("/registerCase/replayed") == Some(&json!(true));
        let at = {
            let Ok(mut ledger) = shared.ledger.lock() else {
                break;
            };
            ledger.replayed += u64::from(replayed);
            ledger.acknowledged.push(Acknowledged {
                key,
                case_id,
                code: code.to_owned(),
                steps: Vec::new(),
            });
            ledger.acknowledged.len() - 1
        };
        if let Some(staff) = &client.staff {
            take_through_the_loop(&shared, &client, staff, gid, at).await;
        }
    }
}

const STATUS: &str = "query($id: ID!) { case(id: $id) { status } }";

async fn take_through_the_loop(
    shared: &Shared,
    client: &Client,
    staff: &LoopStaff,
    gid: &str,
    at: usize,
) {
    let id = json!({ "id": gid });
    let dispatch =
        json!({ "id": gid, "lead": staff.lead_unit, "deadline": rfc3339_days_from_now(30) });
    let steps: [(&str, &Value, &str, &str); 6] = [
        (&client.clerk, &id, ACCEPT, "ACCEPTED"),
        (&staff.dispatcher, &dispatch, DISPATCH, "DISPATCHED"),
        (&staff.handler, &id, CLAIM, "IN_PROGRESS"),
        (&staff.handler, &id, RESOLVE, "RESOLVED"),
        (&client.clerk, &id, FOLLOW_UP, "FOLLOWED_UP"),
        (&staff.dispatcher, &id, CLOSE, "CLOSED"),
    ];
    for (token, variables, query, status) in steps {
        let done = match shared.until_answered(token, query, variables).await {
            Some(Ok(_)) => true,
            // The step was refused as not allowed from the case's status: an earlier attempt whose answer
            // was lost may have done it. The case's status says.
            Some(Err(e)) if e.code == "INVALID_TRANSITION" => {
                let read = shared.until_answered(token, STATUS, &id).await;
                let confirmed = matches!(
                    read,
                    Some(Ok(ref data)) if data.pointer("/case/status") == Some(&json!(status))
                );
                if confirmed && let Ok(mut ledger) = shared.ledger.lock() {
                    ledger.confirmed_by_reading += 1;
                }
                confirmed
            }
            _ => false,
        };
        if !done {
            return;
        }
        if let Ok(mut ledger) = shared.ledger.lock()
            && let Some(case) = ledger.acknowledged.get_mut(at)
        {
            case.steps.push(status.to_ascii_lowercase());
        }
        if shared.stopping.load(Ordering::Relaxed) && shared.abandon.load(Ordering::Relaxed) {
            return;
        }
    }
}

// ---- the checks ---------------------------------------------------------------------------------------

#[derive(Serialize, Default)]
struct PhaseReport {
    name: &'static str,
    requests: usize,
    errors: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Serialize, Default)]
struct Checks {
    acknowledged: usize,
    found: usize,
    lost: usize,
    duplicated: usize,
    wrong_code: usize,
    /// Acknowledged steps missing from a case's timeline.
    steps_missing: usize,
    /// Timeline entries of one status more than once (a step recorded twice).
    steps_twice: usize,
    /// Committed cases no client was told about (their answer was lost and never retried).
    committed_unanswered: usize,
    unanswered_keys: usize,
    replayed: u64,
    confirmed_by_reading: u64,
    search_catch_up_seconds: Option<f64>,
    verify_index: bool,
    verify_rollups: bool,
}

#[derive(Serialize)]
struct Report {
    run_id: String,
    clients: usize,
    loop_clients: usize,
    phase_seconds: f64,
    phases: Vec<PhaseReport>,
    /// p99 with Redis killed ÷ p99 of the baseline (the aim: at most 2).
    redis_down_p99_ratio: f64,
    postgres_restart_seconds: f64,
    server_restart_seconds: f64,
    checks: Checks,
    errors_seen: BTreeMap<String, u64>,
    meilisearch: &'static str,
}

fn phase_report(name: &'static str, samples: &[(u64, bool)]) -> PhaseReport {
    let mut ok: Vec<u64> = samples.iter().filter(|s| s.1).map(|s| s.0).collect();
    ok.sort_unstable();
    let ms = |micros: u64| (micros as f64 / 100.0).round() / 10.0;
    PhaseReport {
        name,
        requests: samples.len(),
        errors: samples.iter().filter(|s| !s.1).count(),
        p50_ms: ms(percentile(&ok, 50.0)),
        p99_ms: ms(percentile(&ok, 99.0)),
        max_ms: ms(ok.last().copied().unwrap_or_default()),
    }
}

async fn rows(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<SqlValue>,
) -> anyhow::Result<Vec<sea_orm::QueryResult>> {
    Ok(db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await?)
}

/// Compares what the clients were told with what the database holds.
async fn check_database(
    db: &DatabaseConnection,
    shared: &Shared,
    ledger: &Ledger,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let stored: HashMap<i64, String> = rows(
        db,
        "SELECT id, code FROM cases WHERE place = $1",
        vec![shared.marker.clone().into()],
    )
    .await?
    .into_iter()
    .map(|r| {
        Ok((
            r.try_get::<i64>("", "id")?,
            r.try_get::<String>("", "code")?,
        ))
    })
    .collect::<Result<_, sea_orm::DbErr>>()?;
    let keyed: i64 = rows(
        db,
        "SELECT count(DISTINCT k.case_id) AS n FROM idempotency_keys k JOIN cases c ON c.id = k.case_id \
         WHERE c.place = $1 AND k.key LIKE $2",
        vec![
            shared.marker.clone().into(),
            format!("faults-{}-%", shared.run_id).into(),
        ],
    )
    .await?
    .first()
    .map(|r| r.try_get::<i64>("", "n"))
    .transpose()?
    .unwrap_or_default();
    // Every stored case of the run came from one key; a case beyond those is a duplicate.
    checks.duplicated = stored.len().saturating_sub(keyed as usize);
    let mut timeline: HashMap<i64, HashMap<String, usize>> = HashMap::new();
    for row in rows(
        db,
        "SELECT e.case_id, e.to_status FROM case_events e JOIN cases c ON c.id = e.case_id \
         WHERE c.place = $1 AND e.to_status IS NOT NULL",
        vec![shared.marker.clone().into()],
    )
    .await?
    {
        let case: i64 = row.try_get("", "case_id")?;
        let status: String = row.try_get("", "to_status")?;
        *timeline.entry(case).or_default().entry(status).or_default() += 1;
    }
    let mut seen = HashMap::new();
    for case in &ledger.acknowledged {
        checks.acknowledged += 1;
        *seen.entry(case.case_id).or_insert(0usize) += 1;
        match stored.get(&case.case_id) {
            None => {
                checks.lost += 1;
                eprintln!(
                    "lost: {} (key {}, id {})",
                    case.code, case.key, case.case_id
                );
            }
            Some(code) if *code != case.code => checks.wrong_code += 1,
            Some(_) => checks.found += 1,
        }
        let events = timeline.get(&case.case_id);
        for status in std::iter::once("registered").chain(case.steps.iter().map(String::as_str)) {
            match events.and_then(|e| e.get(status)).copied().unwrap_or(0) {
                0 => checks.steps_missing += 1,
                1 => {}
                _ => checks.steps_twice += 1,
            }
        }
    }
    // Two keys acknowledged with one case would be a replay answered to the wrong request.
    checks.duplicated += seen.values().filter(|n| **n > 1).count();
    checks.committed_unanswered = stored.len().saturating_sub(seen.len());
    checks.unanswered_keys = ledger.unanswered.len();
    Ok(())
}

async fn outbox_open(db: &DatabaseConnection) -> anyhow::Result<i64> {
    Ok(rows(
        db,
        "SELECT count(*) AS n FROM search_outbox WHERE done_at IS NULL",
        Vec::new(),
    )
    .await?
    .first()
    .map(|r| r.try_get::<i64>("", "n"))
    .transpose()?
    .unwrap_or_default())
}

// ---- main ---------------------------------------------------------------------------------------------

fn markdown(report: &Report) -> String {
    let c = &report.checks;
    let mut text = format!(
        "# Faults under load\n\n`faults` run {}: {} registering clients and {} closed-loop clients, {} s per phase, \
         against its own PostgreSQL cluster and Redis server (tests/src/bin/faults.rs).\n\n\
         | phase | requests | errors | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n",
        report.run_id, report.clients, report.loop_clients, report.phase_seconds
    );
    for p in &report.phases {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            p.name, p.requests, p.errors, p.p50_ms, p.p99_ms, p.max_ms
        ));
    }
    text.push_str(&format!(
        "\np99 with Redis killed ÷ baseline p99: **{:.2}** (aim ≤ 2). PostgreSQL's immediate restart took {:.1} s; \
         the killed server was serving again after {:.1} s.\n\n\
         | acknowledged | found | lost | duplicated | wrong code | steps missing | steps twice | committed, answer lost | replayed on retry | confirmed by reading |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n\n\
         Search outbox drained {} after the load stopped; `verify-index`: {}; `verify-rollups`: {}. Meilisearch: {}.\n",
        report.redis_down_p99_ratio,
        report.postgres_restart_seconds,
        report.server_restart_seconds,
        c.acknowledged,
        c.found,
        c.lost,
        c.duplicated,
        c.wrong_code,
        c.steps_missing,
        c.steps_twice,
        c.committed_unanswered,
        c.replayed,
        c.confirmed_by_reading,
        c.search_catch_up_seconds
            .map_or("not within 120 s".to_owned(), |s| format!("{s:.1} s")),
        if c.verify_index { "no drift" } else { "DRIFT" },
        if c.verify_rollups { "no drift" } else { "DRIFT" },
        report.meilisearch,
    ));
    if !report.errors_seen.is_empty() {
        text.push_str("\nErrors answered (then retried), by phase and code:\n\n");
        for (what, n) in &report.errors_seen {
            text.push_str(&format!("- {what}: {n}\n"));
        }
    }
    text
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("fengqiao-faults-")
        .tempdir()?;
    // PostgreSQL's own account must reach its folder inside.
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let run_id = format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    );
    let pg_bin = match args.pg_bin.clone() {
        Some(bin) => bin,
        None => Postgres::newest_bin()?,
    };
    let pg = Postgres::start(work.path(), pg_bin)?;
    eprintln!("PostgreSQL of this run on port {}", pg.port);
    let admin = Database::connect(pg.url("postgres", "postgres")).await?;
    for sql in [
        format!("CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_ROLE}'"),
        format!("CREATE DATABASE {DATABASE}"),
    ] {
        admin.execute_unprepared(&sql).await?;
    }
    admin.close().await?;
    let mut redis = Redis::start(free_port()?)?;
    let server_port = free_port()?;
    let mut server = Server {
        binary: args.server.clone(),
        env: vec![
            ("FENGQIAO_LISTEN".into(), format!("127.0.0.1:{server_port}")),
            (
                "FENGQIAO_DATABASE_URL".into(),
                format!(
                    "postgres://{APP_ROLE}:{APP_ROLE}@127.0.0.1:{}/{DATABASE}",
                    pg.port
                ),
            ),
            (
                "FENGQIAO_DATABASE_OWNER_URL".into(),
                pg.url("postgres", DATABASE),
            ),
            (
                "FENGQIAO_DATA_DIR".into(),
                work.path().join("data").display().to_string(),
            ),
            ("FENGQIAO_SEED_DEMO_IF_EMPTY".into(), "true".into()),
            (
                "FENGQIAO_REDIS_URL".into(),
                format!("redis://127.0.0.1:{}", redis.port),
            ),
            // The clients register faster than people do; the limit is still taken from each request.
            ("FENGQIAO_GRAPHQL__MUTATION_BURST".into(), "1000000".into()),
            (
                "FENGQIAO_GRAPHQL__MUTATIONS_PER_MINUTE".into(),
                "1000000".into(),
            ),
        ],
        log: work.path().join("server.log"),
        port: server_port,
        child: None,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    server.start()?;
    server
        .wait_ready(&http, Duration::from_secs(900))
        .await
        .context("the first start (migrating and seeding the demo county)")?;
    eprintln!(
        "server ready after {:.0} s (migrated, demo county seeded)",
        started.elapsed().as_secs_f64()
    );

    let gql = Gql {
        http: http.clone(),
        url: reqwest::Url::parse(&format!("http://127.0.0.1:{server_port}/graphql"))?,
    };
    let mut clients = Vec::new();
    for index in 0..args.clients + args.loop_clients {
        clients.push(sign_in_client(&gql, index, index >= args.clients, &args.password).await?);
    }
    let shared = Arc::new(Shared {
        gql,
        phase: AtomicUsize::new(0),
        stopping: AtomicBool::new(false),
        abandon: AtomicBool::new(false),
        ledger: Mutex::new(Ledger {
            samples: vec![Vec::new(); PHASES.len()],
            ..Ledger::default()
        }),
        marker: format!("故障演练{run_id}"),
        run_id: run_id.clone(),
    });
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(run_client(shared.clone(), client)))
        .collect();

    let mut postgres_restart = Duration::ZERO;
    let mut server_restart = Duration::ZERO;
    for (phase, name) in PHASES.iter().enumerate() {
        shared.phase.store(phase, Ordering::Relaxed);
        eprintln!("phase {name}");
        match *name {
            "redis_killed" => redis.kill(),
            "redis_back" => redis = Redis::start(redis.port)?,
            "postgres_restarted" => {
                let began = Instant::now();
                let cluster = pg.clone();
                tokio::task::spawn_blocking(move || cluster.restart_immediately()).await??;
                postgres_restart = began.elapsed();
            }
            "server_killed" => {
                server.kill();
                let began = Instant::now();
                server.start()?;
                server.wait_ready(&http, Duration::from_secs(120)).await?;
                server_restart = began.elapsed();
            }
            _ => {}
        }
        tokio::time::sleep(args.phase).await;
    }
    shared.stopping.store(true, Ordering::Relaxed);
    let load_ended = Instant::now();
    let drain = {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DRAIN).await;
            shared.abandon.store(true, Ordering::Relaxed);
        })
    };
    for task in tasks {
        task.await?;
    }
    drain.abort();

    let db = Database::connect(pg.url("postgres", DATABASE)).await?;
    let mut checks = Checks::default();
    {
        let ledger = shared
            .ledger
            .lock()
            .map_err(|_| anyhow::anyhow!("ledger lock poisoned"))?
            .clone();
        check_database(&db, &shared, &ledger, &mut checks).await?;
        checks.replayed = ledger.replayed;
        checks.confirmed_by_reading = ledger.confirmed_by_reading;
    }
    while load_ended.elapsed() < Duration::from_secs(120) {
        if outbox_open(&db).await? == 0 {
            checks.search_catch_up_seconds = Some(load_ended.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    db.close().await?;
    server.stop();
    let (index_ok, index_out) = server.command_output(&["verify-index"])?;
    let (rollups_ok, rollups_out) = server.command_output(&["verify-rollups"])?;
    checks.verify_index = index_ok;
    checks.verify_rollups = rollups_ok;
    if !index_ok {
        eprintln!("verify-index:\n{index_out}");
    }
    if !rollups_ok {
        eprintln!("verify-rollups:\n{rollups_out}");
    }

    let ledger = shared
        .ledger
        .lock()
        .map_err(|_| anyhow::anyhow!("ledger lock poisoned"))?;
    for (kind, message) in &ledger.first_messages {
        eprintln!("first {kind}: {message}");
    }
    let phases: Vec<PhaseReport> = PHASES
        .iter()
        .zip(&ledger.samples)
        .map(|(name, samples)| phase_report(name, samples))
        .collect();
    let ratio = phases[1].p99_ms / phases[0].p99_ms.max(0.001);
    let report = Report {
        run_id,
        clients: args.clients,
        loop_clients: args.loop_clients,
        phase_seconds: args.phase.as_secs_f64(),
        phases,
        redis_down_p99_ratio: (ratio * 100.0).round() / 100.0,
        postgres_restart_seconds: (postgres_restart.as_secs_f64() * 10.0).round() / 10.0,
        server_restart_seconds: (server_restart.as_secs_f64() * 10.0).round() / 10.0,
        checks,
        errors_seen: ledger.errors_seen.clone(),
        meilisearch: "not configured (the embedded index was used)",
    };
    drop(ledger);
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("faults.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    let text = markdown(&report);
    std::fs::write(args.out.join("faults.md"), &text)?;
    std::io::stdout().write_all(text.as_bytes())?;

    drop(server);
    drop(redis);
    pg.stop();
    if args.keep {
        eprintln!("kept {}", work.keep().display());
    }
    let c = &report.checks;
    if c.lost + c.duplicated + c.wrong_code + c.steps_missing + c.steps_twice > 0
        || !c.verify_index
        || !c.verify_rollups
        || c.acknowledged == 0
    {
        bail!("faults: something acknowledged was lost or duplicated, or a verification failed");
    }
    Ok(())
}
