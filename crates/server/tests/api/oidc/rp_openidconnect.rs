//! A relying party built on the `openidconnect` crate, as an application would use it against a
//! Keycloak realm: discovery, the code flow with PKCE, nonce and state, the crate's ID token
//! verifier, UserInfo, refresh, introspection, revocation and RP-initiated logout. Only the
//! hosted pages are driven by hand (the harness's `Browser`), and the crate's HTTP calls go
//! through the workspace's reqwest.

use std::future::Future;
use std::pin::Pin;

use castellan_testkit::{TestApp, spawn_app};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreDeviceAuthorizationResponse, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreSubjectIdentifierType, CoreTokenType,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, DeviceAuthorizationUrl, HttpRequest, HttpResponse, IntrospectionUrl, IssuerUrl, LogoutProviderMetadata,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl,
    RequestTokenError, RevocationUrl, Scope, SubjectIdentifier, TokenIntrospectionResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::*;

/// The crate's HTTP client trait over the workspace's reqwest (the crate's own reqwest
/// integration is for an older reqwest). Redirects are not followed, as the crate advises.
/// The crate insists on an https revocation endpoint (RFC 7009 §2) and the test server speaks
/// plain HTTP, so this transport stands in for a TLS terminator in front of it: requests to
/// `https://` + the server's host are sent to `http://` + that host.
struct Http {
    client: reqwest::Client,
    host: String,
}

impl Http {
    fn new(app: &TestApp) -> Self {
        let host = app.address.strip_prefix("http://").expect("the test server is on http").to_string();
        Http { client: app.client.clone(), host }
    }

    /// `url` with the scheme the relying party would see behind TLS.
    fn behind_tls(&self, url: &str) -> String {
        url.replacen(&format!("http://{}", self.host), &format!("https://{}", self.host), 1)
    }
}

#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

fn http_error(e: impl std::fmt::Display) -> HttpError {
    HttpError(e.to_string())
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let mut request = request;
            let tls = format!("https://{}/", self.host);
            if let Some(path) = request.uri().to_string().strip_prefix(&tls) {
                *request.uri_mut() = format!("http://{}/{path}", self.host).parse().map_err(http_error)?;
            }
            let request = reqwest::Request::try_from(request).map_err(http_error)?;
            let response = self.client.execute(request).await.map_err(http_error)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(http_error)?;
            builder.body(body.to_vec()).map_err(http_error)
        })
    }
}

/// The discovery members beyond the crate's core set that this relying party uses.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Endpoints {
    introspection_endpoint: IntrospectionUrl,
    device_authorization_endpoint: DeviceAuthorizationUrl,
    revocation_endpoint: RevocationUrl,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for Endpoints {}

/// `CoreProviderMetadata` with RP-initiated logout's `end_session_endpoint` and [`Endpoints`].
type Metadata = ProviderMetadata<
    LogoutProviderMetadata<Endpoints>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

async fn discover(app: &TestApp, realm: &Realm, http: &Http) -> Metadata {
    let issuer = IssuerUrl::new(format!("{}{}", app.address, realm.base())).unwrap();
    Metadata::discover_async(issuer, http).await.unwrap_or_else(|e| panic!("discovery: {e:?}"))
}

