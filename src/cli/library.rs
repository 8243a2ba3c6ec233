//! `aio library [path|list|check]`: where the library is, what it holds, whether it is healthy.

use std::process::ExitCode;

use crate::{domain::format_ts_nanos, store::Library};

/// Arguments of `aio library`.
#[derive(Debug, clap::Args)]
pub struct LibraryArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: Option<LibraryAction>,
}

/// Library actions.
#[derive(Debug, clap::Subcommand)]
pub enum LibraryAction {
    /// Print the library file's path.
    Path,
    /// List datasets and strategies (the default).
    List,
    /// Run SQLite's integrity check.
    Check,
}

/// Runs `aio library`.
pub fn run(args: LibraryArgs, library: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let path = Library::resolve_path(library)?;
    match args.action.unwrap_or(LibraryAction::List) {
        LibraryAction::Path => println!("{}", path.display()),
        LibraryAction::List => {
            let lib = Library::open(&path)?;
            println!("library {} (schema v{})", path.display(), lib.schema_version()?);
            let datasets = lib.datasets()?;
            println!("{} dataset(s)", datasets.len());
            for d in datasets {
                let v = &d.dataset;
                println!(
                    "  #{:<4} {:<10} {:<4} {:>9} rows  {} … {}  {}",
                    d.id.0,
                    v.symbol.as_deref().unwrap_or("?"),
                    v.timeframe.as_deref().unwrap_or("?"),
                    v.rows,
                    format_ts_nanos(v.first_ts_nanos),
                    format_ts_nanos(v.last_ts_nanos),
                    v.source_path
                );
            }
            let strategies = lib.strategies()?;
            println!("{} strateg{}", strategies.len(), if strategies.len() == 1 { "y" } else { "ies" });
            for s in strategies {
                println!("  #{:<4} {}", s.id.0, s.name);
            }
        }
        LibraryAction::Check => {
            let report = Library::open(&path)?.integrity_check()?;
            for line in &report {
                println!("{line}");
            }
            if report != ["ok"] {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
