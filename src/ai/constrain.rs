//! Schema-constrained decoding: every output the engine samples under a [`ConstraintMatcher`] is JSON that
//! validates against the caller's JSON Schema, because each step masks the tokens that cannot continue a valid
//! document (no retries, no repair).
//!
//! The grammar engine is [llguidance](https://crates.io/crates/llguidance) (Earley parser over a derivative-based
//! lexer, walked against a token trie built once per tokenizer). This module adds what it needs around it:
//!
//! * **Token bytes from any Hugging Face tokenizer.** Byte-level BPE (`Ġ`-style, the tiny MiniCPM4 fixture) and
//!   SentencePiece-style vocabularies with `<0xNN>` byte fallback (`▁`-style) are read through the
//!   `tokenizers` API only, so the module does not tie the crate to the `tokenizers` version of an adapter crate.
//!   Special tokens and tokens that have no byte spelling can never be sampled except as EOS.
//! * **Schema tightening** ([`tighten_schema`]). Sampling from weak or random logits under an unbounded schema may
//!   not end: a string's closing quote is one token among thousands. Before compiling, the schema is rewritten to
//!   a *stricter* one whose every instance is finite, and every instance of a stricter schema still validates
//!   against the original. The rule (limits in [`Limits`]):
//!   - a string without `maxLength` gets `maxLength = max(minLength, max_string_length)`;
//!   - an array without `maxItems` gets `maxItems = max(minItems, max_items)`; a tuple (`prefixItems`) without
//!     `items` gets `items: false` (no items past the tuple) unless `minItems` needs more;
//!   - a `number` without an upper/lower bound gets `maximum`/`minimum` of ±`max_abs_number` (1e9), an
//!     `integer` ±`max_abs_integer` (2^53 − 1, exact in `f64`), and a `number` without `multipleOf` gets
//!     `multipleOf = 10^−max_fraction_digits` (at most 6 decimals). Bounded numbers never use an exponent (so
//!     `1e999`, which `serde_json` refuses, cannot appear), and with the defaults a number has at most 15
//!     significant digits, so its text reads into `f64` and prints back unchanged;
//!   - an object whose `additionalProperties` is absent or `true` gets `additionalProperties: false`: only
//!     declared keys may appear. The node that owns the object's shape closes it (one with object keywords or an
//!     `allOf`); the parts it intersects (`allOf` members, `anyOf`/`oneOf`/`$ref` next to its own `properties`)
//!     stay open and their declared keys are declared on the closing node too (value: the declaring parts'
//!     schemas), so an intersection never loses its instances. Keys that are `required` but declared nowhere
//!     are declared as "any scalar". A map (schema-valued `additionalProperties`, no declared properties)
//!     gets its keys bounded by `patternProperties: {"^.{0,max_string_length}$": <the value schema>}` and its
//!     size by `maxProperties = max_items` (keys of a map that also declares properties stay unbounded);
//!   - a schema that allows any value (`true`, `{}`) becomes "any scalar" (`null`, boolean, bounded number or
//!     bounded string); a typeless schema is given the types its keywords imply;
//!   - `$ref` chains through recursive definitions are unrolled to at most `max_recursion_depth` levels (one
//!     copy of the definition per level in `$defs`); at the last level the recursive alternatives are removed
//!     (an `anyOf` option that became unsatisfiable is dropped, an optional property is left out, a required one
//!     makes its object unsatisfiable, and so on upwards);
//!   - `oneOf` is accepted when its branches are provably disjoint (different types, a required property with
//!     disjoint values, or a required property the other branch forbids through `additionalProperties: false`)
//!     and then compiled as `anyOf`, which is then exact; otherwise the schema is rejected, since an output
//!     matching two branches would not validate.
//!
//!   The tightened schema is compiled with compact separators and no free whitespace (`,` and `:` only), so the
//!   document ends exactly at its closing bracket and [`ConstraintMatcher::is_finished`] turns true there.
//!   Object properties come out in the schema's key order (llguidance's rule; llguidance turns on
//!   `serde_json/preserve_order`, so a `json!` schema keeps the order it is written in).
//! * **Every fitting token stays allowed.** The token environment is not "canonical": llguidance never narrows a
//!   mask to one tokenization of text the grammar forces (a property name), so the mask is exactly "the tokens
//!   whose bytes can continue a valid document".
//! * **Errors instead of panics.** llguidance reports failures as strings; they come back as [`ConstrainError`]
//!   naming the schema path or the rejected token.
//!
//! Keywords llguidance cannot enforce (`not`, `if`/`then`/`else`, `contains`, `uniqueItems`, `propertyNames`,
//! `dependent*`, `unevaluated*`) are rejected when compiling, never silently ignored; so are `minProperties` /
//! `maxProperties` next to optional properties (llguidance's own limit).
//!
//! Use: one [`ConstraintCompiler`] per tokenizer (token trie and mask slices: about 0.7 s for 73k tokens), one
//! [`JsonConstraint`] per schema (milliseconds; share it), one [`ConstraintMatcher`] per request:
//!
//! ```ignore
//! let compiler = ConstraintCompiler::new(&tokenizer, &[2, 3])?;
//! let findings = compiler.compile(&findings_schema)?;
//! let mut m = findings.matcher()?;
//! while !m.is_finished() {
//!     let mut logits = model.forward(&last)?;    // padded vocabularies are fine
//!     m.mask_logits(&mut logits)?;
//!     let token = sample(&logits);
//!     if eos.contains(&token) { break; }
//!     m.accept(token)?;
//! }
//! ```
//!
//! Masking costs about 10–30 µs a step for the 512-token test vocabulary and 0.4–0.6 ms for 73k tokens (one
//! core); [`ConstraintMatcher::prepare_mask`] can run it while the model computes the logits.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, SimpleVob, TokEnv, TokRxInfo, TokTrie};
use llguidance::{Matcher, ParserFactory};
use serde_json::{Map, Value, json};

