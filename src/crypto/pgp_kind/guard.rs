//! Defences around sequoia's message parser for input from strangers: inputs that make
//! sequoia-openpgp 2.4 panic are refused before it sees them, and a panic that still happens
//! becomes an error, so one hostile message cannot stop a `recv` run.
//!
//! Both known panics are at one `unwrap` in sequoia's decryptor (parse.rs, "Consume the
//! header. This shouldn't fail"): it consumes the encrypted packet's random prefix from a
//! reader that holds back the 22-byte MDC, and fails when fewer bytes are there than it saw
//! before. The fuzz target `open_pgp` and `prop_tests` found them; the inputs are in
//! `fuzz/regressions/open_pgp/`.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::{Context, Result, anyhow, bail};
use sequoia_openpgp as openpgp;

use openpgp::Packet;
use openpgp::parse::{PacketParser, PacketParserResult, Parse};

/// The largest block (16) plus the 2 check bytes of the CFB prefix, plus the MDC packet (22):
/// no SEIPDv1 body shorter than this holds a message.
const MIN_SEIP_BODY: usize = 16 + 2 + 22;

/// The binary packets of an armored message (the input itself when it is binary).
///
/// sequoia's streaming armor reader can read a damaged armor (a byte that is not base64 just
/// after the encrypted packet's header) differently the second time, and its decryptor then
/// panics. Decoding the armor in full first makes a damaged armor an error.
pub(crate) fn dearmor(ciphertext: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    if !super::looks_armored(ciphertext) {
        return Ok(std::borrow::Cow::Borrowed(ciphertext));
    }
    let mut reader =
        openpgp::armor::Reader::from_bytes(ciphertext, openpgp::armor::ReaderMode::Tolerant(None));
    let mut out = Vec::with_capacity(ciphertext.len() / 4 * 3);
    reader
        .read_to_end(&mut out)
        .context("the armored OpenPGP message is damaged (its ASCII armor does not decode)")?;
    Ok(std::borrow::Cow::Owned(out))
}

/// Refuses a message whose encrypted packet (at the top level) is too short to be one: a
/// truncated message, which sequoia's decryptor would panic on. Anything the parser cannot
/// read is left for the decryptor to report.
pub(crate) fn refuse_truncated(binary: &[u8]) -> Result<()> {
    let Ok(mut ppr) = PacketParser::from_bytes(binary) else {
        return Ok(());
    };
    while let PacketParserResult::Some(mut pp) = ppr {
        if let Packet::SEIP(_) = pp.packet {
            let body = pp.buffer_unread_content().map_or(0, |b| b.len());
            if body < MIN_SEIP_BODY {
                bail!(
                    "the OpenPGP message is truncated (its encrypted packet holds {body} bytes); \
                     it was damaged on the way or forged"
                );
            }
        }
        match pp.next() {
            Ok((_, next)) => ppr = next,
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Runs `f`, turning a panic inside sequoia into an error (the panic message still reaches
/// stderr through the panic hook).
pub(crate) fn no_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(anyhow!(
            "the OpenPGP parser failed on this message (a bug in sequoia-openpgp); refused"
        ))
    })
}
