//! The workstation window (eframe + egui with the wgpu renderer): docked panels, menus, file loading on a
//! worker thread with progress, drag-and-drop, and a layout that persists across runs.
//!
//! An edge module: it may import everything; nothing imports it except `cli`.

mod app;
pub mod dock;
mod loader;
mod log;
pub mod panels;
pub mod studies;
pub mod theme;

use std::{path::PathBuf, time::Instant};

pub use app::WorkstationApp;
pub use loader::{DownloadSpec, JobProgress, LoadSource};
pub use log::{LogBuffer, LogLayer, LogLine};
pub use panels::download::{DownloadChoice, DownloadDialog};

/// How the workstation was started.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// File given on the command line.
    pub file: Option<PathBuf>,
    /// Open the embedded sample instead of the last file.
    pub sample: bool,
    /// Library file override.
    pub library: Option<PathBuf>,
    /// Print the first-frame time and exit (benchmark).
    pub exit_after_first_frame: bool,
    /// Load nothing (benchmark reference).
    pub empty: bool,
    /// Start this many analyses once the data is there, print the frame times while they run and after, and
    /// exit (used by `aio bench analyze`).
    pub bench_analyses: usize,
    /// Process start.
    pub started: Instant,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        Self {
            file: None,
            sample: false,
            library: None,
            exit_after_first_frame: false,
            empty: false,
            bench_analyses: 0,
            started: Instant::now(),
        }
    }
}

/// The window title.
pub const APP_NAME: &str = "AI-Indicator-Optimizer";

/// Opens the workstation window and runs until it is closed.
pub fn run(options: LaunchOptions, log: LogBuffer) -> anyhow::Result<()> {
    let persist = std::env::var_os("AIO_NO_PERSIST").is_none();
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(APP_NAME)
            .with_app_id("aio")
            .with_inner_size([1440.0, 880.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true),
        persist_window: persist,
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    eframe::run_native(
        APP_NAME,
        native,
        Box::new(move |cc| Ok(Box::new(WorkstationApp::new(cc, options, log, persist)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the workstation window: {e}"))
}
