//! MiniCPM-V (4.0 layout): the chart image is cut into an overview and a grid of slices
//! ([`preprocess`]), each slice runs through the NaViT SigLIP encoder ([`siglip`]) and the perceiver resampler
//! ([`resampler`]) into `query_num` vectors in the LLM's embedding space, and those vectors replace, in order, the
//! `<unk>` runs between `<image>`/`</image>` and `<slice>`/`</slice>` of the prompt before the MiniCPM4 LLM
//! (`llm.*`, run by [`crate::ai::models::minicpm4`]) prefills and decodes as usual.

pub mod preprocess;
pub mod resampler;
pub mod siglip;

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::{
    preprocess::{ImageTokens, SliceConfig},
    resampler::Resampler,
    siglip::SiglipEncoder,
};
use super::{AiError, config::ModelConfig, models::minicpm4::MiniCpm4, weights::Checkpoint};

/// The SigLIP encoder's shape (`vision_config` of `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionConfig {
    /// Width of the encoder.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Blocks in the checkpoint.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Side of the image the position table was trained for (980 → 70 patches per side).
    pub image_size: usize,
    /// Patch side in pixels.
    pub patch_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Activation of the MLP (only `gelu_pytorch_tanh` is supported).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Whether the last block is dropped (MiniCPM-V's `drop_vision_last_layer`).
    #[serde(skip)]
    pub drop_last_layer: bool,
}

fn default_eps() -> f64 {
    1e-6
}

fn default_act() -> String {
    "gelu_pytorch_tanh".into()
}

impl VisionConfig {
    /// Patches per side of the position table (`image_size / patch_size`).
    pub fn patches_per_side(&self) -> usize {
        self.image_size / self.patch_size.max(1)
    }

    /// Blocks that run (one fewer with `drop_vision_last_layer`).
    pub fn layers_used(&self) -> usize {
        self.num_hidden_layers - usize::from(self.drop_last_layer && self.num_hidden_layers > 0)
    }

    /// SigLIP so400m-patch14 as in MiniCPM-V 4.0 (hidden 1152, 27 layers, 16 heads, MLP 4304, 980-pixel table).
    pub fn so400m() -> Self {
        Self {
            hidden_size: 1152,
            intermediate_size: 4304,
            num_hidden_layers: 27,
            num_attention_heads: 16,
            image_size: 980,
            patch_size: 14,
            layer_norm_eps: 1e-6,
            hidden_act: default_act(),
            drop_last_layer: false,
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.hidden_act != "gelu_pytorch_tanh" {
            return Err(format!(
                "vision_config.hidden_act: {:?} is not supported (gelu_pytorch_tanh)",
                self.hidden_act
            ));
        }
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "vision_config.hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.patch_size == 0 || self.image_size < self.patch_size {
            return Err(format!(
                "vision_config: image_size {} and patch_size {} give no position table",
                self.image_size, self.patch_size
            ));
        }
        Ok(())
    }
}

/// Everything `config.json` and `preprocessor_config.json` of a MiniCPM-V folder say.
#[derive(Debug, Clone)]
pub struct MiniCpmVConfig {
    /// The LLM (top-level fields; no muP scales).
    pub llm: ModelConfig,
    /// The encoder.
    pub vision: VisionConfig,
    /// Slicing.
    pub slice: SliceConfig,
    /// Whether images are sliced at all (`slice_mode`).
    pub slice_mode: bool,
    /// Feature vectors per slice.
    pub query_num: usize,
    /// `version` (4.0 for the layout this code follows).
    pub version: String,
    /// Whether placeholders start with `<image_id>k</image_id>`.
    pub use_image_id: bool,
    /// Pixel normalisation.
    pub norm_mean: [f32; 3],
    /// Pixel normalisation.
    pub norm_std: [f32; 3],
    /// Placeholder tokens.
    pub tokens: ImageTokens,
}

#[derive(Deserialize)]
struct RawVisionTop {
    model_type: Option<String>,
    version: Option<Value>,
    query_num: Option<usize>,
    vision_config: Option<VisionConfig>,
    slice_config: Option<RawSlice>,
    slice_mode: Option<bool>,
    use_image_id: Option<bool>,
    drop_vision_last_layer: Option<bool>,
    patch_size: Option<usize>,
}

