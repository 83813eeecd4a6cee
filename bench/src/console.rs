//! Console scenario (issue 13 "Performance"): every console page kind with the bench data
//! sets, its HTML size, its first render and the median of repeated renders.
//!
//! The server gets the data sets of the other scenarios: 50 plugins (MicroDock), a pet with
//! an applied 28-day plan (diet planner), 2 workflow definitions with 20 finished executions
//! (engine), a Momentum workspace with 200 issues. Two console sessions sign in through the
//! login form (the administrator, and the Momentum user whose workspace holds the issues) and
//! each crawls the console from `/console/`: each same-origin `href` under `/console/` that
//! answers HTML is a page; URLs that differ only in ids or the query are one page kind
//! (measured once per session).
//! Times are client-side over loopback with keep-alive (request sent → body read), an upper
//! bound of the server's time.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::Api;
use crate::probe::percentile;
use crate::server::{ADMIN_PASSWORD, Server};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "target/release/trellis")]
    server: String,
    /// Renders of each page kind after the first.
    #[arg(long, default_value_t = 100)]
    renders: usize,
    /// Most page kinds crawled per session.
    #[arg(long, default_value_t = 80)]
    pages: usize,
    /// Momentum issues in the data set.
    #[arg(long, default_value_t = 200)]
    issues: usize,
}

