//! `aio vision`: a MiniCPM-V model reads a chart image and answers with findings JSON, constrained to the
//! findings schema shared with the rule-based pattern engine (or to a schema file).

use std::{io::Write, path::PathBuf, process::ExitCode, sync::mpsc};

use anyhow::Context;

use crate::{
    ai::{
        engine::Engine,
        generate::{FinishReason, GenerateRequest},
        hub::{HubOptions, resolve_model},
        sampling::SamplingParams,
        vision::{CHART_READING_PROMPT, ImageData},
    },
    patterns::chart::{ChartReading, chart_reading_schema},
};

/// Arguments of `aio vision`.
#[derive(Debug, clap::Args)]
pub struct VisionArgs {
    /// MiniCPM-V model folder (Hugging Face layout) or hub id.
    #[arg(long)]
    pub model: String,
    /// The chart image (PNG), e.g. from `aio render`.
    #[arg(long)]
    pub image: PathBuf,
    /// The instruction (default: read the chart and fill in the findings).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Constrain the answer to this JSON Schema instead of the findings schema.
    #[arg(long)]
    pub json_schema: Option<PathBuf>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: usize,
    /// 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the JSON here (through a temporary file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stream the answer to stderr while it is decoded.
    #[arg(long)]
    pub stream: bool,
}

/// Runs `aio vision`.
pub fn run(args: VisionArgs) -> anyhow::Result<ExitCode> {
    let (schema, findings_schema) = match &args.json_schema {
        None => (chart_reading_schema(), true),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            (serde_json::from_str(&text).with_context(|| format!("parsing the JSON schema {}", path.display()))?, false)
        }
    };
    let image = ImageData::open(&args.image).with_context(|| format!("reading the image {}", args.image.display()))?;
    let dir = resolve_model(&args.model, &HubOptions::from_env())?;
    let engine = Engine::start(&dir).with_context(|| format!("loading the model in {}", dir.display()))?;
    anyhow::ensure!(
        engine.info().vision,
        "{} is a text model ({}); `aio vision` needs a MiniCPM-V checkpoint",
        dir.display(),
        engine.info().model_type
    );
    let mut request = GenerateRequest::chat(args.prompt.as_deref().unwrap_or(CHART_READING_PROMPT), args.max_tokens);
    request.sampling = SamplingParams { temperature: args.temperature, seed: args.seed, ..SamplingParams::greedy() };
    request.sampling.validate().map_err(anyhow::Error::msg)?;
    request.json_schema = Some(schema);
    request.images = vec![image];
    let (text_tx, text_rx) = mpsc::channel::<String>();
    let pending = engine.generate(request, Some(text_tx))?;
    for piece in text_rx {
        if args.stream {
            eprint!("{piece}");
        }
    }
    if args.stream {
        eprintln!();
    }
    let generation = pending.wait()?;
    anyhow::ensure!(
        generation.finish == FinishReason::Complete,
        "the answer ended before the JSON was complete ({:?} after {} tokens); raise --max-tokens",
        generation.finish,
        generation.stats.generated_tokens
    );
    let json: serde_json::Value =
        serde_json::from_str(&generation.text).context("the constrained answer is not JSON (a bug)")?;
    if findings_schema {
        let reading: ChartReading =
            serde_json::from_value(json.clone()).context("the answer does not fit the findings (a bug)")?;
        reading.validate().map_err(|e| anyhow::anyhow!("the findings are invalid: {e}"))?;
    }
    let pretty = serde_json::to_string_pretty(&json)?;
    if let Some(out) = &args.out {
        crate::ingest::write_atomically(out, |w| w.write_all(pretty.as_bytes()).map_err(|e| e.to_string()))?;
    }
    println!("{pretty}");
    let s = generation.stats;
    eprintln!(
        "{} prompt tokens, {} generated; first token after {:.0} ms (image, prefill), decode {:.1} tok/s",
        s.prompt_tokens,
        s.generated_tokens,
        s.time_to_first_token_secs * 1e3,
        s.decode_tokens_per_sec
    );
    Ok(ExitCode::SUCCESS)
}
