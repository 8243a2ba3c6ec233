//! Safetensors checkpoints as Hugging Face writes them: one `model.safetensors`, or shards listed in
//! `model.safetensors.index.json`. Files are memory-mapped; tensors are read by name and converted to what the
//! model keeps (f32 for dense weights, raw i32/f16 for int4 layouts). Every error names the file and the tensor.

use std::{
    collections::HashMap,
    fs::File,
    path::{Path, PathBuf},
};

use half::{bf16, f16};
use safetensors::{Dtype, tensor::Metadata};
use serde::Deserialize;

use super::AiError;

/// One memory-mapped safetensors file with its parsed header.
struct Shard {
    path: PathBuf,
    mmap: memmap2::Mmap,
    data_start: usize,
    metadata: Metadata,
}

/// The tensors of a checkpoint folder, by name, across shards.
pub struct Checkpoint {
    shards: Vec<Shard>,
    index: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct IndexFile {
    weight_map: HashMap<String, String>,
}

/// A tensor found by name: its shard, shape, stored dtype and bytes.
type Entry<'a> = (&'a Shard, Vec<usize>, Dtype, &'a [u8]);

/// A tensor's storage type as far as the engine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorDtype {
    /// 32-bit float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// bfloat16.
    BF16,
    /// 32-bit signed integer (packed int4 words, group indices).
    I32,
    /// Anything else (named for the error message).
    Other(Dtype),
}

impl Checkpoint {
    /// Opens `model.safetensors.index.json` and its shards if present, else `model.safetensors`, else the one
    /// `*.safetensors` file of the folder.
    pub fn open(dir: &Path) -> Result<Self, AiError> {
        let index_path = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if index_path.is_file() {
            let text = std::fs::read_to_string(&index_path)
                .map_err(|source| AiError::Io { path: index_path.clone(), source })?;
            let index: IndexFile = serde_json::from_str(&text)
                .map_err(|e| AiError::Checkpoint { path: index_path.clone(), message: e.to_string() })?;
            let mut names: Vec<&String> = index.weight_map.values().collect();
            names.sort();
            names.dedup();
            let mut files = Vec::with_capacity(names.len());
            for name in names {
                let path = dir.join(name);
                if !path.is_file() {
                    let tensor = index
                        .weight_map
                        .iter()
                        .filter(|(_, f)| *f == name)
                        .map(|(t, _)| t.as_str())
                        .min()
                        .unwrap_or_default();
                    return Err(AiError::Checkpoint {
                        path,
                        message: format!("shard listed in model.safetensors.index.json is missing (holds {tensor})"),
                    });
                }
                files.push(path);
            }
            files
        } else if dir.join("model.safetensors").is_file() {
            vec![dir.join("model.safetensors")]
        } else {
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|source| AiError::Io { path: dir.to_path_buf(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "safetensors") && !is_reference_file(p))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(AiError::Checkpoint {
                    path: dir.to_path_buf(),
                    message: "no model.safetensors, model.safetensors.index.json or *.safetensors file".into(),
                });
            }
            found
        };
        let mut shards = Vec::with_capacity(files.len());
        let mut index = HashMap::new();
        for path in files {
            let shard = Shard::open(&path)?;
            for name in shard.metadata.tensors().keys() {
                index.insert(name.clone(), shards.len());
            }
            shards.push(shard);
        }
        Ok(Self { shards, index })
    }

    /// Whether a tensor of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.index.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Total bytes of tensor data on disk.
    pub fn data_bytes(&self) -> u64 {
        self.shards.iter().map(|s| (s.mmap.len() - s.data_start) as u64).sum()
    }

    fn entry(&self, name: &str) -> Result<Entry<'_>, AiError> {
        let Some(&i) = self.index.get(name) else {
            let path = self.shards.first().map(|s| s.path.clone()).unwrap_or_default();
            let dir = path.parent().map(Path::to_path_buf).unwrap_or(path);
            return Err(AiError::Tensor { path: dir, tensor: name.to_owned(), message: "missing".into() });
        };
        let shard = &self.shards[i];
        let info = shard.metadata.info(name).ok_or_else(|| shard.err(name, "missing from the header"))?;
        let (start, end) = info.data_offsets;
        let bytes = &shard.mmap[shard.data_start + start..shard.data_start + end];
        Ok((shard, info.shape.clone(), info.dtype, bytes))
    }

    /// Shape and dtype of a tensor.
    pub fn info(&self, name: &str) -> Result<(Vec<usize>, TensorDtype), AiError> {
        let (_, shape, dtype, _) = self.entry(name)?;
        let dtype = match dtype {
            Dtype::F32 => TensorDtype::F32,
            Dtype::F16 => TensorDtype::F16,
            Dtype::BF16 => TensorDtype::BF16,
            Dtype::I32 => TensorDtype::I32,
            other => TensorDtype::Other(other),
        };
        Ok((shape, dtype))
    }

    /// Reads a float tensor (f32, f16 or bf16) as f32, checking its shape.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, AiError> {
        let (shard, found, dtype, bytes) = self.entry(name)?;
        shard.check_shape(name, &found, shape)?;
        Ok(match dtype {
            Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => bytes.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            other => return Err(shard.err(name, &format!("dtype {other:?} is not a float type (F32, F16, BF16)"))),
        })
    }

    /// Reads an f16 tensor (int4 scales), checking its shape.
    pub fn f16(&self, name: &str, shape: &[usize]) -> Result<Vec<f16>, AiError> {
        let (shard, found, dtype, bytes) = self.entry(name)?;
        shard.check_shape(name, &found, shape)?;
        match dtype {
            Dtype::F16 => Ok(bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]])).collect()),
            Dtype::BF16 | Dtype::F32 => Ok(self.f32(name, shape)?.into_iter().map(f16::from_f32).collect()),
            other => Err(shard.err(name, &format!("dtype {other:?} is not F16"))),
        }
    }

    /// Reads a 16-bit float tensor as stored (f16 or bf16), checking its shape; None for other dtypes.
    pub fn half(&self, name: &str, shape: &[usize]) -> Result<Option<crate::ai::half_matrix::HalfData>, AiError> {
        use crate::ai::half_matrix::HalfData;
        let (shard, found, dtype, bytes) = self.entry(name)?;
        shard.check_shape(name, &found, shape)?;
        Ok(match dtype {
            Dtype::F16 => {
                Some(HalfData::F16(bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]])).collect()))
            }
            Dtype::BF16 => {
                Some(HalfData::BF16(bytes.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]])).collect()))
            }
            _ => None,
        })
    }

    /// Reads an i32 tensor (packed int4 words, group indices), checking its shape.
    pub fn i32(&self, name: &str, shape: &[usize]) -> Result<Vec<i32>, AiError> {
        let (shard, found, dtype, bytes) = self.entry(name)?;
        shard.check_shape(name, &found, shape)?;
        match dtype {
            Dtype::I32 | Dtype::U32 => {
                Ok(bytes.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
            }
            other => Err(shard.err(name, &format!("dtype {other:?} is not I32"))),
        }
    }

    /// An error about a tensor, naming the file that holds it (or the folder when it is missing).
    pub fn error(&self, name: &str, message: &str) -> AiError {
        match self.index.get(name) {
            Some(&i) => self.shards[i].err(name, message),
            None => {
                let dir = self.shards.first().and_then(|s| s.path.parent()).map(Path::to_path_buf).unwrap_or_default();
                AiError::Tensor { path: dir, tensor: name.to_owned(), message: message.to_owned() }
            }
        }
    }
}

