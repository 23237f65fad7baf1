//! The `[dialects.fastapi_users]` section: the tenant of the root mount and further mounts
//! (`fastapi_users_tenant`, `fastapi_users_mounts`).

use crate::dialects::mount::normalize_prefix;
use crate::settings::{KeyKind, Settings};

pub(super) const KEYS: &[(&str, KeyKind)] = &[("tenant", KeyKind::Str), ("mounts", KeyKind::List)];

impl Settings {
    /// The fastapi-users mounts as (prefix — empty for the root —, tenant if named). The root mount
    /// is there unless an entry replaces it.
    pub fn fastapi_users_mounts(&self) -> Vec<(String, Option<String>)> {
        let mut mounts: Vec<(String, Option<String>)> = Vec::new();
        for entry in &self.fastapi_users_mounts {
            let (prefix, tenant) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
            let prefix = normalize_prefix(prefix);
            let prefix = if prefix == "/" { String::new() } else { prefix };
            // Only plain path segments: a router pattern (`{x}`, `*`) or a repeated prefix would
            // not be a second mount.
            let plain = prefix.chars().all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c));
            if !plain || prefix.contains("//") || mounts.iter().any(|(p, _)| *p == prefix) {
                tracing::warn!(entry, "fastapi_users_mounts: entry ignored (not a plain, new path prefix)");
                continue;
            }
            mounts.push((prefix, Some(tenant.trim().to_string()).filter(|t| !t.is_empty())));
        }
        if !mounts.iter().any(|(p, _)| p.is_empty()) {
            mounts.insert(0, (String::new(), self.fastapi_users_tenant.clone()));
        }
        mounts
    }
}
