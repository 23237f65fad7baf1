//! The whole measurement: every workload interleaved with its yardstick, round after round, each
//! goal reported as the median of its per-round ratios.

use crate::beyond;
use crate::eauthenticator;
use crate::fastapi_users;
use crate::hashing::{self, Cost};
use crate::http::Result;
use crate::kumusoft;
use crate::load::{self, Plan, Stats};
use crate::mosip;
use crate::oidc;
use crate::oidc_provider::{self, OidcProvider};
use crate::server::{Server, cpu_seconds};
use crate::w9;
use crate::workloads::{self, Credentials};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub struct Options {
    pub castellan: PathBuf,
    pub python: Option<PathBuf>,
    pub postgres: Option<String>,
    pub rounds: usize,
    pub seconds: f64,
    pub warmup: f64,
    pub work_dir: PathBuf,
    /// bench/oidc-provider with its node_modules installed: the reference server of W10.
    pub oidc_provider: Option<PathBuf>,
    /// Run only these workloads (h, w1, w1b, w2, w3, w4), and skip the summary; for profiling.
    pub only: Vec<String>,
    /// W9's data as a share of its full size (1M users and sessions, 10M audit events).
    pub w9_scale: f64,
}

/// Figures of one round, by name.
pub(crate) type Round = BTreeMap<&'static str, f64>;

pub(crate) fn median(rounds: &[Round], key: &str) -> f64 {
    let mut v: Vec<f64> = rounds.iter().filter_map(|r| r.get(key).copied()).filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) struct Bench<'a> {
    pub(crate) opts: &'a Options,
    cores: usize,
    cost: Cost,
}

