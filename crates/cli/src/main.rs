//! The `castellan` binary: serve, migrate and administer a Castellan identity server.

mod config;
mod demo;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use castellan_core::Core;
use castellan_core::clock::SystemClock;
use castellan_core::model::audit::AuditFilter;
use castellan_core::model::{ApplicationKind, KeyAlg, NewUser, Profile};
use castellan_core::services::ClientContext;
use castellan_core::services::applications::NewApplication;
use castellan_core::services::tenants::NewTenant;
use castellan_core::store::UserFilter;
use castellan_server::{Application, Settings, bootstrap};
use castellan_store::SqlStore;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "castellan", version, about = "Castellan: a self-hosted identity server")]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, env = "CASTELLAN_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load the demo tenants, applications and users (idempotent).
    Demo,
    /// Admin API tokens.
    #[command(subcommand)]
    AdminToken(AdminTokenCmd),
    /// Tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Applications.
    #[command(subcommand)]
    App(AppCmd),
    /// Users.
    #[command(subcommand)]
    User(UserCmd),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Messages kept in the development outbox.
    Outbox {
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// A tenant's audit log, newest first.
    Audit {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum AdminTokenCmd {
    /// Create an admin token (printed once).
    Create {
        #[arg(long, default_value = "cli")]
        label: String,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "default")]
        profile: String,
    },
    List,
    Show {
        tenant: String,
    },
}

