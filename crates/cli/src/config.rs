//! Configuration loading: defaults, then `castellan.toml` (keys at the top level or grouped in any
//! sections), then `CASTELLAN_*` variables (and `CASTELLAN_*_FILE` for secrets kept in files).

use std::path::Path;

use castellan_server::Settings;
use castellan_server::settings::KeyKind as Kind;

/// Whether a value of the file has this kind.
fn accepts(kind: Kind, v: &toml::Value) -> bool {
    match (kind, v) {
        (Kind::Str, toml::Value::String(_)) | (Kind::Bool, toml::Value::Boolean(_)) => true,
        (Kind::Int, toml::Value::Integer(i)) => *i >= 0,
        (Kind::List, toml::Value::Array(a)) => a.iter().all(toml::Value::is_str),
        (Kind::Addr, toml::Value::String(s)) => s.parse::<std::net::SocketAddr>().is_ok(),
        _ => false,
    }
}

/// The server's own keys, with the type its environment variable is read as; each dialect's
/// section adds its keys ([`keys`]).
const SERVER_KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Addr),
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
    ("allow_private_callbacks", Kind::Bool),
    ("callback_window_seconds", Kind::Int),
    ("delivery_timeout_seconds", Kind::Int),
    ("console_cookie_secure", Kind::Bool),
    ("sms_provider", Kind::Str),
    ("sms_url", Kind::Str),
    ("sms_username", Kind::Str),
    ("sms_api_key", Kind::Str),
    ("sms_from", Kind::Str),
    ("header_read_timeout_seconds", Kind::Int),
    ("keep_alive_timeout_seconds", Kind::Int),
    ("max_connections", Kind::Int),
    ("max_connections_per_ip", Kind::Int),
    ("metrics_listen", Kind::Addr),
    ("metrics_token", Kind::Str),
];

/// Every key: the server's, then each dialect's `[dialects.<name>] key` as `<name>_key`.
fn keys() -> Vec<(String, Kind)> {
    let dialects = castellan_server::dialects::mount::settings_keys(&castellan_server::dialects::all());
    SERVER_KEYS.iter().map(|(k, kind)| (k.to_string(), *kind)).chain(dialects).collect()
}

fn env_value(key: &str, kind: Kind, raw: &str) -> Result<toml::Value, String> {
    let bad = || format!("CASTELLAN_{}: {raw:?} is not {}", key.to_uppercase(), kind.expected());
    Ok(match kind {
        Kind::Str => toml::Value::String(raw.to_string()),
        Kind::Addr => {
            raw.trim().parse::<std::net::SocketAddr>().map_err(|_| bad())?;
            toml::Value::String(raw.trim().to_string())
        }
        Kind::Int => toml::Value::Integer(raw.trim().parse::<u32>().map_err(|_| bad())?.into()),
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

/// A value of the file as an error message shows it.
fn shown(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

/// `CASTELLAN_*` variables that are not configuration keys but are still ours.
const OTHER_VARIABLES: &[&str] = &["CASTELLAN_CONFIG", "CASTELLAN_NEW_PASSWORD"];

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(cur) };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The closest of `candidates`, if close enough to be a typo.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates.map(|c| (distance(word, c), c)).filter(|(d, c)| *d <= 2.max(c.len() / 4)).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

/// The 1-based line where `leaf` is set inside `[section]` (empty: the top level).
fn line_of(text: &str, section: &str, leaf: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[').and_then(|h| h.split(']').next()) {
            current = h.trim().to_string();
            continue;
        }
        if current == section
            && let Some(rest) = t.strip_prefix(leaf)
            && rest.trim_start().starts_with('=')
        {
            return Some(i + 1);
        }
    }
    None
}

/// A key of the file: where it was written and the flat name it stands for.
struct FileKey {
    section: String,
    leaf: String,
    flat: String,
}

fn unknown_key_error(path: &Path, text: &str, keys: &[(String, Kind)], k: &FileKey) -> String {
    let at = line_of(text, &k.section, &k.leaf).map(|n| format!(" line {n}")).unwrap_or_default();
    let shown = if k.section.is_empty() { k.leaf.clone() } else { format!("[{}] {}", k.section, k.leaf) };
    let hint = closest(&k.flat, keys.iter().map(|(n, _)| n.as_str()))
        .map(|best| {
            // In `[dialects.kumusoft]`, suggest `prefix`, not `kumusoft_prefix`.
            let prefix = k.flat.strip_suffix(k.leaf.as_str()).unwrap_or_default();
            format!("; did you mean `{}`?", best.strip_prefix(prefix).filter(|_| !prefix.is_empty()).unwrap_or(best))
        })
        .unwrap_or_default();
    format!("{}{at}: unknown key `{shown}`{hint} (every key: docs/configuration.md)", path.display())
}

/// Settings from `file` (if any) and the environment. Every unknown key of the file is an
/// error naming its line, with the nearest known key.
pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let text = match file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?),
        None => None,
    };
    load_text(file.zip(text.as_deref()), env)
}