impl Bench<'_> {
    fn plan(&self, concurrency: usize) -> Plan {
        Plan {
            concurrency,
            warmup: Duration::from_secs_f64(self.opts.warmup),
            duration: Duration::from_secs_f64(self.opts.seconds),
        }
    }

    pub(crate) async fn run(
        &self,
        server: &Server,
        concurrency: usize,
        scripts: Vec<Box<dyn load::Script>>,
        expect: u16,
    ) -> Result<Stats> {
        let stats = load::run(server.addr, self.plan(concurrency), scripts).await?;
        let odd = stats.unexpected(expect);
        if !odd.is_empty() {
            eprintln!("    note: besides {expect}: {odd}");
        }
        Ok(stats)
    }

    async fn yardstick_h(&self, round: &mut Round) -> Result<()> {
        let (cost, cores, d) = (self.cost, self.cores, Duration::from_secs_f64(self.opts.seconds));
        let rust = tokio::task::spawn_blocking(move || hashing::rust_per_second(cost, cores, d)).await??;
        round.insert("H_rust", rust);
        let python = self.opts.python.clone();
        let c = tokio::task::spawn_blocking(move || hashing::c_per_second(python.as_deref(), cost, cores, d)).await?;
        round.insert("H_c", c.unwrap_or(f64::NAN));
        round.insert("H", c.map_or(rust, |c| c.max(rust)));
        eprintln!("    H: rust {rust:.1}/s, C {}", c.map_or("n/a".into(), |c| format!("{c:.1}/s")));
        Ok(())
    }

    /// W1 and its yardsticks at one concurrency.
    async fn logins(&self, server: &Server, c: usize, round: &mut Round, keys: [&'static str; 3]) -> Result<()> {
        let f = self.run(server, c, workloads::health(c), 200).await?;
        round.insert(keys[0], f.rate(200));
        let w1 = self.run(server, c, workloads::logins(c, Credentials::Correct), 200).await?;
        round.insert(keys[1], w1.rate(200));
        round.insert(keys[2], w1.percentile_ms(99.0));
        round.insert(if c == 8 { "W1_8_p50" } else { "W1_64_p50" }, w1.percentile_ms(50.0));
        eprintln!(
            "    c={c}: F {:.0}/s, W1 {:.1}/s p50 {:.0} ms p99 {:.0} ms",
            f.rate(200),
            w1.rate(200),
            w1.percentile_ms(50.0),
            w1.percentile_ms(99.0)
        );
        Ok(())
    }

    fn wants(&self, workload: &str) -> bool {
        self.opts.only.is_empty() || self.wants_explicitly(workload)
    }

    fn wants_explicitly(&self, workload: &str) -> bool {
        self.opts.only.iter().any(|w| w == workload)
    }

    async fn selected_round(&self, server: &Server, round: &mut Round) -> Result<()> {
        if self.wants("h") {
            self.yardstick_h(round).await?;
        }
        if self.wants("w1") {
            self.logins(server, 8, round, ["F8", "W1_8", "W1_8_p99"]).await?;
        }
        if self.wants("w1b") {
            let wrong = self.run(server, 8, workloads::logins(8, Credentials::WrongPassword), 401).await?;
            eprintln!("    W1b: wrong password {:.1}/s", wrong.rate(401));
        }
        if self.wants("w3") {
            let w3 = self.run(server, 8, workloads::session_lists(server.addr, 8).await?, 200).await?;
            eprintln!("    W3 {:.0}/s", w3.rate(200));
        }
        if self.wants("w4") {
            let w4 = self.run(server, 8, workloads::refreshes(server.addr, 8).await?, 200).await?;
            eprintln!("    W4 {:.0}/s", w4.rate(200));
        }
        if self.wants("w2") {
            self.w2(server, round).await?;
        }
        Ok(())
    }

    async fn sqlite_round(&self, server: &Server, round: &mut Round) -> Result<()> {
        self.yardstick_h(round).await?;
        self.logins(server, 8, round, ["F8", "W1_8", "W1_8_p99"]).await?;
        self.logins(server, 64, round, ["F64", "W1_64", "W1_64_p99"]).await?;
        round.insert("peak_rss", server.peak_rss_mib());
        let wrong = self.run(server, 8, workloads::logins(8, Credentials::WrongPassword), 401).await?;
        round.insert("W1b_wrong", wrong.rate(401));
        let unknown = self.run(server, 8, workloads::logins(8, Credentials::UnknownUser), 401).await?;
        round.insert("W1b_unknown", unknown.rate(401));
        eprintln!("    W1b: wrong password {:.1}/s, unknown user {:.1}/s", wrong.rate(401), unknown.rate(401));
        self.tokens(server, round).await?;
        self.w2(server, round).await
    }

    async fn tokens(&self, server: &Server, round: &mut Round) -> Result<()> {
        let w3 = self.run(server, 8, workloads::session_lists(server.addr, 8).await?, 200).await?;
        round.insert("W3", w3.rate(200));
        let w4 = self.run(server, 8, workloads::refreshes(server.addr, 8).await?, 200).await?;
        round.insert("W4", w4.rate(200));
        eprintln!("    W3 {:.0}/s, W4 refresh {:.0}/s", w3.rate(200), w4.rate(200));
        Ok(())
    }

    /// W2: one client validating tokens, alone and then while eight others log in.
    async fn w2(&self, server: &Server, round: &mut Round) -> Result<()> {
        let idle = self.run(server, 1, workloads::session_lists(server.addr, 1).await?, 200).await?;
        let probe = workloads::session_lists(server.addr, 1).await?;
        let (me, srv) = (std::process::id(), server.pid());
        let (me0, srv0) = (cpu_seconds(me), cpu_seconds(srv));
        let addr = server.addr;
        let load_plan = Plan { concurrency: 8, ..self.plan(8) };
        let background = tokio::spawn(load::run(addr, load_plan, workloads::logins(8, Credentials::Correct)));
        let busy = self.run(server, 1, probe, 200).await?;
        background.await??;
        let (me1, srv1) = (cpu_seconds(me), cpu_seconds(srv));
        round.insert("W2_idle_p99", idle.percentile_ms(99.0));
        round.insert("W2_busy_p99", busy.percentile_ms(99.0));
        round.insert("W2_client_share", (me1 - me0) / ((me1 - me0) + (srv1 - srv0)));
        eprintln!(
            "    W2: p99 {:.2} ms idle, {:.2} ms under W1 (load generator {:.0} % of CPU used)",
            idle.percentile_ms(99.0),
            busy.percentile_ms(99.0),
            100.0 * (me1 - me0) / ((me1 - me0) + (srv1 - srv0))
        );
        Ok(())
    }

    /// W5 and W6 on their own server: weak password hashing (no hash is in the measured path, and
    /// thousands of logins must first open the challenges), development outbox for the codes.
    /// One round, whatever `--rounds` says: a round signs every user in once per algorithm and
    /// reads each code back from the outbox, minutes that grow with each round; within it each
    /// algorithm is measured next to its F and (RS256) its S.
    async fn kumusoft(&self) -> Result<Vec<Round>> {
        // One challenge per user per algorithm and round, enough for 3,000 verifications a second
        // through the warm-up and the window (a worker that runs out repeats a spent code, which
        // is not counted).
        let users = (3000.0 * (self.opts.warmup + self.opts.seconds)).ceil() as usize;
        let extra: Vec<(String, String)> =
            [("CASTELLAN_ARGON2_MEMORY_KIB", "64"), ("CASTELLAN_ARGON2_ITERATIONS", "1"), ("CASTELLAN_DEV", "true")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let (server, _) = Server::start_with(&self.opts.castellan, &self.opts.work_dir.join("kumusoft"), None, &extra).await?;
        // The last eight users sign in for W3 only, so every W6 user has had as many messages.
        kumusoft::prepare(server.addr, users + 8).await?;
        // (algorithm, rate, F beside it, p99, signing time) keys of a round.
        let algs = [
            ("RS256", "W6_RS256", "W6_RS256_F", "W6_RS256_p99", "sign_RS256"),
            ("ES256", "W6_ES256", "W6_ES256_F", "W6_ES256_p99", "sign_ES256"),
            ("EdDSA", "W6_EdDSA", "W6_EdDSA_F", "W6_EdDSA_p99", "sign_EdDSA"),
        ];
        // The message each W6 user got last (one per sign-in started), and each W3 user.
        let (mut messages, mut w3_messages) = (0, 0);
        let mut rounds = Vec::new();
        for r in 0..1 {
            let mut round = Round::new();
            for (i, (alg, key, f_key, p99_key, sign_key)) in algs.into_iter().enumerate() {
                if r > 0 || i > 0 {
                    kumusoft::rotate(server.addr, alg).await?;
                }
                messages += 1;
                let calls = kumusoft::verify_calls(server.addr, 0, users, messages).await?;
                let f = self.run(&server, 8, workloads::health(8), 200).await?;
                let (n0, s0) = kumusoft::sign_totals(server.addr, alg).await?;
                let w6 = self.run(&server, 8, kumusoft::verifications(calls, 8), 200).await?;
                let (n1, s1) = kumusoft::sign_totals(server.addr, alg).await?;
                let sign_us = 1e6 * (s1 - s0) / (n1 - n0);
                round.insert(key, w6.rate(200));
                round.insert(f_key, f.rate(200));
                round.insert(sign_key, sign_us);
                round.insert(p99_key, w6.percentile_ms(99.0));
                eprintln!(
                    "    W6 {alg}: {:.0}/s (F {:.0}/s), p99 {:.1} ms; signing {sign_us:.0} µs per token",
                    w6.rate(200),
                    f.rate(200),
                    w6.percentile_ms(99.0)
                );
            }
            let d = Duration::from_secs_f64(self.opts.seconds.min(3.0));
            let s = tokio::task::spawn_blocking(move || mosip::rs256_signs_per_second(d)).await??;
            round.insert("K_S", s);
            eprintln!("    S: {s:.0} RS256 signs/s on one thread");
            let f = self.run(&server, 8, workloads::health(8), 200).await?;
            round.insert("K_F", f.rate(200));
            let w5 = self.run(&server, 8, kumusoft::jwks(8), 200).await?;
            round.insert("W5", w5.rate(200));
            eprintln!("    W5 JWKS: {:.0}/s ({:.2} × F)", w5.rate(200), w5.rate(200) / round["K_F"]);
            w3_messages += 1;
            let w3 = self.run(&server, 8, kumusoft::me_calls(server.addr, users, 8, w3_messages).await?, 200).await?;
            round.insert("K_W3", w3.rate(200));
            round.insert("K_W3_p99", w3.percentile_ms(99.0));
            eprintln!(
                "    W3 /v1/auth/me (EdDSA): {:.0}/s ({:.2} × F {:.0}/s), p99 {:.1} ms",
                w3.rate(200),
                w3.rate(200) / f.rate(200),
                f.rate(200),
                w3.percentile_ms(99.0)
            );
            rounds.push(round);
        }
        Ok(rounds)
    }

    /// fastapi-users' W1 (form login) against H and W3 (`/users/me`) against F, on the server of
    /// the main rounds (default Argon2id parameters).
    async fn fastapi_round(&self, server: &Server) -> Result<Round> {
        let mut round = Round::new();
        self.yardstick_h(&mut round).await?;
        let f = self.run(server, 8, workloads::health(8), 200).await?;
        let w1 = self.run(server, 8, fastapi_users::logins(8), 200).await?;
        let w3 = self.run(server, 8, fastapi_users::me_calls(server.addr, 8).await?, 200).await?;
        round.insert("FU_F", f.rate(200));
        round.insert("FU_W1", w1.rate(200));
        round.insert("FU_W1_p99", w1.percentile_ms(99.0));
        round.insert("FU_W3", w3.rate(200));
        round.insert("FU_W3_p99", w3.percentile_ms(99.0));
        eprintln!(
            "    fastapi-users: W1 login {:.1}/s ({:.2} × H, p99 {:.0} ms); W3 /users/me {:.0}/s ({:.2} × F {:.0}/s, p99 {:.1} ms)",
            w1.rate(200),
            w1.rate(200) / round["H"],
            w1.percentile_ms(99.0),
            w3.rate(200),
            w3.rate(200) / f.rate(200),
            f.rate(200),
            w3.percentile_ms(99.0)
        );
        Ok(round)
    }

    /// eauthenticator: session tokens per second against F, and submit → redirect latency with a
    /// callback receiver that answers in 5 ms. Its own server: callbacks to loopback need
    /// `allow_private_callbacks`, and the console account's confirmation mail is read from the
    /// development outbox (development mode changes nothing else on these paths).
    async fn eauthenticator(&self, database_url: Option<&str>, dir: &str) -> Result<()> {
        let env = [
            ("CASTELLAN_ALLOW_PRIVATE_CALLBACKS".to_string(), "true".to_string()),
            ("CASTELLAN_DEV".to_string(), "true".to_string()),
        ];
        let (server, _) = Server::start_with(&self.opts.castellan, &self.opts.work_dir.join(dir), database_url, &env).await?;
        let receiver = eauthenticator::receiver().await?;
        let users = 400;
        let fixture = eauthenticator::prepare(server.addr, receiver, users).await?;
        for r in 0..self.opts.rounds {
            let f = self.run(&server, 8, workloads::health(8), 200).await?;
            let st = self.run(&server, 8, eauthenticator::session_tokens(&fixture, 8, users), 200).await?;
            // Each sign-in spends its user's code of the current 30 s step: wait for a fresh step.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            tokio::time::sleep(Duration::from_secs(30 - now % 30)).await;
            let mut times = eauthenticator::submit_to_redirect(server.addr, &fixture, 200).await?;
            times.sort_by(f64::total_cmp);
            let p = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
            eprintln!(
                "    round {}: session-token {:.0}/s ({:.2} × F {:.0}/s, p99 {:.1} ms); submit → redirect p50 {:.1} ms, p99 {:.1} ms (n={})",
                r + 1,
                st.rate(200),
                st.rate(200) / f.rate(200),
                f.rate(200),
                st.percentile_ms(99.0),
                p(0.5),
                p(0.99),
                times.len()
            );
        }
        Ok(())
    }

    /// W3 (validateToken) and W4 (clientidsecretkey) interleaved with F and S, round after round.
    async fn mosip(&self, server: &Server) -> Result<Vec<Round>> {
        let fixture = mosip::prepare(server.addr).await?;
        let mut rounds = Vec::new();
        for r in 0..self.opts.rounds {
            let mut round = Round::new();
            let f = self.run(server, 8, workloads::health(8), 200).await?;
            let w3 = self.run(server, 8, mosip::validations(&fixture, 8), 200).await?;
            let d = Duration::from_secs_f64(self.opts.seconds.min(3.0));
            let s = tokio::task::spawn_blocking(move || mosip::rs256_signs_per_second(d)).await??;
            let w4 = self.run(server, 8, mosip::client_credentials(&fixture, 8), 200).await?;
            round.insert("M_F", f.rate(200));
            round.insert("M_W3", w3.rate(200));
            round.insert("M_W3_p99", w3.percentile_ms(99.0));
            round.insert("M_S", s);
            round.insert("M_W4", w4.rate(200));
            round.insert("M_W4_p99", w4.percentile_ms(99.0));
            let goal = 0.8 * self.cores as f64 * s;
            eprintln!(
                "    round {}: F {:.0}/s; W3 validateToken {:.0}/s ({:.2} × F, p99 {:.1} ms); S RS256 {s:.0} signs/s; \
                 W4 clientidsecretkey {:.0}/s ({:.2} × goal {goal:.0}/s, p99 {:.1} ms)",
                r + 1,
                f.rate(200),
                w3.rate(200),
                w3.rate(200) / f.rate(200),
                w3.percentile_ms(99.0),
                w4.rate(200),
                w4.rate(200) / goal,
                w4.percentile_ms(99.0)
            );
            rounds.push(round);
        }
        Ok(rounds)
    }

    /// W10 (client credentials, refresh, introspection) and W5 (discovery, JWKS) on the `oidc`
    /// dialect, each next to its yardstick: F, S, and oidc-provider's figure for the same call,
    /// measured in the same round by the same load generator.
    async fn oidc(&self, server: &Server, op: Option<&OidcProvider>) -> Result<Vec<Round>> {
        const C: usize = 8;
        let fixture = oidc::prepare(server.addr, C).await?;
        let (es, rs) = (&fixture.es256, &fixture.rs256);
        let mut rounds = Vec::new();
        for r in 0..self.opts.rounds {
            let mut round = Round::new();
            // Each Castellan window is followed at once by oidc-provider's for the same call, so
            // that the machine's drift falls on both sides of a ratio alike.
            let f = self.run(server, C, workloads::health(C), 200).await?;
            round.insert("O_F", f.rate(200));
            let cc_es = self.run(server, C, oidc::client_credentials(es, C), 200).await?;
            round.insert("O_CC_ES256", cc_es.rate(200));
            round.insert("O_CC_ES256_p99", cc_es.percentile_ms(99.0));
            if let Some(op) = op {
                let cc = self.run_at(op.addr, C, OidcProvider::client_credentials(oidc_provider::ES256, C)).await?;
                round.insert("OP_CC_ES256", cc.rate(200));
            }
            let token = oidc::service_token(server.addr, es).await?;
            let intro = self.run(server, C, oidc::introspections(es, &token, C), 200).await?;
            round.insert("O_INTROSPECT", intro.rate(200));
            round.insert("O_INTROSPECT_p99", intro.percentile_ms(99.0));
            if let Some(op) = op {
                let opaque = op.opaque_token().await?;
                let intro = self.run_at(op.addr, C, OidcProvider::introspections(&opaque, C)).await?;
                round.insert("OP_INTROSPECT", intro.rate(200));
            }
            let cc_rs = self.run(server, C, oidc::client_credentials(rs, C), 200).await?;
            round.insert("O_CC_RS256", cc_rs.rate(200));
            round.insert("O_CC_RS256_p99", cc_rs.percentile_ms(99.0));
            let d = Duration::from_secs_f64(self.opts.seconds.min(3.0));
            let s = tokio::task::spawn_blocking(move || mosip::rs256_signs_per_second(d)).await??;
            round.insert("O_S", s);
            if let Some(op) = op {
                let cc = self.run_at(op.addr, C, OidcProvider::client_credentials(oidc_provider::RS256, C)).await?;
                round.insert("OP_CC_RS256", cc.rate(200));
            }
            let refresh = self.run(server, C, oidc::refreshes(server.addr, es, C).await?, 200).await?;
            round.insert("O_REFRESH_ES256", refresh.rate(200));
            round.insert("O_REFRESH_ES256_p99", refresh.percentile_ms(99.0));
            // DPoP: the same client credentials with a proof per request (made here, as a client
            // makes them), and devices polling codes no user decides.
            let origin = format!("http://{}", server.addr);
            let token_path = es.endpoint("token");
            let call = beyond::service_token_call(&token_path, &es.svc_id, &es.svc_secret);
            let scripts = beyond::dpop_client_credentials(server.addr, &origin, &token_path, call, C).await?;
            let dpop = self.run(server, C, scripts, 200).await?;
            round.insert("O_CC_DPOP", dpop.rate(200));
            round.insert("O_CC_DPOP_p99", dpop.percentile_ms(99.0));
            let key = beyond::ProofKey::new()?;
            let d = Duration::from_secs_f64(self.opts.seconds.min(2.0));
            round.insert("O_PROOFS", tokio::task::spawn_blocking(move || beyond::proofs_per_second(&key, d)).await?);
            if let Some(op) = op {
                let origin = format!("http://{}", op.addr);
                let call = OidcProvider::token_call(oidc_provider::ES256);
                let scripts = beyond::dpop_client_credentials(op.addr, &origin, "/token", call, C).await?;
                round.insert("OP_CC_DPOP", self.run_at(op.addr, C, scripts).await?.rate(200));
            }
            let tv = format!("{}-tv", es.slug);
            let pollers = beyond::device_pollers(server.addr, &es.endpoint("auth/device"), &token_path, &tv, C).await?;
            round.insert("O_DEVICE_POLL", self.run(server, C, pollers, 400).await?.rate(400));
            if let Some(op) = op {
                let pollers = beyond::device_pollers(op.addr, "/device/auth", "/token", "tv", C).await?;
                round.insert("OP_DEVICE_POLL", load::run(op.addr, self.plan(C), pollers).await?.rate(400));
            }
            eprintln!(
                "    DPoP client credentials ES256 {:.0}/s ({:.2} × without a proof; {}; p99 {:.1} ms; proofs made {:.0}/s on one core); \
                 device polls {:.0}/s ({})",
                round["O_CC_DPOP"],
                round["O_CC_DPOP"] / round["O_CC_ES256"],
                match round.get("OP_CC_DPOP") {
                    Some(x) => format!("{:.2} × oidc-provider {x:.0}/s", round["O_CC_DPOP"] / x),
                    None => "oidc-provider not measured".into(),
                },
                round["O_CC_DPOP_p99"],
                round["O_PROOFS"],
                round["O_DEVICE_POLL"],
                match round.get("OP_DEVICE_POLL") {
                    Some(x) => format!("{:.2} × oidc-provider {x:.0}/s", round["O_DEVICE_POLL"] / x),
                    None => "oidc-provider not measured".into(),
                },
            );
            let userinfo = self.run(server, C, oidc::userinfos(server.addr, es, C).await?, 200).await?;
            round.insert("O_USERINFO", userinfo.rate(200) / round["O_F"]);
            eprintln!("    W3 userinfo (ES256): {:.0}/s ({:.2} × F)", userinfo.rate(200), userinfo.rate(200) / round["O_F"]);
            let disc = self.run(server, C, oidc::discovery(es, C), 200).await?;
            round.insert("O_DISCOVERY", disc.rate(200));
            if let Some(op) = op {
                round.insert("OP_DISCOVERY", self.run_at(op.addr, C, OidcProvider::discovery(C)).await?.rate(200));
            }
            let certs = self.run(server, C, oidc::certs(es, C), 200).await?;
            round.insert("O_JWKS", certs.rate(200));
            if let Some(op) = op {
                round.insert("OP_JWKS", self.run_at(op.addr, C, OidcProvider::jwks(C)).await?.rate(200));
            }
            let goal = 0.8 * self.cores as f64 * s;
            let vs = |key: &str, op_key: &str| match round.get(op_key) {
                Some(x) => format!("{:.2} × oidc-provider {x:.0}/s", round[key] / x),
                None => "oidc-provider not measured".into(),
            };
            eprintln!(
                "    round {}: F {:.0}/s; client_credentials ES256 {:.0}/s ({}, p99 {:.1} ms); introspection {:.0}/s ({}, p99 {:.1} ms); \
                 client_credentials RS256 {:.0}/s ({:.2} × goal {goal:.0}/s, S {s:.0} signs/s; {}); refresh ES256 {:.0}/s (p99 {:.1} ms); \
                 discovery {:.0}/s ({:.2} × F; {}); JWKS {:.0}/s ({:.2} × F; {})",
                r + 1,
                round["O_F"],
                round["O_CC_ES256"],
                vs("O_CC_ES256", "OP_CC_ES256"),
                round["O_CC_ES256_p99"],
                round["O_INTROSPECT"],
                vs("O_INTROSPECT", "OP_INTROSPECT"),
                round["O_INTROSPECT_p99"],
                round["O_CC_RS256"],
                round["O_CC_RS256"] / goal,
                vs("O_CC_RS256", "OP_CC_RS256"),
                round["O_REFRESH_ES256"],
                round["O_REFRESH_ES256_p99"],
                round["O_DISCOVERY"],
                round["O_DISCOVERY"] / round["O_F"],
                vs("O_DISCOVERY", "OP_DISCOVERY"),
                round["O_JWKS"],
                round["O_JWKS"] / round["O_F"],
                vs("O_JWKS", "OP_JWKS"),
            );
            rounds.push(round);
        }
        Ok(rounds)
    }

    /// A load run against another server than Castellan (the reference), all answers expected 200.
    async fn run_at(&self, addr: std::net::SocketAddr, concurrency: usize, scripts: Vec<Box<dyn load::Script>>) -> Result<Stats> {
        let stats = load::run(addr, self.plan(concurrency), scripts).await?;
        let odd = stats.unexpected(200);
        if !odd.is_empty() {
            eprintln!("    note: oidc-provider, besides 200: {odd}");
        }
        Ok(stats)
    }

    /// The reference server, when bench/run could install it.
    async fn oidc_provider(&self) -> Result<Option<OidcProvider>> {
        let Some(dir) = &self.opts.oidc_provider else {
            eprintln!("    note: no --oidc-provider: the W10 comparison with oidc-provider is skipped");
            return Ok(None);
        };
        let op = OidcProvider::start(dir, &self.opts.work_dir.join("oidc-provider.log")).await?;
        // V8 compiles the hot paths only after a few thousand calls; the first round's one-second
        // warm-up would measure part of that otherwise.
        let warm = Plan { concurrency: 8, warmup: Duration::ZERO, duration: Duration::from_secs(2) };
        let opaque = op.opaque_token().await?;
        for scripts in [
            OidcProvider::client_credentials(oidc_provider::ES256, 8),
            OidcProvider::client_credentials(oidc_provider::RS256, 8),
            OidcProvider::introspections(&opaque, 8),
            OidcProvider::discovery(8),
            OidcProvider::jwks(8),
        ] {
            load::run(op.addr, warm, scripts).await?;
        }
        Ok(Some(op))
    }

    async fn postgres_round(&self, server: &Server, round: &mut Round) -> Result<()> {
        self.yardstick_h(round).await?;
        self.logins(server, 8, round, ["F8", "W1_8", "W1_8_p99"]).await?;
        self.tokens(server, round).await
    }
}

pub async fn run(opts: Options) -> Result<String> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // The server's defaults (CASTELLAN_ARGON2_*), which the benchmark leaves as they are.
    let cost = Cost { memory_kib: 19456, iterations: 2, parallelism: 1 };
    let bench = Bench { opts: &opts, cores, cost };
    let _ = std::fs::remove_dir_all(&opts.work_dir);

    // W9 runs only when asked for: at full size it seeds gigabytes and takes a quarter of an hour.
    let mut w9_rows = String::new();
    if bench.wants_explicitly("w9") {
        w9_rows = w9::run(&bench, opts.w9_scale).await?;
        if opts.only.len() == 1 {
            return Ok(w9_rows);
        }
    }
    // Passkeys (`p`) likewise: their own table, when asked for.
    if bench.wants_explicitly("p") {
        let dir = opts.work_dir.as_path();
        let rows =
            crate::passkeys::rows(&opts.castellan, dir, opts.postgres.as_deref(), opts.rounds, opts.seconds, opts.warmup).await?;
        w9_rows = [w9_rows, rows].into_iter().filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n");
        if opts.only.iter().all(|w| w == "p" || w == "w9") {
            return Ok(w9_rows);
        }
    }

    eprintln!("== SQLite");
    let sqlite_dir = opts.work_dir.join("sqlite");
    let (mut server, _) = Server::start(&opts.castellan, &sqlite_dir, None).await?;
    let first_rss = server.rss_mib();
    workloads::prepare(server.addr).await?;
    // Idle: a restarted process that has its tenants and keys but has served nothing yet.
    server.restart().await?;
    let idle_rss = server.rss_mib();
    if !opts.only.is_empty() {
        if bench.wants("k") {
            bench.kumusoft().await?;
        }
        if bench.wants("f") {
            eprintln!("== fastapi-users (SQLite)");
            fastapi_users::prepare(server.addr).await?;
            for _ in 0..opts.rounds {
                bench.fastapi_round(&server).await?;
            }
        }
        if bench.wants("e") {
            eprintln!("== eauthenticator (SQLite)");
            bench.eauthenticator(None, "eauth-sqlite").await?;
            if let Some(url) = &opts.postgres {
                eprintln!("== eauthenticator (PostgreSQL)");
                bench.eauthenticator(Some(url), "eauth-postgres").await?;
            }
        }
        if bench.wants("m") {
            eprintln!("== mosip (SQLite)");
            bench.mosip(&server).await?;
            if let Some(url) = &opts.postgres {
                eprintln!("== mosip (PostgreSQL)");
                let (pg, _) = Server::start(&opts.castellan, &opts.work_dir.join("postgres"), Some(url)).await?;
                bench.mosip(&pg).await?;
            }
        }
        // The OIDC workloads' medians, which the README's section quotes.
        let mut summary = String::new();
        if bench.wants("o") {
            let op = bench.oidc_provider().await?;
            for (engine, url) in [("SQLite", None), ("PostgreSQL", opts.postgres.as_deref())] {
                if engine == "PostgreSQL" && url.is_none() {
                    continue;
                }
                eprintln!("== oidc ({engine})");
                let dir = opts.work_dir.join(format!("oidc-{}", engine.to_lowercase()));
                let (server, _) = Server::start(&opts.castellan, &dir, url).await?;
                let rounds = bench.oidc(&server, op.as_ref()).await?;
                oidc_rows(
                    &mut |w, what, figure, goal| summary.push_str(&format!("| {w} | {what} | {figure} | {goal} |\n")),
                    &rounds,
                    engine,
                    cores,
                );
            }
            summary = format!("{TABLE_HEAD}{summary}");
        }
        for r in 0..opts.rounds {
            eprintln!("  round {} (server pid {})", r + 1, server.pid());
            bench.selected_round(&server, &mut Round::new()).await?;
        }
        return Ok([summary, w9_rows].into_iter().filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n"));
    }
    let mut sqlite = Vec::new();
    for r in 0..opts.rounds {
        eprintln!("  round {}", r + 1);
        let mut round = Round::new();
        bench.sqlite_round(&server, &mut round).await?;
        sqlite.push(round);
    }
    eprintln!("== fastapi-users (SQLite)");
    fastapi_users::prepare(server.addr).await?;
    let mut fu = Vec::new();
    for _ in 0..opts.rounds {
        fu.push(bench.fastapi_round(&server).await?);
    }
    let mut starts = Vec::new();
    for _ in 0..5 {
        starts.push(server.restart().await?.as_secs_f64() * 1000.0);
    }
    starts.sort_by(f64::total_cmp);
    drop(server);

    eprintln!("== kumusoft (SQLite)");
    let k = bench.kumusoft().await?;

    eprintln!("== mosip (SQLite)");
    let (server, _) = Server::start(&opts.castellan, &opts.work_dir.join("mosip"), None).await?;
    let m = bench.mosip(&server).await?;
    drop(server);

    let op = bench.oidc_provider().await?;
    eprintln!("== oidc (SQLite)");
    let (server, _) = Server::start(&opts.castellan, &opts.work_dir.join("oidc-sqlite"), None).await?;
    let o = bench.oidc(&server, op.as_ref()).await?;
    drop(server);

    let mut pg = Vec::new();
    let mut m_pg = Vec::new();
    let mut o_pg = Vec::new();
    if let Some(url) = &opts.postgres {
        eprintln!("== mosip (PostgreSQL)");
        let (server, _) = Server::start(&opts.castellan, &opts.work_dir.join("postgres"), Some(url)).await?;
        m_pg = bench.mosip(&server).await?;
        drop(server);
        eprintln!("== oidc (PostgreSQL)");
        let (server, _) = Server::start(&opts.castellan, &opts.work_dir.join("oidc-postgresql"), Some(url)).await?;
        o_pg = bench.oidc(&server, op.as_ref()).await?;
        drop(server);
        eprintln!("== PostgreSQL");
        let (server, _) = Server::start(&opts.castellan, &opts.work_dir.join("postgres"), Some(url)).await?;
        workloads::prepare(server.addr).await?;
        for r in 0..opts.rounds {
            eprintln!("  round {}", r + 1);
            let mut round = Round::new();
            bench.postgres_round(&server, &mut round).await?;
            pg.push(round);
        }
    }

    let ratio = |rounds: &[Round], a: &str, b: &str| -> f64 {
        let per: Vec<Round> = rounds
            .iter()
            .map(|r| Round::from([("x", r.get(a).copied().unwrap_or(f64::NAN) / r.get(b).copied().unwrap_or(f64::NAN))]))
            .collect();
        median(&per, "x")
    };
    let one_hash_ms = 1000.0 * cores as f64 / median(&sqlite, "H");
    let mut md = String::new();
    let mut row =
        |w: &str, what: String, figure: String, goal: &str| md.push_str(&format!("| {w} | {what} | {figure} | {goal} |\n"));
    row(
        "H",
        format!("Argon2id m={} KiB t={} p={}, {cores} cores", cost.memory_kib, cost.iterations, cost.parallelism),
        format!(
            "Rust `argon2` {:.1}/s, C libargon2 {:.1}/s → H = {:.1}/s ({one_hash_ms:.1} ms per hash per core)",
            median(&sqlite, "H_rust"),
            median(&sqlite, "H_c"),
            median(&sqlite, "H")
        ),
        "yardstick",
    );
    row(
        "F",
        "GET /health, c=8 / c=64".into(),
        format!("{:.0}/s / {:.0}/s", median(&sqlite, "F8"), median(&sqlite, "F64")),
        "yardstick",
    );
    for (c, w, p) in [(8, "W1_8", "W1_8_p99"), (64, "W1_64", "W1_64_p99")] {
        let bound = (c as f64 / cores as f64 + 1.0) * one_hash_ms;
        row(
            "W1",
            format!("login, correct password, c={c}"),
            format!(
                "{:.2} × H ({:.1}/s); p50 {:.0} ms, p99 {:.0} ms (bound {bound:.0} ms)",
                ratio(&sqlite, w, "H"),
                median(&sqlite, w),
                median(&sqlite, &format!("{w}_p50")),
                median(&sqlite, p)
            ),
            "≥ 0.90 × H; p99 ≤ (c/cores+1) × one hash",
        );
    }
    row(
        "W1b",
        "wrong password / unknown user, c=8".into(),
        format!("{:.3} / {:.3} × W1", ratio(&sqlite, "W1b_wrong", "W1_8"), ratio(&sqlite, "W1b_unknown", "W1_8")),
        "within ±5 % of W1",
    );
    row(
        "W2",
        "p99 of GET /api/v1/auth/sessions (c=1) under W1 c=8 vs alone".into(),
        format!(
            "{:.2}× ({:.2} ms vs {:.2} ms; load generator {:.0} % of the CPU used)",
            ratio(&sqlite, "W2_busy_p99", "W2_idle_p99"),
            median(&sqlite, "W2_busy_p99"),
            median(&sqlite, "W2_idle_p99"),
            100.0 * median(&sqlite, "W2_client_share")
        ),
        "≤ 2×",
    );
    row(
        "W3",
        "GET /api/v1/auth/sessions (token + session check), c=8".into(),
        format!("{:.2} × F ({:.0}/s)", ratio(&sqlite, "W3", "F8"), median(&sqlite, "W3")),
        "≥ 0.5 × F",
    );
    row(
        "W4",
        "refresh rotation, c=8".into(),
        format!("{:.0}/s ({:.2} × F)", median(&sqlite, "W4"), ratio(&sqlite, "W4", "F8")),
        "≥ 2,000/s",
    );
    row(
        "W7",
        "RSS".into(),
        format!(
            "idle {idle_rss:.1} MiB (first start {first_rss:.1} MiB); peak under W1 c=64 {:.1} MiB (bound {:.1} MiB)",
            median(&sqlite, "peak_rss"),
            idle_rss + (cores as f64 * f64::from(cost.memory_kib) / 1024.0) + 10.0
        ),
        "idle ≤ 25 MB; ≤ idle + hashers × m + 10 MB",
    );
    row(
        "W8",
        "cold start to first /health answer".into(),
        format!("median {:.1} ms of 5 (min {:.1})", starts[starts.len() / 2], starts[0]),
        "≤ 100 ms",
    );
    row(
        "W5",
        "GET /.well-known/jwks.json, c=8".into(),
        format!("{:.2} × F ({:.0}/s)", ratio(&k, "W5", "K_F"), median(&k, "W5")),
        "≥ 0.8 × F",
    );
    for alg in ["RS256", "ES256", "EdDSA"] {
        let key = format!("W6_{alg}");
        let per_round: Vec<String> = k.iter().map(|r| format!("{:.0}", r[key.as_str()])).collect();
        let (figure, goal) = if alg == "RS256" {
            let per: Vec<Round> =
                k.iter().map(|r| Round::from([("x", r[key.as_str()] / (0.8 * cores as f64 * r["K_S"]))])).collect();
            (
                format!(
                    "{:.0}/s = {:.2} × goal (S = {:.0} RS256 signs/s on one thread)",
                    median(&k, &key),
                    median(&per, "x"),
                    median(&k, "K_S")
                ),
                "≥ 0.8 × cores × S",
            )
        } else {
            (format!("{:.0}/s", median(&k, &key)), "≥ 2,000/s (W4's floor)")
        };
        row(
            "W6",
            format!("kumusoft otp/verify → tokens ({alg}), c=8"),
            format!(
                "{figure}; rounds {}; p99 {:.1} ms; signing {:.0} µs per token",
                per_round.join(" / "),
                median(&k, &format!("{key}_p99")),
                median(&k, &format!("sign_{alg}"))
            ),
            goal,
        );
    }
    row(
        "W3 kumusoft",
        "GET /v1/auth/me (EdDSA), c=8".into(),
        format!("{:.2} × F ({:.0}/s), p99 {:.1} ms", ratio(&k, "K_W3", "K_F"), median(&k, "K_W3"), median(&k, "K_W3_p99")),
        "≥ 0.5 × F",
    );
    row(
        "W1 fastapi-users",
        "POST /auth/jwt/login (form), c=8".into(),
        format!("{:.2} × H ({:.1}/s), p99 {:.0} ms", ratio(&fu, "FU_W1", "H"), median(&fu, "FU_W1"), median(&fu, "FU_W1_p99")),
        "≥ 0.90 × H",
    );
    row(
        "W3 fastapi-users",
        "GET /users/me, c=8".into(),
        format!("{:.2} × F ({:.0}/s), p99 {:.1} ms", ratio(&fu, "FU_W3", "FU_F"), median(&fu, "FU_W3"), median(&fu, "FU_W3_p99")),
        "≥ 0.5 × F",
    );
    for (engine, rounds) in [("SQLite", &m), ("PostgreSQL", &m_pg)] {
        if rounds.is_empty() {
            continue;
        }
        row(
            "W3 mosip",
            format!("GET validateToken (RS256 verify + session read), c=8, {engine}"),
            format!(
                "{:.2} × F ({:.0}/s), p99 {:.1} ms",
                ratio(rounds, "M_W3", "M_F"),
                median(rounds, "M_W3"),
                median(rounds, "M_W3_p99")
            ),
            "≥ 0.5 × F",
        );
        let per: Vec<Round> = rounds.iter().map(|r| Round::from([("x", r["M_W4"] / (0.8 * cores as f64 * r["M_S"]))])).collect();
        row(
            "W4 mosip",
            format!("POST clientidsecretkey (RS256 token), c=8, {engine}"),
            format!(
                "{:.0}/s = {:.2} × goal (S = {:.0} RS256 signs/s on one thread; goal 0.8 × {cores} × S), p99 {:.1} ms",
                median(rounds, "M_W4"),
                median(&per, "x"),
                median(rounds, "M_S"),
                median(rounds, "M_W4_p99")
            ),
            "≥ 0.8 × cores × S",
        );
    }
    for (engine, rounds) in [("SQLite", &o), ("PostgreSQL", &o_pg)] {
        if rounds.is_empty() {
            continue;
        }
        oidc_rows(&mut row, rounds, engine, cores);
    }
    if !pg.is_empty() {
        row(
            "W1 pg",
            "login, c=8, PostgreSQL".into(),
            format!("{:.2} × H ({:.1}/s)", ratio(&pg, "W1_8", "H"), median(&pg, "W1_8")),
            "≥ 0.90 × H",
        );
        row(
            "W3 pg",
            "sessions, c=8, PostgreSQL".into(),
            format!("{:.2} × F ({:.0}/s)", ratio(&pg, "W3", "F8"), median(&pg, "W3")),
            "report",
        );
        row(
            "W4 pg",
            "refresh, c=8, PostgreSQL".into(),
            format!("{:.0}/s ({:.2} × F)", median(&pg, "W4"), ratio(&pg, "W4", "F8")),
            "report",
        );
    }
    let mut out = String::from(TABLE_HEAD);
    out.push_str(&md);
    Ok(out)
}

const TABLE_HEAD: &str = "| # | workload | measured (median of rounds) | goal |\n|---|---|---|---|\n";

/// The OpenID Connect rows: per-round ratios, their medians.
fn oidc_rows(row: &mut impl FnMut(&str, String, String, &str), rounds: &[Round], engine: &str, cores: usize) {
    let per = |f: &dyn Fn(&Round) -> f64| median(&rounds.iter().map(|r| Round::from([("x", f(r))])).collect::<Vec<_>>(), "x");
    let get = |r: &Round, k: &str| r.get(k).copied().unwrap_or(f64::NAN);
    let vs_op = |key: &str, op_key: &str| {
        let ratio = per(&|r| get(r, key) / get(r, op_key));
        if ratio.is_finite() {
            format!("{ratio:.2} × oidc-provider ({:.0}/s vs {:.0}/s)", median(rounds, key), median(rounds, op_key))
        } else {
            format!("{:.0}/s (oidc-provider not measured)", median(rounds, key))
        }
    };
    row(
        "W10",
        format!("oidc client_credentials, ES256 JWT, c=8, {engine}"),
        format!("{}, p99 {:.1} ms", vs_op("O_CC_ES256", "OP_CC_ES256"), median(rounds, "O_CC_ES256_p99")),
        "≥ 1.0 × oidc-provider",
    );
    row(
        "W10",
        format!("oidc introspection of one access token by its client, c=8, {engine}"),
        format!("{}, p99 {:.1} ms", vs_op("O_INTROSPECT", "OP_INTROSPECT"), median(rounds, "O_INTROSPECT_p99")),
        "≥ 1.0 × oidc-provider",
    );
    let goal = |r: &Round| get(r, "O_CC_RS256") / (0.8 * cores as f64 * get(r, "O_S"));
    let op_rs = per(&|r| get(r, "O_CC_RS256") / get(r, "OP_CC_RS256"));
    row(
        "W10",
        format!("oidc client_credentials, RS256 JWT, c=8, {engine}"),
        format!(
            "{:.0}/s = {:.2} × goal (S = {:.0} RS256 signs/s on one thread; goal 0.8 × {cores} × S), p99 {:.1} ms; {}",
            median(rounds, "O_CC_RS256"),
            per(&goal),
            median(rounds, "O_S"),
            median(rounds, "O_CC_RS256_p99"),
            if op_rs.is_finite() {
                format!("{op_rs:.2} × oidc-provider RS256 ({:.0}/s)", median(rounds, "OP_CC_RS256"))
            } else {
                "oidc-provider not measured".into()
            }
        ),
        "≥ 0.8 × cores × S",
    );
    row(
        "W10",
        format!("oidc client_credentials with a DPoP proof per request (Ed25519 proof, ES256 JWT), c=8, {engine}"),
        format!(
            "{}, {:.2} × without a proof, p99 {:.1} ms; proofs made {:.0}/s on one core",
            vs_op("O_CC_DPOP", "OP_CC_DPOP"),
            per(&|r| get(r, "O_CC_DPOP") / get(r, "O_CC_ES256")),
            median(rounds, "O_CC_DPOP_p99"),
            median(rounds, "O_PROOFS")
        ),
        "report (beside oidc-provider)",
    );
    row(
        "W10",
        format!("oidc device code polls, undecided (authorization_pending / slow_down), c=8, {engine}"),
        vs_op("O_DEVICE_POLL", "OP_DEVICE_POLL"),
        "report (beside oidc-provider)",
    );
    row(
        "W10",
        format!("oidc refresh_token grant (rotation, ES256 access + ID token), c=8, {engine}"),
        format!(
            "{:.0}/s ({:.2} × F), p99 {:.1} ms",
            median(rounds, "O_REFRESH_ES256"),
            per(&|r| get(r, "O_REFRESH_ES256") / get(r, "O_F")),
            median(rounds, "O_REFRESH_ES256_p99")
        ),
        "report (W4: ≥ 2,000/s on SQLite)",
    );
    for (what, key, op_key) in [("discovery", "O_DISCOVERY", "OP_DISCOVERY"), ("JWKS (certs)", "O_JWKS", "OP_JWKS")] {
        let op = median(rounds, op_key);
        row(
            "W5",
            format!("oidc {what}, c=8, {engine}"),
            format!(
                "{:.2} × F ({:.0}/s){}",
                per(&|r| get(r, key) / get(r, "O_F")),
                median(rounds, key),
                if op.is_finite() { format!("; oidc-provider {op:.0}/s") } else { String::new() }
            ),
            "≥ 0.8 × F",
        );
    }
}
