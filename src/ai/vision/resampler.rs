//! The perceiver resampler of MiniCPM-V (`resampler.*`): `query_num` learned queries attend over a slice's
//! encoder output (projected by `kv_proj`, LayerNormed) with one multi-head attention whose q, k, v projections
//! are packed in `in_proj_weight`; a 2-D sin-cos position embedding of the slice's (row, column) grid is added to
//! the keys only; then `ln_post` and the output matrix `proj` (applied as `x @ proj`, not transposed).

use candle_core::{DType, Device, Tensor};

use super::siglip::{Dense, LayerNorm, vector};
use crate::ai::{AiError, weights::Checkpoint};

/// The resampler's weights.
pub struct Resampler {
    /// Learned queries [query_num, embed].
    query: Tensor,
    /// Vision width → LLM width (absent when they are equal).
    kv_proj: Option<Dense>,
    ln_q: LayerNorm,
    ln_kv: LayerNorm,
    ln_post: LayerNorm,
    q: Dense,
    k: Dense,
    v: Dense,
    out: Dense,
    /// Applied as `x @ proj` [embed, embed].
    proj: Tensor,
    embed: usize,
    heads: usize,
    device: Device,
}

/// Heads of the resampler's attention: MiniCPM-V builds it with `embed_dim // 128` heads.
pub fn resampler_heads(embed: usize) -> usize {
    (embed / 128).max(1)
}

impl Resampler {
    /// Loads `resampler.*` for an LLM width `embed` and a vision width `kv_dim`.
    pub fn load(
        ckpt: &Checkpoint,
        query_num: usize,
        embed: usize,
        kv_dim: usize,
        device: &Device,
    ) -> Result<Self, AiError> {
        let heads = resampler_heads(embed);
        if !embed.is_multiple_of(heads) {
            return Err(ckpt
                .error("resampler.attn.in_proj_weight", &format!("width {embed} is not divisible by {heads} heads")));
        }
        let query = Tensor::from_vec(ckpt.f32("resampler.query", &[query_num, embed])?, (query_num, embed), device)?;
        let kv_proj = if kv_dim != embed || ckpt.contains("resampler.kv_proj.weight") {
            Some(Dense::load(ckpt, "resampler.kv_proj", embed, kv_dim, false, device)?)
        } else {
            None
        };
        let in_w = Tensor::from_vec(
            ckpt.f32("resampler.attn.in_proj_weight", &[3 * embed, embed])?,
            (3 * embed, embed),
            device,
        )?;
        let in_b = vector(ckpt, "resampler.attn.in_proj_bias", 3 * embed, device)?;
        let part = |k: usize| -> Result<Dense, AiError> {
            Dense::from_parts(in_w.narrow(0, k * embed, embed)?, Some(in_b.narrow(0, k * embed, embed)?))
        };
        let eps = 1e-6;
        Ok(Self {
            query,
            kv_proj,
            ln_q: LayerNorm::load(ckpt, "resampler.ln_q", embed, eps, device)?,
            ln_kv: LayerNorm::load(ckpt, "resampler.ln_kv", embed, eps, device)?,
            ln_post: LayerNorm::load(ckpt, "resampler.ln_post", embed, eps, device)?,
            q: part(0)?,
            k: part(1)?,
            v: part(2)?,
            out: Dense::load(ckpt, "resampler.attn.out_proj", embed, embed, true, device)?,
            proj: Tensor::from_vec(ckpt.f32("resampler.proj", &[embed, embed])?, (embed, embed), device)?,
            embed,
            heads,
            device: device.clone(),
        })
    }

    /// A resampler of this shape with random weights (benchmarks; never saved).
    pub fn random(query_num: usize, embed: usize, kv_dim: usize, device: &Device) -> Result<Self, AiError> {
        let dense = |out: usize, inp: usize, bias: bool| -> Result<Dense, AiError> {
            let w = (Tensor::randn(0f32, 1.0, (out, inp), device)? * (1.0 / (inp as f64).sqrt()))?;
            Dense::from_parts(w, if bias { Some(Tensor::zeros(out, DType::F32, device)?) } else { None })
        };
        let eps = 1e-6;
        Ok(Self {
            query: (Tensor::randn(0f32, 1.0, (query_num, embed), device)? * 0.02)?,
            kv_proj: Some(dense(embed, kv_dim, false)?),
            ln_q: LayerNorm::identity(embed, eps, device)?,
            ln_kv: LayerNorm::identity(embed, eps, device)?,
            ln_post: LayerNorm::identity(embed, eps, device)?,
            q: dense(embed, embed, true)?,
            k: dense(embed, embed, true)?,
            v: dense(embed, embed, true)?,
            out: dense(embed, embed, true)?,
            proj: (Tensor::randn(0f32, 1.0, (embed, embed), device)? * (1.0 / (embed as f64).sqrt()))?,
            embed,
            heads: resampler_heads(embed),
            device: device.clone(),
        })
    }

