//! Choosing the next token from logits: repetition penalty (CTRL style, as transformers applies it), then
//! greedy argmax at temperature 0, else temperature, top-k and top-p (nucleus) filtering and a draw from a seeded
//! generator, so the same seed gives the same text.

use serde::{Deserialize, Serialize};

/// Sampling settings of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// 0 is greedy.
    pub temperature: f32,
    /// Keep the k most likely tokens (0 keeps all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p (1 keeps all).
    pub top_p: f32,
    /// > 1 discourages tokens already in the prompt or output (1 is off).
    pub repetition_penalty: f32,
    /// Seed of the draw.
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self { temperature: 0.0, top_k: 0, top_p: 1.0, repetition_penalty: 1.0, seed: 0 }
    }
}

impl SamplingParams {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        Self::default()
    }

    /// Checks the ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(format!("temperature must be ≥ 0, got {}", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top_p must be in (0, 1], got {}", self.top_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return Err(format!("repetition_penalty must be > 0, got {}", self.repetition_penalty));
        }
        Ok(())
    }
}

/// Draws tokens with one request's settings and random state.
pub struct Sampler {
    params: SamplingParams,
    rng: fastrand::Rng,
    scratch: Vec<(f32, u32)>,
}

impl Sampler {
    /// A sampler seeded with `params.seed`.
    pub fn new(params: SamplingParams) -> Self {
        let rng = fastrand::Rng::with_seed(params.seed);
        Self { params, rng, scratch: Vec::new() }
    }

    /// The settings.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Picks a token from `logits` (modified in place by the penalty); `history` holds the prompt and the tokens
    /// generated so far. Tokens masked to −∞ are never chosen; None when every token is masked.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> Option<u32> {
        let penalty = self.params.repetition_penalty;
        if penalty != 1.0 {
            let mut seen = history.to_vec();
            seen.sort_unstable();
            seen.dedup();
            for id in seen {
                if let Some(l) = logits.get_mut(id as usize) {
                    *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
                }
            }
        }
        if self.params.temperature == 0.0 {
            return argmax(logits);
        }
        let inv_t = 1.0 / self.params.temperature;
        self.scratch.clear();
        self.scratch
            .extend(logits.iter().enumerate().filter(|(_, l)| l.is_finite()).map(|(i, &l)| (l * inv_t, i as u32)));
        if self.scratch.is_empty() {
            return None;
        }
        // Most likely first; ties keep the lower id first, as a stable sort would.
        self.scratch.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if self.params.top_k > 0 {
            self.scratch.truncate(self.params.top_k);
        }
        let max = self.scratch[0].0;
        let mut total = 0.0f64;
        for entry in &mut self.scratch {
            entry.0 = (entry.0 - max).exp();
            total += f64::from(entry.0);
        }
        if self.params.top_p < 1.0 {
            let mut cumulative = 0.0f64;
            let mut keep = self.scratch.len();
            for (i, entry) in self.scratch.iter().enumerate() {
                cumulative += f64::from(entry.0) / total;
                if cumulative >= f64::from(self.params.top_p) {
                    keep = i + 1;
                    break;
                }
            }
            self.scratch.truncate(keep);
            total = self.scratch.iter().map(|e| f64::from(e.0)).sum();
        }
        let mut draw = self.rng.f64() * total;
        for entry in &self.scratch {
            draw -= f64::from(entry.0);
            if draw <= 0.0 {
                return Some(entry.1);
            }
        }
        self.scratch.last().map(|e| e.1)
    }
}

/// Index of the largest finite logit (the first one on ties); None when all are −∞ or NaN.
pub fn argmax(logits: &[f32]) -> Option<u32> {
    let mut best: Option<(f32, u32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        if l.is_finite() && best.is_none_or(|(b, _)| l > b) {
            best = Some((l, i as u32));
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_the_first_maximum_and_skips_masked_tokens() {
        let mut s = Sampler::new(SamplingParams::greedy());
        assert_eq!(s.sample(&mut [1.0, 3.0, 3.0, f32::NEG_INFINITY], &[]), Some(1));
        assert_eq!(s.sample(&mut [f32::NEG_INFINITY, f32::NEG_INFINITY], &[]), None);
    }

    #[test]
    fn repetition_penalty_divides_positive_and_multiplies_negative_logits() {
        let mut s = Sampler::new(SamplingParams { repetition_penalty: 2.0, ..SamplingParams::greedy() });
        let mut logits = [4.0, 3.0, -1.0];
        assert_eq!(s.sample(&mut logits, &[0, 2]), Some(1));
        assert_eq!(logits, [2.0, 3.0, -2.0]);
    }

    #[test]
    fn same_seed_same_draws_and_top_k_1_is_greedy() {
        let params = SamplingParams { temperature: 1.0, seed: 7, ..SamplingParams::default() };
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let draw = |p: SamplingParams| {
            let mut s = Sampler::new(p);
            (0..20).map(|_| s.sample(&mut logits.clone(), &[]).expect("token")).collect::<Vec<_>>()
        };
        assert_eq!(draw(params.clone()), draw(params.clone()));
        assert_ne!(draw(params.clone()), draw(SamplingParams { seed: 8, ..params.clone() }));
        let top1 = draw(SamplingParams { top_k: 1, ..params.clone() });
        assert!(top1.iter().all(|&t| Some(t) == argmax(&logits)));
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // Probabilities ≈ 0.84, 0.11, 0.04, …: top_p 0.5 leaves only the first.
        let logits = [5.0, 3.0, 2.0, 0.0, -1.0];
        let mut s = Sampler::new(SamplingParams { temperature: 1.0, top_p: 0.5, seed: 1, ..Default::default() });
        assert!((0..100).all(|_| s.sample(&mut logits.clone(), &[]) == Some(0)));
        let mut s = Sampler::new(SamplingParams { temperature: 1.0, top_p: 0.9, seed: 1, ..Default::default() });
        let seen: std::collections::BTreeSet<u32> =
            (0..400).filter_map(|_| s.sample(&mut logits.clone(), &[])).collect();
        assert_eq!(seen, [0, 1].into_iter().collect());
    }
}
