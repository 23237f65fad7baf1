//! The browser's part: the sign-in session behind the SSO cookie, what an authorization request
//! needs next (sign-in, second factor, consent) and the code that ends it.

use serde_json::json;

use super::request::{AuthorizationRequest, SendBack};
use super::{CODE_DOMAIN, CODE_TTL, CSRF_DOMAIN, Provider, SSO_DOMAIN};
use crate::error::{CoreError, CoreResult};
use crate::model::{Application, AuditAction, AuthorizationCode, ConsentGrant, Dialect, Session, SessionId, Tenant, User};
use crate::services::ClientContext;
use crate::services::login::{LoginOutcome, PasswordLogin, SecondFactor};
use crate::services::sessions::Authenticated;

/// A browser signed in to a realm: its SSO session, the user, and how they signed in (one of
/// [`level`]).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
    pub level: u8,
}

impl SignedIn {
    /// When the user signed in (the SSO session began with it).
    pub fn auth_time(&self) -> i64 {
        self.session.created_at
    }
}

/// What an authorization request needs next.
#[derive(Debug, Clone)]
pub enum Step {
    /// The sign-in page, for the sealed request.
    Login { request: String, client_name: String, login_hint: Option<String> },
    /// The password was right; a second factor is due against `mfa_token`: `methods` are those
    /// the user has (`totp`, `webauthn`, `recovery_code`).
    SecondFactor { request: String, mfa_token: String, client_name: String, methods: Vec<String> },
    /// The consent page: a third-party client asks for scopes not yet granted. `csrf` is the
    /// signed-in browser's form token; `user` says who is signed in.
    /// `user_code`: the device's code, when the request decides a device authorization.
    Consent { request: String, client_name: String, scopes: Vec<String>, csrf: String, user: String, user_code: Option<String> },
    /// Back to the client, with a code or an error.
    SendBack(SendBack),
    /// The tenant asks every user to have a passkey, and this one has none: the page that adds
    /// one, then goes on with the request. `csrf` is the signed-in browser's form token.
    EnrolPasskey { request: String, client_name: String, csrf: String },
    /// A device authorization decided: `approved`, `denied`, or `expired` (too late, or decided
    /// elsewhere); the user goes back to the device.
    DeviceDone { client_name: String, outcome: &'static str },
}

/// How far the request has come in this browser: the consent page was just allowed. (Whether
/// the user signed in during the request is not the caller's to say: the sealed request records
/// it, `AuthorizationRequest::signed_in_during`.)
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub consented: bool,
}

/// How a browser signed in: one digit, kept in its SSO cookie, its codes and refresh tokens.
pub mod level {
    pub const PASSWORD: u8 = 1;
    pub const PASSWORD_TOTP: u8 = 2;
    /// A passkey alone, bound to its device (not backup eligible).
    pub const PASSKEY_DEVICE: u8 = 3;
    /// A passkey alone that may be synced between devices.
    pub const PASSKEY_SYNCED: u8 = 4;
    pub const PASSWORD_KEY_DEVICE: u8 = 5;
    pub const PASSWORD_KEY_SYNCED: u8 = 6;
    pub const PASSWORD_RECOVERY_CODE: u8 = 7;
}

/// Authentication methods (RFC 8176) of a sign-in level.
pub(crate) fn amr(level: u8) -> Vec<&'static str> {
    match level {
        level::PASSWORD_TOTP | level::PASSWORD_RECOVERY_CODE => vec!["pwd", "otp", "mfa"],
        level::PASSKEY_DEVICE => vec!["hwk", "user"],
        level::PASSKEY_SYNCED => vec!["swk", "user"],
        level::PASSWORD_KEY_DEVICE => vec!["pwd", "hwk", "mfa"],
        level::PASSWORD_KEY_SYNCED => vec!["pwd", "swk", "mfa"],
        _ => vec!["pwd"],
    }
}

