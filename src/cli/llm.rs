//! `aio generate` and `aio model info|logits`: the local MiniCPM4 engine from the command line. Text streams to
//! stdout as it is decoded; timings go to stderr.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::mpsc,
};

use anyhow::Context;

use crate::ai::{
    engine::{Engine, LoadedModel},
    generate::{GenerateRequest, Prompt},
    hub::{HubOptions, resolve_model},
    sampling::SamplingParams,
    tokenizer::ChatMessage,
    vision::ImageData,
};

/// Arguments of `aio generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Model folder (Hugging Face layout) or hub id, resolved from the local Hugging Face cache.
    #[arg(long)]
    pub model: String,
    /// The user message (or the whole prompt with --raw).
    #[arg(long)]
    pub prompt: String,
    /// A system message before the prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: usize,
    /// 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Nucleus sampling threshold.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Keep only the k most likely tokens (0 keeps all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// > 1 discourages repeats.
    #[arg(long, default_value_t = 1.0)]
    pub repetition_penalty: f32,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Every output is JSON valid against this JSON Schema file (masked decoding).
    #[arg(long)]
    pub json_schema: Option<PathBuf>,
    /// Stop when this text appears (repeatable).
    #[arg(long = "stop")]
    pub stop: Vec<String>,
    /// Let MiniCPM4.1 think first (by default the prompt carries `/no_think`).
    #[arg(long)]
    pub think: bool,
    /// Send the prompt as plain text, without the chat template.
    #[arg(long)]
    pub raw: bool,
}

/// Arguments of `aio model`.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ModelAction,
}

