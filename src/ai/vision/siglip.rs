//! The NaViT-style SigLIP vision encoder of MiniCPM-V (`vpm.*`): a 14×14 patch embedding, learned position
//! embeddings looked up through bucketized fractional coordinates (so any slice shape maps onto the 70×70 table),
//! pre-LayerNorm transformer blocks with `gelu_pytorch_tanh` MLPs, and `post_layernorm`. Slices of different sizes
//! run as one padded batch: the projections and MLPs see every row, attention masks the padded patches out (as
//! keys, and as queries whose outputs nobody reads), so each slice's output equals running it alone.

use std::time::Instant;

use candle_core::{Device, Tensor};

use super::{VisionConfig, preprocess::position_ids};
use crate::ai::{AiError, weights::Checkpoint};

/// A linear layer with bias, its weight stored transposed ([in, out]) for a plain row-major matmul.
pub(crate) struct Dense {
    weight_t: Tensor,
    bias: Option<Tensor>,
}

impl Dense {
    /// Loads `{prefix}.weight` [out, in] and, when `bias`, `{prefix}.bias` [out].
    pub(crate) fn load(
        ckpt: &Checkpoint,
        prefix: &str,
        out: usize,
        inp: usize,
        bias: bool,
        device: &Device,
    ) -> Result<Self, AiError> {
        let w = ckpt.f32(&format!("{prefix}.weight"), &[out, inp])?;
        let weight_t = Tensor::from_vec(w, (out, inp), device)?.t()?.contiguous()?;
        let bias = if bias { Some(vector(ckpt, &format!("{prefix}.bias"), out, device)?) } else { None };
        Ok(Self { weight_t, bias })
    }

    /// From a weight [out, in] and optional bias [out] already in memory.
    pub(crate) fn from_parts(weight: Tensor, bias: Option<Tensor>) -> Result<Self, AiError> {
        Ok(Self { weight_t: weight.t()?.contiguous()?, bias })
    }

    /// Concatenates layers along their outputs (q, k, v → one projection).
    pub(crate) fn concat(parts: &[Self]) -> Result<Self, AiError> {
        let ws: Vec<&Tensor> = parts.iter().map(|p| &p.weight_t).collect();
        let weight_t = Tensor::cat(&ws, 1)?.contiguous()?;
        let bias = if parts.iter().all(|p| p.bias.is_some()) {
            let bs: Vec<&Tensor> = parts.iter().filter_map(|p| p.bias.as_ref()).collect();
            Some(Tensor::cat(&bs, 0)?)
        } else {
            None
        };
        Ok(Self { weight_t, bias })
    }

    /// y [m, out] = x [m, in] · Wᵀ + b.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor, AiError> {
        let y = x.matmul(&self.weight_t)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }

    /// Parameters.
    pub(crate) fn parameters(&self) -> usize {
        self.weight_t.elem_count() + self.bias.as_ref().map_or(0, Tensor::elem_count)
    }
}

/// A LayerNorm's weight and bias.
pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    /// Loads `{prefix}.weight` and `{prefix}.bias` [n].
    pub(crate) fn load(ckpt: &Checkpoint, prefix: &str, n: usize, eps: f64, device: &Device) -> Result<Self, AiError> {
        Ok(Self {
            weight: vector(ckpt, &format!("{prefix}.weight"), n, device)?,
            bias: vector(ckpt, &format!("{prefix}.bias"), n, device)?,
            eps: eps as f32,
        })
    }

    /// Unit weight, zero bias (random-weight benchmarks).
    pub(crate) fn identity(n: usize, eps: f64, device: &Device) -> Result<Self, AiError> {
        Ok(Self {
            weight: Tensor::ones(n, candle_core::DType::F32, device)?,
            bias: Tensor::zeros(n, candle_core::DType::F32, device)?,
            eps: eps as f32,
        })
    }

    /// Normalises the last dimension.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor, AiError> {
        Ok(candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)?)
    }
}

