//! MiniCPM4 / MiniCPM4.1 decoder (dense attention): a Llama-style stack with GQA, SwiGLU, RMSNorm, LongRoPE and
//! the three muP scalars — embeddings × `scale_emb`, each residual branch × `scale_depth / sqrt(layers)`, final
//! norm ÷ (`hidden_size / dim_model_base`) before `lm_head`. Tensor names match the checkpoint exactly
//! (`model.layers.{i}.self_attn.q_proj`, …); q/k/v and gate/up are fused at load so dense, GPTQ, Marlin and
//! CPM.cu's fused Marlin run one code path.

use std::{path::Path, sync::Arc};

use candle_core::{D, DType, Device, Tensor};

use crate::ai::{
    AiError,
    config::{ModelConfig, QuantConfig, Rope},
    half_matrix::HalfMatrix,
    linear::Linear,
    weights::Checkpoint,
};

/// One decoder layer.
struct Layer {
    input_norm: Tensor,
    qkv: Linear,
    o: Linear,
    post_norm: Tensor,
    gate_up: Linear,
    down: Linear,
}

/// Keys and values of the positions seen so far, per layer.
pub struct KvCache {
    layers: Vec<candle_nn::kv_cache::KvCache>,
    len: usize,
}

impl KvCache {
    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first forward.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every position.
    pub fn reset(&mut self) {
        self.layers.iter_mut().for_each(candle_nn::kv_cache::KvCache::reset);
        self.len = 0;
    }
}

/// Inverse frequencies of both LongRoPE factor sets (or plain RoPE).
struct RopeTables {
    short_inv_freq: Vec<f64>,
    long_inv_freq: Vec<f64>,
    original_max_positions: usize,
    attention_factor: f64,
}

impl RopeTables {
    fn new(cfg: &ModelConfig) -> Self {
        let d = cfg.head_dim;
        let base: Vec<f64> = (0..d / 2).map(|j| cfg.rope_theta.powf(-((2 * j) as f64) / d as f64)).collect();
        match &cfg.rope {
            Rope::Default => Self {
                short_inv_freq: base.clone(),
                long_inv_freq: base,
                original_max_positions: usize::MAX,
                attention_factor: 1.0,
            },
            Rope::LongRope { short_factor, long_factor, original_max_positions, attention_factor } => Self {
                short_inv_freq: base.iter().zip(short_factor).map(|(f, s)| f / s).collect(),
                long_inv_freq: base.iter().zip(long_factor).map(|(f, l)| f / l).collect(),
                original_max_positions: *original_max_positions,
                attention_factor: *attention_factor,
            },
        }
    }

    /// cos and sin [len, head_dim / 2] for positions `start..start + len`; the factor set follows the whole
    /// sequence length `start + len`, as the reference implementation chooses it.
    fn cos_sin(&self, start: usize, len: usize, device: &Device) -> Result<(Tensor, Tensor), AiError> {
        let inv = if start + len > self.original_max_positions { &self.long_inv_freq } else { &self.short_inv_freq };
        let half = inv.len();
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for t in start..start + len {
            for f in inv {
                // f32 angle as the reference computes it, then cos/sin scaled by the attention factor.
                let angle = (t as f32) * (*f as f32);
                cos.push(angle.cos() * self.attention_factor as f32);
                sin.push(angle.sin() * self.attention_factor as f32);
            }
        }
        Ok((Tensor::from_vec(cos, (len, half), device)?, Tensor::from_vec(sin, (len, half), device)?))
    }
}

/// The token embedding: f32, or 16-bit as stored (shared with a tied `lm_head`).
enum Embedding {
    Dense(Tensor),
    Half(Arc<HalfMatrix>),
}

