//! Black-box tests: the real server on 127.0.0.1:0, driven over HTTP. The engine is SQLite
//! unless CASTELLAN_TEST_DATABASE_URL names a PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod audit_completeness;
mod connections;
mod content_types;
mod delivery_faults;
mod disk_full;
mod eauthenticator;
mod eauthenticator_keys;
mod fastapi_users;
mod first_contact;
mod hardening;
mod helpers;
mod hot_path;
mod identifiers;
mod korastratum;
mod korastratum_security;
mod korastratum_webauthn;
mod kumusoft;
mod kumusoft_security;
mod mosip;
mod mosip_security;
mod oidc;
mod openapi;
mod ops;
mod toy_dialect;
