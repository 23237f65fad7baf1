//! The redirect-URI matchers (OpenID Connect clients, and the hosted 2FA page): nothing panics,
//! and no URI is accepted whose scheme, host or port differ from a registered one, but for the
//! port of a loopback URI registered without one (RFC 8252 §7.3).
#![no_main]

use castellan_core::model::{AppId, Application, ApplicationKind, TenantId};
use castellan_core::services::hosted_2fa::registered_redirect;
use castellan_core::services::provider::redirect_registered;
use libfuzzer_sys::fuzz_target;
use url::Url;

const REGISTERED: &[&str] = &[
    "https://app.example.com/callback",
    "com.example.app:/oauth2redirect",
    "http://127.0.0.1/native",
    "http://[::1]/native",
    "https://portal.example.org:8443/2fa/done?x=1",
];

fn app() -> Application {
    Application {
        id: AppId::from_uuid(uuid_nil()),
        tenant_id: TenantId::from_uuid(uuid_nil()),
        client_id: "c".into(),
        name: "n".into(),
        kind: ApplicationKind::Public,
        secret_hash: None,
        aliases: Default::default(),
        roles: vec![],
        allowed_ips: vec![],
        callback_url: None,
        redirect_uris: REGISTERED.iter().map(|s| s.to_string()).collect(),
        single_otp_channel: false,
        hosted_webauthn: false,
        active: true,
        created_at: 0,
        oauth: Default::default(),
    }
}

fn uuid_nil() -> uuid::Uuid {
    uuid::Uuid::nil()
}

fn same_place(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

fuzz_target!(|data: &[u8]| {
    let Ok(given) = std::str::from_utf8(data) else { return };
    let app = app();
    let registered: Vec<Url> = REGISTERED.iter().filter_map(|r| Url::parse(r).ok()).collect();
    if redirect_registered(&app, given) {
        let u = Url::parse(given).unwrap_or_else(|e| panic!("accepted {given:?}, which does not parse: {e}"));
        let exact = REGISTERED.contains(&given);
        let loopback_port = registered.iter().any(|r| {
            r.port().is_none()
                && matches!(r.host_str(), Some("127.0.0.1" | "[::1]"))
                && r.scheme() == u.scheme()
                && r.host_str() == u.host_str()
                && r.path() == u.path()
        });
        assert!(exact || loopback_port, "accepted {given:?}");
        if !exact {
            assert!(matches!(u.host_str(), Some("127.0.0.1" | "[::1]")), "a port rule off loopback: {given:?}");
        }
    }
    for popup in [false, true] {
        if let Some(origin) = registered_redirect(&app, given, popup) {
            let u = Url::parse(given).unwrap_or_else(|e| panic!("accepted {given:?}, which does not parse: {e}"));
            assert!(registered.iter().any(|r| same_place(r, &u)), "hosted page accepted {given:?}");
            assert_eq!(origin, u.origin().ascii_serialization());
        }
    }
});
