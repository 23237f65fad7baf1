// openid-client as the client of the OpenID Connect features beyond the code flow, one scenario
// per run ($SCENARIO). The user's part (the device page, sign-in, consent) is the harness's: this
// script asks for it on stdout, one line at a time, and reads the answer from stdin.
//   ADVANCE <seconds>   → "ok" once the server's clock has moved on
//   DEVICE <verification_uri_complete>
//   AUTHORIZE <url>     → "CALLBACK <url the browser was sent back to>"
//   REGISTER <jwk>      → "ok" once a client with this public key is registered
//   OK <what>           a check passed
// Scenarios: device, par, private_key_jwt, client_secret_jwt, jar, dpop, dcr.
import * as oidc from "openid-client";
import assert from "node:assert/strict";
import readline from "node:readline";

const ISSUER = process.env.ISSUER;
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (line) => process.stdout.write(`${line}\n`);
async function ask(line) {
  say(line);
  const { value, done } = await lines.next();
  assert.ok(!done, `no answer to ${line}`);
  return value;
}
const insecure = { execute: [oidc.allowInsecureRequests] };

async function deviceFlow() {
  const tv = await oidc.discovery(new URL(ISSUER), process.env.CLIENT_ID, undefined, oidc.None(), insecure);
  const server = tv.serverMetadata();
  assert.ok(server.grant_types_supported.includes("urn:ietf:params:oauth:grant-type:device_code"));
  // Each poll first moves the server's clock on by the interval the library waited.
  let interval = 5;
  tv[oidc.customFetch] = async (url, options) => {
    if (String(url) === server.token_endpoint) assert.equal(await ask(`ADVANCE ${interval}`), "ok");
    return fetch(url, options);
  };
  const dar = await oidc.initiateDeviceAuthorization(tv, { scope: "openid profile offline_access" });
  assert.match(dar.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  assert.equal(dar.verification_uri, `${ISSUER}/device`);
  assert.equal(dar.expires_in, 600);
  interval = dar.interval;
  say(`DEVICE ${dar.verification_uri_complete}`);
  const tokens = await oidc.pollDeviceAuthorizationGrant(tv, dar);
  const claims = tokens.claims();
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, process.env.CLIENT_ID);
  assert.equal(claims.preferred_username, "alice");
  assert.ok(tokens.refresh_token, "a refresh token for offline_access");
  const refreshed = await oidc.refreshTokenGrant(tv, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, claims.sub);
  say(`OK device ${claims.sub}`);
}

async function pushedRequest() {
  const web = await oidc.discovery(
    new URL(ISSUER),
    process.env.CLIENT_ID,
    undefined,
    oidc.ClientSecretBasic(process.env.CLIENT_SECRET),
    insecure,
  );
  assert.equal(web.serverMetadata().pushed_authorization_request_endpoint, `${ISSUER}/protocol/openid-connect/ext/par/request`);
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = await oidc.buildAuthorizationUrlWithPAR(web, {
    redirect_uri: process.env.REDIRECT_URI,
    scope: "openid email",
    code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    state: checks.expectedState,
    nonce: checks.expectedNonce,
  });
  assert.deepEqual([...url.searchParams.keys()].sort(), ["client_id", "request_uri"]);
  const answer = await ask(`AUTHORIZE ${url.href}`);
  assert.ok(answer.startsWith("CALLBACK "), answer);
  const tokens = await oidc.authorizationCodeGrant(web, new URL(answer.slice(9)), checks);
  assert.equal(tokens.claims().email, "alice@example.com");
  say(`OK par ${tokens.claims().sub}`);
}

/// A new ES256 key pair whose public JWK the harness registers a client with.
async function registeredKey() {
  const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const jwk = { ...(await crypto.subtle.exportKey("jwk", publicKey)), kid: "node-es256", alg: "ES256", use: "sig" };
  delete jwk.key_ops;
  delete jwk.ext;
  assert.equal(await ask(`REGISTER ${JSON.stringify(jwk)}`), "ok");
  return privateKey;
}

async function signedRequestObject() {
  const privateKey = await registeredKey();
  const key = { key: privateKey, kid: "node-es256" };
  const web = await oidc.discovery(new URL(ISSUER), process.env.CLIENT_ID, undefined, oidc.PrivateKeyJwt(key), insecure);
  assert.equal(web.serverMetadata().request_parameter_supported, true);
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = await oidc.buildAuthorizationUrlWithJAR(
    web,
    {
      redirect_uri: process.env.REDIRECT_URI,
      scope: "openid profile",
      code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: "S256",
      state: checks.expectedState,
      nonce: checks.expectedNonce,
    },
    key,
  );
  assert.ok(url.searchParams.get("request"), "the parameters travel signed");
  const answer = await ask(`AUTHORIZE ${url.href}`);
  const tokens = await oidc.authorizationCodeGrant(web, new URL(answer.slice(9)), checks);
  assert.equal(tokens.claims().preferred_username, "alice");
  say(`OK jar ${tokens.claims().sub}`);
}

