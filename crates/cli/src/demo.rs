//! `castellan demo`: the tenants, applications and users that make each dialect's documented
//! example requests work. Idempotent: what exists is left as it is.

use castellan_core::Core;
use castellan_core::model::{ApplicationKind, Dialect, GrantType, NewUser, OAuthClient, Profile, Tenant};
use castellan_core::services::applications::{ApplicationPatch, NewApplication};
use castellan_core::services::tenants::NewTenant;
use castellan_core::{CoreError, CoreResult};
use serde_json::{Value, json};

async fn tenant(core: &Core, slug: &str, name: &str, profile: Profile) -> CoreResult<Tenant> {
    match core.tenants().find_tenant(slug).await {
        Ok(t) => Ok(t),
        Err(CoreError::TenantNotFound) => {
            core.tenants()
                .create_tenant(NewTenant {
                    slug: slug.into(),
                    display_name: name.into(),
                    profile,
                    dialects: None,
                    issuer: None,
                    audience: None,
                })
                .await
        }
        Err(e) => Err(e),
    }
}

async fn user(core: &Core, t: &Tenant, new: NewUser) -> CoreResult<Value> {
    let key = new.email.clone().or_else(|| new.username.clone()).unwrap_or_default();
    let u = match core.users().find_user(t, &key).await? {
        Some(u) => u,
        None => core.users().create_user(t, new).await?,
    };
    Ok(json!({ "id": u.id, "email": u.email, "username": u.username }))
}

/// The application with this kumusoft tag, created public if missing.
async fn tagged_app(core: &Core, t: &Tenant, name: &str, tag: &str) -> CoreResult<Value> {
    let existing = core.applications().list_applications(t).await?.into_iter().find(|a| a.alias(Dialect::Kumusoft) == Some(tag));
    let app = match existing {
        Some(a) => a,
        None => {
            let new = NewApplication {
                name: name.into(),
                kind: ApplicationKind::Public,
                client_id: Some(tag.to_ascii_lowercase().replace('_', "-")),
                aliases: [(Dialect::Kumusoft, tag.to_string())].into(),
                roles: vec![],
                allowed_ips: vec![],
                callback_url: None,
                redirect_uris: vec![],
                single_otp_channel: false,
                hosted_webauthn: false,
                active: true,
                oauth: Default::default(),
                client_secret: None,
            };
            core.applications().create_application(t, new).await?.app
        }
    };
    Ok(json!({ "id": app.id, "client_id": app.client_id, "tagId": app.alias(Dialect::Kumusoft), "name": app.name }))
}

/// A MOSIP application (`appId` and/or client), created if missing; a client gets `secret`.
async fn mosip_app(core: &Core, t: &Tenant, spec: MosipApp<'_>) -> CoreResult<Value> {
    let existing = core.applications().list_applications(t).await?.into_iter().find(|a| a.client_id == spec.client_id);
    let app = match existing {
        Some(a) => a,
        None => {
            let new = NewApplication {
                name: spec.client_id.into(),
                kind: spec.kind,
                client_id: Some(spec.client_id.into()),
                aliases: spec.app_id.map(|a| (Dialect::Mosip, a.to_string())).into_iter().collect(),
                roles: spec.roles.iter().map(|r| r.to_string()).collect(),
                allowed_ips: vec![],
                callback_url: None,
                redirect_uris: vec![],
                single_otp_channel: spec.single_otp_channel,
                hosted_webauthn: false,
                active: true,
                oauth: Default::default(),
                client_secret: None,
            };
            let app = core.applications().create_application(t, new).await?.app;
            if let Some(secret) = spec.secret {
                core.applications().import_client_secret(t, spec.client_id, secret).await?;
            }
            app
        }
    };
    Ok(
        json!({ "client_id": app.client_id, "appId": app.alias(Dialect::Mosip), "kind": app.kind, "roles": app.roles, "secret": spec.secret }),
    )
}

struct MosipApp<'a> {
    client_id: &'a str,
    app_id: Option<&'a str>,
    kind: ApplicationKind,
    roles: &'a [&'a str],
    secret: Option<&'a str>,
    single_otp_channel: bool,
}

