//! `trellis-bench ws-stress`: the seed's `websocket_stress_test` against real users.
//!
//! Setup (every scenario): one owner registers (and so owns a workspace); `--users` members
//! (default ⌈c / 20⌉, the server's per-user socket cap being 20) register, are invited into the
//! owner's workspace (`POST /invitations`, 50 addresses a request), accept
//! (`POST /invitations/{id}/accept`) and sign in (`POST /auth/login`). Socket `i` uses member
//! `i mod users`'s token. Sockets are opened at most `--max-concurrent` at a time, and every
//! socket reads whatever the server sends it for its whole life (greetings, presence), so no
//! server queue fills because the bench is not reading.
//!
//! Scenarios (`-t`):
//! - `storm`: open `-c` sockets as fast as possible; successes and failures (by cause), the time
//!   until all were open, connect latency percentiles, then the server's RSS after `--idle-secs`
//!   with all of them open and idle.
//! - `throughput`: every socket sends `ping` commands, each after the previous reply, for `-d`
//!   seconds; commands/s and round-trip percentiles (replies matched by `request_id`).
//! - `sustained`: every socket sends one command every `--interval-ms` (alternately
//!   `query_labels` and `ping`, starts spread over one interval) for `-d` seconds; the rate,
//!   round-trip percentiles (all, and per command) and errors.
//! - `broadcast`: every socket subscribes to `workspace:<id>`; then `--changes` labels are
//!   created through `POST /labels`, one at a time, each after the previous one reached every
//!   socket (or 10 s passed). Per change: the time from the REST response (and from the
//!   request) until the last socket had the `event` (matched by `data.entity_id`); median and
//!   max, events missing, and duplicates (one socket getting a `sync_id` twice).
//! - `resume`: every socket subscribes to `workspace:<id>`, sees a few changes, and remembers
//!   the last `sync_id` it saw (or `initial_data.sync_id`). All close; a writer then creates
//!   labels through REST at `--rate` per second for `-d` seconds; `--offline-ms` after it
//!   started, all sockets reconnect with
//!   `?after_sync_id=<last>` (which follows `workspace:<id>` again; `--resubscribe` also sends
//!   `subscribe`). The `resumed` system messages are counted. After the writer
//!   stops and the sockets are quiet, each socket's events are checked against the change log
//!   (`GET /sync/delta`): every `sync_id` after its last one exactly once. Reports the time
//!   until all were reconnected, lost and duplicated events.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};

use super::{
    Frame, Read, Ws, api, command, ms, open, percentiles, read_text, round_trip, ws_url_of,
};
use crate::probe::median;
use crate::server::{Server, status_field};

/// A scenario of `ws-stress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Connection storm, then RSS with every socket idle.
    Storm,
    /// `ping` commands back to back on every socket.
    Throughput,
    /// One command per socket per interval.
    Sustained,
    /// One event to every socket, timed to the last delivery.
    Broadcast,
    /// Reconnect storm with `after_sync_id`, checked for lost and duplicated events.
    Resume,
}

/// `ws-stress` options.
#[derive(clap::Args)]
pub struct StressArgs {
    /// Sockets.
    #[arg(short = 'c', long, default_value_t = 100)]
    connections: usize,
    /// Seconds of load (throughput, sustained) or of writing (resume).
    #[arg(short = 'd', long, default_value_t = 10)]
    duration: u64,
    /// The scenario.
    #[arg(short = 't', long = "test", value_enum)]
    test: Mode,
    /// Start this `trellis` binary (Momentum only, scratch data directory, pinned to
    /// `--server-cpus`) instead of using `--base`.
    #[arg(long, conflicts_with = "base")]
    server: Option<String>,
    /// The REST base of a running server (default `http://127.0.0.1:8000`); the socket is at
    /// `<base>/ws`.
    #[arg(long)]
    base: Option<String>,
    /// Members to create (default ⌈connections / 20⌉).
    #[arg(long)]
    users: Option<usize>,
    /// Changes per second made by the writer of `resume`.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Connection attempts in flight at once.
    #[arg(long, default_value_t = 500)]
    max_concurrent: usize,
    /// `sustained`: milliseconds between two commands of one socket.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// `broadcast`: the number of changes.
    #[arg(long, default_value_t = 20)]
    changes: usize,
    /// `storm`: seconds all sockets stay open and idle before the RSS reading.
    #[arg(long, default_value_t = 5)]
    idle_secs: u64,
    /// The server's pid for RSS readings when it was not started by the bench.
    #[arg(long)]
    server_pid: Option<u32>,
    /// CPUs (`taskset -c`) of a server started with `--server`.
    #[arg(long, default_value = "0")]
    server_cpus: String,
    /// `DATABASE_URL` of a server started with `--server` (default: SQLite in its scratch
    /// directory).
    #[arg(long)]
    database_url: Option<String>,
    /// More environment for a server started with `--server` (repeatable), e.g.
    /// `WS_MAX_CONNECTIONS=20000`.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// `resume`: also send `subscribe` after reconnecting with `after_sync_id` (the server's
    /// resume already follows the workspace).
    #[arg(long)]
    resubscribe: bool,
    /// `resume`: milliseconds between the writer's start (just after every socket closed)
    /// and the reconnect storm, so that each socket has changes to replay.
    #[arg(long, default_value_t = 1000)]
    offline_ms: u64,
    /// Seconds one connection attempt may take.
    #[arg(long, default_value_t = 30)]
    connect_timeout: u64,
}

