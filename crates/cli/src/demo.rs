//! `castellan demo`: the tenants, applications and users that make each dialect's documented
//! example requests work. Idempotent: what exists is left as it is.

use castellan_core::Core;
use castellan_core::model::{ApplicationKind, NewUser, Profile, Tenant};
use castellan_core::services::applications::NewApplication;
use castellan_core::services::tenants::NewTenant;
use castellan_core::{CoreError, CoreResult};
use serde_json::{Value, json};

async fn tenant(core: &Core, slug: &str, name: &str, profile: Profile) -> CoreResult<Tenant> {
    match core.find_tenant(slug).await {
        Ok(t) => Ok(t),
        Err(CoreError::TenantNotFound) => {
            core.create_tenant(NewTenant {
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
    let u = match core.find_user(t, &key).await? {
        Some(u) => u,
        None => core.create_user(t, new).await?,
    };
    Ok(json!({ "id": u.id, "email": u.email, "username": u.username }))
}

/// The application with this kumusoft tag, created public if missing.
async fn tagged_app(core: &Core, t: &Tenant, name: &str, tag: &str) -> CoreResult<Value> {
    let existing = core.list_applications(t).await?.into_iter().find(|a| a.kumusoft_tag.as_deref() == Some(tag));
    let app = match existing {
        Some(a) => a,
        None => {
            let new = NewApplication {
                name: name.into(),
                kind: ApplicationKind::Public,
                client_id: Some(tag.to_ascii_lowercase().replace('_', "-")),
                kumusoft_tag: Some(tag.into()),
                mosip_app_id: None,
                roles: vec![],
                allowed_ips: vec![],
                callback_url: None,
                redirect_uris: vec![],
                single_otp_channel: None,
                active: true,
            };
            core.create_application(t, new).await?.0
        }
    };
    Ok(json!({ "id": app.id, "client_id": app.client_id, "tagId": app.kumusoft_tag, "name": app.name }))
}

/// Creates what is missing and describes everything.
pub async fn run(core: &Core) -> CoreResult<Value> {
    let fmfb = tenant(core, "fmfb", "First Microfinance Bank", Profile::Korastratum).await?;
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
    let kumu = tenant(core, "kumusoft", "Kumusoft Solutions", Profile::Kumusoft).await?;
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
    Ok(json!({
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
