//! `castellan demo`: the tenants, applications and users that make each dialect's documented
//! example requests work. Idempotent: what exists is left as it is.

use castellan_core::Core;
use castellan_core::model::{NewUser, Profile, Tenant};
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
    Ok(json!({
        "korastratum": {
            "tenant": { "id": fmfb.id, "slug": fmfb.slug, "display_name": fmfb.display_name },
            "user": fmfb_user,
            "password": "SecurePass123!",
        }
    }))
}
