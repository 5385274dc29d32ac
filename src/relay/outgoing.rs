//! Requests the servers make themselves (a relay announcing itself to trackers, a tracker
//! pulling and pushing cards with its peers): one agent configuration for them all.
//!
//! No redirect is followed: the URL is the operator's, but the answer is the other
//! server's, and a 3xx would make this server send its request (and body) to any URL it
//! names, from inside the operator's network (a blind SSRF). A 3xx is an error, logged.

use std::time::Duration;

/// An agent with `timeout` for each whole call, statuses as answers, and no redirects.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// A 3xx answer, said as such: where it pointed, and that it was not followed.
pub fn redirect_note(resp: &ureq::http::Response<ureq::Body>) -> Option<String> {
    if !resp.status().is_redirection() {
        return None;
    }
    let to: String = resp
        .headers()
        .get("location")
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(200)
                .collect()
        })
        .unwrap_or_default();
    Some(crate::output::one_line(&format!(
        "HTTP {} redirecting to {to:?}: redirects are not followed",
        resp.status().as_u16()
    )))
}
