//! Console accounts: the businesses that register applications for hosted 2FA. An account is a
//! user of the `console` tenant and owns a tenant of its own, where its applications and their
//! end users live. Console sessions are opaque cookies; only their HMAC is stored.

use serde_json::json;

use super::ClientContext;
use super::audit::Attempt;
use super::registration::Registration;
use super::tenants::NewTenant;
use super::users::lockout_subject;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::Dialect;
use crate::model::SessionId;
use crate::model::{Policy, Profile, Session, Tenant, User, new_id};

/// The tenant whose users are console accounts.
pub const CONSOLE_TENANT: &str = "console";
const SESSION_DOMAIN: &str = "console-session";
const CSRF_DOMAIN: &str = "console-csrf";
const OWNED_TENANT: &str = "owns_tenant";
const SESSION_LIFETIME: i64 = 12 * 3600;
const SESSION_IDLE: i64 = 3600;

/// A signed-in console account and the tenant it owns.
#[derive(Debug, Clone)]
pub struct ConsoleAccount {
    pub user: User,
    pub tenant: Tenant,
}

/// The developer console's accounts and sessions: `core.console()`.
pub struct Console<'a>(&'a Core);

impl Core {
    pub fn console(&self) -> Console<'_> {
        Console(self)
    }
}

impl std::ops::Deref for Console<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Console<'_> {
    /// The console tenant, created on first use: self-registration on, verified email required,
    /// sessions of at most 12 hours that idle out after one.
    pub async fn console_tenant(&self) -> CoreResult<Tenant> {
        match self.tenants().find_tenant(CONSOLE_TENANT).await {
            Ok(t) => return Ok(t),
            Err(CoreError::TenantNotFound) => {}
            Err(e) => return Err(e),
        }
        let created = self
            .tenants()
            .create_tenant(NewTenant {
                slug: CONSOLE_TENANT.into(),
                display_name: "Castellan console".into(),
                profile: Profile::Dialect(Dialect::Eauthenticator),
                dialects: Some(vec![Dialect::Eauthenticator.as_str().into()]),
                issuer: None,
                audience: None,
            })
            .await;
        match created {
            Ok(t) => {
                let mut policy = Policy::default_profile();
                policy.self_registration = true;
                policy.require_verified_email = true;
                policy.sessions.absolute_lifetime_seconds = SESSION_LIFETIME;
                policy.sessions.idle_timeout_seconds = SESSION_IDLE;
                self.tenants().set_policy(&t.id.to_string(), policy).await
            }
            // Another request created it first.
            Err(CoreError::Conflict(_)) => self.tenants().find_tenant(CONSOLE_TENANT).await,
            Err(e) => Err(e),
        }
    }

    /// Registers a console account and mails its verification link. An email that already has
    /// an account gets the same answer and no mail, so registration does not reveal accounts.
    pub async fn register_console_account(&self, email: &str, password: &str, ctx: &ClientContext) -> CoreResult<()> {
        let console = self.console_tenant().await?;
        let registration = Registration {
            email: email.trim().to_string(),
            password: password.to_string(),
            first_name: None,
            last_name: None,
            phone: None,
        };
        let mut user = match self.registrations().register(&console, registration, ctx).await {
            Ok(u) => u,
            Err(CoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let owned = self
            .tenants()
            .create_tenant(NewTenant {
                slug: format!("acct-{}", &new_id().simple().to_string()[20..]),
                display_name: user.email.clone().unwrap_or_default(),
                profile: Profile::Dialect(Dialect::Eauthenticator),
                dialects: Some(vec![Dialect::Eauthenticator.as_str().into()]),
                issuer: None,
                audience: None,
            })
            .await?;
        if let Some(attrs) = user.attributes.as_object_mut() {
            attrs.insert(OWNED_TENANT.into(), json!(owned.id.to_string()));
        } else {
            user.attributes = json!({ OWNED_TENANT: owned.id.to_string() });
        }
        user.updated_at = self.now();
        self.store.update_user(&user).await?;
        Ok(())
    }

    /// Confirms a console account's email with the mailed token.
    pub async fn verify_console_email(&self, token: &str, ctx: &ClientContext) -> CoreResult<User> {
        let console = self.console_tenant().await?;
        self.registrations().verify_email(&console, token, ctx).await
    }

    /// A console account with a confirmed email (fixtures and operators), and the tenant it owns
    /// (slug `owned_slug`); what exists is kept.
    pub async fn ensure_console_account(&self, email: &str, password: &str, owned_slug: &str) -> CoreResult<ConsoleAccount> {
        let console = self.console_tenant().await?;
        let tenant = match self.tenants().find_tenant(owned_slug).await {
            Ok(t) => t,
            Err(CoreError::TenantNotFound) => {
                self.tenants()
                    .create_tenant(NewTenant {
                        slug: owned_slug.into(),
                        display_name: email.into(),
                        profile: Profile::Dialect(Dialect::Eauthenticator),
                        dialects: Some(vec![Dialect::Eauthenticator.as_str().into()]),
                        issuer: None,
                        audience: None,
                    })
                    .await?
            }
            Err(e) => return Err(e),
        };
        let user = match self.users().find_user(&console, email).await? {
            Some(u) => u,
            None => {
                self.users()
                    .create_user(
                        &console,
                        crate::model::NewUser {
                            email: Some(email.into()),
                            password: Some(password.into()),
                            email_verified: true,
                            active: true,
                            attributes: Some(json!({ OWNED_TENANT: tenant.id.to_string() })),
                            ..crate::model::NewUser::default()
                        },
                    )
                    .await?
            }
        };
        Ok(ConsoleAccount { user, tenant })
    }

    /// Checks a console sign-in and opens a session; returns the session cookie's value. One
    /// `console.sign_in` event, whatever the outcome; a success clears the lockout count, as a
    /// dialect's password login does.
    pub async fn sign_in_console(
        &self,
        email: &str,
        password: &str,
        ctx: &ClientContext,
    ) -> CoreResult<(String, ConsoleAccount)> {
        let mut attempt = Attempt::new(None, AuditAction::ConsoleSignIn);
        let result = self.try_sign_in_console(email, password, ctx, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    async fn try_sign_in_console(
        &self,
        email: &str,
        password: &str,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<(String, ConsoleAccount)> {
        let console = self.console_tenant().await?;
        attempt.tenant = Some(console.id);
        let (user, failures) = self
            .login()
            .verify_password_login(&console, email, password, attempt)
            .await
            .map_err(|e| e.rename_field(super::login::IDENTIFIER_FIELD, "email"))?;
        let tenant = match self.owned_tenant(&user).await {
            Ok(t) => t,
            Err(CoreError::Unauthorized | CoreError::TenantNotFound) => {
                let error = self.login().failed_attempt(&console, failures, CoreError::InvalidCredentials);
                return Err(attempt.refuse("failure", "account owns no tenant", error));
            }
            Err(e) => return Err(e),
        };
        self.login().settle_success(&console, &lockout_subject(user.id), failures, attempt).await?;
        let token = crate::crypto::random_token();
        let now = self.now();
        self.store
            .insert_session(&Session {
                id: self.console_session_id(&token),
                tenant_id: console.id,
                user_id: user.id,
                application_id: None,
                dialect: Dialect::Console,
                device: json!({}),
                ip: ctx.ip.clone(),
                user_agent: ctx.user_agent.clone(),
                created_at: now,
                last_active: now,
                expires_at: now + console.policy.sessions.absolute_lifetime_seconds,
                revoked_at: None,
            })
            .await?;
        Ok((token, ConsoleAccount { user, tenant }))
    }

    /// The account behind a console session cookie. `Unauthorized` unless the session is alive
    /// and its account active and owning a tenant; any other error is a failure to find out.
    pub async fn console_account(&self, token: &str) -> CoreResult<ConsoleAccount> {
        if token.is_empty() || token.len() > 100 {
            return Err(CoreError::Unauthorized);
        }
        let console = self.console_tenant().await?;
        let session = self.sessions().live_session(&console, &self.console_session_id(token)).await?;
        let user = self.store.user_by_id(console.id, session.user_id).await?.ok_or(CoreError::Unauthorized)?;
        if !user.active {
            return Err(CoreError::Unauthorized);
        }
        let tenant = match self.owned_tenant(&user).await {
            Ok(t) => t,
            Err(CoreError::TenantNotFound) => return Err(CoreError::Unauthorized),
            Err(e) => return Err(e),
        };
        Ok(ConsoleAccount { user, tenant })
    }

    pub async fn sign_out_console(&self, token: &str, ctx: &ClientContext) -> CoreResult<()> {
        let account = self.console_account(token).await?;
        let console = self.console_tenant().await?;
        self.store.revoke_session(console.id, account.user.id, &self.console_session_id(token), self.now()).await?;
        self.audit(Some(console.id), Some(account.user.id), AuditAction::ConsoleSignOut, "success", ctx, json!({})).await;
        Ok(())
    }

    /// The CSRF token of a console session: derived from the session, so nothing more is stored
    /// and it dies with the session.
    pub fn console_csrf_token(&self, session_token: &str) -> String {
        crate::crypto::b64url(&self.master.mac(CSRF_DOMAIN, session_token.as_bytes()))
    }

    /// Whether `given` is the CSRF token of the session (constant time).
    pub fn check_console_csrf(&self, session_token: &str, given: &str) -> bool {
        crate::crypto::ct_eq(self.console_csrf_token(session_token).as_bytes(), given.as_bytes())
    }

    fn console_session_id(&self, token: &str) -> SessionId {
        SessionId::from(format!("con_{}", crate::crypto::b64url(&self.master.mac(SESSION_DOMAIN, token.as_bytes()))))
    }

    async fn owned_tenant(&self, user: &User) -> CoreResult<Tenant> {
        let id = user.attribute_str(OWNED_TENANT).ok_or(CoreError::Unauthorized)?;
        self.tenants().find_tenant(id).await
    }
}
