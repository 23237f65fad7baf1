//! The hosted pages: sign-in, second factor, consent, sign-out, errors, and the form that posts
//! a response back (`response_mode=form_post`). Plain HTML forms through the page kit (strict
//! CSP, no framing); they work without script.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::services::provider::{ResponseMode, SendBack};

use crate::pages::kit::{Opener, escape, page};

pub const FORM_POST_JS_PATH: &str = "/static/form-post.js";
pub use crate::pages::kit::PASSKEYS_JS_PATH;

/// The pages a sign-in passes through keep their opener: a relying party that signs in in a popup
/// (`display=popup`) waits for its redirect URI, in that popup, to report back to the window that
/// opened it, and `Cross-Origin-Opener-Policy: same-origin` on any page on the way would cut that
/// link for good. Framing stays refused (`frame-ancestors 'none'`).
const SIGN_IN_OPENER: Opener = Opener::Kept;
const FORM_POST_JS: &str = include_str!("assets/form_post.js");

pub async fn form_post_js() -> Response {
    crate::pages::kit::asset("text/javascript; charset=utf-8", FORM_POST_JS)
}

/// What the sign-in pages know of where they are.
pub struct Realm<'a> {
    /// `/…/realms/<slug>`: the path the pages post to, and the cookies' path.
    pub base: &'a str,
    pub name: &'a str,
}

/// The origin of a URL (`scheme://host[:port]`), for a page's `form-action`: a form whose answer
/// redirects to the client must be allowed to end there.
pub fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

fn with_no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error_html(msg: Option<&str>) -> String {
    msg.map(|m| format!("<p class=\"err\" role=\"alert\" id=\"error\">{}</p>", escape(m))).unwrap_or_default()
}

pub(super) fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value))
}

/// What the sign-in pages (password, second factor) show and carry.
#[derive(Clone, Copy)]
pub struct SignIn<'a> {
    pub realm: &'a Realm<'a>,
    pub client_name: &'a str,
    /// The sealed authorization request.
    pub sealed: &'a str,
    pub csrf: &'a str,
    pub error: Option<&'a str>,
    /// Origins the form's answer may redirect to.
    pub back_to: &'a [String],
    pub status: StatusCode,
    /// Whether the realm offers passkeys (it has a relying party).
    pub passkeys: bool,
}

/// The sign-in page: identifier and password; where the realm offers them, a passkey (a button,
/// and the browser's autofill on the identifier field).
pub fn login(f: &SignIn<'_>, hint: Option<&str>) -> Response {
    let SignIn { realm, client_name, sealed, csrf, error, back_to, status, passkeys } = *f;
    let (autocomplete, passkey_form) = if passkeys {
        let form = format!(
            "<form method=\"post\" action=\"{base}/login/passkey\" id=\"passkey-form\" \
             data-options=\"{base}/login/passkey/options\">{csrf}{request}\
             <input type=\"hidden\" name=\"ceremony\"><input type=\"hidden\" name=\"credential\">\
             <button type=\"button\" id=\"passkey-button\" class=\"secondary\" hidden>Sign in with a passkey</button></form>",
            base = realm.base,
            csrf = hidden("csrf", csrf),
            request = hidden("request", sealed),
        );
        ("username webauthn", form)
    } else {
        ("username", String::new())
    };
    let body = format!(
        "<h1>Sign in</h1><p class=\"muted\">to continue to <strong id=\"client-name\">{client}</strong></p>{err}\
         <form method=\"post\" action=\"{base}/login\" id=\"login-form\">{csrf}{request}\
         <label for=\"identifier\">Email, username or phone</label>\
         <input id=\"identifier\" name=\"identifier\" autocomplete=\"{autocomplete}\" value=\"{hint}\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\" id=\"submit\">Sign in</button></form>{passkey_form}\
         <p><a href=\"{base}/forgot-password\" id=\"forgot\">Forgot your password?</a></p>",
        client = escape(client_name),
        err = error_html(error),
        base = realm.base,
        csrf = hidden("csrf", csrf),
        request = hidden("request", sealed),
        hint = escape(hint.unwrap_or_default()),
    );
    let script = passkeys.then_some(PASSKEYS_JS_PATH);
    with_no_store(page(status, &format!("Sign in to {}", realm.name), &body, script, back_to, SIGN_IN_OPENER))
}

