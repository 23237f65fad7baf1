//! Passkeys and security keys (WebAuthn, through webauthn-rs), and recovery codes.
//!
//! A ceremony (registration or sign-in) begins with options for the browser and a token the
//! browser holds; the library's state waits in the database under the token's HMAC, so that any
//! node may finish it, once. Every credential is registered with user verification required;
//! a passkey (discoverable) then signs in alone and counts as both factors.

use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::ClientContext;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::{
    AuditAction, Channel, CredentialKind, CredentialUse, Tenant, User, UserId, WebauthnCeremony, WebauthnCredential,
};

/// A ceremony must be finished within this long (seconds): the browser's own timeout is five
/// minutes, and a user may be slow to find a security key.
pub const CEREMONY_TTL: i64 = 300;
/// How many recovery codes a user gets at a time.
pub const RECOVERY_CODES: usize = 10;
const CEREMONY_DOMAIN: &str = "webauthn-ceremony";
const RECOVERY_DOMAIN: &str = "recovery-code";
/// Digits and consonants that cannot be mistaken for one another: 10 of them make ~48 bits.
const RECOVERY_ALPHABET: &[u8] = b"23456789BCDFGHJKLMNPQRSTVWXZ";
const RECOVERY_LEN: usize = 10;
const MAX_NAME: usize = 64;
/// Changing how one signs in (adding or removing a key, new recovery codes) needs a sign-in this
/// recent (seconds): a stolen session or token alone cannot plant a passkey.
pub const RECENT_SIGN_IN: i64 = 600;

/// What a ceremony is for; kept with its state so that a token cannot be finished as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register(CredentialKind),
    /// A sign-in with a passkey, no identifier given.
    SignIn,
    /// The second step of a sign-in, for a user already known by the password.
    SecondFactor,
    /// A key on the hosted 2FA page, in place of the code: kept apart from a sign-in's second
    /// step, so that a challenge of one cannot be answered on the other.
    HostedCheck,
}

impl Purpose {
    fn as_str(&self) -> &'static str {
        match self {
            Purpose::Register(CredentialKind::Passkey) => "register_passkey",
            Purpose::Register(CredentialKind::SecurityKey) => "register_security_key",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
            Purpose::HostedCheck => "hosted_check",
        }
    }
}

/// A ceremony begun: the options for `navigator.credentials.create()` / `.get()` (WebAuthn JSON,
/// base64url binary) and the token that finishes it.
#[derive(Debug, Clone)]
pub struct Begun {
    pub options: Value,
    pub ceremony: String,
}

impl Begun {
    /// The options with the ceremony token beside `publicKey`: what a page's script or an app
    /// reads, whichever dialect serves it.
    pub fn into_json(self) -> Value {
        let mut body = self.options;
        if let Some(o) = body.as_object_mut() {
            o.insert("ceremony".into(), json!(self.ceremony));
        }
        body
    }
}

/// A credential that proved its holder: the user, the credential, and what it counts as.
#[derive(Debug, Clone)]
pub struct Asserted {
    pub user: User,
    pub credential: WebauthnCredential,
}

impl Asserted {
    /// RFC 8176: `hwk` for a key bound to its device, `swk` for one that may be synced (backup
    /// eligible), and `user` as verification was required.
    pub fn amr(&self) -> Vec<&'static str> {
        vec![if self.credential.backup_eligible { "swk" } else { "hwk" }, "user"]
    }
}

/// Passkeys, security keys and recovery codes: `core.passkeys()`.
pub struct Passkeys<'a>(&'a Core);

impl Core {
    pub fn passkeys(&self) -> Passkeys<'_> {
        Passkeys(self)
    }
}

impl std::ops::Deref for Passkeys<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

