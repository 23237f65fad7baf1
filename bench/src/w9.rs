//! W9, cost as the data grows: W1, W3 and W4 on a server whose database holds a million users,
//! a million live sessions and ten million audit events, against the same server set up on an
//! empty database. Both servers run side by side and the rounds alternate between them, so a
//! ratio compares figures taken minutes apart, not before and after the seeding.
//!
//! Memory: the server holds the sessions, users and refresh tokens its token checks read in a
//! bounded per-node cache, so what grows it is requests over many distinct sessions. The seeded
//! server, freshly started, spends the refresh token of each of 100,000 seeded sessions once and
//! checks the access token it gets back once (`GET /api/v1/auth/sessions`); its RSS is read
//! before and after. No password is hashed before that reading (a hashing thread keeps its
//! Argon2 memory, which W7 measures on its own).

use crate::http::{Conn, Result, expect_ok};
use crate::seed::{self, Scale, Seeded};
use crate::server::{ADMIN_TOKEN, Server};
use crate::suite::{Bench, Round, median};
use crate::workloads::{self, Credentials};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub const TABLE_HEAD: &str = "| # | workload | measured | goal |\n|---|---|---|---|\n";
/// Workers of the load, as in W3 and W4.
const C: usize = 8;

/// The W9 rows of every engine: SQLite, then PostgreSQL if the benchmark has a database.
pub async fn run(bench: &Bench<'_>, factor: f64) -> Result<String> {
    let scale = Scale::of(factor);
    eprintln!(
        "== W9 ({} users and live sessions, {} audit events; {} sessions touched)",
        count(scale.users),
        count(scale.audit_events),
        count(scale.touchable)
    );
    let mut md = String::from(TABLE_HEAD);
    md.push_str(&engine(bench, "SQLite", None, scale).await?);
    if let Some(url) = &bench.opts.postgres {
        md.push_str(&engine(bench, "PostgreSQL", Some(url), scale).await?);
    }
    Ok(md)
}

/// A server on a fresh database of this engine with the korastratum workloads' tenant and users.
async fn prepared(bench: &Bench<'_>, dir: &Path, url: Option<&str>) -> Result<Server> {
    let (server, _) = Server::start(&bench.opts.castellan, dir, url).await?;
    workloads::prepare(server.addr).await?;
    Ok(server)
}

async fn engine(bench: &Bench<'_>, engine: &str, pg: Option<&str>, scale: Scale) -> Result<String> {
    let tag = engine.to_lowercase();
    let (empty_dir, seeded_dir) =
        (bench.opts.work_dir.join(format!("w9-{tag}-empty")), bench.opts.work_dir.join(format!("w9-{tag}-seeded")));
    let urls = match pg {
        Some(url) => Some((fresh_database(url, "w9_empty").await?, fresh_database(url, "w9_seeded").await?)),
        None => None,
    };
    let mut empty = prepared(bench, &empty_dir, urls.as_ref().map(|u| u.0.as_str())).await?;
    let mut seeded = prepared(bench, &seeded_dir, urls.as_ref().map(|u| u.1.as_str())).await?;

    eprintln!("  seeding ({engine}, server stopped)");
    seeded.stop();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let sizes = match &urls {
        Some((_, url)) => seed::postgres(url, scale, now).await?,
        None => seed::sqlite(&seeded_dir.join("castellan.db"), scale, now).await?,
    };
    seeded.restart().await?;
    empty.restart().await?;
    let memory = memory(&empty, &seeded, scale.touchable).await?;
    check_seeded_rows(seeded.addr, scale).await?;
    // Fresh processes for the rounds, and the time each takes to start on its data.
    let starts = (start_ms(&mut empty).await?, start_ms(&mut seeded).await?);

    let mut rounds = Vec::new();
    for r in 0..bench.opts.rounds {
        eprintln!("  round {} ({engine})", r + 1);
        let mut round = Round::new();
        let order = if r % 2 == 0 { [("E", &empty), ("S", &seeded)] } else { [("S", &seeded), ("E", &empty)] };
        for (side, server) in order {
            measure(bench, server, side, &mut round).await?;
        }
        eprintln!(
            "    seeded ÷ empty: W1 {:.2}, W3 {:.2}, W4 {:.2}",
            round["S_W1"] / round["E_W1"],
            round["S_W3"] / round["E_W3"],
            round["S_W4"] / round["E_W4"]
        );
        rounds.push(round);
    }
    drop((empty, seeded));
    discard(&seeded_dir, pg, urls.as_ref()).await;
    Ok(rows(engine, &rounds, &memory, &sizes, starts))
}

