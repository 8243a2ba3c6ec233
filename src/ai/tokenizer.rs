//! The text side of a checkpoint folder: `tokenizer.json` (Hugging Face `tokenizers`), `tokenizer_config.json`
//! (special tokens, `add_bos_token`, the Jinja `chat_template` rendered with minijinja) and
//! `generation_config.json` (extra EOS ids). Chat prompts are encoded the way transformers'
//! `apply_chat_template(tokenize=True)` does: the template decides every special token, nothing is added.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AiError;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message with this role.
    pub fn new(role: &str, content: &str) -> Self {
        Self { role: role.to_owned(), content: content.to_owned() }
    }
}

/// Tokenizer, chat template and stop ids of one model.
pub struct TextTokenizer {
    tokenizer: tokenizers::Tokenizer,
    chat_template: Option<String>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    add_bos_token: bool,
    eos_ids: Vec<u32>,
}

/// A special token as tokenizer_config.json writes it: a string or an `AddedToken` object.
fn token_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn read_json(path: &Path) -> Result<Option<Value>, AiError> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|source| AiError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| AiError::Config { path: path.to_path_buf(), message: e.to_string() })
}

impl TextTokenizer {
    /// Loads `tokenizer.json` (required), `tokenizer_config.json` and `generation_config.json` (optional) from a
    /// model folder; `config_eos` are the EOS ids of `config.json`.
    pub fn from_dir(dir: &Path, config_eos: &[u32]) -> Result<Self, AiError> {
        let path = dir.join("tokenizer.json");
        let tokenizer = tokenizers::Tokenizer::from_file(&path).map_err(|e| AiError::Config {
            path: path.clone(),
            message: format!("tokenizer.json does not load: {e}"),
        })?;
        let tok_cfg = read_json(&dir.join("tokenizer_config.json"))?.unwrap_or(Value::Null);
        let gen_cfg = read_json(&dir.join("generation_config.json"))?.unwrap_or(Value::Null);
        // chat_template is a string, or (older transformers) a list of {name, template}.
        let chat_template = match tok_cfg.get("chat_template") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .or_else(|| list.first())
                .and_then(|t| t.get("template"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        let chat_template = match chat_template {
            Some(t) => Some(t),
            None => std::fs::read_to_string(dir.join("chat_template.jinja")).ok(),
        };
        let bos_token = token_text(tok_cfg.get("bos_token"));
        let eos_token = token_text(tok_cfg.get("eos_token"));
        let add_bos_token = tok_cfg.get("add_bos_token").and_then(Value::as_bool).unwrap_or(false);
        let mut eos_ids: Vec<u32> = config_eos.to_vec();
        match gen_cfg.get("eos_token_id") {
            Some(Value::Number(n)) => eos_ids.extend(n.as_u64().map(|v| v as u32)),
            Some(Value::Array(a)) => eos_ids.extend(a.iter().filter_map(Value::as_u64).map(|v| v as u32)),
            _ => {}
        }
        if let Some(id) = eos_token.as_deref().and_then(|t| tokenizer.token_to_id(t)) {
            eos_ids.push(id);
        }
        eos_ids.sort_unstable();
        eos_ids.dedup();
        Ok(Self { tokenizer, chat_template, bos_token, eos_token, add_bos_token, eos_ids })
    }

    /// The Hugging Face tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.tokenizer
    }

    /// Ids that end generation (config, generation_config and the tokenizer's eos token).
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// Encodes text exactly as written (special tokens in the text are recognised, none are added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, AiError> {
        let enc = self.tokenizer.encode(text, false).map_err(|e| AiError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Encodes a plain completion prompt: BOS first when `add_bos_token` says so.
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, AiError> {
        let mut ids = Vec::new();
        if self.add_bos_token
            && let Some(bos) = self.bos_token.as_deref().and_then(|t| self.tokenizer.token_to_id(t))
        {
            ids.push(bos);
        }
        ids.extend(self.encode(text)?);
        Ok(ids)
    }

    /// Decodes ids to text, dropping special tokens when `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, AiError> {
        self.tokenizer.decode(ids, skip_special).map_err(|e| AiError::Tokenizer(e.to_string()))
    }

    /// Whether the checkpoint has a chat template.
    pub fn has_chat_template(&self) -> bool {
        self.chat_template.is_some()
    }

    /// Renders messages through the checkpoint's own chat template. With `thinking` false, MiniCPM4.1's switch
    /// is set: `enable_thinking=false` for templates that read it, else `/no_think` after the last user message.
    pub fn render_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        thinking: bool,
    ) -> Result<String, AiError> {
        let template = self
            .chat_template
            .as_deref()
            .ok_or_else(|| AiError::Tokenizer("the checkpoint has no chat_template in tokenizer_config.json".into()))?;
        let mut messages = messages.to_vec();
        if !thinking
            && !template.contains("enable_thinking")
            && let Some(last_user) = messages.iter_mut().rev().find(|m| m.role == "user")
            && !last_user.content.trim_end().ends_with("/no_think")
        {
            last_user.content.push_str(" /no_think");
        }
        let mut env = minijinja::Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
        });
        env.add_template("chat", template).map_err(|e| AiError::Tokenizer(format!("chat_template: {e}")))?;
        let tmpl = env.get_template("chat").map_err(|e| AiError::Tokenizer(format!("chat_template: {e}")))?;
        let ctx = minijinja::context! {
            messages => minijinja::Value::from(minijinja::value::Serde(&messages)),
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.clone().unwrap_or_default(),
            eos_token => self.eos_token.clone().unwrap_or_default(),
            enable_thinking => thinking,
        };
        tmpl.render(ctx).map_err(|e| AiError::Tokenizer(format!("chat_template: {e}")))
    }

    /// Renders and encodes a chat prompt.
    pub fn encode_chat(&self, messages: &[ChatMessage], thinking: bool) -> Result<Vec<u32>, AiError> {
        self.encode(&self.render_chat(messages, true, thinking)?)
    }
}

/// Turns a growing list of generated ids into text pieces as soon as they are whole characters (a byte-level
/// BPE token may end inside a UTF-8 sequence; its text waits for the next token).
pub struct TextStream {
    ids: Vec<u32>,
    emitted: usize,
}

impl TextStream {
    /// An empty stream.
    pub fn new() -> Self {
        Self { ids: Vec::new(), emitted: 0 }
    }

    /// Adds a token and returns the new text it completes, if any.
    pub fn push(&mut self, tok: &TextTokenizer, id: u32) -> Result<Option<String>, AiError> {
        self.ids.push(id);
        let text = tok.decode(&self.ids, true)?;
        if text.ends_with('\u{FFFD}') || text.len() <= self.emitted || !text.is_char_boundary(self.emitted) {
            return Ok(None);
        }
        let piece = text[self.emitted..].to_owned();
        self.emitted = text.len();
        Ok(Some(piece))
    }

    /// Text decoded so far (including a partial character at the end).
    pub fn text(&self, tok: &TextTokenizer) -> Result<String, AiError> {
        tok.decode(&self.ids, true)
    }

    /// Generated ids so far.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }
}

impl Default for TextStream {
    fn default() -> Self {
        Self::new()
    }
}
