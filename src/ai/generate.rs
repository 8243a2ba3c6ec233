//! One generation: prefill of the whole prompt in one forward, then one token per step through the KV cache,
//! each step optionally masked by a JSON-schema constraint, sampled, streamed as text, and checked against stop
//! ids, stop strings, the token budget and the cancel flag.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use super::{
    AiError,
    constrain::ConstraintMatcher,
    models::minicpm4::MiniCpm4,
    sampling::{Sampler, SamplingParams},
    tokenizer::{ChatMessage, TextStream, TextTokenizer},
};

/// What the model is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Prompt {
    /// Messages rendered by the checkpoint's chat template; `thinking` false sets MiniCPM4.1's `/no_think`.
    Chat {
        /// The conversation so far.
        messages: Vec<ChatMessage>,
        /// Let the model think before answering.
        thinking: bool,
    },
    /// A plain completion prompt (BOS added when the tokenizer config says so).
    Text(String),
    /// Token ids as given.
    Ids(Vec<u32>),
}

/// A generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Sampling settings.
    pub sampling: SamplingParams,
    /// Generation ends when the text contains one of these (the stop string is not returned).
    pub stop_strings: Vec<String>,
    /// Ids that end generation besides the model's EOS ids.
    pub stop_ids: Vec<u32>,
    /// Every output must be JSON valid against this schema.
    pub json_schema: Option<serde_json::Value>,
    /// Images for a vision model (MiniCPM-V), in prompt order: each replaces a `(<image>./</image>)` marker of
    /// the prompt text, or, without markers, they go before the last user message (or the text). Not serialised.
    #[serde(skip)]
    pub images: Vec<super::vision::ImageData>,
}

impl GenerateRequest {
    /// A greedy chat request with one user message.
    pub fn chat(user: &str, max_tokens: usize) -> Self {
        Self {
            prompt: Prompt::Chat { messages: vec![ChatMessage::new("user", user)], thinking: false },
            max_tokens,
            sampling: SamplingParams::greedy(),
            stop_strings: Vec::new(),
            stop_ids: Vec::new(),
            json_schema: None,
            images: Vec::new(),
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// An EOS or stop id.
    Stop,
    /// A stop string appeared.
    StopString,
    /// The schema-constrained output is complete.
    Complete,
    /// `max_tokens` reached.
    Length,
    /// Cancelled by the caller.
    Cancelled,
}

/// Timing and counts of one generation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// From the start of the request to the first generated token (prefill included).
    pub time_to_first_token_secs: f64,
    /// Prompt tokens per second of the prefill.
    pub prefill_tokens_per_sec: f64,
    /// Generated tokens per second after the first.
    pub decode_tokens_per_sec: f64,
    /// Whole request.
    pub total_secs: f64,
}

/// The result of a generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// Generated text (special tokens and the stop string removed).
    pub text: String,
    /// Generated ids (the stop id included when there was one).
    pub ids: Vec<u32>,
    /// Why it ended.
    pub finish: FinishReason,
    /// Counts and timings.
    pub stats: GenerationStats,
}

/// Turns a request's prompt into ids.
pub fn prompt_ids(tok: &TextTokenizer, prompt: &Prompt) -> Result<Vec<u32>, AiError> {
    match prompt {
        Prompt::Chat { messages, thinking } => tok.encode_chat(messages, *thinking),
        Prompt::Text(text) => tok.encode_prompt(text),
        Prompt::Ids(ids) => Ok(ids.clone()),
    }
}

/// The prompt as the model receives it: token ids and, for a multimodal prompt, their input embeddings with the
/// image placeholders already replaced by image features.
pub struct PromptInput {
    /// Token ids (placeholders included); they count for the context and the repetition penalty.
    pub ids: Vec<u32>,
    /// [ids.len(), hidden] embeddings to prefill with instead of looking the ids up.
    pub embeddings: Option<candle_core::Tensor>,
}

/// Runs one request to the end. `on_text` receives each new piece of text as soon as it is whole (held back
/// while it could still be the start of a stop string).
pub fn generate(
    model: &MiniCpm4,
    tok: &TextTokenizer,
    request: &GenerateRequest,
    constraint: Option<ConstraintMatcher>,
    cancel: &AtomicBool,
    on_text: impl FnMut(&str),
) -> Result<Generation, AiError> {
    let input = PromptInput { ids: prompt_ids(tok, &request.prompt)?, embeddings: None };
    generate_from(model, tok, request, input, constraint, cancel, on_text)
}

