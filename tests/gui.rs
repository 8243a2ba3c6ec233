//! The real workstation app driven headlessly by egui_kittest and rendered with wgpu (Mesa lavapipe on a
//! machine without a GPU): it loads the sample, draws candles, keeps its data when a bad file is opened,
//! and the View menu resets the layout.

#[path = "common/datafeed_server.rs"]
mod datafeed_server;

use std::time::{Duration, Instant};

use aio::gui::{LaunchOptions, LoadSource, LogBuffer, WorkstationApp, theme};
use egui_kittest::{
    Harness,
    kittest::{NodeT, Queryable},
};

fn harness(launch: LaunchOptions) -> Harness<'static, WorkstationApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .wgpu()
        .build_eframe(move |cc| WorkstationApp::new(cc, launch, LogBuffer::default(), false))
}

/// Steps the app until `done` holds, giving the loader thread time to work.
fn step_until(h: &mut Harness<'static, WorkstationApp>, what: &str, done: impl Fn(&WorkstationApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.run_steps(3);
}

fn count_near(image: &image::RgbaImage, color: egui::Color32) -> usize {
    image
        .pixels()
        .filter(|p| {
            let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
            d(p[0], color.r()) < 12 && d(p[1], color.g()) < 12 && d(p[2], color.b()) < 12
        })
        .count()
}

#[test]
fn workstation_loads_the_sample_and_renders_candles() {
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    assert_eq!(h.state().dataset().unwrap().bars.len(), 5000);

    // The docked panels and menus are there.
    for label in ["File", "View", "Chart", "Data", "Library", "Log", "Analysis", "Pine Script", "Backtest"] {
        h.get_by_label(label);
    }
    let image = h.render().expect("wgpu render");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("workstation.png");
    image.save(&out).unwrap();
    eprintln!("saved {}", out.display());
    // Real candles in both colours were drawn.
    assert!(count_near(&image, theme::CANDLE_UP) > 200, "no up candles in {}", out.display());
    assert!(count_near(&image, theme::CANDLE_DOWN) > 200, "no down candles in {}", out.display());
}

#[test]
fn a_bad_file_shows_an_error_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.csv");
    std::fs::write(&bad, "time,open,high,low,close\n2024-01-15 00:00:00,1.1,abc,1.0,1.05\n").unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    let ctx = h.ctx.clone();
    h.state_mut().open(LoadSource::File(bad), Some(ctx));
    step_until(&mut h, "the bad file to fail", |app| !app.is_loading());
    let message = h.state().error_message().expect("an error dialog").to_string();
    assert!(
        message.contains("'abc'")
            && message.contains("'high'")
            && message.contains("row 1")
            && message.contains("broken.csv"),
        "{message}"
    );
    assert_eq!(h.state().dataset().unwrap().bars.len(), 5000, "the sample is kept");
    h.get_by_label("Cannot open the file");
    h.get_by_label("OK").click();
    h.run_steps(3);
    assert!(h.state().error_message().is_none());
}

#[test]
fn view_menu_resets_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { empty: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    h.run_steps(2);
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Reset layout").click();
    h.run_steps(2);
    assert!(h.state().dataset().is_none());
    h.get_by_label("Chart");
}

/// A file dropped on the window, as winit hands it to egui.
#[derive(Debug)]
struct DroppedPath(std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn write_mt5_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("EURUSD_M15.csv");
    std::fs::write(
        &path,
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n\
         2024.01.15\t00:00:00\t1.09480\t1.09510\t1.09460\t1.09500\t120\t0\t2\n\
         2024.01.15\t00:15:00\t1.09500\t1.09530\t1.09490\t1.09520\t98\t0\t2\n\
         2024.01.15\t00:30:00\t1.09520\t1.09540\t1.09470\t1.09480\t143\t0\t1\n",
    )
    .unwrap();
    path
}

