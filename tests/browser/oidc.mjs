// The OpenID Connect pages in a real browser, with openid-client as the relying party: discovery,
// authorization URLs (PKCE, state, nonce), callback validation (iss included), code exchange, ID
// token validation, UserInfo, refresh, introspection, revocation and end-session URLs. Chromium
// signs in with a password and with TOTP, allows and denies consent, rides SSO, asks with
// prompt=none, signs out with and without an ID token hint, returns by form_post, and signs in
// with JavaScript off. Screenshots at 390 px go to $ARTIFACTS.
import { chromium } from "playwright-core";
import * as oidc from "openid-client";
import assert from "node:assert/strict";
import path from "node:path";

const ISSUER = process.env.ISSUER;
const RP = process.env.RP_URL;
const PASSWORD = process.env.PASSWORD;
const ARTIFACTS = process.env.ARTIFACTS;
const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const audience = (claims) => [].concat(claims.aud);
const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const step = (s) => console.log(`ok - ${s}`);

// --- the relying parties: discovery is strict about the issuer; the test server is plain HTTP
const discover = (clientId, auth) =>
  oidc.discovery(new URL(ISSUER), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
const web = await discover("rp-web", oidc.ClientSecretBasic(process.env.WEB_SECRET));
const spa = await discover("rp-spa", oidc.None());
const partner = await discover("rp-partner", oidc.ClientSecretBasic(process.env.PARTNER_SECRET));
const server = web.serverMetadata();
assert.equal(server.issuer, ISSUER);
assert.equal(server.authorization_response_iss_parameter_supported, true);
assert.deepEqual(server.code_challenge_methods_supported, ["S256"]);
step("discovery: three relying parties configured from the realm's metadata");

/// An authorization request: its URL and the checks its callback must pass.
async function authorization(config, redirectUri, extra = {}) {
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid profile email",
    code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url: url.href, checks };
}

/// The callback the browser landed on, validated and exchanged by openid-client.
const exchange = (config, landed, checks) => oidc.authorizationCodeGrant(config, new URL(landed), checks);

/// openid-client refused: its error, or the cause it wraps, names `why`.
const refused = (promise, why) =>
  assert.rejects(promise, (e) => why.test(`${e.message} ${e.cause?.message ?? ""}`) || assert.fail(`${e} (${e.cause})`));

/// The error an authorization response carries, as openid-client reports it.
async function responseError(config, landed, checks) {
  try {
    await exchange(config, landed, checks);
  } catch (e) {
    assert.ok(e instanceof oidc.AuthorizationResponseError, `${e}`);
    return e.error;
  }
  assert.fail("the authorization response carried no error");
}

async function signIn(page, email) {
  await page.waitForSelector("#login-form");
  await page.fill("#identifier", email);
  await page.fill("#password", PASSWORD);
  await page.click("#submit");
}

const isActive = async (config, token) => (await oidc.tokenIntrospection(config, token)).active;
const totpCode = async () => (await (await fetch(`${RP}/control?secret=${process.env.TOTP_SECRET}`)).text()).trim();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 } }); // a phone
const page = await context.newPage();

