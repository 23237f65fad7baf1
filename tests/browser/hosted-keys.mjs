// The hosted 2FA page with security keys, in a real browser: Chromium's virtual authenticator
// (DevTools Protocol) answers. A business turns the option on in the console; after a right code
// the page offers a first key and adds it; next time the key alone verifies, and the user lands on
// the portal with the session token. Screenshots at 390 and 1280 px go to $ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";
import { newestMessage } from "./outbox.mjs";

const BASE = process.env.CASTELLAN_URL;
const PORTAL = process.env.PORTAL_URL;
const CALLBACK = process.env.CALLBACK_URL;
const ARTIFACTS = process.env.ARTIFACTS;
const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const USER = "keys@example.com";
const step = (s) => console.log(`ok - ${s}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox", "--disable-background-networking"],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable", { enableUI: false });
const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: {
    protocol: "ctap2", ctap2Version: "ctap2_1", transport: "internal",
    hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
  },
});

async function shots(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `hosted-keys-${name}-390.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: path.join(ARTIFACTS, `hosted-keys-${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
}

const json = async (url, body, bearer, key) => {
  const headers = { "Content-Type": "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (key) headers["X-API-Key"] = key;
  const r = await fetch(url, { method: body === undefined ? "GET" : "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return [r.status, await r.json()];
};

try {
  // --- the business: a console account, an application with keys on the hosted page
  const owner = `owner-${Date.now()}@example.com`;
  let [s, b] = await json(`${BASE}/console/api/register`, { email: owner, password: "console-pass-123" });
  assert.equal(s, 202, JSON.stringify(b));
  const token = (await newestMessage(BASE, owner)).body.match(/token=(\S+)/)[1];
  [s, b] = await json(`${BASE}/console/api/verify-email`, { token });
  assert.equal(s, 200, JSON.stringify(b));
  [s, b] = await json(`${BASE}/console/api/sign-in`, { email: owner, password: "console-pass-123" });
  const bearer = b.token;
  [s, b] = await json(`${BASE}/console/api/applications`, {
    name: "Demo Portal", allowed_ips: ["127.0.0.1", "::1"], callback_url: CALLBACK,
    redirect_uris: [`${PORTAL}/landing`], webauthn: true,
  }, bearer);
  assert.equal(s, 201, JSON.stringify(b));
  assert.equal(b.application.webauthn, true);
  const apiKey = b.api_key, clientId = b.application.client_id;
  [s, b] = await json(`${BASE}/authen-api/api/v1/mfa/toggle`, { email: USER, client_id: clientId, secret: SECRET, action: "ENABLE", type: "TOTP" }, null, apiKey);
  assert.equal(s, 200, JSON.stringify(b));
  const sessionToken = async () => {
    const [s, b] = await json(`${BASE}/authen-api/api/v1/session-token`, { email: USER, client_id: clientId }, null, apiKey);
    assert.equal(s, 200, JSON.stringify(b));
    return b.data.session_token;
  };
  const start = (t, state) =>
    `${BASE}/start-authentication?signin_method=redirect&session_token=${t}&redirect_uri=${encodeURIComponent(`${PORTAL}/landing`)}&state=${state}`;
  step("an application with keys on the hosted page, and a user with TOTP");

  // --- a right code, then the offered first key
  let t = await sessionToken();
  await page.goto(start(t, "st-1"));
  assert.equal(await page.locator("#key-form").count(), 0, "no key yet: no key button");
  await page.fill("#code", (await (await fetch(`${PORTAL}/control?secret=${SECRET}`)).text()).trim());
  await page.click("#verify");
  await page.waitForSelector("#add-security-key");
  await shots("offer");
  await page.click("#add-security-key");
  await page.waitForSelector("#added");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  await Promise.all([page.waitForURL(`${PORTAL}/landing?**`), page.click("#continue")]);
  let landed = new URL(page.url());
  assert.equal(landed.searchParams.get("session_token"), t);
  assert.equal(landed.searchParams.get("state"), "st-1");
  step("a right code, a first key added, then on to the portal");

  // --- next time: the key alone
  t = await sessionToken();
  await page.goto(start(t, "st-2"));
  await page.waitForSelector("#key-button");
  await shots("key");
  await Promise.all([page.waitForURL(`${PORTAL}/landing?**`), page.click("#key-button")]);
  landed = new URL(page.url());
  assert.equal(landed.searchParams.get("session_token"), t);
  assert.equal(landed.searchParams.get("state"), "st-2");
  step("the key verified in the code's place");

  // --- an authenticator that cannot verify the user: the browser refuses at once (user
  // verification is required), the page says so and stays
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
  t = await sessionToken();
  await page.goto(start(t, "st-3"));
  await page.click("#key-button");
  await page.waitForSelector("#error");
  assert.match(await page.textContent("#error"), /did not answer/);
  assert.ok(!page.url().startsWith(PORTAL));
  step("no user verification: refused, and the page stays");
} finally {
  await browser.close();
}
