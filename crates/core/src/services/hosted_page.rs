//! The hosted page's side of a verification: what opening the page, entering a code or "this
//! wasn't me" does to it, and what the page is to show then. Expiry, the count of wrong codes,
//! the wait for the result callback and the decision that the user may go on are all made here;
//! the page parses its request, makes one call and renders the [`PageOutcome`].

use std::time::Duration;

use tokio::sync::watch;

use super::ClientContext;
use super::hosted_2fa::Hosted;
use super::hosted_2fa::{CodeOutcome, OpenVerification, registered_redirect};
use super::passkeys::Begun;
use crate::error::{CoreError, CoreResult};
use crate::model::{CallbackStatus, CredentialKind, VerificationStatus};

/// How much longer than the callback window the page waits, for the last try to be recorded.
const SETTLE_GRACE: Duration = Duration::from_secs(6);

/// What a request of the page does to the verification.
#[derive(Debug, Clone, Copy)]
pub enum PageAction<'a> {
    /// The page is opened: it shows where the verification stands (ending it if it has expired).
    Look,
    /// A code the user entered.
    Code(&'a str),
    /// The answer of one of the user's keys (WebAuthn JSON) to the challenge of
    /// [`Hosted::hosted_key_options`].
    Key { ceremony: &'a str, response: &'a str },
    /// "This wasn't me".
    Reject,
}

/// A request of the hosted page, as the page read it.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub session_token: &'a str,
    /// Where the result goes: one of the application's redirect URIs.
    pub redirect_uri: &'a str,
    /// A popup posts its result to an origin, so the origin of a redirect URI suffices.
    pub popup: bool,
    pub action: PageAction<'a>,
}

/// Why the user may not go on, as the business's page is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFailure {
    /// "This wasn't me", or too many wrong codes.
    Rejected,
    /// The session token expired, or was already used.
    TimedOut,
    /// The backend could not be told the result (or the server failed).
    Internal,
}

impl PageFailure {
    /// How a verification that is no longer open reads: its own failure, and `TimedOut` for a
    /// token already used (that attempt is over).
    fn of(status: VerificationStatus) -> PageFailure {
        match status {
            VerificationStatus::Rejected => PageFailure::Rejected,
            VerificationStatus::Failed => PageFailure::Internal,
            VerificationStatus::Pending
            | VerificationStatus::Verified
            | VerificationStatus::Succeeded
            | VerificationStatus::TimedOut => PageFailure::TimedOut,
        }
    }
}

/// Where the verification stands for the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOutcome {
    /// Open for a code; `tries_left` after a wrong one.
    Code { tries_left: Option<u32> },
    /// The backend has the result (or there is no backend to tell): the browser gets the session
    /// token.
    Verified,
    /// Over, and why.
    Failed(PageFailure),
    /// The database did not answer: nothing changed, and the page asks to try again.
    Unavailable,
}

/// What the page renders: the verification's application and user, where its result may go,
/// and the outcome.
#[derive(Debug, Clone)]
pub struct HostedPage {
    pub app_name: String,
    pub email: String,
    /// Digits of the user's code.
    pub digits: u32,
    /// Whether the user can enter a code (has the application's authenticator app).
    pub code: bool,
    /// Whether the page offers the user's passkeys and security keys.
    pub keys: bool,
    /// `scheme://host[:port]` of the redirect URI: the only target its result may be posted to.
    pub origin: String,
    pub outcome: PageOutcome,
    /// After a right code, where the application offers keys and the user has none: the
    /// registration of a first one, offered before the user goes on. Only this answer carries it.
    pub enrol: Option<Begun>,
}

/// The page's verdict once the callback of a verified code has settled (`None`: it could not be
/// waited for). The user goes on if the backend was told, or there was no backend to tell.
fn verdict(settled: Option<(VerificationStatus, Option<CallbackStatus>)>) -> PageOutcome {
    match settled {
        Some((VerificationStatus::Succeeded, _) | (_, None | Some(CallbackStatus::Delivered))) => PageOutcome::Verified,
        Some((_, Some(CallbackStatus::Pending | CallbackStatus::Failed))) | None => PageOutcome::Failed(PageFailure::Internal),
    }
}

/// Where the verification's result may go: the origin of `redirect_uri` if it is the
/// application's; else the request cannot be trusted with a destination.
fn result_origin(open: &OpenVerification, redirect_uri: &str, popup: bool) -> CoreResult<String> {
    registered_redirect(&open.app, redirect_uri, popup)
        .ok_or_else(|| CoreError::field("redirect_uri", "not a redirect URI of this application"))
}

fn page_of(open: &OpenVerification, origin: String, outcome: PageOutcome, enrol: Option<Begun>) -> HostedPage {
    HostedPage {
        app_name: open.app.name.clone(),
        email: open.verification.email.clone(),
        digits: open.digits,
        code: open.has_code,
        keys: open.keys,
        origin,
        outcome,
        enrol,
    }
}

