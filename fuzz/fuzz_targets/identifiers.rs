//! Login identifiers as typed (emails, phone numbers, usernames) and tenant slugs: nothing
//! panics, normalising is idempotent, what is accepted holds no control or format character, and
//! the confusable skeleton the store keeps unique is that of the normalised form.
#![no_main]

use castellan_core::model::identifier::{Email, Identifier, Phone, has_control_or_format, skeleton};
use castellan_core::model::tenant::parse_slug;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = Identifier::parse(text, "234") {
        let again = match &id {
            Identifier::Email(e) => Identifier::parse(e.as_str(), "234"),
            Identifier::Phone(p) => Identifier::parse(p.as_str(), "234"),
            Identifier::Username(u) => Identifier::parse(u, "234"),
        };
        assert_eq!(again.as_ref(), Ok(&id), "normalising {text:?} twice differs");
        assert!(!has_control_or_format(&id.key()), "{text:?} kept an invisible character");
        // What the store keeps unique beside it: the same for the identifier parsed again.
        let again = again.map(|a| skeleton(&a.key())).unwrap_or_default();
        assert_eq!(skeleton(&id.key()), again);
    }
    if let Ok(e) = Email::parse(text) {
        assert_eq!(Email::parse(e.as_str()).as_ref(), Ok(&e));
    }
    if let Ok(p) = Phone::parse(text, "1") {
        assert_eq!(Phone::parse(p.as_str(), "1").as_ref(), Ok(&p));
    }
    if let Ok(slug) = parse_slug(text) {
        assert_eq!(parse_slug(&slug).as_deref(), Ok(slug.as_str()));
    }
});
