// Passkeys in a real browser: Chromium's virtual authenticator (DevTools Protocol, internal
// transport, resident keys, user verification) answers the account page and the sign-in pages.
// A passkey is added on the account page, signs in without an identifier (the button, then the
// identifier field's autofill), answers the second step after a password, a recovery code stands
// in for it, a removed passkey and an authenticator that cannot verify the user are refused.
// Screenshots at 1280 and 390 px go to $ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const BASE = process.env.REALM_URL; // http://localhost:PORT/realms/acme
const PASSWORD = process.env.PASSWORD;
const ARTIFACTS = process.env.ARTIFACTS;
const ACCOUNT = `${BASE}/account`;
const step = (s) => console.log(`ok - ${s}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox", "--disable-background-networking"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable", { enableUI: false });
const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: {
    protocol: "ctap2",
    ctap2Version: "ctap2_1",
    transport: "internal",
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  },
});

async function shots(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `passkeys-${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(ARTIFACTS, `passkeys-${name}-390.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function signInWithPassword() {
  await page.goto(ACCOUNT);
  await page.fill("#identifier", "alice@example.com");
  await page.fill("#password", PASSWORD);
  await page.click("#submit");
}

async function signOut() {
  await context.clearCookies();
}

// The virtual authenticator picks a conditional (autofill) request's credential by itself, at
// once, where a person would choose it from the field's list. Steps that sign in another way keep
// the page's conditional requests from starting: their options requests fail, as a network
// failure would, and the page goes on without them. `button`: the page's button is clicked after
// the first page's conditional request, and its own options request (the second) goes through.
async function withoutAutofill(button) {
  let n = 0;
  await page.unroute("**/login/passkey/options");
  await page.route("**/login/passkey/options", (route) => {
    n += 1;
    return button && n === 2 ? route.continue() : route.abort();
  });
}

// 1. Signed in with the password, the account page adds a passkey.
await signInWithPassword();
await page.waitForSelector("#register-form");
assert.equal(await page.textContent("#account-user"), "alice");
await shots("account-empty");
await page.fill("#credential-name", "Laptop");
await Promise.all([page.waitForURL(ACCOUNT), page.click("#add-passkey")]);
await page.waitForSelector('#credentials li[data-kind="passkey"]');
assert.match(await page.textContent("#credentials"), /Laptop/);
const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
assert.equal(credentials.length, 1);
assert.equal(credentials[0].isResidentCredential, true, "a passkey is discoverable");
step("account page: a passkey added, discoverable, listed by name");
await page.click("#new-recovery-codes");
await page.waitForSelector("#recovery-codes");
const codes = await page.$$eval("#recovery-codes code", (els) => els.map((e) => e.textContent));
assert.equal(codes.length, 10);
step("account page: ten recovery codes shown once");
await page.goto(ACCOUNT);
await shots("account");

// 2. Conditional UI: signed out, the identifier field's autofill offers the passkey, and the
// virtual authenticator takes it: signed in with nothing typed or clicked.
await signOut();
// No script runs on the page here: the autofill's sign-in navigates away at once.
await page.goto(ACCOUNT);
await page.waitForSelector("#register-form");
assert.equal(await page.textContent("#account-user"), "alice");
step("sign-in page: conditional UI (the identifier's autofill) signs in with the passkey");

// 3. The button: no identifier typed either.
await signOut();
await withoutAutofill(true);
await page.goto(ACCOUNT);
await page.waitForSelector("#login-form");
assert.equal(await page.getAttribute("#identifier", "autocomplete"), "username webauthn");
assert.equal(await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable()), true);
await page.waitForSelector("#passkey-button:not([hidden])");
await shots("sign-in");
await Promise.all([page.waitForSelector("#register-form"), page.click("#passkey-button")]);
assert.equal(await page.textContent("#account-user"), "alice");
step("sign-in page: the passkey button signs in with no identifier typed");

// 4. The password now leads to the second step, where the same authenticator answers.
await signOut();
await withoutAutofill(false);
await signInWithPassword();
await page.waitForSelector("#key-form");
assert.equal(await page.$("#totp-form"), null, "alice has no TOTP");
await shots("second-factor");
await Promise.all([page.waitForURL(ACCOUNT), page.click("#key-button")]);
await page.waitForSelector("#register-form");
step("second step: the password, then the key");

// 5. A recovery code stands in for the key.
await signOut();
await signInWithPassword();
await page.waitForSelector("#recovery");
await page.click("#recovery summary");
await page.fill("#recovery-code", codes[0]);
await Promise.all([page.waitForURL(ACCOUNT), page.click("#recovery-submit")]);
await page.waitForSelector("#register-form");
assert.equal(await page.getAttribute("#recovery-left", "data-left"), "9");
step("second step: a recovery code, once (nine left)");

// 6. User verification that fails is refused: the browser gets no answer it can send.
await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
await signOut();
await withoutAutofill(true);
await page.goto(ACCOUNT);
await page.waitForSelector("#passkey-button:not([hidden])");
const asked = page.waitForRequest("**/login/passkey/options");
await page.click("#passkey-button");
await asked;
await page.waitForSelector("#error:not([hidden])");
assert.ok(await page.$("#login-form"), "still on the sign-in page");
assert.ok(!(await context.cookies()).some((c) => c.name === "castellan_sso"), "not signed in");
await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: true });
step("sign-in page: an authenticator that cannot verify the user signs no one in");

// 7. A removed passkey is refused, though the authenticator still holds it.
await signOut();
await withoutAutofill(false);
await signInWithPassword();
await page.waitForSelector("#recovery");
await page.click("#recovery summary");
await page.fill("#recovery-code", codes[1]);
await Promise.all([page.waitForURL(ACCOUNT), page.click("#recovery-submit")]);
await page.waitForSelector('#credentials li[data-kind="passkey"]');
await Promise.all([page.waitForURL(ACCOUNT), page.click('#credentials li[data-kind="passkey"] .delete-form button')]);
await page.waitForSelector("#no-credentials");
await signOut();
await withoutAutofill(true);
await page.goto(ACCOUNT);
await page.waitForSelector("#passkey-button:not([hidden])");
await Promise.all([page.waitForURL(`${BASE}/login/passkey`), page.click("#passkey-button")]);
await page.waitForSelector("#error");
assert.match(await page.textContent("#error"), /not accepted|did not finish/);
assert.ok(!(await context.cookies()).some((c) => c.name === "castellan_sso"), "not signed in");
await shots("refused");
step("sign-in page: a removed passkey is refused");

await browser.close();
console.log("passkeys.mjs: all steps passed");
