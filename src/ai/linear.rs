//! Linear layers as the decoder stores them: a dense f32 matrix (candle matmul) or an int4 matrix kept packed
//! (our CPU kernel in `quant`). Loading tells the checkpoint layouts apart by tensor names and shapes: `weight`
//! (dense), `qweight/qzeros/scales/g_idx` (GPTQ v1), `B/s` (Marlin), `qweight/scales` shaped [K/16, 2N] (Marlin
//! as CPM.cu's converter names it).

use std::sync::Arc;

use candle_core::{Device, Tensor};

use crate::ai::{AiError, half_matrix::HalfMatrix, quant::Int4Linear, weights::Checkpoint};

/// A linear layer y = x · Wᵀ with W [n, k].
pub enum Linear {
    /// Dense f32 weight [n, k].
    Dense(Tensor),
    /// Dense 16-bit weight kept as stored (shared with a tied embedding).
    Half(Arc<HalfMatrix>),
    /// Packed int4 weight.
    Int4(Int4Linear),
}

impl Linear {
    /// Loads a dense weight `name` of shape [n, k] as f32.
    pub fn dense(ckpt: &Checkpoint, name: &str, n: usize, k: usize) -> Result<Self, AiError> {
        Ok(Self::Dense(Tensor::from_vec(ckpt.f32(name, &[n, k])?, (n, k), &Device::Cpu)?))
    }

    /// Loads a dense weight keeping f16/bf16 storage (f32 tensors load as f32).
    pub fn dense_as_stored(ckpt: &Checkpoint, name: &str, n: usize, k: usize) -> Result<Self, AiError> {
        match ckpt.half(name, &[n, k])? {
            Some(data) => HalfMatrix::new(data, n, k)
                .map(|m| Self::Half(Arc::new(m)))
                .ok_or_else(|| ckpt.error(name, "length does not match its shape")),
            None => Self::dense(ckpt, name, n, k),
        }
    }

    /// Loads the projection `prefix` ([n out, k in]) in whichever layout the checkpoint stores it.
    pub fn load(
        ckpt: &Checkpoint,
        prefix: &str,
        n: usize,
        k: usize,
        group_size: Option<usize>,
    ) -> Result<Self, AiError> {
        let name = |suffix: &str| format!("{prefix}.{suffix}");
        if ckpt.contains(&name("weight")) {
            return Self::dense(ckpt, &name("weight"), n, k);
        }
        let group = group_size.unwrap_or(128);
        if !k.is_multiple_of(group) || !k.is_multiple_of(16) || !n.is_multiple_of(8) {
            return Err(
                ckpt.error(&name("qweight"), &format!("int4 layer [{n}, {k}] does not divide into groups of {group}"))
            );
        }
        if ckpt.contains(&name("qzeros")) {
            let qweight = ckpt.i32(&name("qweight"), &[k / 8, n])?;
            let qzeros = ckpt.i32(&name("qzeros"), &[k / group, n / 8])?;
            let scales = ckpt.f16(&name("scales"), &[k / group, n])?;
            let g_idx = if ckpt.contains(&name("g_idx")) { Some(ckpt.i32(&name("g_idx"), &[k])?) } else { None };
            let w = Int4Linear::from_gptq(prefix, &qweight, &qzeros, &scales, g_idx.as_deref(), k, n)
                .map_err(|e| ckpt.error(&name("qweight"), &e.to_string()))?;
            return Ok(Self::Int4(w));
        }
        let (b, s) = if ckpt.contains(&name("B")) { (name("B"), name("s")) } else { (name("qweight"), name("scales")) };
        if ckpt.contains(&b) {
            let (shape, _) = ckpt.info(&b)?;
            if shape != [k / 16, 2 * n] {
                return Err(ckpt.error(
                    &b,
                    &format!("shape {shape:?} is neither Marlin [{}, {}] nor GPTQ (GPTQ needs qzeros)", k / 16, 2 * n),
                ));
            }
            let packed = ckpt.i32(&b, &[k / 16, 2 * n])?;
            let scales = ckpt.f16(&s, &[k / group, n])?;
            let w =
                Int4Linear::from_marlin(prefix, &packed, &scales, k, n).map_err(|e| ckpt.error(&b, &e.to_string()))?;
            return Ok(Self::Int4(w));
        }
        Err(ckpt.error(&name("weight"), "missing (no dense weight, GPTQ qweight/qzeros or Marlin B/s either)"))
    }