/// The password of every bench user.
const PASSWORD: &str = "Bench-Password-1";
/// How long a command may wait for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A signed-in bench user.
#[derive(Clone)]
struct Account {
    email: String,
    token: String,
}

/// The users, the workspace and the server of a run.
struct Setup {
    base: String,
    ws_url: String,
    http: reqwest::Client,
    owner: Account,
    members: Vec<Account>,
    workspace_id: String,
    /// Makes this run's names unique on a server that is reused.
    tag: String,
    server: Option<Server>,
    pid: Option<u32>,
}

impl Setup {
    /// The URL of socket `i` (member `i mod users`), with `extra` query parameters.
    fn url(&self, i: usize, extra: &str) -> String {
        let m = &self.members[i % self.members.len()];
        format!("{}?token={}{extra}", self.ws_url, m.token)
    }

    /// The server's RSS in MiB, if its pid is known.
    fn rss_mib(&self) -> Option<f64> {
        let pid = self.server.as_ref().map(Server::pid).or(self.pid)?;
        Some(status_field(pid, "VmRSS:") as f64 / 1024.0)
    }

    /// A `POST` of the owner.
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        api(
            &self.http,
            reqwest::Method::POST,
            format!("{}{path}", self.base),
            Some(&self.owner.token),
            Some(body),
        )
        .await
    }

    /// The owner's workspace's change log after `after`: `(sync_id, entity)`, oldest first.
    async fn changes_after(&self, mut after: i64) -> anyhow::Result<Vec<(i64, String)>> {
        let mut out = Vec::new();
        loop {
            let page = api(
                &self.http,
                reqwest::Method::GET,
                format!("{}/sync/delta?after={after}&limit=1000", self.base),
                Some(&self.owner.token),
                None,
            )
            .await?;
            let items = page.as_array().cloned().unwrap_or_default();
            for c in &items {
                let Some(s) = c["sync_id"].as_i64() else {
                    anyhow::bail!("a change without sync_id: {c}");
                };
                out.push((s, c["entity"].as_str().unwrap_or_default().to_string()));
                after = after.max(s);
            }
            if items.len() < 1000 {
                return Ok(out);
            }
        }
    }
}

/// Raises this process's open-file limit to at least `want` (soft and, as root, hard), so
/// that the sockets fit, and so does a server started afterwards, which inherits it.
pub(crate) fn raise_nofile(want: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let cur = getrlimit(Resource::Nofile);
    let soft = cur.current.unwrap_or(u64::MAX);
    let hard = cur.maximum.unwrap_or(u64::MAX);
    if soft >= want {
        return;
    }
    let raised = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(want),
            maximum: Some(hard.max(want)),
        },
    );
    if raised.is_err() {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            },
        );
        eprintln!(
            "note: open files limited to {} (wanted {want})",
            hard.min(want)
        );
    }
}

