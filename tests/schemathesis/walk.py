#!/usr/bin/env python3
"""The answers schemathesis cannot reach: sign in to every dialect with the demo data
(`castellan demo`), walk its authenticated and success paths, and hold each answer to
/openapi.json (status documented, content type documented, body valid against the schema).

    walk.py BASE_URL ADMIN_TOKEN

Runs in tests/schemathesis/run's venv (requests and jsonschema_rs come with schemathesis).
Exits 1 if any answer does not conform.
"""
import base64
import hashlib
import hmac
import re
import struct
import sys
import time
import traceback

import jsonschema_rs
import requests

BASE, ADMIN = sys.argv[1], sys.argv[2]
doc = requests.get(BASE + "/openapi.json", timeout=10).json()
failures = []
checked = 0
seen = set()


def check(method, template, r):
    """Holds one answer to the document's description of `method template`."""
    global checked
    name = f"{method} {template} -> {r.status_code}"
    seen.add(name)
    response = doc["paths"][template][method.lower()]["responses"].get(str(r.status_code))
    if response is None:
        failures.append(f"{name}: undocumented status; body {r.text[:200]}")
        return r
    content = response.get("content")
    media = r.headers.get("content-type", "").split(";")[0]
    checked += 1
    if not content:
        if r.content:
            failures.append(f"{name}: a body, but none documented: {r.text[:100]}")
        return r
    if media not in content:
        failures.append(f"{name}: content type {media}, documented {list(content)}")
        return r
    if media == "application/json":
        root = dict(content[media]["schema"], components=doc["components"])
        errors = [f"{e.message} at {list(e.instance_path)}" for e in jsonschema_rs.validator_for(root).iter_errors(r.json())]
        if errors:
            failures.append(f"{name}: {errors[:3]}; body {r.text[:300]}")
    return r


