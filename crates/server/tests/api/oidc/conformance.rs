//! OpenID Foundation Basic and Config OP test modules, re-implemented from their descriptions.

#[allow(unused_imports)]
use super::*;
