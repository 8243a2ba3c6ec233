//! Strategies as data: the typed, versioned JSON spec ([`StrategySpec`]) that the backtester runs and the Pine
//! generator writes, its JSON Schema (what the language model is constrained by) and the guardrails that reject
//! a spec with a reason. Imports `domain` and `indicators` only.

mod guardrails;
mod schema;
mod spec;
mod words;

pub use guardrails::{Guardrails, MarketContext, check_guardrails, stop_distance};
pub use schema::{check_against_schema, json_schema};
pub use spec::{
    AtrLevel, Condition, Costs, IndicatorDef, IndicatorKind, Level, Operand, PRICE_FIELDS, SPEC_VERSION, SeriesRef,
    Sizing, StrategySpec, is_identifier,
};
pub use words::{describe, describe_condition};

/// Errors of strategy specs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyError {
    /// The text is not JSON of the spec's shape.
    #[error("strategy JSON, line {line} column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's message.
        message: String,
    },
    /// A field holds a value the spec does not allow.
    #[error("strategy field `{field}`: {message}")]
    Invalid {
        /// Path of the field (`long_entry.all[1].gt[0]`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A guardrail rejected the spec.
    #[error("guardrail `{rule}`: {message}")]
    Guardrail {
        /// The rule (`max_units`, `stop_required` …).
        rule: &'static str,
        /// Why.
        message: String,
    },
}