#[derive(Subcommand)]
enum AppCmd {
    Create {
        #[arg(long)]
        tenant: String,
        name: String,
        #[arg(long, default_value = "confidential")]
        kind: String,
        #[arg(long)]
        client_id: Option<String>,
        /// The application's kumusoft `tagId` (unique across the server).
        #[arg(long)]
        kumusoft_tag: Option<String>,
        /// The application's MOSIP `appId` (unique across the server; selects the realm).
        #[arg(long)]
        mosip_app_id: Option<String>,
        /// A role of the application's service account (repeatable), e.g. OTP_MANAGER.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Refuse OTP requests naming more than one channel.
        #[arg(long)]
        single_otp_channel: bool,
        /// Where hosted 2FA results are called back (https to a public address unless private
        /// callbacks are allowed); a callback secret is made and printed once.
        #[arg(long)]
        callback_url: Option<String>,
        /// A redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// An address or CIDR block allowed to call the API with the application's key (repeatable).
        #[arg(long = "allowed-ip")]
        allowed_ips: Vec<String>,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
    RotateSecret {
        #[arg(long)]
        tenant: String,
        client_id: String,
    },
    /// A new API key (printed once).
    ApiKey {
        #[arg(long)]
        tenant: String,
        client_id: String,
    },
    /// A new callback secret (printed once); the earlier one stops signing at once.
    CallbackSecret {
        #[arg(long)]
        tenant: String,
        client_id: String,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Read from CASTELLAN_NEW_PASSWORD if not given, to keep it out of shell history.
        #[arg(long, env = "CASTELLAN_NEW_PASSWORD")]
        password: Option<String>,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
    SetPassword {
        #[arg(long)]
        tenant: String,
        user: String,
        #[arg(long, env = "CASTELLAN_NEW_PASSWORD")]
        password: String,
    },
    Unlock {
        #[arg(long)]
        tenant: String,
        user: String,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    Rotate {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "ES256")]
        alg: String,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(cli.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("castellan: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&settings);
    let outcome = run(cli, settings).await;
    // Audit events of the command are written before the process exits.
    let opened: Vec<Arc<Core>> = OPENED.lock().map(|mut o| std::mem::take(&mut *o)).unwrap_or_default();
    for core in opened {
        core.audit_settled().await;
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("castellan: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(settings: &Settings) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open_store(settings: &Settings) -> Result<Arc<SqlStore>, String> {
    let url = bootstrap::database_url(settings);
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| format!("{}: {e}", settings.data_dir.display()))?;
    }
    SqlStore::connect(&url).await.map(Arc::new).map_err(|e| format!("database {}: {e}", castellan_store::redact(&url)))
}

/// The cores this command opened, so that `main` can let their audit writers finish.
static OPENED: std::sync::Mutex<Vec<Arc<Core>>> = std::sync::Mutex::new(Vec::new());

async fn open_core(settings: &Settings) -> Result<Arc<Core>, String> {
    let store = open_store(settings).await?;
    let url = bootstrap::public_url(settings, settings.listen);
    let core = bootstrap::core(settings, store, Arc::new(SystemClock), url).map_err(|e| e.to_string())?;
    if let Ok(mut opened) = OPENED.lock() {
        opened.push(core.clone());
    }
    Ok(core)
}

fn print(json_mode: bool, value: &Value, text: impl FnOnce() -> String) {
    if json_mode {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

async fn run(cli: Cli, settings: Settings) -> Result<(), String> {
    let j = cli.json;
    let ctx = ClientContext::default();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            open_store(&settings).await?;
            print(j, &json!({"migrated": true}), || "migrations applied".into());
            Ok(())
        }
        Command::Demo => {
            let core = open_core(&settings).await?;
            let out = demo::run(&core, settings.dev).await.map_err(|e| e.to_string())?;
            print(j, &out, || serde_json::to_string_pretty(&out).unwrap_or_default());
            Ok(())
        }
        Command::AdminToken(AdminTokenCmd::Create { label }) => {
            let core = open_core(&settings).await?;
            let token = core.create_admin_token(&label).await.map_err(|e| e.to_string())?;
            print(j, &json!({"admin_token": token}), || token.clone());
            Ok(())
        }
        Command::Tenant(cmd) => {
            let core = open_core(&settings).await?;
            let v = match cmd {
                TenantCmd::Create { slug, name, profile } => {
                    let profile = Profile::parse(&profile).ok_or(format!("unknown profile {profile}"))?;
                    let display_name = name.unwrap_or_else(|| slug.clone());
                    json!(
                        core.create_tenant(NewTenant {
                            slug,
                            display_name,
                            profile,
                            dialects: None,
                            issuer: None,
                            audience: None
                        })
                        .await
                        .map_err(|e| e.to_string())?
                    )
                }
                TenantCmd::List => json!(core.list_tenants().await.map_err(|e| e.to_string())?),
                TenantCmd::Show { tenant } => json!(core.find_tenant(&tenant).await.map_err(|e| e.to_string())?),
            };
            print(j, &v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::App(cmd) => {
            let core = open_core(&settings).await?;
            let v = match cmd {
                AppCmd::Create {
                    tenant,
                    name,
                    kind,
                    client_id,
                    kumusoft_tag,
                    mosip_app_id,
                    roles,
                    single_otp_channel,
                    callback_url,
                    redirect_uris,
                    allowed_ips,
                } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    let kind = ApplicationKind::parse(&kind).ok_or("kind: public, confidential or service")?;
                    let new = NewApplication {
                        name,
                        kind,
                        client_id,
                        kumusoft_tag,
                        mosip_app_id,
                        roles,
                        allowed_ips,
                        callback_url,
                        redirect_uris,
                        single_otp_channel,
                        active: true,
                    };
                    let created = core.create_application(&t, new).await.map_err(|e| e.to_string())?;
                    let mut v = json!(created.app);
                    v["client_secret"] = json!(created.client_secret);
                    if let Some(s) = created.callback_secret {
                        v["callback_secret"] = json!(s);
                    }
                    v
                }
                AppCmd::List { tenant } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    json!(core.list_applications(&t).await.map_err(|e| e.to_string())?)
                }
                AppCmd::RotateSecret { tenant, client_id } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    json!({"client_secret": core.rotate_client_secret(&t, &client_id).await.map_err(|e| e.to_string())?})
                }
                AppCmd::ApiKey { tenant, client_id } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    let (key, prefix) = core.create_api_key(&t, &client_id).await.map_err(|e| e.to_string())?;
                    json!({"api_key": key, "prefix": prefix})
                }
                AppCmd::CallbackSecret { tenant, client_id } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    let app = core.get_application(&t, &client_id).await.map_err(|e| e.to_string())?;
                    if app.callback_url.is_none() {
                        return Err(format!("{client_id} has no callback URL"));
                    }
                    json!({"callback_secret": core.rotate_callback_secret(&t, &app).await.map_err(|e| e.to_string())?})
                }
            };
            print(j, &v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::User(cmd) => {
            let core = open_core(&settings).await?;
            let v = match cmd {
                UserCmd::Create { tenant, email, username, phone, password } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    let new = NewUser { email, username, phone, password, active: true, ..NewUser::default() };
                    json!(core.create_user(&t, new).await.map_err(|e| e.to_string())?)
                }
                UserCmd::List { tenant } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    json!(
                        core.list_users(&t, UserFilter { limit: 1000, ..UserFilter::default() })
                            .await
                            .map_err(|e| e.to_string())?
                    )
                }
                UserCmd::SetPassword { tenant, user, password } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    let u = core.find_user(&t, &user).await.map_err(|e| e.to_string())?.ok_or("no such user")?;
                    core.set_password(&t, u.id, &password, &ctx).await.map_err(|e| e.to_string())?;
                    json!({"password_set": true})
                }
                UserCmd::Unlock { tenant, user } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    let u = core.find_user(&t, &user).await.map_err(|e| e.to_string())?.ok_or("no such user")?;
                    core.unlock_user(&t, u.id, &ctx).await.map_err(|e| e.to_string())?;
                    json!({"unlocked": true})
                }
            };
            print(j, &v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::Keys(cmd) => {
            let core = open_core(&settings).await?;
            let v = match cmd {
                KeysCmd::Rotate { tenant, alg } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    let alg = KeyAlg::parse(&alg).ok_or("alg: HS256, RS256, ES256 or EdDSA")?;
                    let k = core.rotate_key(&t, alg).await.map_err(|e| e.to_string())?;
                    json!({"kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str()})
                }
                KeysCmd::List { tenant } => {
                    let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
                    let keys = core.list_keys(&t).await.map_err(|e| e.to_string())?;
                    json!(keys.iter().map(|k| json!({"kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(), "created_at": k.created_at})).collect::<Vec<_>>())
                }
            };
            print(j, &v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::Outbox { to, limit } => {
            let core = open_core(&settings).await?;
            let list = core.dev_outbox(to.as_deref(), limit).await.map_err(|e| e.to_string())?;
            let v = json!(list);
            print(j, &v, || {
                list.iter()
                    .map(|m| {
                        format!("{}  {}  {}\n{}\n", castellan_core::clock::rfc3339(m.created_at), m.recipient, m.subject, m.body)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        Command::Audit { tenant, limit } => {
            let core = open_core(&settings).await?;
            let t = core.find_tenant(&tenant).await.map_err(|e| e.to_string())?;
            let events = core.list_audit(&t, AuditFilter { limit, ..AuditFilter::default() }).await.map_err(|e| e.to_string())?;
            let v = json!(events);
            print(j, &v, || {
                events
                    .iter()
                    .map(|e| {
                        format!(
                            "{}  {:<22} {:<14} user={} ip={}",
                            castellan_core::clock::rfc3339(e.created_at),
                            e.action,
                            e.outcome,
                            e.user_id.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
                            e.ip.clone().unwrap_or_else(|| "-".into())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let store = open_store(&settings).await?;
    let listener_addr = settings.listen;
    // The public URL depends on the bound port when listening on port 0, so the core is built
    // after binding.
    let probe = tokio::net::TcpListener::bind(listener_addr).await.map_err(|e| format!("listen {listener_addr}: {e}"))?;
    let bound = probe.local_addr().map_err(|e| e.to_string())?;
    drop(probe);
    let mut settings = settings;
    settings.listen = bound;
    let core = bootstrap::core(&settings, store, Arc::new(SystemClock), bootstrap::public_url(&settings, bound))
        .map_err(|e| e.to_string())?;
    first_start(&core).await?;
    let mailer = bootstrap::transports(&settings).map_err(|e| e.to_string())?;
    let app = Application::build(settings, core, mailer).await.map_err(|e| format!("listen {bound}: {e}"))?;
    tracing::info!(address = %format!("http://{bound}"), "castellan listening");
    let (_stop, serving) = app.run(true).await;
    serving.await.map_err(|e| e.to_string())
}

/// On an empty database: a `default` tenant and an admin token, printed once.
async fn first_start(core: &Core) -> Result<(), String> {
    if !core.list_tenants().await.map_err(|e| e.to_string())?.is_empty() {
        return Ok(());
    }
    core.create_tenant(NewTenant {
        slug: "default".into(),
        display_name: "Default".into(),
        profile: Profile::Default,
        dialects: None,
        issuer: None,
        audience: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    let token = core.create_admin_token("first start").await.map_err(|e| e.to_string())?;
    eprintln!("\nFirst start: created the `default` tenant and this admin token (shown once, keep it):\n\n    {token}\n");
    Ok(())
}