try {
  // --- sign-in with a password, for a first-party confidential client
  let flow = await authorization(web, `${RP}/callback`);
  await page.goto(flow.url);
  await page.waitForSelector("#login-form");
  assert.equal(await page.textContent("#client-name"), "Acme Web");
  await shot(page, "oidc-sign-in");
  await signIn(page, ALICE);
  await page.waitForURL(`${RP}/callback?**`);
  // The callback is checked before any exchange: another issuer, or none, is refused.
  const forged = new URL(page.url());
  forged.searchParams.set("iss", "http://evil.example/realms/acme");
  await refused(exchange(web, forged, flow.checks), /"iss"/);
  forged.searchParams.delete("iss");
  await refused(exchange(web, forged, flow.checks), /"iss"/);
  await refused(exchange(web, page.url(), { ...flow.checks, expectedState: oidc.randomState() }), /"state"/);
  let tokens = await exchange(web, page.url(), flow.checks);
  let claims = tokens.claims();
  assert.equal(claims.iss, ISSUER);
  assert.deepEqual(audience(claims), ["rp-web"]);
  assert.equal(claims.nonce, flow.checks.expectedNonce);
  assert.equal(claims.email, ALICE);
  assert.equal(claims.acr, "1");
  assert.deepEqual(claims.amr, ["pwd"]);
  const aliceSid = claims.sid;
  step("password: signed in; the callback's iss and state checked; ID token validated with its nonce");

  // --- UserInfo, refresh, introspection, revocation
  const info = await oidc.fetchUserInfo(web, tokens.access_token, claims.sub);
  assert.equal(info.email, ALICE);
  assert.equal(info.given_name, "Alice");
  await refused(oidc.fetchUserInfo(web, tokens.access_token, "someone-else"), /"sub"/);
  const refreshed = await oidc.refreshTokenGrant(web, tokens.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, claims.sub);
  const seen = await oidc.tokenIntrospection(web, refreshed.access_token);
  assert.equal(seen.active, true);
  assert.equal(seen.client_id, "rp-web");
  assert.equal(seen.sub, claims.sub);
  assert.equal(seen.iss, ISSUER);
  assert.equal(await isActive(web, tokens.refresh_token), false, "a rotated refresh token stays spent");
  await oidc.tokenRevocation(web, refreshed.access_token);
  assert.equal(await isActive(web, refreshed.access_token), false);
  await refused(oidc.fetchUserInfo(web, refreshed.access_token, claims.sub), /invalid_token|WWW-Authenticate/i);
  const aliceRefresh = refreshed.refresh_token;
  assert.equal(await isActive(web, aliceRefresh), true);
  step("UserInfo, refresh rotation, introspection and revocation through openid-client");

  // --- SSO: a second client (public, first party) gets a code without any page
  flow = await authorization(spa, `${RP}/spa/callback`);
  let response = await page.goto(flow.url);
  assert.equal(new URL(page.url()).pathname, "/spa/callback", "a page stopped the SSO sign-in");
  const first = response.request().redirectedFrom();
  assert.ok(first && first.url().startsWith(server.authorization_endpoint) && !first.redirectedFrom(), "one redirect, no page");
  tokens = await exchange(spa, page.url(), flow.checks);
  assert.deepEqual(audience(tokens.claims()), ["rp-spa"]);
  assert.equal(tokens.claims().sid, aliceSid, "the same sign-in");
  step("SSO: the public client was answered without the sign-in page");

  // --- prompt=none while signed in: a code
  flow = await authorization(web, `${RP}/callback`, { prompt: "none" });
  await page.goto(flow.url);
  await page.waitForURL(`${RP}/callback?**`);
  assert.equal((await exchange(web, page.url(), flow.checks)).claims().sid, aliceSid);
  step("prompt=none while signed in: a code");

  // --- response_mode=form_post: the page posts the answer to the relying party
  flow = await authorization(web, `${RP}/callback`, { response_mode: "form_post" });
  await page.goto(flow.url);
  await page.waitForURL(`${RP}/callback`);
  await page.waitForSelector("#posted");
  assert.equal(new URL(page.url()).search, "", "the code travelled in the body, not the URL");
  let posted = await page.textContent("#posted");
  let request = new Request(`${RP}/callback`, {
    method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: posted,
  });
  assert.equal((await oidc.authorizationCodeGrant(web, request, flow.checks)).claims().sub, claims.sub);
  step("form_post: the auto-submitting page posted code, state and iss to the relying party");

  // --- consent for a third-party client: Deny, then Allow
  flow = await authorization(partner, `${RP}/partner/callback`);
  await page.goto(flow.url);
  await page.waitForSelector("#consent-form");
  assert.equal(await page.textContent("#client-name"), "Partner Portal");
  assert.deepEqual(await page.locator("#scopes li").evaluateAll((l) => l.map((e) => e.dataset.scope)), ["openid", "profile", "email"]);
  await shot(page, "oidc-consent");
  await page.click("#deny");
  await page.waitForURL(`${RP}/partner/callback?**`);
  assert.equal(await responseError(partner, page.url(), flow.checks), "access_denied");
  flow = await authorization(partner, `${RP}/partner/callback`);
  await page.goto(flow.url);
  await page.waitForSelector("#consent-form");
  await page.click("#allow");
  await page.waitForURL(`${RP}/partner/callback?**`);
  tokens = await exchange(partner, page.url(), flow.checks);
  assert.deepEqual(audience(tokens.claims()), ["rp-partner"]);
  step("consent: Deny brought access_denied to the relying party, Allow a code");

  // --- sign-out without an ID token hint: the confirmation page first
  let logoutState = oidc.randomState();
  await page.goto(oidc.buildEndSessionUrl(web, { post_logout_redirect_uri: `${RP}/bye`, state: logoutState }).href);
  await page.waitForSelector("#logout-form");
  await shot(page, "oidc-logout");
  await page.click("#sign-out");
  await page.waitForURL(`${RP}/bye?**`);
  assert.equal(new URL(page.url()).searchParams.get("state"), logoutState);
  assert.equal(await isActive(web, aliceRefresh), false, "the sign-in's refresh token ended with it");
  step("sign-out without a hint: confirmed on the page, back at the relying party with its state");

  // --- prompt=none while signed out: login_required reaches the relying party
  flow = await authorization(web, `${RP}/callback`, { prompt: "none" });
  await page.goto(flow.url);
  await page.waitForURL(`${RP}/callback?**`);
  assert.equal(await responseError(web, page.url(), flow.checks), "login_required");
  step("prompt=none while signed out: login_required");

  // --- sign-in with TOTP
  flow = await authorization(web, `${RP}/callback`);
  await page.goto(flow.url);
  await signIn(page, BOB);
  await page.waitForSelector("#totp-form");
  await shot(page, "oidc-totp");
  const right = await totpCode();
  await page.fill("#code", right === "000000" ? "111111" : "000000");
  await page.click("#submit");
  await page.waitForSelector("#error");
  await page.waitForSelector("#totp-form");
  await page.fill("#code", right);
  await page.click("#submit");
  await page.waitForURL(`${RP}/callback?**`);
  tokens = await exchange(web, page.url(), flow.checks);
  claims = tokens.claims();
  assert.equal(claims.email, BOB);
  assert.equal(claims.acr, "2");
  assert.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
  step("TOTP: a wrong code shown as an error, the right one signed in (acr 2)");

  // --- sign-out with an ID token hint: straight back to the relying party
  logoutState = oidc.randomState();
  await page.goto(oidc.buildEndSessionUrl(web, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: `${RP}/bye`, state: logoutState,
  }).href);
  await page.waitForURL(`${RP}/bye?**`);
  assert.equal(new URL(page.url()).searchParams.get("state"), logoutState);
  assert.equal(await isActive(web, tokens.refresh_token), false);
  flow = await authorization(web, `${RP}/callback`, { prompt: "none" });
  await page.goto(flow.url);
  await page.waitForURL(`${RP}/callback?**`);
  assert.equal(await responseError(web, page.url(), flow.checks), "login_required");
  step("sign-out with a hint: no page, back at the relying party, signed out");

  // --- JavaScript off: the sign-in page and form_post's button still work
  const plain = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
  const noScript = await plain.newPage();
  try {
    flow = await authorization(web, `${RP}/callback`);
    await noScript.goto(flow.url);
    await signIn(noScript, ALICE);
    await noScript.waitForURL(`${RP}/callback?**`);
    assert.equal((await exchange(web, noScript.url(), flow.checks)).claims().email, ALICE);
    flow = await authorization(web, `${RP}/callback`, { response_mode: "form_post" });
    await noScript.goto(flow.url);
    await noScript.waitForSelector("#form-post #continue");
    await noScript.click("#continue");
    await noScript.waitForSelector("#posted");
    posted = await noScript.textContent("#posted");
    request = new Request(`${RP}/callback`, {
      method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: posted,
    });
    assert.equal((await oidc.authorizationCodeGrant(web, request, flow.checks)).claims().email, ALICE);
  } finally {
    await plain.close();
  }
  step("JavaScript off: signed in by the plain form, form_post by its button");
} catch (e) {
  await shot(page, "oidc-failure").catch(() => {});
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
