//! The `castellan` binary: serve, migrate and administer a Castellan identity server.

use castellan_cli::{config, demo};

mod maintenance;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use castellan_core::clock::SystemClock;
use castellan_core::model::audit::AuditFilter;
use castellan_core::model::{ApplicationKind, AuthMethod, Dialect, GrantType, KeyAlg, NewUser, OAuthClient, Profile};
use castellan_core::services::ClientContext;
use castellan_core::services::applications::NewApplication;
use castellan_core::services::tenants::NewTenant;
use castellan_core::store::UserFilter;
use castellan_core::{Core, CoreError};
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
    /// Data directory (CASTELLAN_DATA_DIR): the SQLite database and the master key.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once per process: the size of a variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server (the default). A first start creates the data directory, the schema, a
    /// `default` tenant and an admin token, printed once.
    Serve {
        /// Address to listen on (CASTELLAN_LISTEN), e.g. 127.0.0.1:8080 or 0.0.0.0:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Apply database migrations and exit (each in a transaction of its own).
    Migrate {
        /// Only say which migrations would run; change nothing. Exits 1 when the database's
        /// schema is newer than this binary.
        #[arg(long)]
        check: bool,
    },
    /// Back up the database: on SQLite an online, consistent copy to PATH while the server runs;
    /// on PostgreSQL the pg_dump command to run (nothing is written). Either way, where the master
    /// key is: it must be kept as well.
    Backup {
        /// A new file for the copy (on PostgreSQL, the file the printed pg_dump command writes).
        path: PathBuf,
    },
    /// Restore a SQLite backup made by `castellan backup`, with the server stopped: the copy's
    /// integrity and schema are checked first, and the database it replaces is kept beside it.
    Restore {
        /// The backup file.
        path: PathBuf,
    },
    /// Load the demo tenants, applications and users of every dialect (idempotent); on a fresh
    /// data directory it first sets it up as `serve` would.
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
    /// Messages kept in the development outbox, newest first (in development mode also the
    /// callbacks the dev callback receiver got: `--to callback-receiver`).
    Outbox {
        /// Only messages to this recipient.
        #[arg(long)]
        to: Option<String>,
        /// How many, newest first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// A tenant's audit log, newest first.
    Audit {
        #[arg(long, required_unless_present = "unscoped")]
        tenant: Option<String>,
        /// Instead: the events that name no tenant (an unknown refresh token, code key or API key).
        #[arg(long, conflicts_with = "tenant")]
        unscoped: bool,
        /// How many, newest first.
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
    /// Create a tenant.
    Create {
        /// 2-63 characters of a-z, 0-9, '-' or '_'.
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        /// Which dialect's rules and defaults the tenant starts with.
        #[arg(long, default_value = "default", value_parser = ["default", "korastratum", "kumusoft", "mosip", "eauthenticator", "fastapi-users", "oidc"])]
        profile: String,
    },
    /// List tenants (a table; `--json` for JSON).
    List,
    /// Show one tenant.
    Show {
        /// The tenant's slug or id.
        tenant: String,
    },
    /// Set the tenant's WebAuthn relying party (passkeys): replaces the policy's `webauthn` part.
    Webauthn {
        /// The tenant's slug or id.
        tenant: String,
        /// The relying party id: a domain name (default: the public URL's host).
        #[arg(long)]
        rp_id: Option<String>,
        /// An origin browsers may report (repeat for several; default: the public URL's).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// An authenticator model (AAGUID) allowed to register (repeat; none: any).
        #[arg(long = "allowed-aaguid")]
        allowed_aaguids: Vec<String>,
    },
}

// Parsed once per process, as `Command` is.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum AppCmd {
    /// Create an application; its client secret (confidential and service kinds) and callback
    /// secret (with a callback URL) are printed once.
    Create {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The application's display name.
        name: String,
        #[arg(long, default_value = "confidential", value_parser = ["public", "confidential", "service"])]
        kind: String,
        /// The client id (default: a generated one).
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
        /// Offer the user's passkeys and security keys on the hosted 2FA page, beside the code.
        #[arg(long)]
        hosted_webauthn: bool,
        /// Where hosted 2FA results are called back (https to a public address unless private
        /// callbacks are allowed); a callback secret is made and printed once.
        #[arg(long)]
        callback_url: Option<String>,
        /// A redirect URI (repeatable): hosted 2FA's, and an OpenID Connect client's (exact
        /// match; loopback http at any port for native apps).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// An address or CIDR block allowed to call the API with the application's key (repeatable).
        #[arg(long = "allowed-ip")]
        allowed_ips: Vec<String>,
        #[command(flatten)]
        oauth: OAuthClientArgs,
    },
    /// List a tenant's applications.
    List {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
    },
    /// A new client secret (printed once); the earlier one stops working at once.
    RotateSecret {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The application's client id.
        client_id: String,
    },
    /// A new API key (printed once).
    ApiKey {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The application's client id.
        client_id: String,
    },
    /// A new callback secret (printed once); the earlier one stops signing at once.
    CallbackSecret {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The application's client id.
        client_id: String,
    },
}

/// An application's settings as an OpenID Connect client; each left out keeps the kind's default.
#[derive(clap::Args)]
struct OAuthClientArgs {
    /// OpenID Connect: where a logout may send the browser back to (repeatable; exact match).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// OpenID Connect: a grant type the client may use (repeatable; default: authorization_code
    /// and refresh_token, client_credentials for a service).
    #[arg(long = "grant-type", value_parser = [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ])]
    grant_types: Vec<String>,
    /// OpenID Connect: a scope the client may be granted (repeatable; default: every one).
    #[arg(long = "scope", value_parser = ["openid", "profile", "email", "phone", "offline_access"])]
    scopes: Vec<String>,
    /// OpenID Connect: how the client authenticates at the token endpoint (default:
    /// client_secret_basic with a secret, none for a public client).
    #[arg(long, value_parser = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"])]
    token_endpoint_auth_method: Option<String>,
    /// OpenID Connect, private_key_jwt: the client's public keys, a JWK set as JSON.
    #[arg(long)]
    jwks: Option<String>,
    /// OpenID Connect, private_key_jwt: where the client's public keys are fetched from.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// OpenID Connect: the client's users are never asked for consent.
    #[arg(long)]
    first_party: bool,
    /// OpenID Connect: PKCE even though the client has a secret (public clients always need it).
    #[arg(long)]
    require_pkce: bool,
    /// OpenID Connect: the `aud` of the client's access tokens (default: its client id).
    #[arg(long)]
    access_token_audience: Option<String>,
    /// OpenID Connect: the client may introspect tokens issued to the tenant's other clients.
    #[arg(long)]
    introspect_any: bool,
    /// OpenID Connect: the client's authorization requests must come through PAR (RFC 9126).
    #[arg(long)]
    require_par: bool,
    /// OpenID Connect: the client's token requests must carry a DPoP proof (RFC 9449).
    #[arg(long)]
    dpop_bound: bool,
    /// OpenID Connect, token exchange: an audience besides its own it may get tokens for (repeatable).
    #[arg(long = "exchange-audience")]
    exchange_audiences: Vec<String>,
    /// OpenID Connect, token exchange: it may act for others (delegation).
    #[arg(long)]
    exchange_delegation: bool,
    /// OpenID Connect: where logout tokens are POSTed when a sign-in the client took part in ends.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
}

impl OAuthClientArgs {
    fn into_client(self) -> Result<OAuthClient, String> {
        let grant_types = self
            .grant_types
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| format!("grant_types: unknown grant type {g}")))
            .collect::<Result<_, _>>()?;
        let token_endpoint_auth_method = self
            .token_endpoint_auth_method
            .map(|m| AuthMethod::parse(&m).ok_or_else(|| format!("token_endpoint_auth_method: unknown method {m}")))
            .transpose()?;
        Ok(OAuthClient {
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types,
            scopes: self.scopes,
            token_endpoint_auth_method,
            first_party: self.first_party,
            require_pkce: self.require_pkce,
            access_token_audience: self.access_token_audience,
            introspect_any: self.introspect_any,
            require_par: self.require_par,
            jwks: self.jwks.map(|j| serde_json::from_str(&j).map_err(|e| format!("jwks: not JSON: {e}"))).transpose()?,
            jwks_uri: self.jwks_uri,
            dpop_bound: self.dpop_bound,
            exchange_audiences: self.exchange_audiences,
            exchange_delegation: self.exchange_delegation,
            backchannel_logout_uri: self.backchannel_logout_uri,
        })
    }
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user (an email, a username or a phone number at least).
    Create {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Read from CASTELLAN_NEW_PASSWORD if not given, to keep it out of shell history.
        #[arg(long, env = "CASTELLAN_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// List a tenant's users (the first 1,000).
    List {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
    },
    /// Set a user's password (checked against the tenant's policy).
    SetPassword {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The user's email, username or phone number.
        user: String,
        #[arg(long, env = "CASTELLAN_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Lift a lockout.
    Unlock {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The user's email, username or phone number.
        user: String,
    },
    /// List a user's passkeys and security keys.
    Credentials {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The user's email, username or phone number.
        user: String,
    },
    /// Remove one of a user's passkeys or security keys (its id, as `credentials` lists it).
    RemoveCredential {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The user's email, username or phone number.
        user: String,
        /// The credential's id.
        credential: String,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Make a new active signing key; the current one of that algorithm keeps verifying while
    /// it retires.
    Rotate {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// The algorithm of the new key (required: a tenant's tokens keep their algorithm only if
        /// its new key has it).
        #[arg(long, value_parser = ["HS256", "RS256", "ES256", "EdDSA"])]
        alg: String,
    },
    /// List a tenant's signing keys.
    List {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let mut settings = match config::load(cli.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("castellan: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Serve { listen: Some(l) }) = &cli.command {
        settings.listen = *l;
    }
    if let Some(d) = cli.data_dir.take() {
        settings.data_dir = d;
    }
    for warning in config::unknown_variables(std::env::vars().map(|(k, _)| k)) {
        eprintln!("castellan: {warning}");
    }
    // The whole configuration is checked before anything is created or opened.
    if let Err(problems) = bootstrap::check(&settings) {
        eprintln!("castellan: the configuration is refused; nothing was changed:");
        for p in problems {
            eprintln!("  - {p}");
        }
        return ExitCode::FAILURE;
    }
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

/// Tenants as a table: slug, profile, dialects, display name, id.
fn tenant_table(tenants: &[castellan_core::model::Tenant]) -> String {
    let rows: Vec<[String; 5]> = tenants
        .iter()
        .map(|t| {
            [
                t.slug.clone(),
                t.profile.as_str().to_string(),
                t.dialects.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(","),
                t.display_name.clone(),
                t.id.to_string(),
            ]
        })
        .collect();
    let header = ["SLUG", "PROFILE", "DIALECTS", "NAME", "ID"].map(str::to_string);
    let widths: Vec<usize> =
        (0..5).map(|i| rows.iter().chain(std::iter::once(&header)).map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    std::iter::once(&header)
        .chain(rows.iter())
        .map(|r| r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A password rule code (`min_length:12`) as a sentence.
fn rule_in_words(rule: &str) -> String {
    let (name, arg) = rule.split_once(':').unwrap_or((rule, ""));
    match name {
        "min_length" => format!("at least {arg} characters"),
        "max_length" => format!("at most {arg} characters"),
        "uppercase" => "an upper-case letter".into(),
        "lowercase" => "a lower-case letter".into(),
        "digit" => "a digit".into(),
        "special" => format!("one of {arg}"),
        "common_password" => "not a commonly used password".into(),
        _ => rule.to_string(),
    }
}

/// A core error in words an operator can act on: which field, which rule.
fn describe(e: CoreError) -> String {
    match e {
        CoreError::Validation(fields) => fields.iter().map(|(f, why)| format!("{f}: {why}")).collect::<Vec<_>>().join("; "),
        CoreError::WeakPassword(rules) => {
            let words: Vec<String> = rules.iter().map(|r| rule_in_words(r)).collect();
            format!("the password does not meet the tenant's policy: {}", words.join("; "))
        }
        CoreError::TenantNotFound => "no such tenant".into(),
        CoreError::NotFound => "not found".into(),
        other => castellan_core::error::Chain(&other).to_string(),
    }
}

fn init_logging(settings: &Settings) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a terminal: in a file or a log collector they are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Whether a command may set up a new deployment (data directory, database, master key).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// `serve`, `demo`, `migrate`.
    Create,
    /// Every other command works on an existing deployment only: a typo in CASTELLAN_DATA_DIR
    /// must not silently make a new master key.
    Existing,
}

async fn open_store(settings: &Settings, setup: Setup) -> Result<Arc<SqlStore>, String> {
    let url = bootstrap::database_url(settings);
    if setup == Setup::Existing {
        let missing_db = bootstrap::sqlite_path(settings).is_some_and(|p| !p.exists());
        if missing_db {
            return Err(format!(
                "no Castellan data directory at {}; set CASTELLAN_DATA_DIR (or --data-dir, --config) to the one `castellan serve` uses",
                settings.data_dir.display()
            ));
        }
        if !bootstrap::master_key_exists(settings) {
            return Err(format!(
                "no Castellan data directory at {} (no master key there); set CASTELLAN_DATA_DIR to the one `castellan serve` \
                 uses, or CASTELLAN_MASTER_KEY as the server has it",
                settings.data_dir.display()
            ));
        }
    }
    if url.starts_with("sqlite:") {
        bootstrap::create_data_dir(&settings.data_dir).map_err(|e| e.to_string())?;
    }
    // The store names the database (host, port, name or file) and the cause itself.
    SqlStore::connect(&url).await.map(Arc::new).map_err(|e| e.to_string())
}

/// The cores this command opened, so that `main` can let their audit writers finish.
static OPENED: std::sync::Mutex<Vec<Arc<Core>>> = std::sync::Mutex::new(Vec::new());

async fn open_core(settings: &Settings, setup: Setup) -> Result<Arc<Core>, String> {
    let store = open_store(settings, setup).await?;
    let url = bootstrap::public_url(settings, settings.listen);
    let core = bootstrap::core(settings, store, Arc::new(SystemClock), url).map_err(|e| e.to_string())?;
    if let Ok(mut opened) = OPENED.lock() {
        opened.push(core.clone());
    }
    Ok(core)
}

/// Writes a line to standard output. A reader that went away (`| head`) ends the output, not the
/// process with a panic.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|_| stdout.flush());
}

fn print(json_mode: bool, value: &Value, text: impl FnOnce() -> String) {
    if json_mode {
        out(&value.to_string());
    } else {
        out(&text());
    }
}

async fn run(cli: Cli, settings: Settings) -> Result<(), String> {
    let j = cli.json;
    let ctx = ClientContext::default();
    match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { .. } => {
            // Held while serving: a second process on the same SQLite database refuses to start.
            let _lock = lock_sqlite(&settings, |db, lock| {
                format!(
                    "another `castellan serve` is already serving {} (it holds {}); SQLite is served by one process — \
                     stop the other one, or use PostgreSQL to run several nodes",
                    db.display(),
                    lock.display()
                )
            })?;
            serve(settings).await
        }
        Command::Migrate { check: true } => {
            let (value, text, ok) = maintenance::migrate_check(&settings).await?;
            if ok {
                print(j, &value, || text);
                Ok(())
            } else {
                // The refusal goes to standard error once; JSON still gets its answer.
                if j {
                    out(&value.to_string());
                }
                Err(text)
            }
        }
        Command::Backup { path } => {
            let (value, text) = maintenance::backup(&settings, &path).await?;
            print(j, &value, || text);
            Ok(())
        }
        Command::Restore { path } => {
            // Held while restoring: the server must be stopped, and stays so until the copy is in place.
            let lock = lock_sqlite(&settings, |db, _| {
                format!("a `castellan serve` is serving {}: stop the server before restoring", db.display())
            })?;
            let (value, text) = maintenance::restore(&settings, &path, lock).await?;
            print(j, &value, || text);
            Ok(())
        }
        Command::Migrate { check: false } => {
            open_store(&settings, Setup::Create).await?;
            // A migrated database is a deployment: it gets its master key now, as `serve` would.
            bootstrap::master_key(&settings).map_err(|e| e.to_string())?;
            print(j, &json!({"migrated": true}), || "migrations applied".into());
            Ok(())
        }
        Command::Demo => {
            let core = open_core(&settings, Setup::Create).await?;
            first_start(&core).await?;
            let out = demo::run(&core, settings.dev).await.map_err(describe)?;
            print(j, &out, || serde_json::to_string_pretty(&out).unwrap_or_default());
            Ok(())
        }
        Command::AdminToken(AdminTokenCmd::Create { label }) => {
            let core = open_core(&settings, Setup::Existing).await?;
            let token = core.admin_tokens().create_admin_token(&label).await.map_err(describe)?;
            print(j, &json!({"admin_token": token}), || token.clone());
            Ok(())
        }
        Command::Tenant(cmd) => {
            let core = open_core(&settings, Setup::Existing).await?;
            let v = match cmd {
                TenantCmd::Create { slug, name, profile } => {
                    let profile = Profile::parse(&profile).ok_or(format!("unknown profile {profile}"))?;
                    let display_name = name.unwrap_or_else(|| slug.clone());
                    json!(
                        core.tenants()
                            .create_tenant(NewTenant {
                                slug,
                                display_name,
                                profile,
                                dialects: None,
                                issuer: None,
                                audience: None
                            })
                            .await
                            .map_err(describe)?
                    )
                }
                TenantCmd::List => {
                    let tenants = core.tenants().list_tenants().await.map_err(describe)?;
                    if !j {
                        out(&tenant_table(&tenants));
                        return Ok(());
                    }
                    json!(tenants)
                }
                TenantCmd::Show { tenant } => json!(core.tenants().find_tenant(&tenant).await.map_err(describe)?),
                TenantCmd::Webauthn { tenant, rp_id, origins, allowed_aaguids } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let mut policy = t.policy.clone();
                    policy.webauthn = castellan_core::model::WebauthnPolicy {
                        rp_id,
                        origins,
                        allowed_aaguids,
                        require_passkey: policy.webauthn.require_passkey,
                    };
                    json!(core.tenants().set_policy(&tenant, policy).await.map_err(describe)?.policy.webauthn)
                }
            };
            print(j, &v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::App(cmd) => {
            let core = open_core(&settings, Setup::Existing).await?;
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
                    hosted_webauthn,
                    callback_url,
                    redirect_uris,
                    allowed_ips,
                    oauth,
                } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let kind = ApplicationKind::parse(&kind).ok_or("kind: public, confidential or service")?;
                    let oauth = oauth.into_client()?;
                    let new = NewApplication {
                        name,
                        kind,
                        client_id,
                        aliases: [(Dialect::Kumusoft, kumusoft_tag), (Dialect::Mosip, mosip_app_id)]
                            .into_iter()
                            .filter_map(|(d, a)| a.map(|a| (d, a)))
                            .collect(),
                        roles,
                        allowed_ips,
                        callback_url,
                        redirect_uris,
                        single_otp_channel,
                        hosted_webauthn,
                        active: true,
                        oauth,
                        client_secret: None,
                    };
                    let created = core.applications().create_application(&t, new).await.map_err(describe)?;
                    let mut v = json!(created.app);
                    v["client_secret"] = json!(created.client_secret);
                    if let Some(s) = created.callback_secret {
                        v["callback_secret"] = json!(s);
                    }
                    v
                }
                AppCmd::List { tenant } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    json!(core.applications().list_applications(&t).await.map_err(describe)?)
                }
                AppCmd::RotateSecret { tenant, client_id } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    json!({"client_secret": core.applications().rotate_client_secret(&t, &client_id).await.map_err(describe)?})
                }
                AppCmd::ApiKey { tenant, client_id } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let (key, prefix) = core.applications().create_api_key(&t, &client_id).await.map_err(describe)?;
                    json!({"api_key": key, "prefix": prefix})
                }
                AppCmd::CallbackSecret { tenant, client_id } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let app = core.applications().get_application(&t, &client_id).await.map_err(describe)?;
                    json!({"callback_secret": core.hosted_apps().rotate_callback_secret(&t, &app).await.map_err(describe)?})
                }
            };
            print(j, &v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::User(cmd) => {
            let core = open_core(&settings, Setup::Existing).await?;
            let v = match cmd {
                UserCmd::Create { tenant, email, username, phone, password } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let new = NewUser { email, username, phone, password, active: true, ..NewUser::default() };
                    json!(core.users().create_user(&t, new).await.map_err(describe)?)
                }
                UserCmd::List { tenant } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    json!(
                        core.users()
                            .list_users(&t, UserFilter { limit: 1000, ..UserFilter::default() })
                            .await
                            .map_err(describe)?
                    )
                }
                UserCmd::SetPassword { tenant, user, password } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let u = core.users().find_user(&t, &user).await.map_err(describe)?.ok_or("no such user")?;
                    core.users().set_password(&t, u.id, &password, &ctx).await.map_err(describe)?;
                    json!({"password_set": true})
                }
                UserCmd::Unlock { tenant, user } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let u = core.users().find_user(&t, &user).await.map_err(describe)?.ok_or("no such user")?;
                    core.users().unlock_user(&t, u.id, &ctx).await.map_err(describe)?;
                    json!({"unlocked": true})
                }
                UserCmd::Credentials { tenant, user } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let u = core.users().find_user(&t, &user).await.map_err(describe)?.ok_or("no such user")?;
                    let list = core.passkeys().list(&t, u.id).await.map_err(describe)?;
                    Value::Array(
                        list.iter()
                            .map(|c| {
                                json!({"id": c.id, "kind": c.kind.as_str(), "name": c.name, "aaguid": c.aaguid,
                                       "created_at": c.created_at, "last_used_at": c.last_used_at})
                            })
                            .collect(),
                    )
                }
                UserCmd::RemoveCredential { tenant, user, credential } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let u = core.users().find_user(&t, &user).await.map_err(describe)?.ok_or("no such user")?;
                    let id = uuid::Uuid::parse_str(&credential).map_err(|_| "the credential id is not a UUID")?;
                    core.passkeys().delete(&t, u.id, id, &ctx).await.map_err(describe)?;
                    json!({"removed": true})
                }
            };
            print(j, &v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::Keys(cmd) => {
            let core = open_core(&settings, Setup::Existing).await?;
            let v = match cmd {
                KeysCmd::Rotate { tenant, alg } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let alg = KeyAlg::parse(&alg).ok_or("alg: HS256, RS256, ES256 or EdDSA")?;
                    let k = core.signing_keys().rotate_key(&t, alg).await.map_err(describe)?;
                    json!({"kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str()})
                }
                KeysCmd::List { tenant } => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    let keys = core.signing_keys().list_keys(&t).await.map_err(describe)?;
                    json!(keys.iter().map(|k| json!({"kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(), "created_at": k.created_at})).collect::<Vec<_>>())
                }
            };
            print(j, &v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::Outbox { to, limit } => {
            let core = open_core(&settings, Setup::Existing).await?;
            let list = core.dev_outbox(to.as_deref(), limit).await.map_err(describe)?;
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
        Command::Audit { tenant, unscoped, limit } => {
            let core = open_core(&settings, Setup::Existing).await?;
            let filter = AuditFilter { limit, ..AuditFilter::default() };
            let events = match tenant {
                Some(tenant) if !unscoped => {
                    let t = core.tenants().find_tenant(&tenant).await.map_err(describe)?;
                    core.list_audit(&t, filter).await.map_err(describe)?
                }
                _ => core.list_unscoped_audit(filter).await.map_err(describe)?,
            };
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
    let store = open_store(&settings, Setup::Create).await?;
    let engine = store.describe().to_string();
    let listener_addr = settings.listen;
    // The public URL depends on the bound port when listening on port 0, so the core is built
    // after binding, and the server is handed that listener.
    let listener = tokio::net::TcpListener::bind(listener_addr).await.map_err(|e| format!("listen {listener_addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let mut settings = settings;
    settings.listen = bound;
    let core = bootstrap::core(&settings, store, Arc::new(SystemClock), bootstrap::public_url(&settings, bound))
        .map_err(|e| e.to_string())?;
    first_start(&core).await?;
    let mailer = bootstrap::transports(&settings).map_err(|e| e.to_string())?;
    let dev = settings.dev;
    let app = Application::build_on(listener, settings, core, mailer, castellan_server::dialects::all())
        .await
        .map_err(|e| format!("listen {bound}: {e}"))?;
    let metrics = app.metrics_address().map(|a| format!("; metrics on http://{a}/metrics")).unwrap_or_default();
    let mode = if dev { "; development mode (not for production)" } else { "" };
    tracing::info!("castellan {} listening on http://{bound}; engine {engine}{metrics}{mode}", env!("CARGO_PKG_VERSION"));
    let (_stop, serving) = app.run(true).await;
    serving.await.map_err(|e| e.to_string())
}

/// One `serve` process per SQLite database: an OS lock on `<database>.lock`, held until the
/// process ends. PostgreSQL deployments run any number of nodes.
/// `held` says what it means that another process holds the lock (the database, the lock file).
fn lock_sqlite(
    settings: &Settings,
    held: impl Fn(&std::path::Path, &std::path::Path) -> String,
) -> Result<Option<std::fs::File>, String> {
    let Some(db) = bootstrap::sqlite_path(settings) else { return Ok(None) };
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        bootstrap::create_data_dir(dir).map_err(|e| e.to_string())?;
    }
    let path = PathBuf::from(format!("{}.lock", db.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(held(&db, &path)),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
    }
}

/// On an empty database: a `default` tenant and an admin token, printed once.
async fn first_start(core: &Core) -> Result<(), String> {
    if !core.tenants().list_tenants().await.map_err(describe)?.is_empty() {
        return Ok(());
    }
    core.tenants()
        .create_tenant(NewTenant {
            slug: "default".into(),
            display_name: "Default".into(),
            profile: Profile::Default,
            dialects: None,
            issuer: None,
            audience: None,
        })
        .await
        .map_err(describe)?;
    let token = core.admin_tokens().create_admin_token("first start").await.map_err(describe)?;
    eprintln!("\nFirst start: created the `default` tenant and this admin token (shown once, keep it):\n\n    {token}\n");
    Ok(())
}