def totp(secret, step):
    """RFC 6238, SHA-1, 6 digits, 30 s steps: the code of time-step `step`."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


def outbox(to):
    return requests.get(BASE + "/dev/outbox", params={"to": to}, timeout=10).json()


def outbox_code(to, before):
    """The one-time code of the first development-outbox message to `to` after the `before`
    there were (delivery is asynchronous: waits up to 10 s)."""
    for _ in range(100):
        messages = outbox(to)
        if len(messages) > before:
            newest = messages[0]
            return re.search(r"\b(\d{6})\b", newest["subject"] + " " + newest["body"]).group(1)
        time.sleep(0.1)
    raise RuntimeError(f"no message to {to}")


S = requests.Session()


def walk_ops():
    """Health, metrics, key sets, the document itself, the development outbox."""
    for p in ['/health', '/ready', '/metrics', '/.well-known/jwks.json', '/openapi.json', '/docs', '/dev/outbox']:
        check('GET', p, S.get(BASE + p))
    check('GET', '/t/{tenant}/.well-known/jwks.json', S.get(BASE + '/t/mosip/.well-known/jwks.json'))
    check('GET', '/t/{tenant}/.well-known/jwks.json', S.get(BASE + '/t/nope/.well-known/jwks.json'))
    check('GET', '/realms/{tenant}/protocol/openid-connect/certs', S.get(BASE + '/realms/mosip/protocol/openid-connect/certs'))
    check('GET', '/v1/auth/.well-known/jwks.json', S.get(BASE + '/v1/auth/.well-known/jwks.json'))


def walk_korastratum():
    """Sign-in, 2FA enrolment, sessions, refresh (and its reuse), registration, a lockout."""
    H = {'X-Tenant-ID': 'fmfb'}
    r = check('POST', '/api/v1/auth/login', S.post(BASE + '/api/v1/auth/login', headers=H, json={'email': 'user@example.com', 'password': 'SecurePass123!', 'deviceInfo': {'platform': 'ios', 'appVersion': '1.0'}}))
    data = r.json()['data']; at = data['tokens']['accessToken']; rt = data['tokens']['refreshToken']
    A = dict(H, Authorization='Bearer ' + at)
    check('POST', '/api/v1/auth/2fa/status', S.post(BASE + '/api/v1/auth/2fa/status', headers=A))
    r = check('POST', '/api/v1/auth/2fa/setup', S.post(BASE + '/api/v1/auth/2fa/setup', headers=A))
    secret = r.json()['data']['secret']
    step = int(time.time() // 30)
    check('POST', '/api/v1/auth/2fa/verify-setup', S.post(BASE + '/api/v1/auth/2fa/verify-setup', headers=A, json={'token': '000000'}))
    check('POST', '/api/v1/auth/2fa/verify-setup', S.post(BASE + '/api/v1/auth/2fa/verify-setup', headers=A, json={'token': totp(secret, step)}))
    check('POST', '/api/v1/auth/2fa/setup', S.post(BASE + '/api/v1/auth/2fa/setup', headers=A))
    check('POST', '/api/v1/auth/2fa/status', S.post(BASE + '/api/v1/auth/2fa/status', headers=A))
    check('GET', '/api/v1/auth/sessions', S.get(BASE + '/api/v1/auth/sessions', headers=A))
    check('DELETE', '/api/v1/auth/sessions/{id}', S.delete(BASE + '/api/v1/auth/sessions/sess_nope', headers=A))
    check('POST', '/api/v1/auth/2fa/disable', S.post(BASE + '/api/v1/auth/2fa/disable', headers=A, json={'token': '000000'}))
    r = check('POST', '/api/v1/auth/refresh', S.post(BASE + '/api/v1/auth/refresh', headers=H, json={'refreshToken': rt}))
    # A refresh token used twice ends its session.
    check('POST', '/api/v1/auth/refresh', S.post(BASE + '/api/v1/auth/refresh', headers=H, json={'refreshToken': rt}))
    check('POST', '/api/v1/auth/2fa/status', S.post(BASE + '/api/v1/auth/2fa/status', headers=A))
    r = check('POST', '/api/v1/auth/login', S.post(BASE + '/api/v1/auth/login', headers=H, json={'email': 'user@example.com', 'password': 'SecurePass123!'}))
    mfa = r.json()['data']['mfaToken']
    check('POST', '/api/v1/auth/2fa/verify-login', S.post(BASE + '/api/v1/auth/2fa/verify-login', headers=H, json={'mfaToken': mfa, 'token': '000000'}))
    # The next time-step's code (within the accepted window): the enrolment spent this one's.
    r = check('POST', '/api/v1/auth/2fa/verify-login', S.post(BASE + '/api/v1/auth/2fa/verify-login', headers=H, json={'mfaToken': mfa, 'token': totp(secret, step + 1)}))
    A = dict(H, Authorization='Bearer ' + r.json()['data']['tokens']['accessToken'])
    check('GET', '/api/v1/auth/sessions', S.get(BASE + '/api/v1/auth/sessions', headers=A))
    check('POST', '/api/v1/auth/logout-all', S.post(BASE + '/api/v1/auth/logout-all', headers=A))
    check('POST', '/api/v1/auth/logout', S.post(BASE + '/api/v1/auth/logout', headers=A))
    check('POST', '/api/v1/registration/register', S.post(BASE + '/api/v1/registration/register', headers=H, json={'email': 'new@example.com', 'password': 'SecurePass123!', 'firstName': 'N', 'lastName': 'U'}))
    check('POST', '/api/v1/registration/register', S.post(BASE + '/api/v1/registration/register', headers=H, json={'email': 'new@example.com', 'password': 'SecurePass123!', 'firstName': 'N', 'lastName': 'U'}))
    check('POST', '/api/v1/registration/register', S.post(BASE + '/api/v1/registration/register', headers=H, json={'email': 'new2@example.com', 'password': 'weak', 'firstName': 'N', 'lastName': 'U'}))
    check('POST', '/api/v1/registration/verify-email', S.post(BASE + '/api/v1/registration/verify-email', headers=H, json={'token': 'nope'}))
    check('POST', '/api/v1/registration/forgot-password', S.post(BASE + '/api/v1/registration/forgot-password', headers=H, json={'email': 'user@example.com'}))
    check('POST', '/api/v1/registration/reset-password', S.post(BASE + '/api/v1/registration/reset-password', headers=H, json={'token': 'x', 'newPassword': 'SecurePass123!'}))
    for _ in range(6):
        r = check('POST', '/api/v1/auth/login', S.post(BASE + '/api/v1/auth/login', headers=H, json={'email': 'new@example.com', 'password': 'wrong'}))


def walk_kumusoft():
    """Password, then the mailed code, the profile, refresh, sign-out."""
    r = check('POST', '/v1/auth/login', S.post(BASE + '/v1/auth/login', json={'identifier': 'user_8742@example.com', 'password': 'P@ssw0rd!92X', 'tagId': 'ZED_INVESTA_MEMBER_PORTAL'}))
    c = r.json()['data']
    check('POST', '/v1/auth/otp/resend', S.post(BASE + '/v1/auth/otp/resend', json={'userId': c['userId'], 'challengeId': c['challengeId']}))
    check('POST', '/v1/auth/otp/verify', S.post(BASE + '/v1/auth/otp/verify', json={'userId': c['userId'], 'challengeId': c['challengeId'], 'otp': '000000'}))
    sent = len(outbox('user_8742@example.com'))
    r = S.post(BASE + '/v1/auth/login', json={'identifier': 'user_8742@example.com', 'password': 'P@ssw0rd!92X', 'tagId': 'ZED_INVESTA_MEMBER_PORTAL'})
    c = r.json()['data']
    code = outbox_code('user_8742@example.com', sent)
    r = check('POST', '/v1/auth/otp/verify', S.post(BASE + '/v1/auth/otp/verify', json={'userId': c['userId'], 'challengeId': c['challengeId'], 'otp': code}))
    t = r.json()['data']
    check('GET', '/v1/auth/me', S.get(BASE + '/v1/auth/me', headers={'Authorization': 'Bearer ' + t['accessToken']}))
    r = check('POST', '/v1/auth/token/refresh', S.post(BASE + '/v1/auth/token/refresh', json={'refreshToken': t['refreshToken']}))
    check('POST', '/v1/auth/logout', S.post(BASE + '/v1/auth/logout', headers={'Authorization': 'Bearer ' + r.json()['data']['accessToken']}))
    check('GET', '/v1/auth/me', S.get(BASE + '/v1/auth/me'))
    check('POST', '/v1/auth/login', S.post(BASE + '/v1/auth/login', json={'identifier': 'x', 'password': 'y', 'tagId': 'NOPE'}))


def walk_mosip():
    """OTP and password sign-in, validate, refresh, invalidate; the OTP manager."""
    def env(req, i='mosip.authentication.sendotp'): return {'id': i, 'version': '1.0', 'requesttime': '2024-01-01T00:00:00.000Z', 'request': req}
    sent = len(outbox('resident@example.com'))
    check('POST', '/v1/authmanager/authenticate/sendotp', S.post(BASE + '/v1/authmanager/authenticate/sendotp', json=env({'userId': '2530192395', 'otpChannel': ['email'], 'useridtype': 'UIN', 'appId': 'ida'})))
    code = outbox_code('resident@example.com', sent)
    r = check('POST', '/v1/authmanager/authenticate/useridOTP', S.post(BASE + '/v1/authmanager/authenticate/useridOTP', json=env({'userId': '2530192395', 'otp': code, 'appId': 'ida'})))
    tok = r.headers.get('authorization')
    check('GET', '/v1/authmanager/authorize/admin/validateToken', requests.get(BASE + '/v1/authmanager/authorize/admin/validateToken', headers={'Authorization': 'Bearer ' + tok}))
    r = check('POST', '/v1/authmanager/authenticate/internal/useridPwd', requests.post(BASE + '/v1/authmanager/authenticate/internal/useridPwd', json=env({'appId': 'admin', 'clientId': 'mosip-admin-client', 'clientSecret': 'xyz123', 'userName': '110006', 'password': 'mosip'})))
    rt = r.json()['response']['refreshToken']
    check('POST', '/v1/authmanager/authorize/refreshToken/{appId}', requests.post(BASE + '/v1/authmanager/authorize/refreshToken/admin', json=env({'refreshToken': rt})))
    check('POST', '/v1/authmanager/authorize/invalidateToken', requests.post(BASE + '/v1/authmanager/authorize/invalidateToken', headers={'Authorization': 'Bearer ' + tok}))
    check('GET', '/v1/authmanager/authorize/admin/validateToken', requests.get(BASE + '/v1/authmanager/authorize/admin/validateToken', headers={'Authorization': 'Bearer ' + tok}))
    r = check('POST', '/v1/authmanager/authenticate/clientidsecretkey', requests.post(BASE + '/v1/authmanager/authenticate/clientidsecretkey', json=env({'appId': 'ida', 'clientId': 'mosip-ida-client', 'secretKey': 'ida123'})))
    st = r.headers.get('authorization')
    r = check('POST', '/v1/otpmanager/otp/generate', requests.post(BASE + '/v1/otpmanager/otp/generate', headers={'Authorization': 'Bearer ' + st}, json=env({'key': '9820173642'})))
    otp = r.json()['response']['otp']
    check('GET', '/v1/otpmanager/otp/validate', requests.get(BASE + '/v1/otpmanager/otp/validate', headers={'Authorization': 'Bearer ' + st}, params={'key': '9820173642', 'otp': otp}))
    check('POST', '/v1/authmanager/authenticate/sendotp', requests.post(BASE + '/v1/authmanager/authenticate/sendotp', data='{nope'))


def walk_fastapi_users():
    """The form login, the user, sign-out, registration and the emailed-link routes."""
    r = check('POST', '/auth/jwt/login', requests.post(BASE + '/auth/jwt/login', data={'username': 'user@example.com', 'password': 'your_secret_password'}))
    FA = {'Authorization': 'Bearer ' + r.json()['access_token']}
    check('GET', '/users/me', requests.get(BASE + '/users/me', headers=FA))
    check('PATCH', '/users/me', requests.patch(BASE + '/users/me', headers=FA, json={'password': 'x'}))
    check('PATCH', '/users/me', requests.patch(BASE + '/users/me', headers=FA, json={'email': 'user@example.com'}))
    check('POST', '/auth/jwt/logout', requests.post(BASE + '/auth/jwt/logout', headers=FA))
    check('GET', '/users/me', requests.get(BASE + '/users/me', headers=FA))
    check('POST', '/auth/jwt/login', requests.post(BASE + '/auth/jwt/login', data={'username': 'unverified@example.com', 'password': 'your_secret_password'}))
    check('POST', '/auth/jwt/login', requests.post(BASE + '/auth/jwt/login', data={'grant_type': 'x'}))
    check('POST', '/auth/register', requests.post(BASE + '/auth/register', json={'email': 'fa@example.com', 'password': 'longenoughpassword'}))
    check('POST', '/auth/register', requests.post(BASE + '/auth/register', json={'email': 'fa@example.com', 'password': 'longenoughpassword'}))
    check('POST', '/auth/register', requests.post(BASE + '/auth/register', json={'email': 'fa2@example.com', 'password': 'x'}))
    check('POST', '/auth/request-verify-token', requests.post(BASE + '/auth/request-verify-token', json={'email': 'fa@example.com'}))
    check('POST', '/auth/verify', requests.post(BASE + '/auth/verify', json={'token': 'x'}))
    check('POST', '/auth/forgot-password', requests.post(BASE + '/auth/forgot-password', json={'email': 'fa@example.com'}))
    check('POST', '/auth/reset-password', requests.post(BASE + '/auth/reset-password', json={'token': 'x', 'password': 'y'}))
    check('POST', '/auth/verify', requests.post(BASE + '/auth/verify', data='{'))


def walk_eauthenticator():
    """The REST API with the demo portal's key, then the hosted page."""
    K = {'X-API-Key': 'cas_key_demo_portal_4f1c9a7e2b'}
    cid = '84c2ad6c-62eb-4217-8f46-a66852e6fe92'
    r = check('POST', '/authen-api/api/v1/session-token', requests.post(BASE + '/authen-api/api/v1/session-token', headers=K, json={'email': 'jane@example.com', 'client_id': cid}))
    stoken = r.json()['data']['session_token']
    check('POST', '/authen-api/api/v1/mfa/provision', requests.post(BASE + '/authen-api/api/v1/mfa/provision', headers=K, json={'email': 'bob@example.com', 'client_id': cid}))
    check('POST', '/authen-api/api/v1/mfa/toggle', requests.post(BASE + '/authen-api/api/v1/mfa/toggle', headers=K, json={'email': 'bob@example.com', 'client_id': cid, 'action': 'ENABLE', 'type': 'TOTP', 'secret': 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'}))
    check('POST', '/authen-api/api/v1/mfa/toggle', requests.post(BASE + '/authen-api/api/v1/mfa/toggle', headers=K, json={'email': 'bob@example.com', 'client_id': cid, 'action': 'NOPE', 'type': 'TOTP'}))
    check('POST', '/authen-api/api/v1/session-token', requests.post(BASE + '/authen-api/api/v1/session-token', json={'email': 'jane@example.com', 'client_id': cid}))
    check('POST', '/authen-api/api/v1/session-token', requests.post(BASE + '/authen-api/api/v1/session-token', headers={'X-API-Key': 'wrong'}, json={'email': 'jane@example.com', 'client_id': cid}))
    red = 'http://127.0.0.1:8090/2fa/done'
    check('GET', '/start-authentication', requests.get(BASE + '/start-authentication', params={'signin_method': 'redirect', 'session_token': stoken, 'redirect_uri': red}))
    check('GET', '/start-authentication', requests.get(BASE + '/start-authentication', params={'signin_method': 'x'}))
    check('POST', '/start-authentication/verify', requests.post(BASE + '/start-authentication/verify', data={'signin_method': 'redirect', 'session_token': stoken, 'redirect_uri': red, 'code': '000000'}, allow_redirects=False))
    check('POST', '/start-authentication/reject', requests.post(BASE + '/start-authentication/reject', data={'signin_method': 'redirect', 'session_token': stoken, 'redirect_uri': red}))
    for p in ['/static/castellan.css', '/static/hosted.js', '/static/console.js']:
        check('GET', p, requests.get(BASE + p))


def walk_console():
    """The console API with a bearer token, then the pages with the session cookie."""
    r = check('POST', '/console/api/sign-in', requests.post(BASE + '/console/api/sign-in', json={'email': 'demo@castellan.test', 'password': 'demo-console-pass'}))
    C = {'Authorization': 'Bearer ' + r.json()['token']}
    r = check('GET', '/console/api/applications', requests.get(BASE + '/console/api/applications', headers=C))
    aid = r.json()['applications'][0]['id']
    for m, p in [('GET', ''), ('GET', '/verifications'), ('POST', '/rotate-callback-secret'), ('POST', '/deactivate'), ('POST', '/activate')]:
        check(m, '/console/api/applications/{id}' + p, requests.request(m, BASE + f'/console/api/applications/{aid}' + p, headers=C))
    check('PATCH', '/console/api/applications/{id}', requests.patch(BASE + f'/console/api/applications/{aid}', headers=C, json={'name': 'Demo Portal'}))
    check('GET', '/console/api/applications/{id}', requests.get(BASE + '/console/api/applications/00000000-0000-0000-0000-000000000000', headers=C))
    r = check('POST', '/console/api/applications', requests.post(BASE + '/console/api/applications', headers=C, json={'name': 'X', 'allowed_ips': ['127.0.0.1'], 'callback_url': 'http://127.0.0.1:9/cb', 'redirect_uris': ['http://127.0.0.1:9/done']}))
    check('POST', '/console/api/applications', requests.post(BASE + '/console/api/applications', headers=C, json={'name': ''}))
    check('POST', '/console/api/register', requests.post(BASE + '/console/api/register', json={'email': 'biz@example.com', 'password': 'long-enough-password'}))
    check('POST', '/console/api/verify-email', requests.post(BASE + '/console/api/verify-email', json={'token': 'x'}))
    check('POST', '/console/api/sign-in', requests.post(BASE + '/console/api/sign-in', json={'email': 'demo@castellan.test', 'password': 'no'}))
    check('POST', '/console/api/sign-out', requests.post(BASE + '/console/api/sign-out', headers=C))
    check('GET', '/console/api/applications', requests.get(BASE + '/console/api/applications', headers=C))
    for p in ['/console', '/console/register', '/console/sign-in', '/console/apps', '/console/apps/new']:
        check('GET', p, requests.get(BASE + p, allow_redirects=False))
    sess = requests.Session()
    r = sess.get(BASE + '/console/sign-in'); csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = check('POST', '/console/sign-in', sess.post(BASE + '/console/sign-in', data={'csrf': csrf, 'email': 'demo@castellan.test', 'password': 'demo-console-pass'}, allow_redirects=False))
    r = check('GET', '/console/apps/{id}', sess.get(BASE + f'/console/apps/{aid}'))
    check('GET', '/console/apps/{id}', sess.get(BASE + '/console/apps/00000000-0000-0000-0000-000000000000'))
    check('POST', '/console/apps/{id}/rotate-key', sess.post(BASE + f'/console/apps/{aid}/rotate-key', data={'csrf': 'bad'}))
    check('GET', '/console/apps/new', sess.get(BASE + '/console/apps/new'))


def walk_pages():
    """The pages emailed links open."""
    check('GET', '/t/{tenant}/verify-email', requests.get(BASE + '/t/fmfb/verify-email', params={'token': 'x'}))
    check('POST', '/t/{tenant}/verify-email', requests.post(BASE + '/t/fmfb/verify-email', data={'token': 'x'}))
    check('GET', '/t/{tenant}/reset-password', requests.get(BASE + '/t/fmfb/reset-password', params={'token': 'x'}))
    check('POST', '/t/{tenant}/reset-password', requests.post(BASE + '/t/fmfb/reset-password', data={'token': 'x', 'password': 'a', 'confirm': 'b'}))
    check('GET', '/t/{tenant}/verify-email', requests.get(BASE + '/t/nope/verify-email'))


def walk_oidc():
    """The demo realm acme: discovery, keys, the hosted pages (sign-in, consent, sign-out), the
    token endpoint's grants, UserInfo, introspection, revocation, back-end logout."""
    AD = {'Authorization': 'Bearer ' + ADMIN}
    R = '/realms/{tenant}'
    P = R + '/protocol/openid-connect'
    base = BASE + '/realms/acme'
    p = base + '/protocol/openid-connect'
    check('GET', R + '/.well-known/openid-configuration', requests.get(base + '/.well-known/openid-configuration'))
    check('GET', R + '/.well-known/openid-configuration', requests.get(BASE + '/realms/nope/.well-known/openid-configuration'))
    check('GET', '/.well-known/oauth-authorization-server/realms/{tenant}', requests.get(BASE + '/.well-known/oauth-authorization-server/realms/acme'))
    check('GET', P + '/certs', requests.get(p + '/certs'))
    secret = 'walk-Secret-0123456789abcdef'
    requests.post(BASE + '/admin/v1/tenants/acme/applications', headers=AD, json={'name': 'Walk service', 'kind': 'service', 'client_id': 'walk-svc', 'client_secret': secret})
    requests.post(BASE + '/admin/v1/tenants/acme/applications', headers=AD, json={'name': 'Walk web', 'kind': 'confidential', 'client_id': 'walk-web', 'client_secret': secret, 'redirect_uris': ['http://127.0.0.1:9/cb'], 'post_logout_redirect_uris': ['http://127.0.0.1:9/bye']})
    r = check('POST', P + '/token', requests.post(p + '/token', auth=('walk-svc', secret), data={'grant_type': 'client_credentials'}))
    svc_token = r.json()['access_token']
    check('POST', P + '/token', requests.post(p + '/token', auth=('walk-svc', 'wrong'), data={'grant_type': 'client_credentials'}))
    check('POST', P + '/token', requests.post(p + '/token', auth=('walk-svc', secret), data={'grant_type': 'password'}))
    check('POST', P + '/token/introspect', requests.post(p + '/token/introspect', auth=('walk-svc', secret), data={'token': svc_token}))
    check('POST', P + '/token/introspect', requests.post(p + '/token/introspect', auth=('walk-svc', secret), data={}))
    check('POST', P + '/revoke', requests.post(p + '/revoke', auth=('walk-svc', secret), data={'token': svc_token}))
    check('POST', P + '/token/introspect', requests.post(p + '/token/introspect', auth=('walk-svc', secret), data={'token': svc_token}))
    # A browser: sign-in page, password, consent, code.
    B = requests.Session()
    O = {'Origin': BASE}
    verifier = 'v' * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip('=')
    q = {'response_type': 'code', 'client_id': 'walk-web', 'redirect_uri': 'http://127.0.0.1:9/cb', 'scope': 'openid profile email', 'state': 's', 'nonce': 'n', 'code_challenge': challenge, 'code_challenge_method': 'S256'}
    r = check('GET', P + '/auth', B.get(p + '/auth', params=q, allow_redirects=False))
    field = lambda html, name: re.search(r'name="%s" value="([^"]*)"' % name, html).group(1)
    form = {'csrf': field(r.text, 'csrf'), 'request': field(r.text, 'request')}
    check('POST', R + '/login', B.post(base + '/login', headers=O, data=dict(form, identifier='alice@example.com', password='wrong'), allow_redirects=False))
    r = check('POST', R + '/login', B.post(base + '/login', headers=O, data=dict(form, identifier='alice@example.com', password='Wonderland-2026!'), allow_redirects=False))
    r = check('POST', R + '/consent', B.post(base + '/consent', headers=O, data={'csrf': field(r.text, 'csrf'), 'request': field(r.text, 'request'), 'decision': 'allow'}, allow_redirects=False))
    code = re.search(r'code=([^&]+)', r.headers['location']).group(1)
    check('POST', P + '/auth', B.post(p + '/auth', data=dict(q, response_mode='form_post'), allow_redirects=False))
    check('GET', P + '/auth', B.get(p + '/auth', params=dict(q, redirect_uri='http://evil.example/cb'), allow_redirects=False))
    tok = {'grant_type': 'authorization_code', 'code': code, 'redirect_uri': 'http://127.0.0.1:9/cb', 'code_verifier': verifier}
    r = check('POST', P + '/token', requests.post(p + '/token', auth=('walk-web', secret), data=tok))
    t = r.json()
    check('POST', P + '/token', requests.post(p + '/token', auth=('walk-web', secret), data=tok))
    check('GET', P + '/userinfo', requests.get(p + '/userinfo', headers={'Authorization': 'Bearer ' + t['access_token']}))
    check('POST', P + '/userinfo', requests.post(p + '/userinfo', data={'access_token': t['access_token']}))
    check('GET', P + '/userinfo', requests.get(p + '/userinfo'))
    check('GET', P + '/userinfo', requests.get(p + '/userinfo', headers={'Authorization': 'Bearer x.y.z'}))
    check('POST', P + '/token/introspect', requests.post(p + '/token/introspect', auth=('walk-web', secret), data={'token': t['refresh_token']}))
    r = check('POST', P + '/token', requests.post(p + '/token', auth=('walk-web', secret), data={'grant_type': 'refresh_token', 'refresh_token': t['refresh_token']}))
    check('POST', P + '/token', requests.post(p + '/token', auth=('walk-web', secret), data={'grant_type': 'refresh_token', 'refresh_token': t['refresh_token']}))
    check('POST', P + '/logout', requests.post(p + '/logout', auth=('walk-web', secret), data={'refresh_token': 'nope'}))
    check('GET', R + '/forgot-password', B.get(base + '/forgot-password'))
    check('POST', R + '/forgot-password', B.post(base + '/forgot-password', headers=O, data={'csrf': B.cookies.get('castellan_oidc_form', ''), 'email': 'alice@example.com'}))
    # The refresh token's reuse ended the sign-in: signed in again (consent is remembered), then
    # signed out through the confirmation page.
    r = B.get(p + '/auth', params=q, allow_redirects=False)
    check('POST', R + '/login', B.post(base + '/login', headers=O, data={'csrf': field(r.text, 'csrf'), 'request': field(r.text, 'request'), 'identifier': 'alice@example.com', 'password': 'Wonderland-2026!'}, allow_redirects=False))
    r = check('GET', P + '/logout', B.get(p + '/logout', allow_redirects=False))
    check('POST', P + '/logout', B.post(p + '/logout', headers=O, data={'csrf': field(r.text, 'csrf'), 'confirm': 'yes'}, allow_redirects=False))
    check('GET', P + '/logout', B.get(p + '/logout', params={'client_id': 'walk-web', 'post_logout_redirect_uri': 'http://evil.example/'}, allow_redirects=False))
    check('GET', '/static/form-post.js', requests.get(BASE + '/static/form-post.js'))


def walk_admin():
    """Tenants, policy, applications, users, sessions, audit, keys, outbox: made, read, removed."""
    AD = {'Authorization': 'Bearer ' + ADMIN}
    def adm(m, tpl, path, **kw): return check(m, tpl, requests.request(m, BASE + path, headers=AD, **kw))
    adm('GET', '/admin/v1/tenants', '/admin/v1/tenants')
    r = adm('POST', '/admin/v1/tenants', '/admin/v1/tenants', json={'slug': 'walkco', 'display_name': 'Walkco', 'profile': 'korastratum'})
    adm('POST', '/admin/v1/tenants', '/admin/v1/tenants', json={'slug': 'walkco', 'display_name': 'Walkco'})
    adm('GET', '/admin/v1/tenants/{t}', '/admin/v1/tenants/walkco')
    adm('PATCH', '/admin/v1/tenants/{t}', '/admin/v1/tenants/walkco', json={'display_name': 'Walkco 2'})
    r = adm('GET', '/admin/v1/tenants/{t}/policy', '/admin/v1/tenants/walkco/policy')
    pol = r.json(); pol['messages'] = {'otp_sms': 'code {code}'}
    adm('PUT', '/admin/v1/tenants/{t}/policy', '/admin/v1/tenants/walkco/policy', json=pol)
    r = adm('POST', '/admin/v1/tenants/{t}/applications', '/admin/v1/tenants/walkco/applications', json={'name': 'App', 'kind': 'confidential', 'client_id': 'app1'})
    adm('POST', '/admin/v1/tenants/{t}/applications', '/admin/v1/tenants/walkco/applications', json={'name': 'App', 'kind': 'public', 'client_id': 'app2'})
    adm('GET', '/admin/v1/tenants/{t}/applications', '/admin/v1/tenants/walkco/applications')
    adm('GET', '/admin/v1/tenants/{t}/applications/{client_id}', '/admin/v1/tenants/walkco/applications/app1')
    adm('PATCH', '/admin/v1/tenants/{t}/applications/{client_id}', '/admin/v1/tenants/walkco/applications/app1', json={'roles': ['x']})
    adm('POST', '/admin/v1/tenants/{t}/applications/{client_id}/api-keys', '/admin/v1/tenants/walkco/applications/app1/api-keys')
    adm('POST', '/admin/v1/tenants/{t}/applications/{client_id}/secret', '/admin/v1/tenants/walkco/applications/app1/secret')
    adm('POST', '/admin/v1/tenants/{t}/applications/{client_id}/secret', '/admin/v1/tenants/walkco/applications/app2/secret')
    r = adm('POST', '/admin/v1/tenants/{t}/users', '/admin/v1/tenants/walkco/users', json={'email': 'u@example.com', 'password': 'SecurePass123!', 'attributes': {'kycLevel': 2}})
    uid = r.json()['id']
    adm('POST', '/admin/v1/tenants/{t}/users', '/admin/v1/tenants/walkco/users', json={'email': 'u@example.com', 'password': 'SecurePass123!'})
    adm('POST', '/admin/v1/tenants/{t}/users', '/admin/v1/tenants/walkco/users', json={'email': 'w@example.com', 'password': 'x'})
    adm('GET', '/admin/v1/tenants/{t}/users', '/admin/v1/tenants/walkco/users')
    adm('GET', '/admin/v1/tenants/{t}/users/{id}', f'/admin/v1/tenants/walkco/users/{uid}')
    adm('PATCH', '/admin/v1/tenants/{t}/users/{id}', f'/admin/v1/tenants/walkco/users/{uid}', json={'first_name': 'U'})
    adm('POST', '/admin/v1/tenants/{t}/users/{id}/totp', f'/admin/v1/tenants/walkco/users/{uid}/totp')
    adm('POST', '/admin/v1/tenants/{t}/users/{id}/totp', f'/admin/v1/tenants/walkco/users/{uid}/totp')
    adm('DELETE', '/admin/v1/tenants/{t}/users/{id}/totp', f'/admin/v1/tenants/walkco/users/{uid}/totp')
    adm('POST', '/admin/v1/tenants/{t}/users/{id}/unlock', f'/admin/v1/tenants/walkco/users/{uid}/unlock')
    S.post(BASE + '/api/v1/auth/login', headers={'X-Tenant-ID': 'walkco'}, json={'email': 'u@example.com', 'password': 'SecurePass123!'})
    adm('GET', '/admin/v1/tenants/{t}/users/{id}/sessions', f'/admin/v1/tenants/walkco/users/{uid}/sessions')
    adm('GET', '/admin/v1/tenants/{t}/users/{id}/sessions', f'/admin/v1/tenants/fmfb/users/{uid}/sessions')
    adm('DELETE', '/admin/v1/tenants/{t}/users/{id}/sessions', f'/admin/v1/tenants/walkco/users/{uid}/sessions')
    adm('GET', '/admin/v1/tenants/{t}/audit', '/admin/v1/tenants/walkco/audit')
    adm('GET', '/admin/v1/tenants/{t}/audit', '/admin/v1/tenants/fmfb/audit')
    adm('GET', '/admin/v1/tenants/{t}/keys', '/admin/v1/tenants/walkco/keys')
    adm('POST', '/admin/v1/tenants/{t}/keys/rotate', '/admin/v1/tenants/walkco/keys/rotate', json={'alg': 'ES256'})
    adm('POST', '/admin/v1/tenants/{t}/keys/rotate', '/admin/v1/tenants/walkco/keys/rotate', json={'alg': 'HS256'})
    adm('GET', '/admin/v1/tenants/{t}/keys', '/admin/v1/tenants/walkco/keys')
    adm('GET', '/admin/v1/tenants/{t}/keys/hs256', '/admin/v1/tenants/walkco/keys/hs256')
    adm('GET', '/admin/v1/tenants/{t}/keys/hs256', '/admin/v1/tenants/mosip/keys/hs256')
    adm('GET', '/admin/v1/outbox', '/admin/v1/outbox')
    adm('DELETE', '/admin/v1/tenants/{t}/users/{id}', f'/admin/v1/tenants/walkco/users/{uid}')
    adm('DELETE', '/admin/v1/tenants/{t}/applications/{client_id}', '/admin/v1/tenants/walkco/applications/app1')
    adm('DELETE', '/admin/v1/tenants/{t}', '/admin/v1/tenants/walkco')
    adm('DELETE', '/admin/v1/tenants/{t}', '/admin/v1/tenants/default')
    check('GET', '/admin/v1/tenants', requests.get(BASE + '/admin/v1/tenants'))
    check('GET', '/admin/v1/tenants', requests.get(BASE + '/admin/v1/tenants', headers={'Authorization': 'Bearer a.b.c'}))


for walk in (walk_ops, walk_korastratum, walk_kumusoft, walk_mosip, walk_fastapi_users, walk_eauthenticator, walk_console,
             walk_pages, walk_oidc, walk_admin):
    try:
        walk()
    except Exception:
        failures.append(f"{walk.__name__} stopped: {traceback.format_exc(limit=2)}")
if "-v" in sys.argv:
    print("\n".join(sorted(seen)))
print(f"walk: {checked} answers checked ({len(seen)} operation and status pairs), {len(failures)} do not conform")
for f in failures:
    print(" -", f)
sys.exit(1 if failures else 0)