impl Hosted<'_> {
    /// Runs one request of the hosted page. `Err` is a request that cannot be trusted with a
    /// destination: `InvalidToken` for a session token that opens nothing (audited when it sends
    /// a code or a rejection), `Validation` on `redirect_uri` for a URI that is not the
    /// application's, or a failure before the verification was found. Everything after that is
    /// an outcome; a failure then is `Failed(Internal)`. `stop` turning true (the server shutting
    /// down) ends the wait for the callback, which resumes on the next start.
    pub async fn hosted_page(
        &self,
        req: PageRequest<'_>,
        ctx: &ClientContext,
        stop: watch::Receiver<bool>,
    ) -> CoreResult<HostedPage> {
        let open = match req.action {
            PageAction::Look => self.open_verification(req.session_token).await?,
            PageAction::Code(_) | PageAction::Key { .. } | PageAction::Reject => {
                self.open_verification_attempt(req.session_token, ctx).await?
            }
        };
        let origin = result_origin(&open, req.redirect_uri, req.popup)?;
        let outcome = match req.action {
            PageAction::Look => self.look_at_verification(&open, ctx).await,
            PageAction::Code(code) => self.enter_code(&open, code, ctx, stop).await,
            PageAction::Key { ceremony, response } => self.enter_key(&open, ceremony, response, ctx, stop).await,
            PageAction::Reject => self.reject_on_page(&open, ctx, stop).await,
        };
        let enrol = match (req.action, outcome) {
            (PageAction::Code(_), PageOutcome::Verified) => self.first_key_offer(&open).await,
            _ => None,
        };
        Ok(page_of(&open, origin, outcome, enrol))
    }

    /// The challenge for the user's keys, while the verification is open and the page offers
    /// them; `InvalidToken` otherwise (as for a token that opens nothing). Nothing is spent: the
    /// answer is what counts, as a code.
    pub async fn hosted_key_options(&self, session_token: &str, redirect_uri: &str, popup: bool) -> CoreResult<Begun> {
        let open = self.open_verification(session_token).await?;
        result_origin(&open, redirect_uri, popup)?;
        let v = &open.verification;
        if v.status != VerificationStatus::Pending || open.expired(self.now()) || !open.keys {
            return Err(CoreError::InvalidToken);
        }
        let user = self.store.user_by_id(v.tenant_id, v.user_id).await?.ok_or(CoreError::InvalidToken)?;
        self.passkeys().begin_hosted_check(&open.tenant, &user).await
    }

    /// Adds the user's first key with the registration a right code offered
    /// ([`HostedPage::enrol`]): the ceremony, bound to the user and handed out only in that
    /// answer, is the proof. `Err`: a request that cannot be trusted (as for [`Hosted::hosted_page`],
    /// or a verification that did not go through); else the page, with the verified outcome for
    /// the user to go on, and the registration's result (a refusal says why).
    pub async fn hosted_add_key(
        &self,
        session_token: &str,
        redirect_uri: &str,
        popup: bool,
        ceremony: &str,
        response: &str,
        ctx: &ClientContext,
    ) -> CoreResult<(HostedPage, CoreResult<()>)> {
        let open = self.open_verification(session_token).await?;
        let origin = result_origin(&open, redirect_uri, popup)?;
        let v = &open.verification;
        if !open.app.hosted_webauthn || !matches!(v.status, VerificationStatus::Verified | VerificationStatus::Succeeded) {
            return Err(CoreError::InvalidToken);
        }
        let user = self.store.user_by_id(v.tenant_id, v.user_id).await?.ok_or(CoreError::InvalidToken)?;
        let ctx = super::hosted_apps::with_app(ctx, &open.app);
        let passkeys = self.passkeys();
        let added = passkeys.finish_registration(&open.tenant, &user, CredentialKind::SecurityKey, ceremony, response, "", &ctx);
        let added = added.await.map(|_| ());
        Ok((page_of(&open, origin, PageOutcome::Verified, None), added))
    }

    /// A first key's registration, where the application offers keys and the user has none.
    async fn first_key_offer(&self, open: &OpenVerification) -> Option<Begun> {
        let v = &open.verification;
        if !open.app.hosted_webauthn || open.keys || !self.passkeys().available(&open.tenant) {
            return None;
        }
        // `open.keys` false with the option on and a relying party: the user has no key.
        let begun = async {
            let Some(user) = self.store.user_by_id(v.tenant_id, v.user_id).await? else { return Ok(None) };
            let passkeys = self.passkeys();
            let kind = CredentialKind::SecurityKey;
            passkeys.begin_registration_named(&open.tenant, &user, kind, &open.app.name).await.map(Some)
        };
        let begun: CoreResult<Option<Begun>> = begun.await;
        // The user goes on without the offer rather than not at all.
        begun.unwrap_or_else(|e| {
            tracing::error!(error = %crate::error::Chain(&e), "hosted page: offering a first key");
            None
        })
    }

    /// The page opened: a pending verification past its expiry is timed out now.
    async fn look_at_verification(&self, open: &OpenVerification, ctx: &ClientContext) -> PageOutcome {
        let status = open.verification.status;
        if status == VerificationStatus::Pending && open.expired(self.now()) {
            if let Err(e) = self.time_out_verification(open, ctx).await {
                // The page still says TIMEOUT: the token is past its expiry whatever was stored.
                tracing::error!(error = %crate::error::Chain(&e), "hosted page: timing out");
            }
            return PageOutcome::Failed(PageFailure::TimedOut);
        }
        match status {
            VerificationStatus::Pending => PageOutcome::Code { tries_left: None },
            other => PageOutcome::Failed(PageFailure::of(other)),
        }
    }

    async fn enter_code(
        &self,
        open: &OpenVerification,
        code: &str,
        ctx: &ClientContext,
        stop: watch::Receiver<bool>,
    ) -> PageOutcome {
        let outcome = self.submit_hosted_code(open, code, ctx).await;
        self.after_try(open, outcome, stop, "code").await
    }

    /// What a code or a key led to, once the backend has been told of a verdict.
    async fn after_try(
        &self,
        open: &OpenVerification,
        outcome: CoreResult<CodeOutcome>,
        stop: watch::Receiver<bool>,
        what: &'static str,
    ) -> PageOutcome {
        match outcome {
            Ok(CodeOutcome::Wrong { tries_left }) => PageOutcome::Code { tries_left: Some(tries_left) },
            Ok(CodeOutcome::Closed(status)) => PageOutcome::Failed(PageFailure::of(status)),
            Ok(CodeOutcome::Rejected) => {
                // The backend hears of the rejection first, as of a success.
                self.settle_for_page(open, stop).await;
                PageOutcome::Failed(PageFailure::Rejected)
            }
            Ok(CodeOutcome::Verified) => verdict(self.settle_for_page(open, stop).await),
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %crate::error::Chain(&e), what, "hosted page: database unavailable");
                PageOutcome::Unavailable
            }
            Err(e) => {
                tracing::error!(error = %crate::error::Chain(&e), what, "hosted page");
                PageOutcome::Failed(PageFailure::Internal)
            }
        }
    }

    async fn enter_key(
        &self,
        open: &OpenVerification,
        ceremony: &str,
        response: &str,
        ctx: &ClientContext,
        stop: watch::Receiver<bool>,
    ) -> PageOutcome {
        let outcome = self.submit_hosted_key(open, ceremony, response, ctx).await;
        self.after_try(open, outcome, stop, "key").await
    }

    async fn reject_on_page(&self, open: &OpenVerification, ctx: &ClientContext, stop: watch::Receiver<bool>) -> PageOutcome {
        match self.reject_verification(open, ctx).await {
            Ok(VerificationStatus::Rejected) => {
                self.settle_for_page(open, stop).await;
                PageOutcome::Failed(PageFailure::Rejected)
            }
            Ok(other) => PageOutcome::Failed(PageFailure::of(other)),
            Err(e) => {
                tracing::error!(error = %crate::error::Chain(&e), "hosted page: reject");
                PageOutcome::Failed(PageFailure::Internal)
            }
        }
    }

    /// Waits for the verification's callback to settle: its whole window and a little for the
    /// last try. `None` if the wait failed or `stop` turned true first.
    async fn settle_for_page(
        &self,
        open: &OpenVerification,
        mut stop: watch::Receiver<bool>,
    ) -> Option<(VerificationStatus, Option<CallbackStatus>)> {
        let limit = self.config.callback_window + SETTLE_GRACE;
        tokio::select! {
            r = self.settle_verification(open, limit) => match r {
                Ok(x) => Some(x),
                Err(e) => {
                    tracing::error!(error = %crate::error::Chain(&e), "hosted page: settling");
                    None
                }
            },
            _ = stop.wait_for(|s| *s) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_code_lets_the_user_on_once_the_backend_is_told_or_there_is_none() {
        use CallbackStatus as C;
        use VerificationStatus as V;
        let on = PageOutcome::Verified;
        let internal = PageOutcome::Failed(PageFailure::Internal);
        assert_eq!(verdict(Some((V::Succeeded, Some(C::Delivered)))), on);
        assert_eq!(verdict(Some((V::Succeeded, None))), on, "no callback URL: succeeded at once");
        assert_eq!(verdict(Some((V::Verified, Some(C::Delivered)))), on, "delivered, not yet recorded succeeded");
        assert_eq!(verdict(Some((V::Verified, None))), on);
        assert_eq!(verdict(Some((V::Verified, Some(C::Pending)))), internal, "still retrying when the wait ended");
        assert_eq!(verdict(Some((V::Failed, Some(C::Failed)))), internal, "given up");
        assert_eq!(verdict(None), internal, "the wait failed or the server is stopping");
    }

    #[test]
    fn a_closed_verification_reads_as_its_own_failure_and_a_used_token_as_timed_out() {
        use VerificationStatus as V;
        assert_eq!(PageFailure::of(V::Rejected), PageFailure::Rejected);
        assert_eq!(PageFailure::of(V::Failed), PageFailure::Internal);
        for used in [V::TimedOut, V::Succeeded, V::Verified, V::Pending] {
            assert_eq!(PageFailure::of(used), PageFailure::TimedOut, "{used:?}");
        }
    }
}