/// RSS of both servers idle, and of the seeded one as more and more of its sessions are used.
struct Memory {
    idle_empty: f64,
    idle: f64,
    /// Sessions used so far, RSS then (MiB).
    steps: Vec<(u64, f64)>,
    peak: f64,
    pairs_per_second: f64,
}

async fn memory(empty: &Server, seeded: &Server, n: u64) -> Result<Memory> {
    let (idle_empty, idle) = (empty.rss_mib(), seeded.rss_mib());
    eprintln!("  refreshing and checking {} seeded sessions (RSS idle {idle:.1} MiB)", count(n));
    let (mut steps, mut done, mut seconds) = (Vec::new(), 0, 0.0);
    // The server's per-node cache holds up to 10,000 entries per map: readings below, at and
    // past that bound.
    for upto in [n / 10, n * 4 / 10, n] {
        seconds += touch(seeded.addr, done, upto).await?;
        done = upto;
        steps.push((done, seeded.rss_mib()));
        eprintln!(
            "    {} sessions: RSS {:.1} MiB ({}; {:.0} refresh + check pairs/s)",
            count(done),
            seeded.rss_mib(),
            seeded.rss_parts(),
            done as f64 / seconds
        );
    }
    Ok(Memory { idle_empty, idle, steps, peak: seeded.peak_rss_mib(), pairs_per_second: n as f64 / seconds })
}

