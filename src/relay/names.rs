//! The relay's own names: which `Host` a signed request may name. A signature covers the
//! `Host` the client sent, so a request signed for relay A carries `Host: A`; relay B must
//! refuse it even though the signature verifies, or A could replay its users' reads and
//! deletes to B.
//!
//! The names are the authority of the bound address (with the real port when asked for
//! `:0`), `localhost:PORT` when that address is a loopback one, and every `--public-url`.
//! A relay bound to every interface (`0.0.0.0`, `[::]`) cannot know which names reach it:
//! without `--public-url` it accepts any host on its port (and warns at start); with one it
//! is strict and accepts the public names, its interface addresses and loopback on its port.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use super::netinfo;

/// The hosts this relay answers signed requests for.
#[derive(Debug, Clone)]
pub struct Names {
    exact: BTreeSet<String>,
    /// Set when the relay cannot know its names: any host on this port.
    any_host_on: Option<u16>,
}

impl Names {
    /// The names of a relay bound to `bound` and known publicly by `public_urls`.
    pub fn new(bound: SocketAddr, public_urls: &[String]) -> Names {
        let port = bound.port();
        let mut exact = BTreeSet::new();
        for u in public_urls {
            exact.extend(url_names(u));
        }
        let mut any_host_on = None;
        if bound.ip().is_unspecified() {
            if public_urls.is_empty() {
                any_host_on = Some(port);
            } else {
                exact.insert(format!("localhost:{port}"));
                exact.insert(format!("127.0.0.1:{port}"));
                if bound.is_ipv6() {
                    exact.insert(format!("[::1]:{port}"));
                }
                for j in netinfo::join_urls(bound) {
                    exact.insert(normalize(crate::wire::url_authority(&j)));
                }
            }
        } else {
            exact.insert(bound.to_string());
            if bound.ip().is_loopback() {
                exact.insert(format!("localhost:{port}"));
            }
        }
        Names { exact, any_host_on }
    }

    /// Whether the relay knows every name it answers to (false: any host on its port).
    pub fn is_strict(&self) -> bool {
        self.any_host_on.is_none()
    }

    /// Whether a request whose `Host` header is `host` was meant for this relay.
    pub fn accepts(&self, host: &str) -> bool {
        let host = normalize(host);
        if host.is_empty() {
            return false;
        }
        if self.exact.contains(&host) {
            return true;
        }
        match self.any_host_on {
            Some(port) => port_of(&host).unwrap_or(80) == port,
            None => false,
        }
    }

    /// For error messages and the start-up note.
    pub fn describe(&self) -> String {
        let mut list: Vec<&str> = self.exact.iter().map(String::as_str).collect();
        let any;
        if let Some(p) = self.any_host_on {
            any = format!("any host on port {p}");
            list.push(&any);
        }
        list.join(", ")
    }
}

/// Lowercase, as hosts compare without case.
fn normalize(host: &str) -> String {
    host.trim().to_ascii_lowercase()
}

/// The port of `host[:port]` or `[v6]:port`; `None` when it names none.
fn port_of(host: &str) -> Option<u16> {
    let after_v6 = host.rfind(']').map_or(0, |i| i + 1);
    let tail = &host[after_v6..];
    tail.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// The authorities a URL can arrive as: as written, and with or without its scheme's
/// default port (a client writes `https://relay.example`; some send `relay.example:443`).
fn url_names(url: &str) -> Vec<String> {
    let auth = normalize(crate::wire::url_authority(url));
    if auth.is_empty() {
        return Vec::new();
    }
    let default = if url.to_ascii_lowercase().starts_with("https://") {
        443
    } else {
        80
    };
    let mut out = vec![auth.clone()];
    match port_of(&auth) {
        Some(p) if p == default => {
            let cut = auth.len() - p.to_string().len() - 1;
            out.push(auth[..cut].to_string());
        }
        Some(_) => {}
        None => out.push(format!("{auth}:{default}")),
    }
    out
}

/// Checks a `--public-url` value: `http(s)://host[:port]`, nothing after the authority but
/// an optional `/`.
pub fn check_public_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    let auth = rest.strip_suffix('/').unwrap_or(rest);
    if auth.is_empty() || auth.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{url:?} must be a relay's base URL like https://relay.example or http://pi.local:7447"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_loopback_address_names_itself_and_localhost() {
        let n = Names::new("127.0.0.1:7447".parse().unwrap(), &[]);
        assert!(n.is_strict());
        assert!(n.accepts("127.0.0.1:7447"));
        assert!(n.accepts("LOCALHOST:7447"));
        assert!(!n.accepts("127.0.0.1:7448"));
        assert!(!n.accepts("[::1]:7447"), "not bound there");
        assert!(!n.accepts("relay.example:7447"));
        assert!(!n.accepts(""));
        let v6 = Names::new("[::1]:9".parse().unwrap(), &[]);
        assert!(v6.accepts("[::1]:9") && v6.accepts("localhost:9"));
        assert!(!v6.accepts("127.0.0.1:9"));
    }

    #[test]
    fn public_urls_add_names_with_and_without_their_default_port() {
        let n = Names::new(
            "127.0.0.1:7447".parse().unwrap(),
            &[
                "https://Relay.Example/".into(),
                "http://pi.local:8080".into(),
            ],
        );
        assert!(n.accepts("relay.example"));
        assert!(n.accepts("relay.example:443"));
        assert!(!n.accepts("relay.example:80"));
        assert!(n.accepts("pi.local:8080"));
        assert!(!n.accepts("pi.local"));
        assert!(n.accepts("127.0.0.1:7447"));
    }

    #[test]
    fn all_interfaces_is_lenient_on_its_port_until_public_urls_are_given() {
        let lenient = Names::new("0.0.0.0:7447".parse().unwrap(), &[]);
        assert!(!lenient.is_strict());
        assert!(lenient.accepts("anything.example:7447"));
        assert!(lenient.accepts("[::1]:7447"));
        assert!(!lenient.accepts("anything.example:7448"));
        assert!(!lenient.accepts("anything.example"), "port 80");
        let strict = Names::new(
            "0.0.0.0:7447".parse().unwrap(),
            &["https://relay.example".into()],
        );
        assert!(strict.is_strict());
        assert!(strict.accepts("relay.example"));
        assert!(strict.accepts("localhost:7447"));
        assert!(strict.accepts("127.0.0.1:7447"));
        assert!(!strict.accepts("other.example:7447"));
    }

    #[test]
    fn public_urls_are_checked() {
        assert!(check_public_url("https://relay.example").is_ok());
        assert!(check_public_url("http://pi.local:7447/").is_ok());
        assert!(check_public_url("relay.example").is_err());
        assert!(check_public_url("https://relay.example/v1").is_err());
        assert!(check_public_url("https://").is_err());
    }
}
