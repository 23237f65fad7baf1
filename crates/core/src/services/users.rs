//! Users: creation with normalised identifiers and the tenant's password policy, updates, lookups.

use serde_json::{Value, json};

use super::ClientContext;
use super::password_policy::unmet_rules;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::UserId;
use crate::model::identifier::{INVISIBLE, has_control_or_format, normalize_username};
use crate::model::{Email, Identifier, NewUser, Phone, Tenant, User, text};
use crate::store::UserFilter;

/// A partial update of a user (admin API). `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub role: Option<String>,
    pub roles: Option<Vec<String>>,
    pub permissions: Option<Vec<String>>,
    pub attributes: Option<Value>,
    pub email_verified: Option<bool>,
    pub phone_verified: Option<bool>,
    pub active: Option<bool>,
}

fn clean_name(field: &str, v: Option<String>) -> CoreResult<Option<String>> {
    text::check_opt(field, v.as_deref())?;
    match v.map(|s| s.trim().to_string()) {
        Some(s) if s.chars().count() > 100 => Err(CoreError::field(field, "must be at most 100 characters")),
        Some(s) if s.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Users: `core.users()`.
pub struct Users<'a>(&'a Core);

impl Core {
    pub fn users(&self) -> Users<'_> {
        Users(self)
    }
}