/// What went wrong while compiling a constraint or stepping through one.
#[derive(Debug, thiserror::Error)]
pub enum ConstrainError {
    /// The tokenizer's vocabulary could not be read as bytes.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// No EOS id was given, or one is outside the vocabulary.
    #[error("EOS token {id} is outside the vocabulary of {vocab} tokens (or no EOS id was given)")]
    Eos {
        /// The offending id (`u32::MAX` when the list was empty).
        id: u32,
        /// Vocabulary size.
        vocab: usize,
    },
    /// The schema uses something this module cannot enforce exactly.
    #[error("schema at {path}: {message}")]
    Schema {
        /// JSON pointer of the offending schema node (`#/properties/x/oneOf`).
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// llguidance rejected the tightened schema.
    #[error("compiling the schema failed: {0}")]
    Compile(String),
    /// The logits slice is shorter than the tokenizer's vocabulary.
    #[error("logits have {len} entries, fewer than the {vocab} tokens of the vocabulary")]
    LogitsTooShort {
        /// Length of the logits slice.
        len: usize,
        /// Vocabulary size.
        vocab: usize,
    },
    /// A sampled token cannot continue a valid output.
    #[error("token {token} ({text}) is not allowed here: {reason}")]
    TokenNotAllowed {
        /// The token id.
        token: u32,
        /// Its text, escaped for display.
        text: String,
        /// Why (outside the vocabulary, masked, or after the end).
        reason: String,
    },
    /// The grammar matcher failed (for example a lexer budget was exceeded).
    #[error("constraint matcher: {0}")]
    Matcher(String),
}

fn schema_err(path: &str, message: impl Into<String>) -> ConstrainError {
    ConstrainError::Schema { path: if path.is_empty() { "#".into() } else { path.into() }, message: message.into() }
}

/// Bounds [`tighten_schema`] adds where the schema leaves a size open.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// `maxLength` of strings that have none (characters).
    pub max_string_length: u64,
    /// `maxItems` of arrays that have none, and the extra `maxProperties` of free-form maps.
    pub max_items: u64,
    /// Largest magnitude of a `number` without bounds.
    pub max_abs_number: f64,
    /// Largest magnitude of an `integer` without bounds.
    pub max_abs_integer: i64,
    /// Decimals of a `number` without `multipleOf`.
    pub max_fraction_digits: u32,
    /// Levels a recursive `$ref` is unrolled to.
    pub max_recursion_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_string_length: 256,
            max_items: 32,
            max_abs_number: 1e9,
            max_abs_integer: (1 << 53) - 1,
            max_fraction_digits: 6,
            max_recursion_depth: 6,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Compiled constraint and per-request matcher
// ---------------------------------------------------------------------------------------------------------

struct Shared {
    /// A started matcher for the compiled grammar; requests clone it (clones share the lexer caches).
    template: Mutex<Matcher>,
    tok_env: TokEnv,
    vocab: usize,
    eos: Vec<u32>,
    tightened: Value,
}

/// A compiled JSON-schema constraint for one tokenizer; cheap to clone/share (Arc inside) across requests.
#[derive(Clone)]
pub struct JsonConstraint {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for JsonConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonConstraint").field("vocab", &self.shared.vocab).field("eos", &self.shared.eos).finish()
    }
}

/// One tokenizer's token trie and mask machinery: build it once per tokenizer (the slow part, about 0.7 s for
/// 73k tokens), then compile every schema with it (milliseconds); cheap to clone/share.
#[derive(Clone)]
pub struct ConstraintCompiler {
    factory: Arc<ParserFactory>,
    tok_env: TokEnv,
}

impl std::fmt::Debug for ConstraintCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let trie = self.tok_env.tok_trie();
        f.debug_struct("ConstraintCompiler")
            .field("vocab", &trie.vocab_size())
            .field("eos", &trie.eos_tokens())
            .finish()
    }
}

impl ConstraintCompiler {
    /// Reads the tokens of `tokenizer`; `eos_ids` are the ids that end an output (all are allowed once it is complete).
    pub fn new(tokenizer: &tokenizers::Tokenizer, eos_ids: &[u32]) -> Result<Self, ConstrainError> {
        Self::from_env(token_env(tokenizer, eos_ids)?)
    }

    /// Like [`ConstraintCompiler::new`] from the text of a `tokenizer.json` (independent of the `tokenizers` version).
    pub fn from_tokenizer_json(tokenizer_json: &str, eos_ids: &[u32]) -> Result<Self, ConstrainError> {
        Self::from_env(token_env_from_json(tokenizer_json, eos_ids)?)
    }

    fn from_env(tok_env: TokEnv) -> Result<Self, ConstrainError> {
        let mut factory = ParserFactory::new_simple(&tok_env).map_err(|e| ConstrainError::Compile(e.to_string()))?;
        factory.quiet();
        Ok(Self { factory: Arc::new(factory), tok_env })
    }

    /// Tightens `schema` with the default [`Limits`] and compiles it.
    pub fn compile(&self, schema: &Value) -> Result<JsonConstraint, ConstrainError> {
        self.compile_with_limits(schema, &Limits::default())
    }

    /// Tightens `schema` with `limits` and compiles it.
    pub fn compile_with_limits(&self, schema: &Value, limits: &Limits) -> Result<JsonConstraint, ConstrainError> {
        let tightened = tighten_schema(schema, limits)?;
        let mut grammar_schema = tightened.clone();
        if let Value::Object(map) = &mut grammar_schema {
            // Compact JSON: no whitespace anywhere, so the output ends at its closing bracket.
            map.insert(
                "x-guidance".into(),
                json!({"whitespace_flexible": false, "item_separator": ",", "key_separator": ":"}),
            );
        }
        let parser = self
            .factory
            .create_parser(TopLevelGrammar::from_json_schema(grammar_schema))
            .map_err(|e| ConstrainError::Compile(e.to_string()))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(ConstrainError::Compile(e));
        }
        let tok_env = self.tok_env.clone();
        let vocab = tok_env.tok_trie().vocab_size();
        let eos = tok_env.tok_trie().eos_tokens().to_vec();
        Ok(JsonConstraint {
            shared: Arc::new(Shared { template: Mutex::new(matcher), tok_env, vocab, eos, tightened }),
        })
    }

    /// Number of tokens of the tokenizer.
    pub fn vocab_size(&self) -> usize {
        self.tok_env.tok_trie().vocab_size()
    }

    /// The bytes token `id` stands for; `None` for special tokens and ids outside the vocabulary.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        let trie = self.tok_env.tok_trie();
        ((id as usize) < trie.vocab_size() && !trie.is_special_token(id)).then(|| trie.token(id))
    }
}

impl JsonConstraint {
    /// Tightens `schema` with the default [`Limits`] and compiles it for `tokenizer`; `eos_ids` end a finished
    /// output. Builds the token trie each time: with several schemas, use one [`ConstraintCompiler`].
    pub fn new(tokenizer: &tokenizers::Tokenizer, eos_ids: &[u32], schema: &Value) -> Result<Self, ConstrainError> {
        ConstraintCompiler::new(tokenizer, eos_ids)?.compile(schema)
    }

    /// Like [`JsonConstraint::new`] with explicit tightening limits.
    pub fn with_limits(
        tokenizer: &tokenizers::Tokenizer,
        eos_ids: &[u32],
        schema: &Value,
        limits: &Limits,
    ) -> Result<Self, ConstrainError> {
        ConstraintCompiler::new(tokenizer, eos_ids)?.compile_with_limits(schema, limits)
    }

    /// A fresh per-request matcher at the start of the document.
    pub fn matcher(&self) -> Result<ConstraintMatcher, ConstrainError> {
        let template =
            self.shared.template.lock().map_err(|_| ConstrainError::Matcher("template lock poisoned".into()))?;
        let matcher = template.clone();
        drop(template);
        if let Some(e) = matcher.get_error() {
            return Err(ConstrainError::Matcher(e));
        }
        Ok(ConstraintMatcher { shared: Arc::clone(&self.shared), matcher, mask: None, tokens: 0 })
    }

    /// The stricter schema that was compiled (see [`tighten_schema`]).
    pub fn tightened_schema(&self) -> &Value {
        &self.shared.tightened
    }

    /// Number of tokens of the tokenizer (ids at or past it are always masked).
    pub fn vocab_size(&self) -> usize {
        self.shared.vocab
    }
}

/// Per-request state.
pub struct ConstraintMatcher {
    shared: Arc<Shared>,
    matcher: Matcher,
    /// The mask computed for the current position, if any.
    mask: Option<SimpleVob>,
    tokens: usize,
}

