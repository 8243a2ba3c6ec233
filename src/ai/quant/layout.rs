//! The packed in-memory layout of [`Int4Linear`] and everything that only touches storage:
//! building from per-column sources, dequantisation, fusing along N and random matrices.
//!
//! Storage order (all indices in *stored* K order, see `kperm`):
//! * `q`: `[nblocks][chunks][NB][16]` bytes; byte `j` of column `c` in chunk `ch` holds
//!   `k = 32·ch + j` in its low nibble and `k = 32·ch + 16 + j` in its high nibble.
//! * `scales`: `[nblocks][groups][NB]` f16; padded columns (beyond N) have scale 0.
//! * `zeros`: same indexing as `scales`, only present when some zero point is not 8.

use half::f16;
use rayon::prelude::*;

use super::QuantError;

/// Columns (output features) per storage block.
pub(crate) const NB: usize = 8;
/// K values per chunk.
pub(crate) const CK: usize = 32;
/// Bytes of one column's chunk.
pub(crate) const CHUNK_BYTES: usize = CK / 2;
/// Zero point of symmetric checkpoints.
pub(crate) const SYM_ZERO: u8 = 8;

/// A group-quantised int4 linear layer `W [n, k]` kept packed in memory.
#[derive(Clone, PartialEq)]
pub struct Int4Linear {
    /// Output dimension.
    pub(crate) n: usize,
    /// Input dimension (a multiple of 32).
    pub(crate) k: usize,
    /// Group size along K (a multiple of 32 dividing K).
    pub(crate) group_size: usize,
    /// K / group size.
    pub(crate) groups: usize,
    /// ceil(N / 8).
    pub(crate) nblocks: usize,
    /// Packed nibbles, `[nblocks][K/32][8][16]`.
    pub(crate) q: Vec<u8>,
    /// Scales, `[nblocks][groups][8]`.
    pub(crate) scales: Vec<f16>,
    /// Zero points like `scales`, `None` when all are 8.
    pub(crate) zeros: Option<Vec<u8>>,
    /// Stored K position -> original K index (act-order), `None` for the identity.
    pub(crate) kperm: Option<Vec<u32>>,
}

impl std::fmt::Debug for Int4Linear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Int4Linear")
            .field("n", &self.n)
            .field("k", &self.k)
            .field("group_size", &self.group_size)
            .field("act_order", &self.kperm.is_some())
            .field("zeros", &self.zeros.is_some())
            .field("bytes", &self.bytes())
            .finish()
    }
}

/// Borrowed view of the packed storage handed to the kernels.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    /// Packed nibbles, `[nblocks][chunks][NB][16]`.
    pub q: &'a [u8],
    /// Scales, `[nblocks][groups][NB]`.
    pub scales: &'a [f16],
    /// Zero points (`None` = all 8), `[nblocks][groups][NB]`.
    pub zeros: Option<&'a [u8]>,
    /// Input dimension.
    pub k: usize,
    /// K / 32.
    pub chunks: usize,
    /// Number of quantisation groups along K.
    pub groups: usize,
    /// Chunks per group.
    pub cpg: usize,
    /// Number of 8-column blocks.
    pub nblocks: usize,
}

impl<'a> View<'a> {
    /// Packed bytes of block `blk`.
    pub fn block_q(&self, blk: usize) -> &'a [u8] {
        let len = self.chunks * NB * CHUNK_BYTES;
        &self.q[blk * len..(blk + 1) * len]
    }

    /// Scales of block `blk`, `[groups][NB]`.
    pub fn block_scales(&self, blk: usize) -> &'a [f16] {
        let len = self.groups * NB;
        &self.scales[blk * len..(blk + 1) * len]
    }

    /// Zero points of block `blk`, `[groups][NB]`, if not all symmetric.
    pub fn block_zeros(&self, blk: usize) -> Option<&'a [u8]> {
        let len = self.groups * NB;
        self.zeros.map(|z| &z[blk * len..(blk + 1) * len])
    }
}

/// The exact weight value `f16((q - z) · s)` as f32 (the product is exact in f32, one rounding).
#[inline]
pub(crate) fn weight_value(q: u8, z: u8, s: f16) -> f32 {
    f16::from_f32((f32::from(q) - f32::from(z)) * s.to_f32()).to_f32()
}

