//! The `[dialects.kumusoft]` section: where the dialect is mounted and the audience of its
//! tokens (`kumusoft_prefix`, `kumusoft_audience`).

use crate::dialects::mount::normalize_prefix;
use crate::settings::{KeyKind, Settings};

pub(super) const KEYS: &[(&str, KeyKind)] = &[("prefix", KeyKind::Str), ("audience", KeyKind::Str)];

impl Settings {
    /// The kumusoft prefix, `/`-led and without a trailing `/`.
    pub fn kumusoft_prefix(&self) -> String {
        normalize_prefix(&self.kumusoft_prefix)
    }
}
