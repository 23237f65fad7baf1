//! The HTTP client result callbacks are sent with. Apart from the callbacks themselves, so that
//! the core can make it without knowing the services that queue callbacks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{CoreError, CoreResult};

/// Longest wait for one answer.
pub(crate) const TRY_TIMEOUT_MS: i64 = 5_000;

/// A resolver that refuses names resolving to any non-public address, so a callback host cannot
/// be re-pointed at the internal network after it was checked (DNS rebinding).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() || addrs.iter().any(|a| !crate::net::is_public(a.ip())) {
                return Err(format!("{host} resolves to a non-public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client callbacks are sent with: no redirects followed, public addresses only unless
/// private callbacks are allowed.
pub fn http_client(allow_private: bool) -> CoreResult<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_millis(TRY_TIMEOUT_MS as u64))
        .user_agent("Castellan-Callback/1");
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build().map_err(CoreError::internal)
}
