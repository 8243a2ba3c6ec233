//! `aio validate FILE`: one line per finding with its 1-based row; exit 1 on errors, 0 otherwise.

use std::{path::PathBuf, process::ExitCode};

use crate::{
    domain::Timeframe,
    ingest::{self, IngestError, LoadOptions, NoProgress},
};

/// Arguments of `aio validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Bar file to check.
    pub file: PathBuf,
    /// Instrument symbol, for its market hours (default: guessed from the file name).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Expected timeframe (default: the median bar spacing).
    #[arg(long)]
    pub timeframe: Option<Timeframe>,
    /// Spike threshold in ATR(14) multiples.
    #[arg(long, value_name = "N")]
    pub spike_atr: Option<f64>,
}

/// Runs `aio validate`.
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let path = &args.file;
    let bytes = std::fs::read(path).map_err(|source| IngestError::Read { path: path.clone(), source })?;
    let (raw, format) = match ingest::read_raw(path, bytes, &NoProgress) {
        Ok(parsed) => parsed,
        Err(IngestError::Field { path, row, field, value, reason }) => {
            println!("{}: row {row}: error: invalid value '{value}' in field '{field}': {reason}", path.display());
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => return Err(err.into()),
    };
    let options = LoadOptions { timeframe: args.timeframe, spike_atr_multiple: args.spike_atr, ..Default::default() };
    let symbol = args.symbol.clone().or_else(|| ingest::guess_symbol(path));
    let findings = ingest::validate::validate(&raw, &ingest::validate_options_for(&raw, symbol.as_deref(), &options));
    for f in &findings {
        println!("{}: {f}", path.display());
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    eprintln!(
        "{}: {} rows ({format}), {errors} error(s), {} warning(s)",
        path.display(),
        raw.len(),
        findings.len() - errors
    );
    Ok(if errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
