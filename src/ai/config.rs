//! `config.json` of a MiniCPM4 / MiniCPM4.1 checkpoint, in both styles found in the wild: the hub style
//! (`model_type: "minicpm"`, `rope_theta` and `rope_scaling` at the top level) and the transformers style
//! (`model_type: "minicpm4"`, `rope_parameters` holding the theta and the LongRoPE factors). Both parse into one
//! [`ModelConfig`] whose fields the model reads; nothing else in the crate looks at the raw JSON.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::AiError;

/// Rotary position embedding of a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Rope {
    /// Plain RoPE with `theta`.
    Default,
    /// LongRoPE: per-dimension divisors chosen by sequence length, cos/sin scaled by `attention_factor`.
    LongRope {
        /// Divisors used when the sequence is at most `original_max_positions` long.
        short_factor: Vec<f64>,
        /// Divisors used beyond `original_max_positions`.
        long_factor: Vec<f64>,
        /// Context length the short factors were trained for.
        original_max_positions: usize,
        /// Multiplier of cos and sin.
        attention_factor: f64,
    },
}

/// How the linear layers of the decoder are stored.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantConfig {
    /// Dense f32/f16/bf16 weights.
    None,
    /// 4-bit weights (GPTQ or Marlin layout; the tensors tell which) in groups of `group_size` input rows.
    Int4 {
        /// `quant_method` as written in the config (`gptq`, `marlin`, …).
        method: String,
        /// Input rows sharing one scale.
        group_size: usize,
    },
}

/// The model configuration the engine runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// `model_type` as written (`minicpm` or `minicpm4`).
    pub model_type: String,
    /// Token vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Residual stream width.
    pub hidden_size: usize,
    /// SwiGLU inner width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads (GQA groups).
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Longest context the model supports.
    pub max_positions: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// RoPE variant.
    pub rope: Rope,
    /// Embedding multiplier (muP).
    pub scale_emb: f64,
    /// Residual branch multiplier before ÷ sqrt(layers) (muP).
    pub scale_depth: f64,
    /// Width the muP logits divisor is relative to: final hidden ÷ (hidden_size / dim_model_base).
    pub dim_model_base: f64,
    /// `lm_head` shares the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence id.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence ids from the config (generation_config.json may add more).
    pub eos_token_ids: Vec<u32>,
    /// Weight storage of the decoder's linear layers.
    pub quant: QuantConfig,
    /// InfLLM v2 sparse attention settings, if the checkpoint has them (run densely).
    pub sparse_config: Option<Value>,
    /// `torch_dtype` as written.
    pub torch_dtype: Option<String>,
}