/// [`generate`] from a prompt already turned into ids (and embeddings); `request.prompt` is not read.
pub fn generate_from(
    model: &MiniCpm4,
    tok: &TextTokenizer,
    request: &GenerateRequest,
    input: PromptInput,
    mut constraint: Option<ConstraintMatcher>,
    cancel: &AtomicBool,
    mut on_text: impl FnMut(&str),
) -> Result<Generation, AiError> {
    let started = Instant::now();
    request.sampling.validate().map_err(AiError::Request)?;
    let PromptInput { ids: prompt, mut embeddings } = input;
    if prompt.is_empty() {
        return Err(AiError::Request("the prompt is empty".into()));
    }
    let max_positions = model.config().max_positions;
    if prompt.len() >= max_positions {
        return Err(AiError::Request(format!(
            "the prompt has {} tokens; the model's context is {max_positions}",
            prompt.len()
        )));
    }
    let max_tokens = request.max_tokens.min(max_positions - prompt.len());
    let mut stop_ids: Vec<u32> = tok.eos_ids().to_vec();
    stop_ids.extend(&request.stop_ids);
    let hold_back = request.stop_strings.iter().map(String::len).max().unwrap_or(1).saturating_sub(1);

    let mut sampler = Sampler::new(request.sampling.clone());
    let mut history = prompt.clone();
    let mut stream = TextStream::new();
    let mut cache = model.new_cache();
    let mut emitted_len = 0usize;
    let mut finish = FinishReason::Length;
    let mut first_token_at: Option<Instant> = None;
    let mut prefill_secs = 0.0;
    let mut final_text: Option<String> = None;
    let mut input: Vec<u32> = prompt.clone();
    for step in 0..max_tokens {
        if cancel.load(Ordering::Relaxed) {
            finish = FinishReason::Cancelled;
            break;
        }
        let logits = match embeddings.take() {
            Some(e) => model.forward_embeddings(e, &mut cache, false)?,
            None => model.forward(&input, &mut cache, false)?,
        };
        if step == 0 {
            prefill_secs = started.elapsed().as_secs_f64();
        }
        let mut row: Vec<f32> = logits.flatten_all()?.to_vec1()?;
        if let Some(c) = constraint.as_mut() {
            c.mask_logits(&mut row).map_err(|e| AiError::Request(e.to_string()))?;
        }
        let Some(next) = sampler.sample(&mut row, &history) else {
            return Err(AiError::Request("every token was masked: the constraint allows nothing here".into()));
        };
        first_token_at.get_or_insert_with(Instant::now);
        history.push(next);
        if stop_ids.contains(&next) {
            stream.push(tok, next)?;
            finish = FinishReason::Stop;
            break;
        }
        if let Some(c) = constraint.as_mut() {
            c.accept(next).map_err(|e| AiError::Request(e.to_string()))?;
        }
        if stream.push(tok, next)?.is_some() {
            let text = stream.text(tok)?;
            if let Some(at) = request.stop_strings.iter().filter_map(|s| text.find(s.as_str())).min() {
                final_text = Some(text[..at].to_owned());
                finish = FinishReason::StopString;
                break;
            }
            let mut safe = text.len().saturating_sub(hold_back);
            while !text.is_char_boundary(safe) {
                safe -= 1;
            }
            if safe > emitted_len {
                on_text(&text[emitted_len..safe]);
                emitted_len = safe;
            }
        }
        if constraint.as_ref().is_some_and(ConstraintMatcher::is_finished) {
            finish = FinishReason::Complete;
            break;
        }
        input = vec![next];
    }
    let text = match final_text {
        Some(t) => t,
        None => stream.text(tok)?,
    };
    if text.len() > emitted_len && text.is_char_boundary(emitted_len) {
        on_text(&text[emitted_len..]);
    }
    let generated = stream.ids().len();
    let total = started.elapsed();
    let ttft = first_token_at.map_or(total, |t| t - started);
    let decode_secs = (total - ttft).as_secs_f64();
    Ok(Generation {
        text,
        ids: stream.ids().to_vec(),
        finish,
        stats: GenerationStats {
            prompt_tokens: prompt.len(),
            generated_tokens: generated,
            time_to_first_token_secs: ttft.as_secs_f64(),
            prefill_tokens_per_sec: rate(prompt.len(), prefill_secs),
            decode_tokens_per_sec: rate(generated.saturating_sub(1), decode_secs),
            total_secs: total.as_secs_f64(),
        },
    })
}

fn rate(count: usize, secs: f64) -> f64 {
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// Milliseconds of a duration, for log lines.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