async function privateKeyJwt() {
  const privateKey = await registeredKey();
  const svc = await oidc.discovery(
    new URL(ISSUER),
    process.env.CLIENT_ID,
    undefined,
    oidc.PrivateKeyJwt({ key: privateKey, kid: "node-es256" }),
    insecure,
  );
  assert.ok(svc.serverMetadata().token_endpoint_auth_methods_supported.includes("private_key_jwt"));
  const tokens = await oidc.clientCredentialsGrant(svc, { scope: "profile" });
  assert.equal(tokens.token_type.toLowerCase(), "bearer");
  const again = await oidc.clientCredentialsGrant(svc, { scope: "profile" });
  assert.notEqual(again.access_token, tokens.access_token);
  const introspected = await oidc.tokenIntrospection(svc, tokens.access_token);
  assert.equal(introspected.active, true);
  assert.equal(introspected.client_id, process.env.CLIENT_ID);
  await oidc.tokenRevocation(svc, tokens.access_token);
  assert.equal((await oidc.tokenIntrospection(svc, tokens.access_token)).active, false);
  say(`OK private_key_jwt ${introspected.client_id}`);
}

async function clientSecretJwt() {
  const svc = await oidc.discovery(
    new URL(ISSUER),
    process.env.CLIENT_ID,
    undefined,
    oidc.ClientSecretJwt(process.env.CLIENT_SECRET),
    insecure,
  );
  assert.ok(svc.serverMetadata().token_endpoint_auth_methods_supported.includes("client_secret_jwt"));
  const tokens = await oidc.clientCredentialsGrant(svc, { scope: "profile" });
  const introspected = await oidc.tokenIntrospection(svc, tokens.access_token);
  assert.equal(introspected.active, true);
  await oidc.tokenRevocation(svc, tokens.access_token);
  assert.equal((await oidc.tokenIntrospection(svc, tokens.access_token)).active, false);
  say(`OK client_secret_jwt ${introspected.client_id}`);
}

async function dpop() {
  const spa = await oidc.discovery(new URL(ISSUER), process.env.CLIENT_ID, undefined, oidc.None(), insecure);
  assert.ok(spa.serverMetadata().dpop_signing_alg_values_supported.includes("ES256"));
  const DPoP = oidc.getDPoPHandle(spa, await oidc.randomDPoPKeyPair("ES256"));
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier, expectedState: oidc.randomState() };
  const url = oidc.buildAuthorizationUrl(spa, {
    redirect_uri: process.env.REDIRECT_URI,
    scope: "openid profile",
    code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    state: checks.expectedState,
  });
  const answer = await ask(`AUTHORIZE ${url.href}`);
  // The library learns the server's nonce from its use_dpop_nonce answer and tries again.
  const tokens = await oidc.authorizationCodeGrant(spa, new URL(answer.slice(9)), checks, undefined, { DPoP });
  assert.equal(tokens.token_type.toLowerCase(), "dpop");
  const sub = tokens.claims().sub;
  const info = await oidc.fetchUserInfo(spa, tokens.access_token, sub, { DPoP });
  assert.equal(info.preferred_username, "alice");
  const refreshed = await oidc.refreshTokenGrant(spa, tokens.refresh_token, undefined, { DPoP });
  assert.equal(refreshed.token_type.toLowerCase(), "dpop");
  // Another key cannot use the bound refresh token.
  const thief = oidc.getDPoPHandle(spa, await oidc.randomDPoPKeyPair("ES256"));
  await assert.rejects(oidc.refreshTokenGrant(spa, refreshed.refresh_token, undefined, { DPoP: thief }), (e) => e.error === "invalid_grant");
  const again = await oidc.refreshTokenGrant(spa, refreshed.refresh_token, undefined, { DPoP });
  assert.equal((await oidc.fetchUserInfo(spa, again.access_token, sub, { DPoP })).sub, sub);
  say(`OK dpop ${sub}`);
}

// An MCP-style client: registers itself (RFC 7591) with the initial access token it was given,
// then signs the user in with the code flow and PKCE, refreshes, and reads its registration back.
async function registration() {
  const mcp = await oidc.dynamicClientRegistration(
    new URL(ISSUER),
    {
      client_name: "MCP-style client",
      redirect_uris: [process.env.REDIRECT_URI],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: "openid profile offline_access",
    },
    undefined,
    { initialAccessToken: process.env.INITIAL_ACCESS_TOKEN, ...insecure },
  );
  const registered = mcp.clientMetadata();
  assert.match(registered.client_id, /^dyn-/);
  assert.equal(registered.client_secret, undefined);
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier, expectedState: oidc.randomState() };
  const url = oidc.buildAuthorizationUrl(mcp, {
    redirect_uri: process.env.REDIRECT_URI,
    scope: "openid profile offline_access",
    code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    state: checks.expectedState,
  });
  const answer = await ask(`AUTHORIZE ${url.href}`);
  const tokens = await oidc.authorizationCodeGrant(mcp, new URL(answer.slice(9)), checks);
  assert.equal(tokens.claims().aud, registered.client_id);
  const refreshed = await oidc.refreshTokenGrant(mcp, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, tokens.claims().sub);
  const read = await fetch(registered.registration_client_uri, {
    headers: { authorization: `Bearer ${registered.registration_access_token}` },
  });
  assert.equal(read.status, 200);
  assert.equal((await read.json()).client_id, registered.client_id);
  say(`OK dcr ${tokens.claims().sub}`);
}

const scenarios = {
  device: deviceFlow,
  par: pushedRequest,
  private_key_jwt: privateKeyJwt,
  client_secret_jwt: clientSecretJwt,
  jar: signedRequestObject,
  dpop,
  dcr: registration,
};
await scenarios[process.env.SCENARIO]();
say("DONE");
process.exit(0);
