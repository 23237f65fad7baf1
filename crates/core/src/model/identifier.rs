//! Login identifiers, normalised so that each is unique per tenant.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Lower-cased, trimmed, one `@` with something on both sides and a dot in the domain.
    pub fn parse(s: &str) -> Result<Email, String> {
        let s = s.trim().to_lowercase();
        let Some((local, domain)) = s.split_once('@') else {
            return Err("must be a valid email address".into());
        };
        let valid = !local.is_empty()
            && local.len() <= 64
            && domain.len() >= 3
            && domain.len() <= 255
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid { Ok(Email(s)) } else { Err("must be a valid email address".into()) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phone(String);

impl Phone {
    /// E.164. A number without `+` takes the tenant's default country calling code.
    pub fn parse(s: &str, default_country_code: &str) -> Result<Phone, String> {
        let cleaned: String = s.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
        let e164 = if let Some(rest) = cleaned.strip_prefix('+') {
            rest.to_string()
        } else if let Some(rest) = cleaned.strip_prefix("00") {
            rest.to_string()
        } else {
            format!("{}{}", default_country_code, cleaned.trim_start_matches('0'))
        };
        if (8..=15).contains(&e164.len()) && e164.bytes().all(|b| b.is_ascii_digit()) && !e164.starts_with('0') {
            Ok(Phone(format!("+{e164}")))
        } else {
            Err("must be a phone number in E.164 form".into())
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a user typed to say who they are. Resolved deterministically: `@` → email, leading `+` →
/// phone, anything else a username (which may be all digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    Email(Email),
    Phone(Phone),
    Username(String),
}

impl Identifier {
    pub fn parse(s: &str, default_country_code: &str) -> Result<Identifier, String> {
        let t = s.trim();
        if t.is_empty() || t.len() > 320 {
            return Err("must not be empty".into());
        }
        if t.contains('@') {
            Email::parse(t).map(Identifier::Email)
        } else if t.starts_with('+') {
            Phone::parse(t, default_country_code).map(Identifier::Phone)
        } else {
            Ok(Identifier::Username(normalize_username(t)))
        }
    }

    /// The normalised form, used as the lockout key for identifiers that match no user.
    pub fn key(&self) -> String {
        match self {
            Identifier::Email(e) => format!("email:{}", e.as_str()),
            Identifier::Phone(p) => format!("phone:{}", p.as_str()),
            Identifier::Username(u) => format!("username:{u}"),
        }
    }
}

pub fn normalize_username(s: &str) -> String {
    s.trim().to_lowercase()
}
