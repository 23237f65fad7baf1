//! PyPI's Authlib as the client (its `OAuth2Session`): the device flow's codes and polling, token
//! exchange and introspection. Skipped with a line where no Python with Authlib is found
//! (`.ci/run` makes one in target/test-venv; set CASTELLAN_TEST_PYTHON to another).

use castellan_testkit::spawn_app;
use serde_json::{Value, json};

use super::*;
use crate::fastapi_users::{python_with, run_python};

/// One script, its step chosen by STEP; each step prints one JSON line.
const CLIENT: &str = r#"
import json, os
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.errors import AuthlibBaseError
base = os.environ["ISSUER"] + "/protocol/openid-connect"
step = os.environ["STEP"]
def session(auth):
    if auth == "none":
        return OAuth2Session(os.environ["CLIENT_ID"], token_endpoint_auth_method="none")
    return OAuth2Session(os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], token_endpoint_auth_method=auth)
if step == "device_start":
    s = session("none")
    r = s.post(base + "/auth/device", data={"client_id": os.environ["CLIENT_ID"], "scope": "openid profile"}, withhold_token=True)
    r.raise_for_status()
    print(json.dumps(r.json()))
elif step == "device_poll":
    s = session("none")
    try:
        token = s.fetch_token(base + "/token", grant_type="urn:ietf:params:oauth:grant-type:device_code",
                              device_code=os.environ["DEVICE_CODE"])
        print(json.dumps({"token_type": token["token_type"], "access_token": token["access_token"]}))
    except AuthlibBaseError as e:
        print(json.dumps({"error": e.error}))
elif step == "exchange":
    s = session("client_secret_basic")
    token = s.fetch_token(base + "/token", grant_type="urn:ietf:params:oauth:grant-type:token-exchange",
                          subject_token=os.environ["SUBJECT"],
                          subject_token_type="urn:ietf:params:oauth:token-type:access_token",
                          audience=os.environ["AUDIENCE"], scope="openid")
    r = s.introspect_token(base + "/token/introspect", token=token["access_token"])
    r.raise_for_status()
    print(json.dumps({"issued": token["issued_token_type"], "scope": token["scope"], "introspected": r.json()}))
"#;

fn python() -> Option<String> {
    let found = python_with("authlib");
    if found.is_none() {
        println!("SKIP Authlib tests: no Python with authlib (set CASTELLAN_TEST_PYTHON)");
    }
    found
}

async fn step(python: &str, app: &TestApp, realm: &Realm, step: &str, vars: &[(&'static str, String)]) -> Value {
    let mut env = vec![("ISSUER", format!("{}{}", app.address, realm.base())), ("STEP", step.to_string())];
    env.extend(vars.iter().cloned());
    serde_json::from_str(&run_python(python.to_string(), CLIENT, env).await).unwrap()
}

#[tokio::test]
async fn authlib_polls_the_device_flow() {
    let Some(python) = python() else { return };
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let grants = json!(["urn:ietf:params:oauth:grant-type:device_code"]);
    create_client(&app, &realm.slug, json!({"name": "TV", "kind": "public", "client_id": "tv", "grant_types": grants})).await;
    let client = [("CLIENT_ID", "tv".to_string())];
    let d = step(&python, &app, &realm, "device_start", &client).await;
    let device = [("CLIENT_ID", "tv".to_string()), ("DEVICE_CODE", d["device_code"].as_str().unwrap().to_string())];
    let pending = step(&python, &app, &realm, "device_poll", &device).await;
    assert_eq!(pending["error"], "authorization_pending", "{pending}");
    let early = step(&python, &app, &realm, "device_poll", &device).await;
    assert_eq!(early["error"], "slow_down", "{early}");
    // The user allows on a phone.
    let mut phone = Browser::new(&app);
    let form = phone.get(d["verification_uri_complete"].as_str().unwrap()).await;
    let (csrf, code) = (form.field("csrf").unwrap(), form.field("user_code").unwrap());
    let login = phone.post(&format!("{}/device", realm.base()), &[("csrf", &csrf), ("user_code", &code)]).await;
    let consent = phone.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    phone.decide(&realm, &consent, "allow").await;
    app.clock.advance(15);
    let tokens = step(&python, &app, &realm, "device_poll", &device).await;
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    let claims = verify(&app, &realm, tokens["access_token"].as_str().unwrap(), "tv").await;
    assert_eq!(claims["sub"], realm.user_id);
}

#[tokio::test]
async fn authlib_exchanges_a_token_and_introspects_the_result() {
    let Some(python) = python() else { return };
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let api = "https://api.example.com";
    let gateway = create_client(
        &app,
        &realm.slug,
        json!({"name": "Gateway", "kind": "service", "client_id": "gateway",
               "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"], "exchange_audiences": [api]}),
    )
    .await;
    let (code, verifier, _browser) = web_code(&app, &realm, "openid email").await;
    let user = web_tokens(&app, &realm, &code, &verifier).await;
    let vars = [
        ("CLIENT_ID", "gateway".to_string()),
        ("CLIENT_SECRET", gateway["client_secret"].as_str().unwrap().to_string()),
        ("SUBJECT", user["access_token"].as_str().unwrap().to_string()),
        ("AUDIENCE", api.to_string()),
    ];
    let out = step(&python, &app, &realm, "exchange", &vars).await;
    assert_eq!(
        (out["issued"].as_str(), out["scope"].as_str()),
        (Some("urn:ietf:params:oauth:token-type:access_token"), Some("openid"))
    );
    let i = &out["introspected"];
    assert_eq!(
        (&i["active"], &i["sub"], &i["aud"], &i["client_id"]),
        (&json!(true), &json!(realm.user_id), &json!(api), &json!("gateway"))
    );
}
