//! AutoGPTQ v1 tensors (`qweight`, `qzeros`, `scales`, `g_idx`) to [`Int4Linear`].
//!
//! `qweight` is int32 `[K/8, N]`, word `(r, n)` packing `k = 8r .. 8r+8` low nibble first;
//! `qzeros` is int32 `[G, N/8]`, word `(g, c)` packing the zero points of `n = 8c .. 8c+8`, each
//! stored as `zero - 1` (v1 format, so symmetric checkpoints store 7); `scales` is f16 `[G, N]`;
//! `g_idx` (optional) maps every K index to its group, which with act-order (`desc_act`) is not
//! `k / group_size`: the layer then keeps a K permutation that groups K by `g_idx`.

use half::f16;

use super::layout::{SYM_ZERO, Spec};
use super::{Int4Linear, QuantError};

impl Int4Linear {
    /// Builds a layer from AutoGPTQ v1 tensors; `name` prefixes the tensor names in errors.
    pub fn from_gptq(
        name: &str,
        qweight: &[i32],
        qzeros: &[i32],
        scales: &[f16],
        g_idx: Option<&[i32]>,
        k: usize,
        n: usize,
    ) -> Result<Self, QuantError> {
        let t_qweight = format!("{name}.qweight");
        let t_qzeros = format!("{name}.qzeros");
        let t_scales = format!("{name}.scales");
        let t_gidx = format!("{name}.g_idx");
        if k == 0 || n == 0 || !k.is_multiple_of(8) {
            return Err(QuantError::shape(
                &t_qweight,
                "K a non-zero multiple of 8 and N > 0",
                format!("K = {k}, N = {n}"),
            ));
        }
        if qweight.len() != k / 8 * n {
            return Err(QuantError::shape(
                &t_qweight,
                format!("[{}, {n}] = {} words", k / 8, k / 8 * n),
                format!("{} words", qweight.len()),
            ));
        }
        if scales.is_empty() || !scales.len().is_multiple_of(n) || !k.is_multiple_of(scales.len() / n) {
            return Err(QuantError::shape(
                &t_scales,
                format!("[G, {n}] with G dividing K = {k}"),
                format!("{} values", scales.len()),
            ));
        }
        let groups = scales.len() / n;
        let group_size = k / groups;
        let zwords = n.div_ceil(8);
        if qzeros.len() != groups * zwords {
            return Err(QuantError::shape(
                &t_qzeros,
                format!("[{groups}, {zwords}] = {} words", groups * zwords),
                format!("{} words", qzeros.len()),
            ));
        }
        let kperm = match g_idx {
            None => None,
            Some(g_idx) => act_order_perm(&t_gidx, g_idx, k, groups, group_size)?,
        };
        super::layout::check_dims(&t_qweight, n, k, group_size)?;
        let zero_of = |g: usize, col: usize| -> u8 {
            let word = qzeros[g * zwords + col / 8] as u32;
            ((word >> (4 * (col % 8))) & 15) as u8 + 1
        };
        let symmetric = (0..groups).all(|g| (0..n).all(|col| zero_of(g, col) == SYM_ZERO));
        let perm = kperm.clone();
        let q_of = move |col: usize, ks: usize| -> u8 {
            let k = perm.as_ref().map_or(ks, |p| p[ks] as usize);
            let word = qweight[(k / 8) * n + col] as u32;
            ((word >> (4 * (k % 8))) & 15) as u8
        };
        let spec = Spec { tensor: &t_qweight, n, k, group_size, kperm };
        Self::build(spec, q_of, |g, col| scales[g * n + col], (!symmetric).then_some(zero_of))
    }
}

/// The stored-K permutation for a `g_idx`, or `None` when it is the trivial `k / group_size`.
fn act_order_perm(
    tensor: &str,
    g_idx: &[i32],
    k: usize,
    groups: usize,
    group_size: usize,
) -> Result<Option<Vec<u32>>, QuantError> {
    if g_idx.len() != k {
        return Err(QuantError::shape(tensor, format!("[{k}]"), format!("[{}]", g_idx.len())));
    }
    let mut counts = vec![0usize; groups];
    for (i, &g) in g_idx.iter().enumerate() {
        match usize::try_from(g) {
            Ok(g) if g < groups => counts[g] += 1,
            _ => {
                return Err(QuantError::value(
                    tensor,
                    format!("entry {i} is {g}, outside the {groups} groups of the scales"),
                ));
            }
        }
    }
    if g_idx.iter().enumerate().all(|(i, &g)| g as usize == i / group_size) {
        return Ok(None);
    }
    if let Some(g) = counts.iter().position(|&c| c != group_size) {
        return Err(QuantError::unsupported(
            tensor,
            format!("group {g} has {} members; act-order needs exactly {group_size} per group", counts[g]),
        ));
    }
    let mut perm: Vec<u32> = (0..k as u32).collect();
    perm.sort_by_key(|&i| g_idx[i as usize]);
    Ok(Some(perm))
}