#[derive(Deserialize)]
struct RawSlice {
    max_slice_nums: Option<usize>,
    scale_resolution: Option<usize>,
    patch_size: Option<usize>,
}

#[derive(Deserialize, Default)]
struct RawPreprocessor {
    max_slice_nums: Option<usize>,
    scale_resolution: Option<usize>,
    patch_size: Option<usize>,
    use_image_id: Option<bool>,
    image_feature_size: Option<usize>,
    im_start: Option<String>,
    im_end: Option<String>,
    slice_start: Option<String>,
    slice_end: Option<String>,
    unk: Option<String>,
    im_id_start: Option<String>,
    im_id_end: Option<String>,
    slice_mode: Option<bool>,
    norm_mean: Option<[f32; 3]>,
    norm_std: Option<[f32; 3]>,
}

/// Whether a folder holds a MiniCPM-V checkpoint (`model_type` `minicpmv` in `config.json`).
pub fn is_vision_checkpoint(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|v| v.get("model_type").and_then(Value::as_str) == Some("minicpmv"))
}

impl MiniCpmVConfig {
    /// A configuration of these shapes with MiniCPM-V 4.0's slicing, tokens and normalisation (benchmarks).
    pub fn with_shapes(llm: ModelConfig, vision: VisionConfig, query_num: usize) -> Self {
        Self {
            llm,
            slice: SliceConfig { patch_size: vision.patch_size, ..SliceConfig::default() },
            vision,
            slice_mode: true,
            query_num,
            version: "4.0".into(),
            use_image_id: true,
            norm_mean: [0.5; 3],
            norm_std: [0.5; 3],
            tokens: ImageTokens { image_feature_size: query_num, ..ImageTokens::default() },
        }
    }

    /// Reads `config.json` and (optional) `preprocessor_config.json` of a folder.
    pub fn from_dir(dir: &Path) -> Result<Self, AiError> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|source| AiError::Io { path: path.clone(), source })?;
        let pre_path = dir.join("preprocessor_config.json");
        let pre_text = if pre_path.is_file() {
            Some(std::fs::read_to_string(&pre_path).map_err(|source| AiError::Io { path: pre_path.clone(), source })?)
        } else {
            None
        };
        let pre: RawPreprocessor = match &pre_text {
            Some(t) => serde_json::from_str(t)
                .map_err(|e| AiError::Config { path: pre_path.clone(), message: e.to_string() })?,
            None => RawPreprocessor::default(),
        };
        Self::from_json(&text, pre).map_err(|message| AiError::Config { path, message })
    }

    fn from_json(text: &str, pre: RawPreprocessor) -> Result<Self, String> {
        let top: RawVisionTop = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if top.model_type.as_deref() != Some("minicpmv") {
            return Err(format!("model_type: {:?} is not a MiniCPM-V checkpoint (minicpmv)", top.model_type));
        }
        let version = match &top.version {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => "4.0".to_owned(),
        };
        // 2.x and 4.5 pair the same vision path with Qwen LLMs, which this engine does not run.
        let major: f64 = version.parse().map_err(|_| format!("version: {version:?} is not a number"))?;
        if !(4.0..4.5).contains(&major) {
            return Err(format!(
                "version: {version} is not supported (MiniCPM-V 4.0, whose LLM is MiniCPM4; other versions use a \
                 Qwen LLM)"
            ));
        }
        let mut vision = top.vision_config.ok_or("vision_config is missing")?;
        vision.drop_last_layer = top.drop_vision_last_layer.unwrap_or(false);
        vision.check()?;
        let llm = ModelConfig::from_json(text)?;
        let query_num = top.query_num.or(pre.image_feature_size).unwrap_or(64);
        if query_num == 0 {
            return Err("query_num must be positive".into());
        }
        let slice_raw = top.slice_config;
        let defaults = SliceConfig::default();
        let slice = SliceConfig {
            max_slice_nums: pre
                .max_slice_nums
                .or(slice_raw.as_ref().and_then(|s| s.max_slice_nums))
                .unwrap_or(defaults.max_slice_nums),
            scale_resolution: pre
                .scale_resolution
                .or(slice_raw.as_ref().and_then(|s| s.scale_resolution))
                .unwrap_or(defaults.scale_resolution),
            patch_size: pre
                .patch_size
                .or(slice_raw.as_ref().and_then(|s| s.patch_size))
                .or(top.patch_size)
                .unwrap_or(vision.patch_size),
        };
        if slice.patch_size != vision.patch_size {
            return Err(format!(
                "slice_config.patch_size {} differs from vision_config.patch_size {}",
                slice.patch_size, vision.patch_size
            ));
        }
        if slice.max_slice_nums == 0 || slice.scale_resolution < slice.patch_size {
            return Err(format!(
                "slice_config: max_slice_nums {} and scale_resolution {} cannot slice an image",
                slice.max_slice_nums, slice.scale_resolution
            ));
        }
        let d = ImageTokens::default();
        let tokens = ImageTokens {
            im_start: pre.im_start.unwrap_or(d.im_start),
            im_end: pre.im_end.unwrap_or(d.im_end),
            slice_start: pre.slice_start.unwrap_or(d.slice_start),
            slice_end: pre.slice_end.unwrap_or(d.slice_end),
            unk: pre.unk.unwrap_or(d.unk),
            im_id_start: pre.im_id_start.unwrap_or(d.im_id_start),
            im_id_end: pre.im_id_end.unwrap_or(d.im_id_end),
            image_feature_size: query_num,
        };
        Ok(Self {
            llm,
            vision,
            slice,
            slice_mode: pre.slice_mode.or(top.slice_mode).unwrap_or(true),
            query_num,
            version,
            use_image_id: pre.use_image_id.or(top.use_image_id).unwrap_or(true),
            norm_mean: pre.norm_mean.unwrap_or([0.5; 3]),
            norm_std: pre.norm_std.unwrap_or([0.5; 3]),
            tokens,
        })
    }
}

