//! Local language models: MiniCPM4 / MiniCPM4.1 checkpoints loaded from Hugging Face folders and run by our own
//! engine on candle tensors (CPU), with int4 weights kept packed, sampling, schema-constrained JSON and a worker
//! thread behind a request channel; MiniCPM-V 4.0 checkpoints add the vision path ([`vision`]) that turns a chart
//! image into feature vectors in the LLM's prompt; and the analysis loop ([`orchestrator`]) that turns a chart
//! into a backtested strategy. May import `domain`, `strategy` and `patterns` (for schemas); the orchestrator also
//! `render`, `backtest`, `pine` and `store`; never `gui` or `cli`.

pub mod config;
pub mod constrain;
pub mod engine;
pub mod generate;
pub mod half_matrix;
pub mod hub;
pub mod linear;
pub mod models;
pub mod orchestrator;
pub mod quant;
pub mod sampling;
pub mod tokenizer;
pub mod vision;
pub mod weights;

use std::path::PathBuf;

/// Errors of loading and running a model. Messages name the field, tensor and file involved.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// A file could not be read.
    #[error("{source}: {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `config.json` (or another JSON settings file) is wrong.
    #[error("{message} in {path}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A checkpoint file is unusable as a whole (missing shard, bad header, truncated).
    #[error("{message}: {path}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// One tensor is missing or has the wrong shape or dtype.
    #[error("tensor {tensor}: {message} in {path}")]
    Tensor {
        /// The file holding it (or the folder when missing).
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer or chat template failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A request cannot be served as asked (empty prompt, bad sampling setting, schema).
    #[error("{0}")]
    Request(String),
    /// The engine thread has stopped.
    #[error("the inference engine has stopped")]
    EngineStopped,
    /// A tensor operation failed (a bug or an impossible shape, not user data).
    #[error("tensor op: {0}")]
    Candle(#[from] candle_core::Error),
}