/// MOSIP's realm as its documentation's examples use it: the six appIds, the admin and ABIS
/// clients with the examples' secrets, an OTP-manager service, and users 110006 and a resident.
async fn mosip(core: &Core) -> CoreResult<Value> {
    let realm = tenant(core, "mosip", "MOSIP", Profile::Dialect(Dialect::Mosip)).await?;
    let mut apps = Vec::new();
    for app_id in ["preregistration", "registrationclient", "registrationprocessor", "ida", "admin", "resident"] {
        let spec = MosipApp {
            client_id: app_id,
            app_id: Some(app_id),
            kind: ApplicationKind::Public,
            roles: &[],
            secret: None,
            // Pre-registration sends its codes through one channel at a time.
            single_otp_channel: app_id == "preregistration",
        };
        apps.push(mosip_app(core, &realm, spec).await?);
    }
    let clients = [
        ("mosip-admin-client", ApplicationKind::Confidential, &["offline_access", "uma_authorization"][..], "xyz123"),
        ("mosip-abis-client", ApplicationKind::Service, &["offline_access", "uma_authorization"][..], "abc123"),
        ("mosip-ida-client", ApplicationKind::Service, &["OTP_MANAGER", "offline_access"][..], "ida123"),
    ];
    for (client_id, kind, roles, secret) in clients {
        let spec = MosipApp { client_id, app_id: None, kind, roles, secret: Some(secret), single_otp_channel: false };
        apps.push(mosip_app(core, &realm, spec).await?);
    }
    // The source's example password is shorter than any sane policy allows: it is imported as a
    // hash, as a migrated account's would be.
    let admin_hash = core.hasher.hash("mosip").await?;
    let admin = user(
        core,
        &realm,
        NewUser {
            username: Some("110006".into()),
            email: Some("110006@xyz.com".into()),
            password: Some(admin_hash),
            password_is_hash: true,
            first_name: Some("Test110006".into()),
            last_name: Some("Auto110006".into()),
            roles: ["REGISTRATION_ADMIN", "REGISTRATION_OFFICER", "REGISTRATION_SUPERVISOR", "ZONAL_ADMIN", "GLOBAL_ADMIN"]
                .map(str::to_string)
                .to_vec(),
            active: true,
            ..NewUser::default()
        },
    )
    .await?;
    let resident = user(
        core,
        &realm,
        NewUser {
            username: Some("resident_2530192395".into()),
            email: Some("resident@example.com".into()),
            phone: Some("+919820173642".into()),
            password: Some("Resident#2530".into()),
            first_name: Some("Asha".into()),
            last_name: Some("Rao".into()),
            roles: vec!["RESIDENT".into(), "INDIVIDUAL".into()],
            attributes: Some(json!({ "uin": "2530192395" })),
            email_verified: true,
            phone_verified: true,
            active: true,
            ..NewUser::default()
        },
    )
    .await?;
    Ok(json!({
        "tenant": { "id": realm.id, "slug": realm.slug, "issuer": realm.issuer },
        "applications": apps,
        "users": [
            { "user": admin, "password": "mosip" },
            { "user": resident, "uin": "2530192395", "password": "Resident#2530" },
        ],
    }))
}

/// An OpenID Connect client of the realm, created if missing. A client secret is random and
/// only its digest is kept, so it is shown by the run that creates the client; later runs say how
/// to get a new one.
async fn oidc_client(core: &Core, realm: &Tenant, new: NewApplication) -> CoreResult<Value> {
    let client_id = new.client_id.clone().unwrap_or_default();
    let (app, secret) = match core.applications().get_application(realm, &client_id).await {
        Ok(app) => (app, None),
        Err(CoreError::NotFound) => {
            let created = core.applications().create_application(realm, new).await?;
            (created.app, created.client_secret)
        }
        Err(e) => return Err(e),
    };
    let mut v = json!({
        "client_id": app.client_id,
        "name": app.name,
        "kind": app.kind,
        "grant_types": app.grant_types(),
        "redirect_uris": app.redirect_uris,
        "post_logout_redirect_uris": app.oauth.post_logout_redirect_uris,
        "first_party": app.oauth.first_party,
    });
    if app.kind != ApplicationKind::Public {
        v["client_secret"] = json!(secret);
        if secret.is_none() {
            v["client_secret_note"] = json!(format!(
                "shown when the client was created; `castellan app rotate-secret --tenant {} {}` makes a new one",
                realm.slug, app.client_id
            ));
        }
    }
    Ok(v)
}

/// A client of the demo realm with the defaults of its kind but for what `oidc` sets.
fn demo_client(client_id: &str, name: &str, kind: ApplicationKind, redirect_uris: &[&str], oidc: OAuthClient) -> NewApplication {
    NewApplication {
        name: name.into(),
        kind,
        client_id: Some(client_id.into()),
        aliases: Default::default(),
        roles: vec![],
        allowed_ips: vec![],
        callback_url: None,
        redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
        single_otp_channel: false,
        hosted_webauthn: false,
        active: true,
        oauth: oidc,
        client_secret: None,
    }
}