impl std::ops::Deref for Users<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Users<'_> {
    fn normalize_email(&self, v: Option<String>) -> CoreResult<Option<String>> {
        v.filter(|s| !s.trim().is_empty())
            .map(|s| Email::parse(&s).map(|e| e.as_str().to_string()).map_err(|e| CoreError::field("email", e)))
            .transpose()
    }

    fn normalize_phone(&self, v: Option<String>) -> CoreResult<Option<String>> {
        v.filter(|s| !s.trim().is_empty())
            .map(|s| {
                Phone::parse(&s, &self.config.default_country_code)
                    .map(|p| p.as_str().to_string())
                    .map_err(|e| CoreError::field("phone", e))
            })
            .transpose()
    }

    fn normalize_username(&self, v: Option<String>) -> CoreResult<Option<String>> {
        v.filter(|s| !s.trim().is_empty())
            .map(|s| {
                if has_control_or_format(s.trim()) {
                    return Err(CoreError::field("username", INVISIBLE));
                }
                let u = normalize_username(&s);
                let ok = u.len() <= 64 && u.chars().all(|c| c.is_alphanumeric() || "._-".contains(c));
                if ok { Ok(u) } else { Err(CoreError::field("username", "letters, digits, '.', '_' or '-', at most 64")) }
            })
            .transpose()
    }

    /// Refuses control characters in the texts of a user that are not identifiers: the role and
    /// role lists, an imported password hash, and the `uin` attribute (a column of its own).
    fn check_user_texts(user: &User) -> CoreResult<()> {
        text::check("role", &user.role)?;
        text::check_all("roles", &user.roles)?;
        text::check_all("permissions", &user.permissions)?;
        text::check_opt("password_hash", user.password_hash.as_deref())?;
        text::check_opt("attributes.uin", user.attribute_str("uin"))
    }

    /// Checks `password` against the tenant's policy.
    pub fn check_password_policy(&self, tenant: &Tenant, password: &str) -> CoreResult<()> {
        let unmet = unmet_rules(&tenant.policy.password, password);
        if unmet.is_empty() { Ok(()) } else { Err(CoreError::WeakPassword(unmet)) }
    }

    pub async fn create_user(&self, tenant: &Tenant, new: NewUser) -> CoreResult<User> {
        let email = self.normalize_email(new.email)?;
        let phone = self.normalize_phone(new.phone)?;
        let username = self.normalize_username(new.username)?;
        if email.is_none() && phone.is_none() && username.is_none() {
            return Err(CoreError::field("email", "a user needs an email, a username or a phone number"));
        }
        let attributes = new.attributes.unwrap_or_else(|| json!({}));
        if !attributes.is_object() {
            return Err(CoreError::field("attributes", "must be an object"));
        }
        let now = self.now();
        let mut user = User {
            id: UserId::new(),
            tenant_id: tenant.id,
            email,
            username,
            phone,
            password_hash: None,
            first_name: clean_name("first_name", new.first_name)?,
            last_name: clean_name("last_name", new.last_name)?,
            role: new.role.unwrap_or_else(|| "user".to_string()),
            roles: new.roles,
            permissions: new.permissions,
            attributes,
            email_verified: new.email_verified,
            phone_verified: new.phone_verified,
            active: new.active,
            mfa_enabled: false,
            created_at: now,
            updated_at: now,
        };
        // Checked before the (slow) hash is computed.
        Self::check_user_texts(&user)?;
        user.password_hash = match new.password {
            Some(p) if new.password_is_hash => {
                text::check("password_hash", &p)?;
                Some(p)
            }
            Some(p) => {
                self.check_password_policy(tenant, &p)?;
                Some(self.hasher.hash(&p).await?)
            }
            None => None,
        };
        // A clash says which field: the store names the unique key (or skeleton) it hit, so a
        // concurrent insert that wins the race still gets the right field's answer.
        self.store.insert_user(&user).await?;
        Ok(user)
    }

    pub async fn get_user(&self, tenant: &Tenant, id: UserId) -> CoreResult<User> {
        self.store.user_by_id(tenant.id, id).await?.ok_or(CoreError::NotFound)
    }

    pub async fn find_user(&self, tenant: &Tenant, identifier: &str) -> CoreResult<Option<User>> {
        match Identifier::parse(identifier, &self.config.default_country_code) {
            Ok(id) => Ok(self.store.user_by_identifier(tenant.id, &id).await?),
            Err(_) => Ok(None),
        }
    }

    pub async fn list_users(&self, tenant: &Tenant, mut filter: UserFilter) -> CoreResult<Vec<User>> {
        // A filter that cannot be an identifier matches nothing; one with control characters is
        // refused, as it would be on creation.
        for (field, value) in [("email", &filter.email), ("phone", &filter.phone), ("username", &filter.username)] {
            if value.as_deref().is_some_and(|v| has_control_or_format(v.trim())) {
                return Err(CoreError::field(field, INVISIBLE));
            }
        }
        filter.email = self.normalize_email(filter.email).unwrap_or(Some(String::new()));
        filter.phone = self.normalize_phone(filter.phone).unwrap_or(Some(String::new()));
        filter.username = filter.username.map(|u| normalize_username(&u));
        filter.limit = filter.limit.clamp(1, 1000);
        Ok(self.store.list_users(tenant.id, &filter).await?)
    }

    pub async fn update_user(&self, tenant: &Tenant, id: UserId, patch: UserPatch, ctx: &ClientContext) -> CoreResult<User> {
        let mut user = self.get_user(tenant, id).await?;
        if let Some(v) = patch.email {
            user.email = self.normalize_email(v)?;
        }
        if let Some(v) = patch.phone {
            user.phone = self.normalize_phone(v)?;
        }
        if let Some(v) = patch.username {
            user.username = self.normalize_username(v)?;
        }
        if let Some(v) = patch.first_name {
            user.first_name = clean_name("first_name", v)?;
        }
        if let Some(v) = patch.last_name {
            user.last_name = clean_name("last_name", v)?;
        }
        if let Some(v) = patch.role {
            user.role = v;
        }
        if let Some(v) = patch.roles {
            user.roles = v;
        }
        if let Some(v) = patch.permissions {
            user.permissions = v;
        }
        if let Some(v) = patch.attributes {
            if !v.is_object() {
                return Err(CoreError::field("attributes", "must be an object"));
            }
            user.attributes = v;
        }
        if let Some(v) = patch.email_verified {
            user.email_verified = v;
        }
        if let Some(v) = patch.phone_verified {
            user.phone_verified = v;
        }
        let deactivated = patch.active == Some(false) && user.active;
        if let Some(v) = patch.active {
            user.active = v;
        }
        user.updated_at = self.now();
        Self::check_user_texts(&user)?;
        self.store.update_user(&user).await?;
        if deactivated {
            self.end_user_sessions(tenant.id, user.id).await?;
        }
        self.audit(Some(tenant.id), Some(user.id), AuditAction::UserUpdate, "success", ctx, json!({})).await;
        Ok(user)
    }

    /// Deletes a user; their sessions and tokens die with them.
    pub async fn delete_user(&self, tenant: &Tenant, id: UserId, ctx: &ClientContext) -> CoreResult<()> {
        self.end_user_sessions(tenant.id, id).await?;
        if !self.store.delete_user(tenant.id, id).await? {
            return Err(CoreError::NotFound);
        }
        self.audit(Some(tenant.id), Some(id), AuditAction::UserDelete, "success", ctx, json!({})).await;
        Ok(())
    }

    /// Sets a password (admin action or reset): policy enforced, every session ends.
    pub async fn set_password(&self, tenant: &Tenant, id: UserId, password: &str, ctx: &ClientContext) -> CoreResult<()> {
        self.check_password_policy(tenant, password)?;
        let mut user = self.get_user(tenant, id).await?;
        user.password_hash = Some(self.hasher.hash(password).await?);
        user.updated_at = self.now();
        self.store.update_user(&user).await?;
        self.end_user_sessions(tenant.id, id).await?;
        self.store.clear_attempts(tenant.id, &lockout_subject(id)).await?;
        self.audit(Some(tenant.id), Some(id), AuditAction::PasswordSet, "success", ctx, json!({})).await;
        Ok(())
    }

    /// The user's own password change: the current password first (a wrong one is
    /// `InvalidCredentials` and one `password.set` failure event), then the new one as
    /// `set_password` sets it, every session ending with it.
    pub async fn change_password(
        &self,
        tenant: &Tenant,
        user: &User,
        current: &str,
        new: &str,
        ctx: &ClientContext,
    ) -> CoreResult<()> {
        if !self.hasher.verify(current, user.password_hash.as_deref()).await?.ok {
            let detail = json!({"reason": "wrong current password"});
            self.audit(Some(tenant.id), Some(user.id), AuditAction::PasswordSet, "failure", ctx, detail).await;
            return Err(CoreError::InvalidCredentials);
        }
        self.set_password(tenant, user.id, new, ctx).await
    }

    /// Lifts a lockout, of the password and of the second factor.
    pub async fn unlock_user(&self, tenant: &Tenant, id: UserId, ctx: &ClientContext) -> CoreResult<()> {
        self.get_user(tenant, id).await?;
        self.store.clear_attempts(tenant.id, &lockout_subject(id)).await?;
        self.store.clear_attempts(tenant.id, &second_factor_subject(id)).await?;
        self.audit(Some(tenant.id), Some(id), AuditAction::UserUnlock, "success", ctx, json!({})).await;
        Ok(())
    }
}

/// The lockout counter key of a known user.
pub fn lockout_subject(user: UserId) -> String {
    format!("user:{user}")
}

/// The counter of wrong second-factor codes, apart from the password's: a right password clears
/// its own counter, and must not clear this one, or whoever knows the password could guess codes
/// without end by signing in again between guesses.
pub fn second_factor_subject(user: UserId) -> String {
    format!("user:{user}:second-factor")
}