/// A decoded RGB image handed to the engine (shared, cheap to clone; `Debug` prints its size, not its pixels).
#[derive(Clone, PartialEq)]
pub struct ImageData(pub std::sync::Arc<image::RgbImage>);

impl ImageData {
    /// Wraps an image.
    pub fn new(image: image::RgbImage) -> Self {
        Self(std::sync::Arc::new(image))
    }

    /// Decodes a PNG file (alpha dropped as Pillow's `convert("RGB")` does).
    pub fn open(path: &Path) -> Result<Self, AiError> {
        preprocess::load_rgb(path).map(Self::new).map_err(|e| AiError::Request(e.to_string()))
    }

    /// Decodes PNG bytes, as [`Self::open`] does a file.
    pub fn from_png(png: &[u8]) -> Result<Self, AiError> {
        let decoded = image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .map_err(|e| AiError::Request(format!("the chart image does not decode: {e}")))?;
        Ok(Self::new(preprocess::rgb_like_pil(decoded)))
    }
}

impl std::fmt::Debug for ImageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImageData({}×{})", self.0.width(), self.0.height())
    }
}

/// What a vision model is asked about a chart image; the answer is constrained to
/// [`chart_reading_schema`](crate::patterns::chart::chart_reading_schema).
pub const CHART_READING_PROMPT: &str = "You are a forex chart analyst. Read the candlestick chart in the image and \
answer in JSON: the most significant chart pattern (or none) with its strength from 0 to 1, the volatility, the key \
support and resistance prices read from the price axis, the trend, the bar size the chart shows, your confidence \
from 0 to 1, and short notes for a trader.";

/// The marker a prompt text uses for "the next image goes here" (MiniCPM-V's chat convention).
pub const IMAGE_MARKER: &str = "(<image>./</image>)";