/// The relying party id and origins of a tenant: its policy's, else the public URL's host and
/// origin. `None` when there is no domain name to be one (a public URL on an IP address).
pub fn relying_party_of(tenant: &Tenant, public_url: &str) -> Option<(String, Vec<Url>)> {
    let public = Url::parse(public_url).ok()?;
    let policy = &tenant.policy.webauthn;
    let rp_id = match &policy.rp_id {
        Some(rp) => rp.clone(),
        None => public.domain()?.to_string(),
    };
    let origins: Vec<Url> = if policy.origins.is_empty() {
        vec![Url::parse(&public.origin().ascii_serialization()).ok()?]
    } else {
        policy.origins.iter().filter_map(|o| Url::parse(o).ok()).collect()
    };
    Some((rp_id, origins))
}

fn unavailable() -> CoreError {
    CoreError::field("webauthn", "passkeys need the tenant's relying party: a domain name (webauthn.rp_id) its origins end in")
}

fn refused(why: &str) -> CoreError {
    CoreError::field("credential", why)
}

/// The AAGUID in a registration's authenticator data (bytes 37..53), if the attestation object
/// parses; the library checked the rest.
fn aaguid_of(reg: &RegisterPublicKeyCredential) -> Option<String> {
    let map: std::collections::BTreeMap<String, serde_cbor_2::Value> =
        serde_cbor_2::from_slice(reg.response.attestation_object.as_ref()).ok()?;
    let Some(serde_cbor_2::Value::Bytes(auth_data)) = map.get("authData") else { return None };
    // rpIdHash (32), flags (1), signCount (4), then the attested credential data's AAGUID.
    let raw = auth_data.get(37..53)?;
    Uuid::from_slice(raw).ok().map(|u| u.to_string())
}

fn cred_id_text(id: &[u8]) -> String {
    crate::crypto::b64url(id)
}

