//! The soak: a steady mixed load for a fixed time (20 minutes by default) on SQLite and on
//! PostgreSQL side by side, sampled every 30 s: the server's resident set, its open file
//! descriptors, the p99 latency of the window's requests and the database's size. Not a
//! throughput figure: the pace is fixed (each client pauses between requests), so that what grows
//! over time shows as a slope. Writes `soak.csv` and `soak.svg` and prints a Markdown summary.
//!
//! The load, per engine: six korastratum users that sign in (Argon2id at the server's default
//! cost), make 24 calls on the session (every sixth a refresh, the others a token check on the
//! session list), and sign out; and one kumusoft user who signs in, reads the one-time code from
//! the development outbox, verifies it and reads its profile with the token.

use crate::http::{Call, Conn, Result};
use crate::kumusoft;
use crate::server::{ADMIN_TOKEN, Server};
use crate::workloads::{self, PASSWORD};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Options {
    pub castellan: PathBuf,
    pub postgres: Option<String>,
    pub minutes: f64,
    pub sample_seconds: f64,
    pub work_dir: PathBuf,
    /// Where `soak.csv` and `soak.svg` go.
    pub out_dir: PathBuf,
}

const USERS: usize = 6;
const CALLS_PER_SESSION: usize = 24;
const PAUSE: Duration = Duration::from_millis(20);
const OTP_PAUSE: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug)]
struct Sample {
    minute: f64,
    rss_mib: f64,
    fds: f64,
    p99_ms: f64,
    db_mib: f64,
    requests: f64,
}

/// Latencies of the current window, and what went wrong.
#[derive(Default)]
struct Window {
    micros: Mutex<Vec<u32>>,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Window {
    fn record(&self, took: Duration) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        self.micros.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(us);
    }

    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if first.len() < 5 {
            first.push(what);
        }
    }

    /// The window's p99 in ms and its request count; starts the next window.
    fn take(&self) -> (f64, usize) {
        let mut v = std::mem::take(&mut *self.micros.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if v.is_empty() {
            return (f64::NAN, 0);
        }
        v.sort_unstable();
        let i = ((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1;
        (f64::from(v[i]) / 1000.0, v.len())
    }
}

/// One timed request; a non-2xx answer counts as an error.
async fn call(conn: &mut Conn, window: &Window, c: &Call) -> Option<Value> {
    let sent = Instant::now();
    match conn.send(c).await {
        Ok((status, body)) => {
            window.record(sent.elapsed());
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if status.is_success() {
                Some(json)
            } else {
                window.error(format!("{} {} → {status}: {json}", c.method, c.path));
                None
            }
        }
        Err(e) => {
            window.error(format!("{} {}: {e}", c.method, c.path));
            None
        }
    }
}

fn kora(c: Call) -> Call {
    c.header("x-tenant-id", workloads::TENANT)
}

/// A korastratum user: sign in, use the session, sign out, again.
async fn user(addr: SocketAddr, i: usize, window: Arc<Window>) -> Result<()> {
    let mut conn = Conn::open(addr).await?;
    let email = workloads::login_email(i);
    while !window.stop.load(Ordering::Relaxed) {
        let Some(body) = call(&mut conn, &window, &workloads::login_call(&email, PASSWORD)).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let Some((mut access, mut refresh)) = workloads::tokens_of(&body) else { continue };
        for k in 0..CALLS_PER_SESSION {
            tokio::time::sleep(PAUSE).await;
            if k % 6 == 5 {
                if let Some((a, r)) =
                    call(&mut conn, &window, &workloads::refresh_call(&refresh)).await.as_ref().and_then(workloads::tokens_of)
                {
                    (access, refresh) = (a, r);
                }
            } else {
                call(&mut conn, &window, &workloads::session_list_call(&access)).await;
            }
        }
        let logout =
            kora(Call::post_json("/api/v1/auth/logout", "{}".into())).header("authorization", format!("Bearer {access}"));
        call(&mut conn, &window, &logout).await;
        tokio::time::sleep(PAUSE).await;
    }
    Ok(())
}

/// A kumusoft user: password, the code from the outbox, tokens, the profile.
async fn otp_user(addr: SocketAddr, window: Arc<Window>) -> Result<()> {
    let mut conn = Conn::open(addr).await?;
    let email = "kumu-0@bench.example";
    // The newest message seen: the next code is in a newer one.
    let mut last_id = Value::Null;
    while !window.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(OTP_PAUSE).await;
        let login = Call::post_json(
            "/v1/auth/login",
            json!({"identifier": email, "password": PASSWORD, "tagId": kumusoft::TAG}).to_string(),
        );
        let Some(started) = call(&mut conn, &window, &login).await else { continue };
        // The outbox worker hands the message over at once; it may take a moment to show.
        let outbox =
            Call::get(&format!("/admin/v1/outbox?to={email}&limit=1")).header("authorization", format!("Bearer {ADMIN_TOKEN}"));
        let mut code = None;
        for _ in 0..100 {
            let list = conn.send(&outbox).await.ok().and_then(|(_, b)| serde_json::from_slice::<Value>(&b).ok());
            let newest = list.as_ref().map(|l| l[0].clone()).unwrap_or(Value::Null);
            let body = newest["body"].as_str().unwrap_or_default();
            let found =
                body.split_whitespace().find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit())).map(str::to_string);
            if found.is_some() && newest["id"] != Value::Null && newest["id"] != last_id {
                last_id = newest["id"].clone();
                code = found;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let Some(code) = code else {
            window.error("no code in the outbox".into());
            continue;
        };
        let verify = json!({"userId": started["data"]["userId"], "challengeId": started["data"]["challengeId"], "otp": code});
        let Some(tokens) = call(&mut conn, &window, &Call::post_json("/v1/auth/otp/verify", verify.to_string())).await else {
            continue;
        };
        let access = tokens["data"]["accessToken"].as_str().unwrap_or_default().to_string();
        call(&mut conn, &window, &Call::get("/v1/auth/me").header("authorization", format!("Bearer {access}"))).await;
    }
    Ok(())
}

fn open_fds(pid: u32) -> f64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(f64::NAN, |d| d.count() as f64)
}