/// As [`load`], with the file's text already read (`path` names it in messages): what the
/// configuration fuzz target feeds.
pub fn load_text(file: Option<(&Path, &str)>, env: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let known = keys();
    let mut table = toml::Table::new();
    // Every value of the wrong type, from the file and the environment, is reported at once.
    let mut problems: Vec<String> = Vec::new();
    if let Some((path, text)) = file {
        // The parser's own message quotes the line, which may hold a secret: only where and why.
        let parsed: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let at = line.map(|n| format!(" line {n}")).unwrap_or_default();
            format!("{}{at}: not valid TOML: {}", path.display(), e.message().trim())
        })?;
        let mut keys: Vec<(FileKey, toml::Value)> = Vec::new();
        for (k, v) in parsed {
            match v {
                toml::Value::Table(section) => {
                    for (k2, v2) in section {
                        match v2 {
                            // `[dialects.kumusoft] prefix = …` is the key `kumusoft_prefix`.
                            toml::Value::Table(sub) => {
                                for (k3, v3) in sub {
                                    let key = FileKey { section: format!("{k}.{k2}"), flat: format!("{k2}_{k3}"), leaf: k3 };
                                    keys.push((key, v3));
                                }
                            }
                            other => keys.push((FileKey { section: k.clone(), flat: k2.clone(), leaf: k2 }, other)),
                        }
                    }
                }
                other => keys.push((FileKey { section: String::new(), flat: k.clone(), leaf: k }, other)),
            }
        }
        let unknown: Vec<String> = keys
            .iter()
            .filter(|(k, _)| !known.iter().any(|(name, _)| *name == k.flat))
            .map(|(k, _)| unknown_key_error(path, text, &known, k))
            .collect();
        if !unknown.is_empty() {
            return Err(unknown.join("\n"));
        }
        for (k, v) in &keys {
            let Some((_, kind)) = known.iter().find(|(name, _)| *name == k.flat) else { continue };
            if !accepts(*kind, v) {
                let at = line_of(text, &k.section, &k.leaf).map(|n| format!(" line {n}")).unwrap_or_default();
                problems.push(format!("{}{at}: `{}` is {}, not {}", path.display(), k.leaf, shown(v), kind.expected()));
            }
        }
        table.extend(keys.into_iter().map(|(k, v)| (k.flat, v)));
    }
    for (key, kind) in &known {
        let var = format!("CASTELLAN_{}", key.to_uppercase());
        let value = match (env(&var), env(&format!("{var}_FILE"))) {
            (Some(v), _) => Some(v),
            (None, Some(path)) => {
                Some(std::fs::read_to_string(&path).map_err(|e| format!("{var}_FILE {path}: {e}"))?.trim().to_string())
            }
            (None, None) => None,
        };
        if let Some(v) = value {
            match env_value(key, *kind, &v) {
                Ok(v) => {
                    table.insert(key.to_string(), v);
                }
                Err(e) => problems.push(e),
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    toml::Value::Table(table).try_into::<Settings>().map_err(|e| format!("configuration: {e}"))
}

/// A warning for each `CASTELLAN_*` variable that configures nothing, with the nearest known
/// one. Warnings, not errors: Kubernetes sets `<SERVICE>_SERVICE_HOST`-style variables in pods
/// of a service named `castellan`.
pub fn unknown_variables(names: impl Iterator<Item = String>) -> Vec<String> {
    let known: Vec<String> = keys()
        .iter()
        .flat_map(|(k, _)| {
            let var = format!("CASTELLAN_{}", k.to_uppercase());
            [format!("{var}_FILE"), var]
        })
        .chain(OTHER_VARIABLES.iter().map(|v| v.to_string()))
        .collect();
    names
        .filter(|n| n.starts_with("CASTELLAN_") && !n.starts_with("CASTELLAN_TEST_") && !n.starts_with("CASTELLAN_CI_"))
        .filter(|n| !known.contains(n))
        .map(|n| {
            let hint = closest(&n, known.iter().map(String::as_str)).map(|b| format!("; did you mean {b}?")).unwrap_or_default();
            format!("warning: the environment variable {n} configures nothing{hint}")
        })
        .collect()
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
        std::fs::write(&file, "dev = true\nmaster_key = \"c2VjcmV0IGtleSBtYXRlcmlhbA\n").map_err(|e| e.to_string())?;
        let err = load(Some(&file), |_| None).err().unwrap_or_default();
        assert!(err.contains("line 2: not valid TOML") && !err.contains("c2VjcmV0"), "{err}");
        std::fs::write(&file, "dev = true\n\n[server]\nlistne = \"127.0.0.1:9000\"\n[dialects.kumusoft]\nprefx = \"/k\"\n")
            .map_err(|e| e.to_string())?;
        let err = load(Some(&file), |_| None).err().unwrap_or_default();
        assert!(err.contains("line 4: unknown key `[server] listne`; did you mean `listen`?"), "{err}");
        assert!(err.contains("line 6: unknown key `[dialects.kumusoft] prefx`; did you mean `prefix`?"), "{err}");
        assert!(load(None, |k| (k == "CASTELLAN_DEV").then(|| "maybe".to_string())).is_err());
        // Every badly typed value at once, each named with where it came from.
        std::fs::write(&file, "[server]\nlisten = 8080\ndev = \"yes\"\n").map_err(|e| e.to_string())?;
        let env = |k: &str| match k {
            "CASTELLAN_ARGON2_MEMORY_KIB" => Some("abc".to_string()),
            "CASTELLAN_METRICS_LISTEN" => Some("foo".to_string()),
            _ => None,
        };
        let err = load(Some(&file), env).err().unwrap_or_default();
        assert!(err.contains("line 2: `listen` is 8080, not an address like 127.0.0.1:8080"), "{err}");
        assert!(err.contains("line 3: `dev` is \"yes\", not true or false"), "{err}");
        assert!(err.contains("CASTELLAN_ARGON2_MEMORY_KIB: \"abc\" is not a whole number"), "{err}");
        assert!(err.contains("CASTELLAN_METRICS_LISTEN: \"foo\" is not an address"), "{err}");
        Ok(())
    }

    #[test]
    fn unknown_variables_are_named_with_the_nearest_known_one() {
        let names = ["CASTELLAN_LISTN", "CASTELLAN_LISTEN", "CASTELLAN_SMTP_URL_FILE", "CASTELLAN_SERVICE_HOST", "HOME"];
        let warnings = unknown_variables(names.iter().map(|s| s.to_string()));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("CASTELLAN_LISTN configures nothing; did you mean CASTELLAN_LISTEN?"), "{warnings:?}");
        assert!(warnings[1].contains("CASTELLAN_SERVICE_HOST configures nothing"), "{warnings:?}");
    }
}