/// The OpenID Connect realm `acme`: a confidential web client that asks for consent, a
/// first-party single-page app, a service client, and Alice.
async fn oidc(core: &Core) -> CoreResult<Value> {
    const PASSWORD: &str = "Wonderland-2026!";
    let realm = tenant(core, "acme", "Acme", Profile::Dialect(Dialect::Oidc)).await?;
    let web = demo_client(
        "demo-web",
        "Demo Web",
        ApplicationKind::Confidential,
        &["http://127.0.0.1:8000/callback", "http://localhost:8000/callback"],
        // A third-party client, so that the consent page shows.
        OAuthClient {
            post_logout_redirect_uris: vec!["http://127.0.0.1:8000/".into()],
            first_party: false,
            ..OAuthClient::default()
        },
    );
    let spa = demo_client(
        "demo-spa",
        "Demo SPA",
        ApplicationKind::Public,
        &["http://127.0.0.1:5173/callback"],
        OAuthClient { first_party: true, ..OAuthClient::default() },
    );
    let service = demo_client(
        "demo-service",
        "Demo Service",
        ApplicationKind::Service,
        &[],
        OAuthClient { grant_types: vec![GrantType::ClientCredentials], ..OAuthClient::default() },
    );
    let mut clients = Vec::new();
    for new in [web, spa, service] {
        clients.push(oidc_client(core, &realm, new).await?);
    }
    let alice = user(
        core,
        &realm,
        NewUser {
            email: Some("alice@example.com".into()),
            password: Some(PASSWORD.into()),
            first_name: Some("Alice".into()),
            last_name: Some("Liddell".into()),
            email_verified: true,
            active: true,
            ..NewUser::default()
        },
    )
    .await?;
    Ok(json!({
        "tenant": { "id": realm.id, "slug": realm.slug, "issuer": realm.issuer },
        "discovery": format!("{}/.well-known/openid-configuration", realm.issuer),
        "clients": clients,
        "user": alice,
        "password": PASSWORD,
    }))
}

/// Creates what is missing and describes everything.
/// `dev`: development mode, where the callback receiver the hosted 2FA demo calls back to lives.
pub async fn run(core: &Core, dev: bool) -> CoreResult<Value> {
    let fmfb = tenant(core, "fmfb", "First Microfinance Bank", Profile::Dialect(Dialect::Korastratum)).await?;
    let fmfb_user = user(
        core,
        &fmfb,
        NewUser {
            email: Some("user@example.com".into()),
            password: Some("SecurePass123!".into()),
            first_name: Some("John".into()),
            last_name: Some("Doe".into()),
            role: Some("user".into()),
            permissions: vec!["transfer".into(), "bill_payment".into()],
            attributes: Some(json!({ "kycStatus": "verified", "kycLevel": 3 })),
            email_verified: true,
            active: true,
            ..NewUser::default()
        },
    )
    .await?;
    let kumu = tenant(core, "kumusoft", "Kumusoft Solutions", Profile::Dialect(Dialect::Kumusoft)).await?;
    let kumu_app = tagged_app(core, &kumu, "Zed Investa Member Portal", "ZED_INVESTA_MEMBER_PORTAL").await?;
    let kumu_user = user(
        core,
        &kumu,
        NewUser {
            email: Some("user_8742@example.com".into()),
            username: Some("user_8742".into()),
            phone: Some("+256700000001".into()),
            password: Some("P@ssw0rd!92X".into()),
            first_name: Some("John".into()),
            last_name: Some("Doe".into()),
            email_verified: true,
            active: true,
            ..NewUser::default()
        },
    )
    .await?;
    let mosip = mosip(core).await?;
    let oidc = oidc(core).await?;
    let eauth = if dev {
        eauthenticator(core).await?
    } else {
        json!({ "skipped": "the hosted 2FA demo calls back to /dev/callback-receiver, which development mode serves: run `CASTELLAN_DEV=true castellan demo`" })
    };
    let kyc = tenant(core, "kyc", "KYC API", Profile::Dialect(Dialect::FastapiUsers)).await?;
    let mut kyc_users = Vec::new();
    for (email, verified) in [("user@example.com", true), ("unverified@example.com", false)] {
        let new = NewUser {
            email: Some(email.into()),
            password: Some("your_secret_password".into()),
            email_verified: verified,
            active: true,
            ..NewUser::default()
        };
        kyc_users.push(json!({ "user": user(core, &kyc, new).await?, "verified": verified }));
    }
    Ok(json!({
        "eauthenticator": eauth,
        "mosip": mosip,
        "oidc": oidc,
        "fastapi-users": {
            "tenant": { "id": kyc.id, "slug": kyc.slug, "issuer": kyc.issuer },
            "users": kyc_users,
            "password": "your_secret_password",
        },
        "korastratum": {
            "tenant": { "id": fmfb.id, "slug": fmfb.slug, "display_name": fmfb.display_name },
            "user": fmfb_user,
            "password": "SecurePass123!",
        },
        "kumusoft": {
            "tenant": { "id": kumu.id, "slug": kumu.slug, "display_name": kumu.display_name, "issuer": kumu.issuer },
            "application": kumu_app,
            "user": kumu_user,
            "password": "P@ssw0rd!92X",
        }
    }))
}