impl Passkeys<'_> {
    /// The tenant's relying party.
    fn relying_party(&self, tenant: &Tenant) -> CoreResult<Webauthn> {
        self.relying_party_named(tenant, &tenant.display_name)
    }

    /// The tenant's relying party, under the name a browser shows when a key is made.
    fn relying_party_named(&self, tenant: &Tenant, name: &str) -> CoreResult<Webauthn> {
        let (rp_id, origins) = relying_party_of(tenant, &self.config.public_url).ok_or_else(unavailable)?;
        let first = origins.first().ok_or_else(unavailable)?;
        let mut builder = WebauthnBuilder::new(&rp_id, first).map_err(|_| unavailable())?.rp_name(name);
        for o in origins.iter().skip(1) {
            builder = builder.append_allowed_origin(o);
        }
        builder.build().map_err(|_| unavailable())
    }

    /// Whether the tenant can offer passkeys at all.
    pub fn available(&self, tenant: &Tenant) -> bool {
        self.relying_party(tenant).is_ok()
    }

    async fn keep(&self, tenant: &Tenant, user: Option<UserId>, purpose: Purpose, state: String) -> CoreResult<String> {
        let token = crate::crypto::random_token();
        let now = self.now();
        let c = WebauthnCeremony {
            token_hash: self.master.mac(CEREMONY_DOMAIN, token.as_bytes()),
            tenant_id: tenant.id,
            user_id: user,
            purpose: purpose.as_str().into(),
            state,
            expires_at: now + CEREMONY_TTL,
            created_at: now,
        };
        self.store.insert_ceremony(&c, now).await?;
        Ok(token)
    }

    /// The ceremony a token names, taken for good: an unknown, spent or expired token, or one
    /// for another purpose or user, is `InvalidToken`.
    async fn take(&self, tenant: &Tenant, token: &str, purpose: Purpose, user: Option<UserId>) -> CoreResult<String> {
        if token.is_empty() || token.len() > 100 {
            return Err(CoreError::InvalidToken);
        }
        let hash = self.master.mac(CEREMONY_DOMAIN, token.as_bytes());
        let c = self.store.take_ceremony(tenant.id, &hash, self.now()).await?.ok_or(CoreError::InvalidToken)?;
        if c.purpose != purpose.as_str() || (user.is_some() && c.user_id != user) {
            return Err(CoreError::InvalidToken);
        }
        Ok(c.state)
    }

    /// Begins adding a credential to a signed-in user's account. A passkey is asked to be
    /// discoverable; the user's credentials are excluded, so one authenticator registers once.
    pub async fn begin_registration(&self, tenant: &Tenant, user: &User, kind: CredentialKind) -> CoreResult<Begun> {
        self.begin_registration_named(tenant, user, kind, &tenant.display_name).await
    }

    /// As [`Passkeys::begin_registration`], the browser naming `rp_name` as the site the key is
    /// for: the hosted 2FA page names the application the user knows, not the tenant.
    pub(crate) async fn begin_registration_named(
        &self,
        tenant: &Tenant,
        user: &User,
        kind: CredentialKind,
        rp_name: &str,
    ) -> CoreResult<Begun> {
        let rp = self.relying_party_named(tenant, rp_name)?;
        let existing = self.store.credentials_of(tenant.id, user.id).await?;
        let exclude = existing.iter().filter_map(|c| crate::crypto::b64url_decode(&c.credential_id)).collect();
        let name = user_label(user);
        let (options, state): (CreationChallengeResponse, PasskeyRegistration) = rp
            .start_passkey_registration(Uuid::from(user.id), &name, &name, Some(exclude))
            .map_err(|e| CoreError::Internal(Box::new(e)))?;
        let mut options = serde_json::to_value(options).map_err(|e| CoreError::Internal(Box::new(e)))?;
        // Residency is the authenticator's to choose under the library's defaults; a passkey must
        // sign in without an identifier, a security key need not spend a slot.
        if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(Value::as_object_mut) {
            let passkey = kind == CredentialKind::Passkey;
            sel.insert("residentKey".into(), json!(if passkey { "required" } else { "discouraged" }));
            sel.insert("requireResidentKey".into(), json!(passkey));
        }
        let state = serde_json::to_string(&state).map_err(|e| CoreError::Internal(Box::new(e)))?;
        let ceremony = self.keep(tenant, Some(user.id), Purpose::Register(kind), state).await?;
        Ok(Begun { options, ceremony })
    }

    /// Finishes a registration: the browser's answer (WebAuthn JSON) checked against the
    /// ceremony (challenge, origin, RP ID, user verification) and the tenant's AAGUID list.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_registration(
        &self,
        tenant: &Tenant,
        user: &User,
        kind: CredentialKind,
        ceremony: &str,
        response: &str,
        name: &str,
        ctx: &ClientContext,
    ) -> CoreResult<WebauthnCredential> {
        let rp = self.relying_party(tenant)?;
        let state = self.take(tenant, ceremony, Purpose::Register(kind), Some(user.id)).await?;
        let state: PasskeyRegistration = serde_json::from_str(&state).map_err(|e| CoreError::Internal(Box::new(e)))?;
        let fail = |why: String| async move {
            let detail = json!({"kind": kind.as_str(), "reason": why});
            self.audit(Some(tenant.id), Some(user.id), AuditAction::PasskeyRegister, "failure", ctx, detail).await;
        };
        let reg: RegisterPublicKeyCredential = match serde_json::from_str(response) {
            Ok(r) => r,
            Err(_) => {
                fail("malformed".into()).await;
                return Err(refused("not a WebAuthn registration response"));
            }
        };
        let passkey = match rp.finish_passkey_registration(&reg, &state) {
            Ok(p) => p,
            Err(e) => {
                fail(e.to_string()).await;
                return Err(refused(&registration_refusal(&e)));
            }
        };
        let aaguid = aaguid_of(&reg);
        let allowed = &tenant.policy.webauthn.allowed_aaguids;
        if !allowed.is_empty() && !aaguid.as_ref().is_some_and(|a| allowed.iter().any(|x| x.eq_ignore_ascii_case(a))) {
            fail(format!("authenticator {} not allowed", aaguid.as_deref().unwrap_or("unknown"))).await;
            return Err(refused("this kind of authenticator is not allowed here"));
        }
        let name = clean_name(name, kind);
        let now = self.now();
        let (backup_eligible, backup_state) = flags_of(&passkey);
        let credential = WebauthnCredential {
            id: crate::model::new_id(),
            tenant_id: tenant.id,
            user_id: user.id,
            credential_id: cred_id_text(passkey.cred_id()),
            kind,
            name,
            data: serde_json::to_string(&passkey).map_err(|e| CoreError::Internal(Box::new(e)))?,
            aaguid,
            sign_count: counter_of(&passkey),
            backup_eligible,
            backup_state,
            created_at: now,
            last_used_at: None,
        };
        match self.store.insert_credential(&credential).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Conflict(_)) => {
                fail("credential already registered".into()).await;
                return Err(refused("this authenticator is already registered"));
            }
            Err(e) => return Err(e.into()),
        }
        let detail = json!({"kind": kind.as_str(), "credential": credential.id, "aaguid": credential.aaguid});
        self.audit(Some(tenant.id), Some(user.id), AuditAction::PasskeyRegister, "success", ctx, detail).await;
        self.tell(tenant, user, &format!("A {} named \"{}\" was added", kind_words(kind), credential.name)).await;
        Ok(credential)
    }

    /// Begins a sign-in: for a known user (the second factor), a challenge naming their
    /// credentials; else a discoverable one (any passkey of the tenant's answers).
    pub async fn begin_sign_in(&self, tenant: &Tenant, user: Option<&User>) -> CoreResult<Begun> {
        self.begin_assertion(tenant, user, Purpose::SecondFactor).await
    }

    /// As [`Passkeys::begin_sign_in`] for a known user, for the hosted 2FA page.
    pub(crate) async fn begin_hosted_check(&self, tenant: &Tenant, user: &User) -> CoreResult<Begun> {
        self.begin_assertion(tenant, Some(user), Purpose::HostedCheck).await
    }

    async fn begin_assertion(&self, tenant: &Tenant, user: Option<&User>, known: Purpose) -> CoreResult<Begun> {
        let rp = self.relying_party(tenant)?;
        let internal = |e: WebauthnError| CoreError::Internal(Box::new(e));
        let (options, state, purpose, user_id): (RequestChallengeResponse, String, Purpose, Option<UserId>) = match user {
            None => {
                let (o, s): (_, DiscoverableAuthentication) = rp.start_discoverable_authentication().map_err(internal)?;
                (o, to_state(&s)?, Purpose::SignIn, None)
            }
            Some(u) => {
                let keys = self.passkeys_of(tenant, u.id).await?;
                if keys.is_empty() {
                    return Err(CoreError::NotFound);
                }
                let (o, s): (_, PasskeyAuthentication) = rp.start_passkey_authentication(&keys).map_err(internal)?;
                (o, to_state(&s)?, known, Some(u.id))
            }
        };
        let mut options = serde_json::to_value(options).map_err(|e| CoreError::Internal(Box::new(e)))?;
        // The library marks discoverable requests for conditional UI; whether to ask that way
        // is the page's choice (autofill, or a button), so it is left to the page.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let ceremony = self.keep(tenant, user_id, purpose, state).await?;
        Ok(Begun { options, ceremony })
    }

    async fn passkeys_of(&self, tenant: &Tenant, user: UserId) -> CoreResult<Vec<Passkey>> {
        let creds = self.store.credentials_of(tenant.id, user).await?;
        Ok(creds.iter().filter_map(|c| serde_json::from_str::<Passkey>(&c.data).ok()).collect())
    }

    /// Finishes a sign-in with a passkey (no identifier given). Every refusal is
    /// `InvalidCredentials` to the caller and one `login.passkey` event; so is a success.
    pub async fn finish_sign_in(
        &self,
        tenant: &Tenant,
        ceremony: &str,
        response: &str,
        ctx: &ClientContext,
    ) -> CoreResult<Asserted> {
        match self.verify_assertion(tenant, ceremony, response, None).await? {
            Ok(a) => {
                let detail = json!({"credential": a.credential.id, "kind": a.credential.kind.as_str()});
                self.audit(Some(tenant.id), Some(a.user.id), AuditAction::LoginPasskey, "success", ctx, detail).await;
                Ok(a)
            }
            Err((user, why)) => {
                self.audit(Some(tenant.id), user, AuditAction::LoginPasskey, "failure", ctx, json!({"reason": why})).await;
                Err(CoreError::InvalidCredentials)
            }
        }
    }

    /// Checks an assertion against its ceremony (challenge, origin, RP ID, user verification,
    /// signature, counter) and, for a second factor, against the user the password named.
    /// A refusal is the user it concerns, if known, and why; the caller records it.
    pub(crate) async fn verify_assertion(
        &self,
        tenant: &Tenant,
        ceremony: &str,
        response: &str,
        second_factor_of: Option<&User>,
    ) -> CoreResult<Result<Asserted, (Option<UserId>, &'static str)>> {
        let purpose = if second_factor_of.is_some() { Purpose::SecondFactor } else { Purpose::SignIn };
        self.verify_assertion_for(tenant, ceremony, response, second_factor_of, purpose).await
    }

    /// [`Passkeys::verify_assertion`] of a user's key on the hosted 2FA page.
    pub(crate) async fn verify_hosted_check(
        &self,
        tenant: &Tenant,
        ceremony: &str,
        response: &str,
        user: &User,
    ) -> CoreResult<Result<Asserted, (Option<UserId>, &'static str)>> {
        self.verify_assertion_for(tenant, ceremony, response, Some(user), Purpose::HostedCheck).await
    }

    async fn verify_assertion_for(
        &self,
        tenant: &Tenant,
        ceremony: &str,
        response: &str,
        second_factor_of: Option<&User>,
        purpose: Purpose,
    ) -> CoreResult<Result<Asserted, (Option<UserId>, &'static str)>> {
        let claimed = second_factor_of.map(|u| u.id);
        // Refusals, not faults: a realm whose relying party went away, or a record that no longer
        // reads, refuses the answer (and a second step counts it) rather than failing the request.
        let Ok(rp) = self.relying_party(tenant) else {
            return Ok(Err((claimed, "passkeys are not set up for the realm")));
        };
        let state = match self.take(tenant, ceremony, purpose, claimed).await {
            Ok(s) => s,
            Err(CoreError::InvalidToken) => return Ok(Err((claimed, "unknown, spent or expired challenge"))),
            Err(e) => return Err(e),
        };
        let Ok(assertion) = serde_json::from_str::<PublicKeyCredential>(response) else {
            return Ok(Err((claimed, "malformed assertion")));
        };
        let cred_id = cred_id_text(assertion.get_credential_id());
        let Some(stored) = self.store.credential_by_credential_id(tenant.id, &cred_id).await? else {
            return Ok(Err((claimed, "unknown credential")));
        };
        if second_factor_of.is_some_and(|u| u.id != stored.user_id) {
            return Ok(Err((claimed, "another user's credential")));
        }
        let owner = Some(stored.user_id);
        // A security key is a second factor only: it does not sign in alone, even where the
        // authenticator made it discoverable.
        if second_factor_of.is_none() && stored.kind != CredentialKind::Passkey {
            return Ok(Err((owner, "a security key does not sign in without the password")));
        }
        let Ok(mut passkey) = serde_json::from_str::<Passkey>(&stored.data) else {
            tracing::error!(credential = %stored.id, "a stored webauthn credential does not parse");
            return Ok(Err((owner, "the stored credential does not read")));
        };
        let result = match second_factor_of {
            Some(_) => {
                let Ok(state) = from_state::<PasskeyAuthentication>(&state) else {
                    return Ok(Err((owner, "the ceremony's state does not read")));
                };
                rp.finish_passkey_authentication(&assertion, &state)
            }
            None => {
                let Ok(state) = from_state::<DiscoverableAuthentication>(&state) else {
                    return Ok(Err((owner, "the ceremony's state does not read")));
                };
                // The user handle must name the credential's owner: a passkey answers for the
                // account it was made for, never another's.
                match rp.identify_discoverable_authentication(&assertion) {
                    Ok((handle, _)) if handle == Uuid::from(stored.user_id) => {
                        rp.finish_discoverable_authentication_v2(&assertion, state, DiscoverableKey::from(&passkey))
                    }
                    _ => return Ok(Err((owner, "user handle does not match the credential"))),
                }
            }
        };
        let result = match result {
            Ok(r) => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                tracing::warn!(credential = %stored.id, "webauthn counter went backwards");
                return Ok(Err((owner, "the signature counter went backwards: the authenticator may be cloned")));
            }
            Err(e) => return Ok(Err((owner, assertion_refusal(&e)))),
        };
        passkey.update_credential(&result);
        let now = self.now();
        let used = CredentialUse {
            sign_count: result.counter(),
            backup_state: result.backup_state(),
            data: serde_json::to_string(&passkey).map_err(|e| CoreError::Internal(Box::new(e)))?,
            at: now,
        };
        // The counter moves forward in the same statement that records the use: of two
        // assertions with one counter value (a clone racing the original), one is taken.
        if !self.store.record_credential_use(tenant.id, stored.id, &used).await? {
            return Ok(Err((owner, "the signature counter did not move forward")));
        }
        let user = match self.store.user_by_id(tenant.id, stored.user_id).await? {
            Some(u) if u.active => u,
            _ => return Ok(Err((owner, "user inactive or gone"))),
        };
        let credential = WebauthnCredential {
            sign_count: used.sign_count,
            backup_state: used.backup_state,
            data: used.data,
            last_used_at: Some(now),
            ..stored
        };
        Ok(Ok(Asserted { user, credential }))
    }

    pub async fn list(&self, tenant: &Tenant, user: UserId) -> CoreResult<Vec<WebauthnCredential>> {
        Ok(self.store.credentials_of(tenant.id, user).await?)
    }

    pub async fn rename(&self, tenant: &Tenant, user: UserId, id: Uuid, name: &str, ctx: &ClientContext) -> CoreResult<()> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(CoreError::field("name", "1 to 64 characters, no control characters"));
        }
        if !self.store.rename_credential(tenant.id, user, id, name).await? {
            return Err(CoreError::NotFound);
        }
        self.audit(Some(tenant.id), Some(user), AuditAction::PasskeyRename, "success", ctx, json!({"credential": id})).await;
        Ok(())
    }

    /// Removes a credential: it signs in no more, at once, on every node. The user is told.
    pub async fn delete(&self, tenant: &Tenant, user: UserId, id: Uuid, ctx: &ClientContext) -> CoreResult<()> {
        let found = self.store.credentials_of(tenant.id, user).await?.into_iter().find(|c| c.id == id);
        if !self.store.delete_credential(tenant.id, user, id).await? {
            return Err(CoreError::NotFound);
        }
        self.audit(Some(tenant.id), Some(user), AuditAction::PasskeyDelete, "success", ctx, json!({"credential": id})).await;
        if let (Some(c), Some(u)) = (found, self.store.user_by_id(tenant.id, user).await?) {
            self.tell(&tenant.clone(), &u, &format!("The {} named \"{}\" was removed", kind_words(c.kind), c.name)).await;
        }
        Ok(())
    }

    /// Removes every security key of a user (passkeys stay: they are the user's own way in); the
    /// number removed, which may be fewer than were there when a store failure stops it half-way
    /// (`Err` then carries no count: the caller records what it saw). One audit event per key,
    /// one mail for them all.
    pub(crate) async fn delete_security_keys(
        &self,
        tenant: &Tenant,
        user: &User,
        ctx: &ClientContext,
        removed: &mut usize,
    ) -> CoreResult<()> {
        let keys = self.store.credentials_of(tenant.id, user.id).await?;
        let mut names = Vec::new();
        for key in keys.iter().filter(|c| c.kind == CredentialKind::SecurityKey) {
            // Gone meanwhile (another call removed it): not this call's to count.
            if self.store.delete_credential(tenant.id, user.id, key.id).await? {
                *removed += 1;
                names.push(format!("\"{}\"", key.name));
                let detail = json!({"credential": key.id});
                self.audit(Some(tenant.id), Some(user.id), AuditAction::PasskeyDelete, "success", ctx, detail).await;
            }
        }
        if !names.is_empty() {
            self.tell(tenant, user, &format!("Your security keys {} were removed", names.join(", "))).await;
        }
        Ok(())
    }

    /// Mails the user of a change to how they sign in, so that one they did not make is noticed.
    pub(crate) async fn tell(&self, tenant: &Tenant, user: &User, what: &str) {
        let Some(email) = &user.email else { return };
        let (subject, body) = crate::delivery::templates::sign_in_changed(&tenant.display_name, what);
        if let Err(e) = self.enqueue(Some(tenant.id), Channel::Email, email.as_str(), &subject, &body).await {
            tracing::error!(error = %crate::error::Chain(&e), "sign-in change notice not queued");
        }
    }

    /// Ten new recovery codes, replacing any before; shown once, only their HMACs kept.
    pub async fn new_recovery_codes(&self, tenant: &Tenant, user: &User, ctx: &ClientContext) -> CoreResult<Vec<String>> {
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| self.recovery_hash(user, c)).collect();
        self.store.replace_recovery_codes(tenant.id, user.id, &hashes, self.now()).await?;
        let detail = json!({"count": RECOVERY_CODES});
        self.audit(Some(tenant.id), Some(user.id), AuditAction::RecoveryCodesGenerate, "success", ctx, detail).await;
        Ok(codes.iter().map(|c| format!("{}-{}", &c[..5], &c[5..])).collect())
    }

    pub async fn recovery_codes_left(&self, tenant: &Tenant, user: UserId) -> CoreResult<u32> {
        Ok(self.store.recovery_codes_left(tenant.id, user).await?)
    }

    fn recovery_hash(&self, user: &User, code: &str) -> Vec<u8> {
        self.master.mac(RECOVERY_DOMAIN, format!("{}|{}|{code}", user.tenant_id, user.id).as_bytes())
    }

    /// Spends one of a user's recovery codes (as typed: any case, dashes and spaces ignored).
    /// A use is mailed to the user, so that a stolen code does not go unnoticed; the caller
    /// records the attempt.
    pub(crate) async fn spend_recovery_code(&self, tenant: &Tenant, user: &User, code: &str) -> CoreResult<bool> {
        let canonical: String =
            code.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).take(RECOVERY_LEN + 1).collect();
        let valid = canonical.len() == RECOVERY_LEN && canonical.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
        let hash = self.recovery_hash(user, &canonical);
        if !valid || !self.store.spend_recovery_code(tenant.id, user.id, &hash, self.now()).await? {
            return Ok(false);
        }
        let left = self.store.recovery_codes_left(tenant.id, user.id).await?;
        if let Some(email) = &user.email {
            let (subject, body) = crate::delivery::templates::recovery_code_used(&tenant.display_name, left);
            if let Err(e) = self.enqueue(Some(tenant.id), Channel::Email, email.as_str(), &subject, &body).await {
                tracing::error!(error = %crate::error::Chain(&e), "recovery code notice not queued");
            }
        }
        Ok(true)
    }
}