/// Reads a float vector [n].
pub(crate) fn vector(ckpt: &Checkpoint, name: &str, n: usize, device: &Device) -> Result<Tensor, AiError> {
    Ok(Tensor::from_vec(ckpt.f32(name, &[n])?, n, device)?)
}

/// One pre-LayerNorm encoder block.
struct Block {
    ln1: LayerNorm,
    qkv: Dense,
    out: Dense,
    ln2: LayerNorm,
    fc1: Dense,
    fc2: Dense,
}

/// The SigLIP vision tower.
pub struct SiglipEncoder {
    cfg: VisionConfig,
    /// Patch embedding as a linear map of the (channel, row, column)-ordered patch [3·p·p] → hidden.
    patch: Dense,
    /// Learned position table [side², hidden].
    position: Tensor,
    blocks: Vec<Block>,
    post_ln: LayerNorm,
    device: Device,
}

/// Seconds spent in each kind of work of [`SiglipEncoder::forward_profiled`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EncoderProfile {
    /// Patch embedding and position lookup.
    pub embedding_secs: f64,
    /// q/k/v, output and MLP projections (matrix multiplies).
    pub linear_secs: f64,
    /// Scores, softmax and the weighted sum of values.
    pub attention_secs: f64,
    /// tanh-GELU.
    pub activation_secs: f64,
    /// LayerNorms and residual adds.
    pub norm_secs: f64,
}

/// A padded batch of slices.
pub struct EncodedBatch {
    /// Encoder output [slices, longest, hidden] (rows past a slice's own patches are padding).
    pub hidden: Tensor,
    /// (h, w) in patches of every slice.
    pub tgt_sizes: Vec<(usize, usize)>,
}

impl EncodedBatch {
    /// Output of slice `i` alone, [h·w, hidden].
    pub fn slice(&self, i: usize) -> Result<Tensor, AiError> {
        let (h, w) = self.tgt_sizes.get(i).copied().ok_or_else(|| AiError::Request(format!("no slice {i}")))?;
        Ok(self.hidden.get(i)?.narrow(0, 0, h * w)?)
    }
}

impl SiglipEncoder {
    /// Loads `vpm.*` (without the last block when the config drops it).
    pub fn load(ckpt: &Checkpoint, cfg: &VisionConfig, device: &Device) -> Result<Self, AiError> {
        let (h, p) = (cfg.hidden_size, cfg.patch_size);
        let conv = ckpt.f32("vpm.embeddings.patch_embedding.weight", &[h, 3, p, p])?;
        let patch = Dense::from_parts(
            Tensor::from_vec(conv, (h, 3 * p * p), device)?,
            Some(vector(ckpt, "vpm.embeddings.patch_embedding.bias", h, device)?),
        )?;
        let side = cfg.patches_per_side();
        let table = ckpt.f32("vpm.embeddings.position_embedding.weight", &[side * side, h])?;
        let position = Tensor::from_vec(table, (side * side, h), device)?;
        let mut blocks = Vec::with_capacity(cfg.layers_used());
        for l in 0..cfg.layers_used() {
            let pre = format!("vpm.encoder.layers.{l}");
            let attn = format!("{pre}.self_attn");
            let proj = |name: &str| Dense::load(ckpt, &format!("{attn}.{name}"), h, h, true, device);
            blocks.push(Block {
                ln1: LayerNorm::load(ckpt, &format!("{pre}.layer_norm1"), h, cfg.layer_norm_eps, device)?,
                qkv: Dense::concat(&[proj("q_proj")?, proj("k_proj")?, proj("v_proj")?])?,
                out: proj("out_proj")?,
                ln2: LayerNorm::load(ckpt, &format!("{pre}.layer_norm2"), h, cfg.layer_norm_eps, device)?,
                fc1: Dense::load(ckpt, &format!("{pre}.mlp.fc1"), cfg.intermediate_size, h, true, device)?,
                fc2: Dense::load(ckpt, &format!("{pre}.mlp.fc2"), h, cfg.intermediate_size, true, device)?,
            });
        }
        let post_ln = LayerNorm::load(ckpt, "vpm.post_layernorm", h, cfg.layer_norm_eps, device)?;
        Ok(Self { cfg: cfg.clone(), patch, position, blocks, post_ln, device: device.clone() })
    }

