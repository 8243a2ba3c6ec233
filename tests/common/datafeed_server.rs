//! A real HTTP server on 127.0.0.1 in the Dukascopy datafeed's layout, serving bi5 files the tests write, with
//! scripted failures. Shared by the download tests and the GUI tests; each uses part of it.
#![allow(dead_code)]

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use aio::ingest::dukascopy::{
    Datafeed, Source,
    bi5::{self, RawTick},
};

/// What the server does with the next request for a path, before serving the file normally.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and no body.
    Status(u16),
    /// Wait this long, then serve the file (the client gives up first).
    Stall(Duration),
    /// Serve only the first half of the file.
    Truncate,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    faults: HashMap<String, VecDeque<Fault>>,
    /// Faults applied to every request of a path, forever.
    always: HashMap<String, Fault>,
    requests: Vec<String>,
}

pub struct DatafeedServer {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    pub served: Arc<AtomicUsize>,
}

impl DatafeedServer {
    pub fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let state = Arc::new(Mutex::new(State::default()));
        let served = Arc::new(AtomicUsize::new(0));
        let (st, sv) = (Arc::clone(&state), Arc::clone(&served));
        std::thread::Builder::new()
            .name("test-datafeed".into())
            .spawn(move || {
                for request in server.incoming_requests() {
                    let (st, sv) = (Arc::clone(&st), Arc::clone(&sv));
                    std::thread::spawn(move || serve(request, &st, &sv));
                }
            })
            .expect("spawn the server thread");
        Self { base_url: format!("http://127.0.0.1:{port}/datafeed"), state, served }
    }

    pub fn put(&self, path: &str, bytes: Vec<u8>) {
        self.state.lock().unwrap().files.insert(path.to_string(), bytes);
    }

    pub fn fault(&self, path: &str, fault: Fault) {
        self.state.lock().unwrap().faults.entry(path.to_string()).or_default().push_back(fault);
    }

    pub fn always(&self, path: &str, fault: Fault) {
        self.state.lock().unwrap().always.insert(path.to_string(), fault);
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn source(&self) -> Arc<dyn Source> {
        Arc::new(Datafeed::new(&self.base_url))
    }
}

fn serve(request: tiny_http::Request, state: &Mutex<State>, served: &AtomicUsize) {
    let path = request.url().trim_start_matches("/datafeed/").to_string();
    let (fault, body) = {
        let mut s = state.lock().unwrap();
        s.requests.push(path.clone());
        let fault = s.always.get(&path).cloned().or_else(|| s.faults.get_mut(&path).and_then(VecDeque::pop_front));
        (fault, s.files.get(&path).cloned())
    };
    let response = match (fault, body) {
        (Some(Fault::Status(code)), _) => tiny_http::Response::from_data(Vec::new()).with_status_code(code),
        (_, None) => tiny_http::Response::from_data(Vec::new()).with_status_code(404),
        (Some(Fault::Stall(wait)), Some(body)) => {
            std::thread::sleep(wait);
            tiny_http::Response::from_data(body)
        }
        (Some(Fault::Truncate), Some(body)) => tiny_http::Response::from_data(body[..body.len() / 2].to_vec()),
        (None, Some(body)) => tiny_http::Response::from_data(body),
    };
    let _ = request.respond(response);
    served.fetch_add(1, Ordering::SeqCst);
}

/// A deterministic random walk of `n` ticks in one hour around `mid` (integer price units).
pub fn walk(seed: u64, n: u32, mid: u32, spread: u32) -> Vec<RawTick> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let mut next = move || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as u32
    };
    let mut bid = mid;
    (0..n)
        .map(|i| {
            bid = (bid + next() % 7).saturating_sub(3).max(1);
            RawTick {
                ms: i * (3_600_000 / n) + next() % (3_600_000 / n),
                ask: bid + spread,
                bid,
                ask_volume: (next() % 400) as f32 * 0.01 + 0.01,
                bid_volume: (next() % 400) as f32 * 0.01 + 0.01,
            }
        })
        .collect()
}

pub fn tick_file(ticks: &[RawTick]) -> Vec<u8> {
    bi5::compress(&bi5::tick_records(ticks)).unwrap()
}
