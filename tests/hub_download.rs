//! Resolving a hub id: from the local Hugging Face cache, and downloading into it from a real local HTTP server
//! that answers like the hub's `resolve` endpoint.

use std::path::Path;

use aio::ai::{
    engine::LoadedModel,
    hub::{HubOptions, resolve_model},
};

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpm4/tiny-f32")
}

/// Serves tiny-f32 as `test-org/tiny` at revision `main`, honouring Range requests; counts requests.
fn serve_hub() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("server");
    let addr = format!("http://{}", server.server_addr().to_ip().expect("ip"));
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let url = request.url().to_owned();
            let Some(file) = url.strip_prefix("/test-org/tiny/resolve/main/") else {
                let _ = request.respond(tiny_http::Response::empty(404));
                continue;
            };
            let Ok(bytes) = std::fs::read(fixture_dir().join(file)) else {
                let _ = request.respond(tiny_http::Response::empty(404));
                continue;
            };
            let range = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Range"))
                .and_then(|h| h.value.as_str().strip_prefix("bytes=").map(str::to_owned));
            let (start, stop) = range
                .and_then(|r| {
                    let (a, b) = r.split_once('-')?;
                    Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?.min(bytes.len() - 1)))
                })
                .unwrap_or((0, bytes.len() - 1));
            let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("header");
            let etag = format!("\"{:x}\"", bytes.len() * 31 + file.len());
            let response = tiny_http::Response::from_data(bytes[start..=stop].to_vec())
                .with_status_code(206)
                .with_header(header("x-repo-commit", "0123456789abcdef0123456789abcdef01234567"))
                .with_header(header("etag", &etag))
                .with_header(header("content-range", &format!("bytes {start}-{stop}/{}", bytes.len())));
            let _ = request.respond(response);
        }
    });
    (addr, hits)
}

#[test]
fn a_hub_id_downloads_into_the_cache_then_resolves_offline() {
    let cache = tempfile::tempdir().expect("temp dir");
    let (endpoint, hits) = serve_hub();
    let online = HubOptions { cache_dir: cache.path().to_path_buf(), endpoint: Some(endpoint), offline: false };
    let dir = resolve_model("test-org/tiny", &online).expect("downloads");
    assert!(dir.starts_with(cache.path()));
    let loaded = LoadedModel::load(&dir).expect("the downloaded folder loads");
    assert_eq!(loaded.info.vocab_size, 512);
    let served = hits.load(std::sync::atomic::Ordering::Relaxed);
    assert!(served > 0);
    // Now cached: offline resolution finds the same snapshot without the server.
    let offline = HubOptions { offline: true, endpoint: None, ..online };
    assert_eq!(resolve_model("test-org/tiny", &offline).expect("cached"), dir);
    let missing = resolve_model("test-org/other", &offline).expect_err("not cached");
    assert!(missing.to_string().contains("test-org/other") && missing.to_string().contains("HF_HUB_OFFLINE"));
}

#[test]
fn a_missing_folder_that_is_no_hub_id_is_named() {
    let options = HubOptions { cache_dir: "/nonexistent".into(), endpoint: None, offline: true };
    let err = resolve_model("./no/such/model", &options).expect_err("fails");
    assert!(err.to_string().contains("./no/such/model"), "{err}");
}