/// One or several ids, as `eos_token_id` is written.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(u32),
    Many(Vec<u32>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<u32> {
        match self {
            Self::One(id) => vec![id],
            Self::Many(ids) => ids,
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawRope {
    #[serde(alias = "type")]
    rope_type: Option<String>,
    rope_theta: Option<f64>,
    short_factor: Option<Vec<f64>>,
    long_factor: Option<Vec<f64>>,
    original_max_position_embeddings: Option<usize>,
    attention_factor: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct RawQuant {
    quant_method: Option<String>,
    bits: Option<u32>,
    group_size: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    #[serde(alias = "kv_channels")]
    head_dim: Option<usize>,
    max_position_embeddings: usize,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_scaling: Option<RawRope>,
    rope_parameters: Option<RawRope>,
    scale_emb: Option<f64>,
    scale_depth: Option<f64>,
    dim_model_base: Option<f64>,
    use_mup: Option<bool>,
    tie_word_embeddings: Option<bool>,
    bos_token_id: Option<u32>,
    eos_token_id: Option<OneOrMany>,
    hidden_act: Option<String>,
    quantization_config: Option<RawQuant>,
    sparse_config: Option<Value>,
    torch_dtype: Option<String>,
    dtype: Option<String>,
}

impl ModelConfig {
    /// Reads and checks `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, AiError> {
        let text = std::fs::read_to_string(path).map_err(|source| AiError::Io { path: path.to_path_buf(), source })?;
        Self::from_json(&text).map_err(|message| AiError::Config { path: path.to_path_buf(), message })
    }

    /// Parses a `config.json` text; the error says which field is wrong.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let model_type = raw.model_type.unwrap_or_else(|| "minicpm".to_owned());
        // A MiniCPM-V config keeps its LLM's fields at the top level; its LLM has no muP scales.
        let vision_llm = model_type == "minicpmv";
        if !matches!(model_type.as_str(), "minicpm" | "minicpm4") && !vision_llm {
            return Err(format!(
                "model_type: {model_type:?} is not a MiniCPM4 text model (minicpm or minicpm4) or MiniCPM-V (minicpmv)"
            ));
        }
        if let Some(act) = &raw.hidden_act
            && act != "silu"
        {
            return Err(format!("hidden_act: {act:?} is not supported (silu)"));
        }
        let num_kv_heads = raw.num_key_value_heads.unwrap_or(raw.num_attention_heads);
        if raw.num_attention_heads == 0 || num_kv_heads == 0 || !raw.num_attention_heads.is_multiple_of(num_kv_heads) {
            return Err(format!(
                "num_attention_heads ({}) must be a positive multiple of num_key_value_heads ({num_kv_heads})",
                raw.num_attention_heads
            ));
        }
        let head_dim = match raw.head_dim {
            Some(d) => d,
            None if raw.hidden_size.is_multiple_of(raw.num_attention_heads) => {
                raw.hidden_size / raw.num_attention_heads
            }
            None => return Err("hidden_size is not a multiple of num_attention_heads and head_dim is missing".into()),
        };
        if !head_dim.is_multiple_of(2) {
            return Err(format!("head_dim: {head_dim} must be even for rotary embeddings"));
        }
        // Transformers style keeps theta and the scaling in `rope_parameters`; the hub style has both at the top.
        let rope_raw = raw.rope_parameters.or(raw.rope_scaling);
        let rope_theta = raw.rope_theta.or_else(|| rope_raw.as_ref().and_then(|r| r.rope_theta)).unwrap_or(10_000.0);
        let rope = match rope_raw {
            None => Rope::Default,
            Some(r) => match r.rope_type.as_deref() {
                None | Some("default") => Rope::Default,
                Some("longrope") => {
                    let half = head_dim / 2;
                    let field = |name: &str, v: Option<Vec<f64>>| -> Result<Vec<f64>, String> {
                        let v = v.ok_or_else(|| format!("rope {name} is missing"))?;
                        if v.len() != half {
                            return Err(format!("rope {name} has {} values, head_dim / 2 is {half}", v.len()));
                        }
                        Ok(v)
                    };
                    let short_factor = field("short_factor", r.short_factor)?;
                    let long_factor = field("long_factor", r.long_factor)?;
                    let original = r.original_max_position_embeddings.unwrap_or(raw.max_position_embeddings);
                    if original == 0 {
                        return Err("rope original_max_position_embeddings must be positive".into());
                    }
                    let attention_factor = r.attention_factor.unwrap_or_else(|| {
                        let scale = raw.max_position_embeddings as f64 / original as f64;
                        if scale <= 1.0 { 1.0 } else { (1.0 + scale.ln() / (original as f64).ln()).sqrt() }
                    });
                    Rope::LongRope { short_factor, long_factor, original_max_positions: original, attention_factor }
                }
                Some(other) => return Err(format!("rope type {other:?} is not supported (default or longrope)")),
            },
        };
        let mup = raw.use_mup.unwrap_or(true);
        // Absent muP keys mean "no scaling": embeddings × 1, residuals × 1 (scale_depth = √layers), logits ÷ 1.
        // MiniCPM4 text checkpoints always carry them; MiniCPM-V 4.0's LLM leaves them out.
        let (default_depth, default_base) = if vision_llm {
            ((raw.num_hidden_layers as f64).sqrt(), raw.hidden_size as f64)
        } else {
            (1.0, raw.hidden_size as f64)
        };
        let quant = match raw.quantization_config {
            None => QuantConfig::None,
            Some(q) => {
                let method = q.quant_method.unwrap_or_else(|| "gptq".to_owned());
                if q.bits.unwrap_or(4) != 4 {
                    return Err(format!("quantization_config.bits: {:?} is not supported (4)", q.bits));
                }
                let group_size = match q.group_size {
                    Some(g) if g > 0 => g as usize,
                    Some(-1) => raw.hidden_size.max(raw.intermediate_size),
                    None => 128,
                    Some(g) => return Err(format!("quantization_config.group_size: {g} is not valid")),
                };
                QuantConfig::Int4 { method, group_size }
            }
        };
        Ok(Self {
            model_type,
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_layers: raw.num_hidden_layers,
            num_heads: raw.num_attention_heads,
            num_kv_heads,
            head_dim,
            max_positions: raw.max_position_embeddings,
            rms_norm_eps: raw.rms_norm_eps.unwrap_or(1e-6),
            rope_theta,
            rope,
            scale_emb: if mup { raw.scale_emb.unwrap_or(1.0) } else { 1.0 },
            scale_depth: if mup {
                raw.scale_depth.unwrap_or(default_depth)
            } else {
                (raw.num_hidden_layers as f64).sqrt()
            },
            dim_model_base: if mup { raw.dim_model_base.unwrap_or(default_base) } else { raw.hidden_size as f64 },
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
            bos_token_id: raw.bos_token_id,
            eos_token_ids: raw.eos_token_id.map(OneOrMany::into_vec).unwrap_or_default(),
            quant,
            sparse_config: raw.sparse_config.filter(|v| !v.is_null()),
            torch_dtype: raw.torch_dtype.or(raw.dtype),
        })
    }

    /// Multiplier of every residual branch: `scale_depth / sqrt(num_layers)`.
    pub fn residual_scale(&self) -> f64 {
        self.scale_depth / (self.num_layers as f64).sqrt()
    }

    /// Divisor of the final normed hidden state before `lm_head`: `hidden_size / dim_model_base`.
    pub fn logits_divisor(&self) -> f64 {
        self.hidden_size as f64 / self.dim_model_base
    }

    /// Parameters of the model counted from the shapes (embedding, layers, norms, untied head).
    pub fn parameter_count(&self) -> u64 {
        let h = self.hidden_size as u64;
        let q = (self.num_heads * self.head_dim) as u64;
        let kv = (self.num_kv_heads * self.head_dim) as u64;
        let i = self.intermediate_size as u64;
        let per_layer = h * q + 2 * h * kv + q * h + 3 * h * i + 2 * h;
        let emb = self.vocab_size as u64 * h;
        emb + self.num_layers as u64 * per_layer + h + if self.tie_word_embeddings { 0 } else { emb }
    }

    /// The shape of MiniCPM4.1-8B (for benchmarks with random weights).
    pub fn minicpm4_8b() -> Self {
        Self::bench_shape(4096, 16384, 32, 32, 2, 128, 73448)
    }

    /// The shape of MiniCPM4-0.5B (for benchmarks with random weights).
    pub fn minicpm4_0_5b() -> Self {
        Self::bench_shape(1024, 4096, 24, 16, 2, 64, 73448)
    }

    fn bench_shape(
        hidden: usize,
        inter: usize,
        layers: usize,
        heads: usize,
        kv_heads: usize,
        head_dim: usize,
        vocab: usize,
    ) -> Self {
        Self {
            model_type: "minicpm".into(),
            vocab_size: vocab,
            hidden_size: hidden,
            intermediate_size: inter,
            num_layers: layers,
            num_heads: heads,
            num_kv_heads: kv_heads,
            head_dim,
            max_positions: 32768,
            rms_norm_eps: 1e-6,
            rope_theta: 10_000.0,
            rope: Rope::Default,
            scale_emb: 12.0,
            scale_depth: 1.4,
            dim_model_base: 256.0,
            tie_word_embeddings: false,
            bos_token_id: Some(1),
            eos_token_ids: vec![2, 73440],
            quant: QuantConfig::Int4 { method: "marlin".into(), group_size: 128 },
            sparse_config: None,
            torch_dtype: Some("float16".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB: &str = r#"{"vocab_size": 512, "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64, "scale_emb": 12,
        "scale_depth": 1.4, "dim_model_base": 64, "rms_norm_eps": 1e-06, "eos_token_id": [2, 3],
        "model_type": "minicpm", "rope_theta": 10000.0,
        "rope_scaling": {"rope_type": "longrope", "long_factor": [2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0,2.0],
        "short_factor": [1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0],
        "original_max_position_embeddings": 32}}"#;

    #[test]
    fn hub_and_transformers_styles_parse_to_the_same_config() {
        let hub = ModelConfig::from_json(HUB).expect("hub style");
        let mut v: Value = serde_json::from_str(HUB).expect("json");
        let obj = v.as_object_mut().expect("object");
        let mut rope = obj.remove("rope_scaling").expect("rope");
        let theta = obj.remove("rope_theta").expect("theta");
        rope.as_object_mut().expect("object").insert("rope_theta".into(), theta);
        obj.insert("rope_parameters".into(), rope);
        obj.insert("model_type".into(), "minicpm4".into());
        let tf = ModelConfig::from_json(&v.to_string()).expect("transformers style");
        assert_eq!(tf.model_type, "minicpm4");
        assert_eq!(ModelConfig { model_type: "minicpm".into(), ..tf }, hub);
        let Rope::LongRope { attention_factor, original_max_positions, .. } = hub.rope else { panic!("longrope") };
        assert_eq!(original_max_positions, 32);
        assert!((attention_factor - (1.0 + 2f64.ln() / 32f64.ln()).sqrt()).abs() < 1e-15);
        assert!((hub.residual_scale() - 1.4 / 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(hub.logits_divisor(), 4.0);
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = HUB.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
        assert!(ModelConfig::from_json(&bad).unwrap_err().contains("num_key_value_heads"));
        let bad = HUB.replace("[2.0,2.0,", "[");
        assert!(ModelConfig::from_json(&bad).unwrap_err().contains("long_factor"));
        let bad = HUB.replace("\"minicpm\"", "\"llama\"");
        assert!(ModelConfig::from_json(&bad).unwrap_err().contains("model_type"));
    }

    #[test]
    fn the_8b_shape_has_about_8_billion_parameters() {
        let p = ModelConfig::minicpm4_8b().parameter_count();
        assert!((7_500_000_000..8_500_000_000).contains(&p), "{p}");
    }
}
