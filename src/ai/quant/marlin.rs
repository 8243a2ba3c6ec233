//! IST-DASLab Marlin tensors (`B` int32 `[K/16, 2N]`, `s` f16 `[K/group, N]`) to [`Int4Linear`].
//!
//! Marlin's `Layer.pack` cuts the `[K, N]` matrix of 4-bit values in 16×16 tiles, lays each
//! row of tiles out tile after tile (`[K/16][N/16][16 k][16 n]`), permutes every run of 1024
//! values (four tiles, 64 columns) by a fixed permutation matching the tensor-core fragment
//! order, and packs eight consecutive values per int32, low nibble first. Scales are permuted
//! within runs of 64 (an 8×8 transpose) or, for a single group spanning K, of 32. This module
//! builds those permutations from their definition and applies their inverses.

use std::sync::OnceLock;

use half::f16;

use super::layout::Spec;
use super::{Int4Linear, QuantError};

/// Values in one permuted run (four 16×16 tiles).
const RUN: usize = 1024;

/// The forward permutations: `packed[p] = tiled[PERM[p]]` within a run, likewise for scales.
struct Perms {
    /// Inverse of the weight permutation: tiled index -> packed position.
    weight_inv: [u16; RUN],
    /// Inverse of the grouped scale permutation (runs of 64).
    scale_inv: [u8; 64],
    /// Inverse of the single-group scale permutation (runs of 32).
    scale_single_inv: [u8; 32],
}

/// The permutations, built once.
fn perms() -> &'static Perms {
    static PERMS: OnceLock<Perms> = OnceLock::new();
    PERMS.get_or_init(|| {
        let mut forward = Vec::with_capacity(RUN);
        for i in 0..32 {
            let col = i / 4;
            let rows = [2 * (i % 4), 2 * (i % 4) + 1, 2 * (i % 4 + 4), 2 * (i % 4 + 4) + 1];
            let mut base = Vec::with_capacity(8);
            for block in 0..2 {
                for row in rows {
                    base.push(16 * row + col + 8 * block);
                }
            }
            for j in 0..4 {
                forward.extend(base.iter().map(|&p| p + 256 * j));
            }
        }
        // Within every 8 values, take even positions first, then odd ones.
        const INTERLEAVE: [usize; 8] = [0, 2, 4, 6, 1, 3, 5, 7];
        let forward: Vec<usize> = (0..RUN).map(|p| forward[p - p % 8 + INTERLEAVE[p % 8]]).collect();
        let mut weight_inv = [0u16; RUN];
        for (p, &src) in forward.iter().enumerate() {
            weight_inv[src] = p as u16;
        }
        let mut scale_inv = [0u8; 64];
        for i in 0..8 {
            for j in 0..8 {
                scale_inv[i + 8 * j] = (8 * i + j) as u8;
            }
        }
        let mut scale_single_inv = [0u8; 32];
        for i in 0..4 {
            for (jj, j) in [0, 1, 8, 9, 16, 17, 24, 25].into_iter().enumerate() {
                scale_single_inv[2 * i + j] = (8 * i + jj) as u8;
            }
        }
        Perms { weight_inv, scale_inv, scale_single_inv }
    })
}

impl Int4Linear {
    /// Builds a layer from Marlin tensors; `name` prefixes the tensor names in errors.
    ///
    /// Accepts both per-projection names (`B`, `s`) and fused CPM.cu names (`qweight`,
    /// `scales` of shape `[K/16, 2N]`); only the data matters here.
    pub fn from_marlin(name: &str, b: &[i32], s: &[f16], k: usize, n: usize) -> Result<Self, QuantError> {
        let t_b = format!("{name}.B");
        let t_s = format!("{name}.s");
        if k == 0 || n == 0 || !k.is_multiple_of(16) || !n.is_multiple_of(64) {
            return Err(QuantError::shape(
                &t_b,
                "K a non-zero multiple of 16 and N a non-zero multiple of 64",
                format!("K = {k}, N = {n}"),
            ));
        }
        if b.len() != k / 16 * 2 * n {
            return Err(QuantError::shape(
                &t_b,
                format!("[{}, {}] = {} words", k / 16, 2 * n, k / 16 * 2 * n),
                format!("{} words", b.len()),
            ));
        }
        if s.is_empty() || !s.len().is_multiple_of(n) || !k.is_multiple_of(s.len() / n) {
            return Err(QuantError::shape(
                &t_s,
                format!("[G, {n}] with G dividing K = {k}"),
                format!("{} values", s.len()),
            ));
        }
        let groups = s.len() / n;
        let group_size = k / groups;
        super::layout::check_dims(&t_b, n, k, group_size)?;
        let p = perms();
        let row_words = 2 * n;
        let q_of = |col: usize, k: usize| -> u8 {
            let tiled = ((col % 64) / 16) * 256 + (k % 16) * 16 + col % 16;
            let pos = usize::from(p.weight_inv[tiled]);
            let word = b[(k / 16) * row_words + (col / 64) * (RUN / 8) + pos / 8] as u32;
            ((word >> (4 * (pos % 8))) & 15) as u8
        };
        let scale_of = |g: usize, col: usize| -> f16 {
            let flat = g * n + col;
            if groups == 1 {
                s[flat - flat % 32 + usize::from(p.scale_single_inv[flat % 32])]
            } else {
                s[flat - flat % 64 + usize::from(p.scale_inv[flat % 64])]
            }
        };
        let spec = Spec { tensor: &t_b, n, k, group_size, kperm: None };
        Self::build(spec, q_of, scale_of, None::<fn(usize, usize) -> u8>)
    }
}