/// `aio model` actions.
#[derive(Debug, clap::Subcommand)]
pub enum ModelAction {
    /// Print architecture, quantization layout, parameter count and memory of a model folder.
    Info {
        /// Model folder or hub id.
        model: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the logits of every position as an f32 tensor `logits` [len, vocab] (and the ids as `input_ids`) to a
    /// safetensors file.
    Logits {
        /// Model folder or hub id.
        #[arg(long)]
        model: String,
        /// Comma-separated token ids (with --image they must hold the image's placeholder).
        #[arg(long, value_delimiter = ',', required_unless_present = "prompt", conflicts_with = "prompt")]
        ids: Vec<u32>,
        /// A user message, encoded with the chat template (with --image the image goes before it).
        #[arg(long)]
        prompt: Option<String>,
        /// An image for a MiniCPM-V model (repeatable).
        #[arg(long = "image")]
        images: Vec<PathBuf>,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a MiniCPM-V model's resampled image features: `tgt_sizes` i32 [slices, 2] and `features` f32
    /// [slices, query_num, hidden] in a safetensors file.
    VisionFeatures {
        /// Model folder or hub id (a MiniCPM-V checkpoint).
        #[arg(long)]
        model: String,
        /// The image (PNG).
        #[arg(long)]
        image: PathBuf,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn model_dir(name: &str) -> anyhow::Result<PathBuf> {
    Ok(resolve_model(name, &HubOptions::from_env())?)
}

/// Runs `aio generate`.
pub fn run_generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let schema = match &args.json_schema {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Some(serde_json::from_str(&text).with_context(|| format!("parsing the JSON schema {}", path.display()))?)
        }
    };
    let prompt = if args.raw {
        Prompt::Text(args.prompt.clone())
    } else {
        let mut messages = Vec::new();
        if let Some(system) = &args.system {
            messages.push(ChatMessage::new("system", system));
        }
        messages.push(ChatMessage::new("user", &args.prompt));
        Prompt::Chat { messages, thinking: args.think }
    };
    let request = GenerateRequest {
        prompt,
        max_tokens: args.max_tokens,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            seed: args.seed,
        },
        stop_strings: args.stop.clone(),
        stop_ids: Vec::new(),
        json_schema: schema,
        images: Vec::new(),
    };
    request.sampling.validate().map_err(anyhow::Error::msg)?;
    let dir = model_dir(&args.model)?;
    let engine = Engine::start(&dir).with_context(|| format!("loading the model in {}", dir.display()))?;
    let (text_tx, text_rx) = mpsc::channel::<String>();
    let pending = engine.generate(request, Some(text_tx))?;
    let mut stdout = std::io::stdout().lock();
    // The sender is dropped when the generation ends, which ends this loop.
    for piece in text_rx {
        stdout.write_all(piece.as_bytes())?;
        stdout.flush()?;
    }
    writeln!(stdout)?;
    let generation = pending.wait()?;
    let s = generation.stats;
    eprintln!(
        "{} prompt tokens, {} generated ({:?}); first token after {:.0} ms, prefill {:.1} tok/s, decode {:.1} tok/s",
        s.prompt_tokens,
        s.generated_tokens,
        generation.finish,
        s.time_to_first_token_secs * 1e3,
        s.prefill_tokens_per_sec,
        s.decode_tokens_per_sec
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `aio model …`.
pub fn run_model(args: ModelArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        ModelAction::Info { model, json } => {
            let dir = model_dir(&model)?;
            let loaded = LoadedModel::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
            let info = &loaded.info;
            if json {
                println!("{}", serde_json::to_string_pretty(info)?);
            } else {
                println!("model         {}", info.dir.display());
                println!("model_type    {}", info.model_type);
                println!("architecture  {}", info.architecture);
                println!("quantization  {}", info.quantization);
                println!("parameters    {} ({:.3} B)", info.parameters, info.parameters as f64 / 1e9);
                println!("memory        {:.1} MiB of weights", info.weight_bytes as f64 / (1024.0 * 1024.0));
                println!("vocabulary    {}", info.vocab_size);
                println!("context       {} positions", info.max_positions);
                println!("chat template {}", if info.chat_template { "yes" } else { "no" });
                println!(
                    "vision        {}",
                    if info.vision { "yes (MiniCPM-V: images through --image)" } else { "no" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelAction::Logits { model, ids, prompt, images, out } => {
            let dir = model_dir(&model)?;
            let images = images
                .iter()
                .map(|p| ImageData::open(p).with_context(|| format!("reading the image {}", p.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let engine = Engine::start(&dir).with_context(|| format!("loading {}", dir.display()))?;
            let ids = match prompt {
                Some(text) => {
                    let mut request = GenerateRequest::chat(&text, 1);
                    request.images = images.clone();
                    engine.prompt_ids(request)?
                }
                None => ids,
            };
            let (shape, logits) = engine.logits_with_images(ids.clone(), images)?;
            let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
            write_safetensors(
                &out,
                &[
                    ("logits", safetensors::Dtype::F32, shape.clone(), f32_bytes(&logits)),
                    (
                        "input_ids",
                        safetensors::Dtype::I64,
                        vec![ids.len()],
                        ids.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    ),
                ],
            )?;
            eprintln!("wrote logits {shape:?} to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        ModelAction::VisionFeatures { model, image, out } => {
            let dir = model_dir(&model)?;
            let image = ImageData::open(&image).with_context(|| format!("reading the image {}", image.display()))?;
            let loaded = LoadedModel::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
            let (input, features) =
                loaded.image_features(std::slice::from_ref(&image))?.pop().context("no features for the image")?;
            let shape = features.features.dims().to_vec();
            let values: Vec<f32> = features.features.flatten_all()?.to_vec1()?;
            let tgt: Vec<u8> =
                input.tgt_sizes.iter().flat_map(|&(h, w)| [h as i32, w as i32]).flat_map(i32::to_le_bytes).collect();
            write_safetensors(
                &out,
                &[
                    ("tgt_sizes", safetensors::Dtype::I32, vec![input.tgt_sizes.len(), 2], tgt),
                    ("features", safetensors::Dtype::F32, shape.clone(), f32_bytes(&values)),
                ],
            )?;
            eprintln!(
                "wrote features {shape:?} of {} slices to {} (preprocess {:.0} ms, encoder {:.0} ms, resampler {:.0} ms)",
                input.tgt_sizes.len(),
                out.display(),
                input.preprocess_secs * 1e3,
                features.encoder_secs * 1e3,
                features.resampler_secs * 1e3
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A named tensor to write: name, dtype, shape, little-endian bytes.
type NamedTensor = (&'static str, safetensors::Dtype, Vec<usize>, Vec<u8>);

/// Writes tensors as one safetensors file, through a temporary file renamed into place.
pub(crate) fn write_safetensors(out: &Path, tensors: &[NamedTensor]) -> anyhow::Result<()> {
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (*name, v))
                .with_context(|| format!("building the tensor {name}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let data = safetensors::serialize(views, None).context("serialising the tensors")?;
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("creating a file in {}", dir.display()))?;
    tmp.write_all(&data)?;
    tmp.persist(out).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
