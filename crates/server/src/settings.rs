//! Typed configuration of a running server. Loading (file, then `CASTELLAN_*` variables) is the
//! binary's job; tests build it with [`Settings::for_test`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// A secret string whose `Debug` does not print it.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How a configuration key's value is written (the file's type; how its environment variable
/// is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Str,
    Int,
    Bool,
    List,
    /// A socket address, `host:port`.
    Addr,
}

impl KeyKind {
    /// What a value of this kind looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            KeyKind::Str => "a string",
            KeyKind::Int => "a whole number, 0 or more",
            KeyKind::Bool => "true or false",
            KeyKind::List => "a list of strings",
            KeyKind::Addr => "an address like 127.0.0.1:8080",
        }
    }
}

/// The server's settings. The keys of each dialect's `[dialects.<name>]` section are fields here
/// too (`kumusoft_prefix`), so that configuration stays one flat, typed whole; the dialect's
/// mount declares them, reads them and checks them (`dialects/<name>/settings.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Base URL for issuers and emailed links; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `castellan.db` in the data directory.
    pub database_url: Option<Secret>,
    /// base64 of 32 bytes; defaults to a key file in the data directory.
    pub master_key: Option<Secret>,
    /// A bootstrap token accepted by the admin API.
    pub admin_token: Option<Secret>,
    pub smtp_url: Option<Secret>,
    pub smtp_from: String,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Proxies whose `X-Forwarded-For` is believed (CIDRs or addresses).
    pub trusted_proxies: Vec<String>,
    pub dev: bool,
    pub log: String,
    pub log_format: String,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    pub request_timeout_seconds: u64,
    /// Requests per minute per client IP on the credential endpoints (login, refresh, 2FA, reset).
    pub auth_rate_limit_per_minute: u32,
    /// Seconds a node trusts its cached tenants and keys.
    pub cache_ttl_seconds: u64,
    /// Country calling code for phone numbers without `+`.
    pub default_country_code: String,
    /// Result callbacks may go to loopback, private and link-local addresses and over plain
    /// http. Unset: on in development mode (`dev`), off otherwise.
    pub allow_private_callbacks: Option<bool>,
    /// Seconds a result callback is retried before the verification fails.
    pub callback_window_seconds: u64,
    /// Seconds one attempt to hand a message to the mail server or SMS provider may take before
    /// it counts as failed (and is retried later).
    pub delivery_timeout_seconds: u64,
    /// `Secure` on console cookies. Unset: on unless the public URL is plain http.
    pub console_cookie_secure: Option<bool>,
    /// `outbox`, `webhook`, `twilio` or `africastalking`.
    pub sms_provider: String,
    /// The webhook URL, or the provider's API base URL.
    pub sms_url: Option<String>,
    pub sms_username: Option<String>,
    pub sms_api_key: Option<Secret>,
    pub sms_from: Option<String>,
    /// Seconds a client gets to send a whole request head, from connecting or from its first byte.
    pub header_read_timeout_seconds: u64,
    /// Seconds an idle keep-alive connection is kept open between requests.
    pub keep_alive_timeout_seconds: u64,
    /// Open connections at most; more are closed at accept (0: no cap).
    pub max_connections: usize,
    /// Open connections per client address at most (0: no cap); trusted proxies are exempt.
    pub max_connections_per_ip: usize,
    /// A second listen address serving only `/metrics` (then not served on `listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// A bearer token `/metrics` requires.
    pub metrics_token: Option<Secret>,

    // The dialects' sections, `[dialects.<name>]`: each dialect's `settings.rs` declares, reads
    // and checks its keys.
    /// Where the kumusoft dialect is mounted (`[dialects.kumusoft] prefix`).
    pub kumusoft_prefix: String,
    /// The audience of kumusoft tokens; `{tagId}` is the application's tag.
    pub kumusoft_audience: String,
    /// Where MOSIP's authmanager is mounted (`[dialects.mosip] authmanager_prefix`).
    pub mosip_authmanager_prefix: String,
    /// Where MOSIP's otpmanager is mounted (`[dialects.mosip] otpmanager_prefix`).
    pub mosip_otpmanager_prefix: String,
    /// `Secure` on MOSIP's token cookies; turn off only for plain-HTTP development.
    pub mosip_cookie_secure: bool,
    /// `SameSite` of MOSIP's token cookies: `Lax`, `Strict` or `None`.
    pub mosip_cookie_same_site: String,
    /// The tenant of the fastapi-users mount at `/` (default: `kyc` if it exists, else `default`).
    pub fastapi_users_tenant: Option<String>,
    /// More fastapi-users mounts, each `PREFIX=TENANT` (e.g. `/partners=partners`); `/=TENANT`
    /// replaces the root mount. Empty: the root mount alone.
    pub fastapi_users_mounts: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: PathBuf::from("./castellan-data"),
            database_url: None,
            master_key: None,
            admin_token: None,
            smtp_url: None,
            smtp_from: "Castellan <no-reply@localhost>".into(),
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            trusted_proxies: Vec::new(),
            dev: false,
            log: "info".into(),
            log_format: "text".into(),
            body_limit_bytes: 64 * 1024,
            request_timeout_seconds: 30,
            auth_rate_limit_per_minute: 600,
            cache_ttl_seconds: 30,
            default_country_code: "256".into(),
            allow_private_callbacks: None,
            callback_window_seconds: 30,
            delivery_timeout_seconds: 20,
            console_cookie_secure: None,
            sms_provider: "outbox".into(),
            sms_url: None,
            sms_username: None,
            sms_api_key: None,
            sms_from: None,
            header_read_timeout_seconds: 10,
            // Longer than the 60 s idle timeout of common load balancers, so that they, not
            // Castellan, close idle connections (a close racing a new request costs a 502).
            keep_alive_timeout_seconds: 75,
            // Under the usual limit of 1,024 open files, with room for the database and logs.
            max_connections: 768,
            max_connections_per_ip: 128,
            metrics_listen: None,
            metrics_token: None,
            kumusoft_prefix: "/v1/auth".into(),
            kumusoft_audience: "kumusoft:{tagId}".into(),
            mosip_authmanager_prefix: "/v1/authmanager".into(),
            mosip_otpmanager_prefix: "/v1/otpmanager".into(),
            mosip_cookie_secure: true,
            mosip_cookie_same_site: "Lax".into(),
            fastapi_users_tenant: None,
            fastapi_users_mounts: Vec::new(),
        }
    }
}

impl Settings {
    /// Port 0, weak hashing, dev mode: what the black-box tests run with.
    pub fn for_test() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            dev: true,
            auth_rate_limit_per_minute: 100_000,
            allow_private_callbacks: Some(true),
            ..Settings::default()
        }
    }

    pub fn allow_private_callbacks(&self) -> bool {
        self.allow_private_callbacks.unwrap_or(self.dev)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds.max(1))
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_seconds.max(1))
    }

    pub fn keep_alive_timeout(&self) -> Duration {
        Duration::from_secs(self.keep_alive_timeout_seconds.max(1))
    }
}
