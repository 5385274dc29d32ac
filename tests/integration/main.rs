//! One integration-test binary: every test drives the real `pigeon` binary, with real
//! files, real relays on 127.0.0.1 and the real `age` and `gpg` programs.

mod adversarial_client;
mod adversarial_relay;
mod deps;
mod export;
mod fanout;
mod generated;
mod groups;
mod harness;
mod hygiene;
mod identity;
mod interop;
mod keep_for;
mod messaging;
mod outbox;
mod relay;
mod send_input;
mod tracker;
mod tracker_client;
mod users;
mod web;