fn kind_words(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Passkey => "passkey",
        CredentialKind::SecurityKey => "security key",
    }
}

fn to_state<T: serde::Serialize>(s: &T) -> CoreResult<String> {
    serde_json::to_string(s).map_err(|e| CoreError::Internal(Box::new(e)))
}

fn from_state<T: serde::de::DeserializeOwned>(s: &str) -> CoreResult<T> {
    serde_json::from_str(s).map_err(|e| CoreError::Internal(Box::new(e)))
}

/// The counter and backup flags of a credential, read from the library's serialised record
/// (its fields are not public).
fn counter_of(p: &Passkey) -> u32 {
    record_field(p, "counter").and_then(|v| v.as_u64()).and_then(|c| u32::try_from(c).ok()).unwrap_or(0)
}

fn flags_of(p: &Passkey) -> (bool, bool) {
    let flag = |name| record_field(p, name).and_then(|v| v.as_bool()).unwrap_or(false);
    (flag("backup_eligible"), flag("backup_state"))
}

fn record_field(p: &Passkey, name: &str) -> Option<Value> {
    serde_json::to_value(p).ok()?.get("cred")?.get(name).cloned()
}

fn user_label(user: &User) -> String {
    user.email
        .as_ref()
        .map(|e| e.as_str().to_string())
        .or_else(|| user.username.clone())
        .or_else(|| user.phone.as_ref().map(|p| p.as_str().to_string()))
        .unwrap_or_else(|| user.id.to_string())
}