impl std::fmt::Debug for ConstraintMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConstraintMatcher")
            .field("tokens", &self.tokens)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl ConstraintMatcher {
    fn current_mask(&mut self) -> Result<&SimpleVob, ConstrainError> {
        if self.mask.is_none() {
            let mask = if self.matcher.is_stopped() {
                if let Some(e) = self.matcher.get_error() {
                    return Err(ConstrainError::Matcher(e));
                }
                self.shared.tok_env.tok_trie().eos_token_set()
            } else {
                self.matcher.compute_mask().map_err(|e| ConstrainError::Matcher(e.to_string()))?
            };
            if mask.is_zero() {
                return Err(ConstrainError::Matcher(format!(
                    "no token can continue the output after {} tokens",
                    self.tokens
                )));
            }
            self.mask = Some(mask);
        }
        self.mask.as_ref().ok_or_else(|| ConstrainError::Matcher("mask missing".into()))
    }

    /// Computes and keeps the mask for the next token (run it while the model computes the logits; the next
    /// [`ConstraintMatcher::mask_logits`] then only applies it).
    pub fn prepare_mask(&mut self) -> Result<(), ConstrainError> {
        self.current_mask().map(drop)
    }

    /// The mask for the next token as bits (token `i` allowed when bit `i % 32` of word `i / 32` is set), for
    /// masking on the device; ids past the vocabulary are not covered and must be masked by the caller.
    pub fn allowed_bitmask(&mut self) -> Result<&[u32], ConstrainError> {
        Ok(self.current_mask()?.as_slice())
    }

    /// Sets every token that cannot continue a valid output to f32::NEG_INFINITY (logits.len() may exceed the tokenizer vocab: pad ids are masked).
    pub fn mask_logits(&mut self, logits: &mut [f32]) -> Result<(), ConstrainError> {
        let vocab = self.shared.vocab;
        if logits.len() < vocab {
            return Err(ConstrainError::LogitsTooShort { len: logits.len(), vocab });
        }
        let mask = self.current_mask()?;
        let words = mask.as_slice();
        for (chunk, &word) in logits[..vocab].chunks_mut(32).zip(words) {
            if word == u32::MAX {
                continue;
            }
            for (bit, logit) in chunk.iter_mut().enumerate() {
                if word & (1 << bit) == 0 {
                    *logit = f32::NEG_INFINITY;
                }
            }
        }
        logits[vocab..].fill(f32::NEG_INFINITY);
        Ok(())
    }

    /// The ids allowed at the current position (what [`ConstraintMatcher::mask_logits`] leaves finite).
    pub fn allowed_tokens(&mut self) -> Result<Vec<u32>, ConstrainError> {
        let mask = self.current_mask()?;
        let mut ids = Vec::with_capacity(mask.num_set());
        mask.iter_set_entries(|i| ids.push(i as u32));
        Ok(ids)
    }

    /// Advances by the sampled token; errors if it was not allowed.
    pub fn accept(&mut self, token: u32) -> Result<(), ConstrainError> {
        let not_allowed = |this: &Self, reason: &str| ConstrainError::TokenNotAllowed {
            token,
            text: if (token as usize) < this.shared.vocab {
                this.shared.tok_env.tok_trie().token_dbg(token)
            } else {
                "-".into()
            },
            reason: reason.into(),
        };
        if token as usize >= self.shared.vocab {
            return Err(not_allowed(self, "outside the tokenizer vocabulary"));
        }
        let is_eos = self.shared.eos.contains(&token);
        if let Some(e) = self.matcher.get_error() {
            return Err(ConstrainError::Matcher(e));
        }
        if self.matcher.is_stopped() {
            if is_eos {
                self.tokens += 1;
                return Ok(());
            }
            return Err(not_allowed(self, "the output is complete, only EOS may follow"));
        }
        if !self.current_mask()?.is_allowed(token) {
            return Err(not_allowed(self, "it cannot continue a document valid under the schema"));
        }
        self.matcher.consume_token(token).map_err(|e| ConstrainError::Matcher(e.to_string()))?;
        self.mask = None;
        self.tokens += 1;
        Ok(())
    }

    /// True when the output is complete (only EOS may follow); the engine stops then.
    pub fn is_finished(&self) -> bool {
        self.matcher.is_stopped() && self.matcher.get_error().is_none()
    }

    /// True when EOS would be accepted now (the text so far is a complete valid document).
    pub fn can_stop(&mut self) -> Result<bool, ConstrainError> {
        let eos = self.shared.eos.clone();
        let mask = self.current_mask()?;
        Ok(eos.iter().any(|&t| mask.is_allowed(t)))
    }

    /// Tokens accepted so far.
    pub fn tokens_accepted(&self) -> usize {
        self.tokens
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tokenizer → token bytes → token trie
// ---------------------------------------------------------------------------------------------------------

/// How a vocabulary spells bytes.
enum Spelling {
    /// GPT-2 byte-to-unicode map (`Ġ` = space).
    ByteLevel(HashMap<char, u8>),
    /// SentencePiece: `space` stands for a space, `<0xNN>` for a raw byte.
    Pieces { space: char },
}

fn byte_level_map() -> HashMap<char, u8> {
    let mut map = HashMap::with_capacity(256);
    let mut next = 0x100u32;
    for byte in 0..=255u8 {
        let c = byte as char;
        let printable = matches!(c, '!'..='~' | '\u{A1}'..='\u{AC}' | '\u{AE}'..='\u{FF}');
        if printable {
            map.insert(c, byte);
        } else if let Some(mapped) = char::from_u32(next) {
            map.insert(mapped, byte);
            next += 1;
        }
    }
    map
}

fn detect_spelling(decoder: &Value) -> Option<Spelling> {
    fn walk(d: &Value, byte_level: &mut bool, fallback: &mut bool, space: &mut Option<char>) {
        match d.get("type").and_then(Value::as_str) {
            Some("ByteLevel") => *byte_level = true,
            Some("ByteFallback") => *fallback = true,
            Some("Metaspace") => *space = d.get("replacement").and_then(Value::as_str).and_then(|s| s.chars().next()),
            Some("Replace") if d.get("content").and_then(Value::as_str) == Some(" ") => {
                let pattern = d.get("pattern").and_then(|p| p.get("String")).and_then(Value::as_str);
                let mut chars = pattern.unwrap_or_default().chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    *space = Some(c);
                }
            }
            Some("Sequence") => {
                for inner in d.get("decoders").and_then(Value::as_array).into_iter().flatten() {
                    walk(inner, byte_level, fallback, space);
                }
            }
            _ => {}
        }
    }
    let (mut byte_level, mut fallback, mut space) = (false, false, None);
    walk(decoder, &mut byte_level, &mut fallback, &mut space);
    if byte_level {
        Some(Spelling::ByteLevel(byte_level_map()))
    } else if fallback || space.is_some() {
        Some(Spelling::Pieces { space: space.unwrap_or('\u{2581}') })
    } else {
        None
    }
}

/// Bytes each token id stands for, from the decoder (as `tokenizer.json` spells it), every (text, id) of the
/// vocabulary and the added tokens (id → content, special); specials and unspellable tokens carry toktrie's
/// special marker, so they are never allowed except as EOS.
fn token_bytes(
    decoder: &Value,
    vocab: impl IntoIterator<Item = (String, u32)>,
    added: &HashMap<u32, (String, bool)>,
) -> Result<Vec<Vec<u8>>, ConstrainError> {
    let spelling = detect_spelling(decoder).ok_or_else(|| {
        ConstrainError::Tokenizer(format!(
            "cannot tell how tokens spell bytes: the decoder is neither ByteLevel nor ByteFallback/Metaspace ({})",
            decoder.get("type").unwrap_or(&Value::Null)
        ))
    })?;
    let vocab: Vec<(String, u32)> = vocab.into_iter().collect();
    let size = vocab.iter().map(|(_, id)| *id).chain(added.keys().copied()).max().map_or(0, |m| m as usize + 1);
    if size == 0 {
        return Err(ConstrainError::Tokenizer("the vocabulary is empty".into()));
    }
    let special = |name: &str| {
        let mut bytes = vec![TokTrie::SPECIAL_TOKEN_MARKER];
        bytes.extend_from_slice(name.as_bytes());
        bytes
    };
    let mut out: Vec<Vec<u8>> = (0..size).map(|id| special(&format!("<[{id}]>"))).collect();
    for (name, id) in vocab {
        let Some(slot) = out.get_mut(id as usize) else { continue };
        let bytes = match &spelling {
            Spelling::ByteLevel(map) => name.chars().map(|c| map.get(&c).copied()).collect::<Option<Vec<u8>>>(),
            Spelling::Pieces { space } => {
                let hex = name.strip_prefix("<0x").and_then(|h| h.strip_suffix('>'));
                match hex {
                    Some(h) if h.len() == 2 => u8::from_str_radix(h, 16).ok().map(|b| vec![b]),
                    _ => Some(name.replace(*space, " ").into_bytes()),
                }
            }
        };
        *slot = match bytes {
            Some(b) if !b.is_empty() => b,
            _ => special(&name),
        };
    }
    // Added tokens are raw text; `<...>` ones count as special whatever their flag says.
    for (&id, (content, is_special)) in added {
        if let Some(slot) = out.get_mut(id as usize) {
            let looks_special = content.starts_with('<') && content.ends_with('>');
            *slot = if *is_special || looks_special || content.is_empty() {
                special(content)
            } else {
                content.clone().into_bytes()
            };
        }
    }
    Ok(out)
}

/// The token environment for `token_bytes` and the EOS ids.
fn build_env(bytes: Vec<Vec<u8>>, eos_ids: &[u32]) -> Result<TokEnv, ConstrainError> {
    let vocab = bytes.len();
    let Some(&first) = eos_ids.first() else {
        return Err(ConstrainError::Eos { id: u32::MAX, vocab });
    };
    if let Some(&bad) = eos_ids.iter().find(|&&id| id as usize >= vocab) {
        return Err(ConstrainError::Eos { id: bad, vocab });
    }
    let info = TokRxInfo::new(vocab as u32, first);
    let trie = TokTrie::from(&info, &bytes).with_eos_tokens(eos_ids);
    // Not canonical: llguidance then never narrows a mask to one tokenization of forced text (say, a property
    // name), so every token whose bytes fit stays allowed, exactly as `mask_logits` promises.
    let env: TokEnv = Arc::new(ApproximateTokEnv::new(trie));
    Ok(env)
}

/// The token environment from the text of a `tokenizer.json`.
fn token_env_from_json(tokenizer_json: &str, eos_ids: &[u32]) -> Result<TokEnv, ConstrainError> {
    let json: Value =
        serde_json::from_str(tokenizer_json).map_err(|e| ConstrainError::Tokenizer(format!("tokenizer.json: {e}")))?;
    let model_vocab = json.pointer("/model/vocab").unwrap_or(&Value::Null);
    let vocab: Vec<(String, u32)> = match model_vocab {
        // BPE, WordPiece, WordLevel: {"text": id}.
        Value::Object(map) => {
            map.iter().filter_map(|(k, v)| Some((k.clone(), u32::try_from(v.as_u64()?).ok()?))).collect()
        }
        // Unigram: [["text", score], ...], the id being the position.
        Value::Array(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((e.get(0)?.as_str()?.to_string(), u32::try_from(i).ok()?)))
            .collect(),
        _ => return Err(ConstrainError::Tokenizer("tokenizer.json has no model.vocab".into())),
    };
    let mut added = HashMap::new();
    for token in json.get("added_tokens").and_then(Value::as_array).into_iter().flatten() {
        let id = token.get("id").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok());
        let content = token.get("content").and_then(Value::as_str);
        if let (Some(id), Some(content)) = (id, content) {
            let special = token.get("special").and_then(Value::as_bool).unwrap_or(false);
            added.insert(id, (content.to_string(), special));
        }
    }
    let decoder = json.get("decoder").unwrap_or(&Value::Null);
    build_env(token_bytes(decoder, vocab, &added)?, eos_ids)
}