impl Embedding {
    fn load(ckpt: &Checkpoint, prefix: &str, vocab: usize, hidden: usize) -> Result<Self, AiError> {
        let name = format!("{prefix}model.embed_tokens.weight");
        Ok(match Linear::dense_as_stored(ckpt, &name, vocab, hidden)? {
            Linear::Half(m) => Self::Half(m),
            Linear::Dense(t) => Self::Dense(t),
            Linear::Int4(_) => return Err(ckpt.error(&name, "an embedding cannot be int4")),
        })
    }

    /// Rows of `ids` as f32 [len, hidden].
    fn lookup(&self, ids: &[u32], device: &Device) -> Result<Tensor, AiError> {
        match self {
            Self::Dense(t) => Ok(t.index_select(&Tensor::from_slice(ids, ids.len(), device)?, 0)?),
            Self::Half(m) => {
                let k = m.k();
                let mut out = vec![0f32; ids.len() * k];
                for (row, &id) in out.chunks_mut(k).zip(ids) {
                    m.row_f32(id as usize, row);
                }
                Ok(Tensor::from_vec(out, (ids.len(), k), device)?)
            }
        }
    }

    /// The same matrix as an output projection (tied `lm_head`).
    fn as_linear(&self) -> Linear {
        match self {
            Self::Dense(t) => Linear::Dense(t.clone()),
            Self::Half(m) => Linear::Half(m.clone()),
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Self::Dense(t) => (t.elem_count() * t.dtype().size_in_bytes()) as u64,
            Self::Half(m) => m.bytes() as u64,
        }
    }
}

/// A loaded MiniCPM4 model.
pub struct MiniCpm4 {
    cfg: ModelConfig,
    embed: Embedding,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Linear,
    rope: RopeTables,
    device: Device,
    layout: String,
}

/// How the checkpoint stores the first layer's projections (all layers share it).
fn checkpoint_layout(ckpt: &Checkpoint, prefix: &str) -> &'static str {
    let attn = format!("{prefix}model.layers.0.self_attn");
    if ckpt.contains(&format!("{attn}.qkv_proj.qweight")) {
        "Marlin with fused qkv_proj/gate_up_proj (CPM.cu), kept int4"
    } else if ckpt.contains(&format!("{attn}.q_proj.qzeros")) {
        "GPTQ v1, kept int4"
    } else if ckpt.contains(&format!("{attn}.q_proj.B")) || ckpt.contains(&format!("{attn}.q_proj.qweight")) {
        "Marlin per projection, kept int4"
    } else {
        "dense, kept as f32"
    }
}

impl MiniCpm4 {
    /// Loads the weights of a checkpoint folder whose config is `cfg` (dense f32/f16/bf16, GPTQ v1, Marlin, or
    /// fused Marlin; the tensors tell which).
    pub fn load(dir: &Path, cfg: ModelConfig) -> Result<Self, AiError> {
        Self::load_from(&Checkpoint::open(dir)?, "", cfg)
    }