async fn database_mib(data_dir: &Path, postgres: Option<&str>) -> f64 {
    match postgres {
        Some(url) => {
            use sqlx::Connection;
            let Ok(mut conn) = sqlx::PgConnection::connect(url).await else { return f64::NAN };
            let size: std::result::Result<(i64,), _> =
                sqlx::query_as("SELECT pg_database_size(current_database())").fetch_one(&mut conn).await;
            let _ = conn.close().await;
            size.map_or(f64::NAN, |(b,)| b as f64 / 1048576.0)
        }
        None => {
            ["castellan.db", "castellan.db-wal", "castellan.db-shm"]
                .iter()
                .filter_map(|f| std::fs::metadata(data_dir.join(f)).ok())
                .map(|m| m.len() as f64)
                .sum::<f64>()
                / 1048576.0
        }
    }
}

const GROWING: [&str; 6] = ["audit_events", "sessions", "refresh_tokens", "revoked_tokens", "outbox", "challenges"];

async fn row_counts(data_dir: &Path, postgres: Option<&str>) -> Vec<(&'static str, i64)> {
    use sqlx::Connection;
    let mut out = Vec::new();
    for table in GROWING {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: Option<i64> = match postgres {
            Some(url) => match sqlx::PgConnection::connect(url).await {
                Ok(mut c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut c).await.ok(),
                Err(_) => None,
            },
            None => {
                let url = format!("sqlite://{}", data_dir.join("castellan.db").display());
                match sqlx::SqliteConnection::connect(&url).await {
                    Ok(mut c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut c).await.ok(),
                    Err(_) => None,
                }
            }
        };
        out.push((table, n.unwrap_or(-1)));
    }
    out
}