/// The `acr` of a sign-in level: 2 for two factors (a passkey with user verification is both),
/// else 1.
pub fn acr(level: u8) -> &'static str {
    if level >= level::PASSWORD_TOTP { "2" } else { "1" }
}

/// The account page's own sign-in: not a client, so never a registered client id (`~` is not
/// allowed in one).
pub const ACCOUNT_CLIENT: &str = "~account";

impl Provider<'_> {
    /// The SSO cookie's value for a session signed in at `level`: the session id, the level, and
    /// a MAC over both and the tenant (a session id alone, as the sessions list shows it, is not
    /// enough to forge one).
    pub fn sso_cookie(&self, tenant: &Tenant, session: &SessionId, level: u8) -> String {
        let mac = self.master.mac(SSO_DOMAIN, format!("{}|{}|{level}", tenant.id, session.as_str()).as_bytes());
        format!("{}~{level}~{}", session.as_str(), crate::crypto::b64url(&mac))
    }

    /// The browser's sign-in, if its SSO cookie names a live session of this realm and an
    /// active user. Reading it counts as activity.
    pub async fn signed_in(&self, tenant: &Tenant, cookie: Option<&str>) -> CoreResult<Option<SignedIn>> {
        let Some(cookie) = cookie.filter(|c| c.len() < 300) else { return Ok(None) };
        let mut parts = cookie.split('~');
        let (Some(sid), Some(level), Some(mac), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Ok(None);
        };
        let Ok(level) = level.parse::<u8>() else { return Ok(None) };
        let sid = SessionId::from(sid);
        let expected = self.sso_cookie(tenant, &sid, level);
        if !crate::crypto::ct_eq(expected.as_bytes(), cookie.as_bytes()) || mac.is_empty() {
            return Ok(None);
        }
        let session = match self.sessions().live_session(tenant, &sid).await {
            Ok(s) if s.dialect == Dialect::Oidc => s,
            Ok(_) | Err(CoreError::Unauthorized) => return Ok(None),
            Err(e) => return Err(e),
        };
        match self.store.user_by_id(tenant.id, session.user_id).await? {
            Some(user) if user.active => Ok(Some(SignedIn { session, user, level })),
            _ => Ok(None),
        }
    }

    /// The CSRF token of a signed-in browser's forms (consent, logout).
    pub fn csrf_token(&self, session: &SessionId) -> String {
        crate::crypto::b64url(&self.master.mac(CSRF_DOMAIN, session.as_str().as_bytes()))
    }

    pub fn check_csrf(&self, session: &SessionId, given: &str) -> bool {
        crate::crypto::ct_eq(self.csrf_token(session).as_bytes(), given.as_bytes())
    }

    /// What the request needs next, given the browser's sign-in and how far the request came.
    pub async fn authorize(
        &self,
        tenant: &Tenant,
        app: &Application,
        request: AuthorizationRequest,
        signed_in: Option<&SignedIn>,
        progress: Progress,
        ctx: &ClientContext,
    ) -> CoreResult<Step> {
        let Progress { consented } = progress;
        let now = self.now();
        // Signed in during this request: a prompt=login or max_age is satisfied by it.
        let fresh_for = |s: &SignedIn| request.signed_in_during.as_deref() == Some(s.session.id.as_str());
        let stale = |s: &SignedIn| request.max_age.is_some_and(|max| now - s.auth_time() > max);
        let other_user = |s: &SignedIn| request.hinted_subject.as_ref().is_some_and(|h| *h != s.user.id.to_string());
        // Step-up: a request for acr 2 signs a one-factor sign-in in again, where the user's
        // second factor (or a passkey) is asked for.
        let wants_two = request.acr_values.as_deref().is_some_and(|v| v.split(' ').any(|a| a == "2"));
        let weak = |s: &SignedIn| wants_two && acr(s.level) != "2";
        let login_needed = match signed_in {
            None => true,
            Some(s) => !fresh_for(s) && (request.prompt.login || stale(s) || weak(s)),
        };
        if request.prompt.none && login_needed {
            return self.send_error(tenant, app, &request, "login_required", "the user is not signed in", ctx).await;
        }
        let Some(signed_in) = signed_in.filter(|_| !login_needed) else {
            return Ok(Step::Login {
                request: self.seal_request(tenant, &request)?,
                client_name: app.name.clone(),
                login_hint: request.login_hint.clone(),
            });
        };
        if other_user(signed_in) {
            let why = "the signed-in user is not the one id_token_hint names";
            return self.send_error(tenant, app, &request, "login_required", why, ctx).await;
        }
        if request.client_id == ACCOUNT_CLIENT {
            return Ok(Step::SendBack(SendBack {
                redirect_uri: request.redirect_uri.clone(),
                mode: request.response_mode,
                params: vec![],
            }));
        }
        if self.passkey_due(tenant, signed_in).await? {
            if request.prompt.none {
                let why = "the user must add a passkey first";
                return self.send_error(tenant, app, &request, "interaction_required", why, ctx).await;
            }
            return Ok(Step::EnrolPasskey {
                request: self.seal_request(tenant, &request)?,
                client_name: app.name.clone(),
                csrf: self.csrf_token(&signed_in.session.id),
            });
        }
        if !consented && self.consent_needed(tenant, app, &request, signed_in).await? {
            if request.prompt.none {
                return self.send_error(tenant, app, &request, "consent_required", "the user has not consented", ctx).await;
            }
            let u = &signed_in.user;
            return Ok(Step::Consent {
                request: self.seal_request(tenant, &request)?,
                client_name: app.name.clone(),
                scopes: request.scopes.clone(),
                csrf: self.csrf_token(&signed_in.session.id),
                user: super::claims::preferred_username(u).unwrap_or_default(),
                user_code: request.device.as_ref().map(|d| d.user_code.clone()),
            });
        }
        self.issue_code(tenant, app, &request, signed_in, ctx).await
    }

    /// Whether the tenant requires a passkey (and can offer one) and the user has none yet.
    async fn passkey_due(&self, tenant: &Tenant, signed_in: &SignedIn) -> CoreResult<bool> {
        if !tenant.policy.webauthn.require_passkey || !self.passkeys().available(tenant) {
            return Ok(false);
        }
        let creds = self.store.credentials_of(tenant.id, signed_in.user.id).await?;
        Ok(!creds.iter().any(|c| c.kind == crate::model::CredentialKind::Passkey))
    }

    async fn consent_needed(
        &self,
        tenant: &Tenant,
        app: &Application,
        request: &AuthorizationRequest,
        signed_in: &SignedIn,
    ) -> CoreResult<bool> {
        // A device's user always confirms: the user code could have been passed on by someone
        // else, and the page shows it again to compare with the device's (RFC 8628 §5.4).
        if request.device.is_some() {
            return Ok(true);
        }
        if app.oauth.first_party {
            return Ok(false);
        }
        if request.prompt.consent {
            return Ok(true);
        }
        let granted = self.store.consent(tenant.id, signed_in.user.id, app.id).await?;
        Ok(!granted.is_some_and(|g| request.scopes.iter().all(|s| g.scopes.contains(s))))
    }

    async fn issue_code(
        &self,
        tenant: &Tenant,
        app: &Application,
        request: &AuthorizationRequest,
        signed_in: &SignedIn,
        ctx: &ClientContext,
    ) -> CoreResult<Step> {
        if let Some(device) = &request.device {
            return self.decide_device(tenant, app, device, Some(signed_in), &request.scopes, ctx).await;
        }
        let code = crate::crypto::random_token();
        let now = self.now();
        let record = AuthorizationCode {
            code_hash: self.master.mac(CODE_DOMAIN, code.as_bytes()),
            tenant_id: tenant.id,
            application_id: app.id,
            user_id: signed_in.user.id,
            session_id: signed_in.session.id.clone(),
            data: json!({
                "redirect_uri": request.redirect_uri,
                "code_challenge": request.code_challenge,
                "nonce": request.nonce,
                "scopes": request.scopes,
                "auth_time": signed_in.auth_time(),
                "level": signed_in.level,
                "claims": request.claims,
            }),
            expires_at: now + CODE_TTL,
            used_at: None,
            created_at: now,
        };
        self.store.insert_authorization_code(&record, now).await?;
        self.audit(
            Some(tenant.id),
            Some(signed_in.user.id),
            AuditAction::Authorize,
            "success",
            ctx,
            json!({"clientId": app.client_id, "session": signed_in.session.id, "scope": request.scope()}),
        )
        .await;
        let mut params = vec![("code".to_string(), code)];
        if let Some(state) = &request.state {
            params.push(("state".into(), state.clone()));
        }
        params.push(("iss".into(), self.realm_issuer(tenant)));
        Ok(Step::SendBack(SendBack { redirect_uri: request.redirect_uri.clone(), mode: request.response_mode, params }))
    }

    /// An error sent back to the client (with `state` and `iss`), recorded as the request's outcome.
    pub(crate) async fn send_error(
        &self,
        tenant: &Tenant,
        app: &Application,
        request: &AuthorizationRequest,
        error: &'static str,
        description: &str,
        ctx: &ClientContext,
    ) -> CoreResult<Step> {
        if let Some(device) = &request.device {
            // The only error a device request ends in is the user's Deny.
            return self.decide_device(tenant, app, device, None, &request.scopes, ctx).await;
        }
        self.record_authorize_error(tenant, &app.client_id, error, ctx).await;
        let mut params =
            vec![("error".to_string(), error.to_string()), ("error_description".to_string(), description.to_string())];
        if let Some(state) = &request.state {
            params.push(("state".into(), state.clone()));
        }
        params.push(("iss".into(), self.realm_issuer(tenant)));
        Ok(Step::SendBack(SendBack { redirect_uri: request.redirect_uri.clone(), mode: request.response_mode, params }))
    }

    /// Records an authorization request that ended in an error sent back to the client.
    pub async fn record_authorize_error(&self, tenant: &Tenant, client_id: &str, error: &'static str, ctx: &ClientContext) {
        self.audit(Some(tenant.id), None, AuditAction::Authorize, error, ctx, json!({"clientId": client_id})).await;
    }

    /// The request sealed in a sign-in form, and its client; `InvalidToken` when the form is
    /// stale or not this realm's, `UnknownApplication` when the client is gone.
    pub async fn resume(&self, tenant: &Tenant, sealed: &str) -> CoreResult<(Application, AuthorizationRequest)> {
        let request = self.open_request(tenant, sealed).ok_or(CoreError::InvalidToken)?;
        if request.client_id == ACCOUNT_CLIENT {
            return Ok((self.account_app(tenant, &request.redirect_uri), request));
        }
        let app = self.applications().get_application(tenant, &request.client_id).await.map_err(|e| match e {
            CoreError::NotFound => CoreError::UnknownApplication,
            e => e,
        })?;
        if !app.active {
            return Err(CoreError::UnknownApplication);
        }
        Ok((app, request))
    }

    /// The sign-in page's password. Success goes on with the request (and a new SSO cookie, whose
    /// session replaces `replacing`); a user with TOTP gets the code page first. Wrong
    /// credentials, a lock or an overload are the core's errors, for the page to show.
    pub async fn sign_in(
        &self,
        tenant: &Tenant,
        sealed: &str,
        identifier: &str,
        password: &str,
        replacing: Option<&SignedIn>,
        ctx: &ClientContext,
    ) -> CoreResult<(Step, Option<String>)> {
        let (app, request) = self.resume(tenant, sealed).await?;
        let login = PasswordLogin {
            identifier: identifier.to_string(),
            password: password.to_string(),
            totp_code: None,
            device: json!({"sign_in": "browser"}),
            dialect: Dialect::Oidc,
            keys_as_second_factor: true,
        };
        match self.login().login_with_password(tenant, login, ctx).await? {
            LoginOutcome::Authenticated(auth) => {
                self.signed_in_now(tenant, &app, request, *auth, level::PASSWORD, replacing, ctx).await
            }
            LoginOutcome::MfaRequired { mfa_token, methods } => {
                Ok((Step::SecondFactor { request: sealed.to_string(), mfa_token, client_name: app.name.clone(), methods }, None))
            }
        }
    }

    /// The second-factor page's answer (a TOTP code, a security key's assertion or a recovery
    /// code), against the token the password step gave.
    pub async fn sign_in_second(
        &self,
        tenant: &Tenant,
        sealed: &str,
        mfa_token: &str,
        factor: SecondFactor<'_>,
        replacing: Option<&SignedIn>,
        ctx: &ClientContext,
    ) -> CoreResult<(Step, Option<String>)> {
        let (app, request) = self.resume(tenant, sealed).await?;
        let (auth, key) = self.login().complete_mfa_with(tenant, mfa_token, factor, ctx).await?;
        let level = match (factor, key) {
            (SecondFactor::Key { .. }, Some(k)) if k.backup_eligible => level::PASSWORD_KEY_SYNCED,
            (SecondFactor::Key { .. }, _) => level::PASSWORD_KEY_DEVICE,
            (SecondFactor::RecoveryCode(_), _) => level::PASSWORD_RECOVERY_CODE,
            (SecondFactor::Totp(_), _) => level::PASSWORD_TOTP,
        };
        self.signed_in_now(tenant, &app, request, auth, level, replacing, ctx).await
    }

    /// The sign-in page's passkey: no identifier, both factors at once.
    pub async fn sign_in_passkey(
        &self,
        tenant: &Tenant,
        sealed: &str,
        ceremony: &str,
        response: &str,
        replacing: Option<&SignedIn>,
        ctx: &ClientContext,
    ) -> CoreResult<(Step, Option<String>)> {
        let (app, request) = self.resume(tenant, sealed).await?;
        let asserted = self.passkeys().finish_sign_in(tenant, ceremony, response, ctx).await?;
        let level = if asserted.credential.backup_eligible { level::PASSKEY_SYNCED } else { level::PASSKEY_DEVICE };
        let device = json!({"sign_in": "passkey"});
        let auth = self.sessions().start_session(tenant, asserted.user, Dialect::Oidc, device, ctx).await?;
        self.signed_in_now(tenant, &app, request, auth, level, replacing, ctx).await
    }

    /// The stand-in client of the account page's sign-in: first party, its one redirect URI the
    /// account page.
    fn account_app(&self, tenant: &Tenant, account_url: &str) -> Application {
        Application {
            id: crate::model::AppId::from(uuid::Uuid::nil()),
            tenant_id: tenant.id,
            client_id: ACCOUNT_CLIENT.into(),
            name: "your account".into(),
            kind: crate::model::ApplicationKind::Public,
            secret_hash: None,
            aliases: Default::default(),
            roles: vec![],
            allowed_ips: vec![],
            callback_url: None,
            redirect_uris: vec![account_url.to_string()],
            single_otp_channel: false,
            hosted_webauthn: false,
            active: true,
            created_at: 0,
            oauth: crate::model::OAuthClient { first_party: true, ..Default::default() },
        }
    }

    /// The sign-in page of the account page (`account_url`), sealed like a client's request. The
    /// page changes how one signs in: a sign-in older than `RECENT_SIGN_IN` signs in again.
    pub fn account_sign_in(&self, tenant: &Tenant, account_url: &str) -> CoreResult<Step> {
        let request = AuthorizationRequest {
            client_id: ACCOUNT_CLIENT.into(),
            redirect_uri: account_url.to_string(),
            response_mode: super::ResponseMode::Query,
            scopes: vec!["openid".into()],
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: Default::default(),
            max_age: Some(crate::services::passkeys::RECENT_SIGN_IN),
            login_hint: None,
            hinted_subject: None,
            acr_values: None,
            claims: None,
            made_at: self.now(),
            signed_in_during: None,
            device: None,
        };
        Ok(Step::Login { request: self.seal_request(tenant, &request)?, client_name: "your account".into(), login_hint: None })
    }

    #[allow(clippy::too_many_arguments)]
    async fn signed_in_now(
        &self,
        tenant: &Tenant,
        app: &Application,
        request: AuthorizationRequest,
        auth: Authenticated,
        level: u8,
        replacing: Option<&SignedIn>,
        ctx: &ClientContext,
    ) -> CoreResult<(Step, Option<String>)> {
        // One sign-in per browser: signing in again (prompt=login, max_age) ends the one before.
        if let Some(old) = replacing.filter(|old| old.session.id != auth.session.id) {
            self.end_session(tenant.id, &old.session).await?;
        }
        let cookie = self.sso_cookie(tenant, &auth.session.id, level);
        let mut request = request;
        request.signed_in_during = Some(auth.session.id.to_string());
        let signed_in = SignedIn { session: auth.session, user: auth.user, level };
        let step = self.authorize(tenant, app, request, Some(&signed_in), Progress { consented: false }, ctx).await?;
        Ok((step, Some(cookie)))
    }

    /// The consent page's answer. Allow remembers the scopes (with any granted before) and goes
    /// on; Deny sends `access_denied` back.
    pub async fn consent(
        &self,
        tenant: &Tenant,
        sealed: &str,
        signed_in: &SignedIn,
        allow: bool,
        ctx: &ClientContext,
    ) -> CoreResult<Step> {
        let (app, request) = self.resume(tenant, sealed).await?;
        // The account page asks no consent; a consent form for it is not one of ours.
        if request.client_id == ACCOUNT_CLIENT {
            return Err(CoreError::InvalidToken);
        }
        let detail = json!({"clientId": app.client_id, "scope": request.scope()});
        if !allow {
            self.audit(Some(tenant.id), Some(signed_in.user.id), AuditAction::Consent, "denied", ctx, detail).await;
            return self.send_error(tenant, &app, &request, "access_denied", "the user denied the request", ctx).await;
        }
        let now = self.now();
        let earlier = self.store.consent(tenant.id, signed_in.user.id, app.id).await?;
        let mut scopes = earlier.as_ref().map(|g| g.scopes.clone()).unwrap_or_default();
        for s in &request.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let grant = ConsentGrant {
            tenant_id: tenant.id,
            user_id: signed_in.user.id,
            application_id: app.id,
            scopes,
            created_at: earlier.map(|g| g.created_at).unwrap_or(now),
            updated_at: now,
        };
        self.store.upsert_consent(&grant).await?;
        self.audit(Some(tenant.id), Some(signed_in.user.id), AuditAction::Consent, "allowed", ctx, detail).await;
        self.authorize(tenant, &app, request, Some(signed_in), Progress { consented: true }, ctx).await
    }

    /// A user's remembered consents, each with its client's id (a consent whose client is gone
    /// is left out).
    pub async fn list_consents(&self, tenant: &Tenant, user: &User) -> CoreResult<Vec<(ConsentGrant, String)>> {
        let mut out = Vec::new();
        for grant in self.store.list_consents(tenant.id, user.id).await? {
            if let Some(app) = self.store.application_by_id(tenant.id, grant.application_id).await? {
                out.push((grant, app.client_id));
            }
        }
        Ok(out)
    }

    /// Withdraws a user's consent to a client: its next request asks again.
    pub async fn revoke_consent(&self, tenant: &Tenant, user: &User, app: &Application, ctx: &ClientContext) -> CoreResult<()> {
        if !self.store.delete_consent(tenant.id, user.id, app.id).await? {
            return Err(CoreError::NotFound);
        }
        let detail = json!({"clientId": app.client_id});
        self.audit(Some(tenant.id), Some(user.id), AuditAction::ConsentRevoke, "success", ctx, detail).await;
        Ok(())
    }
}