    /// Parameters.
    pub fn parameters(&self) -> usize {
        self.query.elem_count()
            + self.kv_proj.as_ref().map_or(0, Dense::parameters)
            + self.q.parameters()
            + self.k.parameters()
            + self.v.parameters()
            + self.out.parameters()
            + self.proj.elem_count()
            + 6 * self.embed
    }

    /// Output width (the LLM's hidden size).
    pub fn embed(&self) -> usize {
        self.embed
    }

    /// Features [slices, query_num, embed] of a padded encoder batch [slices, longest, kv_dim] whose slice i has
    /// `tgt_sizes[i]` = (h, w) patches (rows past h·w are ignored).
    pub fn forward(&self, vision: &Tensor, tgt_sizes: &[(usize, usize)]) -> Result<Tensor, AiError> {
        let (batch, longest, kv_dim) = vision.dims3()?;
        if batch != tgt_sizes.len() {
            return Err(AiError::Request(format!("{batch} encoded slices but {} target sizes", tgt_sizes.len())));
        }
        let x = vision.reshape((batch * longest, kv_dim))?;
        let x = match &self.kv_proj {
            Some(p) => p.forward(&x)?,
            None => x,
        };
        let x = self.ln_kv.forward(&x)?;
        let q = self.q.forward(&self.ln_q.forward(&self.query)?)?;
        let (queries, heads) = (q.dim(0)?, self.heads);
        let d = self.embed / heads;
        let q = q.reshape((queries, heads, d))?.transpose(0, 1)?.contiguous()?; // [heads, queries, d]
        let scale = 1.0 / (d as f64).sqrt();
        let mut outs = Vec::with_capacity(batch);
        for (b, &(h, w)) in tgt_sizes.iter().enumerate() {
            let n = h * w;
            if n == 0 || n > longest {
                return Err(AiError::Request(format!("slice {b}: {h}×{w} patches do not fit {longest} rows")));
            }
            // The key padding mask: padded rows are left out of the keys and values (their weight would be
            // exactly 0 after the softmax).
            let rows = x.narrow(0, b * longest, n)?;
            let pos = self.position_embedding(h, w, n)?;
            let split =
                |t: Tensor| -> Result<Tensor, AiError> { Ok(t.reshape((n, heads, d))?.transpose(0, 1)?.contiguous()?) };
            let k = split(self.k.forward(&(&rows + pos)?)?)?;
            let v = split(self.v.forward(&rows)?)?;
            let scores = (q.matmul(&k.t()?)? * scale)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let out = probs.matmul(&v)?.transpose(0, 1)?.reshape((queries, self.embed))?;
            outs.push(out);
        }
        let out = self.out.forward(&Tensor::cat(&outs, 0)?)?;
        let out = self.ln_post.forward(&out)?.matmul(&self.proj)?;
        Ok(out.reshape((batch, queries, self.embed))?)
    }

    /// The 2-D sin-cos embedding of an h×w grid, row-major, zero rows up to `rows`: the first half encodes the
    /// column and the second the row, each as [sin(pos·ω), cos(pos·ω)] with ω_i = 1 / 10000^(i / (embed/4)),
    /// computed in f32 as the reference's NumPy code does.
    fn position_embedding(&self, h: usize, w: usize, rows: usize) -> Result<Tensor, AiError> {
        let quarter = self.embed / 4;
        let omega: Vec<f32> = (0..quarter).map(|i| 1.0 / 10000f32.powf(i as f32 / quarter as f32)).collect();
        let mut data = vec![0f32; rows * self.embed];
        for r in 0..h {
            for c in 0..w {
                let row = &mut data[(r * w + c) * self.embed..][..self.embed];
                for (i, om) in omega.iter().enumerate() {
                    let (col_angle, row_angle) = (c as f32 * om, r as f32 * om);
                    row[i] = col_angle.sin();
                    row[quarter + i] = col_angle.cos();
                    row[2 * quarter + i] = row_angle.sin();
                    row[3 * quarter + i] = row_angle.cos();
                }
            }
        }
        Ok(Tensor::from_vec(data, (rows, self.embed), &self.device)?)
    }
}
