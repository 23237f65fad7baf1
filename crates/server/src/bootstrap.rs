//! Turning settings into a running core: the master key, the database URL, the mailer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use castellan_core::clock::Clock;
use castellan_core::crypto::password::Argon2Params;
use castellan_core::delivery::sms::{HttpSms, SmsCredentials, SmsProvider};
use castellan_core::delivery::smtp::SmtpMailer;
use castellan_core::delivery::{DevOutbox, Mailer, SmsSender, Transports};
use castellan_core::store::Store;
use castellan_core::{Core, CoreConfig};

use crate::settings::Settings;

/// A start-up failure, said in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BootstrapError(pub String);

/// The public URL: configured, or derived from the listen address.
pub fn public_url(settings: &Settings, bound: std::net::SocketAddr) -> String {
    settings.public_url.clone().unwrap_or_else(|| format!("http://{bound}")).trim_end_matches('/').to_string()
}

/// The database URL: configured, or `castellan.db` in the data directory.
pub fn database_url(settings: &Settings) -> String {
    match &settings.database_url {
        Some(u) if !u.0.is_empty() => u.0.clone(),
        _ => format!("sqlite://{}", settings.data_dir.join("castellan.db").display()),
    }
}

/// The master key from `CASTELLAN_MASTER_KEY`, or from `master.key` in the data directory,
/// created (mode 0600) on first start.
pub fn master_key(settings: &Settings) -> Result<Vec<u8>, BootstrapError> {
    if let Some(k) = settings.master_key.as_ref().filter(|k| !k.0.is_empty()) {
        let bytes = STANDARD.decode(k.0.trim()).map_err(|_| BootstrapError("CASTELLAN_MASTER_KEY is not base64".into()))?;
        if bytes.len() != 32 {
            return Err(BootstrapError("CASTELLAN_MASTER_KEY must be 32 bytes".into()));
        }
        return Ok(bytes);
    }
    let path = settings.data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| BootstrapError(format!("{}: {e}", path.display())))?;
        let bytes = STANDARD.decode(text.trim()).map_err(|_| BootstrapError(format!("{}: not base64", path.display())))?;
        if bytes.len() != 32 {
            return Err(BootstrapError(format!("{}: must hold 32 bytes", path.display())));
        }
        return Ok(bytes);
    }
    create_data_dir(&settings.data_dir)?;
    let key = castellan_core::crypto::random_bytes::<32>();
    write_private(&path, STANDARD.encode(key).as_bytes())?;
    tracing::info!(path = %path.display(), "created a new master key");
    Ok(key.to_vec())
}

/// Creates the data directory readable by its owner only (mode 0700): it holds the database and
/// the master key. An existing directory is left as its operator set it.
pub fn create_data_dir(dir: &Path) -> Result<(), BootstrapError> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| BootstrapError(format!("{}: {e}", dir.display())))
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), BootstrapError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|e| BootstrapError(format!("{}: {e}", path.display())))?;
    f.write_all(data).map_err(|e| BootstrapError(format!("{}: {e}", path.display())))
}

/// The core for these settings.
pub fn core(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    public_url: String,
) -> Result<Arc<Core>, BootstrapError> {
    let key = master_key(settings)?;
    let defaults = CoreConfig::default();
    let config = CoreConfig {
        public_url,
        argon2: Argon2Params {
            memory_kib: settings.argon2_memory_kib,
            iterations: settings.argon2_iterations,
            parallelism: settings.argon2_parallelism,
        },
        cache_ttl: Duration::from_secs(settings.cache_ttl_seconds),
        default_country_code: settings.default_country_code.clone(),
        allow_private_callbacks: settings.allow_private_callbacks(),
        callback_window: Duration::from_secs(settings.callback_window_seconds.clamp(1, 600)),
        delivery_timeout: Duration::from_secs(settings.delivery_timeout_seconds.clamp(1, 50)),
        ..defaults
    };
    Core::new(store, clock, &key, config).map(Arc::new).map_err(refused)
}

/// SMTP if configured, else the development outbox.
pub fn mailer(settings: &Settings) -> Result<Arc<dyn Mailer>, BootstrapError> {
    match settings.smtp_url.as_ref().filter(|u| !u.0.is_empty()) {
        Some(url) => Ok(Arc::new(SmtpMailer::new(&url.0, &settings.smtp_from).map_err(refused)?)),
        None => Ok(Arc::new(DevOutbox)),
    }
}

/// The configured SMS provider, or the development outbox.
pub fn sms(settings: &Settings) -> Result<Arc<dyn SmsSender>, BootstrapError> {
    if settings.sms_provider == "outbox" || settings.sms_provider.is_empty() {
        return Ok(Arc::new(DevOutbox));
    }
    let provider = SmsProvider::parse(&settings.sms_provider).ok_or_else(|| {
        BootstrapError(format!(
            "CASTELLAN_SMS_PROVIDER: {:?} is not outbox, webhook, twilio or africastalking",
            settings.sms_provider
        ))
    })?;
    let credentials = SmsCredentials {
        url: settings.sms_url.clone(),
        username: settings.sms_username.clone(),
        api_key: settings.sms_api_key.as_ref().map(|k| k.0.clone()),
        from: settings.sms_from.clone(),
    };
    Ok(Arc::new(HttpSms::new(provider, credentials).map_err(refused)?))
}