    /// An encoder of this shape with random weights (benchmarks; never saved).
    pub fn random(cfg: &VisionConfig, device: &Device) -> Result<Self, AiError> {
        let (h, p, m) = (cfg.hidden_size, cfg.patch_size, cfg.intermediate_size);
        let dense = |out: usize, inp: usize| -> Result<Dense, AiError> {
            let w = (Tensor::randn(0f32, 1.0, (out, inp), device)? * (1.0 / (inp as f64).sqrt()))?;
            Dense::from_parts(w, Some(Tensor::zeros(out, candle_core::DType::F32, device)?))
        };
        let patch = dense(h, 3 * p * p)?;
        let side = cfg.patches_per_side();
        let position = (Tensor::randn(0f32, 1.0, (side * side, h), device)? * 0.02)?;
        let mut blocks = Vec::with_capacity(cfg.layers_used());
        for _ in 0..cfg.layers_used() {
            blocks.push(Block {
                ln1: LayerNorm::identity(h, cfg.layer_norm_eps, device)?,
                qkv: dense(3 * h, h)?,
                out: dense(h, h)?,
                ln2: LayerNorm::identity(h, cfg.layer_norm_eps, device)?,
                fc1: dense(m, h)?,
                fc2: dense(h, m)?,
            });
        }
        let post_ln = LayerNorm::identity(h, cfg.layer_norm_eps, device)?;
        Ok(Self { cfg: cfg.clone(), patch, position, blocks, post_ln, device: device.clone() })
    }

