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
//! 5. with `--meili-bin`, `meilisearch_stopped`: the run's own Meilisearch server (which the server indexes
//!    into) is killed with SIGKILL and stays down for the phase; and `meilisearch_back`: it is started again
//!    on its data, and the time until every outbox row written before its start is indexed is taken;
//! 6. `server_killed`: the server is killed with SIGKILL and started again.
//!
//! A probe searches for the run's cases four times a second throughout and counts how it was answered.
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
    /// Cases the demo county is seeded with before the load (its accounts are what the clients sign in
    /// as). Fewer make a quicker start but skew the phases: statements planned on small tables slow down as
    /// the load grows them, until PostgreSQL's restart renews the connections (seen with 300).
    #[arg(long, default_value_t = 3000)]
    demo_cases: usize,
    /// The demo users' password.
    #[arg(long, default_value = "fengqiao-demo")]
    password: String,
    /// A Meilisearch server binary: the run then starts a Meilisearch of its own, the server indexes into
    /// it, and two more phases stop it (SIGKILL) and start it again. Without it the embedded index is used.
    #[arg(long, env = "MEILI_BIN")]
    meili_bin: Option<PathBuf>,
    /// Keep the working folder (databases, logs) for a look afterwards.
    #[arg(long)]
    keep: bool,
}

/// The phases of a run, in order; Meilisearch's two only when the run has a Meilisearch server.
fn phases(with_meilisearch: bool) -> Vec<&'static str> {
    let mut phases = vec![
        "baseline",
        "redis_killed",
        "redis_back",
        "postgres_restarted",
    ];
    if with_meilisearch {
        phases.extend(["meilisearch_stopped", "meilisearch_back"]);
    }
    phases.push("server_killed");
    phases
}
/// How long a client may go on retrying a request after the load stopped, before it gives it up.
const DRAIN: Duration = Duration::from_secs(60);
const APP_ROLE: &str = "fengqiao_app";
const DATABASE: &str = "fengqiao";
const MEILI_INDEX: &str = "faults_cases";
/// How long Meilisearch's backlog may take to drain once it is back, before the run counts it a failure.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(300);

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

/// A Meilisearch server of this run's own (`--meili-bin`), its data kept across a kill and a start.
struct Meilisearch {
    binary: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    master_key: String,
    child: Option<Child>,
}

