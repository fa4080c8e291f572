//! The `tenantgen` binary: everything lives in the library; [`tenantgen::cli::main`] parses the
//! flags, runs the command and maps its outcome to the exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    tenantgen::cli::main()
}
