//! Allow-lists and trusted proxies as configured (addresses, CIDRs) and `X-Forwarded-For` as a
//! client sends it: nothing panics, an address is in a parsed CIDR exactly when its prefix bits
//! match, and a forwarded address is believed only from a trusted proxy.
#![no_main]

use std::net::IpAddr;

use castellan_core::net::{self, Cidr};
use castellan_server::client::TrustedProxies;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (list, header) = text.split_once('\n').unwrap_or((text, ""));
    let entries: Vec<String> = list.split(',').map(str::to_string).collect();
    for e in &entries {
        if let Some(c) = Cidr::parse(e) {
            let addr = e.trim().split('/').next().unwrap_or_default().trim();
            if let Ok(ip) = addr.parse::<IpAddr>() {
                assert!(c.contains(ip), "{e} does not contain its own address");
            }
        }
    }
    let peer: IpAddr = [192, 0, 2, 7].into();
    let _ = net::allowed(&entries, peer);
    let _ = net::is_public(peer);
    if let Ok(proxies) = TrustedProxies::parse(&entries) {
        let client = proxies.client_ip(peer, Some(header));
        if !net::allowed(&entries, peer) {
            assert_eq!(client, peer, "a forwarded address believed from an untrusted peer");
        }
    }
});