/// The console account, its "Demo Portal" (fixed API key and callback secret, so the
/// walk-through's requests work as written) and a user with TOTP enabled for it.
async fn eauthenticator(core: &Core) -> CoreResult<Value> {
    const EMAIL: &str = "demo@castellan.test";
    const PASSWORD: &str = "demo-console-pass";
    const API_KEY: &str = "cas_key_demo_portal_4f1c9a7e2b";
    const CALLBACK_SECRET: &str = "cbs_demo_portal_secret_8d2e";
    const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let account = core.console().ensure_console_account(EMAIL, PASSWORD, "demo-portal").await?;
    // The server's own receiver: it checks the signature and keeps what it got in the outbox.
    let receiver = format!("{}/dev/callback-receiver", core.config.public_url);
    let existing = core.applications().list_applications(&account.tenant).await?.into_iter().find(|a| a.name == "Demo Portal");
    let app = match existing {
        Some(a) if a.callback_url.as_deref() == Some(receiver.as_str()) => a,
        Some(a) => {
            let patch = ApplicationPatch { callback_url: Some(receiver.clone()), ..ApplicationPatch::default() };
            let (app, _) = core.applications().update_application(&account.tenant, &a.client_id, patch).await?;
            core.hosted_apps().import_hosted_secrets(&account.tenant, &app, API_KEY, CALLBACK_SECRET).await?;
            app
        }
        None => {
            let created = core
                .applications()
                .create_application(
                    &account.tenant,
                    NewApplication {
                        name: "Demo Portal".into(),
                        kind: ApplicationKind::Public,
                        client_id: Some("84c2ad6c-62eb-4217-8f46-a66852e6fe92".into()),
                        aliases: Default::default(),
                        roles: vec![],
                        allowed_ips: vec!["127.0.0.1".into(), "::1".into()],
                        callback_url: Some(receiver.clone()),
                        redirect_uris: vec!["http://127.0.0.1:8090/2fa/done".into(), "http://localhost:8090/2fa/done".into()],
                        single_otp_channel: false,
                        hosted_webauthn: false,
                        active: true,
                        oauth: Default::default(),
                        client_secret: None,
                    },
                )
                .await?;
            core.hosted_apps().import_hosted_secrets(&account.tenant, &created.app, API_KEY, CALLBACK_SECRET).await?;
            created.app
        }
    };
    let spec = castellan_core::services::hosted_2fa::FactorSpec {
        secret: TOTP_SECRET.into(),
        algorithm: Some("SHA1".into()),
        digits: Some(6),
        period: Some(30),
    };
    let jane = core.users().find_user(&account.tenant, "jane@example.com").await?;
    let enabled = match &jane {
        Some(u) => core.hosted().has_app_totp(&account.tenant, &app, u).await?,
        None => false,
    };
    if !enabled {
        core.hosted().enable_app_totp(&account.tenant, &app, "jane@example.com", spec, &Default::default()).await?;
    }
    Ok(json!({
        "console": { "url": "/console", "email": EMAIL, "password": PASSWORD },
        "application": {
            "name": app.name, "client_id": app.client_id, "api_key": API_KEY, "callback_secret": CALLBACK_SECRET,
            "callback_url": app.callback_url, "redirect_uris": app.redirect_uris, "allowed_ips": app.allowed_ips,
        },
        "totp_user": { "email": "jane@example.com", "secret": TOTP_SECRET, "algorithm": "SHA1", "digits": 6, "period": 30 },
    }))
}
