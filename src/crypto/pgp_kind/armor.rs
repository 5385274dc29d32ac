//! A short way through the ASCII armor of a key (RFC 9580 §6.2), for the layout sequoia
//! and GnuPG write. A card carries its OpenPGP cert armored, and a send to a group parses a
//! cert for every OpenPGP member: in one send to 24 of them, sequoia read a 1.7 kB armored
//! cert in 94-135 µs; decoded here (2-4 µs), then parsed as binary, 77-115 µs
//! (docs/benchmarks.md). Anything but the plain layout is left to sequoia's own, tolerant,
//! reader.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sequoia_openpgp::Cert;
use sequoia_openpgp::parse::Parse;

/// A cert or key from its bytes, armored or binary: through [`decode`] when it can.
pub(super) fn cert_from_bytes(data: &[u8]) -> anyhow::Result<Cert> {
    Cert::from_bytes(decode(data).as_deref().unwrap_or(data))
}

/// The binary packets of an armored key or key ring, or `None` when the text is not in the
/// plain layout: the `BEGIN` line first, `Key: value` headers up to a blank line, base64
/// lines, an optional CRC-24 line, the matching `END` line, then nothing but white space.
/// The CRC-24 is not checked, as sequoia does not: RFC 9580 §6.1 says an implementation
/// must not reject an object for it.
pub(super) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text.lines().map(str::trim_end);
    let label = lines
        .next()?
        .strip_prefix("-----BEGIN PGP ")?
        .strip_suffix("-----")?;
    if !matches!(label, "PUBLIC KEY BLOCK" | "PRIVATE KEY BLOCK") {
        return None;
    }
    for header in lines.by_ref() {
        if header.is_empty() {
            break;
        }
        if !header.contains(": ") {
            return None;
        }
    }
    let mut base64 = String::with_capacity(text.len());
    let mut crc = false;
    let mut ended = false;
    for line in lines.by_ref() {
        if let Some(rest) = line.strip_prefix("-----END PGP ") {
            if rest.strip_suffix("-----")? != label {
                return None;
            }
            ended = true;
            break;
        }
        if crc || line.is_empty() {
            return None;
        }
        if line.len() == 5 && line.starts_with('=') {
            crc = true;
            continue;
        }
        base64.push_str(line);
    }
    if !ended || lines.any(|l| !l.trim_start().is_empty()) {
        return None;
    }
    STANDARD.decode(base64).ok()
}

#[cfg(test)]
mod tests {
    use sequoia_openpgp::armor;
    use sequoia_openpgp::serialize::SerializeInto;

    use super::*;

    fn cert() -> Cert {
        super::super::generate("alice").unwrap()
    }

    fn armored(cert: &Cert) -> String {
        String::from_utf8(cert.armored().to_vec().unwrap()).unwrap()
    }

    #[test]
    fn a_cert_as_sequoia_armors_it_is_its_binary_packets() {
        let cert = cert();
        let text = armored(&cert);
        assert!(text.contains("Comment: "), "headers are read past: {text}");
        assert_eq!(decode(text.as_bytes()).unwrap(), cert.to_vec().unwrap());
        let secret = cert.as_tsk().armored().to_vec().unwrap();
        assert!(secret.starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----"));
        assert_eq!(decode(&secret).unwrap(), cert.as_tsk().to_vec().unwrap());
    }

    #[test]
    fn gnupg_layout_with_crc_and_crlf_is_read() {
        let cert = cert();
        let binary = cert.to_vec().unwrap();
        // What `gpg --armor --export` writes: no header, 64 columns, a CRC-24 line.
        let mut w = armor::Writer::new(Vec::new(), armor::Kind::PublicKey).unwrap();
        std::io::Write::write_all(&mut w, &binary).unwrap();
        let text = String::from_utf8(w.finalize().unwrap()).unwrap();
        let body: Vec<&str> = text.lines().collect();
        let end = body.len() - 1;
        let gpg = format!(
            "{}\n\n{}\n=AbCd\n{}\n",
            body[0],
            body[1..end]
                .iter()
                .filter(|l| !l.is_empty() && !l.starts_with('='))
                .copied()
                .collect::<Vec<_>>()
                .join("\n"),
            body[end]
        );
        assert_eq!(decode(gpg.as_bytes()).unwrap(), binary, "{gpg}");
        assert_eq!(
            decode(gpg.replace('\n', "\r\n").as_bytes()).unwrap(),
            binary
        );
        // sequoia reads the same cert from it, the CRC-24 unchecked there too.
        assert_eq!(Cert::from_bytes(gpg.as_bytes()).unwrap(), cert);
    }

    #[test]
    fn anything_else_is_left_to_sequoia() {
        let text = armored(&cert());
        let lines: Vec<&str> = text.lines().collect();
        let end = lines.len() - 1;
        let swap = |at: usize, l: &str| {
            let mut v = lines.clone();
            v[at] = l;
            v.join("\n")
        };
        let bad_base64 = format!("!{}", &lines[end - 1][1..]);
        let cases = [
            format!("\n{text}"),
            format!("junk\n{text}"),
            format!("{text}trailing"),
            text.replacen("PUBLIC KEY BLOCK", "MESSAGE", 2),
            swap(end, "-----END PGP PRIVATE KEY BLOCK-----"),
            swap(end, "-----END PGP PUBLIC KEY BLOCK"),
            text.replacen("\n\n", "\n", 1),
            text.replacen("Comment: ", "Comment:", 1),
            swap(end - 1, &bad_base64),
            lines[..end].join("\n"),
            format!(
                "{}\n=AbCd\n{}",
                lines[..end - 1].join("\n"),
                lines[end - 1..].join("\n")
            ),
        ];
        for case in &cases {
            assert_eq!(decode(case.as_bytes()), None, "{case}");
        }
        assert_eq!(decode(&[0xff, 0xfe]), None);
        // sequoia still reads what this does not: the same cert either way.
        let cert = super::super::parse_public(&text).unwrap();
        assert_eq!(super::super::parse_public(&cases[0]).unwrap(), cert);
        assert_eq!(super::super::parse_public(&cases[1]).unwrap(), cert);
    }
}
