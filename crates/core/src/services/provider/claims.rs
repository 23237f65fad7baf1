//! The standard claims of a user, by scope (OpenID Connect Core §5.4) and by name (§5.5).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::model::User;

/// The claim names each scope stands for.
const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    ("profile", &["name", "given_name", "family_name", "preferred_username", "updated_at"]),
    ("email", &["email", "email_verified"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// One standard claim of the user; `None` when the user has no value for it.
fn claim(user: &User, name: &str) -> Option<Value> {
    match name {
        "name" => user.full_name().map(Value::from),
        "given_name" => user.first_name.clone().map(Value::from),
        "family_name" => user.last_name.clone().map(Value::from),
        "preferred_username" => preferred_username(user).map(Value::from),
        "updated_at" => Some(json!(user.updated_at)),
        "email" => user.email.clone().map(Value::from),
        "email_verified" => user.email.as_ref().map(|_| json!(user.email_verified)),
        "phone_number" => user.phone.clone().map(Value::from),
        "phone_number_verified" => user.phone.as_ref().map(|_| json!(user.phone_verified)),
        _ => None,
    }
}

/// The name a user goes by: the username, else the email, else the phone number.
pub fn preferred_username(user: &User) -> Option<String> {
    user.username.clone().or_else(|| user.email.clone()).or_else(|| user.phone.clone())
}

/// Whether `name` is a claim of one of the granted `scopes`.
fn granted(name: &str, scopes: &[String]) -> bool {
    SCOPE_CLAIMS.iter().any(|(scope, names)| names.contains(&name) && scopes.iter().any(|g| g == scope))
}

/// The claims of the granted scopes. Claims requested by name (the `claims` parameter) are
/// released only within those scopes: a name asks for no more than the user consented to and
/// the client may have.
pub fn scope_claims(user: &User, scopes: &[String], requested: &BTreeMap<String, bool>) -> Map<String, Value> {
    let mut out = Map::new();
    let by_scope =
        SCOPE_CLAIMS.iter().filter(|(s, _)| scopes.iter().any(|g| g == s)).flat_map(|(_, names)| names.iter().copied());
    let by_name = requested.keys().map(String::as_str).filter(|n| granted(n, scopes));
    for name in by_scope.chain(by_name) {
        if let Some(value) = claim(user, name) {
            out.insert(name.to_string(), value);
        }
    }
    out
}

/// What UserInfo answers: the subject and the claims of the token's scopes.
pub fn userinfo_claims(user: &User, scopes: &[String], requested: &BTreeMap<String, bool>) -> Value {
    let mut out = scope_claims(user, scopes, requested);
    out.insert("sub".into(), json!(user.id.to_string()));
    Value::Object(out)
}