/// The 16-entry table of weight values of one (group, column).
#[inline]
pub(crate) fn weight_table(z: u8, s: f16) -> [f32; 16] {
    std::array::from_fn(|q| weight_value(q as u8, z, s))
}

/// What a packed layer is built as: its name (for errors), dimensions and K order.
pub(crate) struct Spec<'a> {
    /// Tensor named in errors.
    pub tensor: &'a str,
    /// Output dimension.
    pub n: usize,
    /// Input dimension.
    pub k: usize,
    /// Group size along K.
    pub group_size: usize,
    /// Stored position -> original K index (act-order), if not the identity.
    pub kperm: Option<Vec<u32>>,
}

/// Checks K / group-size constraints of the layout.
pub(crate) fn check_dims(tensor: &str, n: usize, k: usize, group_size: usize) -> Result<(), QuantError> {
    if n == 0 || k == 0 {
        return Err(QuantError::shape(tensor, "non-empty [n, k]", format!("[{n}, {k}]")));
    }
    if group_size == 0 || !k.is_multiple_of(group_size) {
        return Err(QuantError::shape(tensor, format!("a group size dividing K = {k}"), group_size));
    }
    if !k.is_multiple_of(CK) || !group_size.is_multiple_of(CK) {
        return Err(QuantError::unsupported(
            tensor,
            format!("K ({k}) and group size ({group_size}) must be multiples of {CK}"),
        ));
    }
    Ok(())
}

impl Int4Linear {
    /// Packs a layer from per-element sources (in stored K order).
    ///
    /// `q_of(col, k)` gives the 4-bit value, `scale_of(g, col)` the group's scale and
    /// `zero_of(g, col)` the zero point (pass `None` for symmetric 8).
    pub(crate) fn build<Q, S, Z>(spec: Spec<'_>, q_of: Q, scale_of: S, zero_of: Option<Z>) -> Result<Self, QuantError>
    where
        Q: Fn(usize, usize) -> u8 + Sync,
        S: Fn(usize, usize) -> f16 + Sync,
        Z: Fn(usize, usize) -> u8 + Sync,
    {
        Self::build_chunks(
            spec,
            |col, ch, out: &mut [u8]| {
                let k0 = ch * CK;
                for (j, byte) in out.iter_mut().enumerate() {
                    let lo = q_of(col, k0 + j) & 15;
                    let hi = q_of(col, k0 + CHUNK_BYTES + j) & 15;
                    *byte = lo | (hi << 4);
                }
            },
            scale_of,
            zero_of,
        )
    }

    /// Packs a layer from per-(column, chunk) sources that write the 16 packed bytes directly.
    pub(crate) fn build_chunks<C, S, Z>(
        spec: Spec<'_>,
        chunk_of: C,
        scale_of: S,
        zero_of: Option<Z>,
    ) -> Result<Self, QuantError>
    where
        C: Fn(usize, usize, &mut [u8]) + Sync,
        S: Fn(usize, usize) -> f16 + Sync,
        Z: Fn(usize, usize) -> u8 + Sync,
    {
        let Spec { tensor, n, k, group_size, kperm } = spec;
        check_dims(tensor, n, k, group_size)?;
        if let Some(p) = &kperm
            && p.len() != k
        {
            return Err(QuantError::shape(tensor, format!("K permutation of {k}"), p.len()));
        }
        let groups = k / group_size;
        let chunks = k / CK;
        let nblocks = n.div_ceil(NB);
        let block_bytes = chunks * NB * CHUNK_BYTES;
        let mut q = vec![0x88u8; nblocks * block_bytes];
        q.par_chunks_mut(block_bytes).enumerate().for_each(|(blk, block)| {
            for ch in 0..chunks {
                for c in 0..NB {
                    let col = blk * NB + c;
                    if col < n {
                        let off = (ch * NB + c) * CHUNK_BYTES;
                        chunk_of(col, ch, &mut block[off..off + CHUNK_BYTES]);
                    }
                }
            }
        });
        let mut scales = vec![f16::ZERO; nblocks * groups * NB];
        let mut zeros = zero_of.as_ref().map(|_| vec![SYM_ZERO; nblocks * groups * NB]);
        for blk in 0..nblocks {
            for g in 0..groups {
                for c in 0..NB {
                    let col = blk * NB + c;
                    if col < n {
                        let i = (blk * groups + g) * NB + c;
                        scales[i] = scale_of(g, col);
                        if let (Some(z), Some(f)) = (zeros.as_mut(), zero_of.as_ref()) {
                            z[i] = f(g, col);
                        }
                    }
                }
            }
        }
        if zeros.as_ref().is_some_and(|z| z.iter().all(|&v| v == SYM_ZERO)) {
            zeros = None;
        }
        Ok(Self { n, k, group_size, groups, nblocks, q, scales, zeros, kperm })
    }

    /// Output dimension N (rows of the Linear weight).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input dimension K (columns of the Linear weight).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Quantisation group size along K.
    pub fn group_size(&self) -> usize {
        self.group_size
    }

    /// Whether K is stored permuted (act-order GPTQ `g_idx`).
    pub fn has_act_order(&self) -> bool {
        self.kperm.is_some()
    }

    /// Whether some zero point differs from the symmetric 8.
    pub fn has_zeros(&self) -> bool {
        self.zeros.is_some()
    }

    /// Resident bytes of the packed weights, scales, zero points and K permutation.
    pub fn bytes(&self) -> usize {
        self.q.len()
            + self.scales.len() * 2
            + self.zeros.as_ref().map_or(0, Vec::len)
            + self.kperm.as_ref().map_or(0, |p| p.len() * 4)
    }

    /// Bytes a matrix-vector product streams from memory (nibbles, scales, zero points).
    pub fn streamed_bytes(&self) -> usize {
        self.q.len() + self.scales.len() * 2 + self.zeros.as_ref().map_or(0, Vec::len)
    }

    /// The kernels' view of the storage.
    pub(crate) fn view(&self) -> View<'_> {
        View {
            q: &self.q,
            scales: &self.scales,
            zeros: self.zeros.as_deref(),
            k: self.k,
            chunks: self.k / CK,
            groups: self.groups,
            cpg: self.group_size / CK,
            nblocks: self.nblocks,
        }
    }

