//! One integration-test binary: every test drives the real `pigeon` binary.

mod generated;
mod identity;
mod interop;
mod messaging;
mod users;