/// The second-factor page: whichever of the user's factors they have — the code of their
/// authenticator app, a security key or passkey, a recovery code.
pub fn second_factor(f: &SignIn<'_>, mfa_token: &str, methods: &[String]) -> Response {
    let SignIn { realm, client_name, sealed, csrf, error, back_to, status, .. } = *f;
    let has = |m: &str| methods.iter().any(|x| x == m);
    let carried = format!(
        "{}{}{}{}",
        hidden("csrf", csrf),
        hidden("request", sealed),
        hidden("mfa_token", mfa_token),
        hidden("methods", &methods.join(","))
    );
    let mut forms = String::new();
    if has("webauthn") {
        forms.push_str(&format!(
            "<form method=\"post\" action=\"{base}/login/second-factor\" id=\"key-form\" \
             data-options=\"{base}/login/second-factor/options\">{carried}{method}\
             <input type=\"hidden\" name=\"ceremony\"><input type=\"hidden\" name=\"credential\">\
             <button type=\"button\" id=\"key-button\" hidden>Use your security key or passkey</button></form>",
            base = realm.base,
            method = hidden("method", "webauthn"),
        ));
    }
    if has("totp") {
        forms.push_str(&format!(
            "<form method=\"post\" action=\"{base}/login/totp\" id=\"totp-form\">{carried}\
             <label for=\"code\">Code from your authenticator app</label>\
             <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6,8}}\" required autofocus>\
             <button type=\"submit\" id=\"submit\">Verify</button></form>",
            base = realm.base,
        ));
    }
    if has("recovery_code") {
        forms.push_str(&format!(
            "<details id=\"recovery\"><summary>Use a recovery code</summary>\
             <form method=\"post\" action=\"{base}/login/second-factor\" id=\"recovery-form\">{carried}{method}\
             <label for=\"recovery-code\">Recovery code</label>\
             <input id=\"recovery-code\" name=\"code\" autocomplete=\"off\" spellcheck=\"false\" maxlength=\"20\" required>\
             <button type=\"submit\" id=\"recovery-submit\">Use the code</button></form></details>",
            base = realm.base,
            method = hidden("method", "recovery_code"),
        ));
    }
    let lost = if has("recovery_code") {
        "Lost your key or device? Use a recovery code, or ask your administrator."
    } else {
        "Lost your key or device? Ask your administrator."
    };
    let body = format!(
        "<h1>Two-step verification</h1><p class=\"muted\">Confirm it is you to continue to \
         <strong>{client}</strong>.</p>{err}{forms}<p class=\"muted\" id=\"lost\">{lost}</p>",
        client = escape(client_name),
        err = error_html(error),
    );
    let script = has("webauthn").then_some(PASSKEYS_JS_PATH);
    with_no_store(page(status, "Two-step verification", &body, script, back_to, SIGN_IN_OPENER))
}

/// The tenant asks for a passkey before the user goes on: the account page's form to add one,
/// carrying the request it continues.
pub fn enrol_passkey(realm: &Realm<'_>, client_name: &str, sealed: &str, csrf: &str, back_to: &[String]) -> Response {
    let body = format!(
        "<h1>Add a passkey</h1><p>{name} asks you to add a passkey before you continue to \
         <strong id=\"client-name\">{client}</strong>. Next time it signs you in without your password.</p>\
         <form method=\"post\" action=\"{base}/account/passkeys\" id=\"register-form\" \
         data-options=\"{base}/account/passkeys/options\">{csrf}{request}\
         <input type=\"hidden\" name=\"kind\" value=\"passkey\"><input type=\"hidden\" name=\"ceremony\">\
         <input type=\"hidden\" name=\"credential\">\
         <label for=\"credential-name\">Name (optional)</label>\
         <input id=\"credential-name\" name=\"name\" maxlength=\"64\" autocomplete=\"off\" placeholder=\"Laptop, phone\">\
         <button type=\"button\" id=\"add-passkey\" data-kind=\"passkey\">Add a passkey</button>\
         <p class=\"err\" role=\"alert\" id=\"register-error\" hidden></p></form>\
         <noscript><p class=\"err\">Adding a passkey needs JavaScript.</p></noscript>\
         <p class=\"muted\">If this device cannot make a passkey, ask your administrator.</p>",
        name = escape(realm.name),
        client = escape(client_name),
        base = realm.base,
        csrf = hidden("csrf", csrf),
        request = hidden("request", sealed),
    );
    with_no_store(page(StatusCode::OK, "Add a passkey", &body, Some(PASSKEYS_JS_PATH), back_to, SIGN_IN_OPENER))
}