#[test]
fn dropping_a_file_on_the_window_opens_and_registers_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_mt5_file(dir.path());
    let library = dir.path().join("lib.sqlite");
    let launch = LaunchOptions { empty: true, library: Some(library.clone()), ..Default::default() };
    let mut h = harness(launch);
    h.run_steps(2);
    h.input_mut().dropped_files.push(std::sync::Arc::new(DroppedPath(file.clone())));
    h.step();
    step_until(&mut h, "the dropped file to load", |app| app.dataset().is_some() && !app.is_loading());
    let data = h.state().dataset().unwrap();
    assert_eq!(data.bars.len(), 3);
    assert_eq!(data.symbol.as_deref(), Some("EURUSD"));
    assert_eq!(data.timeframe.map(|t| t.to_string()).as_deref(), Some("M15"));
    let datasets = aio::store::Library::open(&library).unwrap().datasets().unwrap();
    assert_eq!(datasets.len(), 1);
    assert!(datasets[0].dataset.source_path.ends_with("EURUSD_M15.csv"));
}

/// An in-memory `eframe::Storage`, as eframe's file storage behaves between two runs.
#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

#[test]
fn the_last_file_and_layout_persist_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_mt5_file(dir.path());
    let library = dir.path().join("lib.sqlite");
    let launch = LaunchOptions { file: Some(file.clone()), library: Some(library.clone()), ..Default::default() };
    let mut first =
        Harness::builder().wgpu().build_eframe(move |cc| WorkstationApp::new(cc, launch, LogBuffer::default(), true));
    step_until(&mut first, "the file to load", |app| app.dataset().is_some() && !app.is_loading());
    let mut storage = MemoryStorage::default();
    eframe::App::save(first.state_mut(), &mut storage);
    assert!(storage.0.get(eframe::APP_KEY).is_some_and(|v| v.contains("EURUSD_M15.csv") && v.contains("Chart")));

    // Second run without arguments: the remembered file opens again.
    let storage: &'static MemoryStorage = Box::leak(Box::new(storage));
    let launch = LaunchOptions { library: Some(library), ..Default::default() };
    let mut second = Harness::builder().wgpu().build_eframe(move |cc| {
        cc.storage = Some(storage);
        WorkstationApp::new(cc, launch, LogBuffer::default(), true)
    });
    step_until(&mut second, "the remembered file to load", |app| app.dataset().is_some() && !app.is_loading());
    let source = second.state().dataset().unwrap().source.clone();
    assert_eq!(std::fs::canonicalize(source).unwrap(), std::fs::canonicalize(&file).unwrap());
    second.get_by_label("File").click();
    second.run_steps(2);
    second.get_by_label("Open Recent").hover();
    second.run_steps(2);
    second.get_by_label(std::fs::canonicalize(&file).unwrap().to_str().unwrap());
}

#[test]
fn cancelling_a_long_load_from_the_status_bar_keeps_the_previous_data() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big_m1.csv");
    aio::ingest::synthetic::write_random_walk_csv(&big, 1_500_000).unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    let ctx = h.ctx.clone();
    h.state_mut().open(LoadSource::File(big), Some(ctx));
    h.step();
    assert!(h.state().is_loading(), "the big file is still loading");
    // The status bar shows the progress bar and a Cancel button while the UI keeps running.
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert!(h.state().load_progress().is_none_or(aio::ingest::Progress::is_cancelled));
    step_until(&mut h, "the cancelled load to end", |app| !app.is_loading());
    assert_eq!(h.state().dataset().unwrap().bars.len(), 5000, "the sample is kept");
    assert!(h.state().error_message().is_none(), "cancelling is not an error");
}

