//! Addresses: CIDR blocks (allow-lists, trusted proxies) and which addresses are public.

use std::net::IpAddr;

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (a.trim().parse::<IpAddr>().ok()?, p.trim().parse::<u8>().ok()?)
            }
            Some(_) => return None,
            None => {
                let a = s.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return None;
        }
        // An IPv4 block written IPv4-mapped (`::ffff:10.0.0.0/104`) is that IPv4 block: clients
        // are compared as IPv4 (see `contains`), so kept as IPv6 it would hold no one.
        if let IpAddr::V6(v6) = addr
            && let Some(v4) = v6.to_ipv4_mapped()
            && prefix >= 96
        {
            return Some(Cidr { net: IpAddr::V4(v4), prefix: prefix - 96 });
        }
        Some(Cidr { net: addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is the IPv4 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
                u128::from(n) & mask == u128::from(i) & mask
            }
            // An IPv6 block wider than the IPv4-mapped range (`::/0`) holds IPv4 clients as the
            // mapped addresses they are on a dual-stack socket.
            (IpAddr::V6(n), IpAddr::V4(i)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
                u128::from(n) & mask == u128::from(i.to_ipv6_mapped()) & mask
            }
            _ => false,
        }
    }
}

/// Whether any of `list` (addresses or CIDRs) contains `ip`. Entries that do not parse match
/// nothing.
pub fn allowed(list: &[String], ip: IpAddr) -> bool {
    list.iter().filter_map(|s| Cidr::parse(s)).any(|c| c.contains(ip))
}

/// Whether `ip` is a globally routable address: not loopback, private, link-local, unique-local,
/// shared (CGNAT), documentation, multicast, broadcast or unspecified. Callbacks go only there.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `addresses` fuzz target: an IPv4-mapped entry held not even its own address.
    #[test]
    fn fuzz_addresses_an_ipv4_mapped_block_holds_its_own_addresses() {
        let block = Cidr::parse("::ffff:192.0.2.7/128");
        assert!(block.is_some_and(|b| b.contains(ip("::ffff:192.0.2.7")) && b.contains(ip("192.0.2.7"))));
        assert!(block.is_some_and(|b| !b.contains(ip("192.0.2.8"))));
        let wide = Cidr::parse("::ffff:10.0.0.0/104");
        assert!(wide.is_some_and(|c| c.contains(ip("10.200.1.1")) && !c.contains(ip("11.0.0.1"))));
        assert!(allowed(&["::ffff:192.0.2.0/120".to_string()], ip("192.0.2.99")));
        // Then: `::ffff:192.0.0.0/0` (every IPv6 address) held no IPv4 client.
        assert!(Cidr::parse("::ffff:192.0.0.0/0").is_some_and(|c| c.contains(ip("192.0.0.0")) && c.contains(ip("8.8.8.8"))));
        assert!(Cidr::parse("2001:db8::/32").is_some_and(|c| !c.contains(ip("192.0.2.1"))));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn cidrs_match_v4_and_v6() {
        let list = vec!["203.0.113.0/24".to_string(), "2001:db8:1::/48".to_string(), "198.51.100.7".to_string()];
        assert!(allowed(&list, ip("203.0.113.77")));
        assert!(!allowed(&list, ip("203.0.114.1")));
        assert!(allowed(&list, ip("2001:db8:1:ffff::1")));
        assert!(!allowed(&list, ip("2001:db8:2::1")));
        assert!(allowed(&list, ip("198.51.100.7")));
        assert!(allowed(&list, ip("::ffff:198.51.100.7")));
        assert!(!allowed(&list, ip("198.51.100.8")));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0.0/").is_none());
        assert!(Cidr::parse("nonsense").is_none());
        assert!(Cidr::parse("0.0.0.0/0").is_some_and(|c| c.contains(ip("8.8.8.8"))));
    }

    #[test]
    fn private_ranges_are_not_public() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(!is_public(ip(s)), "{s}");
        }
        for s in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip(s)), "{s}");
        }
    }
}