/// The token environment (bytes of every token, token trie, EOS set) of a tokenizer.
fn token_env(tokenizer: &tokenizers::Tokenizer, eos_ids: &[u32]) -> Result<TokEnv, ConstrainError> {
    let decoder = match tokenizer.get_decoder() {
        Some(d) => serde_json::to_value(d).map_err(|e| ConstrainError::Tokenizer(format!("decoder: {e}")))?,
        None => Value::Null,
    };
    let added: HashMap<u32, (String, bool)> = tokenizer
        .get_added_tokens_decoder()
        .into_iter()
        .map(|(id, token)| (id, (token.content, token.special)))
        .collect();
    build_env(token_bytes(&decoder, tokenizer.get_vocab(true), &added)?, eos_ids)
}

// ---------------------------------------------------------------------------------------------------------
// Schema tightening
// ---------------------------------------------------------------------------------------------------------

/// Keywords that llguidance cannot enforce; a schema using them is rejected rather than half-enforced.
const UNSUPPORTED: [&str; 12] = [
    "not",
    "if",
    "then",
    "else",
    "contains",
    "minContains",
    "maxContains",
    "uniqueItems",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
];

/// Keywords dropped from copies: identifiers are meaningless after `$ref`s are rewritten.
const DROPPED: [&str; 5] = ["$id", "$schema", "$anchor", "$dynamicAnchor", "$comment"];

// JSON types as bits, for the `oneOf` disjointness check.
const T_NULL: u8 = 1;
const T_BOOL: u8 = 2;
const T_STRING: u8 = 4;
const T_ARRAY: u8 = 8;
const T_OBJECT: u8 = 16;
const T_INTEGER: u8 = 32;
const T_FRACTION: u8 = 64;
const T_ALL: u8 = 127;

const OBJECT_KEYS: [&str; 6] =
    ["properties", "required", "additionalProperties", "patternProperties", "minProperties", "maxProperties"];
const ARRAY_KEYS: [&str; 5] = ["items", "prefixItems", "minItems", "maxItems", "additionalItems"];
const STRING_KEYS: [&str; 4] = ["minLength", "maxLength", "pattern", "format"];
const NUMBER_KEYS: [&str; 5] = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];

/// Returns a stricter schema with finite instances (rule in the module doc); its instances validate against `schema`.
pub fn tighten_schema(schema: &Value, limits: &Limits) -> Result<Value, ConstrainError> {
    let mut t = Tightener::new(schema, limits)?;
    let body =
        t.node(schema, 0, "#", true)?.ok_or_else(|| schema_err("#", "the schema (as bounded) admits no value"))?;
    let mut out = match body {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("allOf".into(), Value::Array(vec![other]));
            map
        }
    };
    if !t.out_defs.is_empty() {
        out.insert("$defs".into(), Value::Object(std::mem::take(&mut t.out_defs)));
    }
    Ok(Value::Object(out))
}