#[test]
fn studies_draw_indicators_and_pattern_markers_and_fill_the_patterns_panel() {
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the studies of the sample", |app| {
        app.dataset().is_some() && !app.is_loading() && app.studies().is_some() && !app.is_computing_studies()
    });
    let studies = h.state().studies().unwrap();
    let names: Vec<String> =
        studies.indicators.iter().flat_map(|(_, cols)| cols.iter().map(|c| c.name.clone())).collect();
    assert_eq!(
        names,
        [
            "sma_20",
            "bb_upper_20_2",
            "bb_middle_20_2",
            "bb_lower_20_2",
            "rsi_14",
            "macd_12_26_9",
            "macd_signal_12_26_9",
            "macd_hist_12_26_9"
        ]
    );
    assert!(studies.markers.len() > 1000, "{} candlestick signals", studies.markers.len());
    assert!(studies.chart.as_ref().is_some_and(|c| !c.patterns.is_empty()));
    assert!(studies.mining.as_ref().is_some_and(|m| m.stats.iter().any(|s| s.pattern == "engulfing_bull")));

    // The Patterns panel shows the miner's table (its first row at least) and the chart patterns.
    let first_row = studies.mining.as_ref().unwrap().stats[0].pattern.clone();
    h.get_by_label("Patterns").click();
    h.run_steps(3);
    h.get_by_label_contains("Pattern statistics");
    h.get_by_label(&first_row);
    h.get_by_label_contains("Chart patterns (");

    // Candles, overlay lines and bullish markers are on screen.
    let image = h.render().expect("wgpu render");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("studies.png");
    image.save(&out).unwrap();
    assert!(count_near(&image, theme::BANDS) > 300, "no Bollinger Bands in {}", out.display());
    assert!(count_near(&image, theme::BULLISH) > 20, "no bullish markers in {}", out.display());
    assert!(count_near(&image, theme::HIST_UP) + count_near(&image, theme::CANDLE_UP) > 300);

    // Turning on ADX from the settings adds its pane's columns after a recompute.
    let mut settings = h.state().study_settings().clone();
    for item in &mut settings.indicators {
        if matches!(item.spec, aio::indicators::IndicatorSpec::Adx { .. }) {
            item.enabled = true;
            item.spec = aio::indicators::IndicatorSpec::Adx { period: 7 };
        }
    }
    let ctx = h.ctx.clone();
    h.state_mut().set_study_settings(settings, &ctx);
    step_until(&mut h, "the recomputed studies", |app| !app.is_computing_studies());
    let studies = h.state().studies().unwrap();
    assert!(studies.indicators.iter().any(|(_, cols)| cols.iter().any(|c| c.name == "plus_di_7")));

    // The Indicators menu lists every indicator with its parameters.
    h.get_by_label("Indicators").click();
    h.run_steps(2);
    for label in ["SMA", "Bollinger Bands", "Stochastic", "ADX / DI", "Candlestick pattern markers"] {
        h.get_by_label(label);
    }
}

