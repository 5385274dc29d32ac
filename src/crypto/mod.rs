//! age and OpenPGP behind one interface: bytes in, bytes out. No I/O.

/// The two kinds of identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Age,
    Pgp,
}
