//! The addresses people can join a relay by, read from `/proc` (Linux) without extra crates.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// URLs to reach a relay bound to `addr`: itself when bound to one address; when bound to all
/// interfaces, every local non-loopback address of that family (IPv4 too for `[::]`, which
/// usually accepts both).
pub fn join_urls(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    if !addr.ip().is_unspecified() {
        return vec![url(addr)];
    }
    let mut ips: Vec<IpAddr> = ipv4_addrs(&read("/proc/self/net/fib_trie"))
        .into_iter()
        .map(IpAddr::V4)
        .collect();
    if addr.is_ipv6() {
        ips.extend(
            ipv6_addrs(&read("/proc/self/net/if_inet6"))
                .into_iter()
                .map(IpAddr::V6),
        );
    }
    ips.into_iter()
        .map(|ip| url(SocketAddr::new(ip, port)))
        .collect()
}

/// `http://ADDR`, with brackets around IPv6.
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Local IPv4 addresses from `/proc/net/fib_trie` (read through `/proc/self`, which stays
/// visible under systemd's `ProcSubset=pid`): a `|-- A.B.C.D` line followed by a
/// `/32 host LOCAL` line names an address of this host.
fn ipv4_addrs(fib_trie: &str) -> BTreeSet<Ipv4Addr> {
    let mut out = BTreeSet::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in fib_trie.lines() {
        let t = line.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            last = a.parse().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(ip) = last.filter(|ip| !ip.is_loopback()) {
                out.insert(ip);
            }
        } else if !t.starts_with('/') {
            last = None;
        }
    }
    out
}

/// Global IPv6 addresses from `/proc/net/if_inet6` (scope 00); link-local ones need an
/// interface name to be usable, so they are left out.
fn ipv6_addrs(if_inet6: &str) -> BTreeSet<Ipv6Addr> {
    let mut out = BTreeSet::new();
    for line in if_inet6.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || f[3] != "00" || f[0].len() != 32 {
            continue;
        }
        if let Ok(n) = u128::from_str_radix(f[0], 16) {
            let ip = Ipv6Addr::from(n);
            if !ip.is_loopback() {
                out.insert(ip);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fib_trie_and_if_inet6() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
            \x20    +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n\
            \x20    |-- 192.168.1.5\n        /32 link BROADCAST\n        /32 host LOCAL\n\
            \x20    |-- 192.168.1.255\n        /32 link BROADCAST\n\
            Local:\n     |-- 192.168.1.5\n        /32 host LOCAL\n";
        let v4: Vec<_> = ipv4_addrs(fib).into_iter().collect();
        assert_eq!(v4, vec![Ipv4Addr::new(192, 168, 1, 5)]);
        let inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n\
            fe800000000000000000000000000001 02 40 20 80     eth0\n\
            20010db8000000000000000000000005 02 40 00 00     eth0\n";
        let v6: Vec<_> = ipv6_addrs(inet6).into_iter().collect();
        assert_eq!(v6, vec!["2001:db8::5".parse::<Ipv6Addr>().unwrap()]);
    }

    #[test]
    fn a_specific_address_is_its_own_url() {
        let a: SocketAddr = "127.0.0.1:7447".parse().unwrap();
        assert_eq!(join_urls(a), vec!["http://127.0.0.1:7447"]);
        let a: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(url(a), "http://[::1]:80");
    }
}
