use std::process::ExitCode;

fn main() -> ExitCode {
    tenantgen::cli::main()
}
