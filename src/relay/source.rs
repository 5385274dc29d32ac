//! Who sent a request: the socket's peer, or — only when that peer is a listed trusted proxy
//! — the right-most address in `X-Forwarded-For` (else `Forwarded`) that is not itself a
//! trusted proxy. Headers from anyone else are ignored, so a client cannot pick its own source
//! address to dodge a lockout or to get someone else locked out.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// An address or a network of trusted proxies: `127.0.0.1`, `10.0.0.0/8`, `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let t = text.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let bad = || format!("{text:?} is not an address or network like 127.0.0.1 or 10.0.0.0/8");
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn trusted(list: &[Cidr], ip: IpAddr) -> bool {
    list.iter().any(|c| c.contains(ip))
}

/// The client's address for counting: see the module docs.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[Cidr]) -> IpAddr {
    if proxies.is_empty() || !trusted(proxies, peer) {
        return peer;
    }
    // `X-Forwarded-For` when present, else `Forwarded` (RFC 7239); every line, in order.
    // X-Forwarded-For first: it is what Caddy, nginx, HAProxy and Traefik set, and they
    // pass a client's own `Forwarded` through untouched, so preferring that would let the
    // client name itself.
    let hops: Vec<Option<IpAddr>> = if headers.contains_key("x-forwarded-for") {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
            .map(|h| parse_hop(h.trim()))
            .collect()
    } else {
        headers
            .get_all("forwarded")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
            .map(forwarded_for)
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            // Something we cannot read: the last proxy we trust is the best we know.
            None => return client,
            Some(ip) => {
                client = ip;
                if !trusted(proxies, ip) {
                    return ip;
                }
            }
        }
    }
    client
}

/// The `for=` of one `Forwarded` element; `None` when it has none we can read.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_hop(v.trim().trim_matches('"')))
            .flatten()
    })
}

/// `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    text.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn with(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.9.8.7")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.1.1")));
        assert!(Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.1")));
        assert!(!Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.2")));
        assert!(Cidr::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nonsense").is_err());
    }

    #[test]
    fn forwarded_headers_count_only_behind_a_trusted_proxy() {
        let proxy = [Cidr::parse("127.0.0.1").unwrap()];
        let xff = with("x-forwarded-for", &["198.51.100.1, 203.0.113.7"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &xff, &proxy), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("192.0.2.5"), &xff, &proxy), ip("192.0.2.5"));
        assert_eq!(client_ip(ip("127.0.0.1"), &xff, &[]), ip("127.0.0.1"));
        // The right-most untrusted hop: a client's own X-Forwarded-For is to its left.
        let chain = [
            Cidr::parse("127.0.0.1").unwrap(),
            Cidr::parse("10.0.0.0/8").unwrap(),
        ];
        let xff = with("x-forwarded-for", &["6.6.6.6", "203.0.113.7, 10.0.0.2"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &xff, &chain), ip("203.0.113.7"));
        // Unreadable: the nearest trusted hop.
        let junk = with("x-forwarded-for", &["203.0.113.7, garbage"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &junk, &proxy), ip("127.0.0.1"));
        let fwd = with(
            "forwarded",
            &["for=198.51.100.1, for=\"[2001:db8::7]:4711\";proto=https"],
        );
        assert_eq!(client_ip(ip("127.0.0.1"), &fwd, &proxy), ip("2001:db8::7"));
        // A client's own Forwarded does not beat the X-Forwarded-For the proxy set.
        let mut both = with("x-forwarded-for", &["203.0.113.9"]);
        both.append("forwarded", HeaderValue::from_static("for=6.6.6.6"));
        assert_eq!(client_ip(ip("127.0.0.1"), &both, &proxy), ip("203.0.113.9"));
        let none = HeaderMap::new();
        assert_eq!(client_ip(ip("127.0.0.1"), &none, &proxy), ip("127.0.0.1"));
    }
}