/// What a scope lets a client do, in words.
fn scope_words(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are on this site",
        "profile" => "See your name and username",
        "email" => "See your email address",
        "phone" => "See your phone number",
        "offline_access" => "Keep access while you are away",
        _ => "Other access",
    }
}

/// The consent page: the client, the scopes in words, Allow and Deny; for a device, the code the
/// device shows, to compare.
#[allow(clippy::too_many_arguments)]
pub fn consent(
    realm: &Realm<'_>,
    client_name: &str,
    scopes: &[String],
    sealed: &str,
    csrf: &str,
    user: &str,
    user_code: Option<&str>,
    back_to: &[String],
) -> Response {
    let items: String = scopes.iter().map(|s| format!("<li data-scope=\"{}\">{}</li>", escape(s), scope_words(s))).collect();
    let device = user_code
        .map(|c| format!("<p>Allow only if your device shows this code: <strong id=\"user-code\">{}</strong></p>", escape(c)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Allow access?</h1>{device}<p><strong id=\"client-name\">{client}</strong> asks to:</p><ul id=\"scopes\">{items}</ul>\
         <p class=\"muted\">Signed in as {user}.</p>\
         <form method=\"post\" action=\"{base}/consent\" id=\"consent-form\">{csrf}{request}\
         <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\" class=\"secondary\">Deny</button></form>",
        client = escape(client_name),
        user = escape(user),
        base = realm.base,
        csrf = hidden("csrf", csrf),
        request = hidden("request", sealed),
    );
    with_no_store(page(StatusCode::OK, "Allow access?", &body, None, back_to, SIGN_IN_OPENER))
}

/// The device page: the code the device shows.
pub fn device_code(realm: &Realm<'_>, csrf: &str, user_code: &str, error: Option<&str>, status: StatusCode) -> Response {
    let body = format!(
        "<h1>Connect a device</h1><p>Enter the code your device shows.</p>{err}\
         <form method=\"post\" action=\"{base}/device\" id=\"device-form\">{csrf}\
         <label for=\"user_code\">Code</label>\
         <input id=\"user_code\" name=\"user_code\" value=\"{code}\" autocomplete=\"off\" autocapitalize=\"characters\" \
         spellcheck=\"false\" maxlength=\"32\" required autofocus>\
         <button type=\"submit\" id=\"submit\">Continue</button></form>",
        err = error_html(error),
        base = realm.base,
        csrf = hidden("csrf", csrf),
        code = escape(user_code),
    );
    with_no_store(page(status, &format!("Connect a device to {}", realm.name), &body, None, &[], Opener::Isolated))
}

/// A device authorization decided: back to the device.
pub fn device_done(client_name: &str, outcome: &str) -> Response {
    let (title, text) = match outcome {
        "approved" => ("Device connected", format!("{} is connected. You can go back to your device.", escape(client_name))),
        "denied" => ("Request denied", format!("{} was not given access.", escape(client_name))),
        _ => ("Code expired", "This code has expired or was already used. Start again on your device.".to_string()),
    };
    let body = format!("<h1>{title}</h1><p id=\"device-outcome\" data-outcome=\"{outcome}\">{text}</p>");
    let status = if outcome == "expired" { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    with_no_store(page(status, title, &body, None, &[], Opener::Isolated))
}

/// The answer to a client by `form_post`: a form that script submits at once, with a button for
/// browsers without it.
pub fn form_post(back: &SendBack) -> Response {
    let fields: String = back.params.iter().map(|(k, v)| hidden(k, v)).collect();
    let body = format!(
        "<h1>Continue</h1><form method=\"post\" action=\"{action}\" id=\"form-post\">{fields}\
         <p>Your browser is returning you to the application.</p>\
         <button type=\"submit\" id=\"continue\">Continue</button></form>",
        action = escape(&back.redirect_uri),
    );
    let targets: Vec<String> = origin_of(&back.redirect_uri).into_iter().collect();
    with_no_store(page(StatusCode::OK, "Continue", &body, Some(FORM_POST_JS_PATH), &targets, SIGN_IN_OPENER))
}

/// Back to the client: a redirect with the parameters in the query, or the form that posts them.
pub fn send_back(back: &SendBack) -> Response {
    match back.mode {
        ResponseMode::FormPost => form_post(back),
        ResponseMode::Query => see_other(&back.location()),
    }
}

/// A 303 to `location`, never cached.
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    with_no_store(r)
}

/// A request that cannot go back to the client: why, on a page of its own.
pub fn error(status: StatusCode, message: &str) -> Response {
    error_titled(status, "Sign-in cannot continue", message)
}

/// A sign-out request that cannot be honoured.
pub fn logout_error(status: StatusCode, message: &str) -> Response {
    error_titled(status, "Sign-out cannot continue", message)
}

fn error_titled(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<h1>{t}</h1><p class=\"err\" role=\"alert\" id=\"error\">{m}</p>\
         <p class=\"muted\">Go back to the application and try again.</p>",
        t = escape(title),
        m = escape(message)
    );
    with_no_store(page(status, title, &body, None, &[], SIGN_IN_OPENER))
}