#[test]
fn the_download_dialog_fetches_from_a_datafeed_and_opens_the_bars() {
    use aio::ingest::dukascopy;
    let server = datafeed_server::DatafeedServer::start();
    let from = dukascopy::parse_hour("2024-01-16T00").unwrap();
    for h in 0..24 {
        server.put(
            &dukascopy::hour_ticks_path("GBPUSD", from + h * dukascopy::HOUR_NANOS),
            datafeed_server::tick_file(&datafeed_server::walk(h as u64, 1_200, 127_000, 3)),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Download from Dukascopy…").click();
    h.run_steps(2);
    h.get_by_label("Download from Dukascopy");
    {
        let d = h.state_mut().download_dialog_mut();
        assert!(d.open, "the File menu opened the dialog");
        d.base_url = server.base_url.clone();
        d.cache_dir = dir.path().join("cache").display().to_string();
        d.from = "2024-01-16".into();
        d.to = "2024-01-16".into();
        d.timeframe = aio::domain::Timeframe::M5;
    }
    h.run_steps(2);
    // The instrument picker searches the registry; picking GBP/USD selects it.
    let search = h
        .get_all_by_role(egui::accesskit::Role::TextInput)
        .find(|n| n.accesskit_node().placeholder().is_some_and(|p| p.starts_with("search: EUR")))
        .expect("the dialog's search field");
    search.focus();
    search.type_text("gbp/usd");
    h.run_steps(2);
    h.get_by_label_contains("GBPUSD").click();
    h.run_steps(2);
    assert_eq!(h.state_mut().download_dialog_mut().symbol, "GBPUSD");
    let image = h.render().expect("wgpu render");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("download_dialog.png");
    image.save(&out).unwrap();
    eprintln!("saved {}", out.display());
    h.get_by_label("Download").click();
    step_until(&mut h, "the download", |app| {
        !app.is_loading() && app.dataset().is_some_and(|d| d.symbol.as_deref() == Some("GBPUSD"))
    });
    let d = h.state().dataset().unwrap();
    assert_eq!(d.bars.len(), 24 * 12, "a day of M5 bars");
    assert_eq!(d.timeframe, Some(aio::domain::Timeframe::M5));
    assert!(d.source.ends_with("downloads/GBPUSD_M5_bid_20240116_20240116.parquet"), "{}", d.source.display());
    assert!(d.source.is_file());
    assert_eq!(server.requests().len(), 24);
    let datasets = aio::store::Library::open(&dir.path().join("lib.sqlite")).unwrap().datasets().unwrap();
    assert!(datasets.iter().any(|r| r.dataset.symbol.as_deref() == Some("GBPUSD") && r.dataset.rows == 288));
    assert!(!h.state_mut().download_dialog_mut().open, "the dialog closes when the download starts");
}

#[test]
fn the_backtest_panel_runs_the_spec_shows_results_and_pine_and_stores_both() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let launch = LaunchOptions { sample: true, library: Some(library.clone()), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());

    // A bad spec is refused with the field named, nothing runs.
    h.get_by_label("Backtest").click();
    h.run_steps(2);
    let good = h.state_mut().backtest_panel_mut().spec_text_mut().clone();
    h.state_mut().backtest_panel_mut().spec_text = good.replace("\"slow\"]}", "\"slw\"]}");
    h.get_by_label("Run backtest").click();
    h.run_steps(2);
    let error = h.state().backtest_panel().spec_error.clone().expect("a spec error");
    assert!(error.contains("long_entry.crosses_above[1]") && error.contains("slw"), "{error}");
    assert!(!h.state().is_backtesting());

    // The default spec (the SMA cross) runs on the sample.
    h.state_mut().backtest_panel_mut().spec_text = good;
    h.get_by_label("Run backtest").click();
    step_until(&mut h, "the backtest", |app| !app.is_backtesting() && app.backtest_panel().outcome.is_some());
    let outcome = h.state().backtest_panel().outcome.clone().unwrap();
    assert!(outcome.report.trades.len() > 50, "{} trades", outcome.report.trades.len());
    assert_eq!(outcome.report.equity.len(), 5000);
    h.get_by_label_contains("Trades (");
    h.get_by_label("Net profit");
    h.get_by_label("Sharpe");

    let image = h.render().expect("wgpu render");
    image.save(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("backtest_panel.png")).unwrap();
    // Clicking a trade brings it into view with its markers.
    let first_entry = aio::domain::format_ts_nanos(outcome.report.trades[0].entry_time_nanos);
    h.get_by_label(&first_entry).click();
    h.run_steps(3);
    assert_eq!(h.state().backtest_panel().selected_trade, Some(0));

    // The Pine panel shows the validated script.
    assert!(h.state().pine_panel().source.starts_with("//@version=5"));
    assert!(h.state().pine_panel().diagnostics.is_empty());
    h.get_by_label("Pine Script").click();
    h.run_steps(3);
    h.get_by_label("Copy to TradingView");
    h.get_by_label_contains("no errors");
    let image = h.render().expect("wgpu render");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("backtest_pine.png");
    image.save(&out).unwrap();
    eprintln!("saved {}", out.display());

    // Both are in the library.
    let stored = outcome.stored.clone().expect("stored");
    let lib = aio::store::Library::open(&library).unwrap();
    let strategy = lib.strategies().unwrap().into_iter().find(|s| s.name == "SMA cross").expect("strategy stored");
    let backtests = lib.backtests_for_strategy(strategy.id).unwrap();
    assert_eq!(backtests[0].id.0, stored);
    assert_eq!(backtests[0].backtest.trades.as_array().map(Vec::len), Some(outcome.report.trades.len()));
    let scripts = lib.pine_scripts_for_strategy(strategy.id).unwrap();
    assert_eq!(scripts[0].source, outcome.pine);
}

#[test]
fn the_chart_zooms_pans_and_resets_by_mouse_and_keyboard() {
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    step_until(&mut h, "the chart to draw", |app| app.chart().last_plan().is_some());
    let n = 5_000usize;
    let rect = h.state().chart().rect.expect("chart drawn");
    let start = h.state().chart().view;
    assert!((start.span_bars() - 150.0).abs() < 1e-6, "{start:?}");
    let at = egui::pos2(rect.min.x + rect.width() * 0.4, rect.center().y);
    // The bar under the cursor before zooming.
    let bar_under = |app: &WorkstationApp| {
        let plan = app.chart().last_plan().unwrap();
        let ppp = plan.canvas[0] / rect.width();
        plan.panes[0].chart_from_screen(((at.x - rect.min.x) * ppp) as f64, 0.0)[0]
    };
    h.hover_at(at);
    h.run_steps(2);
    let before = bar_under(h.state());

    // Wheel up zooms in around the cursor.
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 240.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(20);
    let zoomed = h.state().chart().view;
    assert!(zoomed.span_bars() < start.span_bars() * 0.8, "{zoomed:?}");
    assert!(
        (bar_under(h.state()) - before).abs() < 0.5,
        "the bar under the cursor moved: {before} -> {}",
        bar_under(h.state())
    );

    // Dragging right shows earlier bars.
    h.drag_at(at);
    h.run_steps(1);
    for k in 1..=10 {
        h.hover_at(at + egui::vec2(20.0 * k as f32, 0.0));
        h.run_steps(1);
    }
    h.drop_at(at + egui::vec2(200.0, 0.0));
    h.run_steps(2);
    let panned = h.state().chart().view;
    assert!(panned.x_min < zoomed.x_min - 5.0, "{zoomed:?} -> {panned:?}");
    assert!((panned.span_bars() - zoomed.span_bars()).abs() < 1e-6);

    // Keyboard: Home shows the first bar, End the last, minus zooms out.
    h.hover_at(at);
    h.run_steps(1);
    h.key_press(egui::Key::Home);
    h.run_steps(2);
    assert_eq!(h.state().chart().view.visible_bars(n).0, 0);
    h.key_press(egui::Key::End);
    h.run_steps(2);
    assert_eq!(h.state().chart().view.visible_bars(n).1, n);
    let span = h.state().chart().view.span_bars();
    h.key_press(egui::Key::Minus);
    h.run_steps(2);
    assert!(h.state().chart().view.span_bars() > span * 1.2);

    // The frame drawn shows the candles of the view, through the wgpu renderer.
    let image = h.render().expect("wgpu render");
    assert!(count_near(&image, theme::CANDLE_UP) > 100, "no up candles");
    assert!(count_near(&image, theme::CANDLE_DOWN) > 100, "no down candles");
}

#[test]
fn a_drawing_is_placed_with_two_clicks_saved_in_the_library_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let launch = LaunchOptions { sample: true, library: Some(library.clone()), ..Default::default() };
    let mut h = harness(launch.clone());
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    step_until(&mut h, "the chart to draw", |app| app.chart().last_plan().is_some());
    h.get_by_label("Trend line").click();
    h.run_steps(2);
    let rect = h.state().chart().rect.expect("chart drawn");
    let click = |h: &mut Harness<'static, WorkstationApp>, p: egui::Pos2| {
        h.hover_at(p);
        h.run_steps(1);
        h.drag_at(p);
        h.run_steps(1);
        h.drop_at(p);
        h.run_steps(2);
    };
    click(&mut h, rect.min + egui::vec2(rect.width() * 0.2, rect.height() * 0.3));
    click(&mut h, rect.min + egui::vec2(rect.width() * 0.6, rect.height() * 0.2));
    assert_eq!(h.state().chart().drawings.len(), 1, "one trend line");
    assert_eq!(h.state().chart().drawings[0].kind, aio::render::DrawingKind::TrendLine);
    let saved = h.state().chart().drawings[0];
    // Saved on a worker thread.
    let checksum = h.state().dataset().unwrap().checksum.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Looked at every 200 ms: each look opens the library, which takes its write lock for a moment.
    while aio::store::Library::open(&library).unwrap().drawings(&checksum).unwrap().len() != 1 {
        assert!(Instant::now() < deadline, "the drawing was not saved");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(h);
    // A new session on the same library shows it again.
    let mut again = harness(launch);
    step_until(&mut again, "the drawings to be restored", |app| {
        app.dataset().is_some() && app.chart().drawings.len() == 1
    });
    assert_eq!(again.state().chart().drawings[0], saved);
}

