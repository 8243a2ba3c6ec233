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
    generate::{GenerateRequest, Generation, Prompt, PromptInput, generate_from, prompt_ids},
    models::minicpm4::MiniCpm4,
    tokenizer::TextTokenizer,
    vision::{self, ImageData, ImageFeatures, ImageInput, MiniCpmV, VisionTower, is_vision_checkpoint},
};
use candle_core::Tensor;

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
    /// Whether the model reads images (MiniCPM-V).
    pub vision: bool,
    /// Seconds the load took.
    pub load_secs: f64,
}

/// A model and its tokenizer, loaded from one folder.
pub struct LoadedModel {
    /// The network (the LLM of a vision model).
    pub model: MiniCpm4,
    /// Tokenizer and chat template.
    pub tokenizer: TextTokenizer,
    /// Encoder and resampler of a MiniCPM-V checkpoint.
    pub vision: Option<VisionTower>,
    /// Description.
    pub info: ModelInfo,
}

impl LoadedModel {
    /// Loads config, tokenizer and weights of a Hugging Face model folder: a MiniCPM4 text model, or a MiniCPM-V
    /// checkpoint (`model_type` `minicpmv`: vision tower and LLM).
    pub fn load(dir: &Path) -> Result<Self, AiError> {
        let started = Instant::now();
        let (model, tokenizer, vision) = if is_vision_checkpoint(dir) {
            let MiniCpmV { llm, vision, tokenizer, .. } = MiniCpmV::load(dir)?;
            (llm, tokenizer, Some(vision))
        } else {
            let cfg = ModelConfig::from_file(&dir.join("config.json"))?;
            let tokenizer = TextTokenizer::from_dir(dir, &cfg.eos_token_ids)?;
            (MiniCpm4::load(dir, cfg)?, tokenizer, None)
        };
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
                "{}MiniCPM4: {} layers, hidden {}, {} heads / {} KV heads × {}, MLP {}, LongRoPE {}",
                match &vision {
                    Some(v) => {
                        let c = v.config();
                        format!(
                            "MiniCPM-V {}: SigLIP {} layers, hidden {}, {} heads, MLP {}; resampler {} queries; LLM ",
                            c.version,
                            c.vision.layers_used(),
                            c.vision.hidden_size,
                            c.vision.num_attention_heads,
                            c.vision.intermediate_size,
                            c.query_num
                        )
                    }
                    None => String::new(),
                },
                cfg.num_layers,
                cfg.hidden_size,
                cfg.num_heads,
                cfg.num_kv_heads,
                cfg.head_dim,
                cfg.intermediate_size,
                if matches!(cfg.rope, super::config::Rope::LongRope { .. }) { "yes" } else { "no" }
            ),
            quantization,
            parameters: cfg.parameter_count() + vision.as_ref().map_or(0, |v| v.parameters() as u64),
            weight_bytes: model.weight_bytes() + vision.as_ref().map_or(0, |v| 4 * v.parameters() as u64),
            vocab_size: cfg.vocab_size,
            max_positions: cfg.max_positions,
            chat_template: tokenizer.has_chat_template(),
            vision: vision.is_some(),
            load_secs: started.elapsed().as_secs_f64(),
        };
        Ok(Self { model, tokenizer, vision, info })
    }

    /// Whether the model reads images.
    pub fn has_vision(&self) -> bool {
        self.vision.is_some()
    }

    fn tower(&self) -> Result<&VisionTower, AiError> {
        self.vision.as_ref().ok_or_else(|| {
            AiError::Request(format!("{} is a text model; images need a MiniCPM-V checkpoint", self.info.dir.display()))
        })
    }

    /// Resampled features of each image, in order (one padded batch per image).
    pub fn image_features(&self, images: &[ImageData]) -> Result<Vec<(ImageInput, ImageFeatures)>, AiError> {
        let tower = self.tower()?;
        images
            .iter()
            .enumerate()
            .map(|(k, image)| {
                let input = tower.preprocess(&image.0, k)?;
                let features = tower.features(&input)?;
                Ok((input, features))
            })
            .collect()
    }

    /// The ids of a request's prompt with its images' placeholders (no features computed).
    pub fn prompt_ids(&self, request: &GenerateRequest) -> Result<Vec<u32>, AiError> {
        if request.images.is_empty() {
            return self.prompt_input(request).map(|p| p.ids);
        }
        let tower = self.tower()?;
        let placeholders =
            request.images.iter().enumerate().map(|(k, image)| tower.placeholder(&image.0, k)).collect::<Vec<_>>();
        self.ids_with_placeholders(request, &placeholders)
    }

    fn ids_with_placeholders(&self, request: &GenerateRequest, placeholders: &[String]) -> Result<Vec<u32>, AiError> {
        match &request.prompt {
            Prompt::Chat { messages, .. } => {
                let mut messages = messages.clone();
                let last_user = messages
                    .iter_mut()
                    .rev()
                    .find(|m| m.role == "user")
                    .ok_or_else(|| AiError::Request("images need a user message to go into".into()))?;
                last_user.content = vision::insert_placeholders(&last_user.content, placeholders)?;
                vision::prompt_ids(&self.model, &self.tokenizer, &messages)
            }
            Prompt::Text(text) => self.tokenizer.encode_prompt(&vision::insert_placeholders(text, placeholders)?),
            Prompt::Ids(ids) => Ok(ids.clone()),
        }
    }

    /// Ids and input embeddings of a request's prompt with its images in place (no images: ids only).
    pub fn prompt_input(&self, request: &GenerateRequest) -> Result<PromptInput, AiError> {
        if request.images.is_empty() {
            let ids = match (&self.vision, &request.prompt) {
                // A vision model's chat prompt is built as its processor builds it (BOS, no thinking switch).
                (Some(_), Prompt::Chat { messages, .. }) => vision::prompt_ids(&self.model, &self.tokenizer, messages)?,
                _ => prompt_ids(&self.tokenizer, &request.prompt)?,
            };
            return Ok(PromptInput { ids, embeddings: None });
        }
        let tower = self.tower()?;
        let encoded = self.image_features(&request.images)?;
        let placeholders: Vec<String> = encoded.iter().map(|(input, _)| input.placeholder.clone()).collect();
        let ids = self.ids_with_placeholders(request, &placeholders)?;
        let features: Vec<Tensor> = encoded.into_iter().map(|(_, f)| f.features).collect();
        let features = Tensor::cat(&features, 0)?;
        let embeddings = vision::embeddings(&self.model, &self.tokenizer, tower, &ids, Some(&features))?;
        Ok(PromptInput { ids, embeddings: Some(embeddings) })
    }

    /// Logits of every position of `ids` [len, vocab]; with images, their features replace the placeholders
    /// the ids must hold.
    pub fn logits(&self, ids: &[u32], images: &[ImageData]) -> Result<Tensor, AiError> {
        if images.is_empty() && self.vision.is_none() {
            return self.model.logits(ids);
        }
        let features = if images.is_empty() {
            None
        } else {
            let f: Vec<Tensor> = self.image_features(images)?.into_iter().map(|(_, f)| f.features).collect();
            Some(Tensor::cat(&f, 0)?)
        };
        let embeddings = vision::embeddings(&self.model, &self.tokenizer, self.tower()?, ids, features.as_ref())?;
        let mut cache = self.model.new_cache();
        self.model.forward_embeddings(embeddings, &mut cache, true)
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
    /// The token ids a generation request's prompt (and images) becomes.
    PromptIds {
        /// The request (its prompt and images are read).
        request: Box<GenerateRequest>,
        /// The ids.
        reply_tx: Sender<Result<Vec<u32>, AiError>>,
    },
    /// Logits of every position of `ids` from an empty cache, row-major [len, vocab].
    Logits {
        /// Token ids.
        ids: Vec<u32>,
        /// Images whose features replace the placeholders of `ids` (vision models).
        images: Vec<ImageData>,
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
        self.logits_with_images(ids, Vec::new())
    }

    /// The token ids the prompt of `request` becomes (placeholders included for its images), waiting.
    pub fn prompt_ids(&self, request: GenerateRequest) -> Result<Vec<u32>, AiError> {
        let (reply_tx, reply_rx) = mpsc::channel();
        self.submit(EngineRequest::PromptIds { request: Box::new(request), reply_tx })?;
        reply_rx.recv().map_err(|_| AiError::EngineStopped)?
    }

    /// [`Self::logits`] of a multimodal prompt: `ids` hold the images' placeholders.
    pub fn logits_with_images(&self, ids: Vec<u32>, images: Vec<ImageData>) -> LogitsReply {
        let (reply_tx, reply_rx) = mpsc::channel();
        self.submit(EngineRequest::Logits { ids, images, reply_tx })?;
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
            EngineRequest::PromptIds { request, reply_tx } => {
                let _ = reply_tx.send(loaded.prompt_ids(&request));
            }
            EngineRequest::Logits { ids, images, reply_tx } => {
                let result = loaded.logits(&ids, &images).and_then(|t| {
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
    let input = loaded.prompt_input(request)?;
    generate_from(&loaded.model, &loaded.tokenizer, request, input, matcher, cancel, |piece| {
        if let Some(tx) = text_tx {
            let _ = tx.send(piece.to_owned());
        }
    })
}