struct Tightener<'a> {
    root: &'a Value,
    limits: &'a Limits,
    /// `$ref` targets that can reach themselves.
    recursive: HashSet<String>,
    /// (target, depth, closable) → name in the output `$defs`, or `None` when unsatisfiable.
    memo: HashMap<(String, usize, bool), Option<String>>,
    in_progress: HashSet<(String, usize, bool)>,
    out_defs: Map<String, Value>,
    names: HashSet<String>,
}

/// Calls `f` on every direct subschema of `schema` (with its path suffix).
fn for_each_subschema(schema: &Value, mut f: impl FnMut(&str, &Value)) {
    let Some(map) = schema.as_object() else { return };
    for (key, value) in map {
        match key.as_str() {
            "properties" | "patternProperties" | "dependentSchemas" | "$defs" | "definitions" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    f(&format!("/{key}/{}", escape_pointer(name)), sub);
                }
            }
            "prefixItems" | "allOf" | "anyOf" | "oneOf" => {
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    f(&format!("/{key}/{i}"), sub);
                }
            }
            "items" if value.is_array() => {
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    f(&format!("/{key}/{i}"), sub);
                }
            }
            "items"
            | "additionalItems"
            | "additionalProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "propertyNames"
            | "unevaluatedItems"
            | "unevaluatedProperties" => f(&format!("/{key}"), value),
            _ => {}
        }
    }
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Every `$ref` value inside `schema`, not descending into nested definition tables.
fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        out.push(r.to_string());
    }
    for_each_subschema(schema, |suffix, sub| {
        if !(suffix.starts_with("/$defs/") || suffix.starts_with("/definitions/")) {
            collect_refs(sub, out);
        }
    });
}

impl<'a> Tightener<'a> {
    fn new(root: &'a Value, limits: &'a Limits) -> Result<Self, ConstrainError> {
        let mut t = Self {
            root,
            limits,
            recursive: HashSet::new(),
            memo: HashMap::new(),
            in_progress: HashSet::new(),
            out_defs: Map::new(),
            names: HashSet::new(),
        };
        // Reference graph over every target reachable from the root.
        let mut graph: HashMap<String, Vec<String>> = HashMap::new();
        let mut root_refs = Vec::new();
        collect_refs(root, &mut root_refs);
        let mut todo = root_refs;
        while let Some(r) = todo.pop() {
            if graph.contains_key(&r) {
                continue;
            }
            let target = t.resolve(&r, "#")?;
            let mut refs = Vec::new();
            collect_refs(target, &mut refs);
            todo.extend(refs.iter().cloned());
            graph.insert(r, refs);
        }
        for start in graph.keys() {
            let mut seen = HashSet::new();
            let mut stack: Vec<&String> = graph.get(start).into_iter().flatten().collect();
            while let Some(r) = stack.pop() {
                if r == start {
                    t.recursive.insert(start.clone());
                    break;
                }
                if seen.insert(r) {
                    stack.extend(graph.get(r).into_iter().flatten());
                }
            }
        }
        Ok(t)
    }