    /// Loads `parent.fused` if the checkpoint stores it fused, else loads `parts` ([name, n]) and concatenates
    /// them along the output dimension.
    pub fn load_fused(
        ckpt: &Checkpoint,
        parent: &str,
        fused: &str,
        parts: &[(&str, usize)],
        k: usize,
        group_size: Option<usize>,
    ) -> Result<Self, AiError> {
        let fused_prefix = format!("{parent}.{fused}");
        let total: usize = parts.iter().map(|(_, n)| n).sum();
        if ["weight", "qweight", "B"].iter().any(|s| ckpt.contains(&format!("{fused_prefix}.{s}"))) {
            return Self::load(ckpt, &fused_prefix, total, k, group_size);
        }
        let loaded = parts
            .iter()
            .map(|(name, n)| Self::load(ckpt, &format!("{parent}.{name}"), *n, k, group_size))
            .collect::<Result<Vec<_>, _>>()?;
        if loaded.iter().all(|l| matches!(l, Self::Dense(_))) {
            let ws: Vec<&Tensor> =
                loaded.iter().filter_map(|l| if let Self::Dense(w) = l { Some(w) } else { None }).collect();
            return Ok(Self::Dense(Tensor::cat(&ws, 0)?));
        }
        let mut int4 = Vec::with_capacity(loaded.len());
        for (l, (name, _)) in loaded.into_iter().zip(parts) {
            match l {
                Self::Int4(w) => int4.push(w),
                Self::Dense(_) | Self::Half(_) => {
                    return Err(ckpt.error(&format!("{parent}.{name}.weight"), "dense beside int4 siblings"));
                }
            }
        }
        Int4Linear::concat_n(int4).map(Self::Int4).map_err(|e| ckpt.error(&fused_prefix, &e.to_string()))
    }

    /// Random int4 weights [n, k] (benchmarks).
    pub fn random_int4(n: usize, k: usize, group_size: usize, seed: u64) -> Self {
        Self::Int4(Int4Linear::random(n, k, group_size, seed))
    }

    /// y [m, n] = x [m, k] · Wᵀ.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, AiError> {
        match self {
            Self::Dense(w) => Ok(x.matmul(&w.t()?)?),
            Self::Half(w) => {
                let m = x.dim(0)?;
                let input = x.flatten_all()?.to_vec1::<f32>()?;
                let mut out = vec![0f32; m * w.n()];
                w.matmul(&input, m, &mut out);
                Ok(Tensor::from_vec(out, (m, w.n()), x.device())?)
            }
            Self::Int4(w) => {
                let m = x.dim(0)?;
                let input = x.flatten_all()?.to_vec1::<f32>()?;
                let mut out = vec![0f32; m * w.n()];
                w.matmul(&input, m, &mut out);
                Ok(Tensor::from_vec(out, (m, w.n()), x.device())?)
            }
        }
    }

    /// Resident bytes of the weight.
    pub fn bytes(&self) -> u64 {
        match self {
            Self::Dense(w) => (w.elem_count() * w.dtype().size_in_bytes()) as u64,
            Self::Half(w) => w.bytes() as u64,
            Self::Int4(w) => w.bytes() as u64,
        }
    }

    /// Whether the weight is int4.
    pub fn is_int4(&self) -> bool {
        matches!(self, Self::Int4(_))
    }
}
