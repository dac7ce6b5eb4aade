//! The `dsi` binary: parses the command line and hands over to [`dsi_cli::main`].

fn main() -> std::process::ExitCode {
    dsi_cli::main()
}
