//! The inference engine: one named worker thread owns the model and tokenizer; callers send [`EngineRequest`]s
//! that carry their own reply channel (mistral.rs' pattern). Start-up has a ready handshake, so a failed load comes
//! back from [`Engine::start`] as an error. Requests queue in a bounded channel and run one after another; a
//! generation streams its text through the caller's channel and can be cancelled through its handle.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, Sender, SyncSender, TrySendError},
    },
    thread::JoinHandle,
    time::Instant,
};

use serde::Serialize;

use super::{
    AiError,
    config::{ModelConfig, QuantConfig},
    constrain::{ConstraintCompiler, JsonConstraint},
    generate::{GenerateRequest, Generation, generate},
    models::minicpm4::MiniCpm4,
    tokenizer::TextTokenizer,
};

/// Requests that may wait in the queue before `submit` refuses more.
const QUEUE_CAPACITY: usize = 64;

/// What `aio model info` prints and the UI shows.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// Model folder.
    pub dir: PathBuf,
    /// `model_type` of the config.
    pub model_type: String,
    /// Layers, width, heads, …
    pub architecture: String,
    /// Storage of the decoder's linear layers.
    pub quantization: String,
    /// Parameters counted from the shapes.
    pub parameters: u64,
    /// Resident bytes of the weights.
    pub weight_bytes: u64,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Context length.
    pub max_positions: usize,
    /// Whether the checkpoint has a chat template.
    pub chat_template: bool,
    /// Seconds the load took.
    pub load_secs: f64,
}

/// A model and its tokenizer, loaded from one folder.
pub struct LoadedModel {
    /// The network.
    pub model: MiniCpm4,
    /// Tokenizer and chat template.
    pub tokenizer: TextTokenizer,
    /// Description.
    pub info: ModelInfo,
}

impl LoadedModel {
    /// Loads config, tokenizer and weights of a Hugging Face model folder.
    pub fn load(dir: &Path) -> Result<Self, AiError> {
        let started = Instant::now();
        let cfg = ModelConfig::from_file(&dir.join("config.json"))?;
        let tokenizer = TextTokenizer::from_dir(dir, &cfg.eos_token_ids)?;
        let model = MiniCpm4::load(dir, cfg)?;
        let cfg = model.config();
        let quantization = match &cfg.quant {
            QuantConfig::None => format!("{} ({})", model.layout(), cfg.torch_dtype.as_deref().unwrap_or("float32")),
            QuantConfig::Int4 { method, group_size } => {
                format!("{}; config says {method}, group {group_size}", model.layout())
            }
        };
        let info = ModelInfo {
            dir: dir.to_path_buf(),
            model_type: cfg.model_type.clone(),
            architecture: format!(
                "MiniCPM4: {} layers, hidden {}, {} heads / {} KV heads × {}, MLP {}, LongRoPE {}",
                cfg.num_layers,
                cfg.hidden_size,
                cfg.num_heads,
                cfg.num_kv_heads,
                cfg.head_dim,
                cfg.intermediate_size,
                if matches!(cfg.rope, super::config::Rope::LongRope { .. }) { "yes" } else { "no" }
            ),
            quantization,
            parameters: cfg.parameter_count(),
            weight_bytes: model.weight_bytes(),
            vocab_size: cfg.vocab_size,
            max_positions: cfg.max_positions,
            chat_template: tokenizer.has_chat_template(),
            load_secs: started.elapsed().as_secs_f64(),
        };
        Ok(Self { model, tokenizer, info })
    }
}

/// Shape and row-major values of a logits matrix, or why they could not be computed.
pub type LogitsReply = Result<(Vec<usize>, Vec<f32>), AiError>;

/// A request to the engine thread, carrying its reply channel.
pub enum EngineRequest {
    /// Generate text; pieces go to `text_tx` as they are decoded.
    Generate {
        /// The request.
        request: Box<GenerateRequest>,
        /// Streamed text pieces (dropped receivers are fine).
        text_tx: Option<Sender<String>>,
        /// Set to stop early.
        cancel: Arc<AtomicBool>,
        /// The final result.
        reply_tx: Sender<Result<Generation, AiError>>,
    },
    /// Logits of every position of `ids` from an empty cache, row-major [len, vocab].
    Logits {
        /// Token ids.
        ids: Vec<u32>,
        /// Shape and values.
        reply_tx: Sender<LogitsReply>,
    },
}

/// A generation in flight.
pub struct PendingGeneration {
    reply_rx: Receiver<Result<Generation, AiError>>,
    cancel: Arc<AtomicBool>,
}

impl PendingGeneration {
    /// Asks the engine to stop this generation (it returns what it has, marked cancelled).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Waits for the result.
    pub fn wait(self) -> Result<Generation, AiError> {
        self.reply_rx.recv().map_err(|_| AiError::EngineStopped)?
    }

    /// The result if it is ready (never blocks; for UI frames).
    pub fn try_result(&self) -> Option<Result<Generation, AiError>> {
        self.reply_rx.try_recv().ok()
    }
}