/// `at_hash` as OpenID Connect Core §3.1.3.6 defines it for RS256, computed here rather than by
/// the crate: the left half of the access token's SHA-256, base64url without padding.
fn rs256_at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// The authorization response's parameter `name`.
fn param(location: &url::Url, name: &str) -> Option<String> {
    location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn the_openidconnect_crate_signs_a_user_in_verifies_tokens_refreshes_introspects_revokes_and_logs_out() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let http = Http::new(&app);
    let metadata = discover(&app, &realm, &http).await;
    let issuer = metadata.issuer().clone();
    assert_eq!(issuer.as_str(), format!("{}{}", app.address, realm.base()));
    assert!(metadata.additional_metadata().additional_metadata.authorization_response_iss_parameter_supported);
    assert!(!metadata.jwks().keys().is_empty(), "discovery fetched the realm's keys");
    let extra = metadata.additional_metadata().clone();
    let end_session = extra.end_session_endpoint.clone().expect("end_session_endpoint in discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("web".into()),
        Some(ClientSecret::new(realm.web_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT.into()).unwrap())
    .set_introspection_url(extra.additional_metadata.introspection_endpoint.clone())
    .set_revocation_url(RevocationUrl::new(http.behind_tls(extra.additional_metadata.revocation_endpoint.as_str())).unwrap());

    // The authorization request, built by the crate: PKCE S256, a random state and nonce.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert_eq!(param(&auth_url, "code_challenge_method").as_deref(), Some("S256"));

    // The user at the hosted pages: sign-in, then consent (a third-party client).
    let mut browser = Browser::new(&app);
    let login = browser.get(auth_url.as_str()).await;
    assert!(login.body.contains("id=\"login-form\""), "{}", login.body);
    let consent = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    let callback = back.location();
    assert_eq!(format!("{}{}", callback.origin().ascii_serialization(), callback.path()), WEB_REDIRECT);
    // The checks a relying party makes on the callback: state, and RFC 9207's iss.
    assert_eq!(param(&callback, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param(&callback, "iss").as_deref(), Some(issuer.as_str()));
    let code = AuthorizationCode::new(param(&callback, "code").expect("code"));

    // The code exchange (client_secret_basic) and the crate's ID token verification.
    let tokens = client
        .exchange_code(code.clone())
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
    assert_eq!(*tokens.token_type(), CoreTokenType::Bearer);
    let verifier = client.id_token_verifier();
    let id_token = tokens.id_token().expect("an ID token for openid");
    let claims = id_token.claims(&verifier, &nonce).unwrap_or_else(|e| panic!("ID token: {e:?}"));
    assert_eq!(claims.issuer(), &issuer);
    assert_eq!(claims.subject(), &SubjectIdentifier::new(realm.user_id.clone()));
    assert_eq!(claims.authorized_party().map(|p| p.as_str()), Some("web"));
    assert_eq!(claims.email().map(|e| e.as_str()), Some(EMAIL));
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert!(claims.auth_time().is_some(), "auth_time is always present");
    // The crate checks the nonce: another one is refused.
    assert!(id_token.claims(&verifier, &Nonce::new("another".into())).is_err(), "a wrong nonce was accepted");
    // at_hash, which the crate leaves to the caller.
    assert_eq!(id_token.signing_alg().unwrap(), &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
    let access = tokens.access_token().clone();
    let at_hash = claims.access_token_hash().expect("at_hash in the ID token");
    assert_eq!(at_hash, &AccessTokenHash::new(rs256_at_hash(access.secret())));
    assert_ne!(at_hash, &AccessTokenHash::new(rs256_at_hash("another token")));

    // The code is single use: the crate sees invalid_grant.
    let again = client.exchange_code(code).unwrap().request_async(&http).await;
    match again {
        Err(RequestTokenError::ServerResponse(e)) => assert_eq!(e.error().as_ref(), "invalid_grant"),
        other => panic!("a spent code was exchanged: {other:?}"),
    }

    // UserInfo through the crate, which checks that `sub` matches the ID token's.
    let info = client
        .user_info(access.clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&http)
        .await
        .unwrap_or_else(|e| panic!("UserInfo: {e:?}"));
    assert_eq!(info.email().map(|e| e.as_str()), Some(EMAIL));
    assert_eq!(info.given_name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice"));
    assert!(info.phone_number().is_none(), "phone was not granted");

    // Refresh: a new pair, the refreshed ID token verified (it carries no nonce), the old
    // refresh token spent.
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed =
        client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await.unwrap_or_else(|e| panic!("refresh: {e:?}"));
    let new_refresh = refreshed.refresh_token().expect("a rotated refresh token").clone();
    assert_ne!(new_refresh.secret(), refresh.secret());
    let new_id = refreshed.id_token().expect("an ID token on refresh");
    let no_nonce = |n: Option<&Nonce>| if n.is_none() { Ok(()) } else { Err("a nonce on refresh".to_string()) };
    let new_claims = new_id.claims(&verifier, no_nonce).unwrap_or_else(|e| panic!("refreshed ID token: {e:?}"));
    assert_eq!((new_claims.subject(), new_claims.auth_time()), (claims.subject(), claims.auth_time()));
    let new_access = refreshed.access_token().clone();
    assert_eq!(new_claims.access_token_hash(), Some(&AccessTokenHash::new(rs256_at_hash(new_access.secret()))));

    // Introspection: the live access token, then the spent refresh token.
    let seen = client.introspect(&new_access).request_async(&http).await.unwrap_or_else(|e| panic!("introspect: {e:?}"));
    assert!(seen.active());
    assert_eq!(seen.client_id().map(|c| c.as_str()), Some("web"));
    assert_eq!(seen.sub(), Some(realm.user_id.as_str()));
    assert_eq!(seen.iss(), Some(issuer.as_str()));
    assert_eq!(seen.token_type(), Some(&CoreTokenType::Bearer));
    let scopes: Vec<String> = seen.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(scopes, ["openid", "profile", "email"]);
    let spent = client
        .introspect(&AccessToken::new(refresh.secret().clone()))
        .set_token_type_hint("refresh_token")
        .request_async(&http)
        .await
        .unwrap();
    assert!(!spent.active(), "a rotated refresh token is no longer active");

    // Revocation of the access token: introspection and UserInfo stop accepting it.
    client
        .revoke_token(CoreRevocableToken::AccessToken(new_access.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("revoke: {e:?}"));
    assert!(!client.introspect(&new_access).request_async(&http).await.unwrap().active());
    let refused = client
        .user_info(new_access, None)
        .unwrap()
        .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&http)
        .await;
    assert!(refused.is_err(), "UserInfo accepted a revoked access token");
    // The refresh token was not revoked with it.
    assert!(client.introspect(&AccessToken::new(new_refresh.secret().clone())).request_async(&http).await.unwrap().active());

    // RP-initiated logout, the URL built by the crate from end_session_endpoint: the sign-in
    // ends with its refresh token, and the browser returns to the client with its state.
    let logout_state = CsrfToken::new_random();
    let logout_url = LogoutRequest::from(end_session)
        .set_id_token_hint(new_id)
        .set_client_id(ClientId::new("web".into()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new("https://app.example.com/bye".into()).unwrap())
        .set_state(logout_state.clone())
        .http_get_url();
    assert!(logout_url.as_str().starts_with(&app.url(&realm.endpoint("logout"))), "{logout_url}");
    let out = browser.get(logout_url.as_str()).await;
    assert_eq!(out.status, 303, "{}", out.body);
    let bye = out.location();
    assert_eq!(format!("{}{}", bye.origin().ascii_serialization(), bye.path()), "https://app.example.com/bye");
    assert_eq!(param(&bye, "state").as_deref(), Some(logout_state.secret().as_str()));
    assert!(!client.introspect(&AccessToken::new(new_refresh.secret().clone())).request_async(&http).await.unwrap().active());
    let (again, _, _) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(PkceCodeChallenge::new_random_sha256().0)
        .url();
    let page = browser.get(again.as_str()).await;
    assert!(page.body.contains("id=\"login-form\""), "still signed in after logout: {}", page.body);
}

#[tokio::test]
async fn the_openidconnect_crate_as_a_public_client_gets_tokens_through_sso_with_pkce_only() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let http = Http::new(&app);
    // The browser is signed in already (the web client's flow).
    let (_, _, mut browser) = web_code(&app, &realm, "openid").await;
    let spa_redirect = "http://127.0.0.1:43123/spa/callback";
    let metadata = discover(&app, &realm, &http).await;
    let issuer = metadata.issuer().clone();
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("spa".into()), None)
        .set_redirect_uri(RedirectUrl::new(spa_redirect.into()).unwrap());
    let authorize = || {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        (url, state, nonce, verifier)
    };
    // SSO and a first-party client: straight back, no page.
    let (auth_url, state, _, _) = authorize();
    let back = browser.get(auth_url.as_str()).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let callback = back.location();
    assert_eq!(param(&callback, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param(&callback, "iss").as_deref(), Some(issuer.as_str()));
    // Another verifier than the challenge's: the code is refused.
    let code = AuthorizationCode::new(param(&callback, "code").expect("code"));
    let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
    let wrong = client.exchange_code(code).unwrap().set_pkce_verifier(other_verifier).request_async(&http).await;
    match wrong {
        Err(RequestTokenError::ServerResponse(e)) => assert_eq!(e.error().as_ref(), "invalid_grant"),
        other => panic!("a code was exchanged with another verifier: {other:?}"),
    }
    // The right verifier, on a fresh code.
    let (auth_url, _, nonce, verifier) = authorize();
    let back = browser.get(auth_url.as_str()).await;
    let code = AuthorizationCode::new(back.sent_back("code").expect("code"));
    let tokens = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).unwrap_or_else(|e| panic!("ID token: {e:?}"));
    assert_eq!(claims.audiences().iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["spa"]);
    assert_eq!(claims.email().map(|e| e.as_str()), Some(EMAIL));
    assert_eq!(claims.access_token_hash(), Some(&AccessTokenHash::new(rs256_at_hash(tokens.access_token().secret()))));
    // A public client refreshes with its client_id alone.
    let refresh = tokens.refresh_token().expect("a refresh token");
    let refreshed = client.exchange_refresh_token(refresh).unwrap().request_async(&http).await;
    assert!(refreshed.is_ok(), "{refreshed:?}");
}

#[tokio::test]
async fn the_openidconnect_crate_runs_the_device_flow_polling_until_the_user_allows() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let http = Http::new(&app);
    let tv = "tv";
    let grants = json!(["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]);
    create_client(&app, &realm.slug, json!({"name": "TV", "kind": "public", "client_id": tv, "grant_types": grants})).await;
    let metadata = discover(&app, &realm, &http).await;
    let device_url = metadata.additional_metadata().additional_metadata.device_authorization_endpoint.clone();
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(tv.into()), None).set_device_authorization_url(device_url);
    let details: CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("device authorization: {e:?}"));
    assert_eq!(details.interval(), std::time::Duration::from_secs(5));
    let user_code = details.user_code().secret().clone();
    let complete = details.verification_uri_complete().expect("verification_uri_complete").secret().clone();

    // The crate polls (its sleeps move the server's clock on, with a moment of real time for the
    // user) while the user allows on another device.
    let clock = app.clock.clone();
    let sleep = move |d: std::time::Duration| {
        clock.advance(d.as_secs() as i64);
        tokio::time::sleep(std::time::Duration::from_millis(100))
    };
    let polling = async {
        client
            .exchange_device_access_token(&details)
            .unwrap()
            .request_async(&http, sleep, None)
            .await
            .unwrap_or_else(|e| panic!("device token: {e:?}"))
    };
    let approving = async {
        let mut phone = Browser::new(&app);
        let form = phone.get(&complete).await;
        assert_eq!(form.field("user_code").as_deref(), Some(user_code.as_str()));
        let csrf = form.field("csrf").unwrap();
        let login = phone.post(&format!("{}/device", realm.base()), &[("csrf", &csrf), ("user_code", &user_code)]).await;
        let consent = phone.sign_in(&realm, &login, EMAIL, PASSWORD).await;
        let done = phone.decide(&realm, &consent, "allow").await;
        assert!(done.body.contains("data-outcome=\"approved\""), "{}", done.body);
    };
    let (tokens, ()) = tokio::join!(polling, approving);
    let verifier = client.id_token_verifier();
    let id_token = tokens.id_token().expect("an ID token for openid");
    let claims = id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap_or_else(|e| panic!("ID token: {e:?}"));
    assert_eq!(claims.subject(), &SubjectIdentifier::new(realm.user_id.clone()));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert!(tokens.refresh_token().is_some());
}
