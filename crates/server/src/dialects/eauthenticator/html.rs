//! What this dialect's pages add to the page kit: its scripts and the masking of addresses.

use axum::response::Response;

pub use crate::pages::kit::{Opener, PASSKEYS_JS_PATH, cross_site, escape, forbidden_page, page, page_with_scripts};

pub const HOSTED_JS_PATH: &str = "/static/hosted.js";
pub const CONSOLE_JS_PATH: &str = "/static/console.js";

const HOSTED_JS: &str = include_str!("assets/hosted.js");
const CONSOLE_JS: &str = include_str!("assets/console.js");

pub async fn hosted_js() -> Response {
    crate::pages::kit::asset("text/javascript; charset=utf-8", HOSTED_JS)
}

pub async fn console_js() -> Response {
    crate::pages::kit::asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

/// `j***@example.com`: enough to recognise, not enough to harvest.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_masked() {
        assert_eq!(mask_email("jane@example.com"), "j***@example.com");
        assert_eq!(mask_email("nope"), "***");
    }
}