    fn resolve(&self, reference: &str, path: &str) -> Result<&'a Value, ConstrainError> {
        let pointer = reference.strip_prefix('#').ok_or_else(|| {
            schema_err(path, format!("only local references (#/...) are supported, not `{reference}`"))
        })?;
        self.root.pointer(pointer).ok_or_else(|| schema_err(path, format!("`$ref` {reference} points nowhere")))
    }

    /// Bounded stand-in for "any value": a scalar of any type.
    fn any_scalar(&self) -> Value {
        let mut map = Map::new();
        map.insert("type".into(), json!(["null", "boolean", "number", "string"]));
        self.bound_string(&mut map);
        self.bound_number(&mut map, false);
        Value::Object(map)
    }

    fn bound_string(&self, map: &mut Map<String, Value>) {
        if !map.contains_key("maxLength") {
            let min = map.get("minLength").and_then(Value::as_u64).unwrap_or(0);
            map.insert("maxLength".into(), json!(min.max(self.limits.max_string_length)));
        }
    }

    fn bound_number(&self, map: &mut Map<String, Value>, integer_only: bool) {
        let num = |k: &str| map.get(k).and_then(Value::as_f64);
        let lower = num("minimum").or(num("exclusiveMinimum"));
        let upper = num("maximum").or(num("exclusiveMaximum"));
        if integer_only {
            let limit = self.limits.max_abs_integer.max(1);
            if upper.is_none() {
                let base = lower.map_or(0, |l| l.ceil().clamp(-(limit as f64), limit as f64) as i64);
                map.insert("maximum".into(), json!(base.max(0).saturating_add(limit)));
            }
            if lower.is_none() {
                let base = upper.map_or(0, |u| u.floor().clamp(-(limit as f64), limit as f64) as i64);
                map.insert("minimum".into(), json!(base.min(0).saturating_sub(limit)));
            }
        } else {
            let limit = if self.limits.max_abs_number.is_finite() && self.limits.max_abs_number > 0.0 {
                self.limits.max_abs_number
            } else {
                1e9
            };
            if upper.is_none() {
                map.insert("maximum".into(), json!(lower.map_or(0.0, |l| l.max(0.0)) + limit));
            }
            if lower.is_none() {
                map.insert("minimum".into(), json!(upper.map_or(0.0, |u| u.min(0.0)) - limit));
            }
            if !map.contains_key("multipleOf") {
                let digits = self.limits.max_fraction_digits.min(9);
                let step = format!("1e-{digits}").parse::<f64>().unwrap_or(1e-6);
                map.insert("multipleOf".into(), json!(step));
            }
        }
    }

    /// Tightens one schema node; `None` means it admits no value (after bounding). `closable`: the node may close
    /// its objects (`additionalProperties: false`); false for parts that an enclosing node intersects and closes.
    fn node(
        &mut self,
        schema: &'a Value,
        depth: usize,
        path: &str,
        closable: bool,
    ) -> Result<Option<Value>, ConstrainError> {
        match schema {
            Value::Bool(true) => Ok(Some(self.any_scalar())),
            Value::Bool(false) => Ok(None),
            Value::Object(map) => self.object_node(map, depth, path, closable),
            _ => Err(schema_err(path, "a schema must be an object or a boolean")),
        }
    }

    /// A subschema describing a value of its own (property, item): `false` when it admits nothing.
    fn sub(&mut self, schema: &'a Value, depth: usize, path: &str) -> Result<Value, ConstrainError> {
        Ok(self.node(schema, depth, path, true)?.unwrap_or(Value::Bool(false)))
    }

    fn schema_list(
        &mut self,
        value: &'a Value,
        depth: usize,
        path: &str,
        closable: bool,
    ) -> Result<Vec<Option<Value>>, ConstrainError> {
        let list = value.as_array().ok_or_else(|| schema_err(path, "expected an array of schemas"))?;
        let mut out = Vec::with_capacity(list.len());
        for (i, sub) in list.iter().enumerate() {
            out.push(self.node(sub, depth, &format!("{path}/{i}"), closable)?);
        }
        Ok(out)
    }

    fn def_copy(
        &mut self,
        reference: &str,
        depth: usize,
        path: &str,
        closable: bool,
    ) -> Result<Option<String>, ConstrainError> {
        let key = (reference.to_string(), depth, closable);
        if let Some(done) = self.memo.get(&key) {
            return Ok(done.clone());
        }
        if !self.in_progress.insert(key.clone()) {
            return Err(schema_err(path, format!("`$ref` {reference} refers to itself without any nesting")));
        }
        let target = self.resolve(reference, path)?;
        let body = self.node(target, depth, reference, closable)?;
        self.in_progress.remove(&key);
        let name = match body {
            None => None,
            Some(body) => {
                let stem: String = reference
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
                    .collect();
                let stem = if stem.is_empty() { "root".to_string() } else { stem };
                let mut name = if closable { format!("{stem}_{depth}") } else { format!("{stem}_{depth}_open") };
                let mut n = 1;
                while self.names.contains(&name) {
                    n += 1;
                    name = format!("{stem}_{depth}_{n}");
                }
                self.names.insert(name.clone());
                self.out_defs.insert(name.clone(), body);
                Some(name)
            }
        };
        self.memo.insert(key, name.clone());
        Ok(name)
    }

    fn object_node(
        &mut self,
        map: &'a Map<String, Value>,
        depth: usize,
        path: &str,
        closable: bool,
    ) -> Result<Option<Value>, ConstrainError> {
        let type_names: Option<Vec<&str>> = match map.get("type") {
            None => None,
            Some(Value::String(t)) => Some(vec![t.as_str()]),
            Some(Value::Array(ts)) => Some(ts.iter().filter_map(Value::as_str).collect()),
            Some(_) => return Err(schema_err(path, "`type` must be a string or an array of strings")),
        };
        let may_be_object = type_names.as_ref().is_none_or(|ts| ts.contains(&"object"));
        let own_object = OBJECT_KEYS.iter().any(|k| map.contains_key(*k))
            || type_names.as_ref().is_some_and(|ts| ts.contains(&"object"));
        let composite = ["$ref", "allOf", "anyOf", "oneOf"].iter().any(|k| map.contains_key(*k));
        let finite = map.contains_key("const") || map.contains_key("enum");
        // The node closes its objects when it owns their shape; parts it intersects then stay open (their keys
        // are declared on this node), or the intersection could lose every instance.
        let closes = closable && !finite && may_be_object && (own_object || map.contains_key("allOf"));
        let parts_closable = closable && !closes;

        let mut out = Map::new();
        let mut all_of: Vec<Value> = Vec::new();
        for (key, value) in map {
            let here = format!("{path}/{}", escape_pointer(key));
            match key.as_str() {
                k if UNSUPPORTED.contains(&k) => {
                    return Err(schema_err(&here, format!("`{k}` cannot be enforced while decoding")));
                }
                k if DROPPED.contains(&k) => {}
                "$defs" | "definitions" => {}
                "$ref" => {
                    let reference =
                        value.as_str().ok_or_else(|| schema_err(&here, "`$ref` must be a string"))?.to_string();
                    let target_depth = if self.recursive.contains(&reference) { depth + 1 } else { depth };
                    if target_depth > self.limits.max_recursion_depth {
                        return Ok(None);
                    }
                    match self.def_copy(&reference, target_depth, &here, parts_closable)? {
                        Some(name) => all_of.push(json!({"$ref": format!("#/$defs/{name}")})),
                        None => return Ok(None),
                    }
                }
                "properties" | "patternProperties" => {
                    let props = value.as_object().ok_or_else(|| schema_err(&here, "expected an object of schemas"))?;
                    let mut tightened = Map::new();
                    for (name, sub) in props {
                        let sub_path = format!("{here}/{}", escape_pointer(name));
                        tightened.insert(name.clone(), self.sub(sub, depth, &sub_path)?);
                    }
                    out.insert(key.clone(), Value::Object(tightened));
                }
                "items" | "prefixItems" if value.is_array() => {
                    let list = value.as_array().into_iter().flatten();
                    let mut tightened = Vec::new();
                    for (i, sub) in list.enumerate() {
                        tightened.push(self.sub(sub, depth, &format!("{here}/{i}"))?);
                    }
                    out.insert(key.clone(), Value::Array(tightened));
                }
                "items" | "additionalItems" | "additionalProperties" | "unevaluatedItems" => {
                    out.insert(key.clone(), self.sub(value, depth, &here)?);
                }
                "allOf" => {
                    for sub in self.schema_list(value, depth, &here, false)? {
                        match sub {
                            Some(s) => all_of.push(s),
                            None => return Ok(None),
                        }
                    }
                }
                "anyOf" => {
                    let options: Vec<Value> =
                        self.schema_list(value, depth, &here, parts_closable)?.into_iter().flatten().collect();
                    if options.is_empty() {
                        return Ok(None);
                    }
                    all_of.push(json!({"anyOf": options}));
                }
                "oneOf" => {
                    let branches = value.as_array().ok_or_else(|| schema_err(&here, "expected an array of schemas"))?;
                    for i in 0..branches.len() {
                        for j in i + 1..branches.len() {
                            if !self.disjoint(&branches[i], &branches[j], 0) {
                                return Err(schema_err(
                                    &here,
                                    format!(
                                        "`oneOf` branches {i} and {j} may both match one value; only provably \
                                         disjoint branches (by type, by a required property's values, or by a \
                                         required property the other forbids) can be enforced"
                                    ),
                                ));
                            }
                        }
                    }
                    let options: Vec<Value> =
                        self.schema_list(value, depth, &here, parts_closable)?.into_iter().flatten().collect();
                    if options.is_empty() {
                        return Ok(None);
                    }
                    all_of.push(json!({"anyOf": options}));
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }

        if !finite {
            let types: BTreeSet<String> = match &type_names {
                Some(ts) => ts.iter().map(|t| t.to_string()).collect(),
                None if composite => BTreeSet::new(), // bounded by its parts
                None => {
                    let has = |keys: &[&str]| keys.iter().any(|k| out.contains_key(*k));
                    let mut inferred = BTreeSet::new();
                    if has(&OBJECT_KEYS) {
                        inferred.insert("object".to_string());
                    }
                    if has(&ARRAY_KEYS) {
                        inferred.insert("array".to_string());
                    }
                    if has(&STRING_KEYS) {
                        inferred.insert("string".to_string());
                    }
                    if has(&NUMBER_KEYS) {
                        inferred.insert("number".to_string());
                    }
                    if inferred.is_empty() {
                        inferred = ["null", "boolean", "number", "string"].map(str::to_string).into();
                    }
                    out.insert("type".into(), json!(inferred.iter().collect::<Vec<_>>()));
                    inferred
                }
            };
            if types.contains("string") {
                self.bound_string(&mut out);
            }
            if types.contains("number") || types.contains("integer") {
                self.bound_number(&mut out, !types.contains("number"));
            }
            if types.contains("array") && !self.bound_array(&mut out)? {
                return Ok(None);
            }
            if (closes || types.contains("object")) && !self.bound_object(&mut out, &all_of, closes, path)? {
                return Ok(None);
            }
        }

        if all_of.is_empty() {
            return Ok(Some(Value::Object(out)));
        }
        if out.is_empty() && all_of.len() == 1 {
            return Ok(all_of.pop());
        }
        if out.is_empty() {
            return Ok(Some(json!({"allOf": all_of})));
        }
        // Keep the node's own keywords next to the composition (llguidance intersects them).
        if all_of.len() == 1
            && let Some(Value::Object(part)) = all_of.first()
            && part.keys().all(|k| !out.contains_key(k))
        {
            let part = part.clone();
            out.extend(part);
            return Ok(Some(Value::Object(out)));
        }
        out.insert("allOf".into(), Value::Array(all_of));
        Ok(Some(Value::Object(out)))
    }

    /// Adds array bounds; false when no array fits any more.
    fn bound_array(&mut self, out: &mut Map<String, Value>) -> Result<bool, ConstrainError> {
        let min_items = out.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let tuple_key = if out.get("prefixItems").is_some_and(Value::is_array) {
            Some("prefixItems")
        } else if out.get("items").is_some_and(Value::is_array) {
            Some("items")
        } else {
            None
        };
        let mut max_items = out.get("maxItems").and_then(Value::as_u64);
        if let Some(tuple_key) = tuple_key {
            let rest_key = if tuple_key == "prefixItems" { "items" } else { "additionalItems" };
            let tuple: Vec<Value> = out.get(tuple_key).and_then(Value::as_array).cloned().unwrap_or_default();
            // The first unsatisfiable tuple slot caps the length.
            if let Some(pos) = tuple.iter().position(|v| v == &Value::Bool(false)) {
                if (pos as u64) < min_items {
                    return Ok(false);
                }
                out.insert(tuple_key.into(), Value::Array(tuple[..pos].to_vec()));
                out.insert(rest_key.into(), Value::Bool(false));
                max_items = Some(max_items.map_or(pos as u64, |m| m.min(pos as u64)));
            } else if !out.contains_key(rest_key) || out.get(rest_key) == Some(&Value::Bool(true)) {
                if min_items <= tuple.len() as u64 {
                    out.insert(rest_key.into(), Value::Bool(false));
                    max_items = Some(max_items.map_or(tuple.len() as u64, |m| m.min(tuple.len() as u64)));
                } else {
                    out.insert(rest_key.into(), self.any_scalar());
                }
            }
            let tuple_len = out.get(tuple_key).and_then(Value::as_array).map_or(0, Vec::len) as u64;
            if out.get(rest_key) == Some(&Value::Bool(false)) && min_items > tuple_len {
                return Ok(false);
            }
        } else {
            match out.get("items") {
                None | Some(Value::Bool(true)) => {
                    out.insert("items".into(), self.any_scalar());
                }
                Some(Value::Bool(false)) => {
                    if min_items > 0 {
                        return Ok(false);
                    }
                    max_items = Some(0);
                }
                Some(_) => {}
            }
        }
        let max = max_items.unwrap_or(min_items.max(self.limits.max_items));
        if max < min_items {
            return Ok(false);
        }
        out.insert("maxItems".into(), json!(max));
        Ok(true)
    }

    /// Collects the property schemas and required names declared at the top of a tightened part (through
    /// nested compositions and `$ref`s into the output definitions).
    fn declared(&self, part: &Value, schemas: &mut Map<String, Value>, names: &mut BTreeSet<String>, depth: usize) {
        if depth > 32 {
            return;
        }
        if let Some(name) = part.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"))
            && let Some(def) = self.out_defs.get(name)
        {
            self.declared(def, schemas, names, depth + 1);
        }
        for (name, schema) in part.get("properties").and_then(Value::as_object).into_iter().flatten() {
            names.insert(name.clone());
            if schema == &Value::Bool(false) {
                continue;
            }
            // Several parts declaring one name: the value matches one of their schemas.
            match schemas.get_mut(name) {
                None => {
                    schemas.insert(name.clone(), schema.clone());
                }
                Some(Value::Object(existing)) if existing.len() == 1 && existing.contains_key("anyOf") => {
                    if let Some(Value::Array(options)) = existing.get_mut("anyOf") {
                        options.push(schema.clone());
                    }
                }
                Some(existing) => {
                    let first = existing.take();
                    *existing = json!({"anyOf": [first, schema.clone()]});
                }
            }
        }
        for name in part.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            names.insert(name.to_string());
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for sub in part.get(key).and_then(Value::as_array).into_iter().flatten() {
                self.declared(sub, schemas, names, depth + 1);
            }
        }
    }

    /// Adds object bounds (closing the object when `close`); false when no object fits any more.
    fn bound_object(
        &mut self,
        out: &mut Map<String, Value>,
        parts: &[Value],
        close: bool,
        path: &str,
    ) -> Result<bool, ConstrainError> {
        let required: Vec<String> = match out.get("required") {
            None => Vec::new(),
            Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(_) => return Err(schema_err(path, "`required` must be an array of strings")),
        };
        let mut props = match out.remove("properties") {
            None => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Err(schema_err(path, "`properties` must be an object")),
        };
        if required.iter().any(|name| props.get(name) == Some(&Value::Bool(false))) {
            return Ok(false);
        }
        let has_patterns = out.get("patternProperties").and_then(Value::as_object).is_some_and(|p| !p.is_empty());
        let open = matches!(out.get("additionalProperties"), None | Some(Value::Bool(true)));
        if close && open {
            // Keys the parts declare or require stay allowed (their values bounded by the declaring parts);
            // required keys nobody declares get a bounded value; every other key is refused.
            let mut schemas = Map::new();
            let mut names: BTreeSet<String> = required.iter().cloned().collect();
            for part in parts {
                self.declared(part, &mut schemas, &mut names, 0);
            }
            for name in names {
                if props.contains_key(&name) || (has_patterns && !required.contains(&name)) {
                    continue;
                }
                let schema = schemas.remove(&name).unwrap_or_else(|| self.any_scalar());
                props.insert(name, schema);
            }
            out.insert("additionalProperties".into(), Value::Bool(false));
        } else if close && out.get("additionalProperties") == Some(&Value::Bool(false)) {
            if parts.is_empty() && !has_patterns && required.iter().any(|name| !props.contains_key(name)) {
                return Ok(false);
            }
        } else if matches!(out.get("additionalProperties"), Some(Value::Object(_))) {
            // A map. With no declared keys, its keys are bounded through a pattern (the schema then applies to
            // every key, as before) and its size through `maxProperties`; llguidance takes `maxProperties` only
            // when every declared key is required. Keys next to declared properties stay unbounded.
            if props.is_empty() && !has_patterns {
                let value = out.insert("additionalProperties".into(), Value::Bool(false));
                let key = format!("^.{{0,{}}}$", self.limits.max_string_length);
                out.insert("patternProperties".into(), json!({ key: value }));
            }
            let all_required = props.keys().all(|k| required.contains(k));
            if all_required && !out.contains_key("maxProperties") {
                out.insert("maxProperties".into(), json!(props.len() as u64 + self.limits.max_items));
            }
        }
        // With no additional properties, a property that admits no value can only be absent: drop it.
        if out.get("additionalProperties") == Some(&Value::Bool(false)) {
            props.retain(|_, v| v != &Value::Bool(false));
        }
        if !props.is_empty() || out.contains_key("additionalProperties") {
            out.insert("properties".into(), Value::Object(props));
        }
        Ok(true)
    }

    // ----- oneOf disjointness (on the original schemas) -----

    fn deref(&self, schema: &'a Value, depth: usize) -> &'a Value {
        let mut s = schema;
        for _ in depth..32 {
            match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(pointer) => match self.root.pointer(pointer) {
                    Some(target) => s = target,
                    None => return s,
                },
                None => return s,
            }
        }
        s
    }

    /// Bit set of the JSON types a schema can match (over-approximated).
    fn types(&self, schema: &'a Value, depth: usize) -> u8 {
        fn of_value(v: &Value) -> u8 {
            match v {
                Value::Null => T_NULL,
                Value::Bool(_) => T_BOOL,
                Value::String(_) => T_STRING,
                Value::Array(_) => T_ARRAY,
                Value::Object(_) => T_OBJECT,
                Value::Number(n) => {
                    if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                        T_INTEGER
                    } else {
                        T_FRACTION
                    }
                }
            }
        }
        fn of_name(name: &str) -> u8 {
            match name {
                "null" => T_NULL,
                "boolean" => T_BOOL,
                "string" => T_STRING,
                "array" => T_ARRAY,
                "object" => T_OBJECT,
                "integer" => T_INTEGER,
                "number" => T_INTEGER | T_FRACTION,
                _ => 0,
            }
        }
        if depth > 32 {
            return T_ALL;
        }
        let schema = self.deref(schema, depth);
        let Some(map) = schema.as_object() else {
            return if schema == &Value::Bool(false) { 0 } else { T_ALL };
        };
        let mut set = T_ALL;
        if let Some(v) = map.get("const") {
            set &= of_value(v);
        }
        if let Some(values) = map.get("enum").and_then(Value::as_array) {
            set &= values.iter().fold(0, |acc, v| acc | of_value(v));
        }
        match map.get("type") {
            Some(Value::String(t)) => set &= of_name(t),
            Some(Value::Array(ts)) => set &= ts.iter().filter_map(Value::as_str).fold(0, |acc, t| acc | of_name(t)),
            _ => {}
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = map.get(key).and_then(Value::as_array) {
                set &= options.iter().fold(0, |acc, o| acc | self.types(o, depth + 1));
            }
        }
        for part in map.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            set &= self.types(part, depth + 1);
        }
        set
    }

    /// True when no JSON value can match both schemas (a sound, incomplete check).
    fn disjoint(&self, a: &'a Value, b: &'a Value, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        let (a, b) = (self.deref(a, depth), self.deref(b, depth));
        let common = self.types(a, depth) & self.types(b, depth);
        if common == 0 {
            return true;
        }
        for (x, y) in [(a, b), (b, a)] {
            for key in ["anyOf", "oneOf"] {
                if let Some(options) = x.get(key).and_then(Value::as_array)
                    && options.iter().all(|o| self.disjoint(o, y, depth + 1))
                {
                    return true;
                }
            }
        }
        let finite = |s: &'a Value| -> Option<Vec<&'a Value>> {
            if let Some(c) = s.get("const") {
                return Some(vec![c]);
            }
            s.get("enum").and_then(Value::as_array).map(|v| v.iter().collect())
        };
        if let (Some(xs), Some(ys)) = (finite(a), finite(b))
            && xs.iter().all(|x| !ys.contains(x))
        {
            return true;
        }
        // Objects (only when both can match nothing but objects, since `required` says nothing about other
        // types): a required property that the other forbids, or whose values cannot agree.
        if common != T_OBJECT {
            return false;
        }
        let required = |s: &'a Value| -> Vec<&'a str> {
            s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
        };
        let property = |s: &'a Value, k: &str| s.get("properties").and_then(|p| p.get(k));
        for (x, y) in [(a, b), (b, a)] {
            let y_closed = y.get("additionalProperties") == Some(&Value::Bool(false))
                && y.get("patternProperties").and_then(Value::as_object).is_none_or(|p| p.is_empty());
            let y_required = required(y);
            for k in required(x) {
                if y_closed && property(y, k).is_none() {
                    return true;
                }
                if y_required.contains(&k)
                    && let (Some(px), Some(py)) = (property(x, k), property(y, k))
                    && self.disjoint(px, py, depth + 1)
                {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tightening_bounds_open_sizes() {
        let schema = json!({"type": "object", "properties": {
            "s": {"type": "string"}, "n": {"type": "number"}, "i": {"type": "integer", "minimum": 0},
            "a": {"type": "array", "items": {"type": "boolean"}, "minItems": 40}}});
        let t = tighten_schema(&schema, &Limits::default()).expect("tightens");
        assert_eq!(t["additionalProperties"], json!(false));
        assert_eq!(t["properties"]["s"]["maxLength"], json!(256));
        assert_eq!(t["properties"]["n"]["maximum"], json!(1e9));
        assert_eq!(t["properties"]["n"]["minimum"], json!(-1e9));
        assert_eq!(t["properties"]["i"]["minimum"], json!(0));
        assert_eq!(t["properties"]["i"]["maximum"], json!((1i64 << 53) - 1));
        assert_eq!(t["properties"]["a"]["maxItems"], json!(40));
    }

    #[test]
    fn overlapping_one_of_is_rejected_with_its_path() {
        let schema =
            json!({"type": "object", "properties": {"x": {"oneOf": [{"type": "number"}, {"type": "integer"}]}}});
        let err = tighten_schema(&schema, &Limits::default()).expect_err("overlap");
        assert!(err.to_string().contains("#/properties/x/oneOf"), "{err}");
        let ok = json!({"oneOf": [{"type": "null"}, {"type": "object", "properties": {"a": {"const": 1}}, "required": ["a"]},
            {"type": "object", "properties": {"a": {"const": 2}}, "required": ["a"]}]});
        tighten_schema(&ok, &Limits::default()).expect("disjoint by a required property's values");
    }

    #[test]
    fn recursion_is_unrolled_to_the_limit() {
        let schema = json!({"$ref": "#/$defs/tree", "$defs": {"tree": {"anyOf": [{"type": "integer"},
            {"type": "array", "items": {"$ref": "#/$defs/tree"}, "minItems": 1}]}}});
        let limits = Limits { max_recursion_depth: 3, ..Limits::default() };
        let t = tighten_schema(&schema, &limits).expect("tightens");
        let defs = t["$defs"].as_object().expect("defs");
        assert_eq!(defs.len(), 3, "{t:#}");
        // The deepest copy lost its recursive option.
        assert_eq!(defs["tree_3"]["anyOf"].as_array().map(Vec::len), Some(1), "{t:#}");
    }

    #[test]
    fn intersections_are_closed_on_the_owning_node() {
        let schema = json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"type": "object", "properties": {"b": {"type": "boolean"}}}
        ]});
        let t = tighten_schema(&schema, &Limits::default()).expect("tightens");
        assert_eq!(t["additionalProperties"], json!(false), "{t:#}");
        let props = t["properties"].as_object().expect("properties");
        assert!(props.contains_key("a") && props.contains_key("b"), "{t:#}");
        for part in t["allOf"].as_array().expect("parts") {
            assert!(part.get("additionalProperties").is_none(), "a part was closed: {t:#}");
        }
        // Properties next to alternatives: the alternatives' keys stay allowed.
        let schema = json!({"type": "object", "properties": {"kind": {"enum": ["x", "y"]}},
            "anyOf": [{"properties": {"x": {"type": "string"}}, "required": ["x"]}, {"required": ["y"]}]});
        let t = tighten_schema(&schema, &Limits::default()).expect("tightens");
        let props = t["properties"].as_object().expect("properties");
        assert!(["kind", "x", "y"].iter().all(|k| props.contains_key(*k)), "{t:#}");
        assert_eq!(props["x"]["maxLength"], json!(256), "{t:#}");
    }

    #[test]
    fn unsupported_keywords_are_rejected() {
        let schema = json!({"type": "array", "items": {"type": "integer"}, "uniqueItems": true});
        let err = tighten_schema(&schema, &Limits::default()).expect_err("unique");
        assert!(err.to_string().contains("uniqueItems"), "{err}");
    }
}