/// Median of three restarts: the time from spawn to the first answered `/health`.
async fn start_ms(server: &mut Server) -> Result<f64> {
    let mut ms = Vec::new();
    for _ in 0..3 {
        ms.push(server.restart().await?.as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms[1])
}

fn rows(engine: &str, rounds: &[Round], m: &Memory, sizes: &Seeded, starts: (f64, f64)) -> String {
    let mut md = String::new();
    let mut row = |what: String, figure: String, goal: &str| md.push_str(&format!("| W9 | {what} | {figure} | {goal} |\n"));
    for (key, what) in [("W1", "login (W1)"), ("W3", "GET /api/v1/auth/sessions (W3)"), ("W4", "refresh rotation (W4)")] {
        let (s, e) = (format!("S_{key}"), format!("E_{key}"));
        let per: Vec<Round> = rounds.iter().map(|r| Round::from([("x", r[s.as_str()] / r[e.as_str()])])).collect();
        row(
            format!("{what}, c={C}, {engine}"),
            format!("{:.2} × empty ({} vs {})", median(&per, "x"), rate(median(rounds, &s)), rate(median(rounds, &e))),
            "≥ 0.85 × empty database",
        );
    }
    let (used, last) = m.steps.last().copied().unwrap_or((0, f64::NAN));
    let steps: Vec<String> = m.steps.iter().map(|(n, rss)| format!("{} {rss:.1}", count(*n))).collect();
    row(
        format!("RSS, {} seeded sessions refreshed and checked once each, {engine}", count(used)),
        format!(
            "idle {:.1} MiB (empty database {:.1}); after {last:.1} MiB = idle + {:.1} MiB (peak {:.1}); by sessions used: {} MiB; \
             {:.0} refresh + check pairs/s",
            m.idle,
            m.idle_empty,
            last - m.idle,
            m.peak,
            steps.join(", "),
            m.pairs_per_second
        ),
        "≤ idle + 50 MB",
    );
    row(format!("on disk (rows and indexes), {engine}"), disk(sizes), "report");
    row(
        format!("seeding (SQL, server stopped), {engine}"),
        format!(
            "{} users {:.0} s; {} sessions with a refresh token each {:.0} s; {} audit events {:.0} s",
            count(sizes.users.rows),
            sizes.users.seconds,
            count(sizes.sessions.rows),
            sizes.sessions.seconds,
            count(sizes.audit.rows),
            sizes.audit.seconds
        ),
        "report",
    );
    row(
        format!("start to first /health, median of 3, {engine}"),
        format!("empty {:.0} ms, seeded {:.0} ms", starts.0, starts.1),
        "report",
    );
    md
}

/// 1,000,000
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Requests per second, with a decimal only where the figure is small (logins).
fn rate(r: f64) -> String {
    if r < 100.0 { format!("{r:.1}/s") } else { format!("{}/s", count(r.round() as u64)) }
}

fn disk(s: &Seeded) -> String {
    // Bytes per row are megabytes per million rows.
    let per = |st: &seed::Stage| st.bytes / st.rows.max(1) as f64;
    format!(
        "{:.0} MB per million users; {:.0} MB per million sessions with their refresh tokens; {:.0} MB per million audit \
         events; {:.2} GB in all",
        per(&s.users),
        per(&s.sessions),
        per(&s.audit),
        s.total_bytes / 1e9
    )
}

/// W1, W3 and W4 on one of the two servers.
async fn measure(bench: &Bench<'_>, server: &Server, side: &'static str, round: &mut Round) -> Result<()> {
    let w1 = bench.run(server, C, workloads::logins(C, Credentials::Correct), 200).await?;
    let w3 = bench.run(server, C, workloads::session_lists(server.addr, C).await?, 200).await?;
    let w4 = bench.run(server, C, workloads::refreshes(server.addr, C).await?, 200).await?;
    let name = if side == "E" { "empty" } else { "seeded" };
    eprintln!(
        "    {name}: W1 {:.1}/s, W3 {:.0}/s (p99 {:.1} ms), W4 {:.0}/s (p99 {:.1} ms)",
        w1.rate(200),
        w3.rate(200),
        w3.percentile_ms(99.0),
        w4.rate(200),
        w4.percentile_ms(99.0)
    );
    let keys: [[&'static str; 3]; 2] = [["E_W1", "E_W3", "E_W4"], ["S_W1", "S_W3", "S_W4"]];
    let k = keys[usize::from(side == "S")];
    round.insert(k[0], w1.rate(200));
    round.insert(k[1], w3.rate(200));
    round.insert(k[2], w4.rate(200));
    Ok(())
}

/// Spends the known refresh token of seeded sessions `from..to` once each and checks the access
/// token each answer carries, `C` workers on their own connections; the seconds it took.
async fn touch(addr: SocketAddr, from: u64, to: u64) -> Result<f64> {
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..C as u64 {
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            for i in (from + w..to).step_by(C) {
                let (status, body) = conn.send(&workloads::refresh_call(&seed::refresh_token(i))).await?;
                let tokens = serde_json::from_slice(&body).ok().as_ref().and_then(workloads::tokens_of);
                let Some((access, _)) = tokens.filter(|_| status.is_success()) else {
                    return Err(format!("refresh of seeded session {i} answered {status}").into());
                };
                let (status, _) = conn.send(&workloads::session_list_call(&access)).await?;
                if !status.is_success() {
                    return Err(format!("session list of seeded session {i} answered {status}").into());
                }
            }
            Ok::<(), crate::http::BoxError>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The server reads the seeded rows as its own: the last seeded user signs in with the
/// benchmark's password, and an address that only looks like a seeded one is refused as taken
/// (the seeded skeletons are the server's).
async fn check_seeded_rows(addr: SocketAddr, scale: Scale) -> Result<()> {
    expect_ok(addr, &workloads::login_call(&seed::email(scale.users - 1), workloads::PASSWORD)).await?;
    let user =
        serde_json::json!({ "email": seed::LOOK_ALIKE, "password": workloads::PASSWORD, "email_verified": true, "active": true });
    let call = crate::http::Call::post_json(&format!("/admin/v1/tenants/{}/users", workloads::TENANT), user.to_string())
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"));
    let (status, body) = crate::http::once(addr, &call).await?;
    if status.as_u16() != 409 {
        return Err(format!("a look-alike of a seeded email answered {status} (want 409): {body}").into());
    }
    Ok(())
}

/// A new, empty database beside the benchmark's PostgreSQL database (`{name}_{suffix}`); its URL.
async fn fresh_database(url: &str, suffix: &str) -> Result<String> {
    let (maintenance, name, fresh) = sibling(url, suffix)?;
    let mut conn = PgConnection::connect(&maintenance).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    Ok(fresh)
}

/// The URL to connect to for maintenance (the benchmark's own database), the sibling's name, its URL.
fn sibling(url: &str, suffix: &str) -> Result<(String, String, String)> {
    let mut u = url::Url::parse(url)?;
    let name = format!("{}_{suffix}", u.path().trim_start_matches('/'));
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(format!("database name {name} is not a plain lower-case identifier").into());
    }
    u.set_path(&format!("/{name}"));
    Ok((url.to_string(), name, u.to_string()))
}

/// The seeded data is several gigabytes at full scale: dropped once measured (the server log stays).
async fn discard(seeded_dir: &Path, pg: Option<&str>, urls: Option<&(String, String)>) {
    if let (Some(url), Some(_)) = (pg, urls) {
        for suffix in ["w9_empty", "w9_seeded"] {
            if let Ok((maintenance, name, _)) = sibling(url, suffix)
                && let Ok(mut conn) = PgConnection::connect(&maintenance).await
            {
                let _ =
                    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await;
            }
        }
        return;
    }
    for file in ["castellan.db", "castellan.db-wal", "castellan.db-shm"] {
        let _ = std::fs::remove_file(seeded_dir.join(file));
    }
}
