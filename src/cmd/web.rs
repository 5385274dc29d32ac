//! `pigeon web verify URL`: the relay that serves the web client can change it (the page
//! holds the keys once unlocked), so this compares what a relay serves with the bundle this
//! binary embeds (`relay::web`), file by file, and the Content-Security-Policy that keeps the
//! page from loading anything else.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Ctx;
use crate::cli::WebCommand;
use crate::error::{Exit, WithHint, fail};
use crate::relay::web::{ASSETS, CSP};

/// Largest answer read for one file: the bundle is far smaller; a relay cannot make this
/// command hold more.
const MAX_FILE: u64 = 16 << 20;

pub fn run(_ctx: &Ctx, cmd: WebCommand) -> Result<Exit> {
    match cmd {
        WebCommand::Verify { url } => verify(&url),
    }
}

/// What one served file turned out to be.
struct Checked {
    path: &'static str,
    sha256: String,
    expected: String,
    csp_ok: bool,
}

fn verify(url: &str) -> Result<Exit> {
    let base = super::relay::normalize_url(url)?;
    // No redirect is followed: the page runs at the address the browser opened, so a
    // redirect elsewhere means this address does not serve the page itself.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("pigeon/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut checked = Vec::new();
    for (path, embedded) in ASSETS {
        checked.push(fetch(&agent, &base, path, embedded)?);
    }
    let mut differ = Vec::new();
    for c in &checked {
        let ok = c.sha256 == c.expected && c.csp_ok;
        super::emit(
            &json!({"type": "web_file", "path": c.path, "ok": ok, "sha256": c.sha256,
            "expected": c.expected, "csp_ok": c.csp_ok}),
        )?;
        if c.sha256 != c.expected {
            differ.push(format!(
                "{base}{} differs from the page this pigeon embeds (sha256 {}, expected {})",
                c.path, c.sha256, c.expected
            ));
        }
        if !c.csp_ok {
            differ.push(format!(
                "{base}{} is served without this pigeon's Content-Security-Policy",
                c.path
            ));
        }
    }
    if differ.is_empty() {
        return Ok(Exit::Ok);
    }
    Err(fail(Exit::Crypto, differ.join("\n"))).hint(
        "do not unlock your identity in a page from this relay: it is not the web client of \
         this pigeon version (another version, or changed); use the CLI, or a relay you run",
    )
}

fn fetch(agent: &ureq::Agent, base: &str, path: &'static str, embedded: &str) -> Result<Checked> {
    let url = format!("{base}{path}");
    let mut resp = agent
        .get(&url)
        .call()
        .map_err(|e| fail(Exit::Network, format!("cannot fetch {url}: {e}")))
        .hint("check the address and that the relay is up")?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        let to = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Err(fail(
            Exit::Crypto,
            format!(
                "{url} redirects to {} (not followed): the page there is not served by this address",
                crate::output::one_line(to)
            ),
        ))
        .hint("verify the address the browser ends up at, if you mean to use that one");
    }
    if status == 404 {
        return Err(fail(
            Exit::NotFound,
            format!("{url}: 404, no web client here"),
        ))
        .hint("the relay serves the page only when started with `pigeon serve --web`");
    }
    if status != 200 {
        return Err(fail(
            Exit::Crypto,
            format!("{url} answered {status}, not the page"),
        ));
    }
    let csp_ok = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        == Some(CSP);
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_FILE)
        .read_to_vec()
        .map_err(|e| fail(Exit::Network, format!("cannot read {url}: {e}")))?;
    Ok(Checked {
        path,
        sha256: hex::encode(Sha256::digest(&body)),
        expected: hex::encode(Sha256::digest(embedded.as_bytes())),
        csp_ok,
    })
}
