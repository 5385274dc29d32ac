//! `--announce-to`: the relay tells trackers where it is, at start and every hour, so
//! `pigeon tracker relays` can list it for newcomers. A tracker that is down is tried again
//! next time; nothing here stops the relay.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::App;
use super::netinfo;
use crate::wire;

/// How often the relay announces itself again (trackers forget relays not seen for days).
const EVERY: Duration = Duration::from_secs(3600);
/// How long one announcement may take.
const TIMEOUT: Duration = Duration::from_secs(10);

pub async fn announcer(app: Arc<App>, addr: SocketAddr) {
    // The URL clients use: the first public one, else the bound address (only useful on a
    // LAN or in tests); bound to all interfaces, a local address of this host, since
    // `0.0.0.0` reaches nobody (trackers refuse it).
    let Some(url) = (app.cfg.public_urls.first().cloned())
        .or_else(|| netinfo::join_urls(addr).into_iter().next())
    else {
        eprintln!(
            "pigeon relay: not announcing to trackers: no --public-url and no local address found"
        );
        return;
    };
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for tracker in app.cfg.announce_to.clone() {
            let url = url.clone();
            let done = tokio::task::spawn_blocking(move || announce(&tracker, &url)).await;
            if let Ok(Err(e)) = done {
                eprintln!("pigeon relay: announcing to a tracker: {e}");
            }
        }
    }
}

fn announce(tracker: &str, url: &str) -> Result<(), String> {
    // A redirect is not followed: the tracker named would make this relay post to any URL.
    let agent = super::outgoing::agent(TIMEOUT);
    let endpoint = format!("{}/v1/relays", tracker.trim_end_matches('/'));
    let body = wire::RelayAnnounce {
        v: wire::V,
        url: url.to_string(),
    };
    let resp = agent
        .post(&endpoint)
        .send_json(&body)
        .map_err(|e| format!("{endpoint}: {e}"))?;
    if let Some(note) = super::outgoing::redirect_note(&resp) {
        return Err(format!("{endpoint}: {note}"));
    }
    if resp.status().is_success() {
        Ok(())
    } else if resp.status() == 401 {
        Err(format!(
            "{endpoint} answered 401: this tracker takes announcements only with its password"
        ))
    } else {
        Err(format!("{endpoint} answered {}", resp.status()))
    }
}