/// Handle to the engine thread; dropping it stops the thread after the queued requests.
pub struct Engine {
    request_tx: Option<SyncSender<EngineRequest>>,
    thread: Option<JoinHandle<()>>,
    info: ModelInfo,
}

impl Engine {
    /// Starts the engine thread and waits until the model in `dir` is loaded (or failed to load).
    pub fn start(dir: &Path) -> Result<Self, AiError> {
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<ModelInfo, AiError>>(1);
        let (request_tx, request_rx) = mpsc::sync_channel::<EngineRequest>(QUEUE_CAPACITY);
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("aio-llm".into())
            .spawn(move || {
                let loaded = match LoadedModel::load(&dir) {
                    Ok(loaded) => loaded,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                if ready_tx.send(Ok(loaded.info.clone())).is_err() {
                    return;
                }
                serve(&loaded, &request_rx);
            })
            .map_err(|source| AiError::Io { path: PathBuf::from("aio-llm thread"), source })?;
        match ready_rx.recv() {
            Ok(Ok(info)) => Ok(Self { request_tx: Some(request_tx), thread: Some(thread), info }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(AiError::EngineStopped)
            }
        }
    }

    /// The loaded model's description.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn submit(&self, request: EngineRequest) -> Result<(), AiError> {
        let tx = self.request_tx.as_ref().ok_or(AiError::EngineStopped)?;
        tx.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => AiError::Request(format!("{QUEUE_CAPACITY} requests are already queued")),
            TrySendError::Disconnected(_) => AiError::EngineStopped,
        })
    }

    /// Queues a generation without waiting for it; text pieces go to `text_tx`.
    pub fn generate(
        &self,
        request: GenerateRequest,
        text_tx: Option<Sender<String>>,
    ) -> Result<PendingGeneration, AiError> {
        let (reply_tx, reply_rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        self.submit(EngineRequest::Generate { request: Box::new(request), text_tx, cancel: cancel.clone(), reply_tx })?;
        Ok(PendingGeneration { reply_rx, cancel })
    }

    /// Logits of every position of `ids`, [len, vocab] row-major (waits).
    pub fn logits(&self, ids: Vec<u32>) -> LogitsReply {
        let (reply_tx, reply_rx) = mpsc::channel();
        self.submit(EngineRequest::Logits { ids, reply_tx })?;
        reply_rx.recv().map_err(|_| AiError::EngineStopped)?
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.request_tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The engine thread's loop: one request at a time until every sender is gone.
fn serve(loaded: &LoadedModel, request_rx: &Receiver<EngineRequest>) {
    // The token trie is built once, on the first constrained request; compiled schemas are kept by their text.
    let mut constraints = Constraints { compiler: None, compiled: HashMap::new() };
    while let Ok(request) = request_rx.recv() {
        match request {
            EngineRequest::Generate { request, text_tx, cancel, reply_tx } => {
                let result = run_generate(loaded, &request, text_tx.as_ref(), &cancel, &mut constraints);
                let _ = reply_tx.send(result);
            }
            EngineRequest::Logits { ids, reply_tx } => {
                let result = loaded.model.logits(&ids).and_then(|t| {
                    let shape = t.dims().to_vec();
                    Ok((shape, t.flatten_all()?.to_vec1::<f32>()?))
                });
                let _ = reply_tx.send(result);
            }
        }
    }
}

/// The engine thread's schema compiler and compiled schemas.
struct Constraints {
    compiler: Option<ConstraintCompiler>,
    compiled: HashMap<String, JsonConstraint>,
}

impl Constraints {
    fn get(&mut self, tokenizer: &TextTokenizer, schema: &serde_json::Value) -> Result<JsonConstraint, AiError> {
        let key = schema.to_string();
        if let Some(c) = self.compiled.get(&key) {
            return Ok(c.clone());
        }
        let schema_err = |e: super::constrain::ConstrainError| AiError::Request(format!("json schema: {e}"));
        let compiler = match &mut self.compiler {
            Some(c) => c,
            slot => slot.insert(ConstraintCompiler::new(tokenizer.inner(), tokenizer.eos_ids()).map_err(schema_err)?),
        };
        let constraint = compiler.compile(schema).map_err(schema_err)?;
        self.compiled.insert(key, constraint.clone());
        Ok(constraint)
    }
}

fn run_generate(
    loaded: &LoadedModel,
    request: &GenerateRequest,
    text_tx: Option<&Sender<String>>,
    cancel: &AtomicBool,
    constraints: &mut Constraints,
) -> Result<Generation, AiError> {
    let matcher = match &request.json_schema {
        None => None,
        Some(schema) => {
            let constraint = constraints.get(&loaded.tokenizer, schema)?;
            Some(constraint.matcher().map_err(|e| AiError::Request(format!("json schema: {e}")))?)
        }
    };
    generate(&loaded.model, &loaded.tokenizer, request, matcher, cancel, |piece| {
        if let Some(tx) = text_tx {
            let _ = tx.send(piece.to_owned());
        }
    })
}
