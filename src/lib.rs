//! AI-Indicator-Optimizer: a native trading workstation.
//!
//! Data flows one way: `domain` (bars, ticks, timeframes, instruments) imports nothing of ours; the logic
//! modules (`ingest`, `indicators`, `patterns`, `strategy`, `backtest`, `pine`, `store`, `ai`) import `domain` and each
//! other downstream only; `gui` and `cli` are the edges
//! that call everything and are called by nothing. Long work runs off the UI thread and reports progress.

pub mod ai;
pub mod backtest;
pub mod cli;
pub mod domain;
pub mod gui;
pub mod indicators;
pub mod ingest;
pub mod patterns;
pub mod pine;
pub mod render;
pub mod store;
pub mod strategy;
