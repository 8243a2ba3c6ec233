//! Model architectures.

pub mod minicpm4;
