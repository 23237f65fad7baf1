//! Attacks on the OpenID Connect dialect.

#[allow(unused_imports)]
use super::*;
