//! A remote OpenAI-compatible chat endpoint as an analyst (llama.cpp's server, vLLM, a hosted API): the fusion
//! prompt goes to `POST {base}/chat/completions` with `response_format` set to [`analyst_output_schema`], the
//! answer's `choices[0].message.content` must parse as an [`AnalystOutput`]. Connection errors, timeouts, 429 and
//! 5xx answers are retried with exponential back-off and jitter; other answers fail at once. The API key is read
//! from an environment variable at call time and sent only in the `Authorization` header: it is never part of a
//! prompt, a report or the library.

use std::{sync::atomic::Ordering, time::Duration};

use serde_json::{Value, json};

use super::{AnalystContext, AnalystFailure, AnalystJob, AnalystOutput, Proposal, analyst_output_schema};
use crate::ingest::dukascopy::fetch::backoff_delay;

/// Where and how to reach a remote endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// Base URL up to the API version, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    /// Model name sent in the request.
    pub model: String,
    /// Environment variable holding the API key (none: no `Authorization` header).
    pub api_key_env: Option<String>,
    /// Longest wait for one answer.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First back-off delay (doubled per retry, capped at 8 s).
    pub backoff_base: Duration,
}

impl RemoteConfig {
    /// A config with a 120 s timeout and 3 retries starting at 500 ms.
    pub fn new(base_url: &str, model: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key_env: None,
            timeout: Duration::from_secs(120),
            retries: 3,
            backoff_base: Duration::from_millis(500),
        }
    }
}

/// The remote analyst.
pub struct RemoteAnalyst {
    config: RemoteConfig,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl RemoteAnalyst {
    /// An analyst for `config` (no connection is made yet).
    pub fn new(config: RemoteConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("aio/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        // One I/O thread; the analysis workers each block on their own request (a current-thread runtime would
        // hand its driver from worker to worker).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("aio-remote")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
        Ok(Self { config, client, runtime })
    }

    /// The request body for `job`.
    pub fn request_body(&self, job: &AnalystJob<'_>) -> Value {
        json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": AnalystContext::system_prompt()},
                {"role": "user", "content": job.context.user_prompt()},
            ],
            "temperature": 0,
            "seed": job.seed,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "strategy_analysis", "strict": true, "schema": analyst_output_schema()}
            }
        })
    }

    /// One attempt: `Ok((content, completion tokens))`, or the error and whether a retry may help.
    async fn attempt(&self, body: &Value) -> Result<(String, usize), (String, bool)> {
        let url = format!("{}/chat/completions", self.config.base_url);
        let mut request = self.client.post(&url).json(body);
        if let Some(var) = &self.config.api_key_env {
            match std::env::var(var) {
                Ok(key) => request = request.bearer_auth(key),
                Err(_) => return Err((format!("the API key variable {var} is not set"), false)),
            }
        }
        let response = request.send().await.map_err(|e| (format!("{url}: {e}"), true))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| (format!("{url}: reading the answer: {e}"), true))?;
        if !status.is_success() {
            let retry = status.as_u16() == 429 || status.is_server_error();
            let excerpt: String = text.chars().take(200).collect();
            return Err((format!("{url}: HTTP {status}: {excerpt}"), retry));
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| (format!("{url}: the answer is not JSON: {e}"), false))?;
        let tokens = value["usage"]["completion_tokens"].as_u64().and_then(|t| usize::try_from(t).ok()).unwrap_or(0);
        value["choices"][0]["message"]["content"]
            .as_str()
            .map(|content| (content.to_string(), tokens))
            .ok_or_else(|| (format!("{url}: no choices[0].message.content in the answer"), false))
    }
}

impl super::Analyst for RemoteAnalyst {
    fn id(&self) -> String {
        format!("{} at {}", self.config.model, self.config.base_url)
    }

    fn propose(&self, job: &AnalystJob<'_>) -> Result<Proposal, AnalystFailure> {
        let body = self.request_body(job);
        let max = Duration::from_secs(8);
        let (content, tokens) = self.runtime.block_on(async {
            let mut attempt = 0;
            loop {
                let call = self.attempt(&body);
                // The cancel flag is watched while the request is in flight.
                let watched = async {
                    loop {
                        if job.cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                let outcome = tokio::select! {
                    outcome = call => outcome,
                    () = watched => return Err(AnalystFailure::Cancelled),
                };
                match outcome {
                    Ok(content) => return Ok(content),
                    Err((reason, retry)) if retry && attempt < self.config.retries => {
                        let delay = backoff_delay(self.config.backoff_base, max, attempt);
                        tracing::warn!(%reason, retry_in_ms = delay.as_millis() as u64, "remote analyst: retrying");
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                    }
                    Err((reason, _)) => {
                        let tries = attempt + 1;
                        return Err(AnalystFailure::Failed(format!("{reason} (after {tries} attempt(s))")));
                    }
                }
            }
        })?;
        let mut output: AnalystOutput = serde_json::from_str(&content)
            .map_err(|e| AnalystFailure::Failed(format!("the answer is not a strategy: {e}")))?;
        output.prune_indicators();
        Ok(Proposal { output, raw: content, tokens })
    }
}
