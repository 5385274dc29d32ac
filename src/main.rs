fn main() {
    std::process::exit(pigeon::run(std::env::args_os()));
}