struct EngineRun {
    samples: Vec<Sample>,
    /// Rows of the tables that grow, at the end: what the database's growth is made of.
    rows: Vec<(&'static str, i64)>,
    errors: u64,
    first_errors: Vec<String>,
}

async fn soak_one(opts: &Options, engine: &str) -> Result<EngineRun> {
    let data_dir = opts.work_dir.join(format!("soak-{engine}"));
    let _ = std::fs::remove_dir_all(&data_dir);
    let postgres = if engine == "postgresql" { opts.postgres.as_deref() } else { None };
    // Development mode for the outbox the OTP user reads its codes from.
    let dev = [("CASTELLAN_DEV".to_string(), "true".to_string())];
    let (server, _) = Server::start_with(&opts.castellan, &data_dir, postgres, &dev).await?;
    let addr = server.addr;
    workloads::prepare(addr).await?;
    kumusoft::prepare(addr, 1).await?;
    let window = Arc::new(Window::default());
    let mut tasks = Vec::new();
    for i in 0..USERS {
        tasks.push(tokio::spawn(user(addr, i, window.clone())));
    }
    tasks.push(tokio::spawn(otp_user(addr, window.clone())));
    let started = Instant::now();
    let total = Duration::from_secs_f64(opts.minutes * 60.0);
    let every = Duration::from_secs_f64(opts.sample_seconds);
    let mut samples = Vec::new();
    let mut next = every;
    while next <= total {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started + next)).await;
        let (p99_ms, requests) = window.take();
        let sample = Sample {
            minute: started.elapsed().as_secs_f64() / 60.0,
            rss_mib: server.rss_mib(),
            fds: open_fds(server.pid()),
            p99_ms,
            db_mib: database_mib(&data_dir, postgres).await,
            requests: requests as f64,
        };
        eprintln!(
            "soak {engine} {:5.1} min: RSS {:.1} MiB, {} fds, p99 {:.1} ms, DB {:.1} MiB, {} requests, {} errors",
            sample.minute,
            sample.rss_mib,
            sample.fds,
            sample.p99_ms,
            sample.db_mib,
            requests,
            window.errors.load(Ordering::Relaxed)
        );
        samples.push(sample);
        next += every;
    }
    window.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let first_errors = window.first_errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let rows = row_counts(&data_dir, postgres).await;
    Ok(EngineRun { samples, rows, errors: window.errors.load(Ordering::Relaxed), first_errors })
}

pub async fn run(opts: Options) -> Result<String> {
    let sqlite = soak_one(&opts, "sqlite");
    let runs: Vec<(&str, EngineRun)> = match opts.postgres {
        Some(_) => {
            let (a, b) = tokio::join!(sqlite, soak_one(&opts, "postgresql"));
            vec![("SQLite", a?), ("PostgreSQL", b?)]
        }
        None => vec![("SQLite", sqlite.await?)],
    };
    std::fs::create_dir_all(&opts.out_dir)?;
    let mut csv = String::from("engine,minute,rss_mib,open_fds,p99_ms,db_mib,requests\n");
    for (engine, run) in &runs {
        for s in &run.samples {
            csv.push_str(&format!(
                "{engine},{:.2},{:.2},{},{:.2},{:.2},{}\n",
                s.minute, s.rss_mib, s.fds, s.p99_ms, s.db_mib, s.requests
            ));
        }
    }
    std::fs::write(opts.out_dir.join("soak.csv"), csv)?;
    std::fs::write(opts.out_dir.join("soak.svg"), chart(&runs))?;
    Ok(summary(&runs, opts.sample_seconds))
}

