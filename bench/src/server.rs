//! A Castellan release binary run as a child process, and what the kernel says about it.

use crate::http::{Call, Conn, Result};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "bench-admin-token-4f1c9a7e2b8d6035";

pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    bin: PathBuf,
    data_dir: PathBuf,
    database_url: Option<String>,
    extra_env: Vec<(String, String)>,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts the server and returns it with the time from spawn to its first answered `/health`.
    pub async fn start(bin: &Path, data_dir: &Path, database_url: Option<&str>) -> Result<(Server, Duration)> {
        Self::start_with(bin, data_dir, database_url, &[]).await
    }

    /// [`Server::start`] with more `CASTELLAN_*` settings.
    pub async fn start_with(
        bin: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
        extra_env: &[(String, String)],
    ) -> Result<(Server, Duration)> {
        std::fs::create_dir_all(data_dir)?;
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("server.log"))?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env("CASTELLAN_LISTEN", addr.to_string())
            .env("CASTELLAN_DATA_DIR", data_dir)
            .env("CASTELLAN_ADMIN_TOKEN", ADMIN_TOKEN)
            // The load comes from one address; the per-IP limit would otherwise be the thing measured.
            .env("CASTELLAN_AUTH_RATE_LIMIT_PER_MINUTE", "1000000000")
            .env("CASTELLAN_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(url) = database_url {
            cmd.env("CASTELLAN_DATABASE_URL", url);
        }
        cmd.envs(extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let started = Instant::now();
        let child = cmd.spawn()?;
        let mut server = Server {
            addr,
            child,
            bin: bin.into(),
            data_dir: data_dir.into(),
            database_url: database_url.map(Into::into),
            extra_env: extra_env.to_vec(),
        };
        let health = Call::get("/health");
        loop {
            if let Ok(mut conn) = Conn::open(addr).await
                && let Ok((status, _)) = conn.send(&health).await
                && status.is_success()
            {
                return Ok((server, started.elapsed()));
            }
            if let Some(exit) = server.child.try_wait()? {
                return Err(format!("server exited with {exit}; see {}", data_dir.join("server.log").display()).into());
            }
            if started.elapsed() > Duration::from_secs(60) {
                server.stop();
                return Err("server did not answer /health within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Stops this process and starts the same configuration again.
    pub async fn restart(&mut self) -> Result<Duration> {
        self.stop();
        let (fresh, took) = Server::start_with(&self.bin, &self.data_dir, self.database_url.as_deref(), &self.extra_env).await?;
        *self = fresh;
        Ok(took)
    }

    /// SIGTERM, then wait for the graceful shutdown; nothing if it has ended already (its process
    /// id may belong to another process by now).
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            let _ = self.child.wait();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now, in MiB.
    pub fn rss_mib(&self) -> f64 {
        status_kib(self.pid(), "VmRSS:") / 1024.0
    }

    /// The resident set split as the kernel counts it (anonymous, file-backed, shared memory), in
    /// MiB: where growth comes from.
    pub fn rss_parts(&self) -> String {
        let part = |field| status_kib(self.pid(), field) / 1024.0;
        format!("anon {:.1}, file {:.1}, shmem {:.1}", part("RssAnon:"), part("RssFile:"), part("RssShmem:"))
    }

    /// Peak resident set size since start, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        status_kib(self.pid(), "VmHWM:") / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

fn status_kib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// User + system CPU seconds a process has used (Linux clock ticks are 1/100 s).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}
