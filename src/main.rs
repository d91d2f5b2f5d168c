fn main() -> std::process::ExitCode {
    rogue_hunter::cli::main()
}