#[test]
fn the_timeframe_switcher_resamples_on_a_worker_and_switches_back() {
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    let ctx = h.ctx.clone();
    h.state_mut().set_timeframe(Some("H4".parse().unwrap()), &ctx);
    step_until(&mut h, "H4 bars", |app| !app.is_resampling() && app.dataset().is_some_and(|d| d.bars.len() < 5_000));
    let h4 = h.state().dataset().unwrap();
    assert_eq!(h4.timeframe.map(|t| t.to_string()), Some("H4".to_string()));
    // 5,000 hourly bars make about 1,300 four-hour bars (weekends and gaps merge fewer).
    assert!((1_200..1_400).contains(&h4.bars.len()), "{} H4 bars", h4.bars.len());
    step_until(&mut h, "the chart to show them", |app| {
        app.chart().data().is_some_and(|d| d.bars.len() == bars_on_screen(app))
    });
    h.state_mut().set_timeframe(None, &ctx);
    step_until(&mut h, "the hourly bars again", |app| app.dataset().is_some_and(|d| d.bars.len() == 5_000));
}

/// Bars of the dataset on screen.
fn bars_on_screen(app: &WorkstationApp) -> usize {
    app.dataset().map_or(0, |d| d.bars.len())
}

#[test]
fn a_large_dataset_gets_its_chart_built_off_the_gui_thread() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big_m1.csv");
    aio::ingest::synthetic::write_random_walk_csv(&big, 300_000).unwrap();
    let launch = LaunchOptions { file: Some(big), library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the file to load", |app| app.dataset().is_some() && !app.is_loading());
    step_until(&mut h, "the chart of 300,000 bars", |app| {
        app.chart().data().is_some_and(|d| d.bars.len() == 300_000) && app.chart().last_plan().is_some()
    });
    let plan = h.state().chart().last_plan().unwrap();
    assert_eq!(plan.visible.1, 300_000, "the latest bars are shown");
}

