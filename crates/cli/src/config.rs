//! Configuration loading: defaults, then `castellan.toml` (keys at the top level or grouped in any
//! sections), then `CASTELLAN_*` variables (and `CASTELLAN_*_FILE` for secrets kept in files).

use std::path::Path;

use castellan_server::Settings;

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    List,
}

/// Every key, with the type its environment variable is read as.
const KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Str),
    ("public_url", Kind::Str),
    ("data_dir", Kind::Str),
    ("database_url", Kind::Str),
    ("master_key", Kind::Str),
    ("admin_token", Kind::Str),
    ("smtp_url", Kind::Str),
    ("smtp_from", Kind::Str),
    ("argon2_memory_kib", Kind::Int),
    ("argon2_iterations", Kind::Int),
    ("argon2_parallelism", Kind::Int),
    ("trusted_proxies", Kind::List),
    ("dev", Kind::Bool),
    ("log", Kind::Str),
    ("log_format", Kind::Str),
    ("body_limit_bytes", Kind::Int),
    ("request_timeout_seconds", Kind::Int),
    ("auth_rate_limit_per_minute", Kind::Int),
    ("cache_ttl_seconds", Kind::Int),
    ("default_country_code", Kind::Str),
    ("fastapi_users_tenant", Kind::Str),
    ("fastapi_users_mounts", Kind::List),
    ("allow_private_callbacks", Kind::Bool),
    ("callback_window_seconds", Kind::Int),
    ("console_cookie_secure", Kind::Bool),
    ("sms_provider", Kind::Str),
    ("sms_url", Kind::Str),
    ("sms_username", Kind::Str),
    ("sms_api_key", Kind::Str),
    ("sms_from", Kind::Str),
    ("kumusoft_prefix", Kind::Str),
    ("kumusoft_audience", Kind::Str),
    ("mosip_authmanager_prefix", Kind::Str),
    ("mosip_otpmanager_prefix", Kind::Str),
    ("mosip_cookie_secure", Kind::Bool),
    ("mosip_cookie_same_site", Kind::Str),
];

fn env_value(key: &str, kind: Kind, raw: &str) -> Result<toml::Value, String> {
    let bad = || format!("CASTELLAN_{}: cannot read {raw:?}", key.to_uppercase());
    Ok(match kind {
        Kind::Str => toml::Value::String(raw.to_string()),
        Kind::Int => toml::Value::Integer(raw.trim().parse().map_err(|_| bad())?),
        Kind::Bool => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" | "" => false,
            _ => return Err(bad()),
        }),
        Kind::List => toml::Value::Array(
            raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| toml::Value::String(s.to_string())).collect(),
        ),
    })
}

/// Settings from `file` (if any) and the environment.
pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let mut table = toml::Table::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let parsed: toml::Table = text.parse().map_err(|e| format!("{}: {e}", path.display()))?;
        for (k, v) in parsed {
            match v {
                toml::Value::Table(section) => {
                    for (k2, v2) in section {
                        match v2 {
                            // `[dialects.kumusoft] prefix = …` is the key `kumusoft_prefix`.
                            toml::Value::Table(sub) => {
                                table.extend(sub.into_iter().map(|(k3, v3)| (format!("{k2}_{k3}"), v3)));
                            }
                            other => {
                                table.insert(k2, other);
                            }
                        }
                    }
                }
                other => {
                    table.insert(k, other);
                }
            }
        }
    }
    for (key, kind) in KEYS {
        let var = format!("CASTELLAN_{}", key.to_uppercase());
        let value = match (env(&var), env(&format!("{var}_FILE"))) {
            (Some(v), _) => Some(v),
            (None, Some(path)) => {
                Some(std::fs::read_to_string(&path).map_err(|e| format!("{var}_FILE {path}: {e}"))?.trim().to_string())
            }
            (None, None) => None,
        };
        if let Some(v) = value {
            table.insert(key.to_string(), env_value(key, *kind, &v)?);
        }
    }
    toml::Value::Table(table).try_into::<Settings>().map_err(|e| format!("configuration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_and_types_are_read() -> Result<(), String> {
        let dir = std::env::temp_dir().join(format!("castellan-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join("castellan.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9000\"\ndev = true\n[hashing]\nargon2_iterations = 3\n\
             [dialects.kumusoft]\nprefix = \"/kumu\"\n[dialects.mosip]\ncookie_secure = false\n",
        )
        .map_err(|e| e.to_string())?;
        let env = |k: &str| match k {
            "CASTELLAN_LISTEN" => Some("127.0.0.1:9100".to_string()),
            "CASTELLAN_TRUSTED_PROXIES" => Some("10.0.0.0/8, 192.168.1.1".to_string()),
            "CASTELLAN_MOSIP_AUTHMANAGER_PREFIX" => Some("/mosip/auth".to_string()),
            _ => None,
        };
        let s = load(Some(&file), env)?;
        assert_eq!(s.listen.port(), 9100);
        assert!(s.dev);
        assert_eq!(s.argon2_iterations, 3);
        assert_eq!(s.kumusoft_prefix, "/kumu");
        assert!(!s.mosip_cookie_secure);
        assert_eq!(s.mosip_authmanager_prefix(), "/mosip/auth");
        assert_eq!(s.trusted_proxies, vec!["10.0.0.0/8", "192.168.1.1"]);
        std::fs::write(&file, "nonsense_key = 1\n").map_err(|e| e.to_string())?;
        assert!(load(Some(&file), |_| None).is_err());
        assert!(load(None, |k| (k == "CASTELLAN_DEV").then(|| "maybe".to_string())).is_err());
        Ok(())
    }
}
