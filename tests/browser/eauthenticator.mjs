// The eauthenticator flows in a real browser: a business signs up in the console, creates an
// application and copies its API key; its backend enables TOTP for a user and asks for a session
// token; the user finishes 2FA on the hosted page (redirect and popup), rejects, times out, and
// meets a wrong redirect URI and a framing attacker. Screenshots go to $ARTIFACTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";
import { newestMessage } from "./outbox.mjs";

const BASE = process.env.CASTELLAN_URL;
const PORTAL = process.env.PORTAL_URL;
const ATTACKER = process.env.ATTACKER_URL;
const CALLBACK = process.env.CALLBACK_URL;
const ARTIFACTS = process.env.ARTIFACTS;
const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const step = (s) => console.log(`ok - ${s}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 } }); // a phone
const page = await context.newPage();

try {
  // --- the console: register, confirm, sign in, create an application, copy the key
  const email = `owner-${Date.now()}@example.com`;
  await page.goto(`${BASE}/console/register`);
  await page.fill("#email", email);
  await page.fill("#password", "console-pass-123");
  await page.click("#submit");
  await page.waitForSelector("#registered");
  const link = (await newestMessage(BASE, email)).body.match(/https?:\/\/\S+verify-email\?token=\S+/)[0];
  await page.goto(link);
  await page.click("button[type=submit]");
  await page.goto(`${BASE}/console/sign-in`);
  await page.fill("#email", email);
  await page.fill("#password", "console-pass-123");
  await page.click("#submit");
  await page.waitForURL(`${BASE}/console/apps`);
  step("signed up and signed in");
  await page.click("#create");
  await page.fill("#name", "Demo Portal");
  await page.fill("#allowed_ips", "127.0.0.1\n::1");
  await page.fill("#callback_url", CALLBACK);
  await page.fill("#redirect_uris", `${PORTAL}/landing`);
  await page.click("#submit");
  const apiKey = (await page.textContent("#api-key")).trim();
  const clientId = (await page.textContent("#client-id")).trim();
  await page.click("button[data-copy=api-key]");
  await page.waitForFunction(() => document.querySelector("button[data-copy=api-key]").textContent === "Copied");
  await shot(page, "console-application-created");
  await page.click("#continue");
  assert.ok((await page.textContent("#key-prefix")).length < apiKey.length, "only the prefix is shown again");
  await shot(page, "console-application");
  step("created an application and copied its API key");

  // --- the business backend
  const api = async (p, body) => {
    const r = await fetch(`${BASE}/authen-api/api/v1${p}`, {
      method: "POST", headers: { "X-API-Key": apiKey, "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    return [r.status, await r.json()];
  };
  const enable = async (user) => {
    const [s, b] = await api("/mfa/toggle", { email: user, client_id: clientId, secret: SECRET, action: "ENABLE", type: "TOTP", algorithm: "SHA1", digits: 6, period: 30 });
    assert.equal(s, 200, JSON.stringify(b));
  };
  const sessionToken = async (user) => {
    const [s, b] = await api("/session-token", { email: user, client_id: clientId });
    assert.equal(s, 200, JSON.stringify(b));
    return b.data.session_token;
  };
  const code = async () => (await (await fetch(`${PORTAL}/control?secret=${SECRET}`)).text()).trim();
  const start = (method, token, redirect, state) =>
    `${BASE}/start-authentication?signin_method=${method}&session_token=${token}&redirect_uri=${encodeURIComponent(redirect)}` +
    (state ? `&state=${encodeURIComponent(state)}` : "");
  for (const u of ["redirect@example.com", "popup@example.com", "attacked@example.com", "reject@example.com", "late@example.com"]) await enable(u);
  step("enabled TOTP for the users through the API");

  // --- redirect: a right code lands on the redirect URI with session_token and state
  let token = await sessionToken("redirect@example.com");
  await page.goto(start("redirect", token, `${PORTAL}/landing`, "st-redirect"));
  assert.match(await page.textContent("#email"), /^r\*\*\*@example\.com$/);
  await shot(page, "hosted-page");
  await page.fill("#code", await code());
  await Promise.all([page.waitForURL(`${PORTAL}/landing?**`), page.click("#verify")]);
  let landed = new URL(page.url());
  assert.equal(landed.searchParams.get("session_token"), token);
  assert.equal(landed.searchParams.get("state"), "st-redirect");
  step("redirect: landed on the redirect URI with session_token and state");

  // --- popup from the portal's origin: the opener gets {session_token, state} from Castellan's origin
  token = await sessionToken("popup@example.com");
  const portalPage = await context.newPage();
  await portalPage.goto(`${PORTAL}/opener?url=${encodeURIComponent(start("popup", token, PORTAL, "st-popup"))}`);
  let [popup] = await Promise.all([portalPage.waitForEvent("popup"), portalPage.click("#open")]);
  await popup.waitForSelector("#code");
  await popup.fill("#code", await code());
  await Promise.all([popup.waitForEvent("close"), popup.click("#verify")]);
  await portalPage.waitForFunction(() => window.received.length > 0);
  const received = await portalPage.evaluate(() => window.received);
  assert.equal(received.length, 1);
  assert.equal(received[0].origin, new URL(BASE).origin);
  assert.deepEqual(received[0].data, { session_token: token, state: "st-popup" });
  step("popup: the opener received {session_token, state} from Castellan's origin");

  // --- popup opened by an attacker's origin for the portal's redirect URI: nothing reaches it
  token = await sessionToken("attacked@example.com");
  const evil = await context.newPage();
  await evil.goto(`${ATTACKER}/opener?url=${encodeURIComponent(start("popup", token, PORTAL, "st-evil"))}`);
  [popup] = await Promise.all([evil.waitForEvent("popup"), evil.click("#open")]);
  await popup.waitForSelector("#code");
  // Advance to the next time step: the last code of this secret was spent (single use).
  await fetch(`${PORTAL}/control?secret=${SECRET}&advance=30`);
  await popup.fill("#code", await code());
  await Promise.all([popup.waitForEvent("close"), popup.click("#verify")]);
  await evil.waitForTimeout(500);
  assert.deepEqual(await evil.evaluate(() => window.received), [], "a message reached another origin");
  step("popup: a page on another origin received no message");

  // --- "This wasn't me": the failure page, then Sign in leads to ?error=REJECT
  token = await sessionToken("reject@example.com");
  await page.goto(start("redirect", token, `${PORTAL}/landing`, "st-reject"));
  await page.click("#reject");
  await page.waitForSelector("#failure[data-code=REJECT]");
  await shot(page, "hosted-page-rejected");
  await Promise.all([page.waitForURL(`${PORTAL}/landing?**`), page.click("#sign-in")]);
  landed = new URL(page.url());
  assert.equal(landed.searchParams.get("error"), "REJECT");
  assert.equal(landed.searchParams.get("session_token"), null);
  step("reject: Sign in leads to the redirect URI with error=REJECT");

  // --- an expired token: TIMEOUT
  token = await sessionToken("late@example.com");
  await fetch(`${PORTAL}/control?secret=${SECRET}&advance=121`);
  await page.goto(start("redirect", token, `${PORTAL}/landing`));
  await page.waitForSelector("#failure[data-code=TIMEOUT]");
  await Promise.all([page.waitForURL(`${PORTAL}/landing?**`), page.click("#sign-in")]);
  assert.equal(new URL(page.url()).searchParams.get("error"), "TIMEOUT");
  step("expired token: TIMEOUT");

  // --- a wrong redirect URI: an error, and the browser stays put
  await enable("wrong@example.com");
  token = await sessionToken("wrong@example.com");
  const wrong = start("redirect", token, "https://evil.example/steal");
  await page.goto(wrong);
  await page.waitForTimeout(300);
  assert.equal(page.url(), wrong);
  assert.match(await page.textContent("h1"), /Invalid request/);
  assert.equal(await page.locator("a[href^='https://evil']").count(), 0);
  step("wrong redirect URI: no redirect");

  // --- framed by another origin: blocked by frame-ancestors
  token = await sessionToken("wrong@example.com");
  const framer = await context.newPage();
  await framer.goto(`${ATTACKER}/framer?url=${encodeURIComponent(start("redirect", token, `${PORTAL}/landing`))}`);
  await framer.waitForTimeout(800);
  const frame = framer.frames().find((f) => f !== framer.mainFrame());
  const framedUrl = frame ? frame.url() : "";
  assert.ok(!framedUrl.startsWith(BASE) || (await frame.locator("#code").count()) === 0, `framed: ${framedUrl}`);
  step("framing by another origin is blocked");
} catch (e) {
  await shot(page, "failure").catch(() => {});
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
