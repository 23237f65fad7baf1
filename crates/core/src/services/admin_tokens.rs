//! Admin API tokens: random, shown once, stored as an HMAC under the master key.

use crate::core::Core;
use crate::error::CoreResult;
use crate::model::new_id;

const DOMAIN: &str = "admin-token";

/// Admin API tokens: `core.admin_tokens()`.
pub struct AdminTokens<'a>(&'a Core);

impl Core {
    pub fn admin_tokens(&self) -> AdminTokens<'_> {
        AdminTokens(self)
    }
}

impl std::ops::Deref for AdminTokens<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl AdminTokens<'_> {
    pub async fn create_admin_token(&self, label: &str) -> CoreResult<String> {
        let token = format!("cas_admin_{}", crate::crypto::random_token());
        self.store.insert_admin_token(new_id(), &self.master.mac(DOMAIN, token.as_bytes()), label, self.now()).await?;
        Ok(token)
    }

    /// Whether `token` is a stored admin token (the lookup is by HMAC, so it leaks no timing about
    /// the token's bytes).
    pub async fn check_admin_token(&self, token: &str) -> CoreResult<bool> {
        if token.is_empty() || token.len() > 200 {
            return Ok(false);
        }
        Ok(self.store.admin_token_exists(&self.master.mac(DOMAIN, token.as_bytes())).await?)
    }

    /// HMAC of a bootstrap token given in configuration, compared by the caller in constant time.
    pub fn admin_token_digest(&self, token: &str) -> Vec<u8> {
        self.master.mac(DOMAIN, token.as_bytes())
    }
}
