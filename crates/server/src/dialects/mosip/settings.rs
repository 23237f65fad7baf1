//! The `[dialects.mosip]` section: where authmanager and otpmanager are mounted and how the
//! token cookies are set (`mosip_authmanager_prefix`, …, `mosip_cookie_same_site`).

use crate::dialects::mount::normalize_prefix;
use crate::settings::{KeyKind, Settings};

pub(super) const KEYS: &[(&str, KeyKind)] = &[
    ("authmanager_prefix", KeyKind::Str),
    ("otpmanager_prefix", KeyKind::Str),
    ("cookie_secure", KeyKind::Bool),
    ("cookie_same_site", KeyKind::Str),
];

impl Settings {
    pub fn mosip_authmanager_prefix(&self) -> String {
        normalize_prefix(&self.mosip_authmanager_prefix)
    }

    pub fn mosip_otpmanager_prefix(&self) -> String {
        normalize_prefix(&self.mosip_otpmanager_prefix)
    }
}

pub(super) fn check(settings: &Settings) -> Vec<String> {
    match settings.mosip_cookie_same_site.as_str() {
        "Lax" | "Strict" | "None" => Vec::new(),
        other => vec![format!("mosip_cookie_same_site: {other:?} is not Lax, Strict or None")],
    }
}
