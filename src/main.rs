//! `aio`: with no subcommand opens the workstation (on FILE, the last file, or the embedded sample);
//! subcommands run the same jobs headless.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let started = std::time::Instant::now();
    let args = aio::cli::Cli::parse();
    aio::cli::run(args, started)
}
