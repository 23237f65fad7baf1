//! The hosted verification: a session token opens it, a right code verifies it once the backend
//! has been told (the result callback decides), wrong codes count down to a rejection, "this
//! wasn't me" rejects, and the token expires by the clock. The backend is a local receiver.

use castellan_core::CoreError;
use castellan_core::crypto::{base32, random_bytes};
use castellan_core::delivery::callbacks::{SIGNATURE_HEADER, signature};
use castellan_core::model::{Application, VerificationStatus};
use castellan_core::services::hosted_2fa::{FactorSpec, SESSION_TOKEN_TTL};
use castellan_core::services::hosted_apps::HostedAppSettings;
use castellan_core::services::hosted_page::{HostedPage, PageAction, PageFailure, PageOutcome, PageRequest};
use castellan_testkit::{HttpSink, Recorded};

use crate::harness::{World, ctx, totp_code, wrong_totp};

const EMAIL: &str = "kato@example.com";
const REDIRECT: &str = "https://portal.example.com/2fa/done";

/// A hosted application whose backend is `sink`, and a user with a factor for it.
struct Hosted {
    w: World,
    sink: HttpSink,
    app: Application,
    callback_secret: String,
    totp_secret: Vec<u8>,
}

impl Hosted {
    /// The backend answers every callback with `status` unless told otherwise.
    async fn new(status: u16) -> Hosted {
        let w = World::new().await;
        w.run_callbacks();
        let sink = HttpSink::start(status, "{}").await;
        let settings = HostedAppSettings {
            name: Some("Bank".into()),
            allowed_ips: Some(vec!["127.0.0.1".into()]),
            callback_url: Some(format!("{}/2fa/result", sink.url)),
            redirect_uris: Some(vec![REDIRECT.into()]),
            webauthn: None,
        };
        let created = w.core.hosted_apps().create_hosted_app(&w.tenant, settings, &ctx()).await.unwrap();
        let totp_secret = random_bytes::<20>().to_vec();
        let spec = FactorSpec { secret: base32::encode(&totp_secret), algorithm: None, digits: None, period: None };
        w.core.hosted().enable_app_totp(&w.tenant, &created.app, EMAIL, spec, &ctx()).await.unwrap();
        Hosted { w, sink, app: created.app, callback_secret: created.callback_secret, totp_secret }
    }

    async fn session_token(&self) -> String {
        self.w.core.hosted().issue_session_token(&self.w.tenant, &self.app, EMAIL, &ctx()).await.unwrap()
    }

    async fn page(&self, token: &str, action: PageAction<'_>) -> HostedPage {
        let req = PageRequest { session_token: token, redirect_uri: REDIRECT, popup: false, action };
        self.w.core.hosted().hosted_page(req, &ctx(), self.w.never_stopping()).await.unwrap()
    }

    async fn outcome(&self, token: &str, action: PageAction<'_>) -> PageOutcome {
        self.page(token, action).await.outcome
    }

    fn code(&self) -> String {
        totp_code(&self.totp_secret, self.w.now())
    }

    fn wrong_code(&self) -> String {
        wrong_totp(&self.totp_secret, self.w.now())
    }

    /// Where the newest verification stands.
    async fn status(&self) -> VerificationStatus {
        let recent = self.w.core.hosted().recent_verifications(&self.w.tenant, &self.app, 1).await.unwrap();
        recent.first().map(|v| v.status).unwrap()
    }

    /// Checks that `cb` is a signed result callback of `token` saying `result`.
    #[track_caller]
    fn assert_callback(&self, cb: &Recorded, token: &str, result: bool) {
        assert_eq!((cb.method.as_str(), cb.path.as_str()), ("GET", "/2fa/result"));
        let query = cb.query.clone().unwrap_or_default();
        assert_eq!(query, format!("result={result}&session_token={token}"));
        let header = cb.header(SIGNATURE_HEADER).unwrap();
        let t: i64 = header.strip_prefix("t=").and_then(|r| r.split(',').next()).unwrap().parse().unwrap();
        assert_eq!(header, signature(self.callback_secret.as_bytes(), t, &query), "signed with the callback secret");
    }
}

#[tokio::test]
async fn a_right_code_lets_the_user_on_once_the_backend_has_the_result() {
    let h = Hosted::new(200).await;
    let token = h.session_token().await;
    let shown = h.page(&token, PageAction::Look).await;
    assert_eq!(shown.outcome, PageOutcome::Code { tries_left: None });
    assert_eq!((shown.email.as_str(), shown.origin.as_str(), shown.digits), (EMAIL, "https://portal.example.com", 6));
    assert_eq!(h.status().await, VerificationStatus::Pending);

    let code = h.code();
    assert_eq!(h.outcome(&token, PageAction::Code(&code)).await, PageOutcome::Verified);
    let calls = h.sink.requests();
    assert_eq!(calls.len(), 1);
    h.assert_callback(&calls[0], &token, true);
    assert_eq!(h.status().await, VerificationStatus::Succeeded);

    // The token is spent: it reads as timed out, and tells the backend nothing more.
    assert_eq!(h.outcome(&token, PageAction::Code(&code)).await, PageOutcome::Failed(PageFailure::TimedOut));
    assert_eq!(h.outcome(&token, PageAction::Look).await, PageOutcome::Failed(PageFailure::TimedOut));
    // The code is spent too: on a new token it is just a wrong code.
    let again = h.session_token().await;
    assert_eq!(h.outcome(&again, PageAction::Code(&code)).await, PageOutcome::Code { tries_left: Some(4) });
    assert_eq!(h.sink.requests().len(), 1);
}

