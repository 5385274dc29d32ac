//! Integration tests: the real binary, real files, real sockets on loopback.

mod harness;
mod relay;
