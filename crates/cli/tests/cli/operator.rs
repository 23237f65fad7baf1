//! What an operator meets first: configuration checked before anything is made, one server per
//! SQLite database, commands that refuse to invent a data directory, and help that says things.

use std::process::Output;

use serde_json::json;

use crate::common::{MASTER_KEY, Server, castellan, temp_dir};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The example configuration of docs/configuration.md, without its database URL.
fn documented_example() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md")).unwrap();
    let start = doc.find("Example `castellan.toml`").expect("the example is documented");
    let block = &doc[start..];
    let body = block.split("```toml").nth(1).unwrap().split("```").next().unwrap();
    body.lines().filter(|l| !l.trim_start().starts_with("database_url")).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_documented_example_is_refused_whole_before_the_data_directory_is_touched() {
    let dir = temp_dir("config");
    let data = dir.join("data");
    let file = dir.join("castellan.toml");
    std::fs::write(&file, documented_example()).unwrap();
    let out = castellan(&["serve", "--config", file.to_str().unwrap()])
        .env("CASTELLAN_DATA_DIR", &data)
        .env("CASTELLAN_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("CASTELLAN_SMS_API_KEY is required"), "{err}");
    assert!(!err.contains("admin token"), "no token printed and lost: {err}");
    assert!(!data.exists(), "nothing made: no data directory, no master key");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_keys_name_their_line_and_the_nearest_key_and_change_nothing() {
    let dir = temp_dir("config");
    let data = dir.join("data");
    let file = dir.join("castellan.toml");
    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:0\"\npublic_ulr = \"https://auth.example.com\"\n").unwrap();
    let out = castellan(&["serve", "--config", file.to_str().unwrap()]).env("CASTELLAN_DATA_DIR", &data).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("line 3: unknown key `[server] public_ulr`; did you mean `public_url`?"), "{err}");
    assert!(!data.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_environment_variables_are_warned_about_and_do_not_stop_a_command() {
    let dir = temp_dir("config");
    let out = castellan(&["migrate"])
        .env("CASTELLAN_DATA_DIR", dir.join("data"))
        .env("CASTELLAN_LISTN", "127.0.0.1:9999")
        .env("CASTELLAN_SERVICE_HOST", "10.0.0.7")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: the environment variable CASTELLAN_LISTN configures nothing; did you mean CASTELLAN_LISTEN?"),
        "{err}"
    );
    assert!(err.contains("CASTELLAN_SERVICE_HOST configures nothing"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn commands_other_than_serve_demo_and_migrate_refuse_to_create_a_data_directory() {
    let dir = temp_dir("config");
    let data = dir.join("typo");
    for args in [&["tenant", "list"][..], &["admin-token", "create"], &["outbox"], &["keys", "list", "--tenant", "default"]] {
        let out = castellan(args).env("CASTELLAN_DATA_DIR", &data).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(&format!("no Castellan data directory at {}", data.display())), "{args:?}: {err}");
        assert!(err.contains("set CASTELLAN_DATA_DIR"), "{err}");
        assert!(!data.exists(), "{args:?} made {}", data.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn demo_on_a_fresh_data_directory_sets_it_up_as_serve_would_and_prints_the_admin_token_once() {
    let dir = temp_dir("demo");
    let data = dir.join("data");
    let fresh = || {
        castellan(&["demo", "--json"])
            .env("CASTELLAN_DATA_DIR", &data)
            .env("CASTELLAN_ARGON2_MEMORY_KIB", "64")
            .env("CASTELLAN_ARGON2_ITERATIONS", "1")
            .output()
            .unwrap()
    };
    let out = fresh();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("created the `default` tenant and this admin token"), "{err}");
    let token = err.lines().map(str::trim).find(|l| l.starts_with("cas_admin_")).expect("the token").to_string();
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let again = fresh();
    assert!(again.status.success());
    assert!(!stderr(&again).contains("admin token"), "printed once: {}", stderr(&again));
    let second: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();

    // The OpenID Connect realm: the secrets of the clients that have one, shown by the run that
    // made them and never again (only their digests are kept).
    let oidc = &first["oidc"];
    assert_eq!(oidc["tenant"]["slug"], "acme", "{oidc}");
    assert!(oidc["tenant"]["issuer"].as_str().unwrap().ends_with("/realms/acme"), "{oidc}");
    assert_eq!((&oidc["user"]["email"], &oidc["password"]), (&json!("alice@example.com"), &json!("Wonderland-2026!")));
    let client = |run: &serde_json::Value, id: &str| {
        run["oidc"]["clients"].as_array().unwrap().iter().find(|c| c["client_id"] == id).cloned().expect(id)
    };
    let web_secret = client(&first, "demo-web")["client_secret"].as_str().expect("demo-web's secret").to_string();
    let service_secret = client(&first, "demo-service")["client_secret"].as_str().expect("demo-service's secret").to_string();
    assert!(web_secret.starts_with("cas_secret_") && service_secret.starts_with("cas_secret_"));
    assert_ne!(web_secret, service_secret);
    assert!(client(&first, "demo-spa").get("client_secret").is_none(), "a public client has none");
    assert_eq!(client(&first, "demo-service")["grant_types"], json!(["client_credentials"]));
    for id in ["demo-web", "demo-service"] {
        let again = client(&second, id);
        assert_eq!(again["client_secret"], serde_json::Value::Null, "{id}: shown once: {again}");
        assert!(again["client_secret_note"].as_str().unwrap().contains("rotate-secret"), "{again}");
    }
    assert_eq!(second["oidc"]["user"]["id"], first["oidc"]["user"]["id"], "nothing made twice");
    let printed = format!("{}{}", stdout(&again), stderr(&again));
    assert!(!printed.contains(&web_secret) && !printed.contains(&service_secret), "{printed}");

    let list = castellan(&["tenant", "list"]).env("CASTELLAN_DATA_DIR", &data).output().unwrap();
    let table = stdout(&list);
    assert!(table.starts_with("SLUG"), "a table: {table}");
    for slug in ["default", "fmfb", "kumusoft", "mosip", "acme"] {
        assert!(table.lines().any(|l| l.starts_with(&format!("{slug} "))), "{slug} in {table}");
    }
    let json = castellan(&["tenant", "list", "--json"]).env("CASTELLAN_DATA_DIR", &data).output().unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&json.stdout).unwrap().is_array());

    // The token works against the server on that data directory, which prints none.
    let mut server = Server::start(&[("CASTELLAN_DATA_DIR", data.display().to_string())], &dir.join("serve.log")).await;
    let (s, tenants) = server.call(reqwest::Method::GET, "/admin/v1/tenants", Some(&token), None).await;
    assert_eq!(s, 200, "{tenants}");
    let acme = tenants.as_array().unwrap().iter().find(|t| t["slug"] == "acme").expect("acme");
    assert_eq!((&acme["profile"], &acme["dialects"]), (&json!("oidc"), &json!(["oidc"])));
    let (s, apps) = server.call(reqwest::Method::GET, "/admin/v1/tenants/acme/applications", Some(&token), None).await;
    assert_eq!(s, 200, "{apps}");
    let app = |id: &str| apps.as_array().unwrap().iter().find(|a| a["client_id"] == id).cloned().expect(id);
    let web = app("demo-web");
    assert_eq!(
        (&web["kind"], &web["redirect_uris"], &web["post_logout_redirect_uris"], &web["first_party"]),
        (
            &json!("confidential"),
            &json!(["http://127.0.0.1:8000/callback", "http://localhost:8000/callback"]),
            &json!(["http://127.0.0.1:8000/"]),
            &json!(false)
        )
    );
    let spa = app("demo-spa");
    assert_eq!(
        (&spa["kind"], &spa["redirect_uris"], &spa["first_party"]),
        (&json!("public"), &json!(["http://127.0.0.1:5173/callback"]), &json!(true))
    );
    let service = app("demo-service");
    assert_eq!((&service["kind"], &service["grant_types"]), (&json!("service"), &json!(["client_credentials"])));
    let (s, users) =
        server.call(reqwest::Method::GET, "/admin/v1/tenants/acme/users?email=alice@example.com", Some(&token), None).await;
    assert_eq!(s, 200, "{users}");
    assert_eq!(
        (&users[0]["first_name"], &users[0]["last_name"], &users[0]["email_verified"]),
        (&json!("Alice"), &json!("Liddell"), &json!(true))
    );
    server.stop();
    assert!(!server.log_text().contains("admin token"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_second_serve_on_one_sqlite_database_refuses_while_the_first_keeps_serving() {
    let dir = temp_dir("lock");
    let env = [("CASTELLAN_DATA_DIR", dir.join("data").display().to_string()), ("CASTELLAN_MASTER_KEY", MASTER_KEY.to_string())];
    let first = Server::start(&env, &dir.join("first.log")).await;
    let out = castellan(&["serve", "--listen", "127.0.0.1:0"]).envs(env.iter().map(|(k, v)| (*k, v.as_str()))).output().unwrap();
    assert!(!out.status.success(), "the second one must not run");
    let err = stderr(&out);
    assert!(err.contains("another `castellan serve` is already serving"), "{err}");
    assert!(reqwest::get(format!("{}/health", first.url)).await.unwrap().status().is_success());
    drop(first);
    // Once the first has stopped, the lock is free again.
    let again = Server::start(&env, &dir.join("again.log")).await;
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lines of a help text's `Commands:` section.
fn command_lines(help: &str) -> Vec<String> {
    let section = help.split("Commands:").nth(1).unwrap().split("Options:").next().unwrap();
    section.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

#[test]
fn help_describes_every_command_and_lists_the_choices() {
    let help = stdout(&castellan(&["--help"]).output().unwrap());
    assert!(command_lines(&help).len() >= 10, "{help}");
    for group in [&[][..], &["tenant"], &["app"], &["user"], &["keys"], &["admin-token"]] {
        let help = stdout(&castellan(&[group, &["--help"]].concat()).output().unwrap());
        for line in command_lines(&help) {
            assert!(line.split_whitespace().count() >= 2, "{group:?}: a command without a description: {line:?}");
        }
    }
    let tenant = stdout(&castellan(&["tenant", "create", "--help"]).output().unwrap());
    assert!(
        tenant.contains("possible values: default, korastratum, kumusoft, mosip, eauthenticator, fastapi-users, oidc"),
        "{tenant}"
    );
    let serve = stdout(&castellan(&["serve", "--help"]).output().unwrap());
    assert!(serve.contains("--listen") && serve.contains("--data-dir"), "{serve}");
}

#[test]
fn a_refused_password_lists_the_rules_it_misses() {
    let dir = temp_dir("cli");
    let data = dir.join("data");
    let out = castellan(&["migrate"]).env("CASTELLAN_DATA_DIR", &data).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let setup =
        castellan(&["tenant", "create", "bank", "--profile", "korastratum"]).env("CASTELLAN_DATA_DIR", &data).output().unwrap();
    assert!(setup.status.success(), "{}", stderr(&setup));
    let out = castellan(&["user", "create", "--tenant", "bank", "--email", "a@example.com"])
        .env("CASTELLAN_DATA_DIR", &data)
        .env("CASTELLAN_NEW_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("the password does not meet the tenant's policy:"), "{err}");
    assert!(err.contains("at least") && err.contains("characters"), "names the rule: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_hosted_2fa_demo_completes_with_nothing_else_running() {
    let dir = temp_dir("demo");
    let listen = format!("127.0.0.1:{}", crate::common::free_port());
    let env = [
        ("CASTELLAN_DATA_DIR", dir.join("data").display().to_string()),
        ("CASTELLAN_DEV", "true".to_string()),
        ("CASTELLAN_LISTEN", listen.clone()),
        ("CASTELLAN_ARGON2_MEMORY_KIB", "64".to_string()),
        ("CASTELLAN_ARGON2_ITERATIONS", "1".to_string()),
    ];
    let with_env = |mut cmd: std::process::Command| {
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd
    };
    // As the README has it: demo, then serve.
    let out = with_env(castellan(&["demo", "--json"])).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let server = Server::start(&env, &dir.join("serve.log")).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/authen-api/api/v1/session-token", server.url))
        .header("X-API-Key", "cas_key_demo_portal_4f1c9a7e2b")
        .json(&serde_json::json!({"email": "jane@example.com", "client_id": "84c2ad6c-62eb-4217-8f46-a66852e6fe92"}));
    let (s, b) = castellan_testkit::send(r).await;
    assert_eq!(s, 200, "{b}");
    let token = b["data"]["session_token"].as_str().unwrap().to_string();
    let redirect = "http://127.0.0.1:8090/2fa/done";
    let r = server.submit_hosted_code(&token, redirect, &crate::common::totp_now("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")).await;
    assert_eq!(r.status().as_u16(), 302, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"].to_str().unwrap(), format!("{redirect}?session_token={token}"));
    // The receiver got the callback and found its signature valid.
    let out = with_env(castellan(&["outbox", "--to", "callback-receiver"])).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = stdout(&out);
    assert!(listing.contains("callback for Demo Portal: result=true, signature valid"), "{listing}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn audit_lists_apart_the_attempts_that_name_no_tenant() {
    let dir = temp_dir("audit");
    let admin = "audit-test-admin-token-7d21";
    let env = [
        ("CASTELLAN_DATA_DIR", dir.join("data").display().to_string()),
        ("CASTELLAN_MASTER_KEY", MASTER_KEY.to_string()),
        ("CASTELLAN_ADMIN_TOKEN", admin.to_string()),
        ("CASTELLAN_ARGON2_MEMORY_KIB", "64".to_string()),
        ("CASTELLAN_ARGON2_ITERATIONS", "1".to_string()),
    ];
    let server = Server::start(&env, &dir.join("serve.log")).await;
    let body = serde_json::json!({"refreshToken": "no-such-refresh-token"});
    let (s, b) = server.call(reqwest::Method::POST, "/v1/auth/token/refresh", None, Some(body)).await;
    assert_eq!(s, 401, "{b}");
    // A listing waits for the events queued before it, so the attempt is stored by now.
    let (s, b) = server.call(reqwest::Method::GET, "/admin/v1/tenants/default/audit", Some(admin), None).await;
    assert_eq!(s, 200, "{b}");
    let run = |args: &[&str]| {
        let mut cmd = castellan(args);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&["--json", "audit", "--unscoped"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let refresh: Vec<&serde_json::Value> = events.as_array().unwrap().iter().filter(|e| e["action"] == "refresh").collect();
    assert_eq!(refresh.len(), 1, "{events}");
    assert_eq!((&refresh[0]["outcome"], &refresh[0]["tenant_id"]), (&serde_json::json!("failure"), &serde_json::Value::Null));
    assert_eq!(refresh[0]["detail"]["reason"], "unknown token");
    assert!(!stdout(&out).contains("no-such-refresh-token"), "the token itself is not recorded");
    let out = run(&["audit"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--tenant"), "{}", stderr(&out));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_cut_short_by_the_reader_is_not_a_panic_and_data_dir_works_with_every_command() {
    let dir = temp_dir("pipe");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let out = castellan(&["migrate", "--data-dir", data_arg]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = castellan(&["tenant", "create", "bank", "--data-dir", data_arg]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The reader goes away before the command writes: `castellan … | head -0`.
    let mut child = castellan(&["tenant", "show", "bank", "--json", "--data-dir", data_arg])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(status.code(), Some(101), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cli_makes_an_application_with_a_callback_secret_and_rotates_it() {
    let dir = temp_dir("app");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--json", "--data-dir", data_arg]);
        castellan(&all).env("CASTELLAN_DEV", "true").output().unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    assert!(run(&["tenant", "create", "portal", "--profile", "eauthenticator"]).status.success());
    let out = run(&[
        "app",
        "create",
        "--tenant",
        "portal",
        "--kind",
        "public",
        "--client-id",
        "portal-app",
        "--callback-url",
        "http://127.0.0.1:9/cb",
        "--allowed-ip",
        "127.0.0.1",
        "--redirect-uri",
        "https://portal.example.com/done",
        "Portal",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = created["callback_secret"].as_str().expect("the callback secret, once").to_string();
    assert_eq!(created["allowed_ips"], serde_json::json!(["127.0.0.1"]));
    let out = run(&["app", "callback-secret", "--tenant", "portal", "portal-app"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(rotated["callback_secret"].as_str().unwrap(), first);
    // The same checks as the admin API and the console: a bad allow-list is refused, by field.
    let out = run(&["app", "create", "--tenant", "portal", "--allowed-ip", "10.0.0.0/33", "Bad"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("allowed_ips:"), "{}", stderr(&out));
    // No callback URL, no callback secret to rotate.
    assert!(run(&["app", "create", "--tenant", "portal", "--client-id", "plain", "Plain"]).status.success());
    let out = run(&["app", "callback-secret", "--tenant", "portal", "plain"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("callback_url: the application has no callback URL"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cli_makes_an_openid_connect_client_and_lists_its_settings() {
    let dir = temp_dir("oidc-app");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", data_arg]);
        castellan(&all).output().unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    let out = run(&["tenant", "create", "acme", "--profile", "oidc", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tenant: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tenant["dialects"], serde_json::json!(["oidc"]));
    let out = run(&[
        "app",
        "create",
        "--tenant",
        "acme",
        "--kind",
        "confidential",
        "--client-id",
        "web",
        "--redirect-uri",
        "https://web.example.com/callback",
        "--redirect-uri",
        "http://127.0.0.1:8000/callback",
        "--post-logout-redirect-uri",
        "https://web.example.com/",
        "--post-logout-redirect-uri",
        "http://127.0.0.1:8000/",
        "--grant-type",
        "refresh_token",
        "--grant-type",
        "authorization_code",
        "--scope",
        "openid",
        "--scope",
        "email",
        "--token-endpoint-auth-method",
        "client_secret_post",
        "--first-party",
        "--require-pkce",
        "--access-token-audience",
        "https://api.example.com",
        "Web",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(created["client_secret"].as_str().unwrap().starts_with("cas_secret_"), "{created}");

    let out = run(&["app", "list", "--tenant", "acme", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let web = list.as_array().unwrap().iter().find(|a| a["client_id"] == "web").expect("listed");
    let keys = [
        "redirect_uris",
        "post_logout_redirect_uris",
        "grant_types",
        "scopes",
        "token_endpoint_auth_method",
        "first_party",
        "require_pkce",
        "access_token_audience",
        "introspect_any",
    ];
    let listed: serde_json::Map<String, serde_json::Value> = keys.iter().map(|k| (k.to_string(), web[*k].clone())).collect();
    assert_eq!(
        serde_json::Value::Object(listed),
        serde_json::json!({
            "redirect_uris": ["https://web.example.com/callback", "http://127.0.0.1:8000/callback"],
            "post_logout_redirect_uris": ["https://web.example.com/", "http://127.0.0.1:8000/"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "email"],
            "token_endpoint_auth_method": "client_secret_post",
            "first_party": true,
            "require_pkce": true,
            "access_token_audience": "https://api.example.com",
            "introspect_any": false,
        })
    );
    // The same plain listing without --json: the settings are there for a reader too.
    let text = stdout(&run(&["app", "list", "--tenant", "acme"]));
    assert!(text.contains("\"access_token_audience\": \"https://api.example.com\""), "{text}");

    // The core's checks, by field, as in the admin API.
    let out = run(&["app", "create", "--tenant", "acme", "--kind", "public", "--grant-type", "client_credentials", "SPA"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("grant_types: a public client cannot use client_credentials"), "{}", stderr(&out));
    let out = run(&[
        "app",
        "create",
        "--tenant",
        "acme",
        "--kind",
        "public",
        "--token-endpoint-auth-method",
        "client_secret_basic",
        "SPA",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("token_endpoint_auth_method:"), "{}", stderr(&out));
    // Names the server does not know are refused before anything is opened, with the choices.
    let out = run(&["app", "create", "--tenant", "acme", "--scope", "wallet", "SPA"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("possible values: openid, profile, email, phone, offline_access"), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&run(&["app", "list", "--tenant", "acme", "--json"]).stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing refused was made: {list}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cli_makes_clients_for_back_channel_logout_and_client_secret_jwt() {
    let dir = temp_dir("oidc-beyond");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let run = |args: &[&str], private: bool| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", data_arg]);
        castellan(&all).env("CASTELLAN_ALLOW_PRIVATE_CALLBACKS", if private { "true" } else { "false" }).output().unwrap()
    };
    assert!(run(&["migrate"], false).status.success());
    let out = run(&["tenant", "create", "acme", "--profile", "oidc"], false);
    assert!(out.status.success(), "{}", stderr(&out));
    let logout = [
        "app",
        "create",
        "--tenant",
        "acme",
        "--kind",
        "confidential",
        "--client-id",
        "web",
        "--redirect-uri",
        "https://web.example.com/callback",
        "--backchannel-logout-uri",
        "http://127.0.0.1:9/backchannel",
        "Web",
        "--json",
    ];
    // A receiver on this machine only where private callbacks are allowed, and the refusal says so.
    let out = run(&logout, false);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("allow_private_callbacks"), "{}", stderr(&out));
    let out = run(&logout, true);
    assert!(out.status.success(), "{}", stderr(&out));
    let web: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(web["backchannel_logout_uri"], "http://127.0.0.1:9/backchannel");
    let out = run(
        &[
            "app",
            "create",
            "--tenant",
            "acme",
            "--kind",
            "service",
            "--client-id",
            "hs",
            "--token-endpoint-auth-method",
            "client_secret_jwt",
            "Signer",
            "--json",
        ],
        false,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let hs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hs["token_endpoint_auth_method"], "client_secret_jwt");
    assert!(hs["client_secret"].as_str().unwrap().starts_with("cas_secret_"), "{hs}");
}

#[test]
fn the_cli_sets_a_tenants_relying_party_and_lists_a_users_credentials() {
    let dir = temp_dir("passkeys");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", data_arg]);
        castellan(&all).env("CASTELLAN_NEW_PASSWORD", "Wonderland-2026!").output().unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    assert!(run(&["tenant", "create", "acme", "--profile", "oidc"]).status.success());
    let out = run(&["tenant", "webauthn", "acme", "--rp-id", "example.com", "--origin", "https://login.example.com", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let set: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        set,
        serde_json::json!({"rp_id": "example.com", "origins": ["https://login.example.com"], "require_passkey": false})
    );
    // A relying party that cannot be one is refused, and the one set stays.
    let out = run(&["tenant", "webauthn", "acme", "--rp-id", "10.0.0.1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("webauthn.rp_id"), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&run(&["tenant", "show", "acme", "--json"]).stdout).unwrap();
    assert_eq!(shown["policy"]["webauthn"]["rp_id"], "example.com");
    assert!(run(&["user", "create", "--tenant", "acme", "--email", "alice@example.com"]).status.success());
    let out = run(&["user", "credentials", "--tenant", "acme", "alice@example.com", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(), serde_json::json!([]));
    let out =
        run(&["user", "remove-credential", "--tenant", "acme", "alice@example.com", "0190b5f2-0000-7000-8000-000000000000"]);
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