/// Puts placeholders into a text: each [`IMAGE_MARKER`] is replaced by the next placeholder, in order; without
/// markers all placeholders go first, one per line. More markers than placeholders is an error.
pub fn insert_placeholders(text: &str, placeholders: &[String]) -> Result<String, AiError> {
    let markers = text.matches(IMAGE_MARKER).count();
    if markers == 0 {
        let mut out = placeholders.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(text);
        return Ok(out);
    }
    if markers != placeholders.len() {
        return Err(AiError::Request(format!(
            "the prompt has {markers} image markers {IMAGE_MARKER} but {} images were given",
            placeholders.len()
        )));
    }
    let mut out = String::with_capacity(text.len() + placeholders.iter().map(String::len).sum::<usize>());
    let mut rest = text;
    for p in placeholders {
        if let Some(at) = rest.find(IMAGE_MARKER) {
            out.push_str(&rest[..at]);
            out.push_str(p);
            rest = &rest[at + IMAGE_MARKER.len()..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The model input of one image: its slices' pixels and shapes, and the placeholder text that stands for it.
#[derive(Debug, Clone)]
pub struct ImageInput {
    /// Pixel values of each slice in the reference layout [3, p, h·w·p] (slice 0 is the overview).
    pub pixel_values: Vec<Vec<f32>>,
    /// (h, w) in patches of each slice.
    pub tgt_sizes: Vec<(usize, usize)>,
    /// `<image_id>k</image_id><image><unk>…</image><slice>…</slice>…` for this image.
    pub placeholder: String,
    /// Seconds spent resizing and slicing.
    pub preprocess_secs: f64,
}

/// Resampled features of one or more images.
#[derive(Debug, Clone)]
pub struct ImageFeatures {
    /// [slices, query_num, hidden].
    pub features: Tensor,
    /// (h, w) in patches of each slice.
    pub tgt_sizes: Vec<(usize, usize)>,
    /// Seconds in the encoder.
    pub encoder_secs: f64,
    /// Seconds in the resampler.
    pub resampler_secs: f64,
}

/// The vision half of a MiniCPM-V checkpoint: encoder and resampler (the LLM lives in the text engine).
pub struct VisionTower {
    cfg: MiniCpmVConfig,
    encoder: SiglipEncoder,
    resampler: Resampler,
}

impl VisionTower {
    /// Loads `vpm.*` and `resampler.*` from an open checkpoint.
    pub fn load(ckpt: &Checkpoint, cfg: &MiniCpmVConfig) -> Result<Self, AiError> {
        let device = Device::Cpu;
        let encoder = SiglipEncoder::load(ckpt, &cfg.vision, &device)?;
        let resampler = Resampler::load(ckpt, cfg.query_num, cfg.llm.hidden_size, cfg.vision.hidden_size, &device)?;
        Ok(Self { cfg: cfg.clone(), encoder, resampler })
    }

    /// A tower of this shape with random weights (benchmarks).
    pub fn random(cfg: &MiniCpmVConfig) -> Result<Self, AiError> {
        let device = Device::Cpu;
        let encoder = SiglipEncoder::random(&cfg.vision, &device)?;
        let resampler = Resampler::random(cfg.query_num, cfg.llm.hidden_size, cfg.vision.hidden_size, &device)?;
        Ok(Self { cfg: cfg.clone(), encoder, resampler })
    }

    /// The configuration.
    pub fn config(&self) -> &MiniCpmVConfig {
        &self.cfg
    }

    /// Parameters of encoder and resampler.
    pub fn parameters(&self) -> usize {
        self.encoder.parameters() + self.resampler.parameters()
    }

    /// The encoder.
    pub fn encoder(&self) -> &SiglipEncoder {
        &self.encoder
    }

    /// The resampler.
    pub fn resampler(&self) -> &Resampler {
        &self.resampler
    }

    /// Slices, normalises and lays out an RGB image as the model input; `image_idx` numbers it in the prompt.
    pub fn preprocess(&self, image: &image::RgbImage, image_idx: usize) -> Result<ImageInput, AiError> {
        let started = Instant::now();
        let cfg = &self.cfg;
        let input = preprocess::preprocess(image, &self.slicing(), cfg.norm_mean, cfg.norm_std)
            .map_err(|e| AiError::Request(format!("image: {e}")))?;
        Ok(ImageInput {
            pixel_values: input.pixel_values,
            tgt_sizes: input.tgt_sizes,
            placeholder: self.placeholder(image, image_idx),
            preprocess_secs: started.elapsed().as_secs_f64(),
        })
    }

    /// The slicing in effect: the configured one, or no slicing at all (`max_slice_nums` 1, the whole image
    /// resized like an unsliced one) when `slice_mode` is off.
    fn slicing(&self) -> SliceConfig {
        let max_slice_nums = if self.cfg.slice_mode { self.cfg.slice.max_slice_nums } else { 1 };
        SliceConfig { max_slice_nums, ..self.cfg.slice.clone() }
    }

    /// The placeholder text of an image numbered `image_idx` (what [`Self::preprocess`] also returns).
    pub fn placeholder(&self, image: &image::RgbImage, image_idx: usize) -> String {
        let cfg = &self.cfg;
        preprocess::image_placeholder(
            image.width(),
            image.height(),
            image_idx,
            &self.slicing(),
            &cfg.tokens,
            cfg.use_image_id,
        )
    }

    /// Runs the encoder (one padded batch) and the resampler over an image's slices.
    pub fn features(&self, input: &ImageInput) -> Result<ImageFeatures, AiError> {
        self.features_profiled(input, &mut siglip::EncoderProfile::default())
    }

    /// [`Self::features`], with the encoder's time by kind of work added to `profile`.
    pub fn features_profiled(
        &self,
        input: &ImageInput,
        profile: &mut siglip::EncoderProfile,
    ) -> Result<ImageFeatures, AiError> {
        let started = Instant::now();
        let encoded = self.encoder.forward_profiled(&input.pixel_values, &input.tgt_sizes, profile)?;
        let encoder_secs = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let features = self.resampler.forward(&encoded.hidden, &encoded.tgt_sizes)?;
        Ok(ImageFeatures {
            features,
            tgt_sizes: input.tgt_sizes.clone(),
            encoder_secs,
            resampler_secs: started.elapsed().as_secs_f64(),
        })
    }
}

/// Spans `start..end` of the ids between each `<image>`/`</image>` and `<slice>`/`</slice>` pair, in order (the
/// reference's `image_bound`).
pub fn image_bounds(ids: &[u32], starts: &[u32], ends: &[u32]) -> Result<Vec<(usize, usize)>, AiError> {
    let mut bounds = Vec::new();
    let mut open: Option<usize> = None;
    for (i, id) in ids.iter().enumerate() {
        if starts.contains(id) {
            if let Some(prev) = open {
                return Err(AiError::Request(format!(
                    "image placeholder opened at token {prev} is not closed before {i}"
                )));
            }
            open = Some(i + 1);
        } else if ends.contains(id) {
            let start = open
                .take()
                .ok_or_else(|| AiError::Request(format!("image placeholder closed at token {i} was never opened")))?;
            bounds.push((start, i));
        }
    }
    if let Some(start) = open {
        return Err(AiError::Request(format!("image placeholder opened at token {} is not closed", start - 1)));
    }
    Ok(bounds)
}

/// A MiniCPM-V checkpoint loaded whole: tokenizer, vision tower and LLM.
pub struct MiniCpmV {
    /// The LLM.
    pub llm: MiniCpm4,
    /// Encoder and resampler.
    pub vision: VisionTower,
    /// Tokenizer and chat template.
    pub tokenizer: super::tokenizer::TextTokenizer,
    dir: PathBuf,
}

impl MiniCpmV {
    /// Loads a MiniCPM-V folder (config, preprocessor config, tokenizer, `vpm.`/`resampler.`/`llm.` tensors).
    pub fn load(dir: &Path) -> Result<Self, AiError> {
        let cfg = MiniCpmVConfig::from_dir(dir)?;
        let tokenizer = super::tokenizer::TextTokenizer::from_dir(dir, &cfg.llm.eos_token_ids)?;
        for t in cfg.tokens.all() {
            if tokenizer.inner().token_to_id(t).is_none() {
                return Err(AiError::Config {
                    path: dir.join("tokenizer.json"),
                    message: format!("the image token {t} is not in the vocabulary"),
                });
            }
        }
        let ckpt = Checkpoint::open(dir)?;
        let vision = VisionTower::load(&ckpt, &cfg)?;
        let llm = MiniCpm4::load_from(&ckpt, "llm.", cfg.llm.clone())?;
        Ok(Self { llm, vision, tokenizer, dir: dir.to_path_buf() })
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Token ids of a ChatML user turn holding the images' placeholders, then `text` (see [`prompt_ids`]).
    pub fn prompt_ids(&self, placeholders: &[String], text: &str) -> Result<Vec<u32>, AiError> {
        let messages = [super::tokenizer::ChatMessage::new("user", &insert_placeholders(text, placeholders)?)];
        prompt_ids(&self.llm, &self.tokenizer, &messages)
    }

    /// Input embeddings with the placeholders replaced by features (see [`embeddings`]).
    pub fn embeddings(&self, ids: &[u32], features: Option<&Tensor>) -> Result<Tensor, AiError> {
        embeddings(&self.llm, &self.tokenizer, &self.vision, ids, features)
    }

    /// Logits of every position of a multimodal prompt [len, vocab].
    pub fn logits(&self, ids: &[u32], features: Option<&Tensor>) -> Result<Tensor, AiError> {
        let embeds = self.embeddings(ids, features)?;
        let mut cache = self.llm.new_cache();
        self.llm.forward_embeddings(embeds, &mut cache, true)
    }
}

/// Token ids of chat messages (placeholders already in their text) rendered by the checkpoint's template, with
/// BOS first as the reference processor encodes them. No `/no_think` switch: the vision LLM does not know it.
pub fn prompt_ids(
    llm: &MiniCpm4,
    tokenizer: &super::tokenizer::TextTokenizer,
    messages: &[super::tokenizer::ChatMessage],
) -> Result<Vec<u32>, AiError> {
    let rendered = tokenizer.render_chat(messages, true, true)?;
    let mut ids = tokenizer.encode(&rendered)?;
    if let Some(bos) = llm.config().bos_token_id
        && ids.first() != Some(&bos)
    {
        ids.insert(0, bos);
    }
    Ok(ids)
}

/// Input embeddings of `ids` with the placeholder runs replaced, in order, by the slices' features
/// ([slices, query_num, hidden]); every run must be exactly `query_num` tokens and there must be as many runs as
/// slices.
pub fn embeddings(
    llm: &MiniCpm4,
    tokenizer: &super::tokenizer::TextTokenizer,
    tower: &VisionTower,
    ids: &[u32],
    features: Option<&Tensor>,
) -> Result<Tensor, AiError> {
    let tokens = &tower.cfg.tokens;
    let token = |text: &str| {
        tokenizer
            .inner()
            .token_to_id(text)
            .ok_or_else(|| AiError::Tokenizer(format!("{text} is not in the vocabulary")))
    };
    let starts = [token(&tokens.im_start)?, token(&tokens.slice_start)?];
    let ends = [token(&tokens.im_end)?, token(&tokens.slice_end)?];
    let bounds = image_bounds(ids, &starts, &ends)?;
    let embeds = llm.embed(ids)?;
    let slices = match features {
        Some(f) => f.dim(0)?,
        None => 0,
    };
    if bounds.len() != slices {
        return Err(AiError::Request(format!(
            "the prompt holds {} image placeholders but the images give {slices} slices",
            bounds.len()
        )));
    }
    let Some(features) = features else { return Ok(embeds) };
    let q = tower.cfg.query_num;
    let mut pieces = Vec::with_capacity(2 * bounds.len() + 1);
    let mut at = 0;
    for (k, &(start, end)) in bounds.iter().enumerate() {
        if end - start != q {
            return Err(AiError::Request(format!(
                "image placeholder {k} holds {} tokens; the model puts {q} features there",
                end - start
            )));
        }
        if start > at {
            pieces.push(embeds.narrow(0, at, start - at)?);
        }
        pieces.push(features.get(k)?);
        at = end;
    }
    if at < ids.len() {
        pieces.push(embeds.narrow(0, at, ids.len() - at)?);
    }
    Ok(Tensor::cat(&pieces, 0)?)
}

impl ImageTokens {
    /// Every token string, for vocabulary checks.
    pub fn all(&self) -> [&str; 7] {
        [
            &self.im_start,
            &self.im_end,
            &self.slice_start,
            &self.slice_end,
            &self.unk,
            &self.im_id_start,
            &self.im_id_end,
        ]
    }
}
