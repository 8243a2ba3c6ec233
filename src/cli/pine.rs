//! `aio pine generate | check | fix`: Pine Script v5 from a strategy spec, the validator's diagnostics
//! (`file:line:col: message`, exit 1 on errors) and the automatic fixer.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;

use crate::{
    ingest::write_atomically,
    pine::{self, Severity},
    strategy::StrategySpec,
};

/// Arguments of `aio pine`.
#[derive(Debug, clap::Args)]
pub struct PineArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PineCommand,
}

/// `aio pine` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PineCommand {
    /// Write the Pine Script v5 of a strategy spec (validated before it is written).
    Generate {
        /// Strategy spec (JSON).
        #[arg(long)]
        strategy: PathBuf,
        /// Output .pine file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate Pine scripts; prints `file:line:col: message` and exits 1 if any file has errors.
    Check {
        /// Scripts to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Repair common generated-code mistakes (line breaks inside calls, `when=`, v4 names) and re-validate.
    Fix {
        /// Script to repair.
        file: PathBuf,
        /// Where to write the repaired script (default: in place).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn has_errors(diagnostics: &[pine::Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}

fn write_text(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    write_atomically(path, |f| std::io::Write::write_all(f, text.as_bytes()).map_err(|e| e.to_string()))?;
    Ok(())
}

/// Runs `aio pine`.
pub fn run(args: PineArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PineCommand::Generate { strategy, out } => {
            let text = std::fs::read_to_string(&strategy).with_context(|| format!("reading {}", strategy.display()))?;
            let spec = StrategySpec::from_json(&text).with_context(|| format!("in {}", strategy.display()))?;
            let script = pine::generate_pine(&spec);
            let diagnostics = pine::check(&script);
            if has_errors(&diagnostics) {
                eprint!("{}", pine::format_diagnostics("<generated>", &diagnostics));
                anyhow::bail!("the generated script does not validate; this is a bug, please report it with the spec");
            }
            match out {
                Some(path) => {
                    write_text(&path, &script)?;
                    eprintln!("{} lines of Pine Script v5 -> {}", script.lines().count(), path.display());
                }
                None => print!("{script}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        PineCommand::Check { files } => {
            let mut failed = false;
            for file in &files {
                let name = file.display().to_string();
                let source = match std::fs::read(file) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(e) => {
                        println!("{name}: cannot read: {e}");
                        failed = true;
                        continue;
                    }
                };
                let diagnostics = pine::check(&source);
                print!("{}", pine::format_diagnostics(&name, &diagnostics));
                failed |= has_errors(&diagnostics);
            }
            Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        PineCommand::Fix { file, out } => {
            let source = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let report = pine::fix(&source);
            let name = file.display().to_string();
            for change in &report.changes {
                eprintln!("{name}: fixed: {change}");
            }
            let target = out.unwrap_or_else(|| file.clone());
            if report.changes.is_empty() {
                eprintln!("{name}: nothing to fix");
            } else {
                write_text(&target, &report.source)?;
                eprintln!("{} change(s) -> {}", report.changes.len(), target.display());
            }
            print!("{}", pine::format_diagnostics(&target.display().to_string(), &report.remaining));
            Ok(if has_errors(&report.remaining) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}
