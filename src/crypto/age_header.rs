//! An age file held in memory, read so that the `age` crate parses its header once.
//!
//! `age::Decryptor::new_buffered` reads the header a line at a time and parses all of what
//! it has read after every line, so a header of n stanzas costs O(n²) parsing: a group
//! message sealed to 75 members is about 150 parses of up to 7 KB each, more CPU than the
//! X25519 agreement that opens it. Here the whole header (through its `---` MAC line) is
//! there already, so [`WholeHeader`] hands it to the parser at the first line it asks
//! for. The parser sees the same bytes and checks them the same way (the MAC too); only
//! the parses of partial headers are left out.

use std::io::{self, BufRead, Read};

/// A binary age file in memory whose first line read is its whole header.
pub(crate) struct WholeHeader<'a> {
    rest: &'a [u8],
    first: bool,
}

impl<'a> WholeHeader<'a> {
    pub(crate) fn new(file: &'a [u8]) -> Self {
        WholeHeader {
            rest: file,
            first: true,
        }
    }
}

impl Read for WholeHeader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rest.read(buf)
    }
}

impl BufRead for WholeHeader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.rest)
    }

    fn consume(&mut self, amt: usize) {
        self.rest = &self.rest[amt.min(self.rest.len())..];
    }

    fn read_until(&mut self, byte: u8, buf: &mut Vec<u8>) -> io::Result<usize> {
        let whole = (byte == b'\n' && std::mem::take(&mut self.first))
            .then(|| header_len(self.rest))
            .flatten();
        let n = whole.unwrap_or_else(|| {
            (self.rest.iter().position(|&b| b == byte)).map_or(self.rest.len(), |i| i + 1)
        });
        buf.extend_from_slice(&self.rest[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// The length of a binary age v1 header: through the end of its first line that starts
/// with `---` (the MAC line; stanza lines start with `->`, their bodies are base64).
/// `None` when there is none: then lines are read one by one, as the crate does.
fn header_len(file: &[u8]) -> Option<usize> {
    if !file.starts_with(b"age-encryption.org/v1\n") {
        return None;
    }
    let mac = file.windows(4).position(|w| w == b"\n---")? + 1;
    let end = file[mac..].iter().position(|&b| b == b'\n')?;
    Some(mac + end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = b"age-encryption.org/v1\n-> X25519 abc\nQUJD\n--- bWFj\n\x00nonce";

    #[test]
    fn the_first_line_is_the_whole_header_then_lines_and_bytes_follow() {
        let mut r = WholeHeader::new(FILE);
        let mut line = Vec::new();
        assert_eq!(r.read_until(b'\n', &mut line).unwrap(), FILE.len() - 6);
        assert_eq!(line, &FILE[..FILE.len() - 6]);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"\x00nonce");
    }

    #[test]
    fn without_a_mac_line_lines_come_one_by_one() {
        let file = b"age-encryption.org/v1\n-> X25519 abc\nQUJD\n";
        let mut r = WholeHeader::new(file);
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line).unwrap();
        assert_eq!(line, b"age-encryption.org/v1\n");
        assert_eq!(header_len(b"age-encryption.org/v2\n--- x\n"), None);
    }
}