    /// Loads the decoder from an open checkpoint whose tensor names start with `prefix` (`""` for a text model,
    /// `"llm."` inside a MiniCPM-V checkpoint).
    pub fn load_from(ckpt: &Checkpoint, prefix: &str, cfg: ModelConfig) -> Result<Self, AiError> {
        let device = Device::Cpu;
        let h = cfg.hidden_size;
        let (q_n, kv_n) = (cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim);
        let i_n = cfg.intermediate_size;
        let vector = |name: &str, n: usize| -> Result<Tensor, AiError> {
            Ok(Tensor::from_vec(ckpt.f32(name, &[n])?, n, &device)?)
        };
        let embed = Embedding::load(ckpt, prefix, cfg.vocab_size, h)?;
        let group_size = match &cfg.quant {
            QuantConfig::Int4 { group_size, .. } => Some(*group_size),
            QuantConfig::None => None,
        };
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for l in 0..cfg.num_layers {
            let p = format!("{prefix}model.layers.{l}");
            let attn = format!("{p}.self_attn");
            let mlp = format!("{p}.mlp");
            layers.push(Layer {
                input_norm: vector(&format!("{p}.input_layernorm.weight"), h)?,
                qkv: Linear::load_fused(
                    ckpt,
                    &attn,
                    "qkv_proj",
                    &[("q_proj", q_n), ("k_proj", kv_n), ("v_proj", kv_n)],
                    h,
                    group_size,
                )?,
                o: Linear::load(ckpt, &format!("{attn}.o_proj"), h, q_n, group_size)?,
                post_norm: vector(&format!("{p}.post_attention_layernorm.weight"), h)?,
                gate_up: Linear::load_fused(
                    ckpt,
                    &mlp,
                    "gate_up_proj",
                    &[("gate_proj", i_n), ("up_proj", i_n)],
                    h,
                    group_size,
                )?,
                down: Linear::load(ckpt, &format!("{mlp}.down_proj"), h, i_n, group_size)?,
            });
        }
        let norm = vector(&format!("{prefix}model.norm.weight"), h)?;
        let head_name = format!("{prefix}lm_head.weight");
        let lm_head = if ckpt.contains(&head_name) && !cfg.tie_word_embeddings {
            Linear::dense_as_stored(ckpt, &head_name, cfg.vocab_size, h)?
        } else {
            embed.as_linear()
        };
        if cfg.sparse_config.is_some() {
            tracing::info!("sparse_config (InfLLM v2) present: attention runs densely, which gives the same results");
        }
        let rope = RopeTables::new(&cfg);
        let layout = checkpoint_layout(ckpt, prefix).to_owned();
        Ok(Self { cfg, embed, layers, norm, lm_head, rope, device, layout })
    }

