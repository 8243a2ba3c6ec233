//! Int4 weights for the CPU inference engine (MiniCPM4 GPTQ / Marlin checkpoints).
//!
//! [`Int4Linear`] holds a group-quantised linear layer in this module's own packed layout, built
//! from AutoGPTQ v1 tensors ([`Int4Linear::from_gptq`], symmetric or asymmetric, with or without
//! act-order `g_idx`), IST-DASLab Marlin tensors ([`Int4Linear::from_marlin`], also the fused
//! CPM.cu `qkv_proj` / `gate_up_proj`), or fused along the output dimension
//! ([`Int4Linear::concat_n`]). A weight is `w = f16((q - z) · s)`: `q` the 4-bit value, `z` the
//! zero point (8 for symmetric checkpoints), `s` the group's f16 scale, the product rounded to f16
//! once, as the PyTorch fp16 reference does. [`Int4Linear::matmul`] computes `y = x · Wᵀ` on all
//! cores (rayon) without dequantising the whole matrix: a memory-bound matrix-vector kernel for
//! decode (up to 12 rows of `x`) and a blocked GEMM for prefill that dequantises small panels
//! into L1/L2 and amortises them over up to 256 rows. Kernels are picked at run time
//! ([`Kernel::detect`], overridable with `AIO_INT4_KERNEL=scalar|avx2|avx512`): AVX-512F,
//! AVX2+FMA+F16C, or a portable scalar fallback computing the same values. All kernels look the
//! f16-rounded weights up in per-(group, column) 16-entry f32 tables built on the fly from the
//! scales, so results equal `x · dequantize()ᵀ` up to f32 summation order.
//!
//! Layout (`layout.rs`): output columns are grouped in blocks of 8; a block stores, for each
//! chunk of 32 K values, each column's 16 bytes (byte `j`: `k = j` in the low nibble, `k = 16 + j`
//! in the high one), so one block is one sequential stream. Scales (and zero points, only when
//! some differ from 8) are stored per block and group. With act-order the K axis is stored
//! sorted by group and `x` is permuted on the fly. Constraints: K and the group size must be
//! multiples of 32 (the group size dividing K); N is free (the last block is padded).

mod bandwidth;
mod gptq;
mod kernel;
mod layout;
mod marlin;
mod matmul;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use bandwidth::{measure_read_bandwidth_gbs, measure_read_bandwidth_gbs_with};
pub use kernel::Kernel;
pub(crate) use kernel::Ready;
pub use layout::Int4Linear;

/// Why quantised tensors could not be turned into an [`Int4Linear`] (or multiplied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    /// A tensor's length or shape does not match the declared dimensions.
    #[error("tensor `{tensor}`: expected {expected}, found {found}")]
    Shape {
        /// Name of the offending tensor (e.g. `model.layers.0.self_attn.q_proj.qweight`).
        tensor: String,
        /// What the dimensions require.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A tensor holds a value its format does not allow (e.g. a `g_idx` entry out of range).
    #[error("tensor `{tensor}`: invalid value: {reason}")]
    Value {
        /// Name of the offending tensor.
        tensor: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The data is well-formed but outside what this module's layout supports.
    #[error("tensor `{tensor}`: unsupported: {reason}")]
    Unsupported {
        /// Name of the offending tensor.
        tensor: String,
        /// Which constraint is violated.
        reason: String,
    },
    /// The requested kernel cannot run on this CPU.
    #[error("int4 kernel {0:?} is not available on this CPU")]
    KernelUnavailable(Kernel),
}

impl QuantError {
    /// Builds a [`QuantError::Shape`] from displayable parts.
    pub(crate) fn shape(
        tensor: impl Into<String>,
        expected: impl std::fmt::Display,
        found: impl std::fmt::Display,
    ) -> Self {
        Self::Shape { tensor: tensor.into(), expected: expected.to_string(), found: found.to_string() }
    }

    /// Builds a [`QuantError::Unsupported`].
    pub(crate) fn unsupported(tensor: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Unsupported { tensor: tensor.into(), reason: reason.into() }
    }

    /// Builds a [`QuantError::Value`].
    pub(crate) fn value(tensor: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Value { tensor: tensor.into(), reason: reason.into() }
    }
}
