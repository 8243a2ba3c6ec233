//! The remote OpenAI-compatible analyst against a real local HTTP server: an accepted answer (sent with the schema,
//! the key only in the header), retries with back-off through 503s, fallback to the rule-based analyst when the
//! endpoint keeps failing, and the circuit breaker that then stops calling it.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use aio::{
    ai::orchestrator::{
        AnalysisRequest, Analyst, AnalystChain, Orchestrator, RULE_BASED_ID,
        remote::{RemoteAnalyst, RemoteConfig},
    },
    ingest,
};
use serde_json::{Value, json};

/// What the server saw: request bodies and `Authorization` headers.
#[derive(Default)]
struct Seen {
    bodies: Vec<Value>,
    auth: Vec<Option<String>>,
}

/// A chat-completions server answering with `answers` in turn (the last one repeats).
fn serve(answers: Vec<(u16, String)>) -> (String, Arc<Mutex<Seen>>, Arc<AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", server.server_addr().to_ip().expect("ip address"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let count = Arc::new(AtomicUsize::new(0));
    let (seen2, count2) = (seen.clone(), count.clone());
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let auth =
                request.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.as_str().to_string());
            {
                let mut s = seen2.lock().unwrap();
                s.bodies.push(serde_json::from_str(&body).unwrap_or(Value::Null));
                s.auth.push(auth);
            }
            let k = count2.fetch_add(1, Ordering::SeqCst);
            let (status, text) = answers[k.min(answers.len() - 1)].clone();
            let header = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
            let _ =
                request.respond(tiny_http::Response::from_string(text).with_status_code(status).with_header(header));
        }
    });
    (url, seen, count)
}

fn sample_request() -> AnalysisRequest {
    let loaded = ingest::load_sample().expect("sample");
    let mut request = AnalysisRequest::latest(Arc::new(loaded.bars), "EURUSD", loaded.timeframe, 150);
    request.image_size = None;
    request
}

/// A valid answer: the rule-based analyst's own output for the sample, as a chat completion.
fn completion() -> String {
    let rule_based = Orchestrator::new(AnalystChain::rule_based())
        .run(&sample_request(), None, &AtomicBool::new(false), &|_| {})
        .expect("rule-based analysis");
    let mut output = rule_based.output.clone();
    output.rationale = format!("remote: {}", output.rationale);
    json!({
        "choices": [{"message": {"role": "assistant", "content": serde_json::to_string(&output).unwrap()}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 321}
    })
    .to_string()
}

fn config(url: &str) -> RemoteConfig {
    RemoteConfig { backoff_base: Duration::from_millis(10), ..RemoteConfig::new(url, "test-model") }
}

#[test]
fn a_remote_answer_is_accepted_and_the_key_stays_in_the_header() {
    let (url, seen, count) = serve(vec![(200, completion())]);
    // SAFETY: set once before any thread of this test reads it; no other test uses this variable.
    unsafe { std::env::set_var("AIO_TEST_REMOTE_KEY", "sk-test-0123456789abcdefghij") };
    let remote = RemoteAnalyst::new(RemoteConfig { api_key_env: Some("AIO_TEST_REMOTE_KEY".into()), ..config(&url) })
        .expect("client");
    let id = remote.id();
    let orchestrator = Orchestrator::new(AnalystChain::new(vec![Box::new(remote)]));
    let result = orchestrator.run(&sample_request(), None, &AtomicBool::new(false), &|_| {}).expect("analysis");
    assert_eq!(result.analyst, id);
    assert!(result.fallbacks.is_empty(), "{:?}", result.fallbacks);
    assert!(result.output.rationale.starts_with("remote: "));
    assert_eq!(result.tokens, 321, "the endpoint's usage.completion_tokens");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let seen = seen.lock().unwrap();
    let body = &seen.bodies[0];
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["response_format"]["json_schema"]["schema"], aio::ai::orchestrator::analyst_output_schema());
    assert_eq!(body["messages"][1]["content"].as_str(), Some(result.prompt[1].as_str()));
    assert_eq!(seen.auth[0].as_deref(), Some("Bearer sk-test-0123456789abcdefghij"));
    // The key is in no prompt and no report.
    assert!(!body.to_string().contains("sk-test-"));
    assert!(!result.report().to_string().contains("sk-test-"));
}

#[test]
fn server_errors_are_retried_with_back_off() {
    let busy = (503, "{\"error\": \"busy\"}".to_string());
    let (url, _, count) = serve(vec![busy.clone(), busy, (200, completion())]);
    let remote = RemoteAnalyst::new(config(&url)).expect("client");
    let orchestrator = Orchestrator::new(AnalystChain::new(vec![Box::new(remote)]));
    let result = orchestrator.run(&sample_request(), None, &AtomicBool::new(false), &|_| {}).expect("analysis");
    assert_ne!(result.analyst, RULE_BASED_ID, "{:?}", result.fallbacks);
    assert_eq!(count.load(Ordering::SeqCst), 3, "two 503s, then the answer");
}

#[test]
fn a_failing_endpoint_falls_back_and_its_breaker_opens() {
    let (url, _, count) = serve(vec![(500, "{\"error\": \"model crashed\"}".to_string())]);
    let remote = RemoteAnalyst::new(RemoteConfig { retries: 1, ..config(&url) }).expect("client");
    let orchestrator = Orchestrator::new(AnalystChain::new(vec![Box::new(remote)]));
    let mut reasons = Vec::new();
    for _ in 0..4 {
        let result = orchestrator.run(&sample_request(), None, &AtomicBool::new(false), &|_| {}).expect("analysis");
        assert_eq!(result.analyst, RULE_BASED_ID);
        reasons.push(result.fallbacks[0].reason.clone());
    }
    assert!(reasons[0].contains("HTTP 500") && reasons[0].contains("model crashed"), "{}", reasons[0]);
    assert!(reasons[0].contains("after 2 attempt(s)"), "{}", reasons[0]);
    assert!(reasons[3].starts_with("skipped"), "{reasons:?}");
    // Three analyses of two attempts each; the fourth did not call.
    assert_eq!(count.load(Ordering::SeqCst), 6);
}

#[test]
fn a_client_error_is_not_retried_and_an_unreachable_endpoint_is_reported() {
    let (url, _, count) = serve(vec![(400, "{\"error\": \"bad schema\"}".to_string())]);
    let remote = RemoteAnalyst::new(config(&url)).expect("client");
    let orchestrator = Orchestrator::new(AnalystChain::new(vec![Box::new(remote)]));
    let result = orchestrator.run(&sample_request(), None, &AtomicBool::new(false), &|_| {}).expect("analysis");
    assert_eq!(result.analyst, RULE_BASED_ID);
    assert!(result.fallbacks[0].reason.contains("HTTP 400"), "{:?}", result.fallbacks);
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // Nothing listens on port 9 of 127.0.0.1 (discard), so the connection is refused.
    let remote = RemoteAnalyst::new(RemoteConfig { retries: 1, ..config("http://127.0.0.1:9/v1") }).expect("client");
    let orchestrator = Orchestrator::new(AnalystChain::new(vec![Box::new(remote)]));
    let result = orchestrator.run(&sample_request(), None, &AtomicBool::new(false), &|_| {}).expect("analysis");
    assert_eq!(result.analyst, RULE_BASED_ID);
    assert!(result.fallbacks[0].reason.contains("127.0.0.1:9"), "{:?}", result.fallbacks);
}
