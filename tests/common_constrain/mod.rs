//! Shared helpers of the constrained-decoding tests: the three schemas, a seeded sampler and the decode loop.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use aio::ai::constrain::{ConstrainError, ConstraintMatcher, JsonConstraint};
use serde_json::{Value, json};

/// The tiny MiniCPM4 tokenizer (512 tokens, byte-level BPE).
pub fn tiny_tokenizer() -> tokenizers::Tokenizer {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/minicpm4/tiny-f32/tokenizer.json");
    tokenizers::Tokenizer::from_file(path).expect("tokenizer fixture loads")
}

/// `</s>` and `<|im_end|>`.
pub const EOS: [u32; 2] = [2, 3];

/// xorshift64* — seeded, dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Roughly standard normal (Irwin–Hall with 4 terms, rescaled).
    pub fn normal(&mut self) -> f32 {
        ((self.unit() + self.unit() + self.unit() + self.unit()) - 2.0) * 1.732
    }
}

/// Softmax sampling at temperature 1 over finite logits.
pub fn sample(logits: &[f32], rng: &mut Rng) -> u32 {
    let max = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f32> = logits.iter().map(|&l| if l.is_finite() { (l - max).exp() } else { 0.0 }).collect();
    let total: f32 = weights.iter().sum();
    let mut pick = rng.unit() * total;
    for (i, w) in weights.iter().enumerate() {
        if *w > 0.0 {
            if pick < *w {
                return i as u32;
            }
            pick -= *w;
        }
    }
    weights.iter().rposition(|w| *w > 0.0).expect("some token allowed") as u32
}

/// One constrained generation.
pub struct Run {
    pub ids: Vec<u32>,
    pub finished: bool,
    pub mask_time: Duration,
    pub steps: usize,
}

/// Random logits (`pad` extra ids past the vocabulary), masked, sampled, accepted, until finished or EOS or budget.
pub fn generate(constraint: &JsonConstraint, seed: u64, budget: usize, pad: usize) -> Run {
    let vocab = constraint.vocab_size();
    let mut m: ConstraintMatcher = constraint.matcher().expect("matcher");
    let mut rng = Rng::new(seed);
    let mut logits = vec![0f32; vocab + pad];
    let mut ids = Vec::new();
    let mut mask_time = Duration::ZERO;
    let mut steps = 0;
    while ids.len() < budget && !m.is_finished() {
        for l in logits.iter_mut() {
            *l = rng.normal() * 2.0;
        }
        let t0 = Instant::now();
        m.mask_logits(&mut logits).expect("mask");
        mask_time += t0.elapsed();
        steps += 1;
        assert!(logits[vocab..].iter().all(|l| *l == f32::NEG_INFINITY), "pad ids must be masked");
        assert!(logits.iter().any(|l| l.is_finite()), "seed {seed}: nothing allowed after {} tokens", ids.len());
        let token = sample(&logits, &mut rng);
        m.accept(token).expect("sampled token accepted");
        if EOS.contains(&token) {
            break;
        }
        ids.push(token);
    }
    Run { finished: m.is_finished(), ids, mask_time, steps }
}

/// The text of `ids`.
pub fn decode(tokenizer: &tokenizers::Tokenizer, ids: &[u32]) -> String {
    tokenizer.decode(ids, false).expect("decodes")
}

/// Errors unless `value` validates against `schema` (the `jsonschema` crate, draft 2020-12).
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("schema: {e}"))?;
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

/// Asserts that `err` is a rejected token.
pub fn assert_not_allowed(err: ConstrainError) {
    assert!(matches!(err, ConstrainError::TokenNotAllowed { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------

/// Copied from `src/strategy/spec.rs`.
pub const PRICE_FIELDS: [&str; 8] = ["open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4"];

/// The strategy spec schema of the strategy module.
pub fn strategy_schema() -> Value {
    aio::strategy::json_schema()
}

/// The chart-findings shape of the patterns module.
pub fn chart_findings_schema() -> Value {
    aio::patterns::chart::findings_json_schema()
}

/// A small user schema: string enum, bounded integer, boolean, array of numbers (no `additionalProperties`).
pub fn user_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "direction": {"type": "string", "enum": ["long", "short", "flat"]},
            "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
            "use_stop": {"type": "boolean"},
            "levels": {"type": "array", "items": {"type": "number"}},
            "note": {"type": "string"}
        },
        "required": ["direction", "confidence", "use_stop", "levels"]
    })
}