/// The sign-out confirmation: the request's parameters again, confirmed.
pub fn logout_confirm(realm: &Realm<'_>, client_name: Option<&str>, params: &[(&str, &str)], csrf: &str) -> Response {
    let fields: String = params.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| hidden(k, v)).collect();
    let asking = client_name.map(|c| format!(" <strong>{}</strong> asks you to sign out.", escape(c))).unwrap_or_default();
    let body = format!(
        "<h1>Sign out?</h1><p>Do you want to sign out of {name}?{asking}</p>\
         <form method=\"post\" action=\"{base}/protocol/openid-connect/logout\" id=\"logout-form\">{csrf}{fields}\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\" id=\"sign-out\">Sign out</button></form>",
        name = escape(realm.name),
        base = realm.base,
        csrf = hidden("csrf", csrf),
    );
    let back_to: Vec<String> =
        params.iter().filter(|(k, _)| *k == "post_logout_redirect_uri").filter_map(|(_, v)| origin_of(v)).collect();
    with_no_store(page(StatusCode::OK, "Sign out?", &body, None, &back_to, Opener::Isolated))
}

/// Signed out, with nowhere to go back to.
pub fn signed_out(realm: &Realm<'_>) -> Response {
    let body = format!("<h1>Signed out</h1><p id=\"signed-out\">You are signed out of {}.</p>", escape(realm.name));
    with_no_store(page(StatusCode::OK, "Signed out", &body, None, &[], Opener::Isolated))
}

/// The forgot-password form.
pub fn forgot_password(realm: &Realm<'_>, csrf: &str, error: Option<&str>) -> Response {
    let body = format!(
        "<h1>Forgot your password?</h1><p>Enter the email address of your account; we will mail you a link to choose a \
         new password.</p>{err}<form method=\"post\" action=\"{base}/forgot-password\" id=\"forgot-form\">{csrf}\
         <label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required autofocus>\
         <button type=\"submit\" id=\"submit\">Send the link</button></form>",
        err = error_html(error),
        base = realm.base,
        csrf = hidden("csrf", csrf),
    );
    with_no_store(page(StatusCode::OK, "Forgot your password?", &body, None, &[], Opener::Isolated))
}

/// The same answer whether or not the address has an account.
pub fn reset_requested(realm: &Realm<'_>) -> Response {
    let body = format!(
        "<h1>Check your email</h1><p id=\"reset-requested\">If an account of {} has this address, a link to choose a new \
         password is on its way. It works once.</p>",
        escape(realm.name)
    );
    with_no_store(page(StatusCode::OK, "Check your email", &body, None, &[], Opener::Isolated))
}