fn clean_name(name: &str, kind: CredentialKind) -> String {
    let name: String = name.trim().chars().filter(|c| !c.is_control()).take(MAX_NAME).collect();
    if name.is_empty() {
        match kind {
            CredentialKind::Passkey => "Passkey".into(),
            CredentialKind::SecurityKey => "Security key".into(),
        }
    } else {
        name
    }
}

/// Why an assertion was refused, for the audit log.
fn assertion_refusal(e: &WebauthnError) -> &'static str {
    match e {
        WebauthnError::InvalidRPOrigin => "wrong origin",
        WebauthnError::InvalidRPIDHash => "wrong relying party id",
        WebauthnError::UserNotVerified => "user not verified",
        WebauthnError::MismatchedChallenge => "wrong challenge",
        WebauthnError::AuthenticationFailure => "bad signature",
        _ => "assertion refused",
    }
}

/// What a refused registration tells the user.
fn registration_refusal(e: &WebauthnError) -> String {
    match e {
        WebauthnError::InvalidRPOrigin => "the answer came from another site".into(),
        WebauthnError::InvalidRPIDHash => "the answer is for another relying party".into(),
        WebauthnError::UserNotVerified => "the authenticator did not verify the user (PIN or biometrics)".into(),
        WebauthnError::MismatchedChallenge => "the answer is for another challenge".into(),
        _ => "the authenticator's answer was not accepted".into(),
    }
}

fn recovery_code() -> String {
    let n = RECOVERY_ALPHABET.len() as u8;
    let limit = u8::MAX - (u8::MAX % n);
    let mut code = String::with_capacity(RECOVERY_LEN);
    while code.len() < RECOVERY_LEN {
        for b in crate::crypto::random_bytes::<16>() {
            if b < limit && code.len() < RECOVERY_LEN {
                code.push(RECOVERY_ALPHABET[usize::from(b % n)] as char);
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_use_the_alphabet_and_differ() {
        let a = recovery_code();
        let b = recovery_code();
        assert_eq!(a.len(), RECOVERY_LEN);
        assert!(a.bytes().all(|c| RECOVERY_ALPHABET.contains(&c)));
        assert_ne!(a, b);
    }

    #[test]
    fn names_are_trimmed_and_defaulted() {
        assert_eq!(clean_name("  ", CredentialKind::Passkey), "Passkey");
        assert_eq!(clean_name("\u{7}Laptop ", CredentialKind::SecurityKey), "Laptop");
        assert_eq!(clean_name(&"x".repeat(100), CredentialKind::Passkey).len(), MAX_NAME);
    }
}