#[test]
fn analyze_fills_the_analysis_pine_and_backtest_panels_and_copy_works() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let launch = LaunchOptions { sample: true, library: Some(library.clone()), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    assert!(h.state().pine_panel().source.is_empty());

    h.get_by_label("Analysis").click();
    h.run_steps(2);
    h.get_by_label_contains("rule-based (no model weights loaded");
    h.get_by_label("Analyze").click();
    h.run_steps(1);
    assert!(h.state().is_analyzing(), "Analyze started an analysis");
    step_until(&mut h, "the analysis", |app| !app.is_analyzing() && app.analysis_panel().last.is_some());
    let last = h.state().analysis_panel().last.as_ref().unwrap();
    let result = last.result.clone();
    assert_eq!(result.analyst, aio::ai::orchestrator::RULE_BASED_ID);
    assert!(last.stored.is_some(), "{:?}", last.store_error);
    assert!(result.chart_png.is_some(), "{:?}", result.chart_note);
    // The bars on screen were analysed.
    assert_eq!(result.visible.end, 5000);
    h.get_by_label_contains("Rule-based analyst");
    h.get_by_label_contains("Strategy:");
    h.get_by_label_contains("In-sample (");
    h.get_by_label_contains("Out-of-sample (");
    let image = h.render().expect("wgpu render");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis_panel.png");
    image.save(&out).unwrap();
    eprintln!("saved {}", out.display());

    // The strategy is in the Backtest panel (editable, with its in-sample run) and its Pine in the Pine panel.
    let spec = aio::strategy::StrategySpec::from_json(&h.state().backtest_panel().spec_text).unwrap();
    assert_eq!(spec, result.output.strategy);
    let outcome = h.state().backtest_panel().outcome.clone().expect("the analysis's backtests");
    assert_eq!(outcome.out_of_sample.as_ref().map(|r| r.range.clone()), Some(3500..5000));
    h.get_by_label("Backtest").click();
    h.run_steps(3);
    // Both the Analysis and the Backtest panel show the two runs side by side.
    assert_eq!(h.get_all_by_label("In-sample (3500 bars)").count(), 2);
    assert_eq!(h.get_all_by_label("Out-of-sample (1500 bars)").count(), 2);
    assert_eq!(h.state().pine_panel().source, result.pine);
    h.get_by_label("Pine Script").click();
    h.run_steps(3);
    h.get_by_label_contains("no errors");
    h.get_by_label("Copy to TradingView").click();
    let mut copied = false;
    for _ in 0..5 {
        h.step();
        copied |= h
            .output()
            .platform_output
            .commands
            .iter()
            .any(|c| matches!(c, egui::OutputCommand::CopyText(text) if text == &result.pine));
    }
    assert!(copied, "the Copy button put the script on the clipboard");
    assert!(h.state().pine_panel().status.as_deref().is_some_and(|s| s.starts_with("copied")));

    // Ctrl+Enter analyses again; the library holds both.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(1);
    assert!(h.state().is_analyzing(), "Ctrl+Enter started an analysis");
    step_until(&mut h, "the second analysis", |app| !app.is_analyzing());
    let lib = aio::store::Library::open(&library).unwrap();
    assert_eq!(lib.analysis_summaries("EURUSD").unwrap().len(), 2);

    // The Library panel lists both; opening one restores its strategy, its Pine and the bars it read.
    step_until(&mut h, "the library snapshot", |app| app.library_snapshot().analyses.len() == 2);
    h.get_by_label("Library").click();
    h.run_steps(3);
    h.get_by_label("Analyses (2)");
    let first = h.state().library_snapshot().analyses.last().unwrap().id;
    h.state_mut().backtest_panel_mut().spec_text.clear();
    h.state_mut().restore_analysis(first);
    h.run_steps(2);
    let restored = aio::strategy::StrategySpec::from_json(&h.state().backtest_panel().spec_text).unwrap();
    assert_eq!(restored, result.output.strategy);
    assert_eq!(h.state().pine_panel().source, result.pine);
    let view = &h.state().chart().view;
    let stored_first = h.state().library_snapshot().analyses.last().unwrap().report["visible_bars"].clone();
    let (from, to) = (stored_first[0].as_f64().unwrap(), stored_first[1].as_f64().unwrap());
    assert!(view.x_min <= from && view.x_max >= to - 1.0, "view {}..{} misses {from}..{to}", view.x_min, view.x_max);
    assert!(view.x_max - view.x_min < 400.0, "view {}..{}", view.x_min, view.x_max);
}

