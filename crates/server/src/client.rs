//! The client's address (believing `X-Forwarded-For` only from configured proxies) and the
//! request context handed to core services.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use castellan_core::net::Cidr;
use castellan_core::services::ClientContext;

use crate::state::AppState;

/// Proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|s| Cidr::parse(s).ok_or_else(|| format!("not an address or CIDR: {s}")))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client address: the peer, unless the peer is a trusted proxy, in which case the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let Some(xff) = forwarded_for else { return peer };
        let mut client = peer;
        for hop in xff.split(',').rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

/// The caller as the core sees it. Extracting it never fails.
pub struct Ctx {
    /// What the core records of the caller (address, user agent).
    pub client: ClientContext,
    /// The client's address, for the rate limiters and allow-lists.
    pub ip: IpAddr,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let xff = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let ip = state.proxies.client_ip(peer, xff);
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(300).collect());
        Ok(Ctx { client: ClientContext { ip: Some(ip.to_string()), user_agent, application_id: None }, ip })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() -> Result<(), String> {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".to_string()])?;
        assert_eq!(proxies.client_ip(ip("203.0.113.9"), Some("1.2.3.4")), ip("203.0.113.9"));
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), Some("1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), Some("6.6.6.6, 1.2.3.4, 10.2.2.2")), ip("1.2.3.4"));
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), Some("garbage")), ip("10.1.1.1"));
        assert!(TrustedProxies::parse(&["nonsense".to_string()]).is_err());
        Ok(())
    }
}
