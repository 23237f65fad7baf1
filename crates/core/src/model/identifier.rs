//! Login identifiers, normalised so that each is unique per tenant, and the checks that keep
//! invisible characters and look-alikes from making a second account next to an existing one.
//!
//! Emails and usernames are trimmed, lower-cased and put in Unicode Normalization Form C, so
//! that `é` typed precomposed or as `e` + combining acute is one identifier. Control (Cc) and
//! format (Cf) characters — NUL, zero-width space, soft hyphen, bidirectional overrides — are
//! refused. Of what remains, [`skeleton`] gives the Unicode TR39 confusable skeleton: two
//! identifiers that look alike (Cyrillic `е` for Latin `e`, fullwidth letters) share it, and the
//! store keeps it unique per tenant.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// The reason given for an identifier with a control or format character.
pub const INVISIBLE: &str = "must not contain control or format characters";

/// Whether `c` is a control (Cc) or format (Cf) character.
pub fn is_control_or_format(c: char) -> bool {
    c.is_control() || c.general_category() == GeneralCategory::Format
}

/// Whether `s` holds a control (Cc) or format (Cf) character.
pub fn has_control_or_format(s: &str) -> bool {
    s.chars().any(is_control_or_format)
}

/// `s` in Normalization Form C.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Lower-cased and in NFC. Lower-casing can undo a composition, hence NFC on both sides.
fn fold(s: &str) -> String {
    nfc(&nfc(s).to_lowercase())
}

/// The TR39 confusable skeleton of a case-insensitive identifier: equal skeletons look alike.
pub fn skeleton(s: &str) -> String {
    unicode_security::skeleton(&s.to_lowercase()).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Trimmed, lower-cased, NFC; one `@` with something on both sides and a dot in the domain;
    /// no whitespace, control or format character.
    pub fn parse(s: &str) -> Result<Email, String> {
        let s = s.trim();
        if has_control_or_format(s) {
            return Err(INVISIBLE.into());
        }
        let s = fold(s);
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
            && !s.chars().any(char::is_whitespace);
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
        if has_control_or_format(s.trim()) {
            return Err(INVISIBLE.into());
        }
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
        if t.is_empty() {
            return Err("must not be empty".into());
        }
        // The limit holds for the normalised form too, which lower-casing can lengthen (`İ` is
        // two bytes, `i̇` three): an identifier accepted once is accepted again as stored.
        if t.len() > MAX_IDENTIFIER || fold(t).len() > MAX_IDENTIFIER {
            return Err(format!("must be at most {MAX_IDENTIFIER} bytes"));
        }
        if has_control_or_format(t) {
            return Err(INVISIBLE.into());
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

/// Trimmed, lower-cased, NFC. Whether the result is an acceptable username is the caller's
/// check (control and format characters included).
pub fn normalize_username(s: &str) -> String {
    fold(s.trim())
}

/// Bytes an identifier may have, as typed and normalised.
const MAX_IDENTIFIER: usize = 320;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Found by the `identifiers` fuzz target: a username of 320 bytes with `İ` was accepted, and
    /// its normalised form (321 bytes) then refused, as "must not be empty".
    #[test]
    fn fuzz_identifiers_an_accepted_identifier_is_accepted_again_as_stored() {
        let typed = format!("{}İ", "u".repeat(318));
        assert_eq!(typed.len(), 320);
        assert_eq!(Identifier::parse(&typed, "1"), Err("must be at most 320 bytes".to_string()));
        let fits = format!("{}İ", "u".repeat(300));
        let id = Identifier::parse(&fits, "1").unwrap();
        let stored = match &id {
            Identifier::Username(u) => u.clone(),
            _ => String::new(),
        };
        assert_eq!(Identifier::parse(&stored, "1").unwrap(), id);
    }

    const VICTIM: &str = "victim@example.com";

    #[test]
    fn invisible_characters_are_refused_in_emails_phones_and_identifiers() {
        for s in [
            "vic\u{200B}tim@example.com", // zero-width space
            "vic\u{00AD}tim@example.com", // soft hyphen
            "\u{202E}moc.elpmaxe@mitciv", // right-to-left override
            "victim\u{0000}@example.com",
            "vic\u{2060}tim@example.com", // word joiner
        ] {
            assert_eq!(Email::parse(s), Err(INVISIBLE.to_string()), "{s:?}");
            assert_eq!(Identifier::parse(s, "256"), Err(INVISIBLE.to_string()), "{s:?}");
        }
        assert_eq!(Identifier::parse("\u{0000}\u{0001}", "256"), Err(INVISIBLE.to_string()));
        assert_eq!(Identifier::parse("ad\u{200D}min", "256"), Err(INVISIBLE.to_string()));
        assert_eq!(Phone::parse("+256\u{200B}700000001", "256"), Err(INVISIBLE.to_string()));
        // Surrounding whitespace, control characters such as a trailing newline included, is trimmed.
        assert_eq!(Email::parse(" Victim@Example.com\n").unwrap().as_str(), VICTIM);
    }

    #[test]
    fn nfc_and_nfd_spellings_are_one_identifier() {
        let nfc_form = Email::parse("jos\u{00E9}@example.com").unwrap();
        let nfd_form = Email::parse("jose\u{0301}@example.com").unwrap();
        assert_eq!(nfc_form, nfd_form);
        assert_eq!(nfc_form.as_str(), "jos\u{00E9}@example.com");
        assert_eq!(normalize_username("Jose\u{0301}"), "jos\u{00E9}");
        assert_eq!(Email::parse("JOSE\u{0301}@EXAMPLE.COM").unwrap(), nfc_form);
    }

    #[test]
    fn look_alikes_share_the_skeleton_of_the_original() {
        let original = skeleton(VICTIM);
        for s in [
            "\u{FF56}\u{FF49}\u{FF43}\u{FF54}\u{FF49}\u{FF4D}@example.com", // fullwidth letters
            "vi\u{0441}tim@example.com",                                    // Cyrillic es
            "vict\u{0456}m@\u{0435}xample.com",                             // Cyrillic i and ie
            "VICTIM@EXAMPLE.COM",
        ] {
            let parsed = Email::parse(s).unwrap();
            assert_eq!(skeleton(parsed.as_str()), original, "{s:?}");
        }
        assert_ne!(skeleton("victor@example.com"), original);
        assert_eq!(skeleton("j\u{043E}hn"), skeleton("john"));
    }
}
