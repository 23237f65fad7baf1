//! Free text that reaches the database: names, roles, URLs, tenant and client ids. None of it has
//! a use for control characters, and PostgreSQL cannot store NUL in text at all, so both engines
//! refuse them alike, at the edge, as a validation error naming the field.

use crate::error::{CoreError, CoreResult};

/// The reason given for a text with a control character.
pub const CONTROL: &str = "must not contain control characters";

/// Refuses a text with a control (Cc) character.
pub fn check(field: &str, s: &str) -> CoreResult<()> {
    if s.chars().any(char::is_control) { Err(CoreError::field(field, CONTROL)) } else { Ok(()) }
}

/// [`check`] on an optional text.
pub fn check_opt(field: &str, s: Option<&str>) -> CoreResult<()> {
    s.map_or(Ok(()), |s| check(field, s))
}

/// [`check`] on each text of a list.
pub fn check_all<'a>(field: &str, items: impl IntoIterator<Item = &'a String>) -> CoreResult<()> {
    items.into_iter().try_for_each(|s| check(field, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_the_rest_passes() {
        assert!(check("name", "Zoë Ångström-Nakamura 中村").is_ok());
        for s in ["\u{0000}", "a\u{0001}b", "line\nbreak", "tab\there", "\u{007F}", "\u{0085}"] {
            assert!(
                matches!(check("name", s), Err(CoreError::Validation(m)) if m.get("name").map(String::as_str) == Some(CONTROL))
            );
        }
        assert!(check_opt("x", None).is_ok());
        assert!(check_all("roles", &["a".to_string(), "b\u{0000}".to_string()]).is_err());
    }
}
