//! The panels shown in dock tabs; each is a small struct with a `ui` method.

pub mod analysis;
pub mod backtest;
pub mod chart;
pub mod data;
pub mod download;
pub mod library;
pub mod log;
pub mod patterns;
pub mod pine;