/// Mean of the samples in the first and the last quarter of the run.
fn ends(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> (f64, f64) {
    let q = (samples.len() / 4).max(1);
    let mean = |s: &[Sample]| {
        let finite: Vec<f64> = s.iter().map(&f).filter(|x| x.is_finite()).collect();
        finite.iter().sum::<f64>() / finite.len().max(1) as f64
    };
    (mean(&samples[..q.min(samples.len())]), mean(&samples[samples.len().saturating_sub(q)..]))
}

fn summary(runs: &[(&str, EngineRun)], sample_seconds: f64) -> String {
    let mut out = String::from(
        "| engine | requests | errors | RSS, first → last quarter (MiB) | open fds | p99 (ms) | database (MiB) |\n|---|---|---|---|---|---|---|\n",
    );
    for (engine, run) in runs {
        let s = &run.samples;
        let requests: f64 = s.iter().map(|x| x.requests).sum();
        let (r0, r1) = ends(s, |x| x.rss_mib);
        let (f0, f1) = ends(s, |x| x.fds);
        let (p0, p1) = ends(s, |x| x.p99_ms);
        let (d0, d1) = ends(s, |x| x.db_mib);
        let minutes = s.last().map_or(0.0, |x| x.minute);
        let rate = requests / (minutes * 60.0).max(sample_seconds);
        out.push_str(&format!(
            "| {engine} | {requests:.0} ({rate:.0}/s) | {} | {r0:.1} → {r1:.1} | {f0:.0} → {f1:.0} | {p0:.1} → {p1:.1} | {d0:.1} → {d1:.1} |\n",
            run.errors
        ));
    }
    for (engine, run) in runs {
        let rows: Vec<String> = run.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
        out.push_str(&format!("\n{engine} rows at the end: {}\n", rows.join(", ")));
    }
    for (engine, run) in runs {
        for e in &run.first_errors {
            out.push_str(&format!("\n{engine} error: {e}"));
        }
    }
    out
}

/// A panel's title and what it plots of a sample.
type Panel = (&'static str, fn(&Sample) -> f64);

/// Four panels, one line per engine: a plain SVG the README shows.
fn chart(runs: &[(&str, EngineRun)]) -> String {
    const W: f64 = 720.0;
    const PANEL_H: f64 = 150.0;
    const LEFT: f64 = 60.0;
    const TOP: f64 = 30.0;
    const GAP: f64 = 40.0;
    let colours = ["#1f77b4", "#d62728"];
    let panels: [Panel; 4] = [
        ("resident set (MiB)", |s| s.rss_mib),
        ("open file descriptors", |s| s.fds),
        ("p99 latency per 30 s window (ms)", |s| s.p99_ms),
        ("database size (MiB)", |s| s.db_mib),
    ];
    let minutes = runs.iter().flat_map(|(_, r)| r.samples.iter().map(|s| s.minute)).fold(1.0, f64::max);
    let height = TOP + panels.len() as f64 * (PANEL_H + GAP) + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" viewBox=\"0 0 {W} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (i, (engine, _)) in runs.iter().enumerate() {
        let x = LEFT + i as f64 * 140.0;
        svg.push_str(&format!(
            "<line x1=\"{x}\" y1=\"14\" x2=\"{}\" y2=\"14\" stroke=\"{}\" stroke-width=\"2\"/><text x=\"{}\" y=\"18\">{engine}</text>\n",
            x + 20.0,
            colours[i % 2],
            x + 25.0
        ));
    }
    for (p, (title, value)) in panels.iter().enumerate() {
        let y0 = TOP + p as f64 * (PANEL_H + GAP) + 15.0;
        let values: Vec<f64> = runs.iter().flat_map(|(_, r)| r.samples.iter().map(value)).filter(|v| v.is_finite()).collect();
        let max = values.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.1;
        let plot_w = W - LEFT - 20.0;
        svg.push_str(&format!("<text x=\"{LEFT}\" y=\"{}\" font-weight=\"bold\">{title}</text>\n", y0 - 4.0));
        svg.push_str(&format!(
            "<rect x=\"{LEFT}\" y=\"{y0}\" width=\"{plot_w}\" height=\"{PANEL_H}\" fill=\"none\" stroke=\"#999\"/>\n"
        ));
        for t in 0..=4 {
            let v = max * f64::from(t) / 4.0;
            let y = y0 + PANEL_H - PANEL_H * f64::from(t) / 4.0;
            svg.push_str(&format!(
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                LEFT + plot_w,
                LEFT - 4.0,
                y + 4.0,
                if max >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") }
            ));
        }
        let step = if minutes > 10.0 { 5.0 } else { 1.0 };
        let mut m = 0.0;
        while m <= minutes + 1e-9 {
            let x = LEFT + plot_w * m / minutes;
            svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{m:.0} min</text>\n",
                y0 + PANEL_H + 13.0
            ));
            m += step;
        }
        for (i, (_, run)) in runs.iter().enumerate() {
            let points: Vec<String> = run
                .samples
                .iter()
                .filter(|s| value(s).is_finite())
                .map(|s| format!("{:.1},{:.1}", LEFT + plot_w * s.minute / minutes, y0 + PANEL_H - PANEL_H * value(s) / max))
                .collect();
            svg.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
                colours[i % 2],
                points.join(" ")
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}