impl Meilisearch {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it answers `/health`.
    async fn start(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut child = Command::new(&self.binary)
            .arg("--db-path")
            .arg(&self.data)
            .args(["--http-addr", &format!("127.0.0.1:{}", self.port)])
            .args(["--master-key", &self.master_key])
            .args(["--no-analytics", "--env", "production"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("Meilisearch exited ({status}); see {}", self.log.display());
            }
            if let Ok(response) = http.get(format!("{}/health", self.url())).send().await
                && response.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("Meilisearch did not answer /health within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.child = Some(child);
        Ok(())
    }

    /// A key for the server, as a deployment gives it one: made with the keys API, never the master key.
    async fn create_key(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let answer: Value = http
            .post(format!("{}/keys", self.url()))
            .bearer_auth(&self.master_key)
            .json(&json!({
                "description": "fengqiao faults harness",
                "actions": ["*"],
                "indexes": ["*"],
                "expiresAt": null,
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        answer
            .get("key")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("Meilisearch answered a new key without its value")
    }

    /// The documents in an index (0 while it does not exist yet).
    async fn documents(&self, http: &reqwest::Client, index: &str) -> anyhow::Result<u64> {
        let response = http
            .get(format!("{}/indexes/{index}/stats", self.url()))
            .bearer_auth(&self.master_key)
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(0);
        }
        let stats: Value = response.error_for_status()?.json().await?;
        Ok(stats
            .get("numberOfDocuments")
            .and_then(Value::as_u64)
            .unwrap_or_default())
    }

    /// An error when the server has exited on its own.
    fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!("Meilisearch exited ({status}); see {}", self.log.display());
        }
        Ok(())
    }

    /// SIGKILL.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Meilisearch {
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
    /// Per phase: how the search probe's requests were answered.
    searches: Vec<SearchCounts>,
    /// The first message of each kind of error, for the log.
    first_messages: BTreeMap<String, String>,
}

struct Shared {
    gql: Gql,
    phases: Vec<&'static str>,
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
    /// One request, timed and counted in the phase it was answered in (a request under way when a fault
    /// begins is the fault's).
    async fn call(&self, token: &str, query: &str, variables: Value) -> Result<Value, CallError> {
        let started = Instant::now();
        let result = self.gql.call(Some(token), query, variables).await;
        let micros = started.elapsed().as_micros() as u64;
        let phase = self.phase.load(Ordering::Relaxed);
        if let Ok(mut ledger) = self.ledger.lock() {
            if let Some(samples) = ledger.samples.get_mut(phase) {
                samples.push((micros, result.is_ok()));
            }
            if let Err(e) = &result {
                let kind = format!("{}: {}", self.phases[phase], e.code);
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
    searches: SearchCounts,
}

/// The search probe's requests in one phase, by how they were answered.
#[derive(Serialize, Default, Clone, Copy)]
struct SearchCounts {
    answered: u64,
    /// `SEARCH_UNAVAILABLE`: the index could not answer (what a front end shows as "search is down").
    unavailable: u64,
    /// Anything else (a transport error while the server or PostgreSQL restarts, say).
    failed: u64,
}

/// Meilisearch stopped and started under load.
#[derive(Default)]
struct MeiliOutage {
    /// Outbox rows not yet in the index when Meilisearch was started again.
    backlog: i64,
    restart_seconds: f64,
    catch_up_seconds: Option<f64>,
}

#[derive(Serialize)]
struct MeiliReport {
    /// From the server's first readiness until the new index held every case.
    index_fill_seconds: f64,
    backlog_at_restart: i64,
    restart_seconds: f64,
    /// From Meilisearch's start until every outbox row written before it was in the index.
    catch_up_seconds: Option<f64>,
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
    /// `None`: the embedded index was used.
    meilisearch: Option<MeiliReport>,
}

fn phase_report(
    name: &'static str,
    samples: &[(u64, bool)],
    searches: &SearchCounts,
) -> PhaseReport {
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
        searches: *searches,
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

/// The one number (`n`) a query answers.
async fn count(db: &DatabaseConnection, sql: &str, values: Vec<SqlValue>) -> anyhow::Result<i64> {
    Ok(rows(db, sql, values)
        .await?
        .first()
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or_default())
}

async fn outbox_open(db: &DatabaseConnection) -> anyhow::Result<i64> {
    count(
        db,
        "SELECT count(*) AS n FROM search_outbox WHERE done_at IS NULL",
        Vec::new(),
    )
    .await
}

/// Seconds from `began` until no outbox row up to `last` is open, or `None` past [`CATCH_UP_LIMIT`].
async fn wait_for_outbox(
    db: DatabaseConnection,
    last: i64,
    began: Instant,
) -> anyhow::Result<Option<f64>> {
    while began.elapsed() < CATCH_UP_LIMIT {
        // A query failing while PostgreSQL or the server restarts is asked again.
        if let Ok(0) = count(
            &db,
            "SELECT count(*) AS n FROM search_outbox WHERE done_at IS NULL AND id <= $1",
            vec![last.into()],
        )
        .await
        {
            return Ok(Some(began.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(None)
}

const SEARCH: &str = "query($text: String!) { searchCases(text: $text, first: 5) { total } }";

/// Searches for the run's cases four times a second, counting per phase how the search was answered.
async fn probe_search(shared: Arc<Shared>, token: String) {
    while !shared.stopping.load(Ordering::Relaxed) {
        let result = shared
            .gql
            .call(Some(&token), SEARCH, json!({ "text": shared.marker }))
            .await;
        let phase = shared.phase.load(Ordering::Relaxed);
        if let Ok(mut ledger) = shared.ledger.lock()
            && let Some(counts) = ledger.searches.get_mut(phase)
        {
            match result {
                Ok(_) => counts.answered += 1,
                Err(e) if e.code == "SEARCH_UNAVAILABLE" => counts.unavailable += 1,
                Err(_) => counts.failed += 1,
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

// ---- main ---------------------------------------------------------------------------------------------

fn markdown(report: &Report) -> String {
    let c = &report.checks;
    let mut text = format!(
        "# Faults under load\n\n`faults` run {}: {} registering clients and {} closed-loop clients, {} s per phase, \
         against its own PostgreSQL cluster and Redis server{} (tests/src/bin/faults.rs). Requests and \
         latencies are the clients' writes; searches are a probe's, four a second (answered / \
         `SEARCH_UNAVAILABLE` / failed).\n\n\
         | phase | requests | errors | p50 ms | p99 ms | max ms | searches |\n|---|---:|---:|---:|---:|---:|---:|\n",
        report.run_id,
        report.clients,
        report.loop_clients,
        report.phase_seconds,
        if report.meilisearch.is_some() {
            " and Meilisearch server"
        } else {
            ""
        }
    );
    for p in &report.phases {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} / {} / {} |\n",
            p.name,
            p.requests,
            p.errors,
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            p.searches.answered,
            p.searches.unavailable,
            p.searches.failed
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
        match &report.meilisearch {
            None => "not configured (the embedded index was used)".to_owned(),
            Some(m) => format!(
                "the new index was filled in {:.1} s; killed under load, it answered again {:.1} s after \
                 its start, with {} outbox rows waiting, and every one of them was in the index {}",
                m.index_fill_seconds,
                m.restart_seconds,
                m.backlog_at_restart,
                m.catch_up_seconds.map_or(
                    format!("NOT within {} s", CATCH_UP_LIMIT.as_secs()),
                    |s| format!("{s:.1} s after the start")
                )
            ),
        },
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
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut meili = match &args.meili_bin {
        Some(binary) => {
            let mut meili = Meilisearch {
                binary: binary.clone(),
                data: work.path().join("meilisearch"),
                log: work.path().join("meilisearch.log"),
                port: free_port()?,
                master_key: format!("faults-master-key-{run_id}-{:x}", std::process::id()),
                child: None,
            };
            meili.start(&http).await?;
            eprintln!("Meilisearch of this run on port {}", meili.port);
            Some(meili)
        }
        None => None,
    };
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
            ("FENGQIAO_DEMO_CASES".into(), args.demo_cases.to_string()),
            (
                "FENGQIAO_REDIS_URL".into(),
                format!("redis://127.0.0.1:{}", redis.port),
            ),
            // The clients register faster than people do; the limit is still taken from each request.
            ("FENGQIAO_GRAPHQL__MUTATION_BURST".into(), "1000000".into()),
            ("FENGQIAO_SEARCH__MEILI_INDEX".into(), MEILI_INDEX.into()),
            (
                "FENGQIAO_GRAPHQL__MUTATIONS_PER_MINUTE".into(),
                "1000000".into(),
            ),
        ],
        log: work.path().join("server.log"),
        port: server_port,
        child: None,
    };
    if let Some(meili) = &meili {
        server
            .env
            .push(("FENGQIAO_SEARCH__MEILI_URL".into(), meili.url()));
        server.env.push((
            "FENGQIAO_SEARCH__MEILI_API_KEY".into(),
            meili.create_key(&http).await?,
        ));
    }
    server.start()?;
    server
        .wait_ready(&http, Duration::from_secs(900))
        .await
        .context("the first start (migrating and seeding the demo county)")?;
    eprintln!(
        "server ready after {:.0} s (migrated, demo county seeded)",
        started.elapsed().as_secs_f64()
    );
    let db = Database::connect(pg.url("postgres", DATABASE)).await?;
    // A new Meilisearch index is filled from the database in the background; the load starts on a full one.
    let mut index_fill = None;
    if let Some(meili) = meili.as_mut() {
        let began = Instant::now();
        let cases = count(&db, "SELECT count(*) AS n FROM cases", Vec::new()).await? as u64;
        while meili.documents(&http, MEILI_INDEX).await? < cases {
            meili.check_running()?;
            if began.elapsed() > Duration::from_secs(900) {
                bail!(
                    "Meilisearch's index was not filled with {cases} cases within 15 minutes; see {}",
                    server.log.display()
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        index_fill = Some(began.elapsed());
        eprintln!(
            "Meilisearch index filled with {cases} cases after {:.0} s",
            began.elapsed().as_secs_f64()
        );
    }

    let gql = Gql {
        http: http.clone(),
        url: reqwest::Url::parse(&format!("http://127.0.0.1:{server_port}/graphql"))?,
    };
    let mut clients = Vec::new();
    for index in 0..args.clients + args.loop_clients {
        clients.push(sign_in_client(&gql, index, index >= args.clients, &args.password).await?);
    }
    let searcher = clients
        .first()
        .map(|c| c.clerk.clone())
        .context("no client")?;
    let phases = phases(meili.is_some());
    let shared = Arc::new(Shared {
        gql,
        phase: AtomicUsize::new(0),
        stopping: AtomicBool::new(false),
        abandon: AtomicBool::new(false),
        ledger: Mutex::new(Ledger {
            samples: vec![Vec::new(); phases.len()],
            searches: vec![SearchCounts::default(); phases.len()],
            ..Ledger::default()
        }),
        marker: format!("故障演练{run_id}"),
        run_id: run_id.clone(),
        phases,
    });
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(run_client(shared.clone(), client)))
        .collect();
    let search_probe = tokio::spawn(probe_search(shared.clone(), searcher));

    let mut postgres_restart = Duration::ZERO;
    let mut server_restart = Duration::ZERO;
    let mut meili_outage = MeiliOutage::default();
    let mut catch_up = None;
    for (phase, name) in shared.phases.iter().enumerate() {
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
            "meilisearch_stopped" => {
                if let Some(meili) = meili.as_mut() {
                    meili.kill();
                }
            }
            "meilisearch_back" => {
                if let Some(meili) = meili.as_mut() {
                    // What was written while Meilisearch was gone: the open outbox rows up to here.
                    let last = count(
                        &db,
                        "SELECT coalesce(max(id), 0) AS n FROM search_outbox",
                        Vec::new(),
                    )
                    .await?;
                    meili_outage.backlog = outbox_open(&db).await?;
                    let began = Instant::now();
                    meili.start(&http).await?;
                    meili_outage.restart_seconds = began.elapsed().as_secs_f64();
                    catch_up = Some(tokio::spawn(wait_for_outbox(db.clone(), last, began)));
                }
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
    search_probe.await?;
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

    if let Some(task) = catch_up {
        meili_outage.catch_up_seconds = task.await??;
    }
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
    let phases: Vec<PhaseReport> = shared
        .phases
        .iter()
        .zip(&ledger.samples)
        .zip(&ledger.searches)
        .map(|((name, samples), searches)| phase_report(name, samples, searches))
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
        meilisearch: meili.as_ref().map(|_| MeiliReport {
            index_fill_seconds: index_fill.map_or(0.0, |d| (d.as_secs_f64() * 10.0).round() / 10.0),
            backlog_at_restart: meili_outage.backlog,
            restart_seconds: (meili_outage.restart_seconds * 10.0).round() / 10.0,
            catch_up_seconds: meili_outage
                .catch_up_seconds
                .map(|s| (s * 10.0).round() / 10.0),
        }),
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
    drop(meili);
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
        || report
            .meilisearch
            .as_ref()
            .is_some_and(|m| m.catch_up_seconds.is_none())
    {
        bail!("faults: something acknowledged was lost or duplicated, or a verification failed");
    }
    Ok(())
}