#[test]
fn the_model_panel_loads_a_folder_and_the_analysis_shows_its_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let launch = LaunchOptions { sample: true, library: Some(dir.path().join("lib.sqlite")), ..Default::default() };
    let mut h = harness(launch);
    step_until(&mut h, "the sample to load", |app| app.dataset().is_some() && !app.is_loading());
    h.get_by_label("Model").click();
    h.run_steps(2);
    h.get_by_label_contains("No model weights loaded");
    // The tiny int4 checkpoint loads off the GUI thread; the panel then describes it.
    let tiny = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpm4/tiny-marlin");
    h.state_mut().analysis_panel_mut().model_name = tiny.display().to_string();
    h.get_by_label("Load").click();
    step_until(&mut h, "the model to load", |app| app.analysis_panel().model.is_some());
    h.get_by_label("Memory (weights)");
    h.get_by_label("Licence");
    h.get_by_label_contains("2. rule-based v1");
    // Its 64-position context cannot hold the prompt: the analysis falls back, and says so.
    h.get_by_label("Analyze").click();
    h.run_steps(1);
    step_until(&mut h, "the analysis", |app| !app.is_analyzing() && app.analysis_panel().last.is_some());
    let result = h.state().analysis_panel().last.as_ref().unwrap().result.clone();
    assert_eq!(result.analyst, aio::ai::orchestrator::RULE_BASED_ID);
    assert!(result.fallbacks[0].reason.contains("context"), "{:?}", result.fallbacks);
    h.get_by_label("Analysis").click();
    h.run_steps(3);
    h.get_by_label_contains("fell back");
    h.get_by_label_contains("Rule-based analyst");
}
