//! `pigeond`: `pigeon serve` without the messaging client, for small hosts.

fn main() {
    std::process::exit(pigeon::run_relay(std::env::args_os()));
}