#[tokio::test]
async fn wrong_codes_count_down_and_the_last_one_rejects() {
    let h = Hosted::new(200).await;
    let token = h.session_token().await;
    for left in (1..5).rev() {
        assert_eq!(h.outcome(&token, PageAction::Code(&h.wrong_code())).await, PageOutcome::Code { tries_left: Some(left) });
    }
    assert!(h.sink.requests().is_empty(), "wrong codes tell the backend nothing");
    assert_eq!(h.outcome(&token, PageAction::Code(&h.wrong_code())).await, PageOutcome::Failed(PageFailure::Rejected));
    let calls = h.sink.requests();
    assert_eq!(calls.len(), 1);
    h.assert_callback(&calls[0], &token, false);
    assert_eq!(h.status().await, VerificationStatus::Rejected);

    // Exhausted: the right code no longer helps.
    assert_eq!(h.outcome(&token, PageAction::Code(&h.code())).await, PageOutcome::Failed(PageFailure::Rejected));
    assert_eq!(h.status().await, VerificationStatus::Rejected);
    assert_eq!(h.sink.requests().len(), 1);
    let outcomes = h.w.outcomes("hosted.verify").await;
    assert_eq!(
        (outcomes.get("failure"), outcomes.get("rejected"), outcomes.get("closed")),
        (Some(&4), Some(&1), Some(&1)),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn this_was_not_me_rejects_and_tells_the_backend() {
    let h = Hosted::new(200).await;
    let token = h.session_token().await;
    assert_eq!(h.outcome(&token, PageAction::Reject).await, PageOutcome::Failed(PageFailure::Rejected));
    let calls = h.sink.requests();
    assert_eq!(calls.len(), 1);
    h.assert_callback(&calls[0], &token, false);
    assert_eq!(h.status().await, VerificationStatus::Rejected);
    assert_eq!(h.outcome(&token, PageAction::Code(&h.code())).await, PageOutcome::Failed(PageFailure::Rejected));
    assert_eq!(h.outcome(&token, PageAction::Reject).await, PageOutcome::Failed(PageFailure::Rejected));
    assert_eq!(h.sink.requests().len(), 1, "rejected once, told once");
}

#[tokio::test]
async fn the_session_token_expires_by_the_clock() {
    let h = Hosted::new(200).await;
    let token = h.session_token().await;
    h.w.clock.advance(SESSION_TOKEN_TTL - 1);
    assert_eq!(h.outcome(&token, PageAction::Look).await, PageOutcome::Code { tries_left: None });
    h.w.clock.advance(1);
    assert_eq!(h.outcome(&token, PageAction::Code(&h.code())).await, PageOutcome::Failed(PageFailure::TimedOut));
    assert_eq!(h.status().await, VerificationStatus::TimedOut);
    assert_eq!(h.outcome(&token, PageAction::Reject).await, PageOutcome::Failed(PageFailure::TimedOut));

    // Opening the page past the expiry ends a verification too.
    let looked = h.session_token().await;
    h.w.clock.advance(SESSION_TOKEN_TTL);
    assert_eq!(h.outcome(&looked, PageAction::Look).await, PageOutcome::Failed(PageFailure::TimedOut));
    assert_eq!(h.status().await, VerificationStatus::TimedOut);
    assert!(h.sink.requests().is_empty(), "an expiry is not called back");
    assert_eq!(h.w.outcomes("hosted.verify").await.get("timeout"), Some(&2));
}

#[tokio::test]
async fn a_backend_that_never_accepts_the_result_keeps_the_user_from_going_on() {
    let h = Hosted::new(500).await;
    let token = h.session_token().await;
    assert_eq!(h.outcome(&token, PageAction::Code(&h.code())).await, PageOutcome::Failed(PageFailure::Internal));
    assert_eq!(h.status().await, VerificationStatus::Failed);
    let calls = h.sink.requests();
    assert!(calls.len() > 1, "retried within the window: {}", calls.len());
    for cb in &calls {
        h.assert_callback(cb, &token, true);
    }
}

#[tokio::test]
async fn a_backend_that_accepts_on_a_retry_lets_the_user_on() {
    let h = Hosted::new(200).await;
    h.sink.respond_next(503, "{}");
    let token = h.session_token().await;
    assert_eq!(h.outcome(&token, PageAction::Code(&h.code())).await, PageOutcome::Verified);
    assert_eq!(h.sink.requests().len(), 2);
    assert_eq!(h.status().await, VerificationStatus::Succeeded);
}

#[tokio::test]
async fn a_page_request_must_carry_a_genuine_token_and_a_registered_redirect() {
    let h = Hosted::new(200).await;
    let token = h.session_token().await;
    let foreign = PageRequest {
        session_token: &token,
        redirect_uri: "https://evil.example/done",
        popup: false,
        action: PageAction::Code("000000"),
    };
    let r = h.w.core.hosted().hosted_page(foreign, &ctx(), h.w.never_stopping()).await;
    assert!(matches!(r, Err(CoreError::Validation(ref f)) if f.contains_key("redirect_uri")), "{r:?}");
    let (head, rest) = token.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    let forged = format!("{head}.{payload}.{}", castellan_core::crypto::b64url(&[0u8; 32]));
    let req = PageRequest { session_token: &forged, redirect_uri: REDIRECT, popup: false, action: PageAction::Code("000000") };
    let r = h.w.core.hosted().hosted_page(req, &ctx(), h.w.never_stopping()).await;
    assert!(matches!(r, Err(CoreError::InvalidToken)), "{r:?}");
    assert_eq!(h.status().await, VerificationStatus::Pending, "neither request touched the verification");
}