/// A console session: its cookies, kept by hand (the bench's client has no cookie store).
struct Session {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Session {
    fn new(base: &str) -> anyhow::Result<Session> {
        Ok(Session {
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: base.to_string(),
            cookies: BTreeMap::new(),
        })
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            if let Some((kv, _)) = v.to_str().unwrap_or("").split_once(';')
                && let Some((k, v)) = kv.split_once('=')
            {
                self.cookies.insert(k.trim().to_string(), v.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// GET `path`: (status, content type, body, time).
    async fn get(&mut self, path: &str) -> anyhow::Result<(u16, String, String, Duration)> {
        let t = Instant::now();
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await?;
        self.keep(&r);
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = r.text().await?;
        Ok((status, ct, body, t.elapsed()))
    }

    /// Signs in through the login form (its CSRF token and cookie first).
    async fn sign_in(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        let (_, _, page, _) = self.get("/console/login").await?;
        let csrf = between(&page, r#"name="csrf_token" value=""#, "\"")
            .ok_or_else(|| anyhow::anyhow!("no csrf_token on the login page"))?
            .to_string();
        let r = self
            .http
            .post(format!("{}/console/login", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("username", user)
                    .append_pair("password", password)
                    .append_pair("csrf_token", &csrf)
                    .finish(),
            )
            .send()
            .await?;
        self.keep(&r);
        anyhow::ensure!(
            r.status().as_u16() == 303 && self.cookies.contains_key("trellis_session"),
            "console sign-in as {user}: {}",
            r.status()
        );
        Ok(())
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)?;
    Some(&s[i..i + j])
}

/// `/console/…` links of a page (attribute-escaped `&` undone), without the language
/// switch, assets and sign-out.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        let Some(j) = rest.find('"') else { break };
        let href = rest[..j].replace("&amp;", "&");
        rest = &rest[j..];
        if href.starts_with("/console/")
            && !href.starts_with("/console/assets/")
            && !href.contains("lang=")
            && !href.starts_with("/console/logout")
        {
            out.push(href);
        }
    }
    out
}

/// The page kind of a URL: the path with ids (UUIDs, numbers, hex and key-like segments
/// holding digits) as `{}`, without the query.
fn kind(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.split('/')
        .map(|seg| {
            if seg.chars().any(|c| c.is_ascii_digit()) {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// One page kind's figures.
struct PageFigures {
    url: String,
    bytes: usize,
    first: Duration,
    median: Duration,
    p99: Duration,
}

/// Crawls from `/console/` and measures each HTML page kind.
async fn crawl(
    s: &mut Session,
    a: &Args,
    seen: &mut HashSet<String>,
) -> anyhow::Result<Vec<PageFigures>> {
    let mut queue: VecDeque<String> = VecDeque::from(["/console/".to_string()]);
    let mut queued: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    while let Some(url) = queue.pop_front() {
        if out.len() >= a.pages {
            break;
        }
        let k = kind(&url);
        if !seen.insert(k) {
            continue;
        }
        let (status, ct, body, first) = s.get(&url).await?;
        if !ct.starts_with("text/html") {
            continue;
        }
        anyhow::ensure!(status == 200, "{url}: {status}");
        for l in links(&body) {
            if queued.insert(kind(&l)) {
                queue.push_back(l);
            }
        }
        let mut times = Vec::with_capacity(a.renders);
        for _ in 0..a.renders {
            let (st, _, _, t) = s.get(&url).await?;
            anyhow::ensure!(st == 200, "{url}: {st} on a repeat");
            times.push(t);
        }
        out.push(PageFigures {
            url,
            bytes: body.len(),
            first,
            median: percentile(&mut times, 50.0),
            p99: percentile(&mut times, 99.0),
        });
    }
    Ok(out)
}

/// The data sets (see the module docs).
async fn seed(base: &str, issues: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    for i in 0..50 {
        let zip = crate::microdock::small_zip(&format!("com.bench.plugin{i:02}"), "1.0.0");
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(zip).file_name("p.zip"),
            )
            .text("plugin_key", "bench-key");
        let r = http
            .post(format!("{base}/api/plugins/upload"))
            .multipart(form)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "plugin: {}", r.text().await?);
    }
    // Diet: a pet with a plan made and applied.
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["tokens"]["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("diet login: {login}"))?
        .to_string();
    let pet: Value = http
        .post(format!("{base}/api/v1/pets"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench", "type": "dog", "age_months": 36, "weight_kg": 12, "neutered": true}))
        .send()
        .await?
        .json()
        .await?;
    let pet_id = pet["data"]["id"].clone();
    let task: Value = http
        .post(format!("{base}/api/v1/plans"))
        .bearer_auth(&token)
        .json(&json!({"pet_id": pet_id}))
        .send()
        .await?
        .json()
        .await?;
    let task_id = task["data"]["task_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut plan_id = Value::Null;
    for _ in 0..300 {
        let r: Value = http
            .get(format!("{base}/api/v1/tasks/{task_id}"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if r["data"]["status"] == "completed" {
            plan_id = r["data"]["plan_id"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let plan_id = plan_id
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the diet plan did not complete"))?
        .to_string();
    let r = http
        .post(format!("{base}/api/v1/plans/{plan_id}/apply"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "apply: {}", r.text().await?);
    // Workflows: two definitions, 20 executions of the short one (finished), one long one.
    let api = Api::admin(base).await?;
    let mut defs = Vec::new();
    for body in [
        json!({"name": "bench-3-steps", "steps": [
            {"id": "double", "type": "transform", "params": {"program": "{n: (.input.n * 2)}"}},
            {"id": "check", "type": "condition", "depends_on": ["double"], "params": {"predicate": ".steps.double.n >= 0"}},
            {"id": "label", "type": "transform", "depends_on": ["check"], "params": {"program": "{label: \"n=\\(.steps.double.n)\"}"}}
        ]}),
        json!({"name": "bench-long", "steps": [{"id": "wait", "type": "delay", "params": {"seconds": 3600}}]}),
    ] {
        let (st, d) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/workflow/definitions",
                Some(body),
            )
            .await?;
        anyhow::ensure!(st == 201, "definition: {st} {d}");
        defs.push(d["data"]["id"].as_str().unwrap_or_default().to_string());
    }
    for n in 0..21 {
        let def = if n == 20 { &defs[1] } else { &defs[0] };
        let (st, e) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/workflow/executions",
                Some(json!({"definition_id": def, "input": {"n": n}})),
            )
            .await?;
        anyhow::ensure!(st == 201 || st == 202, "execution: {st} {e}");
    }
    // Momentum: the `bench` user's workspace with `issues` issues.
    crate::momentum::seed(base, issues).await?;
    Ok(())
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let env = [
        ("RATE_LIMIT_ENABLED", "false"),
        ("RATE_LIMIT_PER_SECOND", "0"),
        ("TRELLIS_LOGIN_IP_PER_MINUTE", "0"),
    ];
    let server = Server::start(&a.server, None, &env)?;
    let t = Instant::now();
    seed(&server.base, a.issues).await?;
    println!("data sets seeded in {:.1} s", t.elapsed().as_secs_f64());
    let mut rows = Vec::new();
    for (user, password) in [("admin", ADMIN_PASSWORD), ("bench", "Bench-Password-1")] {
        let mut seen = HashSet::new();
        let mut s = Session::new(&server.base)?;
        s.sign_in(user, password).await?;
        for f in crawl(&mut s, &a, &mut seen).await? {
            rows.push((user, f));
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<8} {:<58} {:>8} {:>9} {:>10} {:>8}",
        "session", "page", "KiB", "first ms", "median ms", "p99 ms"
    );
    let mut worst: HashMap<&str, f64> = HashMap::new();
    for (user, f) in &rows {
        println!(
            "{:<8} {:<58} {:>8.1} {:>9.2} {:>10.2} {:>8.2}",
            user,
            f.url,
            f.bytes as f64 / 1024.0,
            ms(f.first),
            ms(f.median),
            ms(f.p99)
        );
        for (k, v) in [
            ("KiB", f.bytes as f64 / 1024.0),
            ("first ms", ms(f.first)),
            ("median ms", ms(f.median)),
        ] {
            let w = worst.entry(k).or_default();
            *w = w.max(v);
        }
    }
    println!(
        "{} page kinds; largest {:.1} KiB (limit 50); slowest first render {:.2} ms, slowest median {:.2} ms (limit 50)",
        rows.len(),
        worst.get("KiB").copied().unwrap_or(0.0),
        worst.get("first ms").copied().unwrap_or(0.0),
        worst.get("median ms").copied().unwrap_or(0.0),
    );
    Ok(())
}