/// For a file shorter than its header says: which tensor is cut off (the first whose data runs past the end).
fn truncated_tensor(bytes: &[u8]) -> Option<String> {
    let header_len = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes.get(8..8usize.checked_add(header_len)?)?).ok()?;
    let data_len = bytes.len() - 8 - header_len;
    header
        .iter()
        .filter_map(|(name, info)| {
            let offsets = info.get("data_offsets")?;
            let (start, end) = (offsets.get(0)?.as_u64()?, offsets.get(1)?.as_u64()?);
            (end > data_len as u64).then_some((start, name, end))
        })
        .min()
        .map(|(_, name, end)| {
            format!("truncated: tensor {name} ends at byte {end} of the data but the file holds {data_len}")
        })
}

/// `reference.safetensors` beside the fixtures is not part of a model.
fn is_reference_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "reference.safetensors")
}

impl Shard {
    fn open(path: &Path) -> Result<Self, AiError> {
        let file = File::open(path).map_err(|source| AiError::Io { path: path.to_path_buf(), source })?;
        // SAFETY: the file is opened read-only and the mapping lives as long as the Shard; a checkpoint file
        // changed by another process while mapped is outside what the engine can guard against (as in
        // safetensors and candle, which map the same way).
        let mmap =
            unsafe { memmap2::Mmap::map(&file) }.map_err(|source| AiError::Io { path: path.to_path_buf(), source })?;
        let bad = |message: String| AiError::Checkpoint { path: path.to_path_buf(), message };
        if mmap.len() < 8 {
            return Err(bad(format!("truncated: {} bytes, not even a header length", mmap.len())));
        }
        let (header_len, metadata) = match safetensors::SafeTensors::read_metadata(&mmap) {
            Ok(parsed) => parsed,
            Err(e) => return Err(bad(truncated_tensor(&mmap).unwrap_or_else(|| e.to_string()))),
        };
        let data_start = 8 + header_len;
        Ok(Self { path: path.to_path_buf(), mmap, data_start, metadata })
    }

    fn err(&self, tensor: &str, message: &str) -> AiError {
        AiError::Tensor { path: self.path.clone(), tensor: tensor.to_owned(), message: message.to_owned() }
    }

    fn check_shape(&self, name: &str, found: &[usize], expected: &[usize]) -> Result<(), AiError> {
        if found != expected {
            return Err(self.err(name, &format!("shape {found:?}, expected {expected:?}")));
        }
        Ok(())
    }
}