    /// The 4-bit value of column `col` at stored position `ks`.
    pub(crate) fn q_at(&self, col: usize, ks: usize) -> u8 {
        let (blk, c) = (col / NB, col % NB);
        let (ch, j) = (ks / CK, ks % CK);
        let off = ((blk * (self.k / CK) + ch) * NB + c) * CHUNK_BYTES + j % CHUNK_BYTES;
        let byte = self.q[off];
        if j < CHUNK_BYTES { byte & 15 } else { byte >> 4 }
    }

    /// Scale of group `g`, column `col`.
    pub(crate) fn scale_at(&self, g: usize, col: usize) -> f16 {
        self.scales[((col / NB) * self.groups + g) * NB + col % NB]
    }

    /// Zero point of group `g`, column `col`.
    pub(crate) fn zero_at(&self, g: usize, col: usize) -> u8 {
        self.zeros.as_ref().map_or(SYM_ZERO, |z| z[((col / NB) * self.groups + g) * NB + col % NB])
    }

    /// The 4-bit values of the whole matrix, `[n, k]` in original K order (for tests and export).
    pub fn unpack_q(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.n * self.k];
        out.par_chunks_mut(self.k).enumerate().for_each(|(col, row)| {
            for ks in 0..self.k {
                row[self.orig_k(ks)] = self.q_at(col, ks);
            }
        });
        out
    }

    /// Scales `[k / group_size, n]` indexed by group of the stored K order.
    pub fn unpack_scales(&self) -> Vec<f16> {
        let mut out = Vec::with_capacity(self.groups * self.n);
        for g in 0..self.groups {
            out.extend((0..self.n).map(|col| self.scale_at(g, col)));
        }
        out
    }

    /// Original K index of stored position `ks`.
    #[inline]
    fn orig_k(&self, ks: usize) -> usize {
        self.kperm.as_ref().map_or(ks, |p| p[ks] as usize)
    }

    /// The dequantised weight `[n, k]` row-major: exactly the f16-rounded `(q - z) · s` values.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n * self.k];
        out.par_chunks_mut(self.k).enumerate().for_each(|(col, row)| {
            for g in 0..self.groups {
                let table = weight_table(self.zero_at(g, col), self.scale_at(g, col));
                for ks in g * self.group_size..(g + 1) * self.group_size {
                    row[self.orig_k(ks)] = table[usize::from(self.q_at(col, ks))];
                }
            }
        });
        out
    }

    /// Fuses layers sharing K, group size and K order along N (q, k, v or gate, up), in order.
    pub fn concat_n(parts: Vec<Int4Linear>) -> Result<Self, QuantError> {
        let first = parts.first().ok_or_else(|| QuantError::shape("concat_n", "at least one part", 0))?;
        for (i, p) in parts.iter().enumerate() {
            let name = format!("concat_n part {i}");
            if p.k != first.k {
                return Err(QuantError::shape(name, format!("K = {}", first.k), p.k));
            }
            if p.group_size != first.group_size {
                return Err(QuantError::shape(name, format!("group size {}", first.group_size), p.group_size));
            }
            if p.kperm != first.kperm {
                return Err(QuantError::unsupported(name, "parts have different act-order K permutations"));
            }
        }
        // Global column -> (part, local column).
        let mut starts = Vec::with_capacity(parts.len());
        let mut n = 0;
        for p in &parts {
            starts.push(n);
            n += p.n;
        }
        let locate = |col: usize| {
            let i = starts.partition_point(|&s| s <= col) - 1;
            (&parts[i], col - starts[i])
        };
        let any_zeros = parts.iter().any(|p| p.zeros.is_some());
        Self::build_chunks(
            Spec { tensor: "concat_n", n, k: first.k, group_size: first.group_size, kperm: first.kperm.clone() },
            |col, ch, out: &mut [u8]| {
                let (p, local) = locate(col);
                let off = (((local / NB) * (p.k / CK) + ch) * NB + local % NB) * CHUNK_BYTES;
                out.copy_from_slice(&p.q[off..off + CHUNK_BYTES]);
            },
            |g, col| {
                let (p, local) = locate(col);
                p.scale_at(g, local)
            },
            any_zeros.then_some(|g, col| {
                let (p, local) = locate(col);
                p.zero_at(g, local)
            }),
        )
    }

    /// Splits a fused layer back into parts of the given output sizes (which must sum to N).
    pub fn split_n(&self, sizes: &[usize]) -> Result<Vec<Self>, QuantError> {
        let total: usize = sizes.iter().sum();
        if total != self.n {
            return Err(QuantError::shape("split_n", format!("sizes summing to {}", self.n), total));
        }
        let mut out = Vec::with_capacity(sizes.len());
        let mut start = 0;
        for &size in sizes {
            let part = Self::build_chunks(
                Spec { tensor: "split_n", n: size, k: self.k, group_size: self.group_size, kperm: self.kperm.clone() },
                |col, ch, dst: &mut [u8]| {
                    let c = start + col;
                    let off = (((c / NB) * (self.k / CK) + ch) * NB + c % NB) * CHUNK_BYTES;
                    dst.copy_from_slice(&self.q[off..off + CHUNK_BYTES]);
                },
                |g, col| self.scale_at(g, start + col),
                self.zeros.is_some().then_some(|g, col| self.zero_at(g, start + col)),
            )?;
            out.push(part);
            start += size;
        }
        Ok(out)
    }

    /// A random symmetric layer (q uniform in 0..16, scales in [0.002, 0.022)) for benchmarks.
    ///
    /// # Panics
    /// If `k` or `group_size` is not a multiple of 32 or `group_size` does not divide `k`.
    pub fn random(n: usize, k: usize, group_size: usize, seed: u64) -> Self {
        if let Err(e) = check_dims("random", n, k, group_size) {
            panic!("Int4Linear::random: {e}");
        }
        let groups = k / group_size;
        let nblocks = n.div_ceil(NB);
        let block_bytes = (k / CK) * NB * CHUNK_BYTES;
        let mut q = vec![0x88u8; nblocks * block_bytes];
        q.par_chunks_mut(block_bytes).enumerate().for_each(|(blk, block)| {
            let mut rng = fastrand::Rng::with_seed(seed ^ (blk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let valid = n.saturating_sub(blk * NB).min(NB);
            for (i, chunk) in block.chunks_mut(CHUNK_BYTES).enumerate() {
                if i % NB < valid {
                    rng.fill(chunk);
                }
            }
        });
        let mut rng = fastrand::Rng::with_seed(seed.rotate_left(17) ^ 0x5EED);
        let mut scales = vec![f16::ZERO; nblocks * groups * NB];
        for (i, s) in scales.iter_mut().enumerate() {
            if (i / (groups * NB)) * NB + i % NB < n {
                *s = f16::from_f32(0.002 + 0.02 * rng.f32());
            }
        }
        Self { n, k, group_size, groups, nblocks, q, scales, zeros: None, kperm: None }
    }
}
