//! Discovery metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2): what the provider
//! supports, listed only where it works; serialized once per realm and cache period.

use std::sync::Arc;

use serde_json::json;

use super::client_keys::SECRET_SIGNING_ALG_NAMES;
use super::{CLIENT_SIGNING_ALGS, Provider};
use crate::model::Tenant;
use crate::model::oauth::KNOWN_SCOPES;

const CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
];

impl Provider<'_> {
    /// The realm's discovery document, as JSON text.
    pub fn discovery_document(&self, tenant: &Tenant) -> Arc<String> {
        if let Some(doc) = self.discovery_documents.get(&tenant.id) {
            return doc;
        }
        let issuer = self.realm_issuer(tenant);
        let p = format!("{issuer}/protocol/openid-connect");
        let secret_methods = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"];
        let all_methods = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"];
        let auth_algs: Vec<&str> = CLIENT_SIGNING_ALGS.iter().copied().chain(SECRET_SIGNING_ALG_NAMES).collect();
        let mut doc = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{p}/auth"),
            "token_endpoint": format!("{p}/token"),
            "userinfo_endpoint": format!("{p}/userinfo"),
            "jwks_uri": format!("{p}/certs"),
            "introspection_endpoint": format!("{p}/token/introspect"),
            "revocation_endpoint": format!("{p}/revoke"),
            "end_session_endpoint": format!("{p}/logout"),
            "device_authorization_endpoint": format!("{p}/auth/device"),
            "pushed_authorization_request_endpoint": format!("{p}/ext/par/request"),
            // Per client (`require_par`); the realm as a whole takes both.
            "require_pushed_authorization_requests": false,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "token_endpoint_auth_methods_supported": all_methods,
            "token_endpoint_auth_signing_alg_values_supported": auth_algs,
            "introspection_endpoint_auth_methods_supported": secret_methods,
            "introspection_endpoint_auth_signing_alg_values_supported": auth_algs,
            "revocation_endpoint_auth_methods_supported": all_methods,
            "revocation_endpoint_auth_signing_alg_values_supported": auth_algs,
            "scopes_supported": KNOWN_SCOPES,
            "claims_supported": CLAIMS,
            "claims_parameter_supported": true,
            "code_challenge_methods_supported": ["S256"],
            "dpop_signing_alg_values_supported": CLIENT_SIGNING_ALGS,
            "authorization_response_iss_parameter_supported": true,
            // Signed request objects (RFC 9101) of clients with keys; by reference only from PAR.
            "request_parameter_supported": true,
            "request_object_signing_alg_values_supported": CLIENT_SIGNING_ALGS,
            "request_uri_parameter_supported": false,
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            "display_values_supported": ["page", "popup"],
            "acr_values_supported": ["1", "2"],
            "ui_locales_supported": ["en"],
            "claims_locales_supported": ["en"],
            "frontchannel_logout_supported": false,
            // Logout tokens carry `sid` as well as `sub`, always.
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
        });
        if !tenant.policy.client_registration.is_off() {
            doc["registration_endpoint"] = json!(format!("{issuer}/clients-registrations/openid-connect"));
        }
        let doc = Arc::new(doc.to_string());
        self.discovery_documents.put(tenant.id, doc.clone());
        doc
    }
}