    /// A model of the given shape with random int4 weights created in memory (benchmarks; never saved).
    pub fn random_int4(cfg: ModelConfig, seed: u64) -> Result<Self, AiError> {
        let device = Device::Cpu;
        let h = cfg.hidden_size;
        let group = match &cfg.quant {
            QuantConfig::Int4 { group_size, .. } => *group_size,
            QuantConfig::None => 128,
        };
        let (q_n, kv_n) = (cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim);
        let i_n = cfg.intermediate_size;
        // 16-bit embedding and head, as int4 checkpoints store them.
        let scale = 1.0 / (h as f32).sqrt();
        let embed = Embedding::Half(Arc::new(HalfMatrix::random_f16(cfg.vocab_size, h, scale, seed ^ 1)));
        let lm_head = Linear::Half(Arc::new(HalfMatrix::random_f16(cfg.vocab_size, h, scale, seed ^ 2)));
        let ones = Tensor::ones(h, DType::F32, &device)?;
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for l in 0..cfg.num_layers {
            let s = seed.wrapping_mul(1000).wrapping_add(l as u64 * 8);
            layers.push(Layer {
                input_norm: ones.clone(),
                qkv: Linear::random_int4(q_n + 2 * kv_n, h, group, s),
                o: Linear::random_int4(h, q_n, group, s + 1),
                post_norm: ones.clone(),
                gate_up: Linear::random_int4(2 * i_n, h, group, s + 2),
                down: Linear::random_int4(h, i_n, group, s + 3),
            });
        }
        let rope = RopeTables::new(&cfg);
        let layout = "random int4 (benchmark)".to_owned();
        Ok(Self { cfg, embed, layers, norm: ones, lm_head, rope, device, layout })
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Resident bytes of all weights (int4 words and scales count as stored).
    pub fn weight_bytes(&self) -> u64 {
        let dense = |t: &Tensor| (t.elem_count() * t.dtype().size_in_bytes()) as u64;
        let mut total = self.embed.bytes() + dense(&self.norm);
        if !self.cfg.tie_word_embeddings {
            total += self.lm_head.bytes();
        }
        for l in &self.layers {
            total += dense(&l.input_norm) + dense(&l.post_norm);
            total += l.qkv.bytes() + l.o.bytes() + l.gate_up.bytes() + l.down.bytes();
        }
        total
    }

    /// Bytes of weights read to produce one token (every layer and `lm_head`; one embedding row).
    pub fn bytes_per_token(&self) -> u64 {
        let per_layer: u64 =
            self.layers.iter().map(|l| l.qkv.bytes() + l.o.bytes() + l.gate_up.bytes() + l.down.bytes()).sum();
        per_layer + self.lm_head.bytes()
    }

    /// Bytes of int4 weights (packed values and scales) read per token.
    pub fn int4_bytes_per_token(&self) -> u64 {
        self.layers
            .iter()
            .flat_map(|l| [&l.qkv, &l.o, &l.gate_up, &l.down])
            .filter(|lin| lin.is_int4())
            .map(Linear::bytes)
            .sum()
    }

    /// Storage layout of the decoder's linear layers as found in the checkpoint, for `aio model info`.
    pub fn layout(&self) -> &str {
        &self.layout
    }

    /// A fresh cache for one sequence.
    pub fn new_cache(&self) -> KvCache {
        let layers = (0..self.cfg.num_layers).map(|_| candle_nn::kv_cache::KvCache::new(1, 256)).collect();
        KvCache { layers, len: 0 }
    }

    /// Runs `ids` after the cached positions and appends them to the cache. Returns logits [ids.len(), vocab]
    /// when `all_positions`, else [1, vocab] for the last position.
    pub fn forward(&self, ids: &[u32], cache: &mut KvCache, all_positions: bool) -> Result<Tensor, AiError> {
        let t = ids.len();
        if t == 0 {
            return Err(AiError::Candle(candle_core::Error::Msg("forward of an empty token list".into())));
        }
        self.forward_embeddings(self.embed(ids)?, cache, all_positions)
    }

    /// The input embeddings of `ids` (rows of the embedding times `scale_emb`), [len, hidden]. Ids must be in the
    /// vocabulary.
    pub fn embed(&self, ids: &[u32]) -> Result<Tensor, AiError> {
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= self.cfg.vocab_size) {
            return Err(AiError::Tokenizer(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.cfg.vocab_size
            )));
        }
        Ok((self.embed.lookup(ids, &self.device)? * self.cfg.scale_emb)?)
    }

    /// [`Self::forward`] from input embeddings [len, hidden] (token rows from [`Self::embed`], some replaced by
    /// image features in a multimodal prompt).
    pub fn forward_embeddings(
        &self,
        embeddings: Tensor,
        cache: &mut KvCache,
        all_positions: bool,
    ) -> Result<Tensor, AiError> {
        // Run the whole pass on a rayon worker: from a thread outside the pool, every parallel
        // operation (each matmul of every layer) is handed to the pool while the caller sleeps,
        // and that wake-up round trip, paid a few hundred times per token, is a visible share of
        // a small model's decode step. From a worker, the operations run in place.
        if rayon::current_thread_index().is_none() {
            return rayon::scope(|_| self.forward_embeddings(embeddings, cache, all_positions));
        }
        let cfg = &self.cfg;
        let (t, hidden) = embeddings.dims2()?;
        if t == 0 || hidden != cfg.hidden_size {
            return Err(AiError::Request(format!(
                "input embeddings are [{t}, {hidden}]; the model needs at least one row of {}",
                cfg.hidden_size
            )));
        }
        let start = cache.len;
        let mut x = embeddings;
        let (cos, sin) = self.rope.cos_sin(start, t, &self.device)?;
        let mask = causal_mask(t, start, cfg.num_heads / cfg.num_kv_heads, &self.device)?;
        let residual_scale = cfg.residual_scale();
        let eps = cfg.rms_norm_eps as f32;
        for (layer, kv) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let normed = candle_nn::ops::rms_norm(&x, &layer.input_norm, eps)?;
            let attn = self.attention(layer, &normed, &cos, &sin, mask.as_ref(), kv)?;
            x = (x + (attn * residual_scale)?)?;
            let normed = candle_nn::ops::rms_norm(&x, &layer.post_norm, eps)?;
            let gate_up = layer.gate_up.forward(&normed)?;
            let i_n = cfg.intermediate_size;
            let act = (candle_nn::ops::silu(&gate_up.narrow(1, 0, i_n)?)? * gate_up.narrow(1, i_n, i_n)?)?;
            let mlp = layer.down.forward(&act)?;
            x = (x + (mlp * residual_scale)?)?;
        }
        cache.len += t;
        let x = if all_positions { x } else { x.narrow(0, t - 1, 1)? };
        let x = (candle_nn::ops::rms_norm(&x, &self.norm, eps)? / cfg.logits_divisor())?;
        self.lm_head.forward(&x)
    }

    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        kv: &mut candle_nn::kv_cache::KvCache,
    ) -> Result<Tensor, AiError> {
        let cfg = &self.cfg;
        let (t, d) = (x.dim(0)?, cfg.head_dim);
        let (h, kvh) = (cfg.num_heads, cfg.num_kv_heads);
        let rep = h / kvh;
        let qkv = layer.qkv.forward(x)?;
        // [t, heads, d] → [1, heads, t, d] for the rotary op.
        let q = qkv.narrow(1, 0, h * d)?.reshape((t, h, d))?.transpose(0, 1)?.unsqueeze(0)?.contiguous()?;
        let k = qkv.narrow(1, h * d, kvh * d)?.reshape((t, kvh, d))?.transpose(0, 1)?.unsqueeze(0)?.contiguous()?;
        let v = qkv.narrow(1, (h + kvh) * d, kvh * d)?.reshape((t, kvh, d))?.transpose(0, 1)?.contiguous()?;
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?.squeeze(0)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?.squeeze(0)?;
        // Cache as [kv_heads, positions, d].
        let (k, v) = kv.append(&k.contiguous()?, &v)?;
        let (k, v) = (k.contiguous()?, v.contiguous()?);
        // GQA without copying keys: the query heads of one KV group become rows of one matrix.
        // q [h, t, d] → [kvh, rep * t, d], rows ordered (rep, t).
        let q = q.reshape((kvh, rep * t, d))?;
        let scores = (q.matmul(&k.t()?)? * (1.0 / (d as f64).sqrt()))?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v)?; // [kvh, rep * t, d]
        let out = out.reshape((h, t, d))?.transpose(0, 1)?.reshape((t, h * d))?;
        layer.o.forward(&out.contiguous()?)
    }

    /// Logits of every position of `ids` from an empty cache, [len, vocab].
    pub fn logits(&self, ids: &[u32]) -> Result<Tensor, AiError> {
        let mut cache = self.new_cache();
        self.forward(ids, &mut cache, true)
    }

    /// The device tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// Additive mask [rep * t, start + t] for rows ordered (rep, t): query t sees keys up to `start + t`. None for a
/// single new position (it sees everything cached).
fn causal_mask(t: usize, start: usize, rep: usize, device: &Device) -> Result<Option<Tensor>, AiError> {
    if t == 1 {
        return Ok(None);
    }
    let total = start + t;
    let mut data = Vec::with_capacity(rep * t * total);
    for _ in 0..rep {
        for row in 0..t {
            data.extend((0..total).map(|col| if col <= start + row { 0.0f32 } else { f32::NEG_INFINITY }));
        }
    }
    Ok(Some(Tensor::from_vec(data, (rep * t, total), device)?))
}

/// Greedy argmax of the last row of logits.
pub fn argmax_last(logits: &Tensor) -> Result<u32, AiError> {
    let last = logits.get(logits.dim(0)? - 1)?;
    Ok(last.argmax(D::Minus1)?.to_scalar::<u32>()?)
}
