//! Naming a model: a folder path, or a Hugging Face hub id (`openbmb/MiniCPM4.1-8B`) resolved from the local
//! Hugging Face cache (`$HF_HOME/hub`, the layout transformers writes) and downloaded into it with the hf-hub
//! crate when online. `HF_HUB_OFFLINE=1` forbids the download.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::AiError;

/// Files every model folder needs besides its weights.
const REQUIRED: [&str; 2] = ["config.json", "tokenizer.json"];
/// Files used when present.
const OPTIONAL: [&str; 3] = ["tokenizer_config.json", "generation_config.json", "chat_template.jinja"];

/// Where a hub model is looked up and downloaded.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// The cache folder (`…/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// Hub address (default `https://huggingface.co`; tests point it at a local server).
    pub endpoint: Option<String>,
    /// Never touch the network.
    pub offline: bool,
}

impl HubOptions {
    /// Settings from the environment, as the Hugging Face tools read them (`HF_HOME`, `HF_ENDPOINT`,
    /// `HF_HUB_OFFLINE`).
    pub fn from_env() -> Self {
        let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "ON" | "YES"));
        Self {
            cache_dir: hf_hub::Cache::from_env().path().clone(),
            endpoint: std::env::var("HF_ENDPOINT").ok(),
            offline,
        }
    }
}

/// Whether `name` looks like a hub id (`owner/name`) rather than a path.
pub fn is_hub_id(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        && !name.starts_with('.')
}

/// Resolves a model folder: an existing directory as is, else a hub id from the cache or (online) the hub.
pub fn resolve_model(name: &str, options: &HubOptions) -> Result<PathBuf, AiError> {
    let path = Path::new(name);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if !is_hub_id(name) {
        return Err(AiError::Checkpoint { path: path.to_path_buf(), message: "no such model folder".into() });
    }
    let cache = hf_hub::Cache::new(options.cache_dir.clone());
    if let Some(dir) = cached_folder(&cache, name) {
        return Ok(dir);
    }
    if options.offline {
        return Err(AiError::Checkpoint {
            path: options.cache_dir.clone(),
            message: format!("{name} is not in the Hugging Face cache and HF_HUB_OFFLINE is set"),
        });
    }
    download(name, options).map_err(|message| AiError::Checkpoint {
        path: options.cache_dir.clone(),
        message: format!("{name} is not in the Hugging Face cache and downloading it failed: {message}"),
    })
}

/// The snapshot folder of a fully cached model (config, tokenizer and every weight file present).
fn cached_folder(cache: &hf_hub::Cache, id: &str) -> Option<PathBuf> {
    let repo = cache.model(id.to_owned());
    let config = repo.get("config.json")?;
    let dir = config.parent()?.to_path_buf();
    let complete = REQUIRED.iter().all(|f| dir.join(f).is_file())
        && weight_files(&dir).is_some_and(|files| files.iter().all(|f| dir.join(f).is_file()));
    complete.then_some(dir)
}

/// Weight files a folder's index lists, or `model.safetensors`.
fn weight_files(dir: &Path) -> Option<Vec<String>> {
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(index).ok()?).ok()?;
        let mut files: Vec<String> =
            v.get("weight_map")?.as_object()?.values().filter_map(|f| f.as_str().map(str::to_owned)).collect();
        files.sort();
        files.dedup();
        Some(files)
    } else {
        Some(vec!["model.safetensors".to_owned()])
    }
}

fn download(id: &str, options: &HubOptions) -> Result<PathBuf, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut builder = hf_hub::api::tokio::ApiBuilder::from_cache(hf_hub::Cache::new(options.cache_dir.clone()))
            .with_progress(false);
        if let Some(endpoint) = &options.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        let api = builder.build().map_err(|e| e.to_string())?;
        let repo = api.model(id.to_owned());
        let mut dir = None;
        for file in REQUIRED {
            let path = repo.get(file).await.map_err(|e| format!("{file}: {e}"))?;
            dir = path.parent().map(Path::to_path_buf);
        }
        for file in OPTIONAL {
            // Absent optional files are normal (404); the model works without them.
            let _ = repo.get(file).await;
        }
        let weights = match repo.get("model.safetensors.index.json").await {
            Ok(index) => {
                let parent = index.parent().map(Path::to_path_buf).unwrap_or_default();
                weight_files(&parent).ok_or("model.safetensors.index.json has no weight_map")?
            }
            Err(_) => vec!["model.safetensors".to_owned()],
        };
        for file in &weights {
            repo.get(file).await.map_err(|e| format!("{file}: {e}"))?;
        }
        dir.ok_or_else(|| "no file downloaded".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_and_paths_are_told_apart() {
        assert!(is_hub_id("openbmb/MiniCPM4.1-8B"));
        assert!(!is_hub_id("./models/x"));
        assert!(!is_hub_id("/abs/path"));
        assert!(!is_hub_id("a/b/c"));
        assert!(!is_hub_id("model"));
    }
}