/// Registers `wsb<tag><suffix>` and returns it signed in.
async fn register(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<Account> {
    let email = format!("{name}@example.com");
    let d = api(
        http,
        reqwest::Method::POST,
        format!("{base}/auth/register"),
        None,
        Some(json!({"email": email, "username": name, "name": name, "password": PASSWORD})),
    )
    .await?;
    let token = d["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("register answered no access_token: {d}"))?
        .to_string();
    Ok(Account { email, token })
}

/// Starts the server if asked, creates the owner and the members, joins them to the owner's
/// workspace and signs them in.
async fn setup(a: &StressArgs) -> anyhow::Result<Setup> {
    let server = match &a.server {
        Some(bin) => {
            let mut env: Vec<(String, String)> = [
                ("TRELLIS_APPS", "momentum"),
                ("RATE_LIMIT_ENABLED", "false"),
                ("RATE_LIMIT_PER_SECOND", "0"),
                ("TRELLIS_LOGIN_IP_PER_MINUTE", "0"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            if let Some(db) = &a.database_url {
                env.push(("DATABASE_URL".into(), db.clone()));
            }
            for kv in &a.server_env {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--server-env {kv}: not KEY=VALUE"))?;
                env.push((k.to_string(), v.to_string()));
            }
            let env_ref: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let cpus = (!a.server_cpus.is_empty()).then_some(a.server_cpus.as_str());
            Some(Server::start(bin, cpus, &env_ref)?)
        }
        None => None,
    };
    let base = match (&server, &a.base) {
        (Some(s), _) => s.base.clone(),
        (None, Some(b)) => b.trim_end_matches('/').to_string(),
        (None, None) => "http://127.0.0.1:8000".to_string(),
    };
    let http = reqwest::Client::builder().no_proxy().build()?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let tag = format!(
        "{:06x}",
        (nanos ^ u128::from(std::process::id())) & 0xff_ffff
    );
    let k = a.users.unwrap_or_else(|| a.connections.div_ceil(20)).max(1);
    let t = Instant::now();
    let owner = register(&http, &base, &format!("wsb{tag}o")).await?;
    let members: Vec<Account> = futures::stream::iter(0..k)
        .map(|i| {
            let (http, base, tag) = (&http, &base, &tag);
            async move { register(http, base, &format!("wsb{tag}u{i}")).await }
        })
        .buffered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "setup: owner and {k} members registered in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut invitation_of = HashMap::new();
    for chunk in members.chunks(50) {
        let emails: Vec<&str> = chunk.iter().map(|m| m.email.as_str()).collect();
        let inv = api(
            &http,
            reqwest::Method::POST,
            format!("{base}/invitations"),
            Some(&owner.token),
            Some(json!({"emails": emails, "role": "member"})),
        )
        .await?;
        for i in inv.as_array().cloned().unwrap_or_default() {
            if let (Some(e), Some(id)) = (i["email"].as_str(), i["id"].as_str()) {
                invitation_of.insert(e.to_lowercase(), id.to_string());
            }
        }
    }
    let accepted: Vec<anyhow::Result<Value>> = futures::stream::iter(&members)
        .map(|m| {
            let (http, base) = (&http, &base);
            let id = invitation_of
                .get(&m.email.to_lowercase())
                .cloned()
                .unwrap_or_default();
            async move {
                api(
                    http,
                    reqwest::Method::POST,
                    format!("{base}/invitations/{id}/accept"),
                    Some(&m.token),
                    Some(json!({})),
                )
                .await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for r in accepted {
        r?;
    }
    // Sign the members in: the tokens the sockets use come from a login, as a client's would.
    let logins: Vec<anyhow::Result<String>> = futures::stream::iter(&members)
        .map(|m| super::login(&http, &base, &m.email, PASSWORD))
        .buffered(4)
        .collect()
        .await;
    let mut failed_logins = 0;
    let members: Vec<Account> = members
        .iter()
        .zip(logins)
        .map(|(m, l)| match l {
            Ok(token) => Account {
                email: m.email.clone(),
                token,
            },
            Err(_) => {
                // A server that limits logins per address: keep the registration's session.
                failed_logins += 1;
                m.clone()
            }
        })
        .collect();
    if failed_logins > 0 {
        eprintln!(
            "setup: {failed_logins} logins failed; those members use their registration's session"
        );
    }
    let ws = api(
        &http,
        reqwest::Method::GET,
        format!("{base}/workspaces/current"),
        Some(&owner.token),
        None,
    )
    .await?;
    let workspace_id = ws["id"]
        .as_str()
        .or_else(|| ws["workspace"]["id"].as_str())
        .ok_or_else(|| anyhow::anyhow!("GET /workspaces/current answered no id: {ws}"))?
        .to_string();
    eprintln!(
        "setup: {k} members joined workspace {workspace_id} and signed in ({:.1} s in all)",
        t.elapsed().as_secs_f64()
    );
    Ok(Setup {
        ws_url: ws_url_of(&base),
        base,
        http,
        owner,
        members,
        workspace_id,
        tag,
        server,
        pid: a.server_pid,
    })
}

/// A socket's connection attempt: when it ended and how (connect latency or why not).
struct Attempt {
    done: Instant,
    result: Result<Duration, String>,
}

/// What the sockets of a scenario share.
struct Ctx {
    setup: Setup,
    sem: Semaphore,
    connect_timeout: Duration,
    attempts: mpsc::UnboundedSender<Attempt>,
    /// The second report of a socket (subscribed, closed, …), with a value of the scenario.
    ready: mpsc::UnboundedSender<(usize, Result<i64, String>)>,
    /// Sockets that ended before being told to.
    dropped: Mutex<BTreeMap<String, usize>>,
}

impl Ctx {
    /// Opens socket `i` (with `extra` query parameters) under the concurrency limit and
    /// reports the attempt.
    async fn connect(&self, i: usize, extra: &str) -> Option<Ws> {
        let url = self.setup.url(i, extra);
        let permit = self.sem.acquire().await.ok()?;
        let t = Instant::now();
        let r = open(&url, self.connect_timeout).await;
        let done = Instant::now();
        drop(permit);
        let (ws, result) = match r {
            Ok(ws) => (Some(ws), Ok(done - t)),
            Err(e) => (None, Err(e)),
        };
        let _ = self.attempts.send(Attempt { done, result });
        ws
    }

    /// Counts a socket that ended on its own.
    fn dropped(&self, why: String) {
        let why = why.chars().take(80).collect::<String>();
        if let Ok(mut m) = self.dropped.lock() {
            *m.entry(why).or_default() += 1;
        }
    }
}

/// Connection attempts summed up.
struct Attempts {
    ok: usize,
    failed: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    /// From the first attempt until the last successful one ended.
    all_open: Duration,
}

impl Attempts {
    /// Waits for `n` attempts.
    async fn collect(rx: &mut mpsc::UnboundedReceiver<Attempt>, n: usize, since: Instant) -> Self {
        let mut s = Attempts {
            ok: 0,
            failed: BTreeMap::new(),
            latencies: Vec::with_capacity(n),
            all_open: Duration::ZERO,
        };
        for _ in 0..n {
            let Some(a) = rx.recv().await else { break };
            match a.result {
                Ok(l) => {
                    s.ok += 1;
                    s.latencies.push(l);
                    s.all_open = s.all_open.max(a.done - since);
                }
                Err(e) => *s.failed.entry(e).or_default() += 1,
            }
        }
        s
    }

    fn print(&mut self, what: &str, n: usize) {
        println!(
            "{what}: {}/{n} open, {} failed{}; all open after {} ms",
            self.ok,
            n - self.ok,
            if self.failed.is_empty() {
                String::new()
            } else {
                format!(" {:?}", self.failed)
            },
            ms(self.all_open)
        );
        println!("  connect latency {}", percentiles(&mut self.latencies));
    }
}

/// Second reports (`ready`) of `n` sockets: the values of those that succeeded, and the
/// failures by cause.
async fn collect_ready(
    rx: &mut mpsc::UnboundedReceiver<(usize, Result<i64, String>)>,
    n: usize,
) -> (Vec<(usize, i64)>, BTreeMap<String, usize>) {
    let (mut ok, mut failed) = (Vec::new(), BTreeMap::<String, usize>::new());
    for _ in 0..n {
        match rx.recv().await {
            Some((i, Ok(v))) => ok.push((i, v)),
            Some((_, Err(e))) => *failed.entry(e).or_default() += 1,
            None => break,
        }
    }
    (ok, failed)
}

/// Reads frames, handing each to `on`, until `signal` is true (`Ok`) or the socket ends
/// (`Err` with why).
async fn drain_until(
    ws: &mut Ws,
    signal: &mut watch::Receiver<bool>,
    mut on: impl FnMut(&str, Instant),
) -> Result<(), String> {
    loop {
        tokio::select! {
            biased;
            _ = signal.wait_for(|v| *v) => return Ok(()),
            r = read_text(ws) => match r {
                Read::Text(t, at) => on(&t, at),
                Read::Closed(why) => return Err(why),
            },
        }
    }
}

/// Closes `ws` and waits (up to 5 s) for the server's close.
async fn close(mut ws: Ws) {
    let _ = ws.close(None).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Read::Text(..) = read_text(&mut ws).await {}
    })
    .await;
}

/// Subscribes `ws` to `workspace:<id>` with request id `rid` (unique per user: a repeated
/// one would get the first reply again); `other` sees the frames read meanwhile.
async fn subscribe(
    ws: &mut Ws,
    rid: &str,
    workspace_id: &str,
    other: impl FnMut(&Frame, Instant),
) -> Result<(), String> {
    let cmd = command(
        "subscribe",
        rid,
        json!({"topics": [format!("workspace:{workspace_id}")]}),
    );
    match round_trip(ws, cmd, rid, REPLY_TIMEOUT, other).await {
        Ok((f, _)) if f.success == Some(true) => Ok(()),
        Ok((f, _)) => Err(format!(
            "subscribe refused: {}",
            f.error_code.unwrap_or_default()
        )),
        Err(e) => Err(format!("subscribe: {e}")),
    }
}

/// Runs `ws-stress`.
pub async fn run_stress(a: StressArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.connections > 0, "-c must be at least 1");
    raise_nofile(a.connections as u64 * 2 + 4096);
    let setup = setup(&a).await?;
    let (attempts_tx, attempts_rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = mpsc::unbounded_channel();
    let ctx = Arc::new(Ctx {
        setup,
        sem: Semaphore::new(a.max_concurrent.max(1)),
        connect_timeout: Duration::from_secs(a.connect_timeout),
        attempts: attempts_tx,
        ready: ready_tx,
        dropped: Mutex::default(),
    });
    let rx = Rx {
        attempts: attempts_rx,
        ready: ready_rx,
    };
    println!(
        "ws-stress {:?}: {} sockets over {} users, server {}",
        a.test,
        a.connections,
        ctx.setup.members.len(),
        ctx.setup.base
    );
    match a.test {
        Mode::Storm => storm(&a, &ctx, rx).await?,
        Mode::Throughput | Mode::Sustained => commands(&a, &ctx, rx).await?,
        Mode::Broadcast => broadcast(&a, &ctx, rx).await?,
        Mode::Resume => resume(&a, &ctx, rx).await?,
    }
    if let Ok(d) = ctx.dropped.lock()
        && !d.is_empty()
    {
        println!("sockets that ended on their own: {d:?}");
    }
    if let Some(rss) = ctx.setup.rss_mib() {
        println!("server RSS at the end: {rss:.1} MiB");
    }
    Ok(())
}

/// The receiving ends of [`Ctx`]'s channels.
struct Rx {
    attempts: mpsc::UnboundedReceiver<Attempt>,
    ready: mpsc::UnboundedReceiver<(usize, Result<i64, String>)>,
}

/// `storm`.
async fn storm(a: &StressArgs, ctx: &Arc<Ctx>, mut rx: Rx) -> anyhow::Result<()> {
    let n = a.connections;
    let before = ctx.setup.rss_mib();
    let (stop_tx, stop_rx) = watch::channel(false);
    let frames = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (ctx, mut stop, frames) = (ctx.clone(), stop_rx.clone(), frames.clone());
            tokio::spawn(async move {
                let Some(mut ws) = ctx.connect(i, "").await else {
                    return;
                };
                match drain_until(&mut ws, &mut stop, |_, _| {
                    frames.fetch_add(1, Ordering::Relaxed);
                })
                .await
                {
                    Ok(()) => close(ws).await,
                    Err(why) => ctx.dropped(why),
                }
            })
        })
        .collect();
    let mut s = Attempts::collect(&mut rx.attempts, n, started).await;
    s.print("storm", n);
    tokio::time::sleep(Duration::from_secs(a.idle_secs)).await;
    let open_now = s.ok.saturating_sub(
        ctx.dropped
            .lock()
            .map(|d| d.values().sum::<usize>())
            .unwrap_or(0),
    );
    match (before, ctx.setup.rss_mib()) {
        (Some(b), Some(r)) => println!(
            "server RSS: {b:.1} MiB before, {r:.1} MiB with {open_now} sockets open and idle for {} s \
             ({:.1} KiB per socket)",
            a.idle_secs,
            (r - b) * 1024.0 / open_now.max(1) as f64
        ),
        _ => println!("server RSS: unknown (give --server or --server-pid)"),
    }
    println!(
        "frames received while open: {} ({:.1} per socket)",
        frames.load(Ordering::Relaxed),
        frames.load(Ordering::Relaxed) as f64 / s.ok.max(1) as f64
    );
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// What one socket of `throughput` / `sustained` measured.
#[derive(Default)]
struct Tally {
    /// Round trips of every reply, and by command.
    rtts: Vec<Duration>,
    by_command: BTreeMap<&'static str, Vec<Duration>>,
    /// Replies with `success: false`, by error code.
    refused: BTreeMap<String, usize>,
    /// Commands without a reply, by cause.
    errors: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.rtts.extend(other.rtts);
        for (k, v) in other.by_command {
            self.by_command.entry(k).or_default().extend(v);
        }
        for (k, v) in other.refused {
            *self.refused.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    /// Sends command `kind` and records the outcome; `false` when the socket is gone.
    async fn one(&mut self, ws: &mut Ws, kind: &'static str, rid: &str) -> bool {
        let args = if kind == "query_labels" {
            json!({"filters": {}})
        } else {
            json!({})
        };
        match round_trip(ws, command(kind, rid, args), rid, REPLY_TIMEOUT, |_, _| {}).await {
            Ok((f, rtt)) => {
                self.rtts.push(rtt);
                self.by_command.entry(kind).or_default().push(rtt);
                if f.success != Some(true) {
                    *self
                        .refused
                        .entry(f.error_code.unwrap_or_else(|| "?".into()))
                        .or_default() += 1;
                }
                true
            }
            Err(e) => {
                let alive = e == "no reply";
                *self.errors.entry(e.chars().take(60).collect()).or_default() += 1;
                alive
            }
        }
    }
}

/// `throughput` and `sustained`.
async fn commands(a: &StressArgs, ctx: &Arc<Ctx>, mut rx: Rx) -> anyhow::Result<()> {
    let n = a.connections;
    let sustained = a.test == Mode::Sustained;
    let interval = Duration::from_millis(a.interval_ms.max(1));
    let (go_tx, go_rx) = watch::channel(false);
    let start_at: Arc<std::sync::OnceLock<Instant>> = Arc::default();
    let secs = Duration::from_secs(a.duration);
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (ctx, mut go, start_at) = (ctx.clone(), go_rx.clone(), start_at.clone());
            tokio::spawn(async move {
                let mut t = Tally::default();
                let Some(mut ws) = ctx.connect(i, "").await else {
                    return t;
                };
                if let Err(why) = drain_until(&mut ws, &mut go, |_, _| {}).await {
                    ctx.dropped(why);
                    return t;
                }
                let start = start_at.get().copied().unwrap_or_else(Instant::now);
                let deadline = start + secs;
                let mut seq = 0usize;
                if sustained {
                    let first = start + interval.mul_f64(i as f64 / n as f64);
                    let mut tick =
                        tokio::time::interval_at(tokio::time::Instant::from_std(first), interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            _ = tick.tick() => {}
                            r = read_text(&mut ws) => {
                                if let Read::Closed(why) = r { ctx.dropped(why); return t; }
                                continue;
                            }
                        }
                        if Instant::now() >= deadline {
                            break;
                        }
                        seq += 1;
                        let kind = if (seq + i).is_multiple_of(2) {
                            "query_labels"
                        } else {
                            "ping"
                        };
                        if !t.one(&mut ws, kind, &format!("q{i}-{seq}")).await {
                            ctx.dropped("closed during commands".into());
                            return t;
                        }
                    }
                } else {
                    while Instant::now() < deadline {
                        seq += 1;
                        if !t.one(&mut ws, "ping", &format!("p{i}-{seq}")).await {
                            ctx.dropped("closed during commands".into());
                            return t;
                        }
                    }
                }
                close(ws).await;
                t
            })
        })
        .collect();
    let mut s = Attempts::collect(&mut rx.attempts, n, started).await;
    s.print("connect", n);
    // Let the greetings settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = start_at.set(Instant::now());
    let _ = go_tx.send(true);
    let mut all = Tally::default();
    for t in tasks {
        if let Ok(t) = t.await {
            all.add(t);
        }
    }
    let replies = all.rtts.len();
    let total = replies + all.errors.values().sum::<usize>();
    let what = if sustained {
        format!(
            "sustained: one command per socket every {} ms (query_labels / ping)",
            interval.as_millis()
        )
    } else {
        "throughput: ping commands back to back".into()
    };
    println!("{what}, {} s", a.duration);
    println!(
        "  {total} commands, {replies} replies: {:.0} commands/s",
        replies as f64 / secs.as_secs_f64().max(1e-9)
    );
    println!("  round trip {}", percentiles(&mut all.rtts));
    if sustained {
        for (k, v) in &mut all.by_command {
            println!("    {k:<13} {}", percentiles(v));
        }
    }
    println!(
        "  refused replies: {}{}",
        all.refused.values().sum::<usize>(),
        if all.refused.is_empty() {
            String::new()
        } else {
            format!(" {:?}", all.refused)
        }
    );
    println!(
        "  no reply: {}{}",
        all.errors.values().sum::<usize>(),
        if all.errors.is_empty() {
            String::new()
        } else {
            format!(" {:?}", all.errors)
        }
    );
    Ok(())
}

/// An `event` frame as a socket got it.
struct Delivery {
    socket: usize,
    entity_id: String,
    sync_id: Option<i64>,
    at: Instant,
}

/// `broadcast`.
async fn broadcast(a: &StressArgs, ctx: &Arc<Ctx>, mut rx: Rx) -> anyhow::Result<()> {
    let n = a.connections;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Delivery>();
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (ctx, mut stop, ev_tx) = (ctx.clone(), stop_rx.clone(), ev_tx.clone());
            tokio::spawn(async move {
                let Some(mut ws) = ctx.connect(i, "").await else {
                    return;
                };
                let mut on = |f: &Frame, at: Instant| {
                    if f.kind == "event"
                        && let Some(e) = &f.entity_id
                    {
                        let _ = ev_tx.send(Delivery {
                            socket: i,
                            entity_id: e.clone(),
                            sync_id: f.sync_id,
                            at,
                        });
                    }
                };
                let sub =
                    subscribe(&mut ws, &format!("s{i}"), &ctx.setup.workspace_id, &mut on).await;
                let failed = sub.is_err();
                let _ = ctx.ready.send((i, sub.map(|()| 0)));
                if failed {
                    close(ws).await;
                    return;
                }
                match drain_until(&mut ws, &mut stop, |t, at| on(&Frame::parse(t), at)).await {
                    Ok(()) => close(ws).await,
                    Err(why) => ctx.dropped(why),
                }
            })
        })
        .collect();
    drop(ev_tx);
    let mut s = Attempts::collect(&mut rx.attempts, n, started).await;
    s.print("connect", n);
    let (subscribed, refused) = collect_ready(&mut rx.ready, s.ok).await;
    let subscribed: HashSet<usize> = subscribed.into_iter().map(|(i, _)| i).collect();
    println!(
        "subscribed to workspace:{}: {}{}",
        ctx.setup.workspace_id,
        subscribed.len(),
        if refused.is_empty() {
            String::new()
        } else {
            format!(", failed {refused:?}")
        }
    );
    // First arrival per (label, socket); every (socket, sync_id) counted for duplicates.
    let mut first: HashMap<String, HashMap<usize, Instant>> = HashMap::new();
    let mut per_sync: HashMap<(usize, i64), u32> = HashMap::new();
    let note = |first: &mut HashMap<String, HashMap<usize, Instant>>,
                per_sync: &mut HashMap<(usize, i64), u32>,
                d: Delivery| {
        if let Some(s) = d.sync_id {
            *per_sync.entry((d.socket, s)).or_default() += 1;
        }
        first
            .entry(d.entity_id)
            .or_default()
            .entry(d.socket)
            .or_insert(d.at);
    };
    let mut from_resp = Vec::new();
    let mut from_req = Vec::new();
    let mut labels = Vec::new();
    let want = subscribed.len();
    for m in 0..a.changes {
        let t_req = Instant::now();
        let label = ctx
            .setup
            .post(
                "/labels",
                json!({"name": format!("wsb{}b{m}", ctx.setup.tag), "color": "#336699", "level": "issue"}),
            )
            .await?;
        let t_resp = Instant::now();
        let id = label["id"]
            .as_str()
            .map(str::to_string)
            .or_else(|| label["id"].as_i64().map(|v| v.to_string()))
            .ok_or_else(|| anyhow::anyhow!("POST /labels answered no id: {label}"))?;
        let deadline = tokio::time::Instant::from_std(t_resp + REPLY_TIMEOUT);
        while first.get(&id).map_or(0, HashMap::len) < want {
            match tokio::time::timeout_at(deadline, ev_rx.recv()).await {
                Ok(Some(d)) => note(&mut first, &mut per_sync, d),
                _ => break,
            }
        }
        let got = first.get(&id).map_or(0, HashMap::len);
        if let Some(last) = first.get(&id).and_then(|m| m.values().max().copied()) {
            from_resp.push(last.saturating_duration_since(t_resp).as_secs_f64() * 1000.0);
            from_req.push((last - t_req).as_secs_f64() * 1000.0);
        }
        if got < want {
            eprintln!("change {m}: {got}/{want} sockets had the event after 10 s");
        }
        labels.push(id);
    }
    // Late and duplicate frames.
    let quiet = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(d)) = tokio::time::timeout_at(quiet, ev_rx.recv()).await {
        note(&mut first, &mut per_sync, d);
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    while let Ok(d) = ev_rx.try_recv() {
        note(&mut first, &mut per_sync, d);
    }
    let missing: usize = labels
        .iter()
        .map(|l| {
            let got = first.get(l);
            subscribed
                .iter()
                .filter(|s| !got.is_some_and(|g| g.contains_key(s)))
                .count()
        })
        .sum();
    let dup_frames: u32 = per_sync.values().map(|c| c.saturating_sub(1)).sum();
    let dup_sockets: HashSet<usize> = per_sync
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|((s, _), _)| *s)
        .collect();
    let max = |v: &[f64]| v.iter().copied().fold(0.0f64, f64::max);
    println!(
        "broadcast: {} changes to {want} subscribers; last delivery after the REST response: \
         median {:.1} ms, max {:.1} ms (after the request: median {:.1} ms, max {:.1} ms)",
        labels.len(),
        median(from_resp.clone()),
        max(&from_resp),
        median(from_req.clone()),
        max(&from_req)
    );
    println!(
        "  per change (ms after the response): {}",
        from_resp
            .iter()
            .map(|v| format!("{v:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  missing events: {missing}; duplicated: {dup_frames} (on {} sockets)",
        dup_sockets.len()
    );
    Ok(())
}

/// What one socket of `resume` saw after reconnecting.
struct Resumed {
    last: i64,
    seen: Vec<i64>,
    /// How the server answered the resume: `resumed`, `resync_required`, `resume_failed`, or
    /// `none` (no such system message).
    outcome: &'static str,
    /// Events the server said it replayed.
    replayed: u64,
    /// When the `resumed` system message (the end of the replay) arrived.
    resumed_at: Option<Instant>,
}

/// `resume`.
async fn resume(a: &StressArgs, ctx: &Arc<Ctx>, mut rx: Rx) -> anyhow::Result<()> {
    let n = a.connections;
    let (close_tx, close_rx) = watch::channel(false);
    let (again_tx, again_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let max_seen: Arc<Vec<AtomicI64>> = Arc::new((0..n).map(|_| AtomicI64::new(-1)).collect());
    let resubscribe = a.resubscribe;
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (ctx, max_seen) = (ctx.clone(), max_seen.clone());
            let (mut close_rx, mut again_rx, mut stop_rx) =
                (close_rx.clone(), again_rx.clone(), stop_rx.clone());
            tokio::spawn(async move {
                let mut ws = ctx.connect(i, "").await?;
                let mut last = -1i64;
                let mut on = |f: &Frame| {
                    if matches!(f.kind.as_str(), "event" | "initial_data")
                        && let Some(s) = f.sync_id
                    {
                        last = last.max(s);
                        max_seen[i].fetch_max(s, Ordering::Relaxed);
                    }
                };
                let sub = subscribe(
                    &mut ws,
                    &format!("s{i}"),
                    &ctx.setup.workspace_id,
                    |f, _| on(f),
                )
                .await;
                if let Err(e) = sub {
                    let _ = ctx.ready.send((i, Err(e)));
                    close(ws).await;
                    return None;
                }
                let _ = ctx.ready.send((i, Ok(-1)));
                let r = drain_until(&mut ws, &mut close_rx, |t, _| on(&Frame::parse(t))).await;
                if let Err(why) = r {
                    let _ = ctx.ready.send((i, Err(format!("ended early: {why}"))));
                    return None;
                }
                close(ws).await;
                let _ = ctx.ready.send((i, Ok(last)));
                let _ = again_rx.wait_for(|v| *v).await;
                let extra = if last >= 0 {
                    format!("&after_sync_id={last}")
                } else {
                    String::new()
                };
                let mut ws = ctx.connect(i, &extra).await?;
                let mut seen = Vec::new();
                let (mut outcome, mut replayed, mut resumed_at) = ("none", 0, None);
                let mut on = |f: &Frame, at: Instant| {
                    if f.kind == "event"
                        && let Some(s) = f.sync_id
                    {
                        seen.push(s);
                        max_seen[i].fetch_max(s, Ordering::Relaxed);
                    } else if f.kind == "system_message" {
                        match f.system.as_deref() {
                            Some("resumed") if f.resync_required == Some(true) => {
                                outcome = "resync_required";
                            }
                            Some("resumed") => {
                                outcome = "resumed";
                                replayed += f.replayed.unwrap_or(0);
                                resumed_at = Some(at);
                            }
                            Some("resume_failed") => outcome = "resume_failed",
                            _ => {}
                        }
                    }
                };
                if resubscribe
                    && let Err(e) =
                        subscribe(&mut ws, &format!("r{i}"), &ctx.setup.workspace_id, &mut on).await
                {
                    ctx.dropped(e);
                }
                if let Err(why) =
                    drain_until(&mut ws, &mut stop_rx, |t, at| on(&Frame::parse(t), at)).await
                {
                    ctx.dropped(why);
                } else {
                    close(ws).await;
                }
                Some(Resumed {
                    last,
                    seen,
                    outcome,
                    replayed,
                    resumed_at,
                })
            })
        })
        .collect();
    let mut s = Attempts::collect(&mut rx.attempts, n, started).await;
    s.print("connect", n);
    // Every socket reports once subscribed (or failed), then once closed (or ended).
    let (subscribed, failed) = collect_ready(&mut rx.ready, s.ok).await;
    if !failed.is_empty() {
        println!("subscribe failed: {failed:?}");
    }
    // A few changes every subscribed socket sees before it closes.
    let pre = 3;
    for m in 0..pre {
        ctx.setup
            .post(
                "/labels",
                json!({"name": format!("wsb{}p{m}", ctx.setup.tag), "color": "#336699", "level": "issue"}),
            )
            .await?;
    }
    let log = ctx.setup.changes_after(0).await?;
    let latest = log.last().map_or(0, |c| c.0);
    let until = Instant::now() + REPLY_TIMEOUT;
    while Instant::now() < until
        && max_seen
            .iter()
            .filter(|m| {
                let v = m.load(Ordering::Relaxed);
                v >= 0 && v < latest
            })
            .count()
            > 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = close_tx.send(true);
    let (closed, failed) = collect_ready(&mut rx.ready, subscribed.len()).await;
    let lasts: HashMap<usize, i64> = closed.iter().copied().collect();
    let behind = lasts.values().filter(|l| **l < latest).count();
    println!(
        "phase 1: {} sockets subscribed and closed, last sync_id {latest}{}{}",
        closed.len(),
        if behind > 0 {
            format!(" ({behind} had not seen it)")
        } else {
            String::new()
        },
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed {failed:?}")
        }
    );
    // Writer and reconnect storm at once.
    let writer = {
        let ctx = ctx.clone();
        let (rate, secs) = (a.rate.max(0.001), a.duration);
        tokio::spawn(async move {
            let t0 = Instant::now();
            let (mut made, mut errors) = (0usize, 0usize);
            while t0.elapsed() < Duration::from_secs(secs) {
                let body = json!({"name": format!("wsb{}r{made}_{errors}", ctx.setup.tag), "color": "#663399", "level": "issue"});
                match ctx.setup.post("/labels", body).await {
                    Ok(_) => made += 1,
                    Err(_) => errors += 1,
                }
                let next = t0 + Duration::from_secs_f64((made + errors) as f64 / rate);
                tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
            }
            (made, errors, t0.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(a.offline_ms)).await;
    let again = Instant::now();
    let _ = again_tx.send(true);
    let mut r = Attempts::collect(&mut rx.attempts, closed.len(), again).await;
    r.print("reconnect", closed.len());
    let (made, werrors, wtime) = writer.await?;
    let writer_done = Instant::now();
    println!(
        "writer: {made} changes in {:.1} s ({:.1}/s){}",
        wtime.as_secs_f64(),
        made as f64 / wtime.as_secs_f64().max(1e-9),
        if werrors > 0 {
            format!(", {werrors} failed")
        } else {
            String::new()
        }
    );
    let min_last = lasts
        .values()
        .copied()
        .filter(|l| *l >= 0)
        .min()
        .unwrap_or(0);
    let log = ctx.setup.changes_after(min_last).await?;
    let final_sync = log.last().map_or(latest, |c| c.0);
    // Quiescence: every reconnected socket reached the final change, or nothing moved for 3 s.
    let mut caught_up_after = None;
    let (mut progress, mut quiet_since) = (-1i64, Instant::now());
    loop {
        let behind = lasts
            .keys()
            .filter(|i| max_seen[**i].load(Ordering::Relaxed) < final_sync)
            .count();
        if behind == 0 {
            caught_up_after = Some(writer_done.elapsed());
            break;
        }
        let sum: i64 = max_seen.iter().map(|m| m.load(Ordering::Relaxed)).sum();
        if sum != progress {
            (progress, quiet_since) = (sum, Instant::now());
        } else if quiet_since.elapsed() > Duration::from_secs(3) {
            println!("{behind} sockets never reached sync_id {final_sync}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Duplicates arriving late.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    let mut results = Vec::new();
    for t in tasks {
        if let Ok(Some(r)) = t.await {
            results.push(r);
        }
    }
    let mut lost = 0usize;
    let mut lost_sockets = 0usize;
    let mut dup = 0usize;
    let mut dup_sockets = 0usize;
    let mut stale = 0usize;
    let mut unknown = 0usize;
    let mut lost_entities: BTreeMap<String, usize> = BTreeMap::new();
    let in_log: HashSet<i64> = log.iter().map(|c| c.0).collect();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let replayed: u64 = results.iter().map(|r| r.replayed).sum();
    let all_replayed = results
        .iter()
        .filter_map(|r| r.resumed_at)
        .max()
        .map(|t| t.saturating_duration_since(again));
    for r in &results {
        *outcomes.entry(r.outcome).or_default() += 1;
    }
    for r in &results {
        let mut count: HashMap<i64, usize> = HashMap::new();
        for s in &r.seen {
            *count.entry(*s).or_default() += 1;
        }
        let mut l = 0;
        for (sync, entity) in log.iter().filter(|c| c.0 > r.last) {
            if !count.contains_key(sync) {
                l += 1;
                *lost_entities.entry(entity.clone()).or_default() += 1;
            }
        }
        let d: usize = count.values().map(|c| c - 1).sum();
        // Replayed again although the socket had it before closing.
        let st = count.keys().filter(|s| **s <= r.last).count();
        unknown += count
            .keys()
            .filter(|s| **s > r.last && !in_log.contains(s))
            .count();
        lost += l;
        dup += d + st;
        stale += st;
        lost_sockets += usize::from(l > 0);
        dup_sockets += usize::from(d + st > 0);
    }
    println!(
        "resume: {} sockets reconnected with after_sync_id; all reconnected after {} ms; \
         all had sync_id {final_sync} {} after the writer stopped",
        results.len(),
        ms(r.all_open),
        caught_up_after.map_or("never".to_string(), |d| format!("{} ms", ms(d)))
    );
    println!(
        "  resume answers: {outcomes:?}; events replayed (as the server counts): {replayed}; \
         last replay done {} after the reconnect storm began",
        all_replayed.map_or("never".to_string(), |d| format!("{} ms", ms(d)))
    );
    println!(
        "  events lost: {lost} (on {lost_sockets} sockets){}; duplicated: {dup} (on {dup_sockets} \
         sockets; {stale} of them seen before the close); not in the change log: {unknown}",
        if lost_entities.is_empty() {
            String::new()
        } else {
            format!(" by entity {lost_entities:?}")
        }
    );
    Ok(())
}