/// Every delivery transport the settings name.
pub fn transports(settings: &Settings) -> Result<Transports, BootstrapError> {
    Ok(Transports { mail: mailer(settings)?, sms: sms(settings)? })
}

/// Checks the whole configuration without touching the data directory or the database: every
/// problem found, one line each. Run before anything is created, so that a refused start leaves
/// nothing half-made (a master key without its database, an admin token printed and lost).
pub fn check(settings: &Settings) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut note = |r: Result<(), String>| {
        if let Err(e) = r {
            problems.push(e.trim_start_matches("internal: ").to_string());
        }
    };
    let smtp = settings.smtp_url.as_ref().map(|u| u.0.as_str()).filter(|u| !u.is_empty());
    if smtp.is_some_and(|u| !(u.starts_with("smtp://") || u.starts_with("smtps://"))) {
        note(Err("smtp_url: must start with smtp:// (STARTTLS when offered) or smtps:// (TLS)".into()));
    } else {
        note(transports(settings).map(|_| ()).map_err(|e| e.0));
    }
    note(check_master_key(settings));
    note(
        crate::client::TrustedProxies::parse(&settings.trusted_proxies).map(|_| ()).map_err(|e| format!("trusted_proxies: {e}")),
    );
    if let Some(url) = settings.public_url.as_deref() {
        let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        note(if ok { Ok(()) } else { Err(format!("public_url: {url:?} is not an http(s) URL")) });
    }
    let db = database_url(settings);
    let known = ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| db.starts_with(p));
    note(if known { Ok(()) } else { Err("database_url: must start with sqlite:, postgres:// or postgresql://".into()) });
    note(match settings.log_format.as_str() {
        "text" | "json" => Ok(()),
        other => Err(format!("log_format: {other:?} is not text or json")),
    });
    for problem in crate::dialects::mount::check_settings(&crate::dialects::all(), settings) {
        note(Err(problem));
    }
    let argon = Argon2Params {
        memory_kib: settings.argon2_memory_kib,
        iterations: settings.argon2_iterations,
        parallelism: settings.argon2_parallelism,
    };
    if argon.iterations < 1 {
        note(Err("argon2_iterations: must be at least 1".into()));
    } else if argon.parallelism < 1 {
        note(Err("argon2_parallelism: must be at least 1".into()));
    } else if argon.memory_kib < 8 * argon.parallelism {
        note(Err(format!("argon2_memory_kib: must be at least 8 per lane ({})", 8 * argon.parallelism)));
    } else {
        note(argon.check().map_err(|e| format!("argon2_memory_kib/iterations/parallelism: {e}")));
    }
    if settings.metrics_token.as_ref().is_some_and(|t| t.0.trim().is_empty()) {
        note(Err("metrics_token: empty; unset it to leave /metrics open, or give a token".into()));
    }
    if settings.metrics_listen.is_some_and(|m| m == settings.listen) {
        note(Err("metrics_listen: must differ from listen".into()));
    }
    if settings.body_limit_bytes == 0 {
        problems.push("body_limit_bytes: must be more than 0".into());
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// A configured master key must be 32 bytes of base64; a key file, if there is one, too. A
/// missing file is fine here: `serve` creates it.
fn check_master_key(settings: &Settings) -> Result<(), String> {
    if settings.master_key.as_ref().is_some_and(|k| !k.0.is_empty()) {
        return master_key(settings).map(|_| ()).map_err(|e| e.0);
    }
    let path = settings.data_dir.join("master.key");
    if path.exists() { master_key(settings).map(|_| ()).map_err(|e| e.0) } else { Ok(()) }
}

/// Whether this deployment's master key exists already (configured, or a key file).
pub fn master_key_exists(settings: &Settings) -> bool {
    settings.master_key.as_ref().is_some_and(|k| !k.0.is_empty()) || settings.data_dir.join("master.key").exists()
}

/// The SQLite database file the settings name, if the engine is SQLite.
pub fn sqlite_path(settings: &Settings) -> Option<std::path::PathBuf> {
    let url = database_url(settings);
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// A refusal of the configuration, in the words of what refused it (an internal error of the
/// core at start-up is a message about the settings, without the "internal error" wrapper).
fn refused(e: castellan_core::CoreError) -> BootstrapError {
    if let castellan_core::CoreError::Internal(cause) = &e {
        return BootstrapError(castellan_core::error::Chain(cause.as_ref()).to_string());
    }
    BootstrapError(castellan_core::error::Chain(&e).to_string())
}
