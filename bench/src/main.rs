//! `castellan-bench`: runs the performance workloads against a release build of Castellan and
//! prints the figures as a Markdown table (progress goes to stderr).

mod beyond;
mod eauthenticator;
mod fastapi_users;
mod hashing;
mod http;
mod kumusoft;
mod load;
mod mosip;
mod oidc;
mod oidc_provider;
mod passkeys;
mod seed;
mod server;
mod soak;
mod suite;
mod w9;
mod workloads;

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Castellan's load benchmarks, each against its yardstick in the same run")]
struct Args {
    /// The castellan binary to measure (a release build).
    #[arg(long, default_value = "target/release/castellan")]
    castellan: PathBuf,
    /// A Python with argon2-cffi, for the C reference Argon2id yardstick.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Also measure on this PostgreSQL database (its contents are replaced).
    #[arg(long)]
    postgres: Option<String>,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measuring window of each workload.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Scratch directory for the servers' data.
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,
    /// bench/oidc-provider with `npm ci` done: oidc-provider, the reference server of the OIDC
    /// workloads (`o`). Without it those run on Castellan alone.
    #[arg(long)]
    oidc_provider: Option<PathBuf>,
    /// Run only these workloads (h, w1, w1b, w2, w3, w4, k, m, f, e, o, p, w9) on SQLite, without the
    /// summary (but for `o`, `p` and `w9`, whose own rows are printed). `p` and `w9` run only when
    /// named here, on PostgreSQL too when `--postgres` is given.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// W9's data as a share of its full size (1M users and live sessions, 10M audit events); 0.1
    /// for a quick look.
    #[arg(long, default_value_t = 1.0)]
    w9_scale: f64,
    /// Instead of the workloads: the soak, this many minutes of steady mixed load on SQLite (and
    /// PostgreSQL with --postgres, side by side), writing soak.csv and soak.svg to --soak-out.
    #[arg(long)]
    soak_minutes: Option<f64>,
    #[arg(long, default_value = "bench")]
    soak_out: PathBuf,
    #[arg(long, default_value_t = 30.0)]
    soak_sample_seconds: f64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let a = Args::parse();
    if let Some(minutes) = a.soak_minutes {
        let opts = soak::Options {
            castellan: a.castellan,
            postgres: a.postgres,
            minutes,
            sample_seconds: a.soak_sample_seconds,
            work_dir: a.work_dir,
            out_dir: a.soak_out,
        };
        return finish(soak::run(opts).await);
    }
    let opts = suite::Options {
        castellan: a.castellan,
        python: a.python,
        postgres: a.postgres,
        rounds: a.rounds.max(1),
        seconds: a.seconds,
        warmup: a.warmup,
        work_dir: a.work_dir,
        oidc_provider: a.oidc_provider,
        only: a.only,
        w9_scale: a.w9_scale,
    };
    finish(suite::run(opts).await)
}

/// The table on standard output, or the error on standard error.
fn finish(result: http::Result<String>) -> std::process::ExitCode {
    match result {
        Ok(table) => {
            println!("{table}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("castellan-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