    /// Parameters.
    pub fn parameters(&self) -> usize {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                b.qkv.parameters()
                    + b.out.parameters()
                    + b.fc1.parameters()
                    + b.fc2.parameters()
                    + 4 * self.cfg.hidden_size
            })
            .sum();
        blocks + self.patch.parameters() + self.position.elem_count() + 2 * self.cfg.hidden_size
    }

    /// Runs slices as one padded batch. `pixel_values[i]` is slice i in the reference layout [3, p, h·w·p]
    /// (`reshape_by_patch`), `tgt_sizes[i]` its (h, w) in patches.
    pub fn forward(&self, pixel_values: &[Vec<f32>], tgt_sizes: &[(usize, usize)]) -> Result<EncodedBatch, AiError> {
        self.forward_profiled(pixel_values, tgt_sizes, &mut EncoderProfile::default())
    }

    /// [`Self::forward`], adding the seconds of each kind of work to `profile` (benchmarks).
    pub fn forward_profiled(
        &self,
        pixel_values: &[Vec<f32>],
        tgt_sizes: &[(usize, usize)],
        profile: &mut EncoderProfile,
    ) -> Result<EncodedBatch, AiError> {
        let mut clock = Instant::now();
        let mut lap = |slot: &mut f64| {
            let now = Instant::now();
            *slot += (now - clock).as_secs_f64();
            clock = now;
        };
        let (hidden, p) = (self.cfg.hidden_size, self.cfg.patch_size);
        let batch = pixel_values.len();
        if batch == 0 || batch != tgt_sizes.len() {
            return Err(AiError::Request(format!(
                "{batch} slices of pixels but {} target sizes (need at least one of each, equally many)",
                tgt_sizes.len()
            )));
        }
        let longest = tgt_sizes.iter().map(|(h, w)| h * w).max().unwrap_or(0);
        if longest == 0 {
            return Err(AiError::Request("a slice has no patches".into()));
        }
        // Patches as rows in (channel, row, column) order, zero rows for padding (as the reference pads).
        let patch_len = 3 * p * p;
        let mut rows = vec![0f32; batch * longest * patch_len];
        let mut positions = vec![0u32; batch * longest];
        for (b, (pv, &(h, w))) in pixel_values.iter().zip(tgt_sizes).enumerate() {
            let n = h * w;
            if pv.len() != 3 * p * n * p {
                return Err(AiError::Request(format!(
                    "slice {b}: {} pixel values, a {h}×{w}-patch slice has {}",
                    pv.len(),
                    3 * p * n * p
                )));
            }
            let line = n * p; // one (channel, row) line of the reference layout
            for l in 0..n {
                let dst = &mut rows[(b * longest + l) * patch_len..][..patch_len];
                for c in 0..3 {
                    for ky in 0..p {
                        let src = &pv[(c * p + ky) * line + l * p..][..p];
                        dst[(c * p + ky) * p..][..p].copy_from_slice(src);
                    }
                }
            }
            let ids = position_ids(h, w, self.cfg.patches_per_side());
            positions[b * longest..b * longest + n].copy_from_slice(&ids);
        }
        let rows = Tensor::from_vec(rows, (batch * longest, patch_len), &self.device)?;
        let pos = self.position.index_select(&Tensor::from_vec(positions, batch * longest, &self.device)?, 0)?;
        let mut x = (self.patch.forward(&rows)? + pos)?;
        lap(&mut profile.embedding_secs);
        for block in &self.blocks {
            let normed = block.ln1.forward(&x)?;
            lap(&mut profile.norm_secs);
            let qkv = block.qkv.forward(&normed)?;
            lap(&mut profile.linear_secs);
            let attn = self.attention(&qkv, longest, tgt_sizes)?;
            lap(&mut profile.attention_secs);
            let attn = block.out.forward(&attn)?;
            lap(&mut profile.linear_secs);
            x = (x + attn)?;
            let normed = block.ln2.forward(&x)?;
            lap(&mut profile.norm_secs);
            let hidden_mlp = block.fc1.forward(&normed)?;
            lap(&mut profile.linear_secs);
            let act = hidden_mlp.gelu()?;
            lap(&mut profile.activation_secs);
            let mlp = block.fc2.forward(&act)?;
            lap(&mut profile.linear_secs);
            x = (x + mlp)?;
            lap(&mut profile.norm_secs);
        }
        let x = self.post_ln.forward(&x)?.reshape((batch, longest, hidden))?;
        lap(&mut profile.norm_secs);
        Ok(EncodedBatch { hidden: x, tgt_sizes: tgt_sizes.to_vec() })
    }

    /// Multi-head self-attention over each slice of the flattened batch [batch·longest, hidden].
    /// `qkv` is [batch·longest, 3·hidden]; the result (before `out_proj`) [batch·longest, hidden].
    ///
    /// The key padding mask is applied by leaving the padded keys out of each slice's scores: a masked key's
    /// weight is exactly 0 after the softmax, so the sums are the same. Padded query rows get zeros (the reference
    /// computes values there that no valid row ever reads).
    fn attention(&self, qkv: &Tensor, longest: usize, tgt_sizes: &[(usize, usize)]) -> Result<Tensor, AiError> {
        let (hidden, heads) = (self.cfg.hidden_size, self.cfg.num_attention_heads);
        let d = hidden / heads;
        let scale = 1.0 / (d as f64).sqrt();
        let mut outs = Vec::with_capacity(2 * tgt_sizes.len());
        // One slice at a time: the scores of a whole batch of 1k-patch slices would take gigabytes.
        for (b, &(h, w)) in tgt_sizes.iter().enumerate() {
            let n = h * w;
            let rows = qkv.narrow(0, b * longest, n)?;
            let split = |k: usize| -> Result<Tensor, AiError> {
                Ok(rows.narrow(1, k * hidden, hidden)?.reshape((n, heads, d))?.transpose(0, 1)?.contiguous()?)
            };
            // The scale goes on q ([heads, n, d]) rather than on the scores ([heads, n, n]).
            let (q, k, v) = ((split(0)? * scale)?, split(1)?, split(2)?);
            let probs = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
            outs.push(probs.matmul(&v)?.transpose(0, 1)?.reshape((n, hidden))?);
            if longest > n {
                outs.push(Tensor::zeros((longest - n, hidden), candle_core::DType::F32, &self.device)?);
            }
        }
        Ok(Tensor::cat(&outs, 0)?)
    }
}
